//! The softmax of attention, `softmax(scale x)` over the last dimension, as one custom flex
//! operation across the thread pool. Burn's `softmax` is five passes (max, subtract, `exp`,
//! sum, divide), its `exp` libm's one value at a time, and the scaling before it one more
//! pass each way: on the GPT (`[32, 6, 128, 128]` scores in each of 4 layers) `expf` alone was
//! 7 % of a training step (`perf`, AMD EPYC). Here a row is read once to find its maximum and
//! once to exponentiate and sum; the backward pass reads `y` and `dy` once.
//!
//! # The operation
//! `y = exp(s (x - max x)) / Σ exp(s (x - max x))` along the last dimension (`s > 0`).
//!
//! # Backward
//! `dx = s y (dy - Σ dy y)`, the sum along the row.

use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::Ops;
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::{Chunk, enabled, exp_nonpositive, flex_tensor, unary_kernel, view, widest};

/// Below this many values a tensor stays with Burn's operations.
const SMALL: usize = 1 << 15;

/// Values per task of the pool (whole rows).
const CHUNK: usize = 1 << 14;

/// Lanes of the partial maxima and sums: wide enough for AVX-512, and a fixed order of
/// additions, so the result does not depend on the CPU.
const LANES: usize = 16;

/// `softmax(x * scale, D - 1)`, by zoo's kernel where it applies (flex, f32, at least
/// [`SMALL`] values, `scale > 0`).
///
/// # Shapes
/// - x: any, the rows along the last dimension; output: x's
pub fn softmax_scaled<const D: usize>(x: Tensor<D>, scale: f64) -> Tensor<D> {
    let burn = |x: Tensor<D>| softmax(x.mul_scalar(scale), D - 1);
    if !enabled() || x.shape().num_elements() < SMALL || !(scale > 0.0 && scale.is_finite()) {
        return burn(x);
    }
    let scale = scale as f32;
    let forward = |input: &FlexTensor| forward(input, scale);
    let saved = |_: &FlexTensor, output: &FlexTensor| Saved { y: Arc::new(output.clone()), scale };
    unary_kernel(&x, SoftmaxBackward, forward, saved).unwrap_or_else(|| burn(x))
}

/// The row length of `tensor` (its last dimension) and how many rows a task takes.
fn rows(tensor: &FlexTensor) -> (usize, usize) {
    let dims = tensor.layout().shape().to_vec();
    let width = dims.last().copied().unwrap_or(1).max(1);
    (width, (CHUNK / width).max(1))
}

/// `values.iter().fold(init, op)` in [`LANES`] interleaved partial results (so that it
/// vectorises), combined in a fixed order.
#[inline(always)]
fn reduce(values: &[f32], init: f32, op: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [init; LANES];
    let mut blocks = values.chunks_exact(LANES);
    for block in &mut blocks {
        for (lane, &v) in lanes.iter_mut().zip(block) {
            *lane = op(*lane, v);
        }
    }
    let tail = blocks.remainder().iter().fold(init, |acc, &v| op(acc, v));
    lanes.iter().fold(tail, |acc, &v| op(acc, v))
}

/// Rows of `y = softmax(scale x)`.
struct ForwardRows<'a> {
    x: &'a [f32],
    out: &'a mut [f32],
    width: usize,
    scale: f32,
}

impl Chunk for ForwardRows<'_> {
    #[inline(always)]
    fn run(self) {
        let scale = self.scale;
        for (x, y) in self.x.chunks(self.width).zip(self.out.chunks_mut(self.width)) {
            // f32::max skips NaN; a NaN score still makes its row NaN (through `exp` and the
            // sum), as Burn's softmax does.
            let max = reduce(x, f32::NEG_INFINITY, f32::max);
            for (y, &x) in y.iter_mut().zip(x) {
                *y = exp_nonpositive(scale * (x - max));
            }
            let inverse = 1.0 / reduce(y, 0.0, |a, b| a + b);
            for y in y.iter_mut() {
                *y *= inverse;
            }
        }
    }
}

/// Rows of `dx = scale y (dy - Σ dy y)`.
struct BackwardRows<'a> {
    y: &'a [f32],
    dy: &'a [f32],
    out: &'a mut [f32],
    width: usize,
    scale: f32,
}

impl Chunk for BackwardRows<'_> {
    #[inline(always)]
    fn run(self) {
        let rows = self.y.chunks(self.width).zip(self.dy.chunks(self.width)).zip(self.out.chunks_mut(self.width));
        for ((y, dy), dx) in rows {
            for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
                *dx = dy * y;
            }
            let dot = reduce(dx, 0.0, |a, b| a + b);
            for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
                *dx = self.scale * y * (dy - dot);
            }
        }
    }
}

fn forward(input: &FlexTensor, scale: f32) -> FlexTensor {
    let x = view(input);
    let (width, rows_per_task) = rows(input);
    let mut y = vec![0.0f32; x.len()];
    let task = width * rows_per_task;
    y.par_chunks_mut(task).zip(x.par_chunks(task)).for_each(|(out, x)| widest(ForwardRows { x, out, width, scale }));
    flex_tensor(y, input.layout().shape().clone())
}

#[derive(Debug, Clone)]
struct Saved {
    /// The output.
    y: Arc<FlexTensor>,
    scale: f32,
}

#[derive(Debug)]
struct SoftmaxBackward;

impl burn_autodiff::ops::Backward<Flex, 1> for SoftmaxBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let [Some(parent)] = ops.parents else { return };
        let Saved { y, scale } = ops.state;
        let (width, rows_per_task) = rows(&y);
        let (y, dy_values) = (view(&y), view(&dy));
        let mut dx = vec![0.0f32; y.len()];
        let task = width * rows_per_task;
        dx.par_chunks_mut(task)
            .zip(y.par_chunks(task).zip(dy_values.par_chunks(task)))
            .for_each(|(out, (y, dy))| widest(BackwardRows { y, dy, out, width, scale }));
        grads.register::<Flex>(parent.id, flex_tensor(dx, dy.layout().shape().clone()));
    }
}
