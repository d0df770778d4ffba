//! `vae` (item 10): recipe, trainer, `zoo eval` (test negative ELBO in nats per image) and
//! `zoo sample` (new images, reconstructions, and for a 2-d latent the decoded latent plane
//! and the test set's codes coloured by label).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};
use zoo_data::ImageSet;
use zoo_models::{IMAGE_SIDE, Vae, VaeConfig, bernoulli_nll, kl_divergence};

use super::autoencoder::write_pairs;
use super::{
    image_batch, load_model_and_optimizer, module_bytes, optimizer_bytes, picture_path, read_module, test_set, to_vec,
};
use crate::accumulate::HeldGradients;
use crate::dashboard::MetricSpec;
use crate::error::{Result, ResultExt};
use crate::fit::{FitConfig, LrSchedule};
use crate::image_training::{ImageRecipe, ImageTrainer};
use crate::loader::ImageBatch;
use crate::plot::{image_grid, latent_scatter};
use crate::recipes::Recipe;
use crate::run::{RunDir, RunInfo, timestamp_iso};

/// Recipe of `vae` (item 10): what `config.json` holds.
#[derive(Config, Debug)]
pub struct VaeRecipe {
    /// The network: `kind` Conv (the article's, latent 2) or Dense (PyTorch's 784-400-20).
    pub model: VaeConfig,
    /// Adam's moments and epsilon (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    /// Weight of the KL term (1: the ELBO; other values: a beta-VAE).
    #[config(default = 1.0)]
    pub beta: f64,
    pub fit: FitConfig,
}

impl Recipe for VaeRecipe {
    const NAME: &'static str = "vae";

    fn default_recipe() -> Self {
        // Keras' VAE example: Adam, batch 128 (the article names RMSprop); with a cosine decay
        // of the learning rate and 50 epochs instead of 30 (with the wider dense layer: 143.69
        // test nats per image).
        let fit = FitConfig::new().with_epochs(50).with_batch_size(128).with_schedule(LrSchedule::Cosine);
        Self::new(VaeConfig::new(), AdamConfig::new().with_epsilon(1e-7), fit)
    }
}

crate::fit_recipe!(VaeRecipe);

impl ImageRecipe for VaeRecipe {
    type Trainer = VaeTrainer;
    fn trainer(&self, device: &Device) -> VaeTrainer {
        device.seed(self.fit.seed);
        let train_device = device.clone().autodiff();
        let model = self.model.init(&train_device);
        // 64 fixed codes from the prior: the same digits drawn every epoch.
        let fixed = Tensor::<2>::random([64, self.model.latent], Distribution::Normal(0.0, 1.0), device);
        VaeTrainer {
            model,
            optimizer: self.fit.build_optimizer(&self.optimizer, 0.0),
            held: HeldGradients::default(),
            config: self.model.clone(),
            beta: self.beta,
            fixed,
            train_device,
            device: device.clone(),
        }
    }
}

pub struct VaeTrainer {
    pub model: Vae,
    optimizer: ModuleOptimizer,
    /// Gradients gathered for the next optimiser step (`fit.accumulate_batches`).
    held: HeldGradients,
    config: VaeConfig,
    beta: f64,
    fixed: Tensor<2>,
    train_device: Device,
    device: Device,
}

/// Per-image means of the two terms of the negative ELBO for one sampled code each:
/// `(reconstruction, kl)`, each a scalar tensor.
pub fn elbo_terms(model: &Vae, images: Tensor<4>) -> (Tensor<1>, Tensor<1>) {
    let [batch, ..] = images.dims();
    let noise = Tensor::<2>::random([batch, model.latent()], Distribution::Normal(0.0, 1.0), &images.device());
    let out = model.forward(images.clone(), noise);
    (bernoulli_nll(out.logits, images).mean(), kl_divergence(out.mean, out.log_var).mean())
}

