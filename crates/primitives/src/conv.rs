//! 2-D convolution, written as the loops you would write on paper.
//!
//! Shapes (NCHW, as in Burn and PyTorch):
//!
//! * input  `[batch, in_ch, h, w]`
//! * weight `[out_ch, in_ch, kh, kw]`: one `in_ch x kh x kw` filter per output channel
//! * bias   `[out_ch]` (optional)
//! * output `[batch, out_ch, out_h, out_w]`, sizes from [`output_size`]
//!
//! Every output value is a dot product of one filter with one window of the (zero-padded) input:
//!
//! ```text
//! out[n, o, y, x] = bias[o] + Σ_{i, u, v} in[n, i, y*sh + u*dh - top, x*sw + v*dw - left] * w[o, i, u, v]
//! ```
//!
//! That formula, with the kernel used as it is, is **cross-correlation**, and it is what every
//! deep-learning library (Burn's `conv2d` included) calls "convolution". The mathematical
//! convolution flips the kernel first (rotates it by 180 degrees); the article's item 12 does that
//! with `np.flip(kernel)`. [`convolve2d`] is the flipped version. Since a network learns its
//! kernels, the two are equally expressive: a learnt kernel is just stored flipped.

use crate::tensor::Tensor4;

/// How much zero padding to add around the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: the window must fit inside the input ("valid" positions only).
    Valid,
    /// Pad so that `out = ceil(in / stride)` (TensorFlow's `padding='same'`). The total padding
    /// `max((out - 1) * stride + effective_kernel - in, 0)` is split with the smaller half on the
    /// top/left and the extra one on the bottom/right, exactly as TensorFlow does.
    Same,
    /// Symmetric explicit padding `[ph, pw]`: `ph` zero rows on the top **and** on the bottom,
    /// `pw` zero columns on the left **and** on the right. This is what Burn's and PyTorch's
    /// `conv2d(padding = [ph, pw])` mean.
    Explicit([usize; 2]),
}

/// Stride, dilation and padding of a 2-D convolution. `Default` is stride 1, dilation 1, valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    /// Step of the window `[sh, sw]` (non-zero).
    pub stride: [usize; 2],
    /// Spacing between kernel taps `[dh, dw]` (non-zero; 1 = an ordinary dense kernel).
    pub dilation: [usize; 2],
    pub padding: Padding,
}

impl Default for ConvOptions {
    fn default() -> Self {
        Self { stride: [1, 1], dilation: [1, 1], padding: Padding::Valid }
    }
}

impl ConvOptions {
    pub fn new(stride: [usize; 2], dilation: [usize; 2], padding: Padding) -> Self {
        Self { stride, dilation, padding }
    }
}

/// The one output-size formula, for one spatial axis:
///
/// ```text
/// effective_kernel = dilation * (kernel - 1) + 1
/// out = floor((input + pad_begin + pad_end - effective_kernel) / stride) + 1
/// ```
///
/// The window starts at the first padded position and moves by `stride` as long as it still
/// fits; a partial window at the end is dropped (that is the `floor`). Panics when stride,
/// dilation or kernel is zero, or when the padded input is smaller than the effective kernel
/// (no window fits; frameworks refuse that too).
pub fn output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    pad_begin: usize,
    pad_end: usize,
) -> usize {
    assert!(stride > 0 && dilation > 0 && kernel > 0, "stride, dilation and kernel must be non-zero");
    let effective = dilation * (kernel - 1) + 1;
    let padded = input + pad_begin + pad_end;
    assert!(padded >= effective, "the padded input ({padded}) is smaller than the effective kernel ({effective})");
    (padded - effective) / stride + 1
}

/// TensorFlow's "same" padding for one axis: `(begin, end)` such that `out = ceil(input / stride)`.
///
/// `total = max((out - 1) * stride + effective_kernel - input, 0)`, `begin = total / 2`,
/// `end = total - begin` (the odd pixel goes to the bottom/right).
pub fn same_padding(input: usize, kernel: usize, stride: usize, dilation: usize) -> (usize, usize) {
    assert!(stride > 0 && dilation > 0 && kernel > 0, "stride, dilation and kernel must be non-zero");
    let out = input.div_ceil(stride);
    let effective = dilation * (kernel - 1) + 1;
    let total = ((out.max(1) - 1) * stride + effective).saturating_sub(input);
    (total / 2, total - total / 2)
}

