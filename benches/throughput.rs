//! Training throughput of every trained network against PyTorch: samples per second of full
//! optimiser steps (forward, loss, backward, Adam) at the batch sizes of the default recipes, on
//! every CPU backend compiled in, with the peak memory of each case; PyTorch's figures for the
//! same networks and steps (`benches/pytorch_baseline.py`) beside them. A character model's
//! sample is one window of text (64 characters for `char-lstm`, 128 for `gpt`).
//!
//! The header says where the figures were measured: the CPU, the instructions `gemm` runs,
//! whether zoo's kernels are on (`ZOO_KERNELS=off`), the threads, and the machine's peak FP32
//! rate (`benches/peak.rs`). Each row gives the FLOPs of its step (forward and backward
//! products of every dense, convolution and attention layer, as PyTorch's `FlopCounterMode`
//! counts them from the layer shapes) and the share of that peak each side reaches.
//!
//! `cargo bench --bench throughput [--features ndarray]`. Each case runs in a fresh process (this
//! bench re-runs itself with `--case MODEL BATCH BACKEND`), so its peak RSS is its own.
//! Environment: `ZOO_BENCH_SECS` seconds per case (default 8), `ZOO_BENCH_ONLY=cnn,lstm` a subset
//! of models, `ZOO_PYTHON` the Python that has torch, `ZOO_MNIST_DIR` the full MNIST for the
//! data-pipeline line, `ZOO_BENCH_BACKENDS=cuda,wgpu` the backends (a GPU build; each step ends
//! by reading its loss, so a GPU's queue is drained every step) and `ZOO_BENCH_TORCH_DEVICE=cuda`
//! PyTorch's (`benches/gpu.sh` sets them).

#[path = "peak.rs"]
mod peak;

use std::process::Command;
use std::time::{Duration, Instant};

use burn::nn::loss::{CrossEntropyLossConfig, MseLoss};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use zoo_data::{Split, embedded};
use zoo_train::classifier::ClassifierRecipe;
use zoo_train::classifier::{Classifier, ImageNet};
use zoo_train::crossmodal::CrossModalRecipe;
use zoo_train::forecast::LstmRecipe;
use zoo_train::generative::gan::GanRecipe;
use zoo_train::generative::vae::{VaeRecipe, elbo_terms};
use zoo_train::image_training::{ImageRecipe, ImageTrainer};
use zoo_train::language::{CharLstmRecipe, Corpus, GptRecipe, LanguageRecipe};
use zoo_train::loader::{ImageBatch, ImageLoader};
use zoo_train::multitask::MultiTaskRecipe;
use zoo_train::recipes::{CnnRecipe, MlpRecipe, Recipe, ResNetRecipe};

/// The cases of issue 7, and the default recipes of the models added since: model and batch
/// size (`char-lstm-512`: the character LSTM at 2 x 512).
const CASES: [(&str, usize); 13] = [
    ("mlp", 64),
    ("mlp", 256),
    ("cnn", 64),
    ("cnn", 256),
    ("resnet", 64),
    ("lstm", 64),
    ("vae", 128),
    ("gan", 256),
    ("char-lstm", 128),
    ("char-lstm-512", 128),
    ("gpt", 32),
    ("multitask", 64),
    ("crossmodal", 64),
];

/// The forecaster's window (item 9: 50 past values).
const WINDOW: usize = 50;

fn device(backend: &str) -> Device {
    match backend {
        #[cfg(feature = "ndarray")]
        #[allow(deprecated)]
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(DeviceKind::DefaultDevice),
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(0),
        _ => Device::flex(),
    }
}

/// The backends measured: `ZOO_BENCH_BACKENDS=cuda,wgpu` (as compiled in), else every CPU
/// backend compiled in.
fn backends() -> Vec<String> {
    if let Ok(list) = std::env::var("ZOO_BENCH_BACKENDS") {
        return list.split(',').map(|b| b.trim().to_string()).filter(|b| !b.is_empty()).collect();
    }
    #[allow(unused_mut)]
    let mut list = vec!["flex".to_string()];
    #[cfg(feature = "ndarray")]
    list.push("ndarray".to_string());
    list
}

