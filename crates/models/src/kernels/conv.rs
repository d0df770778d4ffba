//! 2-d convolution as one custom flex operation with its own backward pass: im2col onto the
//! `gemm` matrix multiply, image by image across the thread pool, forward and backward.
//!
//! Burn's flex backend runs the forward pass the same way, but its backward pass is Burn's
//! generic one: the weight gradient is a second convolution with the batch as channels and
//! the output gradient as a (huge) kernel, which for a one-channel input runs on one thread,
//! and the input gradient is a transposed convolution. Measured on the `cnn` step at batch
//! 256 (`cargo bench --bench ops`): see the README's speed section.
//!
//! # The operation (groups 1, dilation 1, any stride and padding, bias optional)
//! `x [batch, c_in, h, w]`, `weight [c_out, c_in, kh, kw]`, `bias [c_out]` ->
//! `y [batch, c_out, oh, ow]`. Per image, with `col [c_in kh kw, oh ow]` the input patches
//! (zeros where a patch leaves the padded image): `y = weight col + bias`.
//!
//! # Backward
//! `d_weight = Σ_images dy colᵀ`; `d_col = weightᵀ dy`, scattered back onto the input
//! positions it came from (col2im) for `d_x`; `d_bias = Σ dy` over images and positions.
//!
//! # The transposed convolution
//! is the same three routines in other roles. Seen as the convolution that maps its output
//! `[batch, c_out, oh, ow]` back onto its input `[batch, c_in, h, w]` with its weight
//! `[c_in, c_out, kh, kw]` (Burn's layout), the transposed convolution's forward pass is that
//! convolution's input gradient (col2im), its input gradient is that convolution's forward
//! pass, and its weight gradient is that convolution's weight gradient with the roles of
//! input and output gradient exchanged.

use std::sync::Arc;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::prelude::*;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::{KernelBackend, autodiff_output, backend_of, enabled, flex_tensor, is_f32, matmul, view};

/// The geometry of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    pub batch: usize,
    pub c_in: usize,
    pub height: usize,
    pub width: usize,
    pub c_out: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// `(top, left)`; bottom and right follow from the output size.
    pub padding: [usize; 2],
    pub out: [usize; 2],
}

impl ConvGeometry {
    /// Rows of the patch matrix: `c_in kh kw`.
    fn patch(&self) -> usize {
        self.c_in * self.kernel[0] * self.kernel[1]
    }
    /// Output positions per image: `oh ow`.
    fn positions(&self) -> usize {
        self.out[0] * self.out[1]
    }
    fn image(&self) -> usize {
        self.c_in * self.height * self.width
    }
}

/// `(top, bottom), (left, right)` padding of `config` for an input of `height x width` (as
/// Burn's `Conv2d` computes it).
pub fn padding_pairs(
    config: &PaddingConfig2d,
    height: usize,
    width: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
) -> ((usize, usize), (usize, usize)) {
    let same = |k: usize, s: usize, size: usize| {
        let out = size.div_ceil(s);
        let total = if out > 0 { ((out - 1) * s + k).saturating_sub(size) } else { 0 };
        (total / 2, total - total / 2)
    };
    match config {
        PaddingConfig2d::Valid => ((0, 0), (0, 0)),
        PaddingConfig2d::Same => (same(kernel[0], stride[0], height), same(kernel[1], stride[1], width)),
        PaddingConfig2d::Explicit(top, left, bottom, right) => ((*top, *bottom), (*left, *right)),
    }
}

/// `layer.forward(input)`, by zoo's kernel where it applies (flex, f32, groups 1, dilation 1),
/// else by Burn.
///
/// # Shapes
/// - input: `[batch, c_in, h, w]`; output: `[batch, c_out, oh, ow]`
pub fn conv2d(layer: &Conv2d, input: Tensor<4>) -> Tensor<4> {
    if layer.groups == 1 && layer.dilation == [1, 1] && enabled() {
        let [_, _, height, width] = input.dims();
        let ((top, bottom), (left, right)) =
            padding_pairs(&layer.padding, height, width, layer.kernel_size, layer.stride);
        // Weight before bias, as Burn's `forward`: parameters are initialised lazily, on first
        // use, so the order decides which random numbers each one draws.
        let weight = layer.weight.val();
        let bias = layer.bias.as_ref().map(|b| b.val());
        if let Some(output) = conv2d_tensors(&input, &weight, bias.as_ref(), layer.stride, [top, bottom, left, right]) {
            return output;
        }
    }
    layer.forward(input)
}

