//! Train, evaluate and predict with an image classifier recipe (`mlp`, `cnn`): the pattern
//! every supervised recipe follows.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::train::logger::FileMetricLogger;
use burn::train::metric::{AccuracyMetric, CpuUse, LearningRateMetric, LossMetric};
use burn::train::{Learner, SupervisedTraining};
use serde::{Deserialize, Serialize};
use zoo_data::{ImageSet, Split};

use crate::checkpoint::{AtomicCheckpointer, read_module, write_module};
use crate::classifier::{Classifier, ImageNet};
use crate::error::{Result, ZooError, io_error};
use crate::fit::{FitConfig, FitOverrides};
use crate::loader::{ImageLoader, train_valid_split};
use crate::metrics_log::{EpochCsvLogger, read_metrics};
use crate::plot::training_curves;
use crate::recipes::{ImageRecipe, recipe_or_default};
use crate::render::{PlainRenderer, format_duration};
use crate::run::{RunDir, timestamp_iso};
use crate::source::DataSource;

/// What `zoo train` was asked to do.
#[derive(Clone, Debug)]
pub struct TrainRequest {
    pub config_file: Option<PathBuf>,
    pub overrides: FitOverrides,
    pub data: Option<PathBuf>,
    pub run_dir: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub device: Device,
    pub device_name: String,
}

/// What a finished training reports.
#[derive(Clone, Debug)]
pub struct TrainReport {
    pub run: PathBuf,
    pub epochs: usize,
    pub seconds: f64,
    /// Validation accuracy of the last epoch, in percent.
    pub valid_accuracy: Option<f64>,
}

impl TrainRequest {
    /// The recipe this request trains: the resumed run's own, else `--config` laid over the
    /// defaults (the recipes with several tasks read it first to pick the task's loop).
    pub fn recipe<R: crate::recipes::Recipe>(&self) -> Result<R> {
        match &self.resume {
            Some(dir) => RunDir::open(dir, R::NAME)?.0.read_json("config.json"),
            None => crate::recipes::recipe_or_default(self.config_file.as_deref()),
        }
    }

    /// What every `--resume` of an epoch-based run checks: only `--epochs` (and `--device`) may
    /// come with it, a complete checkpoint (`latest`) must exist, and epochs must be left.
    /// Applies `--epochs` to `fit` and returns the checkpoint's epoch.
    pub fn resume_epoch(&self, run: &RunDir, latest: Option<usize>, fit: &mut FitConfig) -> Result<usize> {
        let o = &self.overrides;
        if o.batch_size.is_some() || o.learning_rate.is_some() || o.seed.is_some() || o.limit.is_some()
            || self.config_file.is_some() || self.data.is_some() || self.run_dir.is_some()
        {
            return Err(ZooError::usage(
                "--resume continues a run with its own recipe and data; only --epochs (and --device) may be given with it",
            ));
        }
        let Some(epoch) = latest else {
            return Err(ZooError::usage(format!(
                "{}: no complete checkpoint in {}; the run stopped before its first epoch ended, so start a new run",
                run.path().display(),
                run.checkpoint_dir().display()
            )));
        };
        if let Some(epochs) = o.epochs {
            fit.epochs = epochs;
        }
        if epoch >= fit.epochs {
            return Err(ZooError::usage(format!(
                "{}: all {} epochs are done (checkpoint of epoch {epoch}); pass --epochs N with N > {epoch} to train further",
                run.path().display(),
                fit.epochs
            )));
        }
        Ok(epoch)
    }
}

pub fn train<R: ImageRecipe>(request: &TrainRequest) -> Result<TrainReport> {
    match &request.resume {
        Some(dir) => resume::<R>(dir, request),
        None => start::<R>(request),
    }
}

fn start<R: ImageRecipe>(request: &TrainRequest) -> Result<TrainReport> {
    let mut recipe: R = recipe_or_default(request.config_file.as_deref())?;
    request.overrides.apply(recipe.fit_mut());
    recipe.fit().validate().map_err(ZooError::usage)?;
    let source = DataSource::from_arg(request.data.as_deref())?;
    let train_set = source.load(Split::Train)?;
    // The labels decide the number of classes, whatever the recipe said.
    recipe.set_num_classes(train_set.num_classes);

    let run = RunDir::start(request.run_dir.as_deref(), &recipe, &source.to_record(), &request.device_name)?;
    println!(
        "zoo train {}: {} ({} classes) from {}; run folder {}",
        R::NAME,
        recipe.fit().describe_images(train_set.len()),
        train_set.num_classes,
        source.describe(),
        run.path().display()
    );
    fit::<R>(&run, &recipe, train_set, &request.device, None)
}