/// Where PyTorch's side runs: `ZOO_BENCH_TORCH_DEVICE=cuda` for a GPU table, else the CPU.
fn torch_device() -> String {
    std::env::var("ZOO_BENCH_TORCH_DEVICE").unwrap_or_else(|_| "cpu".to_string())
}

/// Where the measured steps spent their time.
#[derive(Default)]
struct Phases {
    forward: Duration,
    backward: Duration,
    update: Duration,
}

/// One full training step of a model, repeated by [`measure`].
trait Step {
    fn run(&mut self, phases: &mut Phases);
}

/// A network with one loss and one Adam optimiser.
struct Single<M, L> {
    model: Option<M>,
    optimizer: ModuleOptimizer,
    loss: L,
}

impl<M: Module, L: FnMut(&M) -> Tensor<1>> Step for Single<M, L> {
    fn run(&mut self, phases: &mut Phases) {
        let model = self.model.take().expect("model");
        let started = Instant::now();
        let loss = (self.loss)(&model);
        // Reading the loss waits for the forward pass on lazy backends.
        let _: f32 = loss.clone().into_scalar();
        phases.forward += started.elapsed();
        let started = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        phases.backward += started.elapsed();
        let started = Instant::now();
        let model = self.optimizer.step(1e-3, model, grads);
        phases.update += started.elapsed();
        self.model = Some(model);
    }
}

/// An image trainer's own step (the GAN: one D and one G update; multitask, crossmodal);
/// timed only as a whole.
struct Whole<T> {
    trainer: T,
    batch: ImageBatch,
}

impl<T: ImageTrainer> Step for Whole<T> {
    fn run(&mut self, _phases: &mut Phases) {
        self.trainer.train_batch(self.batch.clone(), Some(&1e-4.into()));
    }
}

/// `batch` real MNIST images (`[batch, 1, 28, 28]`, pixels in `[0, 1]`) and their labels,
/// from the extract compiled into zoo.
fn mnist(batch: usize, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let set = embedded::mnist_extract(Split::Train).expect("embedded extract");
    let available = set.len();
    let repeat = |n: usize, len: usize| (0..n * len).map(move |i| i % (available * len));
    let pixels: Vec<f32> = repeat(batch, 784).map(|i| f32::from(set.images[i]) / 255.0).collect();
    let labels: Vec<i64> = repeat(batch, 1).map(|i| i64::from(set.labels[i])).collect();
    (
        Tensor::from_data(TensorData::new(pixels, [batch, 1, 28, 28]), device),
        Tensor::from_data(TensorData::new(labels, [batch]), device),
    )
}

fn classifier<R: ClassifierRecipe>(batch: usize, device: &Device) -> Box<dyn Step> {
    let device = &device.clone().autodiff();
    let (images, labels) = mnist(batch, device);
    let recipe = R::default_recipe();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    Box::new(Single {
        model: Some(Classifier::new(recipe.init(device))),
        optimizer: recipe.optimizer().init(),
        loss: move |model: &Classifier<R::Net>| loss_fn.forward(model.net.logits(images.clone()), labels.clone()),
    })
}

