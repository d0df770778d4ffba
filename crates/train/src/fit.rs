//! Settings shared by every supervised recipe, and the command-line overrides of them.

use burn::optim::lr_scheduler::LrSchedulerConfig;
use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::lr_scheduler::linear::LinearLrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLrScheduler, ModuleLrSchedulerConfig};
use burn::optim::lr_scheduler::sequential::SequentialLrSchedulerConfig;
use burn::optim::lr_scheduler::step::StepLrSchedulerConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use burn::prelude::*;

/// Which optimiser takes the steps (`fit.optimizer`).
#[derive(Config, Debug, Copy, PartialEq)]
pub enum Optimizer {
    /// Adam with the recipe's `optimizer` settings (moments, epsilon, clipping); AdamW when the
    /// recipe has `regularization.weight_decay`.
    Adam,
    /// Stochastic gradient descent with momentum, as PyTorch's `SGD(momentum, nesterov)` (no
    /// dampening); a recipe's weight decay is added to the gradient as PyTorch's SGD does, and
    /// the `optimizer` section's gradient clipping applies.
    Sgd { momentum: f64, nesterov: bool },
}

/// How the learning rate moves during training.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum LrSchedule {
    /// `learning_rate` throughout, as Keras' `fit` does.
    Constant,
    /// From `learning_rate` down to 0 along a half cosine over all the steps of the run: the
    /// last epochs take small steps, which is worth a few tenths of a percent of accuracy.
    Cosine,
    /// A linear warm-up from a hundredth of `learning_rate` over the first `warmup_epochs`,
    /// then the cosine decay over the rest.
    WarmupCosine { warmup_epochs: usize },
    /// `learning_rate` times `factor` every `every_epochs` epochs (step decay).
    Step { every_epochs: usize, factor: f64 },
}

/// How a recipe is fitted: epochs, batch, learning rate, seed and validation split.
#[derive(Config, Debug)]
pub struct FitConfig {
    /// Passes over the training data.
    #[config(default = 5)]
    pub epochs: usize,
    /// Samples per batch (an optimiser step takes `accumulate_batches` batches).
    #[config(default = 64)]
    pub batch_size: usize,
    /// Gradient accumulation: each optimiser step takes the mean gradient of this many
    /// batches (an epoch's last step what is left of it), so `batch_size x accumulate_batches`
    /// samples shape a step while memory holds one batch; 1: a step every batch.
    #[config(default = 1)]
    pub accumulate_batches: usize,
    /// Adam's step size.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Seeds the weights, the shuffling and the validation split.
    #[config(default = 42)]
    pub seed: u64,
    /// Share of the training set held out for validation (chosen by the seed).
    #[config(default = 0.1)]
    pub valid_fraction: f64,
    /// Augmentation: move each training image by up to this many pixels in x and y, anew
    /// every epoch (0: off).
    #[config(default = 0)]
    pub max_shift: usize,
    /// Augmentation: rotate each training image by a random angle of up to this many degrees
    /// either way, anew every epoch (0: off).
    #[config(default = 0.0)]
    pub max_rotation: f64,
    /// Augmentation: scale each training image about its centre by a random factor between
    /// `1 - max_scale` and `1 + max_scale` (0: off).
    #[config(default = 0.0)]
    pub max_scale: f64,
    /// Augmentation: cut a random square window whose side is between `min_crop` and the whole
    /// of the image's side, and stretch it back to the image's size (1: off).
    #[config(default = 1.0)]
    pub min_crop: f64,
    /// When to end the run before its last epoch (off by default).
    #[config(default = "EarlyStopping::new()")]
    pub early_stopping: EarlyStopping,
    /// How the learning rate changes over the run.
    #[config(default = "LrSchedule::Cosine")]
    pub schedule: LrSchedule,
    /// The optimiser: `"Adam"`, or `{"Sgd": {"momentum": 0.9, "nesterov": false}}`.
    #[config(default = "Optimizer::Adam")]
    pub optimizer: Optimizer,
    /// Use only the first N training samples (0: all); for quick trial runs.
    #[config(default = 0)]
    pub limit: usize,
    /// Train and evaluate on these classes only, renumbered from 0 in this order (`[5, 6, 7,
    /// 8, 9]`: digits 5-9 as classes 0-4); empty: every class.
    #[config(default = "Vec::new()")]
    pub classes: Vec<u8>,
    /// Keep this share of the training images' labels (the same share of each class, chosen
    /// by the seed), as when only a few are labelled; 1: all.
    #[config(default = 1.0)]
    pub label_fraction: f64,
}