/// Turns a [`Padding`] into explicit `(begin, end)` pairs `[(top, bottom), (left, right)]`, the
/// layout of Burn 0.22's `ConvOptions::new_with_padding`.
pub fn resolve_padding(
    padding: Padding,
    input_hw: [usize; 2],
    kernel_hw: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> [(usize, usize); 2] {
    match padding {
        Padding::Valid => [(0, 0), (0, 0)],
        Padding::Explicit([ph, pw]) => [(ph, ph), (pw, pw)],
        Padding::Same => [
            same_padding(input_hw[0], kernel_hw[0], stride[0], dilation[0]),
            same_padding(input_hw[1], kernel_hw[1], stride[1], dilation[1]),
        ],
    }
}

/// Output shape `[batch, out_ch, out_h, out_w]` of [`conv2d`]. Panics if the input and weight
/// channel counts differ.
pub fn conv_output_shape(input: [usize; 4], weight: [usize; 4], opts: ConvOptions) -> [usize; 4] {
    let [batch, in_ch, h, w] = input;
    let [out_ch, w_in_ch, kh, kw] = weight;
    assert_eq!(in_ch, w_in_ch, "conv2d: the input has {in_ch} channels but the weight expects {w_in_ch}");
    let [(top, bottom), (left, right)] = resolve_padding(opts.padding, [h, w], [kh, kw], opts.stride, opts.dilation);
    [
        batch,
        out_ch,
        output_size(h, kh, opts.stride[0], opts.dilation[0], top, bottom),
        output_size(w, kw, opts.stride[1], opts.dilation[1], left, right),
    ]
}

/// 2-D **cross-correlation** (the deep-learning "conv2d"; same semantics as Burn's `conv2d`).
///
/// `input [batch, in_ch, h, w]`, `weight [out_ch, in_ch, kh, kw]`, `bias [out_ch]` →
/// `[batch, out_ch, out_h, out_w]`. Padded positions read as zero. Sums are accumulated in `f64`
/// and rounded once, so the result is as close to exact as `f32` allows.
pub fn conv2d(input: &Tensor4, weight: &Tensor4, bias: Option<&[f32]>, opts: ConvOptions) -> Tensor4 {
    let out_shape = conv_output_shape(input.shape, weight.shape, opts);
    let [batch, out_ch, out_h, out_w] = out_shape;
    let [_, in_ch, h, w] = input.shape;
    let [_, _, kh, kw] = weight.shape;
    if let Some(b) = bias {
        assert_eq!(b.len(), out_ch, "conv2d: bias has {} values for {out_ch} output channels", b.len());
    }
    let [(top, _), (left, _)] = resolve_padding(opts.padding, [h, w], [kh, kw], opts.stride, opts.dilation);
    let [sh, sw] = opts.stride;
    let [dh, dw] = opts.dilation;

    let mut out = Tensor4::zeros(out_shape);
    for n in 0..batch {
        for o in 0..out_ch {
            for y in 0..out_h {
                for x in 0..out_w {
                    let mut acc = bias.map_or(0.0, |b| b[o] as f64);
                    for i in 0..in_ch {
                        for u in 0..kh {
                            // Row in the unpadded input; negative or too large = padding (zero).
                            let iy = (y * sh + u * dh) as isize - top as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for v in 0..kw {
                                let ix = (x * sw + v * dw) as isize - left as isize;
                                if ix < 0 || ix >= w as isize {
                                    continue;
                                }
                                let pixel = input.at([n, i, iy as usize, ix as usize]) as f64;
                                acc += pixel * weight.at([o, i, u, v]) as f64;
                            }
                        }
                    }
                    out.set([n, o, y, x], acc as f32);
                }
            }
        }
    }
    out
}

/// Rotates every `kh x kw` kernel plane by 180 degrees: `flipped[o, i, u, v] = w[o, i, kh-1-u, kw-1-v]`
/// (NumPy's `np.flip(kernel)` on a 2-D kernel).
pub fn flip_kernel(weight: &Tensor4) -> Tensor4 {
    let [_, _, kh, kw] = weight.shape;
    Tensor4::from_fn(weight.shape, |[o, i, u, v]| weight.at([o, i, kh - 1 - u, kw - 1 - v]))
}

/// True (mathematical) 2-D **convolution**: cross-correlation with the flipped kernel.
/// Same shapes and options as [`conv2d`].
pub fn convolve2d(input: &Tensor4, weight: &Tensor4, bias: Option<&[f32]>, opts: ConvOptions) -> Tensor4 {
    conv2d(input, &flip_kernel(weight), bias, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The article's 5x5 image (a hollow square) and sharpen kernel (items 12, 17, 20).
    pub(crate) fn article_image() -> Tensor4 {
        Tensor4::from_rows(&[
            &[0., 0., 0., 0., 0.],
            &[0., 1., 1., 1., 0.],
            &[0., 1., 0., 1., 0.],
            &[0., 1., 1., 1., 0.],
            &[0., 0., 0., 0., 0.],
        ])
    }

    pub(crate) fn sharpen() -> Tensor4 {
        Tensor4::from_rows(&[&[0., -1., 0.], &[-1., 5., -1.], &[0., -1., 0.]])
    }

    #[test]
    fn output_size_formula() {
        // valid, stride 1: 5 - 3 + 1
        assert_eq!(output_size(5, 3, 1, 1, 0, 0), 3);
        // valid, stride 2: floor(2 / 2) + 1
        assert_eq!(output_size(5, 3, 2, 1, 0, 0), 2);
        // padding 1 keeps the size with a 3x3 kernel
        assert_eq!(output_size(5, 3, 1, 1, 1, 1), 5);
        // dilation 2 turns a 3-tap kernel into a 5-wide one
        assert_eq!(output_size(5, 3, 1, 2, 0, 0), 1);
        assert_eq!(output_size(7, 3, 1, 2, 0, 0), 3);
        // the article's CNN: 28 -> 26 (conv 3x3) ; 13 -> 11
        assert_eq!(output_size(28, 3, 1, 1, 0, 0), 26);
        assert_eq!(output_size(13, 3, 1, 1, 0, 0), 11);
        // the article's GAN discriminator: 28 -> 14 -> 7 with 5x5, stride 2, same
        let (b, e) = same_padding(28, 5, 2, 1);
        assert_eq!(output_size(28, 5, 2, 1, b, e), 14);
        let (b, e) = same_padding(14, 5, 2, 1);
        assert_eq!(output_size(14, 5, 2, 1, b, e), 7);
    }

    #[test]
    #[should_panic(expected = "smaller than the effective kernel")]
    fn output_size_refuses_a_kernel_larger_than_the_input() {
        output_size(2, 3, 1, 1, 0, 0);
    }

    #[test]
    fn same_padding_matches_tensorflow() {
        // out = ceil(in / stride) for every case
        for input in 1..20 {
            for kernel in 1..6 {
                for stride in 1..4 {
                    for dilation in 1..3 {
                        let (b, e) = same_padding(input, kernel, stride, dilation);
                        assert!(e == b || e == b + 1, "extra padding goes to the end");
                        let out = output_size(input, kernel, stride, dilation, b, e);
                        assert_eq!(out, input.div_ceil(stride), "in {input} k {kernel} s {stride} d {dilation}");
                    }
                }
            }
        }
        assert_eq!(same_padding(5, 3, 1, 1), (1, 1));
        assert_eq!(same_padding(4, 3, 2, 1), (0, 1)); // TensorFlow: extra on the bottom/right
        assert_eq!(same_padding(6, 3, 2, 1), (0, 1));
        assert_eq!(same_padding(5, 4, 1, 1), (1, 2));
    }

    #[test]
    fn sharpen_on_the_article_image() {
        let y = conv2d(&article_image(), &sharpen(), None, ConvOptions::default());
        assert_eq!(y.shape, [1, 1, 3, 3]);
        assert_eq!(y.plane(0, 0), vec![vec![3., 3., 3.], vec![3., -4., 3.], vec![3., 3., 3.]]);
        // The kernel is symmetric: convolution and cross-correlation agree.
        assert_eq!(convolve2d(&article_image(), &sharpen(), None, ConvOptions::default()), y);
    }

    #[test]
    fn stride_two_and_same_padding_by_hand() {
        let x = article_image();
        let k = sharpen();
        let s2 = conv2d(&x, &k, None, ConvOptions::new([2, 2], [1, 1], Padding::Valid));
        assert_eq!(s2.plane(0, 0), vec![vec![3., 3.], vec![3., 3.]]);

        let same = conv2d(&x, &k, None, ConvOptions::new([1, 1], [1, 1], Padding::Same));
        assert_eq!(
            same.plane(0, 0),
            vec![
                vec![0., -1., -1., -1., 0.],
                vec![-1., 3., 3., 3., -1.],
                vec![-1., 3., -4., 3., -1.],
                vec![-1., 3., 3., 3., -1.],
                vec![0., -1., -1., -1., 0.],
            ]
        );
        // Same with a 3x3 kernel = explicit symmetric padding 1.
        let explicit = conv2d(&x, &k, None, ConvOptions::new([1, 1], [1, 1], Padding::Explicit([1, 1])));
        assert_eq!(explicit, same);

        let same2 = conv2d(&x, &k, None, ConvOptions::new([2, 2], [1, 1], Padding::Same));
        assert_eq!(same2.plane(0, 0), vec![vec![0., -1., 0.], vec![-1., -4., -1.], vec![0., -1., 0.]]);
    }

    #[test]
    fn convolution_flips_an_asymmetric_kernel() {
        // A 1x3 "difference" kernel [1, 0, -1] on the ramp 0 1 2 3 4.
        let x = Tensor4::from_rows(&[&[0., 1., 2., 3., 4.]]);
        let k = Tensor4::from_rows(&[&[1., 0., -1.]]);
        let corr = conv2d(&x, &k, None, ConvOptions::default());
        let conv = convolve2d(&x, &k, None, ConvOptions::default());
        assert_eq!(corr.data, vec![-2., -2., -2.]); // x[i] - x[i+2]
        assert_eq!(conv.data, vec![2., 2., 2.]); // x[i+2] - x[i]
    }

    #[test]
    fn dilation_reads_spaced_taps() {
        // 1x5 input, 1x2 kernel [1, 10], dilation 3: out[x] = in[x] + 10 * in[x + 3]
        let x = Tensor4::from_rows(&[&[1., 2., 3., 4., 5.]]);
        let k = Tensor4::from_rows(&[&[1., 10.]]);
        let y = conv2d(&x, &k, None, ConvOptions::new([1, 1], [1, 3], Padding::Valid));
        assert_eq!(y.data, vec![41., 52.]);
    }

    #[test]
    fn channels_batch_and_bias() {
        // Two images, two input channels, three output channels; each output channel of a
        // 1x1 kernel is a weighted sum of the input channels plus the bias.
        let x = Tensor4::from_fn([2, 2, 2, 2], |[n, c, h, w]| (n * 8 + c * 4 + h * 2 + w) as f32);
        let wts = Tensor4::new(vec![1., 0., 0., 1., 1., -1.], [3, 2, 1, 1]);
        let bias = [0.5, -0.5, 0.0];
        let y = conv2d(&x, &wts, Some(&bias), ConvOptions::default());
        assert_eq!(y.shape, [2, 3, 2, 2]);
        for n in 0..2 {
            for h in 0..2 {
                for w in 0..2 {
                    let c0 = x.at([n, 0, h, w]);
                    let c1 = x.at([n, 1, h, w]);
                    assert_eq!(y.at([n, 0, h, w]), c0 + 0.5);
                    assert_eq!(y.at([n, 1, h, w]), c1 - 0.5);
                    assert_eq!(y.at([n, 2, h, w]), c0 - c1);
                }
            }
        }
    }

    #[test]
    fn output_shape_with_everything() {
        let opts = ConvOptions::new([2, 3], [2, 1], Padding::Explicit([1, 2]));
        // h: (9 + 2 - 5) / 2 + 1 = 4 ; w: (10 + 4 - 3) / 3 + 1 = 4
        assert_eq!(conv_output_shape([4, 3, 9, 10], [8, 3, 3, 3], opts), [4, 8, 4, 4]);
        let x = Tensor4::from_fn([4, 3, 9, 10], |[n, c, h, w]| ((n + 2 * c + 3 * h + w) % 7) as f32 - 3.0);
        let k = Tensor4::from_fn([8, 3, 3, 3], |[o, i, u, v]| ((o + i + u * v) % 5) as f32 * 0.25 - 0.5);
        assert_eq!(conv2d(&x, &k, None, opts).shape, [4, 8, 4, 4]);
    }
}
