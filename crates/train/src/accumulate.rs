//! Gradient accumulation (`fit.accumulate_batches`): the gradients of several batches held and
//! averaged into one optimiser step, so a step sees `batch_size x accumulate_batches` samples
//! while memory holds one batch's activations. The training loop decides when a step is due
//! ([`FitConfig::step_due`](crate::fit::FitConfig::step_due)); every family's step goes
//! through [`HeldGradients::step`], so a run without accumulation steps exactly as before.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

/// The gradients of the batches since the optimiser's last step.
#[derive(Default)]
pub struct HeldGradients {
    /// Their sum, per parameter.
    sum: Option<GradientsParams>,
    /// How many batches the sum holds.
    batches: usize,
}

impl HeldGradients {
    /// Takes one batch's `grads` of `model`. With `lr` (a step is due) the optimiser steps with
    /// the mean gradient of the batches held and this one, and the updated model comes back;
    /// without, the gradients are held and the model comes back unchanged.
    ///
    /// The mean over batches equals the gradient of one big batch when the loss is a mean over
    /// samples and the batches are the same size (an epoch's short last batch counts as one).
    pub fn step<M: Module>(
        &mut self,
        optimizer: &mut ModuleOptimizer,
        model: M,
        grads: GradientsParams,
        lr: Option<&ModuleLearningRate>,
    ) -> M {
        // Without accumulation nothing is held: the step is the plain optimiser step.
        if self.batches == 0
            && let Some(lr) = lr
        {
            return optimizer.step(lr.clone(), model, grads);
        }
        let mut sum = match self.sum.take() {
            Some(mut sum) => {
                model.visit(&mut AddGradients { sum: &mut sum, new: grads });
                sum
            }
            None => grads,
        };
        self.batches += 1;
        match lr {
            None => {
                self.sum = Some(sum);
                model
            }
            Some(lr) => {
                model.visit(&mut ScaleGradients { grads: &mut sum, factor: 1.0 / self.batches as f64 });
                self.batches = 0;
                optimizer.step(lr.clone(), model, sum)
            }
        }
    }

    /// Whether gradients wait for a step (an epoch ends with none held).
    pub fn is_empty(&self) -> bool {
        self.batches == 0
    }
}

/// `sum += new`, parameter by parameter (a parameter only one of them has keeps its gradient).
struct AddGradients<'a> {
    sum: &'a mut GradientsParams,
    new: GradientsParams,
}

impl ModuleVisitor for AddGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let added = match (self.sum.remove::<D>(param.id), self.new.remove::<D>(param.id)) {
            (Some(sum), Some(new)) => sum + new,
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => return,
        };
        self.sum.register::<D>(param.id, added);
    }
}

/// `grads *= factor`, parameter by parameter.
struct ScaleGradients<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for ScaleGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            self.grads.register::<D>(param.id, grad.mul_scalar(self.factor));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::SgdConfig;
    use burn::tensor::Distribution;

    /// The gradients of the mean squared output of `model` on `x`.
    fn grads(model: &Linear, x: Tensor<2>) -> GradientsParams {
        let loss = model.forward(x).powf_scalar(2.0).mean();
        GradientsParams::from_grads(loss.backward(), model)
    }

    fn weights(model: &Linear) -> Vec<f32> {
        model.weight.val().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn two_held_batches_step_as_one_batch_of_both() {
        let device = Device::default().autodiff();
        let model = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::random([8, 3], Distribution::Normal(0.0, 1.0), &device);
        let lr = ModuleLearningRate::from(0.1);

        let mut optimizer = SgdConfig::new().init();
        let whole = HeldGradients::default().step(&mut optimizer, model.clone(), grads(&model, x.clone()), Some(&lr));

        let mut optimizer = SgdConfig::new().init();
        let mut held = HeldGradients::default();
        let first = x.clone().narrow(0, 0, 4);
        let second = x.narrow(0, 4, 4);
        let unchanged = held.step(&mut optimizer, model.clone(), grads(&model, first), None);
        assert_eq!(weights(&unchanged), weights(&model), "a held batch does not step");
        assert!(!held.is_empty());
        let accumulated = held.step(&mut optimizer, model.clone(), grads(&model, second), Some(&lr));
        assert!(held.is_empty());

        assert_ne!(weights(&whole), weights(&model));
        for (a, b) in weights(&whole).iter().zip(weights(&accumulated)) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
