//! A whole LSTM layer over a sequence as one operation, with its own backward pass, on the
//! flex CPU backend.
//!
//! Written with Burn's tensor operations, a step of an LSTM is a dozen small operations (one
//! matrix product, four slices, three sigmoids, two tanhs, products and sums), each of which
//! allocates its output and records an autodiff node; at the sizes of item 9 (50 units, batch
//! 64) that bookkeeping, not arithmetic, is the step. Here the whole sequence is one node: per
//! step one matrix product (`gemm`, the multiply flex itself uses) into the precomputed input
//! gates, then one fused pass over the gates; the backward pass is backpropagation through
//! time written out (below), with the recurrent weight's gradient as one product over all
//! steps at the end.
//!
//! # The operation
//! `x_gates [batch, steps, 4 hidden]` (the input's share `x W_x + b`, gates in the order
//! input, forget, candidate, output), `w_h [hidden, 4 hidden]`, `h0, c0 [batch, hidden]` ->
//! `[batch, steps, 2 hidden]`: at every step the hidden state `h_t` then the cell `c_t`.
//!
//! `a = x_gates_t + h_{t-1} w_h`; `i, f, o = sigmoid(a_i, a_f, a_o)`, `g = tanh(a_g)`;
//! `c_t = f c_{t-1} + i g`; `h_t = o tanh(c_t)`.
//!
//! # Backward
//! With `dh = dh_t + (da_{t+1} w_hᵀ)` and `dc = dc_t + f_{t+1} dc_{t+1}` flowing back:
//! `dc += dh o (1 - tanh²c_t)`; `da_i = dc g i(1-i)`, `da_f = dc c_{t-1} f(1-f)`,
//! `da_g = dc i (1-g²)`, `da_o = dh tanh(c_t) o(1-o)`; `dx_gates_t = da_t`;
//! `dw_h = Σ_t h_{t-1}ᵀ da_t`; `dh0`, `dc0` what flows out of step 0.

use std::sync::Arc;

use burn::prelude::*;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops};
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::{
    KernelBackend, UnpackedWeights, autodiff_output, backend_of, enabled, flex_tensor, is_f32, matmul, values,
};

/// Sizes of one call.
#[derive(Clone, Copy, Debug)]
struct Dims {
    batch: usize,
    steps: usize,
    hidden: usize,
}

/// What the forward pass keeps for the backward pass.
#[derive(Debug)]
struct Saved {
    dims: Dims,
    /// `[batch, steps, 4 hidden]`: the gates after their activations (i, f, g, o).
    gates: Vec<f32>,
    /// `[batch, steps, 2 hidden]`: the output (h_t, c_t).
    output: Vec<f32>,
    h0: Vec<f32>,
    c0: Vec<f32>,
    /// `[hidden, 4 hidden]`
    w_h: Vec<f32>,
}

/// The LSTM layer over a sequence, or `None` when the tensors are not on flex (with or without
/// autodiff, f32) or zoo's kernels are switched off; the caller then runs Burn's operations.
///
/// # Shapes
/// - x_gates: `[batch, steps, 4 hidden]`
/// - w_h: `[hidden, 4 hidden]`
/// - h0, c0: `[batch, hidden]`
/// - output: `[batch, steps, 2 hidden]`, `h_t` in `..hidden`, `c_t` in `hidden..`
pub fn lstm_sequence(x_gates: &Tensor<3>, w_h: &Tensor<2>, h0: &Tensor<2>, c0: &Tensor<2>) -> Option<Tensor<3>> {
    if !enabled() {
        return None;
    }
    match backend_of(x_gates)? {
        KernelBackend::Flex => {
            let flex = |t: Tensor<2>| t.try_into_primitive::<Flex>().ok();
            let x = x_gates.clone().try_into_primitive::<Flex>().ok()?;
            let (w, h, c) = (flex(w_h.clone())?, flex(h0.clone())?, flex(c0.clone())?);
            let (output, _) = forward(&x, &w, &h, &c)?;
            Some(Tensor::from_primitive::<Flex>(output))
        }
        KernelBackend::AutodiffFlex => autodiff(x_gates, w_h, h0, c0),
    }
}

type AdFlex = Autodiff<Flex>;

