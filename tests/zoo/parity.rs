//! Every model on every backend: the same weights and inputs give the same forward pass and
//! the same gradients (one training step's worth) on flex (zoo's kernels), ndarray and wgpu
//! (Mesa's lavapipe in CI) as on flex, within 1e-4 of the values' scale.
//!
//! ndarray and wgpu are compared where the build has them (`--features ndarray`, `wgpu`, as
//! `.ci/run` builds); without a Vulkan driver the wgpu half says so and passes, unless
//! `ZOO_REQUIRE_WGPU=1`.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use zoo_models::*;

use crate::common::{real_batch, rng_lock};

/// Deterministic values in `[-1, 1)` (not a backend's generator: each has its own).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = zoo_data::rng::splitmix_step(state);
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn floats<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values(shape.iter().product(), seed), shape), device)
}

// Used by the ndarray and wgpu tests only.
#[cfg_attr(not(any(feature = "ndarray", feature = "wgpu")), allow(dead_code))]
fn ids(shape: [usize; 2], vocab: usize, device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> =
        values(shape[0] * shape[1], 5).iter().map(|v| ((v + 1.0) * 0.5 * vocab as f32) as i64).collect();
    Tensor::from_data(TensorData::new(ids.iter().map(|&i| i.min(vocab as i64 - 1)).collect::<Vec<_>>(), shape), device)
}

fn read<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Every parameter's gradient, in visiting order, flattened.
struct AllGrads<'a> {
    grads: &'a GradientsParams,
    out: Vec<f32>,
}

impl ModuleVisitor for AllGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            self.out.extend(read(grad));
        }
    }
}

/// The forward output and every gradient of a copy of `reference` on `device`, under
/// `forward` (which builds its inputs on the device it is given).
fn output_and_grads<M: Module + Clone>(
    reference: &M,
    init: &dyn Fn(&Device) -> M,
    forward: &dyn Fn(&M, &Device) -> Tensor<2>,
    device: &Device,
) -> (Vec<f32>, Vec<f32>) {
    let device = device.clone().autodiff();
    let model = init(&device).load_record(reference.clone().into_record());
    let output = forward(&model, &device);
    // A loss that reaches every output with its own weight.
    let [rows, cols] = output.dims();
    let loss = (output.clone() * floats([rows, cols], 99, &device)).sum();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut all = AllGrads { grads: &grads, out: Vec::new() };
    model.visit(&mut all);
    (read(output), all.out)
}

/// A model made by `init` on flex with its weights drawn: Burn draws a parameter's initial
/// values when it is first read, so clones of a model not yet read would each draw their own.
fn drawn<M: Module>(init: &dyn Fn(&Device) -> M) -> M {
    // Seeded: how closely two backends agree depends a little on the weights (a batch-norm
    // channel of small variance magnifies rounding), so every run compares the same ones.
    let flex = Device::flex();
    flex.seed(7);
    let model = init(&flex.autodiff());
    model.visit(&mut Draw);
    model
}

/// Reads every parameter once (see [`drawn`]).
struct Draw;

impl ModuleVisitor for Draw {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        drop(param.val());
    }
}

/// `a` and `b` agree within `tolerance` of the values' scale (their largest magnitude).
fn assert_close(what: &str, a: &[f32], b: &[f32], tolerance: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = a.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    let (worst, at) = a
        .iter()
        .zip(b)
        .enumerate()
        .map(|(k, (x, y))| ((x - y).abs(), k))
        .fold((0.0, 0), |m, d| if d.0 > m.0 { d } else { m });
    eprintln!("parity {what}: {:.1e} of the scale", worst / scale);
    assert!(worst <= tolerance * scale, "{what}: largest difference {worst} at {at} (scale {scale})");
}

/// Gradients sum many products (a transformer's through softmax and layer norm), in another
/// order on each backend: they agree within this share of their scale.
const GRADIENT_TOLERANCE: f32 = 1e-3;

/// Compares one model on `other` with flex.
fn same_on<M: Module + Clone>(
    name: &str,
    other: (&str, &Device),
    init: &dyn Fn(&Device) -> M,
    forward: &dyn Fn(&M, &Device) -> Tensor<2>,
) {
    let started = std::time::Instant::now();
    let reference = drawn(init);
    let (out_flex, grad_flex) = output_and_grads(&reference, init, forward, &Device::flex());
    let (out_other, grad_other) = output_and_grads(&reference, init, forward, other.1);
    eprintln!("parity {name} on {}: {:.1} s", other.0, started.elapsed().as_secs_f64());
    assert!(!grad_flex.is_empty(), "{name}: no gradient");
    assert_close(&format!("{name} forward, {} vs flex", other.0), &out_other, &out_flex, 1e-4);
    assert_close(&format!("{name} gradients, {} vs flex", other.0), &grad_other, &grad_flex, GRADIENT_TOLERANCE);
}

