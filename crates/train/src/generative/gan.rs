//! `gan` (items 6, 8, 15): the DCGAN recipe, its two-optimiser trainer (alternating or
//! simultaneous updates), `zoo sample` (a grid of new digits) and `zoo eval --judge` (see `judge.rs`).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::sigmoid;
use zoo_data::ImageSet;
use zoo_models::{Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, IMAGE_SIDE, bernoulli_nll};

use super::{load_module, load_optimizer, module_bytes, optimizer_bytes, picture_path, read_module, to_vec};
use crate::accumulate::HeldGradients;
use crate::average::update_average;
use crate::dashboard::MetricSpec;
use crate::error::{Result, ResultExt};
use crate::fit::{FitConfig, LrSchedule};
use crate::image_training::{ImageRecipe, ImageTrainer};
use crate::loader::ImageBatch;
use crate::plot::image_grid;
use crate::recipes::Recipe;
use crate::run::{RunDir, RunInfo};

/// Recipe of `gan` (items 6, 8, 15): what `config.json` holds.
#[derive(Config, Debug)]
pub struct GanRecipe {
    pub generator: GeneratorConfig,
    pub discriminator: DiscriminatorConfig,
    /// Adam for both networks (the learning rate is `fit.learning_rate`); `beta_1` 0.5 as in
    /// the DCGAN paper (Keras' default 0.9 learns far slower here).
    pub optimizer: AdamConfig,
    pub fit: FitConfig,
    /// Decay of the generator's exponential moving average (`average = decay average + (1 -
    /// decay) trained` after each step), which draws the pictures and is what `zoo sample` and
    /// `zoo eval` use; 0 or absent: the trained generator itself. The default 0.999 averages
    /// over about the last 1,000 steps (4 epochs at batch 256); early steps use less (see
    /// [`GanRecipe::decay_at`]).
    pub average: Option<f64>,
    /// Weight of the mode-seeking term (Mao et al. 2019, MSGAN) in the generator's loss: each
    /// batch draws its fakes in pairs asked for the same classes from different noise, and the
    /// generator's loss gains `weight / (mean |G(z1) - G(z2)| / mean |z1 - z2| + 1e-5)`, which
    /// grows as two noises give the same picture. Against a class-conditional generator
    /// drawing one picture per class. 0 or absent: off.
    pub diversity: Option<f64>,
    /// Both players' steps from the same parameters, as the TensorFlow tutorial computes them
    /// (true): G's loss reads D before D's step, and D's step reads the fakes G made before its
    /// own (the tutorial also reuses one pass of D over the fakes for both losses, where zoo
    /// runs two, with two dropout masks). False or absent: D's step first, then G's against the updated D (PyTorch's DCGAN
    /// example).
    pub simultaneous: Option<bool>,
}

impl GanRecipe {
    /// The mode-seeking term's weight, when the recipe asks for it.
    pub fn diversity_weight(&self) -> Option<f64> {
        self.diversity.filter(|weight| *weight > 0.0)
    }

    /// The moving average's decay, when the recipe keeps an average.
    pub fn decay(&self) -> Option<f64> {
        self.average.filter(|decay| *decay > 0.0)
    }

    /// The decay of update `step` (from 0): `min(decay, (1 + step) / (10 + step))`, as
    /// TensorFlow's `ExponentialMovingAverage` with `num_updates`, so that the random initial
    /// weights do not linger in the average (at 0.999 alone they would still weigh 10 % after
    /// 10 epochs).
    pub fn decay_at(decay: f64, step: u64) -> f64 {
        decay.min((1.0 + step as f64) / (10.0 + step as f64))
    }
}

impl Recipe for GanRecipe {
    const NAME: &'static str = "gan";

    fn default_recipe() -> Self {
        // TensorFlow's DCGAN tutorial: Adam 1e-4 (Keras' epsilon 1e-7) for both, batch 256,
        // 50 epochs, constant rate; but β1 0.5, the DCGAN paper's, not Keras' 0.9: after 4
        // epochs Fréchet distance 465 and 50 % of the digits judged confidently, where β1 0.9
        // had 1,127 and 18 % after 3 and 453 and 39 % after 6. 5 % of the images are held out
        // to watch D(x) on images it never trained on.
        let fit = FitConfig::new()
            .with_epochs(50)
            .with_batch_size(256)
            .with_learning_rate(1e-4)
            .with_schedule(LrSchedule::Constant)
            .with_valid_fraction(0.05);
        Self::new(
            GeneratorConfig::new(),
            DiscriminatorConfig::new(),
            AdamConfig::new().with_beta_1(0.5).with_epsilon(1e-7),
            fit,
        )
        .with_average(Some(0.999))
    }
}

