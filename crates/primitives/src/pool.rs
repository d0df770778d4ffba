//! Max and average pooling (article item 19), NCHW `f32`, one channel at a time.
//!
//! A window of `kh x kw` slides over each channel with step `stride`; each output value is the
//! maximum (or the mean) of the window. Pooling has no weights and never mixes channels:
//! `[batch, ch, h, w] -> [batch, ch, out_h, out_w]` with the same output-size formula as
//! convolution ([`crate::conv::output_size`], floor mode).
//!
//! Padding is symmetric and explicit, `[ph, pw]`, as in Burn's `max_pool2d` / `avg_pool2d`:
//!
//! * max pooling: padded cells are ignored (think `-inf`), so padding never wins a maximum;
//! * average pooling: padded cells are zeros. With `count_include_pad = true` (Burn's and
//!   PyTorch's default) they count in the denominator, so every window divides by `kh * kw`
//!   and border averages are pulled towards zero; with `false` the denominator is the number
//!   of real input cells in the window.
//!
//! As in PyTorch, the padding may be at most half the (effective) window, so that every window
//! contains at least one real input cell.

use crate::conv::output_size;
use crate::tensor::Tensor4;

/// Options of [`max_pool2d`], mirroring Burn's `MaxPoolOptions` (floor mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPoolOptions {
    /// Window `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Step `[sh, sw]`; [`MaxPoolOptions::new`] sets it to the window (non-overlapping).
    pub stride: [usize; 2],
    /// Symmetric padding `[ph, pw]` (each side).
    pub padding: [usize; 2],
    /// Spacing between window taps `[dh, dw]`.
    pub dilation: [usize; 2],
}

impl MaxPoolOptions {
    /// Window `kernel`, stride = window, no padding, dilation 1.
    pub fn new(kernel: [usize; 2]) -> Self {
        Self { kernel, stride: kernel, padding: [0, 0], dilation: [1, 1] }
    }
    pub fn with_stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }
    pub fn with_padding(mut self, padding: [usize; 2]) -> Self {
        self.padding = padding;
        self
    }
    pub fn with_dilation(mut self, dilation: [usize; 2]) -> Self {
        self.dilation = dilation;
        self
    }
}

/// Options of [`avg_pool2d`], mirroring Burn's `AvgPoolOptions` (floor mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPoolOptions {
    /// Window `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Step `[sh, sw]`; [`AvgPoolOptions::new`] sets it to the window.
    pub stride: [usize; 2],
    /// Symmetric padding `[ph, pw]` (each side), filled with zeros.
    pub padding: [usize; 2],
    /// Whether padded zeros count in the denominator (Burn's default: `true`).
    pub count_include_pad: bool,
}

impl AvgPoolOptions {
    /// Window `kernel`, stride = window, no padding, `count_include_pad = true`.
    pub fn new(kernel: [usize; 2]) -> Self {
        Self { kernel, stride: kernel, padding: [0, 0], count_include_pad: true }
    }
    pub fn with_stride(mut self, stride: [usize; 2]) -> Self {
        self.stride = stride;
        self
    }
    pub fn with_padding(mut self, padding: [usize; 2]) -> Self {
        self.padding = padding;
        self
    }
    pub fn with_count_include_pad(mut self, count_include_pad: bool) -> Self {
        self.count_include_pad = count_include_pad;
        self
    }
}

/// The shared sliding-window walk: calls `reduce(values_in_window, padded_cells)` for every
/// output position and stores what it returns.
fn pool(
    input: &Tensor4,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    reduce: impl Fn(&[f32], usize) -> f32,
) -> Tensor4 {
    let [batch, ch, h, w] = input.shape;
    for axis in 0..2 {
        let effective = dilation[axis] * (kernel[axis].max(1) - 1) + 1;
        assert!(
            padding[axis] <= effective / 2,
            "pooling: padding {} is more than half the window {}",
            padding[axis],
            effective
        );
    }
    let out_h = output_size(h, kernel[0], stride[0], dilation[0], padding[0], padding[0]);
    let out_w = output_size(w, kernel[1], stride[1], dilation[1], padding[1], padding[1]);
    let mut out = Tensor4::zeros([batch, ch, out_h, out_w]);
    let mut window = Vec::with_capacity(kernel[0] * kernel[1]);
    for n in 0..batch {
        for c in 0..ch {
            for y in 0..out_h {
                for x in 0..out_w {
                    window.clear();
                    let mut padded_cells = 0;
                    for u in 0..kernel[0] {
                        for v in 0..kernel[1] {
                            let iy = (y * stride[0] + u * dilation[0]) as isize - padding[0] as isize;
                            let ix = (x * stride[1] + v * dilation[1]) as isize - padding[1] as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                padded_cells += 1;
                            } else {
                                window.push(input.at([n, c, iy as usize, ix as usize]));
                            }
                        }
                    }
                    out.set([n, c, y, x], reduce(&window, padded_cells));
                }
            }
        }
    }
    out
}

