//! Every family that learns from batches of images (the classifiers, the autoencoders, the
//! VAE, the GAN): one recipe trait, one start/resume prelude, and the adapter that feeds
//! [`trainer::fit`](crate::trainer::fit) from zoo's image loaders. A new image model writes an
//! [`ImageTrainer`] (one step per batch, its metrics, its checkpoint records) and nothing else.

use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::module::ParamGroup;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::prelude::*;
use zoo_data::{ImageSet, Split};

use crate::augment::Augmentation;
use crate::dashboard::MetricSpec;
use crate::error::{Result, ZooError};
use crate::fit::FitConfig;
use crate::image::TrainRequest;
use crate::loader::{ImageBatch, ImageLoader, train_valid_split};
use crate::recipes::{FitRecipe, recipe_or_default};
use crate::run::RunDir;
use crate::source::DataSource;
use crate::trainer::{self, EarlyStopping, FitReport, Reporter, Training, epochs_done, write_files};

/// The dashboard's throughput metric: training samples per second, data loading included.
pub const SAMPLES_PER_SECOND: &str = "Samples/s";

/// One image model's training, batch by batch.
pub trait ImageTrainer {
    /// Every metric the steps report, train and valid.
    const METRICS: &'static [MetricSpec];
    /// The checkpoint's records, as file names (`model.bpk`, `optim.bpk`).
    const PARTS: &'static [&'static str];
    /// The metrics of this trainer's recipe ([`METRICS`](Self::METRICS) unless a setting adds
    /// some, as a weight penalty does).
    fn metrics(&self) -> Vec<MetricSpec> {
        Self::METRICS.to_vec()
    }
    /// Parameter groups that learn at a share of the learning rate: `(group, share)`.
    fn lr_groups(&self) -> Vec<(ParamGroup, f64)> {
        Vec::new()
    }
    /// The autodiff device the training batches go to.
    fn train_device(&self) -> Device;
    /// The plain device of validation and pictures.
    fn device(&self) -> Device;
    /// Learns from a batch (images `[batch, channels, height, width]` in `[0, 1]`, and its
    /// targets): the optimiser steps with `lr` when a step is due, and the gradients wait in a
    /// [`HeldGradients`](crate::accumulate::HeldGradients) without (`fit.accumulate_batches`).
    /// Returns each metric's mean over the batch.
    fn train_batch(&mut self, batch: ImageBatch, lr: Option<&ModuleLearningRate>) -> Vec<(&'static str, f64)>;
    /// Metrics of a validation batch, without training (plain device).
    fn valid_batch(&mut self, batch: ImageBatch) -> Vec<(&'static str, f64)>;
    /// Writes the epoch's pictures into the run folder (none by default).
    fn pictures(&mut self, _run: &RunDir, _epoch: usize, _valid: &ImageSet) -> Result<()> {
        Ok(())
    }
    /// The bytes of each of [`PARTS`](Self::PARTS), in order.
    fn save(&self) -> Result<Vec<Vec<u8>>>;
    /// Loads the parts written by [`save`](Self::save).
    fn load(&mut self, parts: Vec<Vec<u8>>) -> Result<()>;
    /// The final weights: `(file name in the run folder, bytes)`.
    fn final_weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>>;
    /// Trains on `replicas` too (`--devices`: the devices after the first), a shard of every
    /// batch on each; see [`crate::parallel`]. Families that train on one device only say so.
    fn spread_over(&mut self, _replicas: &[Device]) -> Result<()> {
        Err(ZooError::usage(
            "--devices: this model trains on one device; data-parallel training covers the image classifiers without batch normalisation (mlp, cnn, rnn)",
        ))
    }
    /// What else the run folder holds for a person (`pictures samples/`).
    fn describe_outputs(&self) -> &'static str {
        ""
    }
}

/// A recipe of an image model: its fit settings and how to build its trainer.
pub trait ImageRecipe: FitRecipe {
    type Trainer: ImageTrainer;
    /// A fresh trainer on `device`, its weights seeded by `fit.seed`.
    fn trainer(&self, device: &Device) -> Self::Trainer;
    /// Settings beyond `fit` that cannot work, as a message naming the field.
    fn validate(&self) -> std::result::Result<(), String> {
        Ok(())
    }
    /// Adapts the recipe to the training data before the run starts (a classifier takes its
    /// number of classes from the labels).
    fn adapt_to(&mut self, _train: &ImageSet) {}
    /// Takes what the request says beyond the fit settings (`--from`) before a new run starts.
    fn apply_request(&mut self, _request: &TrainRequest) -> Result<()> {
        Ok(())
    }
    /// Prepares a new run's trainer beyond its fresh weights (a pretrained backbone); not
    /// called on resume, whose checkpoint has every weight.
    fn initialise(&self, _trainer: &mut Self::Trainer, _request: &TrainRequest) -> Result<()> {
        Ok(())
    }
    /// The images the model learns from, made from the data's (`multitask` puts each digit on
    /// a canvas); the data's own by default. `split` says which part of the data `set` is.
    fn prepare(&self, set: ImageSet, _split: Split) -> Result<ImageSet> {
        Ok(set)
    }
    /// What the start line says of the data beyond its size (`10 classes`).
    fn describe_data(&self, _train: &ImageSet) -> String {
        String::new()
    }
}