/// Every model against flex on `device`.
// Used by the ndarray and wgpu tests only.
#[cfg_attr(not(any(feature = "ndarray", feature = "wgpu")), allow(dead_code))]
fn every_model_on(backend: &str, device: &Device) {
    let _rng = rng_lock();
    let other = (backend, device);
    let images = |d: &Device| real_batch(4, d).0;
    same_on("mlp", other, &|d| MlpConfig::new().with_dropout(0.0).init(d), &|m, d| m.forward(images(d)));
    same_on("cnn", other, &|d| CnnConfig::new().init(d), &|m, d| m.forward(images(d)));
    same_on("rnn", other, &|d| RnnConfig::new().init(d), &|m, d| m.forward(images(d)));
    same_on(
        "resnet",
        other,
        &|d| ResNetConfig::new().with_width(8).with_blocks(vec![1, 1]).with_batch_norm(true).init(d),
        &|m, d| m.forward(images(d)),
    );
    for kind in [AutoencoderKind::Dense, AutoencoderKind::Conv] {
        same_on(
            &format!("autoencoder {kind:?}"),
            other,
            &|d| AutoencoderConfig::new().with_kind(kind).init(d),
            &|m, d| m.forward(images(d)).flatten(1, 3),
        );
    }
    same_on("vae", other, &|d| VaeConfig::new().init(d), &|m, d| {
        let out = m.forward(images(d), floats([4, 2], 3, d));
        Tensor::cat(vec![out.logits.flatten(1, 3), out.mean, out.log_var], 1)
    });
    same_on("gan generator", other, &|d| GeneratorConfig::new().init(d), &|m, d| {
        m.forward(floats([4, 100], 4, d)).flatten(1, 3)
    });
    same_on("gan discriminator", other, &|d| DiscriminatorConfig::new().with_dropout(0.0).init(d), &|m, d| {
        m.forward(images(d)).unsqueeze_dim(1)
    });
    same_on("multitask", other, &|d| MultiTaskConfig::new().with_stages(vec![8, 16]).init(d), &|m, d| {
        let canvases = floats([2, 1, 64, 64], 6, d).abs();
        let out = m.forward(canvases);
        Tensor::cat(vec![out.logits, out.boxes], 1)
    });
    same_on("crossmodal", other, &|d| CrossModalConfig::new().with_vocab(40).init(d), &|m, d| {
        m.forward(images(d), ids([4, 12], 40, d)).unsqueeze_dim(1)
    });
    same_on("lstm forecaster", other, &|d| LstmForecasterConfig::new().init(d), &|m, d| {
        m.forward(floats([6, 50], 8, d)).unsqueeze_dim(1)
    });
    same_on("char-lstm", other, &|d| CharLstmConfig::new(30).with_hidden(32).with_dropout(0.0).init(d), &|m, d| {
        m.forward(ids([2, 8], 30, d)).flatten(0, 1)
    });
    same_on("gpt", other, &|d| CharTransformerConfig::new(30).with_dropout(0.0).init(d), &|m, d| {
        m.forward(ids([2, 8], 30, d)).flatten(0, 1)
    });
    same_on("attention classifier", other, &|d| TextClassifierConfig::new(50, 3).with_dropout(0.0).init(d), &|m, d| {
        let tokens = ids([3, 20], 50, d);
        let padding = Tensor::<2, Int>::zeros([3, 20], d).equal_elem(1);
        m.forward(tokens, padding).0
    });
    same_on("dqn network", other, &|d| QNetConfig::new().init(d), &|m, d| m.forward(floats([5, 4], 9, d)));
    same_on("transfer", other, &|d| TransferConfig::new().with_num_classes(10).with_hidden(32).init(d), &|m, d| {
        m.forward(images(d))
    });
}

#[cfg(feature = "ndarray")]
#[test]
fn every_model_agrees_on_ndarray_and_flex() {
    #[allow(deprecated)]
    every_model_on("ndarray", &Device::ndarray());
}

#[cfg(feature = "wgpu")]
#[test]
fn every_model_agrees_on_wgpu_and_flex() {
    if let Some(device) = crate::wgpu::wgpu_device() {
        every_model_on("wgpu", &device);
    }
}

#[test]
fn a_model_compared_with_itself_agrees_and_a_changed_one_does_not() {
    // The comparison can fail: flex against flex agrees, a weight changed on one side does not.
    let _rng = rng_lock();
    let device = Device::flex();
    let init = |d: &Device| MlpConfig::new().with_dropout(0.0).init(d);
    let forward = |m: &Mlp, d: &Device| m.forward(real_batch(8, d).0);
    same_on("mlp", ("flex", &device), &init, &forward);
    let reference = drawn(&init);
    let (a, _) = output_and_grads(&reference, &init, &forward, &device);
    let changed = |m: &Mlp, d: &Device| m.forward(real_batch(8, d).0 * 1.001);
    let (b, _) = output_and_grads(&reference, &init, &changed, &device);
    assert!(std::panic::catch_unwind(|| assert_close("changed", &a, &b, 1e-4)).is_err());
}