crate::fit_recipe!(GanRecipe);

impl ImageRecipe for GanRecipe {
    type Trainer = GanTrainer;
    fn validate(&self) -> std::result::Result<(), String> {
        let (g, d) = (self.generator.classes, self.discriminator.classes);
        if g != d {
            return Err(format!(
                "generator.classes {g} and discriminator.classes {d}: a conditional GAN's two networks read the same classes (0 for neither)"
            ));
        }
        if g > 0 && !self.fit.classes.is_empty() && g != self.fit.classes.len() {
            return Err(format!("generator.classes {g}: fit.classes keeps {} classes", self.fit.classes.len()));
        }
        let (epsilon, momentum) = (self.generator.norm_epsilon, self.generator.norm_momentum);
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(format!(
                "generator.norm_epsilon {epsilon}: batch norm's epsilon must be above 0 (Burn's 1e-5, Keras' 1e-3)"
            ));
        }
        if !(momentum > 0.0 && momentum <= 1.0) {
            return Err(format!(
                "generator.norm_momentum {momentum}: the running statistics' momentum must be above 0 and at most 1 (Burn's 0.1; Keras' momentum=0.99 is 0.01)"
            ));
        }
        if let Some(weight) = self.diversity.filter(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(format!("diversity {weight}: the mode-seeking term's weight must be 0 or more (0: off)"));
        }
        match self.average {
            Some(decay) if !(0.0..1.0).contains(&decay) => {
                Err(format!("average {decay}: the moving average's decay must be at least 0 and below 1 (0: none)"))
            }
            _ => Ok(()),
        }
    }
    fn trainer(&self, device: &Device) -> GanTrainer {
        device.seed(self.fit.seed);
        let train_device = device.clone().autodiff();
        // A conditional run's pictures: a row of 8 per class.
        let classes = self.generator.classes;
        let pictures = if classes > 0 { 8 * classes } else { 64 };
        let fixed = Tensor::<2>::random([pictures, self.generator.noise], Distribution::Normal(0.0, 1.0), device);
        let fixed_labels = (classes > 0).then(|| row_labels(classes, 8, device));
        let generator = self.generator.init(&train_device);
        GanTrainer {
            // `valid` copies to the plain device with running statistics of its own.
            average: self.decay().map(|_| generator.valid()),
            average_updates: 0,
            generator,
            discriminator: self.discriminator.init(&train_device),
            optimizer_g: self.fit.build_optimizer(&self.optimizer, 0.0),
            optimizer_d: self.fit.build_optimizer(&self.optimizer, 0.0),
            held_g: HeldGradients::default(),
            held_d: HeldGradients::default(),
            recipe: self.clone(),
            fixed,
            fixed_labels,
            train_device,
            device: device.clone(),
        }
    }
}

pub struct GanTrainer {
    pub generator: Generator,
    /// The exponential moving average of `generator` (plain device), when the recipe keeps one.
    pub average: Option<Generator>,
    /// Updates of `average` so far (for the warm-up of its decay); a resumed run counts as
    /// warmed up.
    average_updates: u64,
    pub discriminator: Discriminator,
    optimizer_g: ModuleOptimizer,
    optimizer_d: ModuleOptimizer,
    /// Each player's gradients gathered for its next step (`fit.accumulate_batches`).
    held_g: HeldGradients,
    held_d: HeldGradients,
    recipe: GanRecipe,
    /// Fixed noise vectors: the same digits drawn every epoch (64, or 8 per class).
    fixed: Tensor<2>,
    /// The classes of `fixed` (conditional runs): 8 of each, row by row.
    fixed_labels: Option<Tensor<1, Int>>,
    train_device: Device,
    device: Device,
}