/// `zoo train <image model>`: a new run, or `--resume` of one.
pub fn train<R: ImageRecipe>(request: &TrainRequest) -> Result<FitReport> {
    // The training images as the recipe learns from them (its classes, limit and labels, then
    // `prepare`).
    let training_images = |recipe: &R, source: &DataSource| -> Result<ImageSet> {
        let selected = recipe.fit().select_training(source.load(Split::Train)?).map_err(ZooError::usage)?;
        recipe.prepare(selected, Split::Train)
    };
    // The trainer on the request's device, spread over `--devices`' others.
    let new_trainer = |recipe: &R| -> Result<R::Trainer> {
        let mut trainer = recipe.trainer(&request.device);
        if !request.replicas.is_empty() {
            trainer.spread_over(&request.replicas)?;
        }
        Ok(trainer)
    };
    let (run, recipe, train_set, resume_from, mut trainer) = match &request.resume {
        Some(dir) => {
            let (run, info) = RunDir::open_to_train(dir, R::NAME)?;
            if let Some(cv) = crate::cv::enclosing_cross_validation(&run) {
                return Err(ZooError::usage(format!(
                    "{}: a fold of the cross-validation in {}; continue it with `zoo cv {} --resume {}`",
                    dir.display(),
                    cv.display(),
                    R::NAME,
                    cv.display()
                )));
            }
            let mut recipe: R = run.read_recipe()?;
            let latest = trainer::latest_checkpoint::<ImageTraining<R::Trainer>>(&run);
            let epoch = request.resume_epoch(&run, latest, recipe.fit_mut())?;
            run.write_json("config.json", &recipe)?;
            println!(
                "zoo train {} --resume: continuing {} after epoch {epoch} of {}",
                R::NAME,
                run.path().display(),
                recipe.fit().epochs
            );
            let train_set = training_images(&recipe, &DataSource::from_record(&info.data)?)?;
            let trainer = new_trainer(&recipe)?;
            (run, recipe, train_set, Some(epoch), trainer)
        }
        None => {
            let mut recipe: R = recipe_or_default(request.config_file.as_deref(), &request.sets)?;
            request.overrides.apply(recipe.fit_mut());
            recipe.apply_request(request)?;
            recipe.fit().validate().map_err(ZooError::usage)?;
            recipe.validate().map_err(ZooError::usage)?;
            let source = DataSource::from_arg(request.data.as_deref())?;
            let train_set = training_images(&recipe, &source)?;
            recipe.adapt_to(&train_set);
            // Before the run folder exists: a device list the model cannot use is refused.
            let trainer = new_trainer(&recipe)?;
            let run = RunDir::start(request.run_dir.as_deref(), &recipe, &source.to_record(), &request.device_name)?;
            if let Some(names) = source.class_names()? {
                run.write_json(crate::image::CLASS_NAMES, &names)?;
            }
            let about = recipe.describe_data(&train_set);
            println!(
                "zoo train {}: {}{} from {}; run folder {}",
                R::NAME,
                recipe.fit().describe_images(train_set.len()),
                if about.is_empty() { String::new() } else { format!(" ({about})") },
                source.describe(),
                run.path().display()
            );
            (run, recipe, train_set, None, trainer)
        }
    };
    if resume_from.is_none() {
        recipe.initialise(&mut trainer, request)?;
    }
    let mut training = ImageTraining::new(R::NAME, recipe.fit().clone(), trainer, train_set);
    trainer::fit(&run, &mut training, resume_from)
}

/// An [`ImageTrainer`] with its loaders: the training part (shuffled by seed and epoch,
/// shifted when the recipe augments) and the validation part (`fit.valid_fraction`, chosen by
/// the seed).
pub struct ImageTraining<T: ImageTrainer> {
    name: &'static str,
    fit: FitConfig,
    pub trainer: T,
    train_loader: ImageLoader,
    valid_loader: ImageLoader,
    valid_set: ImageSet,
    train_len: usize,
    early_stopping: Option<EarlyStopping>,
}

impl<T: ImageTrainer> ImageTraining<T> {
    /// Trains on `train_set` (as [`FitConfig::select_training`] made it), less its validation
    /// share.
    pub fn new(name: &'static str, fit: FitConfig, trainer: T, train_set: ImageSet) -> Self {
        let (train_indices, valid_indices) = train_valid_split(train_set.len(), fit.valid_fraction, fit.seed);
        Self::with_split(name, fit, trainer, Arc::new(train_set), train_indices, valid_indices)
    }

