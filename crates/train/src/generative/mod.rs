//! The generative recipes, `autoencoder`, `vae` and `gan`, and the epoch loop they share.
//!
//! The GAN needs two optimisers and alternating updates, which burn-train's `Learner` (one
//! optimiser, one `TrainStep`) cannot express; the autoencoders could use it, but one loop for
//! all three keeps their run folders, pictures and resume alike. The loop is written once
//! ([`fit`]) against the [`Trainer`] trait: per batch a training step that returns its
//! metrics, per epoch a validation pass, pictures and a checkpoint of every part. It drives the
//! same dashboard as burn-train ([`Dashboard`]) and writes the same `metrics.csv`.

pub mod autoencoder;
pub mod gan;
pub mod judge;
pub mod vae;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use zoo_data::{ImageSet, Split};

use crate::checkpoint::{EpochCheckpoints, atomic_write};
use crate::dashboard::{Dashboard, MetricSpec};
use crate::error::{Result, ZooError, io_error};
use crate::fit::FitConfig;
use crate::loader::{ImageLoader, train_valid_split};
use crate::metrics_log::read_metrics;
use crate::plot::training_curves;
use crate::recipes::{Recipe, recipe_or_default};
use crate::render::format_duration;
use crate::run::{RunDir, RunInfo};
use crate::source::DataSource;

pub use crate::image::TrainRequest;

