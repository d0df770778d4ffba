//! Item 10 of the source document: the variational autoencoder, with its bugs fixed (the
//! decoder now makes 28x28 images, and the latent code is sampled with the
//! reparameterisation trick).
//!
//! - `Conv` (the article's, as Keras' VAE example): `Conv 32 3x3 s2 ReLU -> Conv 64 3x3 s2 ReLU
//!   -> Dense 16 ReLU -> (mean, log-variance)`, then `Dense 7*7*64 ReLU -> ConvT 64 3x3 s2 ReLU
//!   -> ConvT 32 3x3 s2 ReLU -> ConvT 1 3x3` (logits).
//! - `Dense` (PyTorch's example): `784 -> 400 ReLU -> (mean, log-variance)`, then
//!   `latent -> 400 ReLU -> 784` (logits).
//!
//! The loss is the negative ELBO: the summed Bernoulli reconstruction term of
//! [`bernoulli_nll`](crate::autoencoder::bernoulli_nll) plus `beta` times [`kl_divergence`].

use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::nn::{Conv2d, ConvTranspose2d};
use burn::tensor::activation::{relu, sigmoid};

use crate::IMAGE_SIDE;

/// Which VAE.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum VaeKind {
    /// Convolutional encoder and decoder (item 10, Keras' example).
    Conv,
    /// Dense encoder and decoder (PyTorch's example, 784-400-20).
    Dense,
}

/// Configuration of [`Vae`].
#[derive(Config, Debug)]
pub struct VaeConfig {
    #[config(default = "VaeKind::Conv")]
    pub kind: VaeKind,
    /// Size of the latent code.
    #[config(default = 2)]
    pub latent: usize,
    /// Conv: width of the dense layer before the code (Keras' example: 16, which flattens near
    /// 154 nats per image here; 256 reaches 143.7). Dense: width of the hidden layers.
    #[config(default = 256)]
    pub hidden: usize,
}

#[derive(Module, Debug)]
pub struct ConvEncoder {
    conv1: Conv2d,
    conv2: Conv2d,
    dense: Linear,
}

#[derive(Module, Debug)]
pub struct ConvDecoder {
    dense: Linear,
    up1: ConvTranspose2d,
    up2: ConvTranspose2d,
    output: ConvTranspose2d,
}

// One variant per network kind, built once per run: their sizes do not matter, and a boxed
// variant would not be a `Module`.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder {
    Conv(ConvEncoder),
    Dense(Linear),
}

#[derive(Module, Debug)]
pub struct DenseDecoder {
    hidden: Linear,
    output: Linear,
}

// One variant per network kind, built once per run: their sizes do not matter, and a boxed
// variant would not be a `Module`.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Decoder {
    Conv(ConvDecoder),
    Dense(DenseDecoder),
}

/// A VAE of 28x28 greyscale images.
#[derive(Module, Debug)]
pub struct Vae {
    encoder: Encoder,
    mean: Linear,
    log_var: Linear,
    decoder: Decoder,
    latent: usize,
}

/// The encoder's posterior and the decoder's logits of one pass.
#[derive(Clone, Debug)]
pub struct VaeOutput {
    /// `[batch, latent]`
    pub mean: Tensor<2>,
    /// `[batch, latent]`, log of the posterior variance
    pub log_var: Tensor<2>,
    /// `[batch, 1, 28, 28]`
    pub logits: Tensor<4>,
}

const MAP: usize = 7; // side of the 64-channel map between the dense and the convolutions
const MAP_CHANNELS: usize = 64;