fn resume<R: ImageRecipe>(dir: &Path, request: &TrainRequest) -> Result<TrainReport> {
    let (run, info) = RunDir::open(dir, R::NAME)?;
    let mut recipe: R = run.read_json("config.json")?;
    let epoch = request.resume_epoch(&run, run.latest_checkpoint(), recipe.fit_mut())?;
    run.write_json("config.json", &recipe)?;
    let source = DataSource::from_record(&info.data)?;
    let train_set = source.load(Split::Train)?;
    println!(
        "zoo train {} --resume: continuing {} after epoch {epoch} of {}",
        R::NAME,
        run.path().display(),
        recipe.fit().epochs
    );
    fit::<R>(&run, &recipe, train_set, &request.device, Some(epoch))
}

/// Runs burn-train's supervised loop on `train_set` and writes the run's final files.
fn fit<R: ImageRecipe>(
    run: &RunDir,
    recipe: &R,
    mut train_set: ImageSet,
    device: &Device,
    resume_from: Option<usize>,
) -> Result<TrainReport> {
    let fit = recipe.fit();
    if fit.limit > 0 && fit.limit < train_set.len() {
        train_set = train_set.subset(0..fit.limit);
    }
    device.seed(fit.seed);
    let autodiff = device.clone().autodiff();
    let model = Classifier::new(recipe.init(&autodiff));

    let (train_indices, valid_indices) = train_valid_split(train_set.len(), fit.valid_fraction, fit.seed);
    let scheduler = fit
        .scheduler(train_indices.len().div_ceil(fit.batch_size))
        .map_err(ZooError::usage)?;
    let set = Arc::new(train_set);
    let train_loader: Arc<dyn DataLoader<_>> = Arc::new(ImageLoader::new(
        set.clone(),
        train_indices,
        fit.batch_size,
        Some(fit.seed),
        &autodiff,
    )
    .with_random_shift(fit.max_shift));
    let valid_loader: Arc<dyn DataLoader<_>> =
        Arc::new(ImageLoader::new(set, valid_indices, fit.batch_size.max(256), None, device));

    let checkpoints = run.checkpoint_dir();
    let mut training = SupervisedTraining::new(run.path(), train_loader, valid_loader)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .metric_train_numeric(LearningRateMetric::new())
        .metric_train_numeric(CpuUse::new())
        .with_custom_checkpointers(
            AtomicCheckpointer::new(&checkpoints, "model"),
            AtomicCheckpointer::new(&checkpoints, "optim"),
            AtomicCheckpointer::new(&checkpoints, "scheduler"),
        )
        // The file logger answers burn-train's queries (best epoch); the CSV one feeds the plots.
        .with_metric_logger(FileMetricLogger::new(run.path()))
        .with_metric_logger(EpochCsvLogger::new(&run.file("metrics.csv")))
        .num_epochs(fit.epochs)
        .label(R::NAME)
        .summary();
    if !std::io::stdout().is_terminal() {
        training = training.renderer(Box::new(PlainRenderer::new()));
    }
    if let Some(epoch) = resume_from {
        training = training.checkpoint(epoch);
    }

    let started = Instant::now();
    let learner = Learner::new(model, recipe.optimizer().init(), scheduler);
    let result = training.launch(learner);
    let seconds = started.elapsed().as_secs_f64();
    if let Some(error) = result.error {
        return Err(ZooError::runtime(format!(
            "training failed: {error}; the run folder {} keeps its checkpoints, continue with --resume",
            run.path().display()
        )));
    }
    write_module(&result.model, &run.file("model.bpk"))?;

    let rows = read_metrics(&run.file("metrics.csv")).unwrap_or_default();
    let title = format!("{} on {}", R::NAME, run.path().display());
    training_curves(&run.file("curves.png"), &title, &rows, &["Loss", "Accuracy"])
        .map_err(|e| io_error(&run.file("curves.png"), e))?;
    let valid_accuracy = rows
        .iter()
        .filter(|r| r.split == "valid" && r.metric == "Accuracy")
        .max_by_key(|r| r.epoch)
        .map(|r| r.value);
    println!(
        "trained {} for {} epochs in {}; run folder {} (weights model.bpk, curves curves.png)",
        R::NAME,
        fit.epochs,
        format_duration(seconds),
        run.path().display()
    );
    Ok(TrainReport { run: run.path().to_path_buf(), epochs: fit.epochs, seconds, valid_accuracy })
}

/// Rebuilds the trained classifier of a run on `device`: the final weights, or the latest
/// checkpoint of a run that did not finish.
pub fn load_classifier<R: ImageRecipe>(run: &RunDir, device: &Device) -> Result<(R, Classifier<R::Net>)> {
    let recipe: R = run.read_json("config.json")?;
    let final_weights = run.file("model.bpk");
    let path = if final_weights.is_file() {
        final_weights
    } else if let Some(epoch) = run.latest_checkpoint() {
        eprintln!(
            "{}: no final weights (model.bpk); using the checkpoint of epoch {epoch}",
            run.path().display()
        );
        crate::checkpoint::checkpoint_path(&run.checkpoint_dir(), "model", epoch)
    } else {
        return Err(ZooError::usage(format!(
            "{}: no weights yet (neither model.bpk nor a checkpoint); train it first or continue it with --resume",
            run.path().display()
        )));
    };
    let model = read_module(Classifier::new(recipe.init(device)), &path)?;
    Ok((recipe, model))
}

