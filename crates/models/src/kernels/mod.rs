//! zoo's own CPU kernels: operations that Burn's flex backend runs as many small operations,
//! written as one, with their own backward pass (Burn's `extension` feature gives the backend
//! tensors and the autodiff graph). Each is used only where it applies (tensors on flex, f32);
//! everywhere else, and with `ZOO_KERNELS=off`, the models run Burn's operations instead, which
//! is also what the tests compare the kernels against (values and gradients).

pub mod lstm;

use std::sync::OnceLock;

use burn::prelude::*;
use burn_autodiff::Autodiff;
use burn_flex::Flex;

/// Whether zoo's kernels are used where they apply (`ZOO_KERNELS=off` turns them off, to
/// compare against Burn's operations).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("ZOO_KERNELS").map_or(true, |v| v != "off"))
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
