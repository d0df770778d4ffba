//! Penalties on the weights against overfitting (item 2 of the source document): L1 and L2 as
//! terms of the loss, and weight decay (AdamW's decoupled decay; SGD's added to the gradient;
//! built by `FitConfig::build_optimizer`), as recipe fields of every classifier.

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;

/// The weight penalties of a classifier's recipe (`regularization` in `config.json`).
#[derive(Config, Debug, PartialEq)]
pub struct Regularization {
    /// L1 penalty: adds `l1 * sum |w|` over the weight matrices and kernels (not the biases or
    /// the batch-norm scales) to the training loss (0: off).
    #[config(default = 0.0)]
    pub l1: f64,
    /// L2 penalty: adds `l2 * sum w^2` over the same weights to the training loss (0: off).
    #[config(default = 0.0)]
    pub l2: f64,
    /// Decoupled weight decay (AdamW): every step also shrinks each weight by
    /// `learning_rate * weight_decay` of itself, apart from the gradient (0: plain Adam).
    #[config(default = 0.0)]
    pub weight_decay: f64,
}

impl Regularization {
    /// Whether the loss carries a penalty term.
    pub fn penalises(&self) -> bool {
        self.l1 > 0.0 || self.l2 > 0.0
    }

    /// The penalty term of `module`'s weights, `[1]`, on the module's (autodiff) device so
    /// that its gradient reaches the weights; None when both penalties are off.
    pub fn penalty<M: Module>(&self, module: &M) -> Option<Tensor<1>> {
        if !self.penalises() {
            return None;
        }
        let mut sum = PenaltySum { l1: self.l1, l2: self.l2, total: None };
        module.visit(&mut sum);
        sum.total
    }

    /// Settings that cannot work, as a message naming the field.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [("l1", self.l1), ("l2", self.l2), ("weight_decay", self.weight_decay)] {
            if value.is_nan() || value < 0.0 || value.is_infinite() {
                return Err(format!(
                    "regularization.{name} {value} must be 0 or more (recipe field regularization.{name})"
                ));
            }
        }
        Ok(())
    }
}

/// Sums `l1 * |w|` and `l2 * w^2` over every parameter of rank 2 or more: weight matrices and
/// convolution kernels; biases and normalisation parameters (rank 1) go free, as in Keras'
/// `kernel_regularizer`.
struct PenaltySum {
    l1: f64,
    l2: f64,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for PenaltySum {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if D < 2 {
            return;
        }
        let weights = param.val();
        let mut term: Option<Tensor<1>> = None;
        if self.l1 > 0.0 {
            term = Some(weights.clone().abs().sum().mul_scalar(self.l1));
        }
        if self.l2 > 0.0 {
            let l2 = weights.powi_scalar(2).sum().mul_scalar(self.l2);
            term = Some(match term {
                Some(t) => t + l2,
                None => l2,
            });
        }
        if let Some(term) = term {
            self.total = Some(match self.total.take() {
                Some(total) => total + term,
                None => term,
            });
        }
    }
}
