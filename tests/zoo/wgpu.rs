//! One forward and backward step of each model on wgpu, checked against the CPU backend.
//!
//! Built only with `--features wgpu`. Without a Vulkan driver the tests say so and pass,
//! except where `ZOO_REQUIRE_WGPU=1` (set by `.ci/run`, which installs Mesa's lavapipe):
//! there a missing adapter is a failure.
#![cfg(feature = "wgpu")]

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use zoo_train::classifier::ImageNet;
use zoo_train::recipes::{CnnRecipe, ImageRecipe, MlpRecipe};

use crate::common::real_batch;

/// Loss and the gradient of the first layer's weights after one backward pass.
fn step<R: ImageRecipe>(net: R::Net, device: &Device) -> (f32, Vec<f32>, Vec<f32>) {
    let (images, targets) = real_batch(16, device);
    let logits = net.logits(images);
    let loss = CrossEntropyLossConfig::new().init(device).forward(logits.clone(), targets);
    let grads = loss.backward();
    let mut first_grad = None;
    // The gradient of the first parameter visited, whatever the model calls it.
    net.visit(&mut GradGrab { grads: &grads, out: &mut first_grad });
    let logits = logits.into_data().convert::<f32>().into_vec::<f32>().unwrap();
    (loss.into_scalar(), logits, first_grad.expect("a parameter with a gradient"))
}

struct GradGrab<'a> {
    grads: &'a burn::tensor::Gradients,
    out: &'a mut Option<Vec<f32>>,
}

impl burn::module::ModuleVisitor for GradGrab<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        if self.out.is_none() {
            if let Some(grad) = param.val().grad(self.grads) {
                *self.out = Some(grad.into_data().convert::<f32>().into_vec::<f32>().unwrap());
            }
        }
    }
}

/// The software wgpu device, or `None` (with a message) where no adapter exists.
fn wgpu_device() -> Option<Device> {
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

fn matches_cpu<R: ImageRecipe>() {
    let Some(gpu) = wgpu_device() else { return };
    let cpu = Device::flex();
    let mut recipe = R::default_recipe();
    recipe.set_num_classes(10);
    cpu.seed(11);
    // The same weights on both devices: initialise on the CPU, copy to wgpu.
    let net_cpu = recipe.init(&cpu.clone().autodiff());
    let net_gpu = net_cpu.clone().to_device(&gpu.clone().autodiff());
    let (loss_c, logits_c, grad_c) = step::<R>(net_cpu, &cpu.autodiff());
    let (loss_g, logits_g, grad_g) = step::<R>(net_gpu, &gpu.autodiff());
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
    matches_cpu::<MlpRecipe>();
}

#[test]
fn wgpu_cnn_matches_cpu() {
    matches_cpu::<CnnRecipe>();
}
