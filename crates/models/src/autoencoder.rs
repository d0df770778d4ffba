//! Item 25 of the source document: the autoencoder, with the article's bug fixed (its dense
//! layer took the 28x28x1 image unflattened).
//!
//! - `Dense`: `784 -> hidden ReLU -> 32 (the code, linear) -> hidden ReLU -> 784`. The
//!   article has `hidden` 32 and a ReLU on the code too; that stops near 0.11 nats per pixel
//!   (measured), a ReLU code with `hidden` 128 at 0.093, so the default is 128 with a linear
//!   code (0.083 on the test set).
//! - `Conv`: Keras' convolutional autoencoder: `Conv 32 3x3 ReLU -> MaxPool 2 -> Conv 32 3x3
//!   ReLU -> MaxPool 2` (a 7x7x32 code), then `ConvT 32 3x3 s2 ReLU -> ConvT 32 3x3 s2 ReLU ->
//!   Conv 1 3x3`.
//!
//! Both output logits; the sigmoid of a logit is the pixel's probability, and the loss is the
//! Bernoulli negative log-likelihood (binary cross-entropy) computed from logits, which stays
//! finite where `log(sigmoid(x))` would not.

use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::nn::{Conv2d, ConvTranspose2d, MaxPool2d};
use burn::tensor::activation::{relu, sigmoid};

use crate::IMAGE_SIDE;

/// Which autoencoder.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum AutoencoderKind {
    /// Dense layers on the flattened image (item 25).
    Dense,
    /// Convolutions down to a 7x7 map and transposed convolutions back (Keras' example).
    Conv,
}

/// Configuration of [`Autoencoder`].
#[derive(Config, Debug)]
pub struct AutoencoderConfig {
    #[config(default = "AutoencoderKind::Dense")]
    pub kind: AutoencoderKind,
    /// Dense: width of the hidden layers on each side of the code (the article: 32).
    #[config(default = 128)]
    pub hidden: usize,
    /// Dense: size of the code.
    #[config(default = 32)]
    pub code: usize,
    /// Conv: channels of every convolution.
    #[config(default = 32)]
    pub channels: usize,
}

#[derive(Module, Debug)]
pub struct DenseAutoencoder {
    encode_hidden: Linear,
    encode_code: Linear,
    decode_hidden: Linear,
    decode_output: Linear,
}

#[derive(Module, Debug)]
pub struct ConvAutoencoder {
    encode1: Conv2d,
    encode2: Conv2d,
    pool: MaxPool2d,
    decode1: ConvTranspose2d,
    decode2: ConvTranspose2d,
    output: Conv2d,
}

/// An autoencoder of 28x28 greyscale images.
// One variant per network kind, built once per run: their sizes do not matter, and a boxed
// variant would not be a `Module`.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Autoencoder {
    Dense(DenseAutoencoder),
    Conv(ConvAutoencoder),
}

impl AutoencoderConfig {
    pub fn init(&self, device: &Device) -> Autoencoder {
        let pixels = IMAGE_SIDE * IMAGE_SIDE;
        match self.kind {
            AutoencoderKind::Dense => Autoencoder::Dense(DenseAutoencoder {
                encode_hidden: LinearConfig::new(pixels, self.hidden).init(device),
                encode_code: LinearConfig::new(self.hidden, self.code).init(device),
                decode_hidden: LinearConfig::new(self.code, self.hidden).init(device),
                decode_output: LinearConfig::new(self.hidden, pixels).init(device),
            }),
            AutoencoderKind::Conv => {
                let c = self.channels;
                let same = || PaddingConfig2d::Explicit(1, 1, 1, 1);
                // Keras' `Conv2DTranspose(strides=2, padding="same")`: kernel 3, padding 1,
                // one extra output row and column, so 7 -> 14 -> 28.
                let up = |from| {
                    ConvTranspose2dConfig::new([from, c], [3, 3])
                        .with_stride([2, 2])
                        .with_padding([1, 1])
                        .with_padding_out([1, 1])
                };
                Autoencoder::Conv(ConvAutoencoder {
                    encode1: Conv2dConfig::new([1, c], [3, 3]).with_padding(same()).init(device).into(),
                    encode2: Conv2dConfig::new([c, c], [3, 3]).with_padding(same()).init(device).into(),
                    pool: MaxPool2dConfig::new([2, 2]).init().into(),
                    decode1: up(c).init(device).into(),
                    decode2: up(c).init(device).into(),
                    output: Conv2dConfig::new([c, 1], [3, 3]).with_padding(same()).init(device).into(),
                })
            }
        }
    }
}

impl Autoencoder {
    /// Reconstruction logits of a batch of images.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`, pixels in `[0, 1]`
    /// - output: `[batch, 1, 28, 28]` logits (the sigmoid gives the probabilities)
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let [batch, channels, rows, cols] = images.dims();
        match self {
            Autoencoder::Dense(m) => {
                let x = images.reshape([batch, channels * rows * cols]); // [batch, 784]
                let code = m.encode_code.forward(relu(m.encode_hidden.forward(x))); // [batch, code]
                let out = m.decode_output.forward(relu(m.decode_hidden.forward(code))); // [batch, 784]
                out.reshape([batch, channels, rows, cols])
            }
            Autoencoder::Conv(m) => {
                let x = m.pool.forward(relu(m.encode1.forward(images))); // [batch, c, 14, 14]
                let code = m.pool.forward(relu(m.encode2.forward(x))); // [batch, c, 7, 7]
                let x = relu(m.decode1.forward(code)); // [batch, c, 14, 14]
                let x = relu(m.decode2.forward(x)); // [batch, c, 28, 28]
                m.output.forward(x) // [batch, 1, 28, 28]
            }
        }
    }

    /// Reconstructed pixels in `[0, 1]`, same shapes as [`forward`](Self::forward).
    pub fn reconstruct(&self, images: Tensor<4>) -> Tensor<4> {
        sigmoid(self.forward(images))
    }
}

/// Bernoulli negative log-likelihood (binary cross-entropy) of `targets` under pixel
/// probabilities `sigmoid(logits)`, summed over each image's pixels, in nats:
/// `max(x, 0) - x t + log(1 + exp(-|x|))` per pixel, finite for any logit.
///
/// # Shapes
/// - logits, targets: `[batch, ...]`, targets in `[0, 1]`
/// - output: `[batch]`
pub fn bernoulli_nll<const D: usize>(logits: Tensor<D>, targets: Tensor<D>) -> Tensor<1> {
    let batch = logits.dims()[0];
    let per_pixel = relu(logits.clone()) - logits.clone() * targets + logits.abs().neg().exp().log1p();
    per_pixel.reshape([batch as i64, -1]).sum_dim(1).reshape([batch])
}
