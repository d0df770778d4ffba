//! The one place that turns `--device` into a Burn device. Backends are Cargo features of the
//! root package; a name whose feature is not compiled in gets the command that builds it. A GPU
//! name (`wgpu`, `vulkan`, `metal`) must find a physical GPU: a machine without one offers only
//! a software rasteriser (Mesa's lavapipe), tens of times slower than the CPU backend, which is
//! used only when asked for by name (`wgpu-cpu`).

use std::io::IsTerminal;

use burn::prelude::*;
use zoo_train::ZooError;

/// Every `--device` name: (name, Cargo feature, what it runs on).
pub const DEVICES: &[(&str, &str, &str)] = &[
    ("cpu", "flex", "Burn's flex CPU backend (pure Rust, multithreaded)"),
    ("ndarray", "ndarray", "Burn's ndarray CPU backend (deprecated upstream, for comparison)"),
    ("wgpu", "wgpu", "the best GPU wgpu finds (Vulkan, Metal or DirectX)"),
    ("wgpu-cpu", "wgpu", "wgpu on a software adapter such as Mesa lavapipe (slow; for checks)"),
    ("vulkan", "vulkan", "wgpu pinned to Vulkan with SPIR-V kernels"),
    ("cuda", "cuda", "NVIDIA GPU through CUDA (cuda:N for GPU N; cuda is cuda:0)"),
    ("metal", "metal", "Apple GPU through Metal"),
    (
        "remote",
        "remote",
        "a zoo worker's device on another machine: remote:ws://HOST:PORT, remote:ID or remote:ID@HOST:PORT as `zoo worker` prints it, #N for its device N",
    ),
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
        "remote" => cfg!(feature = "remote"),
        _ => false,
    }
}

/// The device names this binary accepts.
pub fn available() -> Vec<&'static str> {
    DEVICES.iter().filter(|d| compiled(d.1)).map(|d| d.0).collect()
}

/// Whether this binary accepts the `--device` value `name` (`cuda:1` is a `cuda` device).
pub fn accepts(name: &str) -> bool {
    available().contains(&base_name(name))
}

/// `cuda` of `cuda:1`.
fn base_name(name: &str) -> &str {
    name.split_once(':').map_or(name, |(base, _)| base)
}

/// What a device runs on, as its backend reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adapter {
    /// The part's name (`NVIDIA H200`, `llvmpipe (LLVM 15.0.6, 256 bits)`).
    pub name: String,
    /// A card on a bus; false for a software rasteriser.
    pub physical: bool,
}

/// The adapter behind a GPU backend's device (opening it); `None` for the CPU backends, and
/// for a GPU backend that finds no adapter at all (no driver), whose panic is kept quiet.
#[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda", feature = "metal"))]
pub fn adapter(device: &Device) -> Option<Adapter> {
    // Opening the device starts the driver, whose libraries may print to stderr themselves.
    let identity = zoo_train::error::without_stderr(|| zoo_train::error::catch_panic(|| device.identity()));
    identity.ok().flatten().map(|id| Adapter { name: id.name, physical: id.physical.is_some() })
}

#[cfg(not(any(feature = "wgpu", feature = "vulkan", feature = "cuda", feature = "metal")))]
pub fn adapter(_device: &Device) -> Option<Adapter> {
    None
}

/// The device in one line, for the start of a run and `run.json`: `wgpu: NVIDIA H200 (GPU)`,
/// `wgpu-cpu: llvmpipe (...) (software adapter, no GPU)`, `cpu: AMD EPYC, 2 threads`.
pub fn describe(name: &str, device: &Device) -> String {
    if name.starts_with("remote:") {
        return format!("{name}: a zoo worker's device, through Burn's remote backend");
    }
    match adapter(device) {
        Some(Adapter { name: part, physical: true }) => format!("{name}: {part} (GPU)"),
        Some(Adapter { name: part, physical: false }) => format!("{name}: {part} (software adapter, no GPU)"),
        None => {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            format!("{name}: {}, {threads} threads", cpu_model())
        }
    }
}