/// The step of `model` at `batch` on `device` (a plain device: each model trains on its
/// autodiff twin).
fn step(model: &str, batch: usize, device: &Device) -> Box<dyn Step> {
    device.seed(0);
    let train_device = device.clone().autodiff();
    match model {
        "mlp" => classifier::<MlpRecipe>(batch, device),
        "cnn" => classifier::<CnnRecipe>(batch, device),
        "resnet" => classifier::<ResNetRecipe>(batch, device),
        "lstm" => {
            // Item 9's forecaster on standard-normal windows (the step costs the same on any values).
            let recipe = LstmRecipe::default_recipe();
            let windows = Tensor::<2>::random([batch, WINDOW], Distribution::Normal(0.0, 1.0), &train_device);
            let targets = Tensor::<1>::random([batch], Distribution::Normal(0.0, 1.0), &train_device);
            Box::new(Single {
                model: Some(recipe.model.init(&train_device)),
                optimizer: recipe.optimizer.init(),
                loss: move |model: &zoo_models::LstmForecaster| {
                    MseLoss::new().forward(
                        model.forward(windows.clone()),
                        targets.clone(),
                        burn::nn::loss::Reduction::Mean,
                    )
                },
            })
        }
        "vae" => {
            let recipe = VaeRecipe::default_recipe();
            let (images, _) = mnist(batch, &train_device);
            Box::new(Single {
                model: Some(recipe.model.init(&train_device)),
                optimizer: recipe.optimizer.init(),
                loss: move |model: &zoo_models::Vae| {
                    let (reconstruction, kl) = elbo_terms(model, images.clone());
                    reconstruction + kl
                },
            })
        }
        "gan" => {
            let trainer = GanRecipe::default_recipe().trainer(device);
            let (images, targets) = mnist(batch, &train_device);
            Box::new(Whole { trainer, batch: ImageBatch::new(images, targets) })
        }
        "char-lstm" | "char-lstm-512" => {
            let mut recipe = CharLstmRecipe::default_recipe();
            if model == "char-lstm-512" {
                recipe.char_model.hidden = 512;
            }
            language(recipe, batch, &train_device)
        }
        "gpt" => language(GptRecipe::default_recipe(), batch, &train_device),
        "multitask" => {
            let recipe = MultiTaskRecipe::default_recipe();
            let digits = embedded::mnist_extract(Split::Train).expect("embedded extract");
            let canvases = recipe.canvas.canvases(&digits, Split::Train).expect("canvases");
            Box::new(Whole { trainer: recipe.trainer(device), batch: first_batch(canvases, batch, &train_device) })
        }
        "crossmodal" => {
            let (images, targets) = mnist(batch, &train_device);
            let trainer = CrossModalRecipe::default_recipe().trainer(device);
            Box::new(Whole { trainer, batch: ImageBatch::new(images, targets) })
        }
        other => panic!("unknown model {other}"),
    }
}

/// The first `batch` images of `set` as the loader batches them (with their boxes).
fn first_batch(set: zoo_data::ImageSet, batch: usize, device: &Device) -> ImageBatch {
    let indices = (0..batch.min(set.len()) as u32).collect();
    let loader = ImageLoader::new(std::sync::Arc::new(set), indices, batch, None, device);
    burn::data::dataloader::DataLoader::iter(&loader).next().expect("one batch").expect("a batch of canvases")
}

/// A character model's step on `batch` windows of Moby Dick (its recipe's context), with the
/// cross-entropy of every next character; each step starts from a fresh recurrent state.
fn language<R: LanguageRecipe + 'static>(mut recipe: R, batch: usize, device: &Device) -> Box<dyn Step> {
    use zoo_train::language::CharModel;
    let settings = recipe.language().clone();
    let corpus = Corpus::new(&settings, recipe.fit().valid_fraction, None).expect("the text");
    recipe.set_vocab(corpus.tokenizer.vocab_size());
    let context = settings.context;
    let text = &corpus.train;
    let window = |offset: usize| (0..batch * context).map(move |i| i64::from(corpus_id(text, i + offset)));
    let ids = |offset| Tensor::<2, Int>::from_data(TensorData::new(window(offset).collect(), [batch, context]), device);
    let (inputs, targets) = (ids(0), ids(1).reshape([batch * context]));
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    Box::new(Single {
        model: Some(recipe.init_language_model(device)),
        optimizer: recipe.optimizer().init(),
        loss: move |model: &R::Model| {
            let logits = model.logits(inputs.clone());
            let [b, t, vocab] = logits.dims();
            loss_fn.forward(logits.reshape([b * t, vocab]), targets.clone())
        },
    })
}

/// The `i`th id of the text, wrapping around.
fn corpus_id(ids: &[u32], i: usize) -> u32 {
    ids[i % ids.len()]
}

