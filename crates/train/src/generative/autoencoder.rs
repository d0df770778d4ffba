//! `autoencoder` (item 25): recipe, trainer, `zoo eval` (test binary cross-entropy per pixel)
//! and `zoo sample` (test images above their reconstructions).

use std::path::Path;

use burn::module::Module;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use zoo_data::ImageSet;
use zoo_models::{Autoencoder, AutoencoderConfig, IMAGE_SIDE, bernoulli_nll};

use super::{
    image_batch, load_model_and_optimizer, module_bytes, optimizer_bytes, picture_path, read_module, test_set, to_vec,
};
use crate::accumulate::HeldGradients;
use crate::dashboard::MetricSpec;
use crate::error::{Result, ResultExt};
use crate::fit::{FitConfig, LrSchedule};
use crate::image_training::{ImageRecipe, ImageTrainer};
use crate::loader::ImageBatch;
use crate::plot::image_grid;
use crate::recipes::Recipe;
use crate::run::{RunDir, timestamp_iso};

const PIXELS: f64 = (IMAGE_SIDE * IMAGE_SIDE) as f64;

/// Recipe of `autoencoder` (item 25): what `config.json` holds.
#[derive(Config, Debug)]
pub struct AutoencoderRecipe {
    /// The network: `kind` Dense (the article's) or Conv (Keras' convolutional one).
    pub model: AutoencoderConfig,
    /// Adam's moments and epsilon (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    pub fit: FitConfig,
}

impl Recipe for AutoencoderRecipe {
    const NAME: &'static str = "autoencoder";

    fn default_recipe() -> Self {
        // The article's batch of 256 and Adam; 50 epochs (Keras' examples train 50) with a
        // cosine decay instead of its 10 epochs, which stop above 0.10.
        let fit = FitConfig::new().with_epochs(50).with_batch_size(256).with_schedule(LrSchedule::Cosine);
        Self::new(AutoencoderConfig::new(), AdamConfig::new().with_epsilon(1e-7), fit)
    }
}

crate::fit_recipe!(AutoencoderRecipe);

impl ImageRecipe for AutoencoderRecipe {
    type Trainer = AutoencoderTrainer;
    fn trainer(&self, device: &Device) -> AutoencoderTrainer {
        device.seed(self.fit.seed);
        let train_device = device.clone().autodiff();
        AutoencoderTrainer {
            model: self.model.init(&train_device),
            optimizer: self.fit.build_optimizer(&self.optimizer, 0.0),
            held: HeldGradients::default(),
            config: self.model.clone(),
            train_device,
            device: device.clone(),
        }
    }
}

pub struct AutoencoderTrainer {
    pub model: Autoencoder,
    optimizer: ModuleOptimizer,
    /// Gradients gathered for the next optimiser step (`fit.accumulate_batches`).
    held: HeldGradients,
    config: AutoencoderConfig,
    train_device: Device,
    device: Device,
}

/// Binary cross-entropy per pixel, the figure Keras reports: `[batch, 1, 28, 28]` -> scalar.
pub fn bce_per_pixel(logits: Tensor<4>, images: Tensor<4>) -> Tensor<1> {
    bernoulli_nll(logits, images).mean() / PIXELS
}

impl ImageTrainer for AutoencoderTrainer {
    const METRICS: &'static [MetricSpec] = &[MetricSpec::lower("Loss"), MetricSpec::lower("Learning Rate")];
    const PARTS: &'static [&'static str] = &["model.bpk", "optim.bpk"];

    fn train_device(&self) -> Device {
        self.train_device.clone()
    }
    fn device(&self) -> Device {
        self.device.clone()
    }

    fn train_batch(&mut self, batch: ImageBatch, lr: Option<&ModuleLearningRate>) -> Vec<(&'static str, f64)> {
        let images = batch.images;
        let loss = bce_per_pixel(self.model.forward(images.clone()), images);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr);
        vec![("Loss", value)]
    }

    fn valid_batch(&mut self, batch: ImageBatch) -> Vec<(&'static str, f64)> {
        let images = batch.images;
        let model = self.model.valid();
        vec![("Loss", f64::from(bce_per_pixel(model.forward(images.clone()), images).into_scalar::<f32>()))]
    }

    fn pictures(&mut self, run: &RunDir, epoch: usize, valid: &ImageSet) -> Result<()> {
        let path = run.file(&format!("samples/epoch-{epoch:03}.png"));
        reconstruction_grid(&self.model.valid(), valid, 32, &self.device, &path)
    }

    fn save(&self) -> Result<Vec<Vec<u8>>> {
        Ok(vec![module_bytes(&self.model)?, optimizer_bytes(&self.optimizer)?])
    }

    fn load(&mut self, parts: Vec<Vec<u8>>) -> Result<()> {
        let fresh = self.config.init(&self.train_device);
        let optimizer = std::mem::replace(&mut self.optimizer, AdamConfig::new().init());
        (self.model, self.optimizer) = load_model_and_optimizer(parts, fresh, optimizer)?;
        Ok(())
    }

    fn describe_outputs(&self) -> &'static str {
        "pictures samples/"
    }

    fn final_weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("model.bpk", module_bytes(&self.model.valid())?)])
    }
}

