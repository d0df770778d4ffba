//! 2-d max pooling (no padding, no dilation) as one custom flex operation: one pass over each
//! channel plane that keeps the winning position of every window, and a backward pass that
//! routes each output gradient to it. Burn's flex backend computes the pooling with indices
//! through its general strided-window path, the slowest single operation of the `cnn` step
//! (`cargo bench --bench ops`).
//!
//! # The operation
//! `x [batch, channels, h, w]` -> `[batch, channels, (h - kh) / sh + 1, (w - kw) / sw + 1]`,
//! each output the largest input of its window (the first, on ties).
//!
//! # Backward
//! `d_x[argmax of each window] += d_y[window]`; zero elsewhere.

use std::sync::Arc;

use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::{KernelBackend, autodiff_output, backend_of, enabled, flex_tensor, is_f32, view};

/// `layer.forward(input)`, by zoo's kernel where it applies (flex, f32, no padding, no
/// dilation, floor mode), else by Burn.
///
/// # Shapes
/// - input: `[batch, channels, h, w]`; output: `[batch, channels, oh, ow]`
pub fn max_pool2d(layer: &MaxPool2d, input: Tensor<4>) -> Tensor<4> {
    let no_padding = matches!(layer.padding, PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0));
    if no_padding
        && layer.dilation == [1, 1]
        && !layer.ceil_mode
        && enabled()
        && let Some(output) = max_pool2d_tensor(&input, layer.kernel_size, layer.stride)
    {
        return output;
    }
    layer.forward(input)
}

/// Max pooling by zoo's kernel, or `None` where it does not apply.
pub fn max_pool2d_tensor(x: &Tensor<4>, kernel: [usize; 2], stride: [usize; 2]) -> Option<Tensor<4>> {
    let [batch, channels, height, width] = x.dims();
    if height < kernel[0] || width < kernel[1] || kernel.contains(&0) || stride.contains(&0) {
        return None;
    }
    let g = Geometry {
        batch,
        channels,
        height,
        width,
        kernel,
        stride,
        out: [(height - kernel[0]) / stride[0] + 1, (width - kernel[1]) / stride[1] + 1],
    };
    match backend_of(x)? {
        KernelBackend::Flex => {
            let (output, _) = forward(g, &x.clone().try_into_primitive::<Flex>().ok()?)?;
            Some(Tensor::from_primitive::<Flex>(output))
        }
        KernelBackend::AutodiffFlex => {
            let x = x.clone().try_into_primitive::<Autodiff<Flex>>().ok()?;
            let (output, argmax) = forward(g, x.primitive())?;
            Some(autodiff_output(PoolBackward, [x.node()], Arc::new(Saved { geometry: g, argmax }), output))
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    out: [usize; 2],
}

#[derive(Debug)]
struct Saved {
    geometry: Geometry,
    /// Per output, the position of its window's maximum within its channel plane.
    argmax: Vec<u32>,
}

#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let dy = view(&dy);
        let Some(node) = node else { return };
        let g = ops.state.geometry;
        let (plane, out_plane) = (g.height * g.width, g.out[0] * g.out[1]);
        let mut dx = vec![0.0f32; g.batch * g.channels * plane];
        dx.par_chunks_mut(plane).zip(dy.par_chunks(out_plane).zip(ops.state.argmax.par_chunks(out_plane))).for_each(
            |(dx_plane, (dy_plane, argmax))| {
                for (&d, &at) in dy_plane.iter().zip(argmax) {
                    dx_plane[at as usize] += d;
                }
            },
        );
        let shape = vec![g.batch, g.channels, g.height, g.width];
        grads.register::<Flex>(node.id, flex_tensor(dx, shape));
    }
}

fn forward(g: Geometry, x: &FlexTensor) -> Option<(FlexTensor, Vec<u32>)> {
    if !is_f32(x) || g.height * g.width > u32::MAX as usize {
        return None;
    }
    let x = view(x);
    let (plane, out_plane) = (g.height * g.width, g.out[0] * g.out[1]);
    let [kh, kw] = g.kernel;
    let [sh, sw] = g.stride;
    let mut y = vec![0.0f32; g.batch * g.channels * out_plane];
    let mut argmax = vec![0u32; y.len()];
    y.par_chunks_mut(out_plane).zip(argmax.par_chunks_mut(out_plane)).zip(x.par_chunks(plane)).for_each(
        |((y_plane, at_plane), x_plane)| {
            for r in 0..g.out[0] {
                for s in 0..g.out[1] {
                    let (mut best, mut at) = (f32::NEG_INFINITY, (r * sh) * g.width + s * sw);
                    for i in 0..kh {
                        let row = (r * sh + i) * g.width + s * sw;
                        for (j, &v) in x_plane[row..row + kw].iter().enumerate() {
                            // `>`: the first maximum wins; NaN never does, as in a comparison sort.
                            if v > best {
                                (best, at) = (v, row + j);
                            }
                        }
                    }
                    y_plane[r * g.out[1] + s] = x_plane[at];
                    at_plane[r * g.out[1] + s] = at as u32;
                }
            }
        },
    );
    let output = flex_tensor(y, [g.batch, g.channels, g.out[0], g.out[1]]);
    Some((output, argmax))
}