/// What one discriminator or generator step measured.
#[derive(Clone, Copy, Debug)]
pub struct StepMetrics {
    pub loss: f64,
    /// Mean probability D gives real images.
    pub d_real: f64,
    /// Mean probability D gives generated images.
    pub d_fake: f64,
}

/// Training-mode passes that recompute an averaged generator's batch-norm running statistics
/// from its own activations ("standing statistics"): the averaged statistics mix those of the
/// generators it averaged over and do not match the averaged weights (its digits came out
/// thin and broken where the trained generator's strokes were whole).
const STANDING_PASSES: usize = 30;

/// `generator` (plain device) in inference mode with its running statistics the mean of the
/// batch statistics of [`STANDING_PASSES`] batches of 256 noise vectors (pass `k` counts with
/// momentum `1 / k`; the old values count for nothing).
pub fn standing_statistics(generator: Generator, device: &Device) -> Generator {
    let train_device = device.clone().autodiff();
    // `train` re-enables batch norm's training mode on a module `valid` had switched off;
    // `no_grad` keeps it while recording no autodiff graph (30 untracked passes' graphs had
    // taken 2 GB).
    let mut generator = generator.fork(&train_device).train().no_grad();
    let momentum = generator.norm_momentum();
    for pass in 1..=STANDING_PASSES {
        generator.set_norm_momentum(1.0 / pass as f64);
        let noise = Tensor::<2>::random([256, generator.noise_size()], Distribution::Normal(0.0, 1.0), &train_device);
        drop(generator.forward(noise));
    }
    generator.set_norm_momentum(momentum);
    generator.valid()
}

/// `per_row` of class 0, then `per_row` of class 1, ...: the labels of a grid with one row per
/// class.
///
/// # Shapes
/// - output: `[classes * per_row]`
pub fn row_labels(classes: usize, per_row: usize, device: &Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::arange(0..(classes * per_row) as i64, device).div_scalar(per_row as i64)
}

/// Labels for `batch` fakes drawn in pairs: the first `batch / 2` at random, the next `batch / 2`
/// the same again (what the mode-seeking term compares), an odd last one at random.
fn paired_labels(batch: usize, classes: usize, device: &Device) -> Tensor<1, Int> {
    let half = random_labels(batch / 2, classes, device);
    let mut parts = vec![half.clone(), half];
    if batch % 2 == 1 {
        parts.push(random_labels(1, classes, device));
    }
    Tensor::cat(parts, 0)
}

/// The mode-seeking term of `fake` images made from `noise`, the first half of the batch
/// paired with the second: `1 / (mean |G(z1) - G(z2)| / mean |z1 - z2| + 1e-5)`.
///
/// # Shapes
/// - fake: `[batch, 1, 28, 28]`; noise: `[batch, noise]` (batch ≥ 2); output: `[1]`
pub fn mode_seeking_term(fake: Tensor<4>, noise: Tensor<2>) -> Tensor<1> {
    let half = fake.dims()[0] / 2;
    let apart = |t: Tensor<2>| (t.clone().narrow(0, 0, half) - t.narrow(0, half, half)).abs().mean();
    let images_apart = apart(fake.flatten(1, 3));
    let noise_apart = apart(noise);
    (images_apart / noise_apart + 1e-5).recip()
}

/// `batch` classes drawn uniformly from `0..classes` on `device`.
fn random_labels(batch: usize, classes: usize, device: &Device) -> Tensor<1, Int> {
    Tensor::<1>::random([batch], Distribution::Uniform(0.0, classes as f64), device)
        .floor()
        .int()
        .clamp(0, classes as i64 - 1)
}

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

/// `[batch]` logits against an all-real (1) or all-generated (0) label: binary cross-entropy
/// from logits, averaged.
fn bce_against(logits: Tensor<1>, real: bool) -> Tensor<1> {
    let targets = if real { logits.ones_like() } else { logits.zeros_like() };
    bernoulli_nll(logits, targets).mean()
}

impl GanTrainer {
    /// Noise for `batch` images on the training device.
    pub fn noise(&self, batch: usize) -> Tensor<2> {
        Tensor::random([batch, self.recipe.generator.noise], Distribution::Normal(0.0, 1.0), &self.train_device)
    }

