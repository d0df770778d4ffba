//! Item 5 of the source document: the action-value network of DQN.
//!
//! `observation -> (Dense hidden ReLU) x len(hidden) -> Dense actions`, one Q-value per action.
//! The article's network is 4 -> 64 ReLU -> 2 (CartPole), the default here.

use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

/// Configuration of [`QNet`].
#[derive(Config, Debug)]
pub struct QNetConfig {
    /// Size of an observation (CartPole: 4).
    #[config(default = 4)]
    pub observations: usize,
    /// Number of discrete actions (CartPole: 2).
    #[config(default = 2)]
    pub actions: usize,
    /// Widths of the hidden ReLU layers, first to last.
    #[config(default = "vec![64]")]
    pub hidden: Vec<usize>,
}

/// Multilayer perceptron giving Q(s, a) for every action a.
#[derive(Module, Debug)]
pub struct QNet {
    hidden: Vec<Linear>,
    activation: Relu,
    output: Linear,
}

impl QNetConfig {
    /// Builds the network on `device` with freshly initialised weights.
    pub fn init(&self, device: &Device) -> QNet {
        let mut inputs = self.observations;
        let mut hidden = Vec::with_capacity(self.hidden.len());
        for &width in &self.hidden {
            hidden.push(LinearConfig::new(inputs, width).init(device));
            inputs = width;
        }
        QNet { hidden, activation: Relu::new(), output: LinearConfig::new(inputs, self.actions).init(device) }
    }
}

impl QNet {
    /// Action values of a batch of observations.
    ///
    /// # Shapes
    /// - observations: `[batch, observations]`
    /// - output: `[batch, actions]`
    pub fn forward(&self, observations: Tensor<2>) -> Tensor<2> {
        let x = self.hidden.iter().fold(observations, |x, layer| self.activation.forward(layer.forward(x)));
        self.output.forward(x)
    }
}