/// Early stopping: end the run when a validation metric has stopped improving. The best
/// epoch's weights become the run's model (`model.bpk`) and the last epoch's are kept as
/// `last.bpk`.
#[derive(Config, Debug, PartialEq)]
pub struct EarlyStopping {
    /// Epochs in a row without improvement that end the run (0: off).
    #[config(default = 0)]
    pub patience: usize,
    /// The smallest change of the metric that counts as an improvement.
    #[config(default = 0.0)]
    pub min_delta: f64,
    /// The validation metric watched (`Loss`, `Accuracy`, ...); its direction is the metric's
    /// own (lower loss, higher accuracy is better).
    #[config(default = "String::from(\"Loss\")")]
    pub metric: String,
}

impl EarlyStopping {
    /// Stop after `patience` epochs without improvement of `metric`.
    pub fn on(metric: &str, patience: usize) -> Self {
        Self::new().with_metric(metric.to_string()).with_patience(patience)
    }

    /// Whether the rule is on.
    pub fn is_on(&self) -> bool {
        self.patience > 0
    }
}

/// The common flags of `zoo train`, each overriding the recipe's value when given.
#[derive(Clone, Debug, Default)]
pub struct FitOverrides {
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub learning_rate: Option<f64>,
    pub seed: Option<u64>,
    pub limit: Option<usize>,
}

impl FitOverrides {
    pub fn apply(&self, fit: &mut FitConfig) {
        if let Some(v) = self.epochs {
            fit.epochs = v;
        }
        if let Some(v) = self.batch_size {
            fit.batch_size = v;
        }
        if let Some(v) = self.learning_rate {
            fit.learning_rate = v;
        }
        if let Some(v) = self.seed {
            fit.seed = v;
        }
        if let Some(v) = self.limit {
            fit.limit = v;
        }
    }
}

impl FitConfig {
    /// The training images a run learns from: the first `limit`, of `classes` (renumbered),
    /// with `label_fraction` of each class kept (chosen by the seed).
    pub fn select_training(&self, mut set: zoo_data::ImageSet) -> Result<zoo_data::ImageSet, String> {
        if self.limit > 0 && self.limit < set.len() {
            set = set.subset(0..self.limit);
        }
        let mut set = self.select_classes(set)?;
        if self.label_fraction < 1.0 {
            let mut kept = Vec::new();
            for class in 0..set.num_classes as u8 {
                let mut members: Vec<u32> =
                    (0..set.len() as u32).filter(|&i| set.labels[i as usize] == class).collect();
                crate::loader::shuffle(&mut members, self.seed ^ 0x1ABE1 ^ u64::from(class));
                let keep =
                    ((members.len() as f64 * self.label_fraction).round() as usize).clamp(1, members.len().max(1));
                kept.extend_from_slice(&members[..keep.min(members.len())]);
            }
            kept.sort_unstable();
            set = set.pick(&kept);
        }
        Ok(set)
    }

    /// The images of `classes` (renumbered from 0), or all of them when the list is empty; a
    /// class no image has is an error naming the field.
    pub fn select_classes(&self, set: zoo_data::ImageSet) -> Result<zoo_data::ImageSet, String> {
        if self.classes.is_empty() {
            return Ok(set);
        }
        for class in &self.classes {
            if !set.labels.contains(class) {
                return Err(format!(
                    "fit.classes: no image has class {class} (the data's labels go up to {})",
                    set.num_classes.saturating_sub(1)
                ));
            }
        }
        let mut sorted = self.classes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() < self.classes.len() {
            return Err("fit.classes must name each class once".to_string());
        }
        Ok(set.only_classes(&self.classes))
    }

