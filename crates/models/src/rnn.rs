//! Item 23 of the source document: stacked simple recurrent layers with ReLU, on a real task:
//! an image read row by row (28 steps of 28 pixels) into its class. The layers are Burn's
//! `Rnn` (`h_t = relu(x_t W + h_{t-1} U + b)` here).
//!
//! `rows 28 x 28 -> RNN 100 ReLU (every step) -> RNN 100 ReLU (last step) -> Dense classes`.

use burn::nn::activation::ActivationConfig;
use burn::nn::{Linear, LinearConfig, Rnn as RnnLayer, RnnConfig as RnnLayerConfig};
use burn::prelude::*;

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
            .map(|i| {
                let inputs = if i == 0 { side } else { self.hidden };
                RnnLayerConfig::new(inputs, self.hidden, true)
                    .with_hidden_activation(ActivationConfig::Relu)
                    .init(device)
            })
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
        // Every layer returns its state after each step: [batch, rows, hidden].
        let sequence =
            self.layers.iter().fold(images.reshape([batch, rows, cols]), |x, layer| layer.forward(x, None).0);
        let hidden = sequence.dims()[2];
        let last = sequence.slice([0..batch, rows - 1..rows, 0..hidden]).reshape([batch, hidden]);
        self.output.forward(last)
    }
}

impl crate::ImageNet for Rnn {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}
