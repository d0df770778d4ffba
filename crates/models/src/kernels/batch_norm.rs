//! Batch normalisation on the batch's statistics followed by LeakyReLU, as one custom flex
//! operation. Burn computes the training-mode batch norm from general tensor operations (a
//! transpose copy, two means, the normalisation, scale and shift, each a pass over the
//! activation) and the LeakyReLU as two more; the DCGAN generator runs three of them on
//! 1.6-3.2 million values per batch. Here: one pass for the statistics, one for the output,
//! and a backward pass of two.
//!
//! # The operation
//! `x [batch, channels, ...]`; per channel `c`, over the batch and the positions:
//! `mean_c`, the biased variance `var_c`, `x̂ = (x - mean_c) / sqrt(var_c + eps)`,
//! `z = gamma_c x̂ + beta_c`, `y = z` where `z > 0`, else `slope z`.
//! The layer's running statistics move as Burn's do: `running = (1 - momentum) running +
//! momentum batch` (the biased variance).
//!
//! # Backward
//! With `dz = dy` where `z > 0`, else `slope dy`, and `m` values per channel:
//! `d_beta_c = Σ dz`, `d_gamma_c = Σ dz x̂`,
//! `d_x = gamma_c / sqrt(var_c + eps) (dz - d_beta_c / m - x̂ d_gamma_c / m)`.

use std::sync::Arc;

use burn::nn::BatchNorm;
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops};
use burn_flex::Flex;
use rayon::prelude::*;

use super::{KernelBackend, autodiff_output, backend_of, enabled, flex_tensor, is_f32, values};

/// `leaky_relu(norm.forward(input), slope)`, by zoo's kernel in training (flex under
/// autodiff, the layer not frozen, f32), else by Burn.
///
/// # Shapes
/// - input: `[batch, channels, ...]`; output: the same
pub fn batch_norm_leaky_relu<const D: usize>(norm: &BatchNorm, input: Tensor<D>, slope: f64) -> Tensor<D> {
    match kernel_forward(norm, &input, slope) {
        Some(output) => output,
        None => leaky_relu(norm.forward(input), slope),
    }
}

/// `norm.forward(input)`: the same kernel with slope 1 (the identity), where it applies; Burn's
/// batch norm runs its statistics and normalisation as a chain of operations on one thread.
///
/// # Shapes
/// - input: `[batch, features, ...]`; output: the input's shape
pub fn batch_norm<const D: usize>(norm: &BatchNorm, input: Tensor<D>) -> Tensor<D> {
    kernel_forward(norm, &input, 1.0).unwrap_or_else(|| norm.forward(input))
}

/// The kernel's output in training on flex (under autodiff) with zoo's kernels on, else None.
fn kernel_forward<const D: usize>(norm: &BatchNorm, input: &Tensor<D>, slope: f64) -> Option<Tensor<D>> {
    let training = norm.training.is_enabled() && backend_of(input) == Some(KernelBackend::AutodiffFlex);
    if enabled() && training && D >= 2 { train_forward(norm, input, slope) } else { None }
}

/// The input as `[outer, channels, inner]`: channel `c`'s values are `outer` runs of `inner`
/// contiguous values.
#[derive(Clone, Copy, Debug)]
struct Layout {
    outer: usize,
    channels: usize,
    inner: usize,
}

impl Layout {
    fn per_channel(&self) -> usize {
        self.outer * self.inner
    }

    /// The runs of channel `c` in a `[outer, channels, inner]` buffer.
    fn runs<'a>(&self, values: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> + 'a {
        let (channels, inner) = (self.channels, self.inner);
        (0..self.outer).map(move |n| &values[(n * channels + c) * inner..][..inner])
    }
}

fn train_forward<const D: usize>(norm: &BatchNorm, input: &Tensor<D>, slope: f64) -> Option<Tensor<D>> {
    type AdFlex = Autodiff<Flex>;
    let dims = input.dims();
    let layout = Layout { outer: dims[0], channels: dims[1], inner: dims[2..].iter().product() };
    if layout.per_channel() == 0 || norm.gamma.dims() != [layout.channels] {
        return None;
    }
    let x = input.clone().try_into_primitive::<AdFlex>().ok()?;
    let gamma = norm.gamma.val().try_into_primitive::<AdFlex>().ok()?;
    let beta = norm.beta.val().try_into_primitive::<AdFlex>().ok()?;
    let f32_only = [x.primitive(), gamma.primitive(), beta.primitive()].into_iter().all(is_f32);
    if !f32_only {
        return None;
    }
    let (x_values, gamma_values, beta_values) =
        (values(x.primitive()), values(gamma.primitive()), values(beta.primitive()));

    // Per channel: mean and biased variance, accumulated in f64 (shifted by the first value,
    // so large means cost no precision).
    let m = layout.per_channel() as f64;
    let stats: Vec<(f64, f64)> = (0..layout.channels)
        .into_par_iter()
        .map(|c| {
            let shift = f64::from(layout.runs(&x_values, c).next().map_or(0.0, |run| run[0]));
            let (mut sum, mut squares) = (0.0f64, 0.0f64);
            for run in layout.runs(&x_values, c) {
                for &v in run {
                    let d = f64::from(v) - shift;
                    sum += d;
                    squares += d * d;
                }
            }
            let mean = sum / m;
            (shift + mean, (squares / m - mean * mean).max(0.0))
        })
        .collect();
    let inv_std: Vec<f32> = stats.iter().map(|&(_, var)| (1.0 / (var + norm.epsilon).sqrt()) as f32).collect();
    let means: Vec<f32> = stats.iter().map(|&(mean, _)| mean as f32).collect();

    // x̂ (kept for the backward pass) and y, run by run.
    let slope = slope as f32;
    let mut normalized = vec![0.0f32; x_values.len()];
    let mut output = vec![0.0f32; x_values.len()];
    let inner = layout.inner;
    normalized
        .par_chunks_mut(inner)
        .zip(output.par_chunks_mut(inner))
        .zip(x_values.par_chunks(inner))
        .enumerate()
        .for_each(|(run, ((x_hat, y), x))| {
            let c = run % layout.channels;
            let (mean, scale, g, b) = (means[c], inv_std[c], gamma_values[c], beta_values[c]);
            for ((h, out), &v) in x_hat.iter_mut().zip(y.iter_mut()).zip(x) {
                *h = (v - mean) * scale;
                let z = g * *h + b;
                *out = if z > 0.0 { z } else { slope * z };
            }
        });
    update_running(norm, &stats, &input.device());

    let output = flex_tensor(output, dims.to_vec());
    let saved =
        Saved { dims: dims.to_vec(), layout, normalized, inv_std, gamma: gamma_values, beta: beta_values, slope };
    Some(autodiff_output(BatchNormBackward, [x.node(), gamma.node(), beta.node()], Arc::new(saved), output))
}

