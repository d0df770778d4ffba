//! zoo's own CPU kernels: operations that Burn's flex backend runs as many small operations,
//! written as one, with their own backward pass (Burn's `extension` feature gives the backend
//! tensors and the autodiff graph). Each is used only where it applies (tensors on flex, f32);
//! everywhere else, and with `ZOO_KERNELS=off`, the models run Burn's operations instead, which
//! is also what the tests compare the kernels against (values and gradients).

pub mod activation;
pub mod batch_norm;
pub mod conv;
pub mod dropout;
pub mod gelu;
pub mod lstm;
pub mod pool;
pub mod softmax;

use std::sync::atomic::{AtomicU8, Ordering};

use burn::prelude::*;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::ops::{Backward, NodeGuard, OpsKind};
use burn_flex::{Flex, FlexTensor};
use gemm::Parallelism;

/// 0: not yet read from the environment; 1: on; 2: off.
static ENABLED: AtomicU8 = AtomicU8::new(0);

/// Whether zoo's kernels are used where they apply (`ZOO_KERNELS=off` turns them off, to
/// compare against Burn's operations).
pub fn enabled() -> bool {
    match ENABLED.load(Ordering::Relaxed) {
        0 => {
            let on = std::env::var("ZOO_KERNELS").map_or(true, |v| v != "off");
            set_enabled(on);
            on
        }
        state => state == 1,
    }
}

/// Turns zoo's kernels on or off for the whole process (what `ZOO_KERNELS` sets at start).
pub fn set_enabled(on: bool) {
    ENABLED.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// The backends zoo's kernels run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelBackend {
    /// flex, no gradient tracking.
    Flex,
    /// flex under Burn's autodiff (the default checkpointing).
    AutodiffFlex,
}

/// Which kernel backend `tensor` lives on, if any.
pub fn backend_of<const D: usize>(tensor: &Tensor<D>) -> Option<KernelBackend> {
    if tensor.clone().try_into_primitive::<Autodiff<Flex>>().is_ok() {
        Some(KernelBackend::AutodiffFlex)
    } else if tensor.clone().try_into_primitive::<Flex>().is_ok() {
        Some(KernelBackend::Flex)
    } else {
        None
    }
}

/// Whether zoo's kernels will run for tensors like `tensor`.
pub fn applies<const D: usize>(tensor: &Tensor<D>) -> bool {
    enabled() && backend_of(tensor).is_some()
}

/// Whether a flex tensor holds f32 values, the only type zoo's kernels compute in.
pub(crate) fn is_f32(tensor: &FlexTensor) -> bool {
    tensor.dtype() == burn::tensor::DType::F32
}

/// The output of a one-input kernel for `x` on flex (plain, or under autodiff with `op` as its
/// backward pass keeping `state(input, output)`), computed by `forward`; None for a tensor
/// elsewhere or not f32, where the caller runs Burn's operation.
pub(crate) fn unary_kernel<Op, const D: usize>(
    x: &Tensor<D>,
    op: Op,
    forward: impl Fn(&FlexTensor) -> FlexTensor,
    state: impl FnOnce(&FlexTensor, &FlexTensor) -> Op::State,
) -> Option<Tensor<D>>
where
    Op: Backward<Flex, 1>,
{
    match backend_of(x)? {
        KernelBackend::Flex => {
            let input = x.clone().try_into_primitive::<Flex>().ok().filter(is_f32)?;
            Some(Tensor::from_primitive::<Flex>(forward(&input)))
        }
        KernelBackend::AutodiffFlex => {
            let input = x.clone().try_into_primitive::<Autodiff<Flex>>().ok()?;
            if !is_f32(input.primitive()) {
                return None;
            }
            let output = forward(input.primitive());
            let state = state(input.primitive(), &output);
            Some(autodiff_output(op, [input.node()], state, output))
        }
    }
}

/// A flex tensor's values in row-major order, borrowed where they already lie so (a copy of a
/// layer's input per call was 6 % of a `cnn` step in `memmove`), copied otherwise.
pub(crate) fn view(tensor: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(slice) => std::borrow::Cow::Borrowed(slice),
        None => std::borrow::Cow::Owned(values(tensor)),
    }
}

/// A flex tensor's values in row-major order.
pub(crate) fn values(tensor: &FlexTensor) -> Vec<f32> {
    match tensor.as_slice::<f32>() {
        Some(slice) => slice.to_vec(),
        None => tensor.to_contiguous().as_slice::<f32>().expect("contiguous f32").to_vec(),
    }
}

/// A flex tensor of `shape` holding `data` (row-major).
pub(crate) fn flex_tensor(data: Vec<f32>, shape: impl Into<burn::tensor::Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

/// `output` as the result of one autodiff operation over `parents` whose backward pass is
/// `op`; `state` is kept for it only when some parent needs a gradient.
pub(crate) fn autodiff_output<Op, const N: usize, const D: usize>(
    op: Op,
    parents: [NodeGuard; N],
    state: Op::State,
    output: FlexTensor,
) -> Tensor<D>
where
    Op: Backward<Flex, N>,
{
    let result = match op.prepare::<NoCheckpointing>(parents).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish(state, output),
        OpsKind::UnTracked(prep) => prep.finish(output),
    };
    Tensor::from_primitive::<Autodiff<Flex>>(result)
}

