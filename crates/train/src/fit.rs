//! Settings shared by every supervised recipe, and the command-line overrides of them.

use burn::optim::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::prelude::*;

/// How the learning rate moves during training.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum LrSchedule {
    /// `learning_rate` throughout, as Keras' `fit` does.
    Constant,
    /// From `learning_rate` down to 0 along a half cosine over all the steps of the run: the
    /// last epochs take small steps, which is worth a few tenths of a percent of accuracy.
    Cosine,
}

/// How a recipe is fitted: epochs, batch, learning rate, seed and validation split.
#[derive(Config, Debug)]
pub struct FitConfig {
    /// Passes over the training data.
    #[config(default = 5)]
    pub epochs: usize,
    /// Samples per optimiser step.
    #[config(default = 64)]
    pub batch_size: usize,
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
    /// How the learning rate changes over the run.
    #[config(default = "LrSchedule::Cosine")]
    pub schedule: LrSchedule,
    /// Use only the first N training samples (0: all); for quick trial runs.
    #[config(default = 0)]
    pub limit: usize,
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
    /// `"N training images"`, or `"N of M training images"` under `limit`.
    pub fn describe_images(&self, available: usize) -> String {
        if self.limit > 0 && self.limit < available {
            format!("{} of {available} training images", self.limit)
        } else {
            format!("{available} training images")
        }
    }

    /// The learning-rate scheduler for a run of `steps_per_epoch` optimiser steps an epoch.
    pub fn scheduler(&self, steps_per_epoch: usize) -> Result<ModuleLrScheduler, String> {
        match self.schedule {
            LrSchedule::Constant => Ok(self.learning_rate.into()),
            LrSchedule::Cosine => {
                CosineAnnealingLrSchedulerConfig::new(self.learning_rate, (self.epochs * steps_per_epoch).max(1)).init()
            }
        }
    }

    /// The scheduler of a run resumed after `epochs_done` epochs: stepped to where the
    /// checkpoint left it, so the resumed run continues the same schedule.
    pub fn scheduler_after(&self, steps_per_epoch: usize, epochs_done: usize) -> Result<ModuleLrScheduler, String> {
        let mut scheduler = self.scheduler(steps_per_epoch)?;
        for _ in 0..epochs_done * steps_per_epoch {
            scheduler.step();
        }
        Ok(scheduler)
    }

    /// Rejects values that would fail later with a less helpful message.
    pub fn validate(&self) -> Result<(), String> {
        if self.epochs == 0 {
            return Err("epochs must be at least 1 (--epochs N)".into());
        }
        if self.batch_size == 0 {
            return Err("batch size must be at least 1 (--batch-size N)".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(format!("learning rate {} must be in (0, 1] (--lr X)", self.learning_rate));
        }
        if !(self.valid_fraction > 0.0 && self.valid_fraction < 1.0) {
            return Err(format!(
                "valid_fraction {} must be between 0 and 1 (recipe field fit.valid_fraction)",
                self.valid_fraction
            ));
        }
        Ok(())
    }
}