/// Runs one case in this process: prints `rate forward_ms backward_ms update_ms peak_rss_kb`.
fn run_case(model: &str, batch: usize, backend: &str, budget: Duration) {
    let mut step = step(model, batch, &device(backend));
    let mut phases = Phases::default();
    for _ in 0..3 {
        step.run(&mut phases);
    }
    let mut phases = Phases::default();
    let (started, mut steps) = (Instant::now(), 0usize);
    while started.elapsed() < budget || steps < 3 {
        step.run(&mut phases);
        steps += 1;
    }
    let rate = (steps * batch) as f64 / started.elapsed().as_secs_f64();
    let per_step = |d: Duration| d.as_secs_f64() * 1e3 / steps as f64;
    println!(
        "case {rate:.1} {:.2} {:.2} {:.2} {}",
        per_step(phases.forward),
        per_step(phases.backward),
        per_step(phases.update),
        peak_rss_kb()
    );
}

/// The peak resident set of this process, from `/proc/self/status` (0 where there is none).
fn peak_rss_kb() -> u64 {
    zoo_train::trainer::proc_kilobytes("/proc/self/status", "VmHWM:").map_or(0, |kb| kb as u64)
}

/// One case's figures, measured in a child process.
struct Figures {
    rate: f64,
    phases_ms: [f64; 3],
    rss_mb: f64,
}

/// A case gets this long before it is stopped (ndarray's convolution backward pass makes a
/// `gan` step take minutes).
fn case_limit(secs: f64) -> Duration {
    Duration::from_secs_f64(20.0 * secs + 30.0)
}

