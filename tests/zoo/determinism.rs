//! The same seed, the same `metrics.csv`: every model trained twice through the binary on the
//! CPU backend gives identical figures, with zoo's kernels and without (`ZOO_KERNELS=off`).
//! Throughput and memory are left out: they measure the machine, not the model. Nor do the
//! figures depend on the number of threads.

use std::path::Path;
use std::process::Command;

use crate::common::stderr;

/// Each model with a run small enough for a test (seconds).
const TINY: &[(&str, &str)] = &[
    ("mlp", "--limit 300 --epochs 2"),
    ("cnn", "--limit 300 --epochs 1"),
    ("rnn", "--limit 300 --epochs 1"),
    ("resnet", "--limit 100 --epochs 1 --batch-size 32"),
    ("autoencoder", "--limit 300 --epochs 1"),
    ("vae", "--limit 300 --epochs 1"),
    // Without the moving average, whose standing statistics take 20 s at each epoch end.
    ("gan", "--limit 128 --epochs 1 --batch-size 64 --set average=null"),
    ("multitask", "--limit 128 --epochs 1"),
    ("crossmodal", "--limit 128 --epochs 1"),
    ("char-lstm", "--epochs 1 --batch-size 8 --set language.steps_per_epoch=3 --set language.valid_chars=2000"),
    ("gpt", "--epochs 1 --batch-size 8 --set language.steps_per_epoch=3 --set language.valid_chars=2000"),
    ("attention", "--limit 60 --epochs 1"),
    ("lstm", "--epochs 1"),
    ("dqn", "--steps 1500"),
    ("qlearning", "--episodes 40"),
];

/// `metrics.csv` of a fresh run of `model`, less the rows that time the machine.
fn figures(model: &str, args: &str, run: &Path, kernels: &str) -> String {
    figures_on_threads(model, args, run, kernels, None)
}

/// [`figures`] with the thread pool at `threads` (`RAYON_NUM_THREADS`).
fn figures_on_threads(model: &str, args: &str, run: &Path, kernels: &str, threads: Option<usize>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoo"));
    if let Some(threads) = threads {
        command.env("RAYON_NUM_THREADS", threads.to_string());
    }
    command.args(["train", model, "--device", "cpu", "--run-dir", run.to_str().unwrap()]);
    command.args(args.split_whitespace()).env_remove("ZOO_DEVICE").env("ZOO_KERNELS", kernels);
    let out = command.output().unwrap();
    assert!(out.status.success(), "{model}: {}", stderr(&out));
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    csv.lines()
        .filter(|row| !row.contains("/s,") && !row.contains("Memory MB") && !row.contains("Seconds"))
        .map(|row| format!("{row}\n"))
        .collect()
}

#[test]
fn every_model_trains_to_the_same_figures_from_the_same_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut differing = Vec::new();
    for (model, args) in TINY {
        for kernels in ["on", "off"] {
            let first = figures(model, args, &tmp.path().join(format!("{model}-{kernels}-1")), kernels);
            let second = figures(model, args, &tmp.path().join(format!("{model}-{kernels}-2")), kernels);
            assert!(first.lines().count() > 2, "{model}: {first}");
            if first != second {
                differing.push(format!("{model} (kernels {kernels}):\n{first}---\n{second}"));
            }
        }
    }
    assert!(differing.is_empty(), "not reproducible:\n{}", differing.join("\n"));
}

#[test]
fn a_convolutional_run_gives_the_same_figures_on_one_thread_as_on_several() {
    // zoo's convolution sums a weight gradient in a fixed number of parts, whatever the pool.
    let tmp = tempfile::tempdir().unwrap();
    let args = "--limit 300 --epochs 1";
    let one = figures_on_threads("cnn", args, &tmp.path().join("one"), "on", Some(1));
    let several = figures_on_threads("cnn", args, &tmp.path().join("several"), "on", Some(3));
    assert_eq!(one, several);
}