/// Test-set figures of a run, as `zoo eval` prints them and `eval.json` keeps them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalReport {
    pub model: String,
    pub data: String,
    pub images: usize,
    pub loss: f64,
    /// In percent.
    pub accuracy: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    pub seconds: f64,
    pub evaluated: String,
}

/// Evaluates the run on the test split of its data (or of `data` when given).
pub fn eval<R: ImageRecipe>(run_dir: &Path, data: Option<&Path>, device: &Device) -> Result<EvalReport> {
    let (run, info) = RunDir::open(run_dir, R::NAME)?;
    let source = match data {
        Some(dir) => DataSource::from_arg(Some(dir))?,
        None => DataSource::from_record(&info.data)?,
    };
    let test_set = source.load(Split::Test)?;
    let (recipe, model) = load_classifier::<R>(&run, device)?;
    let classes = recipe.num_classes();
    if test_set.num_classes > classes {
        return Err(ZooError::usage(format!(
            "{}: test labels go up to {} but the model knows {classes} classes; evaluate on data of the same kind",
            source.describe(),
            test_set.num_classes - 1
        )));
    }
    let started = Instant::now();
    let model = model.valid();
    let loader = ImageLoader::sequential(Arc::new(test_set), 500, device);
    let mut confusion = vec![vec![0u64; classes]; classes];
    let (mut loss_sum, mut count) = (0.0f64, 0usize);
    for batch in loader.iter() {
        let batch = batch.map_err(|e| ZooError::runtime(e.to_string()))?;
        let size = batch.targets.dims()[0];
        let output = model.forward_classification(batch);
        loss_sum += f64::from(output.loss.into_scalar::<f32>()) * size as f64;
        count += size;
        let predicted = to_i64(output.output.argmax(1).flatten::<1>(0, 1))?;
        let truth = to_i64(output.targets)?;
        for (t, p) in truth.iter().zip(&predicted) {
            confusion[*t as usize][*p as usize] += 1;
        }
    }
    let correct: u64 = (0..classes).map(|c| confusion[c][c]).sum();
    let report = EvalReport {
        model: R::NAME.to_string(),
        data: source.describe(),
        images: count,
        loss: loss_sum / count.max(1) as f64,
        accuracy: 100.0 * correct as f64 / count.max(1) as f64,
        confusion,
        seconds: started.elapsed().as_secs_f64(),
        evaluated: timestamp_iso(),
    };
    run.write_json("eval.json", &report)?;
    Ok(report)
}

fn to_i64(tensor: Tensor<1, Int>) -> Result<Vec<i64>> {
    tensor
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| ZooError::runtime(format!("reading predictions: {e:?}")))
}

/// The confusion matrix as a text table, rows the true class and columns the prediction.
pub fn confusion_table(confusion: &[Vec<u64>]) -> String {
    let width = confusion.iter().flatten().max().map_or(1, |m| m.to_string().len()).max(3);
    let mut out = format!("{:>w$} |", "t\\p", w = width);
    for c in 0..confusion.len() {
        out.push_str(&format!(" {c:>width$}"));
    }
    out.push('\n');
    out.push_str(&"-".repeat(out.len().saturating_sub(1)));
    out.push('\n');
    for (t, row) in confusion.iter().enumerate() {
        out.push_str(&format!("{t:>width$} |"));
        for n in row {
            out.push_str(&format!(" {n:>width$}"));
        }
        out.push('\n');
    }
    out
}

/// The three likeliest classes of each picture: `(file, [(class, probability)])`.
pub fn predict<R: ImageRecipe>(
    run_dir: &Path,
    files: &[PathBuf],
    device: &Device,
) -> Result<Vec<(PathBuf, Vec<(usize, f32)>)>> {
    let (run, _) = RunDir::open(run_dir, R::NAME)?;
    let (_, model) = load_classifier::<R>(&run, device)?;
    let model = model.valid();
    let mut answers = Vec::with_capacity(files.len());
    for file in files {
        let pixels = zoo_data::image_prep::load_as_mnist(file)?;
        let side = zoo_models::IMAGE_SIDE;
        let images = Tensor::<4>::from_data(TensorData::new(pixels, [1, 1, side, side]), device);
        let probabilities = softmax(model.net.logits(images), 1)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| ZooError::runtime(format!("reading probabilities: {e:?}")))?;
        let mut ranked: Vec<(usize, f32)> = probabilities.into_iter().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(3);
        answers.push((file.clone(), ranked));
    }
    Ok(answers)
}
