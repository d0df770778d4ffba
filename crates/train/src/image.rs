//! What `zoo train` is asked ([`TrainRequest`]), and `zoo eval` and `zoo predict` of the image
//! classifiers (`mlp`, `cnn`, `rnn`); their training is `crate::image_training`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};
use zoo_data::Split;

use crate::augment::Augmentation;
use crate::checkpoint::read_module;
use crate::classifier::{Classifier, ClassifierRecipe, ClassifierTrainer, ImageNet};
use crate::error::{Result, ResultExt, ZooError};
use crate::fit::{FitConfig, FitOverrides};
use crate::image_training::ImageTraining;
use crate::loader::ImageLoader;
use crate::read;
use crate::run::{RunDir, timestamp_iso};
use crate::source::DataSource;

/// What `zoo train` was asked to do.
#[derive(Clone, Debug)]
pub struct TrainRequest {
    pub config_file: Option<PathBuf>,
    /// `--set KEY=VALUE`: recipe fields laid over the config file.
    pub sets: Vec<String>,
    pub overrides: FitOverrides,
    pub data: Option<PathBuf>,
    pub run_dir: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    pub device: Device,
    pub device_name: String,
    /// The devices after the first of `--devices`: each trains on a shard of every batch
    /// (data-parallel, see [`crate::parallel`]); empty on one device.
    pub replicas: Vec<Device>,
    /// `--from`: the pretrained network a `transfer` run starts from (a run folder or a
    /// weights file).
    pub from: Option<PathBuf>,
    /// `--init-from`: a weights file (PyTorch or safetensors) a classifier's new run starts from.
    pub init_from: Option<PathBuf>,
}

impl TrainRequest {
    /// The recipe this request trains: the resumed run's own, else `--config` laid over the
    /// defaults (the recipes with several tasks read it first to pick the task's loop).
    pub fn recipe<R: crate::recipes::Recipe>(&self) -> Result<R> {
        match &self.resume {
            Some(dir) => RunDir::open(dir, R::NAME)?.0.read_recipe(),
            None => crate::recipes::recipe_or_default(self.config_file.as_deref(), &self.sets),
        }
    }