    /// Images from `noise`, in training mode (batch norm on the batch's statistics), with the
    /// generator's graph: the discriminator step reads them detached, the generator step
    /// backpropagates through them. One generator pass serves both steps of a batch: the
    /// discriminator's step reads pictures of the generator from before its own step, in either
    /// order.
    ///
    /// # Shapes
    /// - noise: `[batch, noise]`; output: `[batch, 1, 28, 28]` in `[-1, 1]`
    pub fn generate(&self, noise: Tensor<2>) -> Tensor<4> {
        self.generator.forward(noise)
    }

    /// Classes of a conditional GAN (0: unconditional).
    pub fn classes(&self) -> usize {
        self.recipe.generator.classes
    }

    /// The discriminator's loss on `real` images (in `[-1, 1]`) and on `fake` ones, which it
    /// detaches: this loss sends no gradient into the generator.
    pub fn discriminator_loss(&self, real: Tensor<4>, fake: Tensor<4>) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
        self.discriminator_loss_with(real, fake, None)
    }

    /// [`discriminator_loss`](Self::discriminator_loss) of a conditional GAN: `labels` are the
    /// real images' classes and those the fakes were asked for.
    pub fn discriminator_loss_with(
        &self,
        real: Tensor<4>,
        fake: Tensor<4>,
        labels: Option<(Tensor<1, Int>, Tensor<1, Int>)>,
    ) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
        let (real_labels, fake_labels) = labels.map_or((None, None), |(r, f)| (Some(r), Some(f)));
        let real_logits = self.discriminator.forward_with(real, real_labels);
        let fake_logits = self.discriminator.forward_with(fake.detach(), fake_labels);
        let loss = bce_against(real_logits.clone(), true) + bce_against(fake_logits.clone(), false);
        (loss, sigmoid(real_logits).mean(), sigmoid(fake_logits).mean())
    }

    /// One discriminator update (with `lr`; without, its gradients wait for the next step).
    pub fn discriminator_step(
        &mut self,
        real: Tensor<4>,
        fake: Tensor<4>,
        lr: Option<&ModuleLearningRate>,
    ) -> StepMetrics {
        self.discriminator_step_with(real, fake, None, lr)
    }

    /// [`discriminator_step`](Self::discriminator_step) with the classes of a conditional GAN.
    pub fn discriminator_step_with(
        &mut self,
        real: Tensor<4>,
        fake: Tensor<4>,
        labels: Option<(Tensor<1, Int>, Tensor<1, Int>)>,
        lr: Option<&ModuleLearningRate>,
    ) -> StepMetrics {
        let (loss, d_real, d_fake) = self.discriminator_loss_with(real, fake, labels);
        let metrics = StepMetrics { loss: scalar(loss.clone()), d_real: scalar(d_real), d_fake: scalar(d_fake) };
        let grads = GradientsParams::from_grads(loss.backward(), &self.discriminator);
        self.discriminator = self.held_d.step(&mut self.optimizer_d, self.discriminator.clone(), grads, lr);
        metrics
    }

    /// The generator that draws (pictures, `zoo sample`, `zoo eval`), in inference mode: the
    /// average when the recipe keeps one, else the trained generator.
    pub fn drawing(&self) -> Generator {
        self.average.as_ref().map_or_else(|| self.generator.valid(), Module::valid)
    }

    /// One generator update on `fake` (from [`generate`](Self::generate), graph attached): the
    /// generator learns to make D call its images real. Only the generator's optimiser steps,
    /// so no discriminator parameter changes. Without `lr` the gradients wait for the next step.
    pub fn generator_step(&mut self, fake: Tensor<4>, lr: Option<&ModuleLearningRate>) -> f64 {
        self.generator_step_with(fake, None, lr)
    }

    /// [`generator_step`](Self::generator_step) of a conditional GAN: `labels` are the classes
    /// the fakes were asked for, which the discriminator judges them as.
    pub fn generator_step_with(
        &mut self,
        fake: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
        lr: Option<&ModuleLearningRate>,
    ) -> f64 {
        self.generator_update(fake, labels, None, lr)
    }

    /// The generator's update: its adversarial loss (the value returned), plus `extra` (the
    /// weighted mode-seeking term) in what it descends.
    fn generator_update(
        &mut self,
        fake: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
        extra: Option<Tensor<1>>,
        lr: Option<&ModuleLearningRate>,
    ) -> f64 {
        let loss = bce_against(self.discriminator.forward_with(fake, labels), true);
        let value = scalar(loss.clone());
        let loss = match extra {
            Some(extra) => loss + extra,
            None => loss,
        };
        let grads = GradientsParams::from_grads(loss.backward(), &self.generator);
        self.generator = self.held_g.step(&mut self.optimizer_g, self.generator.clone(), grads, lr);
        if lr.is_none() {
            return value;
        }
        if let (Some(average), Some(decay)) = (self.average.take(), self.recipe.decay()) {
            let decay = GanRecipe::decay_at(decay, self.average_updates);
            self.average = Some(update_average(average, &self.generator, decay));
            self.average_updates += 1;
        }
        value
    }
}