/// The convolution by zoo's kernel, or `None` where it does not apply.
///
/// # Shapes
/// - x: `[batch, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - padding: `[top, bottom, left, right]`
/// - output: `[batch, c_out, oh, ow]`
pub fn conv2d_tensors(
    x: &Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
    stride: [usize; 2],
    padding: [usize; 4],
) -> Option<Tensor<4>> {
    let [batch, c_in, height, width] = x.dims();
    let [c_out, w_in, kh, kw] = weight.dims();
    let [top, bottom, left, right] = padding;
    let (padded_h, padded_w) = (height + top + bottom, width + left + right);
    if w_in != c_in || padded_h < kh || padded_w < kw || stride.contains(&0) {
        return None;
    }
    let geometry = ConvGeometry {
        batch,
        c_in,
        height,
        width,
        c_out,
        kernel: [kh, kw],
        stride,
        padding: [top, left],
        out: [(padded_h - kh) / stride[0] + 1, (padded_w - kw) / stride[1] + 1],
    };
    let bias = bias.cloned().unwrap_or_else(|| Tensor::zeros([c_out], &x.device()));
    if bias.dims() != [c_out] {
        return None;
    }
    let out_shape = [batch, c_out, geometry.out[0], geometry.out[1]];
    run(ConvBackward, geometry, x, weight, bias, out_shape, |x, weight, bias| convolve(geometry, x, weight, Some(bias)))
}

/// Runs `compute(x, weight, bias)` on the values of flex tensors: without autodiff, or as one
/// autodiff node whose backward pass is `backward` (it gets the input and the weight). `None`
/// where the tensors are not on flex or not f32.
fn run<B>(
    backward: B,
    geometry: ConvGeometry,
    x: &Tensor<4>,
    weight: &Tensor<4>,
    bias: Tensor<1>,
    out_shape: [usize; 4],
    compute: impl Fn(&[f32], &[f32], &[f32]) -> Vec<f32>,
) -> Option<Tensor<4>>
where
    B: Backward<Flex, 3, State = Arc<Saved>>,
{
    let f32_only = |tensors: [&FlexTensor; 3]| tensors.into_iter().all(is_f32);
    match backend_of(x)? {
        KernelBackend::Flex => {
            let flex = |t: Tensor<4>| t.try_into_primitive::<Flex>().ok();
            let (x, weight, bias) = (flex(x.clone())?, flex(weight.clone())?, bias.try_into_primitive::<Flex>().ok()?);
            if !f32_only([&x, &weight, &bias]) {
                return None;
            }
            let y = compute(&view(&x), &view(&weight), &view(&bias));
            Some(Tensor::from_primitive::<Flex>(flex_tensor(y, out_shape)))
        }
        KernelBackend::AutodiffFlex => {
            type AdFlex = Autodiff<Flex>;
            let x = x.clone().try_into_primitive::<AdFlex>().ok()?;
            let w = weight.clone().try_into_primitive::<AdFlex>().ok()?;
            let b = bias.try_into_primitive::<AdFlex>().ok()?;
            if !f32_only([x.primitive(), w.primitive(), b.primitive()]) {
                return None;
            }
            let output =
                flex_tensor(compute(&view(x.primitive()), &view(w.primitive()), &view(b.primitive())), out_shape);
            // The tensors themselves (shared buffers), not copies of their values.
            let saved = Arc::new(Saved { geometry, x: x.primitive().clone(), weight: w.primitive().clone() });
            Some(autodiff_output(backward, [x.node(), w.node(), b.node()], saved, output))
        }
    }
}