    /// Trains on `train_indices` of `set` and validates on `valid_indices` (a fold of
    /// cross-validation); `fit.limit` and `fit.valid_fraction` are the caller's business.
    pub fn with_split(
        name: &'static str,
        fit: FitConfig,
        trainer: T,
        set: Arc<ImageSet>,
        train_indices: Vec<u32>,
        valid_indices: Vec<u32>,
    ) -> Self {
        let valid_set = set.pick(&valid_indices);
        let train_len = train_indices.len();
        let train_loader =
            ImageLoader::new(set.clone(), train_indices, fit.batch_size, Some(fit.seed), &trainer.train_device())
                .with_augmentation(Augmentation::from_fit(&fit));
        let valid_loader = ImageLoader::new(set, valid_indices, fit.batch_size.max(256), None, &trainer.device());
        let early_stopping = Some(fit.early_stopping.clone()).filter(EarlyStopping::is_on);
        Self { name, fit, trainer, train_loader, valid_loader, valid_set, train_len, early_stopping }
    }

    /// Ends the run when a validation metric stops improving (see [`EarlyStopping`]).
    pub fn with_early_stopping(mut self, rule: EarlyStopping) -> Self {
        self.early_stopping = Some(rule);
        self
    }
}

impl<T: ImageTrainer> Training for ImageTraining<T> {
    const PARTS: &'static [&'static str] = T::PARTS;
    const UNIT: &'static str = "samples";

    fn name(&self) -> &str {
        self.name
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        let mut metrics = self.trainer.metrics();
        metrics.push(MetricSpec::higher(SAMPLES_PER_SECOND));
        metrics
    }

    fn curves(&self) -> Vec<&'static str> {
        // Samples/s stays in metrics.csv; the curves show what the model learns.
        self.trainer.metrics().iter().map(|m| m.name).filter(|n| *n != trainer::LEARNING_RATE).collect()
    }

    fn epochs(&self) -> usize {
        self.fit.epochs
    }
    fn learning_rate(&self) -> Option<f64> {
        Some(self.fit.learning_rate)
    }

    fn scheduler(&self, epochs_done: usize) -> Result<Option<ModuleLrScheduler>> {
        let batches = self.train_len.div_ceil(self.fit.batch_size);
        trainer::schedule_groups(&self.fit, batches, epochs_done, &self.trainer.lr_groups())
    }

    fn early_stopping(&self) -> Option<EarlyStopping> {
        self.early_stopping.clone()
    }

    fn weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        self.trainer.final_weights()
    }

    fn save(&self) -> Result<Vec<Vec<u8>>> {
        self.trainer.save()
    }

    fn load(&mut self, parts: Vec<Vec<u8>>, epoch: usize) -> Result<()> {
        // The loader reshuffles by epoch number: bring it to where the checkpoint left it.
        for _ in 0..epoch {
            self.train_loader.skip_epoch();
        }
        self.trainer.load(parts)
    }

    fn train_items(&self, _epoch: usize) -> usize {
        self.train_len
    }

    fn train_epoch(&mut self, _epoch: usize, report: &mut Reporter) -> Result<()> {
        let mut done = 0;
        let mut batch_started = Instant::now();
        let batches = self.train_len.div_ceil(self.fit.batch_size);
        for (index, batch) in self.train_loader.iter().enumerate() {
            let batch = batch.map_err(|e| ZooError::runtime(e.to_string()))?;
            let size = batch.images.dims()[0];
            done += size;
            let lr = report.learning_rate_if(self.fit.step_due(index, batches));
            for (name, value) in self.trainer.train_batch(batch, lr.as_ref()) {
                report.value_over(name, value, size);
            }
            // Data loading included: the time from one batch's end to the next.
            report.value_over(SAMPLES_PER_SECOND, size as f64 / batch_started.elapsed().as_secs_f64().max(1e-9), size);
            batch_started = Instant::now();
            if !report.progress(done) {
                break;
            }
        }
        Ok(())
    }

    fn valid_items(&self) -> usize {
        self.valid_loader.num_items()
    }

    fn validate(&mut self, _epoch: usize, report: &mut Reporter) -> Result<()> {
        let mut done = 0;
        for batch in self.valid_loader.iter() {
            let batch = batch.map_err(|e| ZooError::runtime(e.to_string()))?;
            let size = batch.images.dims()[0];
            done += size;
            for (name, value) in self.trainer.valid_batch(batch) {
                report.value_over(name, value, size);
            }
            report.progress(done);
        }
        Ok(())
    }

    fn after_epoch(&mut self, run: &RunDir, epoch: usize, _seconds: f64) -> Result<()> {
        self.trainer.pictures(run, epoch, &self.valid_set)
    }

    fn finish(&mut self, run: &RunDir, epochs: usize) -> Result<(String, String)> {
        let written = write_files(run, self.trainer.final_weights()?)?;
        let outputs = self.trainer.describe_outputs();
        let mut what = format!("weights {}", written.join(", "));
        if !outputs.is_empty() {
            what = format!("{what}, {outputs}");
        }
        Ok((epochs_done(epochs), what))
    }
}