/// The first `n` images of `set`, each pair of rows an input row above its reconstruction.
pub fn reconstruction_grid(model: &Autoencoder, set: &ImageSet, n: usize, device: &Device, path: &Path) -> Result<()> {
    let inputs = image_batch(set, n, device);
    let outputs = to_vec(model.reconstruct(inputs.clone()))?;
    write_pairs(path, &to_vec(inputs)?, &outputs)
}

/// Inputs above outputs, 8 to a row.
pub fn write_pairs(path: &Path, inputs: &[f32], outputs: &[f32]) -> Result<()> {
    let image = IMAGE_SIDE * IMAGE_SIDE;
    let columns = (inputs.len() / image).clamp(1, 8);
    let mut grid = Vec::with_capacity(inputs.len() * 2 + 2 * columns * image);
    for (ins, outs) in inputs.chunks(columns * image).zip(outputs.chunks(columns * image)) {
        // A short last row is padded with blanks, so outputs stay under their inputs.
        let blank = vec![0.0; columns * image - ins.len()];
        grid.extend_from_slice(ins);
        grid.extend_from_slice(&blank);
        grid.extend_from_slice(outs);
        grid.extend_from_slice(&blank);
    }
    image_grid(path, &grid, IMAGE_SIDE, columns, 2).with_path(path)
}

/// Loads a run's final weights.
pub fn load(run_dir: &Path, device: &Device) -> Result<(RunDir, super::super::run::RunInfo, Autoencoder)> {
    let (run, info) = RunDir::open(run_dir, AutoencoderRecipe::NAME)?;
    let recipe: AutoencoderRecipe = run.read_recipe()?;
    let model = read_module(recipe.model.init(device), &run.file("model.bpk"))?;
    Ok((run, info, model))
}

/// What `zoo eval autoencoder` reports and `eval.json` keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AutoencoderEval {
    pub model: String,
    pub data: String,
    pub images: usize,
    /// Binary cross-entropy per pixel, in nats.
    pub bce_per_pixel: f64,
    /// Mean squared error per pixel, pixels in [0, 1].
    pub mse_per_pixel: f64,
    pub evaluated: String,
}

pub fn eval(run_dir: &Path, data: Option<&Path>, device: &Device) -> Result<AutoencoderEval> {
    let (run, info, model) = load(run_dir, device)?;
    let (set, describe) = test_set(&info, data)?;
    let (mut bce, mut mse, mut count) = (0.0f64, 0.0f64, 0usize);
    for start in (0..set.len()).step_by(500) {
        let chunk = set.subset(start..start + 500);
        let images = image_batch(&chunk, chunk.len(), device);
        let logits = model.forward(images.clone());
        let n = chunk.len();
        bce += f64::from(bernoulli_nll(logits.clone(), images.clone()).sum().into_scalar::<f32>());
        let diff = burn::tensor::activation::sigmoid(logits) - images;
        mse += f64::from(diff.powi_scalar(2).sum().into_scalar::<f32>());
        count += n;
    }
    let report = AutoencoderEval {
        model: AutoencoderRecipe::NAME.into(),
        data: describe,
        images: count,
        bce_per_pixel: bce / (count as f64 * PIXELS),
        mse_per_pixel: mse / (count as f64 * PIXELS),
        evaluated: timestamp_iso(),
    };
    run.write_json("eval.json", &report)?;
    Ok(report)
}

/// `zoo sample autoencoder`: the first `n` test images above their reconstructions.
pub fn sample(run_dir: &Path, n: usize, out: Option<&Path>, device: &Device) -> Result<Vec<std::path::PathBuf>> {
    let (run, info, model) = load(run_dir, device)?;
    let (set, _) = test_set(&info, None)?;
    let path = picture_path(&run, out, "reconstructions.png");
    reconstruction_grid(&model, &set, n, device, &path)?;
    Ok(vec![path])
}