/// What either backward pass needs: the operation's input and weight (the patches are rebuilt,
/// not kept), and the geometry of the convolution its routines run (for the transposed
/// convolution, the one from its output back onto its input).
#[derive(Debug)]
struct Saved {
    geometry: ConvGeometry,
    x: FlexTensor,
    weight: FlexTensor,
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let dy = view(&dy);
        let saved = ops.state;
        let g = saved.geometry;
        let (x, weight) = (view(&saved.x), view(&saved.weight));
        if let Some(node) = node_x {
            let dx = input_gradient(g, &weight, &dy);
            grads.register::<Flex>(node.id, flex_tensor(dx, vec![g.batch, g.c_in, g.height, g.width]));
        }
        if let Some(node) = node_w {
            let dw = weight_gradient(g, &x, &dy);
            grads.register::<Flex>(node.id, flex_tensor(dw, vec![g.c_out, g.c_in, g.kernel[0], g.kernel[1]]));
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(
                node.id,
                flex_tensor(bias_gradient(g.batch, g.c_out, g.positions(), &dy), vec![g.c_out]),
            );
        }
    }
}

/// `y = weight * x + bias`, image by image across the thread pool: `[batch, c_out, oh, ow]`.
fn convolve(g: ConvGeometry, x: &[f32], weight: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (patch, positions) = (g.patch(), g.positions());
    let mut y = vec![0.0f32; g.batch * g.c_out * positions];
    y.par_chunks_mut(g.c_out * positions).enumerate().for_each(|(n, y_n)| {
        let col = im2col(g, &x[n * g.image()..][..g.image()]);
        if let Some(bias) = bias {
            for (row, &b) in y_n.chunks_mut(positions).zip(bias) {
                row.fill(b);
            }
        }
        // y_n [c_out, positions] += weight [c_out, patch] col [patch, positions]
        // SAFETY: the three buffers hold exactly these row-major matrices and are distinct.
        unsafe {
            matmul(
                (g.c_out, positions, patch),
                y_n.as_mut_ptr(),
                (positions, 1),
                true,
                weight.as_ptr(),
                (patch, 1),
                col.as_ptr(),
                (positions, 1),
                false,
            );
        }
    });
    y
}

/// `Σ dy` per output channel, over images and positions: `[c_out]`. The channels are spread
/// over the thread pool (each summed in one fixed order, so the figures do not depend on the
/// thread count), and each row is summed in 8 lanes that the compiler vectorises (on one
/// thread, element by element, it was 4 % of a `cnn` step with the other core idle).
fn bias_gradient(batch_rows: usize, channels: usize, positions: usize, dy: &[f32]) -> Vec<f32> {
    let mut db = vec![0.0f32; channels];
    db.par_iter_mut().enumerate().for_each(|(o, total)| {
        for image in dy.chunks(channels * positions).take(batch_rows) {
            *total += lane_sum(&image[o * positions..][..positions]);
        }
    });
    db
}

/// The sum of `values` in 8 interleaved partial sums, added up at the end.
fn lane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut chunks = values.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// The patches of one image: `[c_in kh kw, oh ow]`, zeros outside the image.
fn im2col(g: ConvGeometry, image: &[f32]) -> Vec<f32> {
    let [kh, kw] = g.kernel;
    let [oh, ow] = g.out;
    let stride = g.stride[1];
    let mut col = vec![0.0f32; g.patch() * oh * ow];
    for c in 0..g.c_in {
        let plane = &image[c * g.height * g.width..][..g.height * g.width];
        for i in 0..kh {
            for j in 0..kw {
                let row = &mut col[((c * kh + i) * kw + j) * oh * ow..][..oh * ow];
                for_each_tap_run(g, i, j, |out_start, in_start, len| {
                    let out = &mut row[out_start..][..len];
                    if stride == 1 {
                        out.copy_from_slice(&plane[in_start..][..len]);
                    } else {
                        out.iter_mut().zip(plane[in_start..].iter().step_by(stride)).for_each(|(o, &p)| *o = p);
                    }
                });
            }
        }
    }
    col
}