impl ImageTrainer for VaeTrainer {
    const METRICS: &'static [MetricSpec] = &[
        MetricSpec::lower("Loss"),
        MetricSpec::lower("Reconstruction"),
        MetricSpec::lower("KL"),
        MetricSpec::lower("Learning Rate"),
    ];
    const PARTS: &'static [&'static str] = &["model.bpk", "optim.bpk"];

    fn train_device(&self) -> Device {
        self.train_device.clone()
    }
    fn device(&self) -> Device {
        self.device.clone()
    }

    fn train_batch(&mut self, batch: ImageBatch, lr: Option<&ModuleLearningRate>) -> Vec<(&'static str, f64)> {
        let images = batch.images;
        let (reconstruction, kl) = elbo_terms(&self.model, images);
        let loss = reconstruction.clone() + kl.clone() * self.beta;
        let scalar = |t: Tensor<1>| f64::from(t.into_scalar::<f32>());
        let metrics =
            vec![("Loss", scalar(loss.clone())), ("Reconstruction", scalar(reconstruction)), ("KL", scalar(kl))];
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr);
        metrics
    }

    fn valid_batch(&mut self, batch: ImageBatch) -> Vec<(&'static str, f64)> {
        let images = batch.images;
        let (reconstruction, kl) = elbo_terms(&self.model.valid(), images);
        let (r, k) = (f64::from(reconstruction.into_scalar::<f32>()), f64::from(kl.into_scalar::<f32>()));
        vec![("Loss", r + self.beta * k), ("Reconstruction", r), ("KL", k)]
    }

    fn pictures(&mut self, run: &RunDir, epoch: usize, valid: &ImageSet) -> Result<()> {
        let model = self.model.valid();
        let path = run.file(&format!("samples/epoch-{epoch:03}.png"));
        let pixels = to_vec(model.generate(self.fixed.clone()))?;
        image_grid(&path, &pixels, IMAGE_SIDE, 8, 2).with_path(&path)?;
        let path = run.file(&format!("samples/reconstructions-{epoch:03}.png"));
        reconstructions(&model, valid, 32, &self.device, &path)
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

/// Inputs above their reconstructions from the posterior mean.
fn reconstructions(model: &Vae, set: &ImageSet, n: usize, device: &Device, path: &Path) -> Result<()> {
    let inputs = image_batch(set, n, device);
    let (mean, _) = model.encode(inputs.clone());
    write_pairs(path, &to_vec(inputs)?, &to_vec(model.generate(mean))?)
}

pub fn load(run_dir: &Path, device: &Device) -> Result<(RunDir, RunInfo, VaeRecipe, Vae)> {
    let (run, info) = RunDir::open(run_dir, VaeRecipe::NAME)?;
    let recipe: VaeRecipe = run.read_recipe()?;
    let model = read_module(recipe.model.init(device), &run.file("model.bpk"))?;
    Ok((run, info, recipe, model))
}

/// What `zoo eval vae` reports and `eval.json` keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VaeEval {
    pub model: String,
    pub data: String,
    pub images: usize,
    /// Negative ELBO in nats per image (one sampled code per image, as Keras and PyTorch
    /// report it): reconstruction + KL.
    pub negative_elbo: f64,
    pub reconstruction: f64,
    pub kl: f64,
    pub latent: usize,
    pub seed: u64,
    pub evaluated: String,
}

pub fn eval(run_dir: &Path, data: Option<&Path>, device: &Device) -> Result<VaeEval> {
    let (run, info, recipe, model) = load(run_dir, device)?;
    let (set, describe) = test_set(&info, data)?;
    let seed = 0;
    device.seed(seed);
    let (mut reconstruction, mut kl, mut count) = (0.0f64, 0.0f64, 0usize);
    for start in (0..set.len()).step_by(500) {
        let chunk = set.subset(start..start + 500);
        let n = chunk.len() as f64;
        let (r, k) = elbo_terms(&model, image_batch(&chunk, chunk.len(), device));
        reconstruction += n * f64::from(r.into_scalar::<f32>());
        kl += n * f64::from(k.into_scalar::<f32>());
        count += chunk.len();
    }
    let (reconstruction, kl) = (reconstruction / count.max(1) as f64, kl / count.max(1) as f64);
    let report = VaeEval {
        model: VaeRecipe::NAME.into(),
        data: describe,
        images: count,
        negative_elbo: reconstruction + kl,
        reconstruction,
        kl,
        latent: recipe.model.latent,
        seed,
        evaluated: timestamp_iso(),
    };
    run.write_json("eval.json", &report)?;
    Ok(report)
}