/// The CPU's model name, where the system says it.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The machine's memory in GiB (`MemTotal` of `/proc/meminfo`), where the system says it. Burn
/// 0.22.1 reports no GPU's memory size, so `zoo devices` gives the CPU's only.
fn system_memory_gib() -> Option<f64> {
    Some(zoo_train::trainer::proc_kilobytes("/proc/meminfo", "MemTotal:")? / (1024.0 * 1024.0))
}

/// Whether `name` asks for a GPU that must be a physical one.
fn wants_physical_gpu(name: &str) -> bool {
    matches!(name, "wgpu" | "vulkan" | "metal")
}

/// `Ok` when `device` (of `--device name`) is fine to run on: any device but a GPU name's,
/// which must be a physical GPU; else what the backend offers instead, for the message.
fn check_physical(name: &str, device: &Device) -> Result<(), String> {
    if !wants_physical_gpu(name) {
        return Ok(());
    }
    match adapter(device) {
        Some(Adapter { physical: true, .. }) => Ok(()),
        Some(software) => Err(format!("only the software adapter `{}`", software.name)),
        None => Err("no adapter at all".to_string()),
    }
}

/// The device of a command without `--device`: the first GPU backend compiled in when it finds
/// a physical GPU, else (said in one line) the CPU backend.
pub fn select_default() -> Result<(Device, String), ZooError> {
    let name = default_name();
    if wants_physical_gpu(name) && compiled("flex") {
        let device = build(name)?;
        if let Err(offered) = check_physical(name, &device) {
            // Said to a person at a terminal; a script reads the device in run.json (and a
            // test's one-line errors stay one line).
            if std::io::stderr().is_terminal() {
                eprintln!(
                    "no physical GPU found ({name} offers {offered}); running on the CPU backend (--device wgpu-cpu runs on the software adapter anyway)"
                );
            }
            return Ok((select("cpu")?, "cpu".to_string()));
        }
        make_default(name);
        return Ok((device, name.to_string()));
    }
    Ok((select(name)?, name.to_string()))
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
    let Some(&(_, feature, _)) = DEVICES.iter().find(|d| d.0 == base_name(name)) else {
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
    let device = build(name)?;
    if let Err(offered) = check_physical(name, &device) {
        let instead: Vec<&str> = ["cpu", "wgpu-cpu"].into_iter().filter(|n| available().contains(n)).collect();
        return Err(ZooError::usage(format!(
            "--device {name}: no physical GPU here ({offered}); use --device {} (a software adapter is tens of times slower than the CPU backend)",
            instead.join(" or --device ")
        )));
    }
    make_default(name);
    Ok(device)
}

/// Turns `--devices LIST` into its devices with their names, the main device (optimiser,
/// validation) first: names as `--device` takes them, comma-separated, or `all`, every GPU
/// found. A list needs two distinct devices: Burn's CPU backend is one device however many
/// times it is named.
pub fn select_list(list: &str) -> Result<Vec<(Device, String)>, ZooError> {
    let names: Vec<String> = if list.trim() == "all" {
        all_gpus()
    } else {
        list.split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect()
    };
    let mut devices: Vec<(Device, String)> = Vec::new();
    for name in names {
        let device = select(&name)?;
        if let Some((_, same)) = devices.iter().find(|(d, _)| *d == device) {
            return Err(ZooError::usage(format!(
                "--devices {list}: {name} is the same device as {same}; name distinct devices (cuda:0,cuda:1, or cpu,ndarray on a CPU)"
            )));
        }
        devices.push((device, name));
    }
    if let Some((_, main)) = devices.first() {
        make_default(main);
    }
    if devices.len() < 2 {
        let found = if list.trim() == "all" { format!(" found {} GPU(s)", devices.len()) } else { String::new() };
        return Err(ZooError::usage(format!(
            "--devices {list}{found}: data-parallel training needs two devices or more (cuda:0,cuda:1, or cpu,ndarray on a CPU); one device is --device"
        )));
    }
    Ok(devices)
}

/// `--devices all`: CUDA's GPUs in a CUDA build, else the discrete GPUs wgpu finds.
fn all_gpus() -> Vec<String> {
    #[cfg(feature = "cuda")]
    {
        let count = Device::enumerate(burn::tensor::DeviceType::Cuda).into_vec().len();
        return (0..count).map(|i| format!("cuda:{i}")).collect();
    }
    #[allow(unreachable_code)]
    let mut names = Vec::new();
    if compiled("wgpu") {
        // wgpu numbers discrete GPUs from 0: the first index without one ends the list.
        for index in 0..16 {
            let name = format!("wgpu:{index}");
            match build(&name).ok().as_ref().and_then(adapter) {
                Some(Adapter { physical: true, .. }) => names.push(name),
                _ => break,
            }
        }
    }
    names
}

/// Makes the chosen device Burn's default too: Burn puts a loaded optimiser's state on its
/// default device (`ModuleOptimizer::load_record`), which in a build with wgpu is wgpu's first
/// adapter, so a `--resume` on the CPU would start a GPU (or a software rasteriser) only to
/// move the state back. `BURN_DEVICE` is how Burn lets a program choose.
fn make_default(name: &str) {
    let burn_name = match base_name(name) {
        // A remote device has no default form (it needs its address): Burn's default stays.
        "remote" => return,
        "cpu" => "flex",
        "wgpu" | "wgpu-cpu" => "wgpu",
        other => other,
    };
    // SAFETY: called while the command picks its device, before zoo starts any other thread
    // (the thread pool, the dashboard, data loaders), so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("BURN_DEVICE", burn_name) };
}

#[allow(unreachable_code, deprecated, unused_variables)]
fn build(name: &str) -> Result<Device, ZooError> {
    if base_name(name) == "remote" {
        return remote(name);
    }
    // `cuda:N` is CUDA's GPU N; `wgpu:N` and `vulkan:N` are the Nth discrete GPU wgpu finds.
    if let Some((base, index)) = name.split_once(':') {
        let index: usize = match (base, index.parse()) {
            ("cuda" | "wgpu" | "vulkan", Ok(index)) => index,
            ("cuda" | "wgpu" | "vulkan", Err(_)) => {
                return Err(ZooError::usage(format!(
                    "--device {name}: give {base}:N with N the GPU's number ({base}:0, {base}:1, ...)"
                )));
            }
            _ => return Err(ZooError::usage(format!("--device {name}: only cuda, wgpu and vulkan take a GPU number"))),
        };
        match base {
            #[cfg(feature = "cuda")]
            "cuda" => return Ok(Device::cuda(index)),
            #[cfg(feature = "wgpu")]
            "wgpu" => return Ok(Device::wgpu(DeviceKind::DiscreteGpu(index))),
            #[cfg(feature = "vulkan")]
            "vulkan" => return Ok(Device::vulkan(DeviceKind::DiscreteGpu(index))),
            _ => unreachable!("select() checked that `{base}` is compiled in"),
        }
    }
    Ok(match name {
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
    })
}

/// `zoo devices`: every `--device` name with what it finds here, or the build that has it.
pub fn report() -> String {
    let mut out = String::new();
    for &(name, feature, what) in DEVICES {
        let line = if !compiled(feature) {
            format!("not in this build (cargo build --release --features {feature})")
        } else {
            match name {
                "cpu" | "ndarray" => {
                    let device = describe(name, &build(name).expect("a CPU backend builds"));
                    match system_memory_gib() {
                        Some(gib) => format!("{device}, {gib:.0} GiB memory; {what}"),
                        None => format!("{device}; {what}"),
                    }
                }
                "remote" => format!("compiled in; {what}"),
                _ => match build(name).ok().as_ref().and_then(adapter) {
                    Some(Adapter { name: part, physical: true }) => format!("{part} (GPU); {what}"),
                    Some(Adapter { name: part, physical: false }) if name == "wgpu-cpu" => {
                        format!("{part} (software adapter); {what}")
                    }
                    Some(Adapter { name: part, physical: false }) => {
                        format!("no physical GPU: only the software adapter {part} (--device wgpu-cpu)")
                    }
                    None => {
                        "no adapter found (no GPU driver: install one, or Mesa's for a software adapter)".to_string()
                    }
                },
            }
        };
        out.push_str(&format!("{name:<10} {line}\n"));
    }
    let chosen = default_name();
    let fallback =
        if wants_physical_gpu(chosen) && compiled("flex") { " when it finds a physical GPU, else cpu" } else { "" };
    out.push_str(&format!("default: {chosen}{fallback} (--device or ZOO_DEVICE chooses another)\n"));
    out.push_str("several: zoo train <classifier> --devices cuda:0,cuda:1 (data-parallel; cpu,ndarray on a CPU)\n");
    out
}

/// `--device remote:ADDR[#N]`: device N (0) of the `zoo worker` at ADDR, connected now, with the
/// token of `$ZOO_WORKER_TOKEN` or `$ZOO_WORKER_TOKEN_FILE`'s file.
#[cfg(feature = "remote")]
fn remote(name: &str) -> Result<Device, ZooError> {
    use burn::remote::{ConnectError, EndpointId, IrohHost, IrohRelays, RemoteHost};
    use std::net::ToSocketAddrs;

    let usage = |what: String| ZooError::usage(format!("--device {name}: {what}"));
    let Some(spec) = name.strip_prefix("remote:").filter(|s| !s.is_empty()) else {
        return Err(usage("give the worker's address: remote:ws://HOST:PORT, remote:ID or remote:ID@HOST:PORT, as `zoo worker` prints it".to_string()));
    };
    let (address, index) = match spec.rsplit_once('#') {
        Some((address, index)) => (
            address,
            index.parse::<usize>().map_err(|_| usage(format!("`#{index}`: the worker's device number is a number")))?,
        ),
        None => (spec, 0),
    };
    let token = crate::worker::token(None)?;
    let host = if address.starts_with("ws://") || address.starts_with("wss://") {
        RemoteHost::websocket(address)
    } else {
        let (id, direct) = match address.split_once('@') {
            Some((id, direct)) => (id, Some(direct)),
            None => (address, None),
        };
        let id: EndpointId = id.parse().map_err(|_| {
            usage(format!("`{id}` is neither a worker's Iroh id (`zoo worker` prints it) nor ws://HOST:PORT"))
        })?;
        let mut host = IrohHost::new(id);
        if let Some(direct) = direct {
            let addresses: Vec<_> = direct
                .to_socket_addrs()
                .map_err(|e| usage(format!("`{direct}` is not a HOST:PORT this machine can resolve ({e})")))?
                .collect();
            host = host.with_relays(IrohRelays::Disabled);
            for address in addresses {
                host = host.with_address(address);
            }
        }
        RemoteHost::iroh(host)
    };
    Device::remote_options(&host.with_credential(token)).device_index(index).init().map_err(|e| match e {
        ConnectError::Unauthorized => usage(
            "the worker refused the token; set ZOO_WORKER_TOKEN (or ZOO_WORKER_TOKEN_FILE) to the worker's token"
                .to_string(),
        ),
        ConnectError::NoSuchDevice { device_count } => {
            usage(format!("the worker hosts {device_count} device(s), numbered from #0"))
        }
        ConnectError::Unreachable { reason } => {
            usage(format!("no worker answers there ({reason}); start one with `zoo worker` on that machine"))
        }
        other => ZooError::runtime(format!("--device {name}: {other}")),
    })
}

#[cfg(not(feature = "remote"))]
fn remote(name: &str) -> Result<Device, ZooError> {
    Err(ZooError::usage(format!(
        "--device {name} needs the `remote` backend, which this binary was built without; build with `cargo run --release --features remote -- ...`"
    )))
}