fn autodiff(x_gates: &Tensor<3>, w_h: &Tensor<2>, h0: &Tensor<2>, c0: &Tensor<2>) -> Option<Tensor<3>> {
    let x = x_gates.clone().try_into_primitive::<AdFlex>().ok()?;
    let w = w_h.clone().try_into_primitive::<AdFlex>().ok()?;
    let h = h0.clone().try_into_primitive::<AdFlex>().ok()?;
    let c = c0.clone().try_into_primitive::<AdFlex>().ok()?;
    let (output, saved) = forward(x.primitive(), w.primitive(), h.primitive(), c.primitive())?;
    Some(autodiff_output(LstmBackward, [x.node(), w.node(), h.node(), c.node()], Arc::new(saved), output))
}

#[derive(Debug)]
struct LstmBackward;

impl Backward<Flex, 4> for LstmBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_w, node_h0, node_c0] = ops.parents;
        let d_output = grads.consume::<Flex>(&ops.node);
        let d_output = values(&d_output);
        let saved = ops.state;
        let (dx, dw, dh0, dc0) = backward(&saved, &d_output);
        let Dims { batch, steps, hidden } = saved.dims;
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex_tensor(dx, vec![batch, steps, 4 * hidden]));
        }
        if let Some(node) = node_w {
            grads.register::<Flex>(node.id, flex_tensor(dw, vec![hidden, 4 * hidden]));
        }
        if let Some(node) = node_h0 {
            grads.register::<Flex>(node.id, flex_tensor(dh0, vec![batch, hidden]));
        }
        if let Some(node) = node_c0 {
            grads.register::<Flex>(node.id, flex_tensor(dc0, vec![batch, hidden]));
        }
    }
}

/// `tanh`, as a rational function that the compiler vectorises (Eigen's `fast_tanh`; error
/// below 1e-6 absolute over all inputs, checked in the tests against `f32::tanh`).
#[inline(always)]
fn tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    p = x2 * p + -8.604_672e-11;
    p = x2 * p + 5.122_297e-8;
    p = x2 * p + 1.485_722_4e-5;
    p = x2 * p + 6.372_619_3e-4;
    p = x2 * p + 4.893_524_6e-3;
    let mut q = x2 * 1.198_258_4e-6 + 1.185_347e-4;
    q = x2 * q + 2.268_434_6e-3;
    q = x2 * q + 4.893_525e-3;
    x * p / q
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    0.5 + 0.5 * tanh(0.5 * x)
}

/// Runs `f(b, rows...)` for every batch row, across the thread pool when the work is large.
fn for_rows<T: Send, U: Send>(
    rows_a: &mut [T],
    len_a: usize,
    rows_b: &mut [U],
    len_b: usize,
    work: usize,
    f: impl Fn(usize, &mut [T], &mut [U]) + Sync,
) {
    if work >= 1 << 14 {
        rows_a.par_chunks_mut(len_a).zip(rows_b.par_chunks_mut(len_b)).enumerate().for_each(|(b, (a, bb))| f(b, a, bb));
    } else {
        rows_a.chunks_mut(len_a).zip(rows_b.chunks_mut(len_b)).enumerate().for_each(|(b, (a, bb))| f(b, a, bb));
    }
}