    /// `"N training images"`, or `"N of M training images"` under `limit`.
    pub fn describe_images(&self, available: usize) -> String {
        if self.limit > 0 && self.limit < available {
            format!("{} of {available} training images", self.limit)
        } else {
            format!("{available} training images")
        }
    }

    /// Optimiser steps in an epoch of `batches` batches.
    pub fn optimiser_steps(&self, batches: usize) -> usize {
        batches.div_ceil(self.accumulate_batches.max(1))
    }

    /// Whether the optimiser steps after batch `index` (from 0) of an epoch of `batches`: after
    /// every `accumulate_batches`-th batch, and after the epoch's last, so a checkpoint never
    /// falls inside a step.
    pub fn step_due(&self, index: usize, batches: usize) -> bool {
        (index + 1).is_multiple_of(self.accumulate_batches.max(1)) || index + 1 >= batches
    }

    /// The learning-rate scheduler for a run of `steps_per_epoch` optimiser steps an epoch.
    pub fn scheduler(&self, steps_per_epoch: usize) -> Result<ModuleLrScheduler, String> {
        self.scheduler_after(steps_per_epoch, 0, &[])
    }

    /// The schedule's configuration starting from `rate`.
    fn schedule_at(&self, rate: f64, steps_per_epoch: usize) -> LrSchedulerConfig {
        let total = (self.epochs * steps_per_epoch).max(1);
        match self.schedule {
            LrSchedule::Constant => LrSchedulerConfig::Constant(rate),
            LrSchedule::Cosine => LrSchedulerConfig::Cosine(CosineAnnealingLrSchedulerConfig::new(rate, total)),
            LrSchedule::WarmupCosine { warmup_epochs } => {
                let warm = (warmup_epochs * steps_per_epoch).clamp(1, total.saturating_sub(1).max(1));
                LrSchedulerConfig::Sequential(SequentialLrSchedulerConfig::new(
                    vec![
                        LrSchedulerConfig::Linear(LinearLrSchedulerConfig::new(rate / 100.0, rate, warm)),
                        LrSchedulerConfig::Cosine(CosineAnnealingLrSchedulerConfig::new(rate, (total - warm).max(1))),
                    ],
                    vec![warm],
                ))
            }
            LrSchedule::Step { every_epochs, factor } => LrSchedulerConfig::Step(
                StepLrSchedulerConfig::new(rate, (every_epochs * steps_per_epoch).max(1)).with_gamma(factor),
            ),
        }
    }

    /// The scheduler of a run resumed after `epochs_done` epochs: stepped to where the
    /// checkpoint left it, so the resumed run continues the same schedule. Each of `groups`
    /// learns at its share of the rate, on the same schedule.
    pub fn scheduler_after(
        &self,
        steps_per_epoch: usize,
        epochs_done: usize,
        groups: &[(burn::module::ParamGroup, f64)],
    ) -> Result<ModuleLrScheduler, String> {
        let at = |rate: f64| self.schedule_at(rate, steps_per_epoch);
        let mut config = ModuleLrSchedulerConfig::new(at(self.learning_rate));
        for (group, share) in groups {
            config = config.with_group(group.clone(), at(self.learning_rate * share));
        }
        let mut scheduler = config.init()?;
        for _ in 0..epochs_done * steps_per_epoch {
            scheduler.step();
        }
        Ok(scheduler)
    }

