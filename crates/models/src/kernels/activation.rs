//! ReLU and LeakyReLU, alone or after a residual sum, as one custom flex operation across the
//! thread pool. Burn's flex backend runs an activation, its backward pass and a sum of two
//! tensors below 4 million elements on the calling thread, one element at a time for the
//! activations: on a residual block's `relu(y + shortcut)` at batch 64 (1.6 million values)
//! and on the discriminator's LeakyReLUs the other core sat idle.
//!
//! # The operation
//! `z = a + b` (or `z = a`), `y = z` where `z > 0`, else `slope z` (slope 0: ReLU).
//!
//! # Backward
//! As Burn's: ReLU `d_z = d_y` where `z > 0`, else 0; LeakyReLU (slope > 0) `d_z = d_y` where
//! `z >= 0`, else `slope d_y`; `d_a = d_b = d_z`.

use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu};
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::{KernelBackend, autodiff_output, backend_of, enabled, flex_tensor, is_f32, view};

/// Below this many values a tensor stays with Burn's operations: the pool's start-up costs
/// more than the pass.
const SMALL: usize = 1 << 15;

/// Values per task of the pool.
const CHUNK: usize = 1 << 14;

/// `leaky_relu(x, slope)` (slope 0: `relu(x)`), by zoo's kernel where it applies.
///
/// # Shapes
/// - x: any; output: x's
pub fn leaky_relu_fused<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    match kernel(&x, None, slope) {
        Some(output) => output,
        None => burn_activation(x, slope),
    }
}

/// Burn's ReLU (slope 0) or LeakyReLU: what the kernel reproduces.
fn burn_activation<const D: usize>(x: Tensor<D>, slope: f64) -> Tensor<D> {
    if slope == 0.0 { relu(x) } else { leaky_relu(x, slope) }
}

/// `leaky_relu(a + b, slope)` (slope 0: a residual block's `relu(y + shortcut)`), by zoo's
/// kernel where it applies.
///
/// # Shapes
/// - a, b: the same shape; output: theirs
pub fn add_leaky_relu<const D: usize>(a: Tensor<D>, b: Tensor<D>, slope: f64) -> Tensor<D> {
    match kernel(&a, Some(&b), slope) {
        Some(output) => output,
        None => burn_activation(a + b, slope),
    }
}

/// The kernel's output on flex (plain or under autodiff) for f32 tensors of one shape and at
/// least [`SMALL`] values with zoo's kernels on and a slope of 0 or more, else None.
fn kernel<const D: usize>(a: &Tensor<D>, b: Option<&Tensor<D>>, slope: f64) -> Option<Tensor<D>> {
    let small = a.shape().num_elements() < SMALL;
    if !enabled() || small || slope < 0.0 || b.is_some_and(|b| b.dims() != a.dims()) {
        return None;
    }
    let backend = backend_of(a)?;
    if b.is_some_and(|b| backend_of(b) != Some(backend)) {
        return None;
    }
    let slope = slope as f32;
    match backend {
        KernelBackend::Flex => {
            let a = a.clone().try_into_primitive::<Flex>().ok()?;
            let b = b.map(|b| b.clone().try_into_primitive::<Flex>()).transpose().ok()?;
            // Inference: the mask is dropped.
            Some(Tensor::from_primitive::<Flex>(forward(&a, b.as_ref(), slope)?.0))
        }
        KernelBackend::AutodiffFlex => {
            let a = a.clone().try_into_primitive::<Autodiff<Flex>>().ok()?;
            let b = b.map(|b| b.clone().try_into_primitive::<Autodiff<Flex>>()).transpose().ok()?;
            let (output, passes) = forward(a.primitive(), b.as_ref().map(|b| b.primitive()), slope)?;
            let saved = Saved { passes: passes.into(), slope };
            Some(match b {
                Some(b) => autodiff_output(ActivationBackward, [a.node(), b.node()], saved, output),
                None => autodiff_output(ActivationBackward, [a.node()], saved, output),
            })
        }
    }
}

/// `y = leaky_relu(a + b)` in one pass across the pool, and which values pass their gradient
/// whole (the mask): bit set where `z > 0` (ReLU) or `z >= 0` (LeakyReLU), as Burn's
/// backward passes take it. One bit a value is kept for the backward pass, not the output: a
/// kept output is shared, so the operation after it (the discriminator's dropout) could no
/// longer write into it in place (the GAN's peak memory rose 45 MB that way; a byte a value
/// still cost 12 MB).
fn forward(a: &FlexTensor, b: Option<&FlexTensor>, slope: f32) -> Option<(FlexTensor, Vec<u64>)> {
    let f32_only = is_f32(a) && b.is_none_or(is_f32);
    if !f32_only {
        return None;
    }
    // ReLU writes 0, not `0 * z` (NaN for z = -inf).
    let activate = |z: f32| {
        if z > 0.0 {
            z
        } else if slope == 0.0 {
            0.0
        } else {
            slope * z
        }
    };
    let passes = |z: f32| u8::from(if slope == 0.0 { z > 0.0 } else { z >= 0.0 });
    let a_values = view(a);
    let mut y = vec![0.0f32; a_values.len()];
    // The mask is a bit a value (CHUNK is a multiple of 64, so each task owns whole words).
    let mut mask = vec![0u64; a_values.len().div_ceil(64)];
    let b_values = b.map(view);
    y.par_chunks_mut(CHUNK).zip(mask.par_chunks_mut(CHUNK / 64)).enumerate().for_each(|(i, (y, words))| {
        let a = &a_values[i * CHUNK..][..y.len()];
        let b = b_values.as_ref().map(|b| &b[i * CHUNK..][..y.len()]);
        for (k, y) in y.iter_mut().enumerate() {
            let z = match b {
                Some(b) => a[k] + b[k],
                None => a[k],
            };
            *y = activate(z);
            words[k / 64] |= u64::from(passes(z)) << (k % 64);
        }
    });
    Some((flex_tensor(y, a.layout().shape().clone()), mask))
}

#[derive(Debug, Clone)]
struct Saved {
    /// A bit per value (value `k`: bit `k % 64` of word `k / 64`), set where the gradient
    /// passes whole, clear where it is scaled by the slope.
    passes: std::sync::Arc<[u64]>,
    slope: f32,
}

#[derive(Debug)]
struct ActivationBackward;

/// `d_z = d_y` where the forward pass let it through whole, else `slope d_y`.
fn backward_values(saved: &Saved, dy: &FlexTensor) -> FlexTensor {
    let dy_values = view(dy);
    let slope = saved.slope;
    let mut dz = vec![0.0f32; dy_values.len()];
    dz.par_chunks_mut(CHUNK).zip(dy_values.par_chunks(CHUNK).zip(saved.passes.par_chunks(CHUNK / 64))).for_each(
        |(dz, (dy, words))| {
            for (k, (dz, &dy)) in dz.iter_mut().zip(dy).enumerate() {
                let whole = (words[k / 64] >> (k % 64)) & 1 == 1;
                *dz = if whole { dy } else { slope * dy };
            }
        },
    );
    flex_tensor(dz, dy.layout().shape().clone())
}

impl<const N: usize> Backward<Flex, N> for ActivationBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let parents: Vec<_> = ops.parents.into_iter().flatten().collect();
        if parents.is_empty() {
            return;
        }
        let dz = backward_values(&ops.state, &dy);
        for parent in parents {
            grads.register::<Flex>(parent.id, dz.clone());
        }
    }
}