/// Pixels in `[0, 1]` -> the GAN's `[-1, 1]`.
fn to_gan_range(images: Tensor<4>) -> Tensor<4> {
    images * 2.0 - 1.0
}

/// Generated images back to `[0, 1]` for pictures and the judge.
pub fn to_pixels(images: Tensor<4>) -> Tensor<4> {
    (images + 1.0) / 2.0
}

impl ImageTrainer for GanTrainer {
    const METRICS: &'static [MetricSpec] = &[
        MetricSpec::lower("D Loss"),
        MetricSpec::lower("G Loss"),
        MetricSpec::lower("D(x)"),
        MetricSpec::higher("D(G(z))"),
        MetricSpec::lower("Learning Rate"),
    ];
    const PARTS: &'static [&'static str] =
        &["generator.bpk", "discriminator.bpk", "optim_g.bpk", "optim_d.bpk", "generator_average.bpk"];

    fn metrics(&self) -> Vec<MetricSpec> {
        let mut metrics = Self::METRICS.to_vec();
        if self.recipe.diversity_weight().is_some() {
            // The weighted term, training batches only.
            metrics.push(MetricSpec::lower("Mode Seeking"));
        }
        metrics
    }

    fn train_device(&self) -> Device {
        self.train_device.clone()
    }
    fn device(&self) -> Device {
        self.device.clone()
    }

    fn train_batch(&mut self, batch: ImageBatch, lr: Option<&ModuleLearningRate>) -> Vec<(&'static str, f64)> {
        let (images, targets) = (batch.images, batch.targets);
        let batch = images.dims()[0];
        // A conditional GAN asks for classes drawn at random and shows D each image's class;
        // with the mode-seeking term, in pairs (two noises, one class).
        let diversity = self.recipe.diversity_weight().filter(|_| batch >= 2);
        let draw_labels = if diversity.is_some() { paired_labels } else { random_labels };
        let asked = (self.classes() > 0).then(|| draw_labels(batch, self.classes(), &self.train_device));
        let noise = self.noise(batch);
        let fake = self.generator.forward_with(noise.clone(), asked.clone());
        let labels = asked.clone().map(|asked| (targets, asked));
        let real = to_gan_range(images);
        let mode_seeking = diversity.map(|weight| mode_seeking_term(fake.clone(), noise) * weight);
        let term = mode_seeking.as_ref().map(|t| scalar(t.clone()));
        // The discriminator step reads `fake` detached: made before G's step, it is what the
        // tutorial's D step reads when G's step comes first.
        let (d, g) = if self.recipe.simultaneous == Some(true) {
            let g = self.generator_update(fake.clone(), asked, mode_seeking, lr);
            (self.discriminator_step_with(real, fake, labels, lr), g)
        } else {
            let d = self.discriminator_step_with(real, fake.clone(), labels, lr);
            (d, self.generator_update(fake, asked, mode_seeking, lr))
        };
        let mut metrics = vec![("D Loss", d.loss), ("G Loss", g), ("D(x)", d.d_real), ("D(G(z))", d.d_fake)];
        metrics.extend(term.map(|t| ("Mode Seeking", t)));
        metrics
    }

    fn valid_batch(&mut self, batch: ImageBatch) -> Vec<(&'static str, f64)> {
        let (images, targets) = (batch.images, batch.targets);
        let batch = images.dims()[0];
        let (generator, discriminator) = (self.generator.valid(), self.discriminator.valid());
        let noise = Tensor::random([batch, self.recipe.generator.noise], Distribution::Normal(0.0, 1.0), &self.device);
        let conditional = self.classes() > 0;
        let asked = conditional.then(|| random_labels(batch, self.classes(), &self.device));
        let fake_logits = discriminator.forward_with(generator.forward_with(noise, asked.clone()), asked);
        let real_logits = discriminator.forward_with(to_gan_range(images), conditional.then_some(targets));
        let d_loss = bce_against(real_logits.clone(), true) + bce_against(fake_logits.clone(), false);
        vec![
            ("D Loss", scalar(d_loss)),
            ("G Loss", scalar(bce_against(fake_logits.clone(), true))),
            ("D(x)", scalar(sigmoid(real_logits).mean())),
            ("D(G(z))", scalar(sigmoid(fake_logits).mean())),
        ]
    }

    fn pictures(&mut self, run: &RunDir, epoch: usize, _valid: &ImageSet) -> Result<()> {
        // The checkpoint written next keeps the average with these statistics.
        if let Some(average) = self.average.take() {
            self.average = Some(standing_statistics(average, &self.device));
        }
        let path = run.file(&format!("samples/epoch-{epoch:03}.png"));
        let pixels = to_vec(to_pixels(self.drawing().forward_with(self.fixed.clone(), self.fixed_labels.clone())))?;
        image_grid(&path, &pixels, IMAGE_SIDE, 8, 2).with_path(&path)
    }

    fn save(&self) -> Result<Vec<Vec<u8>>> {
        Ok(vec![
            module_bytes(&self.generator)?,
            module_bytes(&self.discriminator)?,
            optimizer_bytes(&self.optimizer_g)?,
            optimizer_bytes(&self.optimizer_d)?,
            // Without an average, its part holds the trained generator: one checkpoint layout.
            module_bytes(&self.drawing())?,
        ])
    }

    fn load(&mut self, parts: Vec<Vec<u8>>) -> Result<()> {
        let [generator, discriminator, optim_g, optim_d, average]: [Vec<u8>; 5] =
            parts.try_into().map_err(|_| crate::error::ZooError::runtime("a GAN checkpoint has five parts"))?;
        let at = Path::new("checkpoint");
        self.generator = load_module(self.recipe.generator.init(&self.train_device), generator, at)?;
        self.discriminator = load_module(self.recipe.discriminator.init(&self.train_device), discriminator, at)?;
        self.optimizer_g = load_optimizer(self.recipe.fit.build_optimizer(&self.recipe.optimizer, 0.0), optim_g)?;
        self.optimizer_d = load_optimizer(self.recipe.fit.build_optimizer(&self.recipe.optimizer, 0.0), optim_d)?;
        if self.average.is_some() {
            self.average = Some(load_module(self.recipe.generator.init(&self.device), average, at)?);
            self.average_updates = u64::MAX / 2;
        }
        Ok(())
    }

    fn describe_outputs(&self) -> &'static str {
        "pictures samples/"
    }

    fn final_weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        let mut files = vec![
            ("generator.bpk", module_bytes(&self.drawing())?),
            ("discriminator.bpk", module_bytes(&self.discriminator.valid())?),
        ];
        if self.average.is_some() {
            files.push(("generator-trained.bpk", module_bytes(&self.generator.valid())?));
        }
        Ok(files)
    }
}