    /// Rejects values that would fail later with a less helpful message.
    /// The optimiser of the recipe: [`Optimizer`], with Adam's settings from `adam` and
    /// `weight_decay` from the recipe's regularisation (0: none).
    pub fn build_optimizer(&self, adam: &AdamConfig, weight_decay: f64) -> ModuleOptimizer {
        // AdamConfig's fields are private; its serialised form carries them.
        let adam_fields = serde_json::to_value(adam).unwrap_or_default();
        let field = |name: &str| adam_fields.get(name).cloned().unwrap_or_default();
        match self.optimizer {
            Optimizer::Adam if weight_decay == 0.0 => adam.init(),
            Optimizer::Adam => {
                let adamw = serde_json::json!({
                    "beta_1": field("beta_1"),
                    "beta_2": field("beta_2"),
                    "epsilon": field("epsilon"),
                    "amsgrad": field("amsgrad"),
                    "grad_clipping": field("grad_clipping"),
                    "weight_decay": weight_decay,
                    "cautious_weight_decay": false,
                });
                let adamw: AdamWConfig = serde_json::from_value(adamw).expect("AdamW takes Adam's settings");
                adamw.init()
            }
            Optimizer::Sgd { momentum, nesterov } => {
                let sgd = serde_json::json!({
                    "weight_decay": (weight_decay > 0.0).then(|| serde_json::json!({"penalty": weight_decay})),
                    "momentum": (momentum > 0.0)
                        .then(|| serde_json::json!({"momentum": momentum, "dampening": 0.0, "nesterov": nesterov})),
                    "gradient_clipping": field("grad_clipping"),
                });
                let sgd: SgdConfig = serde_json::from_value(sgd).expect("SGD's settings");
                sgd.init()
            }
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.accumulate_batches == 0 {
            return Err("fit.accumulate_batches must be at least 1 (1: a step every batch)".to_string());
        }
        if let Optimizer::Sgd { momentum, nesterov } = self.optimizer
            && (!(0.0..1.0).contains(&momentum) || (nesterov && momentum == 0.0))
        {
            return Err(format!(
                "optimizer Sgd: momentum {momentum} must be at least 0 and below 1, and above 0 with nesterov (recipe field fit.optimizer)"
            ));
        }
        if self.epochs == 0 {
            return Err("epochs must be at least 1 (--epochs N)".into());
        }
        if self.batch_size == 0 {
            return Err("batch size must be at least 1 (--batch-size N)".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(format!("learning rate {} must be in (0, 1] (--lr X)", self.learning_rate));
        }
        match self.schedule {
            LrSchedule::WarmupCosine { warmup_epochs } if warmup_epochs >= self.epochs => {
                return Err(format!(
                    "schedule WarmupCosine: warmup_epochs {warmup_epochs} must be fewer than the run's {} epochs (recipe field fit.schedule)",
                    self.epochs
                ));
            }
            LrSchedule::Step { every_epochs, factor } if every_epochs == 0 || !(factor > 0.0 && factor <= 1.0) => {
                return Err(format!(
                    "schedule Step: every_epochs {every_epochs} must be at least 1 and factor {factor} in (0, 1] (recipe field fit.schedule)"
                ));
            }
            _ => {}
        }
        if !(0.0..=180.0).contains(&self.max_rotation) {
            return Err(format!(
                "max_rotation {} must be between 0 and 180 degrees (recipe field fit.max_rotation)",
                self.max_rotation
            ));
        }
        if !(0.0..1.0).contains(&self.max_scale) {
            return Err(format!(
                "max_scale {} must be at least 0 and below 1 (recipe field fit.max_scale)",
                self.max_scale
            ));
        }
        if !(self.min_crop > 0.0 && self.min_crop <= 1.0) {
            return Err(format!(
                "min_crop {} must be above 0 and at most 1 (recipe field fit.min_crop)",
                self.min_crop
            ));
        }
        if self.early_stopping.min_delta.is_nan() || self.early_stopping.min_delta < 0.0 {
            return Err(format!(
                "early_stopping.min_delta {} must be 0 or more (recipe field fit.early_stopping.min_delta)",
                self.early_stopping.min_delta
            ));
        }
        if !(self.label_fraction > 0.0 && self.label_fraction <= 1.0) {
            return Err(format!(
                "label_fraction {} must be above 0 and at most 1 (recipe field fit.label_fraction)",
                self.label_fraction
            ));
        }
        if self.valid_fraction.is_nan() || self.valid_fraction <= 0.0 || self.valid_fraction >= 1.0 {
            return Err(format!(
                "valid_fraction {} must be between 0 and 1 (recipe field fit.valid_fraction)",
                self.valid_fraction
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 one-pixel images: 60 of class 1, 30 of class 3, 10 of class 0.
    fn set() -> zoo_data::ImageSet {
        let labels: Vec<u8> = (0..100)
            .map(|i| {
                if i < 60 {
                    1
                } else if i < 90 {
                    3
                } else {
                    0
                }
            })
            .collect();
        zoo_data::ImageSet::new((0..100).map(|i| i as u8).collect(), labels, 1, 1).unwrap()
    }

    /// The learning rate of each of `steps` steps.
    fn rates(fit: &FitConfig, steps_per_epoch: usize) -> Vec<f64> {
        let mut scheduler = fit.scheduler(steps_per_epoch).unwrap();
        (0..fit.epochs * steps_per_epoch).map(|_| scheduler.step().base()).collect()
    }

    #[test]
    fn schedules_warm_up_decay_and_step() {
        let fit = FitConfig::new().with_epochs(4).with_learning_rate(0.1);
        let cosine = rates(&fit.clone().with_schedule(LrSchedule::Cosine), 10);
        assert!((cosine[0] - 0.1).abs() < 1e-12 && cosine[39] < 1e-3, "{cosine:?}");
        let warm = rates(&fit.clone().with_schedule(LrSchedule::WarmupCosine { warmup_epochs: 1 }), 10);
        assert!((warm[0] - 0.001).abs() < 1e-9, "starts at a hundredth: {warm:?}");
        assert!(warm[..10].windows(2).all(|w| w[1] > w[0]), "rises over the first epoch: {warm:?}");
        assert!((warm[10] - 0.1).abs() < 1e-9 && warm[39] < 1e-3, "then the cosine: {warm:?}");
        let step = rates(&fit.clone().with_schedule(LrSchedule::Step { every_epochs: 2, factor: 0.5 }), 10);
        assert!((step[19] - 0.1).abs() < 1e-12 && (step[20] - 0.05).abs() < 1e-12, "{step:?}");
        let constant = rates(&fit.clone().with_schedule(LrSchedule::Constant), 10);
        assert!(constant.iter().all(|r| (r - 0.1).abs() < 1e-15));
        let error = fit.with_schedule(LrSchedule::WarmupCosine { warmup_epochs: 4 }).validate().unwrap_err();
        assert!(error.contains("warmup_epochs 4 must be fewer"), "{error}");
    }

    #[test]
    fn classes_are_kept_and_renumbered_and_labels_thinned_per_class() {
        let fit = FitConfig::new().with_classes(vec![3, 1]);
        let picked = fit.select_training(set()).unwrap();
        assert_eq!((picked.len(), picked.num_classes), (90, 2));
        // Class 3 is now 0, class 1 is 1; each image keeps its pixel.
        assert!(picked.labels.iter().zip(&picked.images).all(|(&l, &p)| l == u8::from(p < 60)));
        let fit = fit.with_label_fraction(0.1);
        let thin = fit.select_training(set()).unwrap();
        let count = |c: u8| thin.labels.iter().filter(|&&l| l == c).count();
        assert_eq!((count(0), count(1)), (3, 6), "a tenth of each class");
        assert_eq!(fit.select_training(set()).unwrap(), thin, "the seed fixes the choice");
        let error = FitConfig::new().with_classes(vec![1, 7]).select_training(set()).unwrap_err();
        assert!(error.contains("no image has class 7"), "{error}");
    }
}
