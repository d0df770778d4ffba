//! Weights in and out (burn-store): zoo's `cnn` architecture trained by PyTorch
//! (`benches/make_weight_fixtures.py`) loads from `.pth`, from a checkpoint's `state_dict` and
//! from `.safetensors` and gives PyTorch's logits; `zoo export` then `--init-from` gives the same
//! weights back; every kind of mismatch is one clear error.

use burn::prelude::*;
use zoo_models::{Cnn, CnnConfig, MlpConfig};
use zoo_train::weights::{Names, export_safetensors, import};

use crate::common::{assert_clean_error, fixture, rng_lock, stderr, zoo};

fn narrow_cnn(device: &Device) -> Cnn {
    CnnConfig::new().with_conv1_channels(8).with_conv2_channels(16).with_hidden(32).init(device)
}

/// The first `n` test images of the extract, `[n, 1, 28, 28]`.
fn test_images(n: usize, device: &Device) -> Tensor<4> {
    let set = zoo_data::embedded::mnist_extract(zoo_data::Split::Test).unwrap();
    let pixels: Vec<f32> = set.images[..n * 784].iter().map(|&p| f32::from(p) / 255.0).collect();
    Tensor::from_data(TensorData::new(pixels, [n, 1, 28, 28]), device)
}

/// A fixture's JSON and its `logits` (rows flattened), as PyTorch computed them.
fn pytorch_fixture(name: &str) -> (serde_json::Value, Vec<f32>) {
    let about: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(&format!("weights/{name}"))).unwrap()).unwrap();
    let logits = about["logits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().clone())
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    (about, logits)
}

/// zoo's logits from the weights in `file` against PyTorch's, each within `tolerance`.
fn assert_logits(file: &str, logits: Tensor<2>, expected: &[f32], tolerance: f32) {
    let logits: Vec<f32> = logits.into_data().try_to_vec().unwrap();
    assert_eq!(logits.len(), expected.len(), "{file}");
    for (got, want) in logits.iter().zip(expected) {
        assert!((got - want).abs() < tolerance, "{file}: {got} vs PyTorch's {want}");
    }
}

#[test]
fn pytorch_weights_give_pytorchs_logits() {
    let _rng = rng_lock();
    let device = Device::flex();
    let (_, expected) = pytorch_fixture("cnn-logits.json");
    for file in ["cnn.pth", "cnn-checkpoint.pth", "cnn.safetensors"] {
        let net = import(narrow_cnn(&device), &fixture(&format!("weights/{file}"))).unwrap();
        assert_logits(file, net.forward(test_images(8, &device)), &expected, 1e-5);
    }
}

#[test]
fn export_then_import_gives_the_same_weights() {
    let _rng = rng_lock();
    let device = Device::flex();
    let temp = tempfile::tempdir().unwrap();
    let net = import(narrow_cnn(&device), &fixture("weights/cnn.safetensors")).unwrap();
    let path = temp.path().join("out.safetensors");
    export_safetensors(&net, &path, Names::Pytorch).unwrap();
    let back = import(narrow_cnn(&device), &path).unwrap();
    // The same values in every parameter (the records differ in their parameter ids only).
    let values = |m: &Cnn| m.forward(test_images(8, &device)).into_data();
    assert_eq!(values(&net), values(&back));
    // PyTorch's layout: a linear weight is [out, in].
    let header = safetensors_header(&path);
    assert_eq!(header["hidden.weight"]["shape"], serde_json::json!([32, 400]), "{header}");
    assert_eq!(header["conv1.weight"]["shape"], serde_json::json!([8, 1, 3, 3]));
    // zoo's own names and layouts: [in, out].
    export_safetensors(&net, &path, Names::Burn).unwrap();
    assert_eq!(safetensors_header(&path)["hidden.weight"]["shape"], serde_json::json!([400, 32]));
}

/// The JSON header of a safetensors file: each tensor's dtype, shape and offsets by name.
fn safetensors_header(path: &std::path::Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    serde_json::from_slice(&bytes[8..8 + len]).unwrap()
}

