//! Item 1 of the source document: the multilayer perceptron for MNIST.
//!
//! `flatten 784 -> Dense 128 ReLU -> Dropout 0.2 -> Dense num_classes` (logits; the loss applies
//! the softmax). Weights are initialised as PyTorch initialises `nn.Linear`.

use burn::nn::{DropoutConfig, Linear, LinearConfig, Relu};
use burn::prelude::*;

use crate::nn::Dropout;

use crate::IMAGE_SIDE;

/// Configuration of [`Mlp`].
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Number of classes, read from the labels of the training data.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Width of the hidden layer.
    #[config(default = 128)]
    pub hidden: usize,
    /// Dropout probability after the hidden layer (training only).
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// Dense network with one hidden ReLU layer.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Linear,
    activation: Relu,
    dropout: Dropout,
    output: Linear,
}

impl MlpConfig {
    /// Builds the model on `device` with freshly initialised weights.
    pub fn init(&self, device: &Device) -> Mlp {
        let inputs = IMAGE_SIDE * IMAGE_SIDE;
        Mlp {
            hidden: LinearConfig::new(inputs, self.hidden).init(device),
            activation: Relu::new(),
            dropout: DropoutConfig::new(self.dropout).init().into(),
            output: LinearConfig::new(self.hidden, self.num_classes).init(device),
        }
    }
}

impl Mlp {
    /// Class logits for a batch of images.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`, pixels in `[0, 1]`
    /// - output: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = images.flatten::<2>(1, 3); // [batch, 784]
        let x = self.activation.forward(self.hidden.forward(x)); // [batch, hidden]
        let x = self.dropout.forward(x);
        self.output.forward(x) // [batch, num_classes]
    }
}

impl crate::ImageNet for Mlp {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}