/// Max pooling: `[batch, ch, h, w] -> [batch, ch, out_h, out_w]`; padded cells never win.
pub fn max_pool2d(input: &Tensor4, opts: MaxPoolOptions) -> Tensor4 {
    pool(input, opts.kernel, opts.stride, opts.padding, opts.dilation, |window, _| {
        window.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    })
}

/// Average pooling: `[batch, ch, h, w] -> [batch, ch, out_h, out_w]`.
///
/// Denominator: `kh * kw` when `count_include_pad` (padded zeros count), else the number of real
/// input cells in the window.
pub fn avg_pool2d(input: &Tensor4, opts: AvgPoolOptions) -> Tensor4 {
    pool(input, opts.kernel, opts.stride, opts.padding, [1, 1], |window, padded_cells| {
        let sum: f64 = window.iter().map(|&v| v as f64).sum();
        let count = if opts.count_include_pad { window.len() + padded_cells } else { window.len() };
        (sum / count as f64) as f32
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map4() -> Tensor4 {
        Tensor4::from_rows(&[&[1., 3., 2., 4.], &[5., 6., 1., 2.], &[7., 2., 8., 1.], &[0., 3., 4., 9.]])
    }

    #[test]
    fn max_and_avg_2x2_stride_2() {
        let m = max_pool2d(&map4(), MaxPoolOptions::new([2, 2]));
        assert_eq!(m.plane(0, 0), vec![vec![6., 4.], vec![7., 9.]]);
        let a = avg_pool2d(&map4(), AvgPoolOptions::new([2, 2]));
        assert_eq!(a.plane(0, 0), vec![vec![3.75, 2.25], vec![3., 5.5]]);
    }

    #[test]
    fn overlapping_windows() {
        let m = max_pool2d(&map4(), MaxPoolOptions::new([2, 2]).with_stride([1, 1]));
        assert_eq!(m.plane(0, 0), vec![vec![6., 6., 4.], vec![7., 8., 8.], vec![7., 8., 9.]]);
    }

    #[test]
    fn padding_in_max_pooling_never_wins() {
        let neg = Tensor4::from_rows(&[&[-1., -2.], &[-3., -4.]]);
        let m = max_pool2d(&neg, MaxPoolOptions::new([2, 2]).with_stride([1, 1]).with_padding([1, 1]));
        // 3x3 output; a padded zero would have won every corner if padding were zeros.
        assert_eq!(m.plane(0, 0), vec![vec![-1., -1., -2.], vec![-1., -1., -2.], vec![-3., -3., -4.]]);
    }

    #[test]
    fn count_include_pad_changes_the_border() {
        let ones = Tensor4::new(vec![1.0; 9], [1, 1, 3, 3]);
        let opts = AvgPoolOptions::new([3, 3]).with_stride([1, 1]).with_padding([1, 1]);
        let incl = avg_pool2d(&ones, opts);
        let excl = avg_pool2d(&ones, opts.with_count_include_pad(false));
        // corner window: 4 real ones and 5 padded zeros
        assert_eq!(incl.at([0, 0, 0, 0]), 4.0 / 9.0);
        assert_eq!(incl.at([0, 0, 0, 1]), 6.0 / 9.0);
        assert_eq!(incl.at([0, 0, 1, 1]), 1.0);
        assert!(excl.data.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn dilated_max_pool() {
        // 1x5 row, window 2 with dilation 3: max(in[x], in[x+3])
        let x = Tensor4::from_rows(&[&[5., 1., 2., 3., 4.]]);
        let m = max_pool2d(&x, MaxPoolOptions::new([1, 2]).with_stride([1, 1]).with_dilation([1, 3]));
        assert_eq!(m.data, vec![5., 4.]);
    }

    #[test]
    fn pooling_keeps_channels_apart() {
        let x = Tensor4::from_fn([2, 3, 4, 4], |[n, c, h, w]| (n * 100 + c * 10 + h * 4 + w) as f32);
        let m = max_pool2d(&x, MaxPoolOptions::new([2, 2]));
        assert_eq!(m.shape, [2, 3, 2, 2]);
        for n in 0..2 {
            for c in 0..3 {
                // the bottom-right cell of each window is the largest
                assert_eq!(m.at([n, c, 1, 1]), (n * 100 + c * 10 + 15) as f32);
            }
        }
    }

    #[test]
    #[should_panic(expected = "more than half the window")]
    fn too_much_padding_is_refused() {
        max_pool2d(&map4(), MaxPoolOptions::new([2, 2]).with_padding([2, 2]));
    }
}