/// Calls `f(first output position, first input position, length)` for each output row's run of
/// positions whose kernel tap `(i, j)` falls inside the image: output positions
/// `out_start..out_start + length` read input positions `in_start, in_start + stride, ...`.
/// The run is worked out once per row, so the copies inside are whole slices, without a test
/// per element (element by element, with bounds tests, im2col and col2im were a fifth of a
/// `cnn` step).
#[inline(always)]
fn for_each_tap_run(g: ConvGeometry, i: usize, j: usize, mut f: impl FnMut(usize, usize, usize)) {
    let [oh, ow] = g.out;
    let [sh, sw] = g.stride;
    let [top, left] = g.padding;
    // Output columns s with 0 <= s sw + j - left < width.
    let first = left.saturating_sub(j).div_ceil(sw);
    let end = (g.width + left).saturating_sub(j).div_ceil(sw).min(ow);
    if first >= end {
        return;
    }
    for r in 0..oh {
        let Some(y) = (r * sh + i).checked_sub(top).filter(|&y| y < g.height) else { continue };
        f(r * ow + first, y * g.width + j + first * sw - left, end - first);
    }
}

/// `d_x`: per image `d_col = weightᵀ dy`, scattered back onto the input (col2im).
fn input_gradient(g: ConvGeometry, weight: &[f32], dy: &[f32]) -> Vec<f32> {
    let (patch, positions) = (g.patch(), g.positions());
    let [kh, kw] = g.kernel;
    let mut dx = vec![0.0f32; g.batch * g.image()];
    dx.par_chunks_mut(g.image()).enumerate().for_each(|(n, dx_n)| {
        let mut d_col = vec![0.0f32; patch * positions];
        // d_col [patch, positions] = weightᵀ [patch, c_out] dy_n [c_out, positions]
        // SAFETY: weight read transposed (strides (1, patch)) and dy_n are inside their
        // buffers; d_col is a distinct buffer of exactly this size.
        unsafe {
            matmul(
                (patch, positions, g.c_out),
                d_col.as_mut_ptr(),
                (positions, 1),
                false,
                weight.as_ptr(),
                (1, patch),
                dy[n * g.c_out * positions..].as_ptr(),
                (positions, 1),
                false,
            );
        }
        for c in 0..g.c_in {
            let plane = &mut dx_n[c * g.height * g.width..][..g.height * g.width];
            for i in 0..kh {
                for j in 0..kw {
                    let row = &d_col[((c * kh + i) * kw + j) * positions..][..positions];
                    for_each_tap_run(g, i, j, |out_start, in_start, len| {
                        let from = &row[out_start..][..len];
                        if g.stride[1] == 1 {
                            plane[in_start..][..len].iter_mut().zip(from).for_each(|(p, &d)| *p += d);
                        } else {
                            plane[in_start..].iter_mut().step_by(g.stride[1]).zip(from).for_each(|(p, &d)| *p += d);
                        }
                    });
                }
            }
        }
    });
    dx
}

/// Parts the images of a weight gradient are summed in. A number fixed here, not the thread
/// count, so the order of the sums (and every digit of a run's figures) is the same on any
/// machine; the thread pool takes the parts as it can.
const WEIGHT_GRADIENT_PARTS: usize = 16;

/// `d_weight = Σ_images dy colᵀ`, the images split in [`WEIGHT_GRADIENT_PARTS`] parts across
/// the thread pool, each part summed into its own buffer, the parts then in order.
fn weight_gradient(g: ConvGeometry, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (patch, positions) = (g.patch(), g.positions());
    let size = g.c_out * patch;
    let parts = WEIGHT_GRADIENT_PARTS.min(g.batch).max(1);
    let per_part = g.batch.div_ceil(parts);
    let partials: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|part| {
            let mut dw = vec![0.0f32; size];
            for n in part * per_part..((part + 1) * per_part).min(g.batch) {
                let col = im2col(g, &x[n * g.image()..][..g.image()]);
                // dw [c_out, patch] += dy_n [c_out, positions] colᵀ [positions, patch]
                // SAFETY: dy_n and col (read transposed, strides (1, positions)) lie inside
                // their buffers; dw is distinct and exactly [c_out, patch].
                unsafe {
                    matmul(
                        (g.c_out, patch, positions),
                        dw.as_mut_ptr(),
                        (patch, 1),
                        true,
                        dy[n * g.c_out * positions..].as_ptr(),
                        (positions, 1),
                        col.as_ptr(),
                        (1, positions),
                        false,
                    );
                }
            }
            dw
        })
        .collect();
    let mut total = vec![0.0f32; size];
    for part in partials {
        total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
    }
    total
}