/// A run's generator in inference mode (batch norm with its running statistics): the one that
/// draws (the moving average, when the recipe keeps one) or with `trained` the trained one; the
/// final weights, or the latest checkpoint's of a run still training. Also says which it is:
/// `moving average` or `trained`.
pub fn load_generator(
    run_dir: &Path,
    trained: bool,
    device: &Device,
) -> Result<(RunDir, RunInfo, Generator, &'static str)> {
    let (run, info) = RunDir::open(run_dir, GanRecipe::NAME)?;
    let recipe: GanRecipe = run.read_recipe()?;
    // Without an average, generator.bpk (and the checkpoints' generator_average part) hold the
    // trained generator.
    let averaged = recipe.decay().is_some();
    let (final_name, part) =
        if averaged && trained { ("generator-trained", "generator") } else { ("generator", "generator_average") };
    let average = averaged && !trained;
    let final_weights = run.file(&format!("{final_name}.bpk"));
    let path = match crate::trainer::latest_checkpoint::<crate::image_training::ImageTraining<GanTrainer>>(&run) {
        Some(epoch) if !final_weights.is_file() => {
            eprintln!("{}: no final weights yet; using the checkpoint of epoch {epoch}", run_dir.display());
            run.checkpoint_dir().join(format!("{part}-{epoch}.bpk"))
        }
        _ => final_weights,
    };
    let generator = read_module(recipe.generator.init(device), &path)?;
    let generator = if average { standing_statistics(generator, device) } else { generator }.valid();
    Ok((run, info, generator, if average { "moving average" } else { "trained" }))
}