/// The running statistics' update Burn's `BatchNorm` makes in training.
fn update_running(norm: &BatchNorm, stats: &[(f64, f64)], device: &Device) {
    let channels = stats.len();
    let tensor = |f: fn(&(f64, f64)) -> f64| {
        let data: Vec<f32> = stats.iter().map(|s| f(s) as f32).collect();
        Tensor::<1>::from_data(TensorData::new(data, [channels]), device)
    };
    let momentum = norm.momentum;
    let mean = norm.running_mean.value_sync().to_device(device) * (1.0 - momentum) + tensor(|s| s.0) * momentum;
    let var = norm.running_var.value_sync().to_device(device) * (1.0 - momentum) + tensor(|s| s.1) * momentum;
    norm.running_mean.update(mean.detach());
    norm.running_var.update(var.detach());
}

#[derive(Debug)]
struct Saved {
    /// The input's shape.
    dims: Vec<usize>,
    layout: Layout,
    normalized: Vec<f32>,
    inv_std: Vec<f32>,
    gamma: Vec<f32>,
    beta: Vec<f32>,
    slope: f32,
}

#[derive(Debug)]
struct BatchNormBackward;

impl Backward<Flex, 3> for BatchNormBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = values(&grads.consume::<Flex>(&ops.node));
        let s = ops.state;
        let layout = s.layout;
        let inner = layout.inner;
        // dz = dy through the LeakyReLU (z from x̂, gamma and beta); at slope 1 (plain batch
        // norm) dz is dy and the pass is skipped. A product by a selected factor, not a
        // conditional store, so that the loop vectorises.
        let mut dz = dy;
        if s.slope != 1.0 {
            dz.par_chunks_mut(inner).zip(s.normalized.par_chunks(inner)).enumerate().for_each(|(run, (d, x_hat))| {
                let c = run % layout.channels;
                let (g, b) = (s.gamma[c], s.beta[c]);
                for (d, &h) in d.iter_mut().zip(x_hat) {
                    *d *= if g * h + b > 0.0 { 1.0 } else { s.slope };
                }
            });
        }
        // Per channel: Σ dz and Σ dz x̂.
        let sums: Vec<(f64, f64)> = (0..layout.channels)
            .into_par_iter()
            .map(|c| {
                let (mut d_beta, mut d_gamma) = (0.0f64, 0.0f64);
                for (d, h) in layout.runs(&dz, c).zip(layout.runs(&s.normalized, c)) {
                    for (&d, &h) in d.iter().zip(h) {
                        d_beta += f64::from(d);
                        d_gamma += f64::from(d * h);
                    }
                }
                (d_beta, d_gamma)
            })
            .collect();
        if let Some(node) = node_x {
            let m = layout.per_channel() as f32;
            let mut dx = vec![0.0f32; dz.len()];
            dx.par_chunks_mut(inner)
                .zip(dz.par_chunks(inner).zip(s.normalized.par_chunks(inner)))
                .enumerate()
                .for_each(|(run, (dx, (dz, x_hat)))| {
                    let c = run % layout.channels;
                    let scale = s.gamma[c] * s.inv_std[c];
                    let (mean_d, mean_dh) = (sums[c].0 as f32 / m, sums[c].1 as f32 / m);
                    for ((out, &d), &h) in dx.iter_mut().zip(dz).zip(x_hat) {
                        *out = scale * (d - mean_d - h * mean_dh);
                    }
                });
            grads.register::<Flex>(node.id, flex_tensor(dx, s.dims.clone()));
        }
        let channel_grad =
            |f: fn(&(f64, f64)) -> f64| flex_tensor(sums.iter().map(|v| f(v) as f32).collect(), [layout.channels]);
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, channel_grad(|v| v.1));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, channel_grad(|v| v.0));
        }
    }
}