/// `layer.forward(input)` for a transposed convolution, by zoo's kernel where it applies
/// (flex, f32, groups 1, dilation 1), else by Burn.
///
/// # Shapes
/// - input: `[batch, c_in, h, w]`; output: `[batch, c_out, (h-1) s - 2 p + k + padding_out, ..]`
pub fn conv_transpose2d(layer: &ConvTranspose2d, input: Tensor<4>) -> Tensor<4> {
    if layer.groups == 1 && layer.dilation == [1, 1] && enabled() {
        // Weight before bias, as Burn's `forward` (see `conv2d`).
        let weight = layer.weight.val();
        let bias = layer.bias.as_ref().map(|b| b.val());
        if let Some(output) =
            conv_transpose2d_tensors(&input, &weight, bias.as_ref(), layer.stride, layer.padding, layer.padding_out)
        {
            return output;
        }
    }
    layer.forward(input)
}

/// The transposed convolution by zoo's kernel, or `None` where it does not apply.
///
/// # Shapes
/// - x: `[batch, c_in, h, w]`, weight: `[c_in, c_out, kh, kw]`, bias: `[c_out]`
/// - output: `[batch, c_out, (h-1) s - 2 p + k + padding_out, ..]`
pub fn conv_transpose2d_tensors(
    x: &Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
    stride: [usize; 2],
    padding: [usize; 2],
    padding_out: [usize; 2],
) -> Option<Tensor<4>> {
    let [batch, c_in, height, width] = x.dims();
    let [w_in, c_out, kh, kw] = weight.dims();
    let side =
        |size: usize, d: usize| ((size - 1) * stride[d] + [kh, kw][d] + padding_out[d]).checked_sub(2 * padding[d]);
    if w_in != c_in
        || height == 0
        || width == 0
        || stride.contains(&0)
        || padding_out[0] >= stride[0]
        || padding_out[1] >= stride[1]
    {
        return None;
    }
    let out = [side(height, 0)?, side(width, 1)?];
    // The convolution from this operation's output back onto its input.
    let geometry = ConvGeometry {
        batch,
        c_in: c_out,
        height: out[0],
        width: out[1],
        c_out: c_in,
        kernel: [kh, kw],
        stride,
        padding,
        out: [height, width],
    };
    let bias = bias.cloned().unwrap_or_else(|| Tensor::zeros([c_out], &x.device()));
    if bias.dims() != [c_out] {
        return None;
    }
    let plane = out[0] * out[1];
    run(ConvTransposeBackward, geometry, x, weight, bias, [batch, c_out, out[0], out[1]], |x, weight, bias| {
        let mut y = input_gradient(geometry, weight, x);
        y.par_chunks_mut(plane).enumerate().for_each(|(k, row)| row.iter_mut().for_each(|v| *v += bias[k % c_out]));
        y
    })
}

#[derive(Debug)]
struct ConvTransposeBackward;

impl Backward<Flex, 3> for ConvTransposeBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let dy = view(&dy);
        let saved = ops.state;
        // g maps this operation's output (g's input) onto its input (g's output).
        let g = saved.geometry;
        let (x, weight) = (view(&saved.x), view(&saved.weight));
        if let Some(node) = node_x {
            let dx = convolve(g, &dy, &weight, None);
            grads.register::<Flex>(node.id, flex_tensor(dx, vec![g.batch, g.c_out, g.out[0], g.out[1]]));
        }
        if let Some(node) = node_w {
            let dw = weight_gradient(g, &dy, &x);
            grads.register::<Flex>(node.id, flex_tensor(dw, vec![g.c_out, g.c_in, g.kernel[0], g.kernel[1]]));
        }
        if let Some(node) = node_b {
            let db = bias_gradient(g.batch, g.c_in, g.height * g.width, &dy);
            grads.register::<Flex>(node.id, flex_tensor(db, vec![g.c_in]));
        }
    }
}