/// `n` generated images as pixels in `[0, 1]`, `[n, 1, 28, 28]`, in chunks of 500.
pub fn generate(generator: &Generator, n: usize, device: &Device) -> Vec<Tensor<4>> {
    (0..n)
        .step_by(500)
        .map(|start| {
            let size = 500.min(n - start);
            let noise = Tensor::random([size, generator.noise_size()], Distribution::Normal(0.0, 1.0), device);
            to_pixels(generator.forward(noise))
        })
        .collect()
}

/// The labels of `n` pictures of `digit`, for `generator`: a usage error when it is not
/// class-conditional or has no such class.
///
/// # Shapes
/// - output: `[n]`
pub fn asked_digit(generator: &Generator, digit: u8, n: usize, device: &Device) -> Result<Tensor<1, Int>> {
    match generator.classes() {
        0 => Err(crate::error::ZooError::usage(
            "this gan run's generator is not class-conditional; to ask for a digit, train one with `zoo train gan --config recipes/gan-conditional.json`",
        )),
        classes if usize::from(digit) >= classes => Err(crate::error::ZooError::usage(format!(
            "digit {digit}: this generator draws classes 0 to {}",
            classes - 1
        ))),
        _ => Ok(Tensor::<1, Int>::full([n], i64::from(digit), device)),
    }
}

/// `zoo sample gan`: a grid of `n` new images; of a conditional run, `n` of `digit`, or without
/// one a row per class.
pub fn sample(
    run_dir: &Path,
    n: usize,
    seed: u64,
    trained: bool,
    digit: Option<u8>,
    out: Option<&Path>,
    device: &Device,
) -> Result<Vec<PathBuf>> {
    // Seeded first: the standing statistics of an averaged generator draw noise too.
    device.seed(seed);
    let (run, _, generator, _) = load_generator(run_dir, trained, device)?;
    if let Some(file) = out.filter(|o| o.extension().is_some_and(|e| e == "idx")) {
        // The pictures `zoo eval gan --seed` judges, as bytes: seeded again as the judge is, and
        // rounded to 8 bits as its `as_stored` does.
        device.seed(seed);
        let pictures: Vec<Vec<f32>> = generate(&generator, n, device).into_iter().map(to_vec).collect::<Result<_>>()?;
        let bytes: Vec<u8> = pictures.concat().iter().map(|&v| (v * 255.0).round().clamp(0.0, 255.0) as u8).collect();
        let idx = zoo_data::idx::image_file_bytes(&bytes, IMAGE_SIDE, IMAGE_SIDE);
        crate::checkpoint::atomic_write(file, &idx).with_path(file)?;
        return Ok(vec![file.to_path_buf()]);
    }
    let classes = generator.classes();
    let path = picture_path(&run, out, "samples.png");
    let (labels, columns) = match (digit, classes) {
        (Some(d), _) => (Some(asked_digit(&generator, d, n, device)?), 8),
        (None, 0) => (None, 8),
        (None, classes) => {
            let per_row = n.div_ceil(classes);
            (Some(row_labels(classes, per_row, device)), per_row)
        }
    };
    let pixels = match labels {
        None => generate(&generator, n, device).into_iter().map(to_vec).collect::<Result<Vec<_>>>()?.concat(),
        Some(labels) => {
            let noise =
                Tensor::<2>::random([labels.dims()[0], generator.noise_size()], Distribution::Normal(0.0, 1.0), device);
            to_vec(to_pixels(generator.forward_with(noise, Some(labels))))?
        }
    };
    image_grid(&path, &pixels, IMAGE_SIDE, columns, 2).with_path(&path)?;
    Ok(vec![path])
}

pub use super::judge::eval as judge_eval;
