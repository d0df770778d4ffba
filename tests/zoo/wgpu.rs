//! One forward and backward step of each model on wgpu, checked against the CPU backend.
//!
//! Built only with `--features wgpu`. Without a Vulkan driver the tests say so and pass,
//! except where `ZOO_REQUIRE_WGPU=1` (set by `.ci/run`, which installs Mesa's lavapipe):
//! there a missing adapter is a failure.
#![cfg(feature = "wgpu")]

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use zoo_train::classifier::ClassifierRecipe;
use zoo_train::classifier::ImageNet;
use zoo_train::recipes::{CnnRecipe, MlpRecipe, Recipe};

use crate::common::real_batch;

/// Loss, logits and the gradient of the first parameter after one backward pass.
fn step<R: ClassifierRecipe>(net: R::Net, device: &Device) -> (f32, Vec<f32>, Vec<f32>) {
    let (images, targets) = real_batch(16, device);
    let logits = net.logits(images);
    let loss = CrossEntropyLossConfig::new().init(device).forward(logits.clone(), targets);
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let mut first_grad = None;
    net.visit(&mut FirstGrad { grads: &grads, out: &mut first_grad });
    let logits = logits.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    (loss.into_scalar(), logits, first_grad.expect("a parameter with a gradient"))
}

/// Reads the gradient of the first float parameter visited, whatever the model calls it.
struct FirstGrad<'a> {
    grads: &'a GradientsParams,
    out: &'a mut Option<Vec<f32>>,
}

impl burn::module::ModuleVisitor for FirstGrad<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if self.out.is_none()
            && let Some(grad) = self.grads.get::<D>(param.id)
        {
            *self.out = Some(grad.into_data().convert::<f32>().try_into_vec::<f32>().unwrap());
        }
    }
}

/// The software wgpu device, or `None` (with a message) where no adapter exists.
pub fn wgpu_device() -> Option<Device> {
    let attempt = std::panic::catch_unwind(|| {
        let device = Device::wgpu(DeviceKind::Cpu);
        let probe = Tensor::<1>::from_floats([1.0, 2.0], &device).sum().into_scalar::<f32>();
        assert_eq!(probe, 3.0);
        device
    });
    match attempt {
        Ok(device) => Some(device),
        Err(_) if std::env::var("ZOO_REQUIRE_WGPU").as_deref() != Ok("1") => {
            eprintln!("skipped: no wgpu adapter (install mesa-vulkan-drivers for lavapipe)");
            None
        }
        Err(_) => panic!("ZOO_REQUIRE_WGPU=1 but wgpu found no adapter"),
    }
}

fn matches_cpu<R: ClassifierRecipe>(mut recipe: R) {
    let Some(gpu) = wgpu_device() else { return };
    let cpu = Device::flex();
    recipe.set_num_classes(10);
    let _rng = crate::common::rng_lock();
    cpu.seed(11);
    // One autodiff handle per device, used for the weights and the batch alike: each call of
    // `autodiff()` starts a graph context of its own.
    let (cpu, gpu) = (cpu.autodiff(), gpu.autodiff());
    // The same weights on both devices: initialise on the CPU, load them into a wgpu model
    // (a moved module would keep values but not its place in the wgpu graph).
    let net_cpu = recipe.init(&cpu);
    let net_gpu = recipe.init(&gpu).load_record(net_cpu.clone().into_record());
    let (loss_c, logits_c, grad_c) = step::<R>(net_cpu, &cpu);
    let (loss_g, logits_g, grad_g) = step::<R>(net_gpu, &gpu);
    assert!((loss_c - loss_g).abs() < 1e-4, "loss cpu {loss_c} wgpu {loss_g}");
    let close = |a: &[f32], b: &[f32], what: &str| {
        assert_eq!(a.len(), b.len());
        let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "{what}: largest difference {worst}");
    };
    close(&logits_c, &logits_g, "logits");
    close(&grad_c, &grad_g, "first-layer gradient");
}

#[test]
fn wgpu_mlp_matches_cpu() {
    // Dropout draws its masks from each backend's own generator: off for the comparison.
    let mut recipe = MlpRecipe::default_recipe();
    recipe.model.dropout = 0.0;
    matches_cpu(recipe);
}

#[test]
fn wgpu_cnn_matches_cpu() {
    matches_cpu(CnnRecipe::default_recipe());
}

/// Where wgpu finds only a software adapter (CI's lavapipe), `--device wgpu` is refused naming
/// the devices that work, the default falls back to the CPU backend and says so in run.json,
/// and `zoo devices` names the adapter; `wgpu-cpu` still runs on it when asked by name.
#[test]
fn without_a_physical_gpu_wgpu_is_refused_and_the_default_is_the_cpu() {
    use crate::common::{assert_clean_error, stdout, zoo};
    if wgpu_device().is_none() {
        return;
    }
    let devices = stdout(&zoo(&["devices"]));
    let wgpu_line = devices.lines().find(|l| l.starts_with("wgpu ")).expect("zoo devices lists wgpu").to_string();
    if wgpu_line.contains("(GPU)") {
        eprintln!("skipped: this machine has a physical GPU ({wgpu_line})");
        return;
    }
    assert!(wgpu_line.contains("no physical GPU"), "{devices}");
    assert!(devices.lines().any(|l| l.starts_with("wgpu-cpu") && l.contains("(software adapter)")), "{devices}");
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let run_s = run.to_str().unwrap();
    assert_clean_error(
        &zoo(&["train", "mlp", "--device", "wgpu", "--limit", "100", "--epochs", "1", "--run-dir", run_s]),
        2,
        "no physical GPU here",
    );
    let out = zoo(&["train", "mlp", "--limit", "200", "--epochs", "1", "--run-dir", run_s]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["device"], "cpu", "{info}");
    assert!(info["adapter"].as_str().unwrap().starts_with("cpu: "), "{info}");
    assert!(stdout(&out).contains("device cpu: "), "{}", stdout(&out));
}