/// The forward pass: the output `[batch, steps, 2 hidden]` and what backward needs; `None`
/// for shapes or types it does not handle.
fn forward(x: &FlexTensor, w: &FlexTensor, h0: &FlexTensor, c0: &FlexTensor) -> Option<(FlexTensor, Saved)> {
    use burn_backend::TensorMetadata;
    let [batch, steps, gates_width] = x.shape().dims::<3>();
    let hidden = gates_width / 4;
    let f32_only = [x, w, h0, c0].into_iter().all(is_f32);
    if !f32_only || gates_width != 4 * hidden || w.shape().dims::<2>() != [hidden, 4 * hidden] || steps == 0 {
        return None;
    }
    let (w_h, h0, c0) = (values(w), values(h0), values(c0));
    // Filled with the input gates, then step by step with the activated gates.
    let mut gates = values(x);
    let mut output = vec![0.0f32; batch * steps * 2 * hidden];
    let (row_gates, row_out) = (steps * 4 * hidden, steps * 2 * hidden);
    // `gemm` computes the row-major product transposed, a_tᵀ += w_hᵀ h_{t-1}ᵀ, where w_hᵀ is
    // column-major in place: read it as it is.
    let _unpacked = UnpackedWeights::new();
    for t in 0..steps {
        // a_t += h_{t-1} w_h, for every batch row at once.
        let (prev, prev_stride) =
            if t == 0 { (h0.as_ptr(), hidden) } else { (output[(t - 1) * 2 * hidden..].as_ptr(), row_out) };
        // SAFETY: `gates` rows t of every batch row ([batch, 4 hidden] with row stride
        // row_gates) and `prev` ([batch, hidden], row stride prev_stride) lie inside their
        // buffers; `w_h` is [hidden, 4 hidden]; `gates` and `output` are distinct buffers.
        unsafe {
            matmul(
                (batch, 4 * hidden, hidden),
                gates[t * 4 * hidden..].as_mut_ptr(),
                (row_gates, 1),
                true,
                prev,
                (prev_stride, 1),
                w_h.as_ptr(),
                (4 * hidden, 1),
                true,
            );
        }
        for_rows(&mut gates, row_gates, &mut output, row_out, batch * hidden, |b, g_row, out_row| {
            let a = &mut g_row[t * 4 * hidden..(t + 1) * 4 * hidden];
            let (before, now) = out_row.split_at_mut(t * 2 * hidden);
            let c_prev: &[f32] =
                if t == 0 { &c0[b * hidden..][..hidden] } else { &before[(t - 1) * 2 * hidden + hidden..] };
            let (i, rest) = a.split_at_mut(hidden);
            let (f, rest) = rest.split_at_mut(hidden);
            let (g, o) = rest.split_at_mut(hidden);
            let (h_out, c_out) = now[..2 * hidden].split_at_mut(hidden);
            for j in 0..hidden {
                let (ij, fj, gj, oj) = (sigmoid(i[j]), sigmoid(f[j]), tanh(g[j]), sigmoid(o[j]));
                let c = fj * c_prev[j] + ij * gj;
                (i[j], f[j], g[j], o[j]) = (ij, fj, gj, oj);
                c_out[j] = c;
                h_out[j] = oj * tanh(c);
            }
        });
    }
    let tensor = flex_tensor(output.clone(), [batch, steps, 2 * hidden]);
    Some((tensor, Saved { dims: Dims { batch, steps, hidden }, gates, output, h0, c0, w_h }))
}

