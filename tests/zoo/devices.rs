//! `zoo train --devices`: data-parallel training on two devices of this CPU machine (Burn's flex
//! and ndarray backends, two devices of the dispatch backend) against one device with the same
//! batch, through the binary. Built only with `--features ndarray` (CI's build has it).
#![cfg(feature = "ndarray")]

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{assert_clean_error, stderr, stdout, zoo};

/// A seeded 2-epoch `model` run on `devices` (`--device cpu` or `--devices cpu,ndarray`), with
/// dropout off so that both runs draw nothing at random after the initialisation.
fn train(model: &str, run: &Path, device_flag: &str, devices: &str, extra: &[&str]) {
    let mut args = vec![
        "train",
        model,
        device_flag,
        devices,
        "--limit",
        "1200",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--seed",
        "5",
        "--run-dir",
        run.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = zoo(&args);
    assert!(out.status.success(), "train {model} on {devices} failed: {}{}", stdout(&out), stderr(&out));
}

/// The loss and accuracy rows of `metrics.csv`: `(epoch, split, metric) -> value`.
fn learning_curves(run: &Path) -> BTreeMap<(String, String, String), f64> {
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let key = (fields[0].to_string(), fields[1].to_string(), fields[2].to_string());
            ["Loss", "Accuracy"].contains(&fields[2]).then(|| (key, fields[3].parse().unwrap()))
        })
        .collect()
}

/// Two devices, each taking half of every batch of 64, follow the trajectory of one device
/// taking the whole batch: the summed, share-weighted gradients are the whole batch's. The
/// backends round differently (flex's kernels against ndarray's), so the figures agree to
/// a tolerance, not bit for bit.
fn same_trajectory(model: &str, extra: &[&str], tolerance: f64) {
    let temp = tempfile::tempdir().unwrap();
    let (one, two) = (temp.path().join("one"), temp.path().join("two"));
    train(model, &one, "--device", "cpu", extra);
    train(model, &two, "--devices", "cpu,ndarray", extra);
    let (one_curves, two_curves) = (learning_curves(&one), learning_curves(&two));
    assert_eq!(one_curves.len(), 8, "loss and accuracy, train and valid, 2 epochs: {one_curves:?}");
    assert_eq!(one_curves.keys().collect::<Vec<_>>(), two_curves.keys().collect::<Vec<_>>());
    for (key, a) in &one_curves {
        let b = two_curves[key];
        assert!((a - b).abs() <= tolerance * a.abs().max(1.0), "{key:?}: one device {a}, two devices {b}");
    }
    // Training did something, so agreeing means something.
    let loss = |epoch: &str| one_curves[&(epoch.to_string(), "train".to_string(), "Loss".to_string())];
    assert!(loss("2") < loss("1"), "the loss falls: {one_curves:?}");

    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(two.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["device"], "cpu,ndarray");
    let adapter = info["adapter"].as_str().unwrap();
    assert!(adapter.starts_with("cpu: ") && adapter.contains(" + ndarray: "), "{adapter}");
}

#[test]
fn mlp_on_two_devices_follows_one_device() {
    same_trajectory("mlp", &["--set", "model.dropout=0"], 1e-4);
}

#[test]
fn cnn_on_two_devices_follows_one_device() {
    same_trajectory("cnn", &[], 1e-3);
}

#[test]
fn a_two_device_run_resumes_on_its_devices() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("run");
    train("mlp", &run, "--devices", "cpu,ndarray", &[]);
    let out = zoo(&["train", "mlp", "--resume", run.to_str().unwrap(), "--epochs", "3"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("resuming on devices cpu,ndarray"), "{}", stderr(&out));
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.contains("3,valid,Accuracy,"), "{csv}");
}

#[test]
fn device_lists_that_cannot_work_are_clear_errors() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("run");
    let run = run.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["train", "mlp", "--devices", "cpu", "--run-dir", run], "needs two devices or more"),
        (&["train", "mlp", "--devices", "cpu,cpu", "--run-dir", run], "cpu is the same device as cpu"),
        (&["train", "mlp", "--devices", "cpu,tpu", "--run-dir", run], "unknown device `tpu`"),
        (
            &["train", "vae", "--devices", "cpu,ndarray", "--run-dir", run],
            "--devices does not apply to `zoo train vae`",
        ),
        (&["train", "resnet", "--devices", "cpu,ndarray", "--run-dir", run], "batch normalisation"),
    ];
    for (args, mentions) in cases {
        assert_clean_error(&zoo(args), 2, mentions);
    }
    assert!(!Path::new(run).join("model.bpk").exists(), "nothing trained");
}
