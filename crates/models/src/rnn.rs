//! Item 23 of the source document: stacked simple recurrent layers with ReLU, on a real task:
//! an image read row by row (28 steps of 28 pixels) into its class. Burn has no plain RNN
//! cell, so the layer is written here: `h_t = relu(x_t W + h_{t-1} U + b)`.
//!
//! `rows 28 x 28 -> RNN 100 ReLU (every step) -> RNN 100 ReLU (last step) -> Dense classes`.
//! The recurrent weights start orthogonal (Keras' default for `SimpleRNN`), which keeps a ReLU
//! recurrence from exploding or vanishing at the start.

use burn::nn::{Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

/// Configuration of [`Rnn`].
#[derive(Config, Debug)]
pub struct RnnConfig {
    /// Number of classes, read from the labels of the training data.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Width of every recurrent layer.
    #[config(default = 100)]
    pub hidden: usize,
    /// Recurrent layers stacked (the article: 2).
    #[config(default = 2)]
    pub layers: usize,
}

/// One simple recurrent layer.
#[derive(Module, Debug)]
pub struct RnnLayer {
    /// `W` and `b`: `[inputs] -> [hidden]`.
    input: Linear,
    /// `U`: `[hidden] -> [hidden]`, no bias.
    recurrent: Linear,
}

impl RnnLayer {
    pub fn new(inputs: usize, hidden: usize, device: &Device) -> Self {
        Self {
            input: LinearConfig::new(inputs, hidden).init(device),
            recurrent: LinearConfig::new(hidden, hidden)
                .with_bias(false)
                .with_initializer(Initializer::Orthogonal { gain: 1.0 })
                .init(device),
        }
    }

    /// The hidden state after every step.
    ///
    /// # Shapes
    /// - sequence: `[batch, steps, inputs]`
    /// - output: `[batch, steps, hidden]`
    pub fn forward(&self, sequence: Tensor<3>) -> Tensor<3> {
        let [batch, steps, _] = sequence.dims();
        // The input projection of all steps in one matrix product.
        let projected = self.input.forward(sequence); // [batch, steps, hidden]
        let hidden = projected.dims()[2];
        let mut state = Tensor::<2>::zeros([batch, hidden], &projected.device());
        let mut states = Vec::with_capacity(steps);
        for t in 0..steps {
            let x_t = projected.clone().slice([0..batch, t..t + 1, 0..hidden]).reshape([batch, hidden]);
            state = relu(x_t + self.recurrent.forward(state));
            states.push(state.clone().reshape([batch, 1, hidden]));
        }
        Tensor::cat(states, 1)
    }
}

/// Stacked simple RNN classifier of images read row by row.
#[derive(Module, Debug)]
pub struct Rnn {
    layers: Vec<RnnLayer>,
    output: Linear,
}

impl RnnConfig {
    pub fn init(&self, device: &Device) -> Rnn {
        let side = crate::IMAGE_SIDE;
        let layers = (0..self.layers.max(1))
            .map(|i| RnnLayer::new(if i == 0 { side } else { self.hidden }, self.hidden, device))
            .collect();
        Rnn { layers, output: LinearConfig::new(self.hidden, self.num_classes).init(device) }
    }
}

impl Rnn {
    /// Class logits of a batch of images, each read as a sequence of its rows.
    ///
    /// # Shapes
    /// - images: `[batch, 1, rows, cols]` (a step per row, `cols` features)
    /// - output: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let [batch, _, rows, cols] = images.dims();
        let sequence = self.layers.iter().fold(images.reshape([batch, rows, cols]), |x, layer| layer.forward(x));
        let hidden = sequence.dims()[2];
        let last = sequence.slice([0..batch, rows - 1..rows, 0..hidden]).reshape([batch, hidden]);
        self.output.forward(last)
    }
}
