//! Training throughput of `mlp` and `cnn`: samples per second of full optimiser steps
//! (forward, cross-entropy, backward, Adam) on every CPU backend compiled in, at batch sizes
//! 64 and 256, on real MNIST images; then the same figures from PyTorch, side by side.
//!
//! `cargo bench --features ndarray --bench throughput` (seconds per case: `ZOO_BENCH_SECS`,
//! default 8; PyTorch: `python3 benches/pytorch_baseline.py`, run by this bench when torch is
//! installed).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use zoo_data::{Split, embedded};
use zoo_train::classifier::{Classifier, ImageNet};
use zoo_train::recipes::{CnnRecipe, ImageRecipe, MlpRecipe};

fn devices() -> Vec<(&'static str, Device)> {
    #[allow(unused_mut)]
    let mut list = vec![("flex", Device::flex())];
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    list.push(("ndarray", Device::ndarray()));
    list
}

/// Samples per second of `R` at `batch` on `device`, over about `budget`.
fn measure<R: ImageRecipe>(device: &Device, batch: usize, budget: Duration) -> f64 {
    let device = device.clone().autodiff();
    let set = embedded::mnist_extract(Split::Train).expect("embedded extract");
    let pixels: Vec<f32> = set.images[..batch * 784].iter().map(|&p| f32::from(p) / 255.0).collect();
    let labels: Vec<i64> = set.labels[..batch].iter().map(|&l| i64::from(l)).collect();
    let images = Tensor::<4>::from_data(TensorData::new(pixels, [batch, 1, 28, 28]), &device);
    let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &device);
    let recipe = R::default_recipe();
    let mut model = Classifier::new(recipe.init(&device));
    let mut optim = recipe.optimizer().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut step = |model: Classifier<R::Net>| {
        let loss = loss_fn.forward(model.net.logits(images.clone()), targets.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(1e-3, model, grads);
        // Reading the loss waits for the step to finish on lazy backends.
        let _: f32 = loss.into_scalar();
        model
    };
    for _ in 0..3 {
        model = step(model);
    }
    let (started, mut steps) = (Instant::now(), 0usize);
    while started.elapsed() < budget || steps < 3 {
        model = step(model);
        steps += 1;
    }
    (steps * batch) as f64 / started.elapsed().as_secs_f64()
}

/// PyTorch's figures, `model,batch -> samples/s`, or why there are none.
fn pytorch(secs: f64) -> Result<BTreeMap<(String, usize), f64>, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pytorch_baseline.py");
    let python = std::env::var("ZOO_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(&python)
        .args([script, "--seconds", &secs.to_string()])
        .output()
        .map_err(|e| format!("{python} not found ({e})"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("").to_string());
    }
    let mut figures = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split(',').collect();
        if let [model, batch, rate] = fields[..] {
            if let (Ok(batch), Ok(rate)) = (batch.parse(), rate.parse()) {
                figures.insert((model.to_string(), batch), rate);
            }
        }
    }
    Ok(figures)
}

/// Decoding the full MNIST training set and one epoch of batches through zoo's loader.
fn data_pipeline() {
    let dir = std::env::var("ZOO_MNIST_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/mnist").to_string());
    let started = Instant::now();
    let set = match zoo_data::load_dir(std::path::Path::new(&dir), Split::Train) {
        Ok(set) => set,
        Err(e) => return println!("data pipeline: skipped ({e}; set ZOO_MNIST_DIR)"),
    };
    let decode = started.elapsed();
    let images = set.len();
    let device = Device::flex();
    let loader = zoo_train::loader::ImageLoader::new(
        std::sync::Arc::new(set),
        (0..images as u32).collect(),
        64,
        Some(1),
        &device,
    );
    let started = Instant::now();
    let batches = burn::data::dataloader::DataLoader::iter(&loader).count();
    let epoch = started.elapsed();
    println!(
        "data pipeline: {images} images decoded (gzip IDX) in {:.0} ms; one shuffled epoch of {batches} batches of 64 to tensors in {:.0} ms",
        decode.as_secs_f64() * 1e3,
        epoch.as_secs_f64() * 1e3
    );
}

fn main() {
    data_pipeline();
    let secs: f64 = std::env::var("ZOO_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(8.0);
    let budget = Duration::from_secs_f64(secs);
    let torch = pytorch(secs);
    if let Err(why) = &torch {
        println!("PyTorch baseline unavailable: {why}");
        println!("  (install it with `pip install torch` to see the side-by-side ratio)");
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("training throughput, samples/s of full Adam steps, {secs} s per case, {threads} cores");
    println!("{:<6} {:>5} {:<8} {:>10} {:>10} {:>7}", "model", "batch", "backend", "zoo", "pytorch", "ratio");
    for (model, run) in [
        ("mlp", measure::<MlpRecipe> as fn(&Device, usize, Duration) -> f64),
        ("cnn", measure::<CnnRecipe>),
    ] {
        for batch in [64, 256] {
            for (backend, device) in devices() {
                let rate = run(&device, batch, budget);
                let reference = torch.as_ref().ok().and_then(|t| t.get(&(model.to_string(), batch)).copied());
                let (torch_text, ratio) = match reference {
                    Some(r) => (format!("{r:.0}"), format!("{:.2}x", rate / r)),
                    None => ("-".to_string(), "-".to_string()),
                };
                println!("{model:<6} {batch:>5} {backend:<8} {rate:>10.0} {torch_text:>10} {ratio:>7}");
            }
        }
    }
}