/// Backpropagation through time: `(dx_gates, dw_h, dh0, dc0)` from the output's gradient.
fn backward(saved: &Saved, d_output: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let Dims { batch, steps, hidden } = saved.dims;
    let (row_gates, row_out) = (steps * 4 * hidden, steps * 2 * hidden);
    let mut d_gates = vec![0.0f32; batch * row_gates];
    // What flows into step t from step t + 1: dh (through w_h) and dc (through f).
    let mut dh = vec![0.0f32; batch * hidden];
    let mut dc = vec![0.0f32; batch * hidden];
    // w_hᵀ as a row-major [4 hidden, hidden] matrix: the transposed product dh_{t-1}ᵀ =
    // w_h da_tᵀ then reads w_h column-major, in place (see `UnpackedWeights`).
    let mut w_t = vec![0.0f32; hidden * 4 * hidden];
    for (k, row) in saved.w_h.chunks_exact(4 * hidden).enumerate() {
        for (g, &w) in row.iter().enumerate() {
            w_t[g * hidden + k] = w;
        }
    }
    let unpacked = UnpackedWeights::new();
    for t in (0..steps).rev() {
        for_rows(&mut d_gates, row_gates, &mut dc, hidden, batch * hidden, |b, dg_row, dc_b| {
            let act = &saved.gates[b * row_gates + t * 4 * hidden..][..4 * hidden];
            let out = &saved.output[b * row_out..][..row_out];
            let c_now = &out[t * 2 * hidden + hidden..][..hidden];
            let c_prev = if t == 0 {
                &saved.c0[b * hidden..][..hidden]
            } else {
                &out[(t - 1) * 2 * hidden + hidden..][..hidden]
            };
            let d_out = &d_output[b * row_out + t * 2 * hidden..][..2 * hidden];
            let dh_b = &dh[b * hidden..][..hidden];
            let da = &mut dg_row[t * 4 * hidden..][..4 * hidden];
            for j in 0..hidden {
                let (i, f, g, o) = (act[j], act[hidden + j], act[2 * hidden + j], act[3 * hidden + j]);
                let tc = tanh(c_now[j]);
                let dh_j = d_out[j] + dh_b[j];
                let dc_j = d_out[hidden + j] + dc_b[j] + dh_j * o * (1.0 - tc * tc);
                da[j] = dc_j * g * i * (1.0 - i);
                da[hidden + j] = dc_j * c_prev[j] * f * (1.0 - f);
                da[2 * hidden + j] = dc_j * i * (1.0 - g * g);
                da[3 * hidden + j] = dh_j * tc * o * (1.0 - o);
                dc_b[j] = dc_j * f;
            }
        });
        // dh_{t-1} = da_t w_hᵀ: [batch, 4 hidden] x [4 hidden, hidden].
        // SAFETY: `d_gates` rows t ([batch, 4 hidden], row stride row_gates), `w_t`
        // ([4 hidden, hidden]) and `dh` [batch, hidden] lie inside their buffers, which are
        // distinct.
        unsafe {
            matmul(
                (batch, hidden, 4 * hidden),
                dh.as_mut_ptr(),
                (hidden, 1),
                false,
                d_gates[t * 4 * hidden..].as_ptr(),
                (row_gates, 1),
                w_t.as_ptr(),
                (hidden, 1),
                true,
            );
        }
    }
    drop(unpacked);
    // dw_h = Σ_t h_{t-1}ᵀ da_t: the previous hidden state of every (row, step) as one
    // [batch steps, hidden] matrix, transposed, times da [batch steps, 4 hidden].
    let mut h_prev = vec![0.0f32; batch * steps * hidden];
    for b in 0..batch {
        for t in 0..steps {
            let source = if t == 0 {
                &saved.h0[b * hidden..][..hidden]
            } else {
                &saved.output[b * row_out + (t - 1) * 2 * hidden..][..hidden]
            };
            h_prev[(b * steps + t) * hidden..][..hidden].copy_from_slice(source);
        }
    }
    let mut dw = vec![0.0f32; hidden * 4 * hidden];
    // SAFETY: `h_prev` read as [hidden, batch steps] (strides (1, hidden)), `d_gates` as
    // [batch steps, 4 hidden], `dw` [hidden, 4 hidden]: all inside their distinct buffers.
    unsafe {
        matmul(
            (hidden, 4 * hidden, batch * steps),
            dw.as_mut_ptr(),
            (4 * hidden, 1),
            false,
            h_prev.as_ptr(),
            (1, hidden),
            d_gates.as_ptr(),
            (4 * hidden, 1),
            true,
        );
    }
    (d_gates, dw, dh, dc)
}

/// The same operation written with Burn's tensor operations, step by step: the reference the
/// kernel is tested against, on any backend.
///
/// # Shapes
/// As [`lstm_sequence`].
pub fn lstm_sequence_reference(x_gates: Tensor<3>, w_h: Tensor<2>, h0: Tensor<2>, c0: Tensor<2>) -> Tensor<3> {
    use burn::tensor::activation::sigmoid;
    let [batch, steps, width] = x_gates.dims();
    let (mut h, mut c) = (h0, c0);
    let mut outputs = Vec::with_capacity(steps);
    for t in 0..steps {
        let a = x_gates.clone().slice([0..batch, t..t + 1, 0..width]).reshape([batch, width]) + h.matmul(w_h.clone());
        let [i, f, g, o]: [Tensor<2>; 4] = a.chunk(4, 1).try_into().expect("four gates");
        c = sigmoid(f) * c + sigmoid(i) * g.tanh();
        h = sigmoid(o) * c.clone().tanh();
        outputs.push(Tensor::cat(vec![h.clone(), c.clone()], 1));
    }
    Tensor::stack(outputs, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tanh_is_within_a_millionth_of_tanh() {
        let worst = (-200_000..=200_000)
            .map(|i| i as f32 * 1e-4)
            .chain([-1e30, -50.0, 50.0, 1e30])
            .map(|x| (tanh(x) - x.tanh()).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "worst error {worst}");
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-7 && sigmoid(30.0) > 0.999_999 && sigmoid(-30.0) < 1e-6);
    }
}