/// A generative recipe: its fit settings and how to build its trainer.
pub trait GenRecipe: Recipe {
    type Trainer: Trainer;
    fn fit(&self) -> &FitConfig;
    fn fit_mut(&mut self) -> &mut FitConfig;
    /// A fresh trainer (weights seeded by `fit.seed`) on `device`.
    fn trainer(&self, device: &Device) -> Self::Trainer;
    /// Settings beyond `fit` that cannot work, as a message naming the field.
    fn validate(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// One model's training, as the shared loop sees it.
pub trait Trainer {
    /// Every metric the trainer reports, train and valid.
    const METRICS: &'static [MetricSpec];
    /// The checkpoint parts (module and optimiser records), written each epoch.
    const PARTS: &'static [&'static str];
    /// The autodiff device the training batches go to.
    fn train_device(&self) -> Device;
    /// The plain device of validation and pictures.
    fn device(&self) -> Device;
    /// One optimisation step on `images` (`[batch, 1, 28, 28]`, pixels in `[0, 1]`).
    fn train_batch(&mut self, images: Tensor<4>, lr: &ModuleLearningRate) -> Vec<(&'static str, f64)>;
    /// Metrics of a validation batch, without training (plain device).
    fn valid_batch(&mut self, images: Tensor<4>) -> Vec<(&'static str, f64)>;
    /// Writes the epoch's pictures into the run folder.
    fn pictures(&mut self, run: &RunDir, epoch: usize, valid: &ImageSet) -> Result<()>;
    /// The bytes of each of [`PARTS`](Self::PARTS), in order.
    fn save(&self) -> Result<Vec<Vec<u8>>>;
    /// Loads the parts written by [`save`](Self::save).
    fn load(&mut self, parts: Vec<Vec<u8>>) -> Result<()>;
    /// The final weights: `(file name in the run folder, bytes)`.
    fn final_weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>>;
}

pub use crate::checkpoint::{load_module, load_optimizer, module_bytes, optimizer_bytes, read_module};

/// `checkpoint/progress-E.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Progress {
    epoch: usize,
    seconds: f64,
}

/// Checkpoint file names of a trainer's parts.
fn part_files<T: Trainer>() -> Vec<String> {
    T::PARTS.iter().map(|p| format!("{p}.bpk")).collect()
}

/// The latest complete checkpoint of a run of trainer `T`.
pub fn latest_checkpoint<T: Trainer>(run: &RunDir) -> Option<usize> {
    let files = part_files::<T>();
    EpochCheckpoints::new(&run.checkpoint_dir()).latest(&files.iter().map(String::as_str).collect::<Vec<_>>())
}

fn save_checkpoint<T: Trainer>(run: &RunDir, trainer: &T, progress: &Progress) -> Result<()> {
    let files = part_files::<T>();
    let parts: Vec<(&str, Vec<u8>)> = files.iter().map(String::as_str).zip(trainer.save()?).collect();
    EpochCheckpoints::new(&run.checkpoint_dir()).save(progress.epoch, &parts, progress)
}

fn load_checkpoint<T: Trainer>(run: &RunDir, trainer: &mut T, epoch: usize) -> Result<Progress> {
    let checkpoints = EpochCheckpoints::new(&run.checkpoint_dir());
    let parts = part_files::<T>().iter().map(|f| checkpoints.read(f, epoch)).collect::<Result<Vec<_>>>()?;
    trainer.load(parts)?;
    checkpoints.read_progress(epoch)
}

/// What a finished training reports.
#[derive(Clone, Debug)]
pub struct GenTrainReport {
    pub run: PathBuf,
    pub epochs: usize,
    pub seconds: f64,
}

pub fn train<R: GenRecipe>(request: &TrainRequest) -> Result<GenTrainReport> {
    match &request.resume {
        Some(dir) => resume::<R>(dir, request),
        None => start::<R>(request),
    }
}

fn start<R: GenRecipe>(request: &TrainRequest) -> Result<GenTrainReport> {
    let mut recipe: R = recipe_or_default(request.config_file.as_deref())?;
    request.overrides.apply(recipe.fit_mut());
    recipe.fit().validate().map_err(ZooError::usage)?;
    recipe.validate().map_err(ZooError::usage)?;
    let source = DataSource::from_arg(request.data.as_deref())?;
    let train_set = source.load(Split::Train)?;
    let run = RunDir::start(request.run_dir.as_deref(), &recipe, &source.to_record(), &request.device_name)?;
    println!(
        "zoo train {}: {} from {}; run folder {}",
        R::NAME,
        recipe.fit().describe_images(train_set.len()),
        source.describe(),
        run.path().display()
    );
    let trainer = recipe.trainer(&request.device);
    fit::<R>(&run, &recipe, trainer, train_set, None)
}

fn resume<R: GenRecipe>(dir: &Path, request: &TrainRequest) -> Result<GenTrainReport> {
    let (run, info) = RunDir::open(dir, R::NAME)?;
    let mut recipe: R = run.read_json("config.json")?;
    let epoch = request.resume_epoch(&run, latest_checkpoint::<R::Trainer>(&run), recipe.fit_mut())?;
    let mut trainer = recipe.trainer(&request.device);
    let progress = load_checkpoint(&run, &mut trainer, epoch)?;
    run.write_json("config.json", &recipe)?;
    let source = DataSource::from_record(&info.data)?;
    let train_set = source.load(Split::Train)?;
    println!(
        "zoo train {} --resume: continuing {} after epoch {epoch} of {}",
        R::NAME,
        run.path().display(),
        recipe.fit().epochs
    );
    fit::<R>(&run, &recipe, trainer, train_set, Some(progress))
}

/// The dashboard's throughput metric: training samples per second, data loading included.
pub const SAMPLES_PER_SECOND: &str = "Samples/s";

/// The shared epoch loop.
fn fit<R: GenRecipe>(
    run: &RunDir,
    recipe: &R,
    mut trainer: R::Trainer,
    mut train_set: ImageSet,
    resumed: Option<Progress>,
) -> Result<GenTrainReport> {
    let fit = recipe.fit();
    if fit.limit > 0 && fit.limit < train_set.len() {
        train_set = train_set.subset(0..fit.limit);
    }
    let (train_indices, valid_indices) = train_valid_split(train_set.len(), fit.valid_fraction, fit.seed);
    let steps_per_epoch = train_indices.len().div_ceil(fit.batch_size);
    let set = Arc::new(train_set);
    let valid_set = set.pick(&valid_indices);
    let train_device = trainer.train_device();
    let plain_device = trainer.device();
    let train_loader = ImageLoader::new(set.clone(), train_indices.clone(), fit.batch_size, Some(fit.seed), &train_device);
    let valid_loader = ImageLoader::new(set, valid_indices, fit.batch_size.max(256), None, &plain_device);

    let start_epoch = resumed.as_ref().map_or(0, |p| p.epoch);
    let seconds_before = resumed.as_ref().map_or(0.0, |p| p.seconds);
    // The loader reshuffles by epoch number and the scheduler counts steps: bring both to
    // where the checkpoint left them, so a resumed run continues the same run.
    let mut scheduler = fit.scheduler_after(steps_per_epoch, start_epoch).map_err(ZooError::usage)?;
    for _ in 0..start_epoch {
        train_loader.skip_epoch();
    }
    let mut metrics = R::Trainer::METRICS.to_vec();
    metrics.push(MetricSpec::higher(SAMPLES_PER_SECOND));
    let mut dashboard = Dashboard::new(R::NAME, "samples", &metrics, &run.file("metrics.csv"), fit.epochs, start_epoch + 1);
    let started = Instant::now();
    let mut stopped = false;
    for epoch in start_epoch + 1..=fit.epochs {
        dashboard.start_split("train", train_indices.len());
        let mut done = 0;
        let mut batch_started = Instant::now();
        for batch in train_loader.iter() {
            let batch = batch.map_err(|e| ZooError::runtime(e.to_string()))?;
            let size = batch.images.dims()[0];
            done += size;
            let lr = scheduler.step();
            for (name, value) in trainer.train_batch(batch.images, &lr) {
                dashboard.value(name, value);
            }
            // Data loading included: the time from one batch's end to the next.
            dashboard.value(SAMPLES_PER_SECOND, size as f64 / batch_started.elapsed().as_secs_f64().max(1e-9));
            batch_started = Instant::now();
            dashboard.value("Learning Rate", lr.base());
            dashboard.progress(done);
            if dashboard.should_stop() {
                stopped = true;
                break;
            }
        }
        dashboard.end_split();
        if stopped {
            break;
        }
        dashboard.start_split("valid", valid_loader.num_items());
        let mut done = 0;
        for batch in valid_loader.iter() {
            let batch = batch.map_err(|e| ZooError::runtime(e.to_string()))?;
            done += batch.images.dims()[0];
            for (name, value) in trainer.valid_batch(batch.images) {
                dashboard.value(name, value);
            }
            dashboard.progress(done);
        }
        dashboard.end_split();
        trainer.pictures(run, epoch, &valid_set)?;
        let progress = Progress { epoch, seconds: seconds_before + started.elapsed().as_secs_f64() };
        save_checkpoint(run, &trainer, &progress)?;
        dashboard.end_epoch(epoch).map_err(|e| io_error(&run.file("metrics.csv"), e))?;
    }
    dashboard.finish();
    let seconds = seconds_before + started.elapsed().as_secs_f64();

    let rows = read_metrics(&run.file("metrics.csv")).unwrap_or_default();
    let curves: Vec<&str> = R::Trainer::METRICS.iter().map(|m| m.name).filter(|n| *n != "Learning Rate").collect();
    // (Samples/s stays in metrics.csv; the curves show what the model learns.)
    let title = format!("{} on {}", R::NAME, run.path().display());
    training_curves(&run.file("curves.png"), &title, &rows, &curves).map_err(|e| io_error(&run.file("curves.png"), e))?;
    if stopped && latest_checkpoint::<R::Trainer>(run).is_none() {
        println!("stopped after {}, before the first epoch ended: nothing to resume", format_duration(seconds));
    } else if stopped {
        println!(
            "stopped after {}; continue with `zoo train {} --resume {}` (from the last finished epoch)",
            format_duration(seconds),
            R::NAME,
            run.path().display()
        );
    } else {
        let mut written = Vec::new();
        for (name, bytes) in trainer.final_weights()? {
            let path = run.file(name);
            atomic_write(&path, &bytes).map_err(|e| io_error(&path, e))?;
            written.push(name);
        }
        println!(
            "trained {} for {} epochs in {}; run folder {} (weights {}, pictures samples/, curves curves.png)",
            R::NAME,
            fit.epochs,
            format_duration(seconds),
            run.path().display(),
            written.join(", ")
        );
    }
    Ok(GenTrainReport { run: run.path().to_path_buf(), epochs: fit.epochs, seconds })
}

/// The first `n` images of `set` as a batch in `[0, 1]` on `device`.
pub fn image_batch(set: &ImageSet, n: usize, device: &Device) -> Tensor<4> {
    let n = n.min(set.len());
    let side = set.rows * set.cols;
    let pixels: Vec<f32> = set.images[..n * side].iter().map(|&p| f32::from(p) / 255.0).collect();
    Tensor::from_data(TensorData::new(pixels, [n, 1, set.rows, set.cols]), device)
}

/// A tensor's values as `f32`s.
pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

/// The run's test images (its own data, or `--data`).
pub fn test_set(info: &RunInfo, data: Option<&Path>) -> Result<(ImageSet, String)> {
    let source = match data {
        Some(dir) => DataSource::from_arg(Some(dir))?,
        None => DataSource::from_record(&info.data)?,
    };
    Ok((source.load(Split::Test)?, source.describe()))
}

/// Where a picture goes: `--out`, else `name` in the run folder.
pub fn picture_path(run: &RunDir, out: Option<&Path>, name: &str) -> PathBuf {
    out.map(Path::to_path_buf).unwrap_or_else(|| run.file(name))
}
