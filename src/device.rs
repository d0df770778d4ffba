//! The one place that turns `--device` into a Burn device. Backends are Cargo features of the
//! root package; a name whose feature is not compiled in gets the command that builds it.

use burn::prelude::*;
use zoo_train::ZooError;

/// Every `--device` name: (name, Cargo feature, what it runs on).
pub const DEVICES: &[(&str, &str, &str)] = &[
    ("cpu", "flex", "Burn's flex CPU backend (pure Rust, multithreaded)"),
    ("ndarray", "ndarray", "Burn's ndarray CPU backend (deprecated upstream, for comparison)"),
    ("wgpu", "wgpu", "the best GPU wgpu finds (Vulkan, Metal or DirectX)"),
    ("wgpu-cpu", "wgpu", "wgpu on a software adapter such as Mesa lavapipe (slow; for checks)"),
    ("vulkan", "vulkan", "wgpu pinned to Vulkan with SPIR-V kernels"),
    ("cuda", "cuda", "NVIDIA GPU 0 through CUDA"),
    ("metal", "metal", "Apple GPU through Metal"),
];

/// Whether the backend of `feature` is compiled into this binary.
pub fn compiled(feature: &str) -> bool {
    match feature {
        "flex" => cfg!(feature = "flex"),
        "ndarray" => cfg!(feature = "ndarray"),
        "wgpu" => cfg!(feature = "wgpu"),
        "vulkan" => cfg!(feature = "vulkan"),
        "cuda" => cfg!(feature = "cuda"),
        "metal" => cfg!(feature = "metal"),
        _ => false,
    }
}

/// The device names this binary accepts.
pub fn available() -> Vec<&'static str> {
    DEVICES.iter().filter(|d| compiled(d.1)).map(|d| d.0).collect()
}

/// The default `--device`: the first GPU backend compiled in, else the CPU.
pub fn default_name() -> &'static str {
    ["cuda", "metal", "vulkan", "wgpu", "cpu", "ndarray"]
        .into_iter()
        .find(|name| DEVICES.iter().any(|d| d.0 == *name && compiled(d.1)))
        .unwrap_or("cpu")
}

/// Turns a `--device` name into a device.
pub fn select(name: &str) -> Result<Device, ZooError> {
    let Some(&(_, feature, _)) = DEVICES.iter().find(|d| d.0 == name) else {
        return Err(ZooError::usage(format!(
            "unknown device `{name}`; this build accepts: {}",
            available().join(", ")
        )));
    };
    if !compiled(feature) {
        return Err(ZooError::usage(format!(
            "--device {name} needs the `{feature}` backend, which this binary was built without; build with `cargo run --release --features {feature} -- ...`"
        )));
    }
    let device = build(name);
    make_default(name);
    Ok(device)
}

/// Makes the chosen device Burn's default too: Burn puts a loaded optimiser's state on its
/// default device (`ModuleOptimizer::load_record`), which in a build with wgpu is wgpu's first
/// adapter, so a `--resume` on the CPU would start a GPU (or a software rasteriser) only to
/// move the state back. `BURN_DEVICE` is how Burn lets a program choose.
fn make_default(name: &str) {
    let burn_name = match name {
        "cpu" => "flex",
        "wgpu" | "wgpu-cpu" => "wgpu",
        other => other,
    };
    // SAFETY: called while the command picks its device, before zoo starts any other thread
    // (the thread pool, the dashboard, data loaders), so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("BURN_DEVICE", burn_name) };
}

#[allow(unreachable_code, deprecated)]
fn build(name: &str) -> Device {
    match name {
        #[cfg(feature = "flex")]
        "cpu" => Device::flex(),
        #[cfg(feature = "ndarray")]
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(DeviceKind::DefaultDevice),
        #[cfg(feature = "wgpu")]
        "wgpu-cpu" => Device::wgpu(DeviceKind::Cpu),
        #[cfg(feature = "vulkan")]
        "vulkan" => Device::vulkan(DeviceKind::DefaultDevice),
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(0),
        #[cfg(feature = "metal")]
        "metal" => Device::metal(DeviceKind::DefaultDevice),
        _ => unreachable!("select() checked that `{name}` is compiled in"),
    }
}