impl VaeConfig {
    pub fn init(&self, device: &Device) -> Vae {
        let pixels = IMAGE_SIDE * IMAGE_SIDE;
        let (encoder, features, decoder) = match self.kind {
            VaeKind::Conv => {
                let down = |from, to| {
                    Conv2dConfig::new([from, to], [3, 3])
                        .with_stride([2, 2])
                        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                };
                // Keras' `Conv2DTranspose(padding="same")`: kernel 3, padding 1 (and one extra
                // row and column when the stride is 2).
                let up = |from, to, stride: usize| {
                    ConvTranspose2dConfig::new([from, to], [3, 3])
                        .with_stride([stride, stride])
                        .with_padding([1, 1])
                        .with_padding_out([stride - 1, stride - 1])
                };
                let encoder = Encoder::Conv(ConvEncoder {
                    conv1: down(1, 32).init(device).into(),
                    conv2: down(32, MAP_CHANNELS).init(device).into(),
                    dense: LinearConfig::new(MAP_CHANNELS * MAP * MAP, self.hidden).init(device),
                });
                let decoder = Decoder::Conv(ConvDecoder {
                    dense: LinearConfig::new(self.latent, MAP_CHANNELS * MAP * MAP).init(device),
                    up1: up(MAP_CHANNELS, 64, 2).init(device).into(),
                    up2: up(64, 32, 2).init(device).into(),
                    output: up(32, 1, 1).init(device).into(),
                });
                (encoder, self.hidden, decoder)
            }
            VaeKind::Dense => (
                Encoder::Dense(LinearConfig::new(pixels, self.hidden).init(device)),
                self.hidden,
                Decoder::Dense(DenseDecoder {
                    hidden: LinearConfig::new(self.latent, self.hidden).init(device),
                    output: LinearConfig::new(self.hidden, pixels).init(device),
                }),
            ),
        };
        Vae {
            encoder,
            mean: LinearConfig::new(features, self.latent).init(device),
            log_var: LinearConfig::new(features, self.latent).init(device),
            decoder,
            latent: self.latent,
        }
    }
}

impl Vae {
    pub fn latent(&self) -> usize {
        self.latent
    }

    /// The posterior's mean and log-variance.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`, pixels in `[0, 1]`
    /// - output: two `[batch, latent]`
    pub fn encode(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let batch = images.dims()[0];
        let features = match &self.encoder {
            Encoder::Conv(e) => {
                let x = relu(e.conv1.forward(images)); // [batch, 32, 14, 14]
                let x = relu(e.conv2.forward(x)); // [batch, 64, 7, 7]
                relu(e.dense.forward(x.reshape([batch, MAP_CHANNELS * MAP * MAP]))) // [batch, hidden]
            }
            Encoder::Dense(layer) => relu(layer.forward(images.reshape([batch, IMAGE_SIDE * IMAGE_SIDE]))),
        };
        (self.mean.forward(features.clone()), self.log_var.forward(features))
    }

    /// Pixel logits of latent codes.
    ///
    /// # Shapes
    /// - codes: `[batch, latent]`
    /// - output: `[batch, 1, 28, 28]`
    pub fn decode(&self, codes: Tensor<2>) -> Tensor<4> {
        let batch = codes.dims()[0];
        match &self.decoder {
            Decoder::Conv(d) => {
                let x = relu(d.dense.forward(codes)).reshape([batch, MAP_CHANNELS, MAP, MAP]);
                let x = relu(d.up1.forward(x)); // [batch, 64, 14, 14]
                let x = relu(d.up2.forward(x)); // [batch, 32, 28, 28]
                d.output.forward(x) // [batch, 1, 28, 28]
            }
            Decoder::Dense(d) => {
                d.output.forward(relu(d.hidden.forward(codes))).reshape([batch, 1, IMAGE_SIDE, IMAGE_SIDE])
            }
        }
    }

    /// Encodes, samples `z = mean + exp(log_var / 2) * noise` (the reparameterisation trick:
    /// the randomness is an input, so gradients flow to the mean and variance) and decodes.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`; noise: `[batch, latent]`, standard normal
    pub fn forward(&self, images: Tensor<4>, noise: Tensor<2>) -> VaeOutput {
        let (mean, log_var) = self.encode(images);
        let codes = mean.clone() + (log_var.clone() * 0.5).exp() * noise;
        VaeOutput { logits: self.decode(codes), mean, log_var }
    }

    /// Pixel probabilities of latent codes (new images from the prior's samples).
    pub fn generate(&self, codes: Tensor<2>) -> Tensor<4> {
        sigmoid(self.decode(codes))
    }
}

/// KL divergence from the posterior N(mean, exp(log_var)) to the prior N(0, I), in nats, per
/// sample: `-1/2 * sum(1 + log_var - mean^2 - exp(log_var))`.
///
/// # Shapes
/// - mean, log_var: `[batch, latent]`
/// - output: `[batch]`
pub fn kl_divergence(mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    let batch = mean.dims()[0];
    let terms = log_var.clone().add_scalar(1.0) - mean.powi_scalar(2) - log_var.exp();
    (terms.sum_dim(1) * -0.5).reshape([batch])
}