/// `zoo sample vae`: `n` new images from the prior, reconstructions of test images, and for a
/// 2-d latent the decoded latent plane and the test set's codes.
pub fn sample(run_dir: &Path, n: usize, seed: u64, out: Option<&Path>, device: &Device) -> Result<Vec<PathBuf>> {
    let (run, info, recipe, model) = load(run_dir, device)?;
    let latent = recipe.model.latent;
    device.seed(seed);
    let codes = Tensor::<2>::random([n, latent], Distribution::Normal(0.0, 1.0), device);
    let path = picture_path(&run, out, "samples.png");
    image_grid(&path, &to_vec(model.generate(codes))?, IMAGE_SIDE, 8, 2).with_path(&path)?;
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let (test, _) = test_set(&info, None)?;
    let mut written = vec![path];
    let recon = folder.join("reconstructions.png");
    reconstructions(&model, &test, 32, device, &recon)?;
    written.push(recon);
    if latent == 2 {
        written.push(latent_map(&model, &folder.join("latent-map.png"), device)?);
        written.push(latent_codes(&model, &test, &folder.join("latent-scatter.png"), device)?);
    }
    Ok(written)
}

/// Decodes a 20x20 grid of codes spread over the prior: the codes are the normal
/// distribution's quantiles at 2.5 %, 7.5 %, ... 97.5 % on each axis (Kingma and Welling's
/// "learned manifold").
fn latent_map(model: &Vae, path: &Path, device: &Device) -> Result<PathBuf> {
    const SIDE: usize = 20;
    let quantile = |i: usize| normal_quantile((i as f64 + 0.5) / SIDE as f64);
    let mut codes = Vec::with_capacity(SIDE * SIDE * 2);
    for row in 0..SIDE {
        for col in 0..SIDE {
            // Top row is the largest second coordinate, as on a plot.
            codes.push(quantile(col) as f32);
            codes.push(quantile(SIDE - 1 - row) as f32);
        }
    }
    let codes = Tensor::<2>::from_data(TensorData::new(codes, [SIDE * SIDE, 2]), device);
    image_grid(path, &to_vec(model.generate(codes))?, IMAGE_SIDE, SIDE, 1).with_path(path)?;
    Ok(path.to_path_buf())
}

/// The posterior means of the test set, one dot per image coloured by its label.
fn latent_codes(model: &Vae, set: &ImageSet, path: &Path, device: &Device) -> Result<PathBuf> {
    let mut points = Vec::with_capacity(set.len());
    for start in (0..set.len()).step_by(1000) {
        let chunk = set.subset(start..start + 1000);
        let (mean, _) = model.encode(image_batch(&chunk, chunk.len(), device));
        let means = to_vec(mean)?;
        for (i, label) in chunk.labels.iter().enumerate() {
            points.push((means[2 * i] as f64, means[2 * i + 1] as f64, *label));
        }
    }
    latent_scatter(path, "vae: test images' latent means by label", &points).with_path(path)?;
    Ok(path.to_path_buf())
}

/// The standard normal's quantile function (Acklam's rational approximation, relative error
/// below 1.2e-9), for `p` in (0, 1).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::normal_quantile;

    #[test]
    fn normal_quantiles() {
        assert!(normal_quantile(0.5).abs() < 1e-9);
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-8);
        assert!((normal_quantile(0.01) + 2.326347874040841).abs() < 1e-8);
    }
}