fn child(model: &str, batch: usize, backend: &str, secs: f64) -> Result<Figures, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut process = Command::new(exe)
        .args(["--case", model, &batch.to_string(), backend])
        .env("ZOO_BENCH_SECS", secs.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    while process.try_wait().map_err(|e| e.to_string())?.is_none() {
        if started.elapsed() > case_limit(secs) {
            let _ = process.kill();
            return Err(format!("stopped after {:.0} s (not even 3 steps)", case_limit(secs).as_secs_f64()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = process.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("case "))
        .ok_or_else(|| String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("no output").to_string())?;
    let v: Vec<f64> = line.split_whitespace().filter_map(|f| f.parse().ok()).collect();
    match v[..] {
        [rate, forward, backward, update, rss] => {
            Ok(Figures { rate, phases_ms: [forward, backward, update], rss_mb: rss / 1024.0 })
        }
        _ => Err(format!("unreadable case line {line:?}")),
    }
}

/// PyTorch's figures, `(model, batch) -> (samples/s, peak RSS MB)`, or why there are none.
fn pytorch(model: &str, batch: usize, secs: f64) -> Result<(f64, f64), String> {
    let out = python_baseline(&[
        "--seconds",
        &secs.to_string(),
        "--case",
        model,
        &batch.to_string(),
        "--device",
        &torch_device(),
    ])?;
    let fields: Vec<&str> = out.trim().split(',').collect();
    match fields[..] {
        [_, _, rate, rss] => Ok((rate.parse().map_err(|_| "bad rate")?, rss.parse().map_err(|_| "bad rss")?)),
        _ => Err(format!("unreadable line {out:?}")),
    }
}

/// The FLOPs of one training step of `model` at `batch` (forward and backward), as PyTorch's
/// `FlopCounterMode` counts them on the same network, or why there are none.
fn step_flops(model: &str, batch: usize) -> Result<f64, String> {
    let out = python_baseline(&["--flops", "--case", model, &batch.to_string()])?;
    let fields: Vec<&str> = out.trim().split(',').collect();
    match fields[..] {
        [_, _, flops] => flops.parse().map_err(|_| format!("bad FLOP count {flops:?}")),
        _ => Err(format!("unreadable line {out:?}")),
    }
}

/// Runs `benches/pytorch_baseline.py` with `args`; its standard output, or why it failed.
fn python_baseline(args: &[&str]) -> Result<String, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/pytorch_baseline.py");
    let python = std::env::var("ZOO_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(&python).arg(script).args(args).output().map_err(|e| format!("{python} not found ({e})"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().lines().last().unwrap_or("").to_string());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The micro-kernel `gemm` 0.19 picks at run time (zoo builds it with `x86-v4`).
fn gemm_instructions() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "AVX2+FMA";
        }
        "scalar"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "NEON"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
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
    let secs: f64 = std::env::var("ZOO_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(8.0);
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        let batch = args[i + 2].parse().expect("batch");
        zoo_train::cpu::tune();
        return run_case(&args[i + 1], batch, &args[i + 3], Duration::from_secs_f64(secs));
    }
    let only = std::env::var("ZOO_BENCH_ONLY").ok();
    let wanted = |model: &str| only.as_ref().is_none_or(|o| o.split(',').any(|m| m == model));
    let peak = peak::measure();
    println!("CPU: {} ({} threads)", zoo::device::cpu_model(), peak.threads);
    println!(
        "peak FP32 (benches/peak.rs): {:.1} GFLOP/s on {} threads, {:.1} on one ({})",
        peak.all_cores / 1e9,
        peak.threads,
        peak.one_core / 1e9,
        peak.instructions
    );
    println!(
        "kernels: gemm 0.19 {}; zoo's CPU kernels {}; Burn's and gemm's pools {} threads",
        gemm_instructions(),
        if zoo_models::kernels::enabled() { "on" } else { "off (ZOO_KERNELS=off)" },
        peak.threads
    );
    data_pipeline();
    println!("training throughput, samples/s of full Adam steps, {secs} s per case, one process per case");
    println!(
        "{:<13} {:>5} {:<8} {:>9} {:>9} {:>6}  {:>8} {:>6} {:>6}  {:>8} {:>8} {:>8}  {:>7} {:>7}",
        "model",
        "batch",
        "backend",
        "zoo",
        "pytorch",
        "ratio",
        "GFLOP",
        "zoo %",
        "pt %",
        "fwd ms",
        "bwd ms",
        "adam ms",
        "zoo MB",
        "pt MB"
    );
    let mut torch_missing: Option<String> = None;
    for (model, batch) in CASES.into_iter().filter(|(m, _)| wanted(m)) {
        let torch = pytorch(model, batch, secs);
        if let Err(why) = &torch {
            torch_missing.get_or_insert_with(|| why.clone());
        }
        let flops = step_flops(model, batch).ok();
        // The share of the CPU's peak a rate of `rate` samples/s reaches (none for a GPU).
        let share = |rate: f64, on_cpu: bool| match flops.filter(|_| on_cpu) {
            Some(f) => format!("{:.1}", 100.0 * f * rate / batch as f64 / peak.all_cores),
            None => "-".to_string(),
        };
        let torch_on_cpu = torch_device() == "cpu";
        for backend in backends() {
            let backend = backend.as_str();
            match child(model, batch, backend, secs) {
                Ok(f) => {
                    let (torch_rate, ratio, torch_share, torch_mb) = match &torch {
                        Ok((rate, mb)) => {
                            let torch_share = share(*rate, torch_on_cpu);
                            (format!("{rate:.0}"), format!("{:.2}x", f.rate / rate), torch_share, format!("{mb:.0}"))
                        }
                        Err(_) => ("-".into(), "-".into(), "-".into(), "-".into()),
                    };
                    let [fwd, bwd, adam] = f.phases_ms;
                    // An image trainer's step (the GAN: two networks, two optimisers) is timed
                    // only as a whole.
                    let whole = matches!(model, "gan" | "multitask" | "crossmodal");
                    let phase = |ms: f64| if whole { "-".to_string() } else { format!("{ms:.1}") };
                    let gflop = flops.map_or("-".to_string(), |f| format!("{:.3}", f / 1e9));
                    println!(
                        "{model:<13} {batch:>5} {backend:<8} {:>9.0} {torch_rate:>9} {ratio:>6}  {gflop:>8} {:>6} {torch_share:>6}  {:>8} {:>8} {:>8}  {:>7.0} {torch_mb:>7}",
                        f.rate,
                        share(f.rate, matches!(backend, "flex" | "ndarray")),
                        phase(fwd),
                        phase(bwd),
                        phase(adam),
                        f.rss_mb
                    );
                }
                Err(why) => println!("{model:<13} {batch:>5} {backend:<8} failed: {why}"),
            }
        }
    }
    if let Some(why) = torch_missing {
        println!("PyTorch baseline unavailable: {why} (`pip install torch`, or ZOO_PYTHON=/path/to/python)");
    }
}