/// While alive, `gemm` reads a column-major left operand in place for up to 256 x 6 columns
/// of the product instead of copying it into its packed layout first (by default it packs
/// beyond 96 columns multi-threaded, 48 single-threaded). An LSTM multiplies the same
/// `[4 hidden, hidden]` weights by a `[hidden, batch]` state at every step: packing those
/// weights anew for each product took a third of a character model's time (`perf`, 2 x 256
/// units, batch 128). The thresholds are process-wide; the previous ones come back on drop.
/// (Where several threads run kernels at once, as the tests do, overlapping guards can leave
/// the raised thresholds in place: that changes how fast `gemm` runs, never what it computes.)
pub(crate) struct UnpackedWeights {
    single: usize,
    multi: usize,
}

impl UnpackedWeights {
    pub(crate) fn new() -> Self {
        let guard = Self {
            single: gemm::get_lhs_packing_threshold_single_thread(),
            multi: gemm::get_lhs_packing_threshold_multi_thread(),
        };
        gemm::set_lhs_packing_threshold_single_thread(256);
        gemm::set_lhs_packing_threshold_multi_thread(256);
        guard
    }
}

impl Drop for UnpackedWeights {
    fn drop(&mut self) {
        gemm::set_lhs_packing_threshold_single_thread(self.single);
        gemm::set_lhs_packing_threshold_multi_thread(self.multi);
    }
}

/// Products this small run faster on one thread than split across the pool.
fn parallelism(m: usize, n: usize, k: usize) -> Parallelism {
    if m * n * k >= 1 << 21 { Parallelism::Rayon(0) } else { Parallelism::None }
}

/// `dst (m x n) = dst + lhs (m x k) rhs (k x n)` (or `=` when `accumulate` is false), every
/// matrix given by its pointer and (row, column) strides in elements; across the thread pool
/// when `threads` and the product is large enough to gain from it.
///
/// # Safety
/// Each pointer with its strides must address valid memory for its whole matrix, and `dst`
/// must not overlap `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_strides: (usize, usize),
    accumulate: bool,
    lhs: *const f32,
    lhs_strides: (usize, usize),
    rhs: *const f32,
    rhs_strides: (usize, usize),
    threads: bool,
) {
    let s = |x: usize| x as isize;
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            s(dst_strides.1),
            s(dst_strides.0),
            accumulate,
            lhs,
            s(lhs_strides.1),
            s(lhs_strides.0),
            rhs,
            s(rhs_strides.1),
            s(rhs_strides.0),
            1.0,
            1.0,
            false,
            false,
            false,
            if threads { parallelism(m, n, k) } else { Parallelism::None },
        )
    }
}

/// `exp(v)` for `v ≤ 0` (Cephes' `expf`): `2^n e^r` with `n` the nearest integer to `v / ln 2`
/// and `|r| ≤ ln 2 / 2`; 0 below -87 (where the exact value is below 1.7e-38), as a masked
/// attention score's weight must be; NaN for NaN (a diverged score must show). Wrong for
/// `v > 0`, which no caller passes.
#[inline(always)]
pub(crate) fn exp_nonpositive(v: f32) -> f32 {
    // 1.5 * 2^23: adding it rounds to an integer held in the low bits of the sum.
    const ROUND: f32 = 12_582_912.0;
    debug_assert!(v <= 0.0 || v.is_nan(), "exp_nonpositive({v})");
    // Not `v.max(-87.0)`, which would turn NaN into -87.
    let clamped = if v < -87.0 { -87.0 } else { v };
    let shifted = clamped * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let whole = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32; // n as an integer
    let r = clamped - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = (p * r * r + r + 1.0) * f32::from_bits(((whole + 127) as u32) << 23);
    if v < -87.0 { 0.0 } else { e }
}

/// One chunk of an element-wise pass, as a value [`widest`] can compile for each instruction
/// set (a closure would not be inlined into the target-feature copies reliably).
pub(crate) trait Chunk {
    /// The pass; implementations are `#[inline(always)]`.
    fn run(self);
}

/// `chunk.run()` compiled for the widest vectors the CPU has (AVX-512, else AVX2, else the SSE2
/// of every x86-64): the same arithmetic in every copy, only the vector width differs, so the
/// values do not depend on the CPU (Rust forms no fused multiply-adds of its own).
pub(crate) fn widest<C: Chunk>(chunk: C) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn avx512<C: Chunk>(chunk: C) {
            chunk.run()
        }
        #[target_feature(enable = "avx2")]
        fn avx2<C: Chunk>(chunk: C) {
            chunk.run()
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { avx512(chunk) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked above).
            return unsafe { avx2(chunk) };
        }
    }
    chunk.run()
}