#[test]
fn every_mismatch_is_one_clear_error_and_nothing_is_loaded() {
    let _rng = rng_lock();
    let device = Device::flex();
    let wide = CnnConfig::new().init(&device);
    let error = import(wide, &fixture("weights/cnn.pth")).unwrap_err().to_string();
    assert!(
        error.contains("wrong shape or type: conv1.weight is [8, 1, 3, 3] in the file, [32, 1, 3, 3] in the model"),
        "{error}"
    );
    let mlp = MlpConfig::new().init(&device);
    let error = import(mlp, &fixture("weights/cnn.safetensors")).unwrap_err().to_string();
    assert!(
        error.contains("unexpected conv1.bias") && error.contains("hidden.weight is [400, 32] in the file"),
        "{error}"
    );
    let error = import(narrow_cnn(&device), &fixture("weights/cnn-logits.json")).unwrap_err().to_string();
    assert!(error.contains("unknown weights format"), "{error}");
    let error = import(narrow_cnn(&device), &fixture("weights/absent.pth")).unwrap_err().to_string();
    assert!(error.contains("no such weights file"), "{error}");
}

#[test]
fn train_from_pytorch_weights_and_export_from_the_command_line() {
    let temp = tempfile::tempdir().unwrap();
    let recipe = temp.path().join("narrow.json");
    std::fs::write(
        &recipe,
        r#"{"model": {"conv1_channels": 8, "conv2_channels": 16, "hidden": 32}, "fit": {"epochs": 1, "limit": 500}}"#,
    )
    .unwrap();
    let run = temp.path().join("run");
    let pth = fixture("weights/cnn.pth");
    let out = zoo(&[
        "train",
        "cnn",
        "--config",
        recipe.to_str().unwrap(),
        "--init-from",
        pth.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = temp.path().join("cnn.safetensors");
    let out =
        zoo(&["export", "cnn", "--run", run.to_str().unwrap(), "--out", exported.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(safetensors_header(&exported)["output.weight"].is_object());
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(temp.path().join("cnn.safetensors.json")).unwrap()).unwrap();
    assert_eq!(sidecar["model"]["hidden"], 32);
    // The default-width cnn does not fit the narrow weights: one line, nothing trained.
    let out = zoo(&[
        "train",
        "cnn",
        "--init-from",
        pth.to_str().unwrap(),
        "--limit",
        "100",
        "--run-dir",
        temp.path().join("wide").to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert_clean_error(&out, 2, "does not fit the model");
    let out = zoo(&["train", "vae", "--init-from", pth.to_str().unwrap(), "--device", "cpu"]);
    assert_clean_error(&out, 2, "--init-from does not apply to `zoo train vae`");
}

/// `[2, 3, 32, 32]` of `sin(0.1 i)`: the VGG fixture's input.
fn sine_input(device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..2 * 3 * 32 * 32).map(|i| (i as f32 * 0.1).sin()).collect();
    Tensor::from_data(TensorData::new(values, [2, 3, 32, 32]), device)
}

#[test]
fn a_vgg16_with_torchvisions_names_loads_unchanged() {
    let _rng = rng_lock();
    let device = Device::flex();
    let (about, expected) = pytorch_fixture("vgg16-narrow-logits.json");
    let keys = about["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k == "features.28.weight") && keys.iter().any(|k| k == "classifier.6.bias"));
    let config = zoo_models::Vgg16Config::new().with_width(1.0 / 32.0).with_num_classes(10);
    for file in ["vgg16-narrow.pth", "vgg16-narrow.safetensors"] {
        let net = import(config.init(&device), &fixture(&format!("weights/{file}"))).unwrap();
        assert_logits(file, net.valid().forward(sine_input(&device)), &expected, 1e-4);
    }
}

#[test]
fn transfer_from_a_vgg16_weights_file() {
    let temp = tempfile::tempdir().unwrap();
    let recipe = temp.path().join("vgg.json");
    std::fs::write(
        &recipe,
        r#"{"model": {"backbone": {"Vgg16": {"num_classes": 10, "channels": 3, "width": 0.03125, "input_side": 32}}, "hidden": 16},
            "fit": {"epochs": 1, "limit": 300}}"#,
    )
    .unwrap();
    let run = temp.path().join("run");
    let file = fixture("weights/vgg16-narrow.pth");
    let out = zoo(&[
        "train",
        "transfer",
        "--from",
        file.to_str().unwrap(),
        "--config",
        recipe.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = zoo(&["eval", "transfer", "--run", run.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The cnn's weights do not fit a VGG backbone: one line naming the keys.
    let out = zoo(&[
        "train",
        "transfer",
        "--from",
        fixture("weights/cnn.pth").to_str().unwrap(),
        "--config",
        recipe.to_str().unwrap(),
        "--run-dir",
        temp.path().join("bad").to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert_clean_error(&out, 2, "does not fit the model (missing classifier.0.bias");
}