    /// What every `--resume` of an epoch-based run checks: only `--epochs` (and `--device`) may
    /// come with it, a complete checkpoint (`latest`) must exist, and epochs must be left.
    /// Applies `--epochs` to `fit` and returns the checkpoint's epoch.
    pub fn resume_epoch(&self, run: &RunDir, latest: Option<usize>, fit: &mut FitConfig) -> Result<usize> {
        let o = &self.overrides;
        if o.batch_size.is_some()
            || o.seed.is_some()
            || o.limit.is_some()
            || self.config_file.is_some()
            || !self.sets.is_empty()
            || self.from.is_some()
            || self.init_from.is_some()
            || self.data.is_some()
            || self.run_dir.is_some()
        {
            return Err(ZooError::usage(
                "--resume continues a run with its own recipe and data; only --epochs, --lr (and --device) may be given with it",
            ));
        }
        let Some(epoch) = latest else {
            return Err(ZooError::usage(format!(
                "{}: no usable checkpoint in {}: the run stopped before its first epoch ended, or its checkpoints are damaged (said above); start a new run",
                run.path().display(),
                run.checkpoint_dir().display()
            )));
        };
        if let Some(epochs) = o.epochs {
            fit.epochs = epochs;
        }
        // A lower rate after a divergence (the run's config.json records it).
        if let Some(rate) = o.learning_rate {
            fit.learning_rate = rate;
            fit.validate().map_err(ZooError::usage)?;
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

/// Rebuilds the trained classifier of a run on `device`: the final weights, or the latest
/// checkpoint of a run that did not finish.
pub fn load_classifier<R: ClassifierRecipe>(run: &RunDir, device: &Device) -> Result<(R, Classifier<R::Net>)> {
    let recipe: R = run.read_recipe()?;
    let path = trained_weights::<ImageTraining<ClassifierTrainer<R>>>(run)?;
    let model = read_module(Classifier::new(recipe.init(device)), &path)?;
    Ok((recipe, model))
}

/// The file of a run's trained weights (`model.bpk`): the final ones, or the latest
/// checkpoint's of a run that did not finish (said on stderr).
pub fn trained_weights<T: crate::trainer::Training>(run: &RunDir) -> Result<PathBuf> {
    let final_weights = run.file("model.bpk");
    if final_weights.is_file() {
        Ok(final_weights)
    } else if let Some(epoch) = crate::trainer::latest_checkpoint::<T>(run) {
        eprintln!("{}: no final weights (model.bpk); using the checkpoint of epoch {epoch}", run.path().display());
        Ok(crate::checkpoint::EpochCheckpoints::new(&run.checkpoint_dir()).path("model.bpk", epoch))
    } else {
        Err(ZooError::usage(format!(
            "{}: no weights yet (neither model.bpk nor a checkpoint); train it first or continue it with --resume",
            run.path().display()
        )))
    }
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
    /// Test images whose class is among the model's five best guesses, in percent (models of
    /// more than five classes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top5_accuracy: Option<f64>,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    pub seconds: f64,
    pub evaluated: String,
}

/// Evaluates the run on the test split of its data (or of `data` when given), or with
/// `Split::Train` on the images it trained on (its `limit`, less its validation share): the
/// gap between the two is how much it overfits. Writes `eval.json` or `eval-train.json`.
pub fn eval<R: ClassifierRecipe>(
    run_dir: &Path,
    data: Option<&Path>,
    split: Split,
    device: &Device,
) -> Result<EvalReport> {
    let (run, info) = RunDir::open(run_dir, R::NAME)?;
    let source = match data {
        Some(dir) => DataSource::from_arg(Some(dir))?,
        None => DataSource::from_record(&info.data)?,
    };
    let (recipe, model) = load_classifier::<R>(&run, device)?;
    let (test_set, described, file) = match split {
        Split::Test => {
            let set = recipe.fit().select_classes(source.load(Split::Test)?).map_err(ZooError::usage)?;
            (set, source.describe(), "eval.json")
        }
        Split::Train => {
            let fit = recipe.fit();
            let set = fit.select_training(source.load(Split::Train)?).map_err(ZooError::usage)?;
            let (train, _) = crate::loader::train_valid_split(set.len(), fit.valid_fraction, fit.seed);
            (set.pick(&train), format!("the training images of {}", source.describe()), "eval-train.json")
        }
    };
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
    let mut ranks = Vec::new();
    for batch in loader.iter() {
        let batch = batch.map_err(|e| ZooError::runtime(e.to_string()))?;
        let size = batch.targets.dims()[0];
        let output = model.forward_classification(batch);
        loss_sum += f64::from(output.loss.into_scalar::<f32>()) * size as f64;
        count += size;
        if classes > 5 {
            ranks.extend(crate::topk::target_ranks(output.output.clone(), output.targets.clone())?);
        }
        let predicted = read::ints(output.output.argmax(1).flatten::<1>(0, 1))?;
        let truth = read::ints(output.targets)?;
        for (t, p) in truth.iter().zip(&predicted) {
            confusion[*t as usize][*p as usize] += 1;
        }
    }
    let correct: u64 = (0..classes).map(|c| confusion[c][c]).sum();
    let report = EvalReport {
        model: R::NAME.to_string(),
        data: described,
        images: count,
        loss: loss_sum / count.max(1) as f64,
        accuracy: 100.0 * correct as f64 / count.max(1) as f64,
        top5_accuracy: (classes > 5).then(|| crate::topk::top_k_accuracy(&ranks, 5)),
        confusion,
        seconds: started.elapsed().as_secs_f64(),
        evaluated: timestamp_iso(),
    };
    run.write_json(file, &report)?;
    Ok(report)
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

/// The class names of a run whose data named them (a folder of class subfolders).
pub const CLASS_NAMES: &str = "classes.json";

/// A picture and its likeliest classes, most likely first: `(file, [(class, probability)])`.
pub type Ranked = (PathBuf, Vec<(String, f32)>);

/// The names of a run's classes: a run on some classes only names them as its data did (class
/// 0 of `[5, ..]` is a 5), and a run on a folder of pictures by its class folders' names.
pub struct ClassLabels {
    classes: Vec<u8>,
    names: Option<Vec<String>>,
}

impl ClassLabels {
    pub fn of<R: ClassifierRecipe>(run: &RunDir, recipe: &R) -> Result<Self> {
        let names = if run.file(CLASS_NAMES).is_file() { Some(run.read_json(CLASS_NAMES)?) } else { None };
        Ok(Self { classes: recipe.fit().classes.clone(), names })
    }

    /// The name of the network's output `class`.
    pub fn label(&self, class: usize) -> String {
        let class = self.classes.get(class).map_or(class, |&c| usize::from(c));
        self.names.as_ref().and_then(|n| n.get(class).cloned()).unwrap_or_else(|| class.to_string())
    }

    /// Every class of `probabilities` (one picture's), most likely first.
    pub fn ranked(&self, probabilities: &[f32]) -> Vec<(String, f32)> {
        let mut ranked: Vec<(String, f32)> =
            probabilities.iter().enumerate().map(|(c, &p)| (self.label(c), p)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }
}

/// The three likeliest classes of each picture.
pub fn predict<R: ClassifierRecipe>(run_dir: &Path, files: &[PathBuf], device: &Device) -> Result<Vec<Ranked>> {
    let (run, _) = RunDir::open(run_dir, R::NAME)?;
    let (recipe, model) = load_classifier::<R>(&run, device)?;
    let model = model.valid();
    let labels = ClassLabels::of(&run, &recipe)?;
    let mut answers = Vec::with_capacity(files.len());
    for file in files {
        let pixels = zoo_data::image_prep::load_as_mnist(file)?;
        let side = zoo_models::IMAGE_SIDE;
        let images = Tensor::<4>::from_data(TensorData::new(pixels, [1, 1, side, side]), device);
        let mut ranked = labels.ranked(&read::floats(softmax(model.net.logits(images), 1))?);
        ranked.truncate(3);
        answers.push((file.clone(), ranked));
    }
    Ok(answers)
}

/// `zoo sample <classifier> --augmented`: `n` training images as the network sees them, in
/// rows of one image as stored followed by seven draws of the recipe's augmentation. The
/// recipe and data are the run's (`run_dir`), or `config_file` (else the defaults) on `data`
/// (else the embedded extract). Writes `out`, else `augmented.png` in the run folder (or here).
pub fn sample_augmented<R: ClassifierRecipe>(
    run_dir: Option<&Path>,
    config_file: Option<&Path>,
    data: Option<&Path>,
    n: usize,
    seed: u64,
    out: Option<&Path>,
) -> Result<PathBuf> {
    let (recipe, source, default_out): (R, DataSource, PathBuf) = match run_dir {
        Some(dir) => {
            let (run, info) = RunDir::open(dir, R::NAME)?;
            (run.read_recipe()?, DataSource::from_record(&info.data)?, run.file("augmented.png"))
        }
        None => {
            (crate::recipes::recipe_or_default(config_file, &[])?, DataSource::from_arg(data)?, "augmented.png".into())
        }
    };
    let fit = recipe.fit();
    fit.validate().map_err(ZooError::usage)?;
    let augmentation = Augmentation::from_fit(fit);
    if augmentation.is_off() {
        println!(
            "the {} recipe augments nothing (fit.max_shift, max_rotation, max_scale and min_crop are off): every column shows the image as stored",
            R::NAME
        );
    }
    let set = source.load(Split::Train)?;
    const COLUMNS: usize = 8;
    let rows = n.div_ceil(COLUMNS).min(set.len());
    let mut picked: Vec<u32> = (0..set.len() as u32).collect();
    crate::loader::shuffle(&mut picked, seed);
    let (side, mut state) = (set.rows, crate::loader::splitmix_seed(seed));
    let mut pixels = Vec::with_capacity(rows * COLUMNS * side * side);
    for &index in &picked[..rows] {
        // One channel: the grid is greyscale.
        let image = &set.image(index as usize)[..side * set.cols];
        pixels.extend(image.iter().map(|&p| f32::from(p) / 255.0));
        for _ in 1..COLUMNS {
            let draw = augmentation.draw(&mut state, set.rows, set.cols);
            augmentation.apply(&draw, image, set.rows, set.cols, &mut pixels);
        }
    }
    let path = out.map_or(default_out, Path::to_path_buf);
    crate::plot::image_grid(&path, &pixels, side, COLUMNS, 3).with_path(&path)?;
    Ok(path)
}

/// `zoo export`: the trained network of a run as safetensors (`out`, else `model.safetensors`
/// in the run folder) with `names`, and the recipe beside it (`FILE.json`). Returns both paths.
pub fn export<R: ClassifierRecipe>(
    run_dir: &Path,
    names: crate::weights::Names,
    out: Option<&Path>,
    device: &Device,
) -> Result<Vec<PathBuf>> {
    let (run, _) = RunDir::open(run_dir, R::NAME)?;
    let (recipe, model) = load_classifier::<R>(&run, device)?;
    let path = out.map_or_else(|| run.file("model.safetensors"), Path::to_path_buf);
    crate::weights::export_safetensors(&model.net, &path, names)?;
    let sidecar = PathBuf::from(format!("{}.json", path.display()));
    let text = serde_json::to_string_pretty(&recipe).map_err(|e| ZooError::runtime(e.to_string()))?;
    crate::checkpoint::atomic_write(&sidecar, text.as_bytes()).with_path(&sidecar)?;
    Ok(vec![path, sidecar])
}
