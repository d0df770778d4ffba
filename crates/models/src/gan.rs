//! Items 6, 8 and 15 of the source document: the DCGAN of TensorFlow's tutorial, exactly.
//!
//! - Generator: `noise 100 -> Dense 7*7*256 (no bias) -> BN -> LeakyReLU -> ConvT 128 5x5 s1
//!   -> BN -> LeakyReLU -> ConvT 64 5x5 s2 -> BN -> LeakyReLU -> ConvT 1 5x5 s2 -> tanh`
//!   (transposed convolutions without bias, "same" padding: 7 -> 7 -> 14 -> 28).
//! - Discriminator: `Conv 64 5x5 s2 -> LeakyReLU -> Dropout 0.3 -> Conv 128 5x5 s2 ->
//!   LeakyReLU -> Dropout 0.3 -> Flatten -> Dense 1` (a logit: real vs generated).
//!
//! Images are scaled to `[-1, 1]`. LeakyReLU has Keras' slope 0.3.
//!
//! Class-conditional (`classes` > 0, issue 20's "digits on request"): the generator reads its
//! noise concatenated with a learned embedding of the digit asked for (Mirza and Osindero's
//! conditional GAN), and the discriminator adds to its logit the inner product of its features
//! with a learned embedding of the label (Miyato and Koyama's projection discriminator).

use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{
    BatchNormConfig, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;

use crate::nn::{BatchNorm, Conv2d, ConvTranspose2d, Dropout, leaky_relu};

/// Keras' default LeakyReLU slope, which the tutorial uses.
pub const LEAKY_SLOPE: f64 = 0.3;

/// Configuration of [`Generator`].
#[derive(Config, Debug)]
pub struct GeneratorConfig {
    /// Size of the noise vector.
    #[config(default = 100)]
    pub noise: usize,
    /// Weight initialiser of every layer (Keras' `glorot_uniform`, which the tutorial uses).
    #[config(default = "Initializer::XavierUniform { gain: 1.0 }")]
    pub initializer: Initializer,
    /// Classes it can be asked for (0: unconditional, the tutorial's).
    #[config(default = 0)]
    pub classes: usize,
    /// Size of the label's embedding read beside the noise (conditional only).
    #[config(default = 50)]
    pub label_features: usize,
    /// Epsilon of every batch norm (Burn's and PyTorch's 1e-5; Keras', the tutorial's, 1e-3).
    #[config(default = 1e-5)]
    pub norm_epsilon: f64,
    /// Momentum of every batch norm's running statistics, `running = (1 - momentum) running +
    /// momentum batch` (Burn's and PyTorch's 0.1; Keras' `momentum=0.99`, the tutorial's, is
    /// 0.01 here). The running statistics draw the pictures the judge scores.
    #[config(default = 0.1)]
    pub norm_momentum: f64,
}

/// Configuration of [`Discriminator`].
#[derive(Config, Debug)]
pub struct DiscriminatorConfig {
    /// Classes of the labels it reads (0: unconditional): the projection's embedding.
    #[config(default = 0)]
    pub classes: usize,
    /// Dropout after each convolution (training only).
    #[config(default = 0.3)]
    pub dropout: f64,
    /// Weight initialiser of every layer (Keras' `glorot_uniform`, which the tutorial uses).
    #[config(default = "Initializer::XavierUniform { gain: 1.0 }")]
    pub initializer: Initializer,
}

#[derive(Module, Debug)]
pub struct Generator {
    dense: Linear,
    norm0: BatchNorm,
    up1: ConvTranspose2d,
    norm1: BatchNorm,
    up2: ConvTranspose2d,
    norm2: BatchNorm,
    output: ConvTranspose2d,
    noise: usize,
    /// The digit's embedding (conditional generators).
    label: Option<Embedding>,
}

#[derive(Module, Debug)]
pub struct Discriminator {
    conv1: Conv2d,
    conv2: Conv2d,
    dropout: Dropout,
    output: Linear,
    /// The projection of the label onto the features (conditional discriminators).
    label: Option<Embedding>,
}

/// Keras' `Conv2DTranspose(kernel 5, padding="same", use_bias=False)`: padding 2, and one extra
/// output row and column at stride 2.
fn up(from: usize, to: usize, stride: usize) -> ConvTranspose2dConfig {
    ConvTranspose2dConfig::new([from, to], [5, 5])
        .with_stride([stride, stride])
        .with_padding([2, 2])
        .with_padding_out([stride - 1, stride - 1])
        .with_bias(false)
}

impl GeneratorConfig {
    pub fn init(&self, device: &Device) -> Generator {
        // Burn's transposed convolution gives its initialiser no fan-out, which Xavier needs:
        // build, then draw the weights with both fans as Keras does.
        let up_layer = |from: usize, to: usize, stride: usize| {
            let mut layer = up(from, to, stride).init(device);
            layer.weight = self.initializer.init_with([from, to, 5, 5], Some(to * 25), Some(from * 25), device);
            ConvTranspose2d::from(layer)
        };
        let label_features = if self.classes > 0 { self.label_features } else { 0 };
        let inputs = self.noise + label_features;
        let mut dense = LinearConfig::new(inputs, 7 * 7 * 256).with_bias(false).init(device);
        dense.weight = self.initializer.init_with([inputs, 7 * 7 * 256], Some(inputs), Some(7 * 7 * 256), device);
        let norm = |features: usize| {
            BatchNormConfig::new(features)
                .with_epsilon(self.norm_epsilon)
                .with_momentum(self.norm_momentum)
                .init(device)
                .into()
        };
        Generator {
            dense,
            norm0: norm(7 * 7 * 256),
            up1: up_layer(256, 128, 1),
            norm1: norm(128),
            up2: up_layer(128, 64, 2),
            norm2: norm(64),
            output: up_layer(64, 1, 2),
            noise: self.noise,
            label: (self.classes > 0).then(|| EmbeddingConfig::new(self.classes, self.label_features).init(device)),
        }
    }
}

/// `[batch]` class indices → their embedding rows `[batch, features]`.
fn embed(table: &Embedding, labels: Tensor<1, Int>) -> Tensor<2> {
    let batch = labels.dims()[0];
    let rows = table.forward(labels.reshape([batch, 1])); // [batch, 1, features]
    let features = rows.dims()[2];
    rows.reshape([batch, features])
}

/// The labels a conditional model reads when none are given: `0, 1, ..., classes - 1, 0, ...`,
/// every class alike (standing statistics, a judge's samples).
fn balanced_labels(batch: usize, classes: usize, device: &Device) -> Tensor<1, Int> {
    Tensor::<1, Int>::arange(0..batch as i64, device).remainder_scalar(classes as i64)
}

impl Generator {
    pub fn noise_size(&self) -> usize {
        self.noise
    }

    /// The momentum of the batch norms' running statistics (`norm_momentum` when built).
    pub fn norm_momentum(&self) -> f64 {
        self.norm0.momentum
    }

    /// Sets the momentum of every batch norm's running statistics: `running = (1 - momentum)
    /// running + momentum batch` at each training-mode pass.
    pub fn set_norm_momentum(&mut self, momentum: f64) {
        for norm in [&mut self.norm0, &mut self.norm1, &mut self.norm2] {
            norm.momentum = momentum;
        }
    }

    /// Classes a conditional generator can be asked for (0: unconditional).
    pub fn classes(&self) -> usize {
        self.label.as_ref().map_or(0, |table| table.weight.val().dims()[0])
    }

    /// Images from noise; a conditional generator draws the classes `0, 1, 2, ...` in turn.
    ///
    /// # Shapes
    /// - noise: `[batch, noise]`, standard normal
    /// - output: `[batch, 1, 28, 28]` in `[-1, 1]`
    pub fn forward(&self, noise: Tensor<2>) -> Tensor<4> {
        self.forward_with(noise, None)
    }

    /// Images from noise, each of the class `labels` asks for (conditional generators; an
    /// unconditional one ignores them, None: the classes in turn).
    ///
    /// # Shapes
    /// - noise: `[batch, noise]`, standard normal; labels: `[batch]` class indices
    /// - output: `[batch, 1, 28, 28]` in `[-1, 1]`
    pub fn forward_with(&self, noise: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        let batch = noise.dims()[0];
        let noise = match &self.label {
            None => noise,
            Some(table) => {
                let labels = labels.unwrap_or_else(|| balanced_labels(batch, self.classes(), &noise.device()));
                Tensor::cat(vec![noise, embed(table, labels)], 1) // [batch, noise + label_features]
            }
        };
        // As the tutorial: batch norm and LeakyReLU on each of the dense layer's 12,544
        // features, then the reshape. (Normalising per channel of the 7x7 map instead, as an
        // earlier version did, gave near-identical samples after 4 epochs: 56 % of them one
        // class, where PyTorch's copy of the tutorial already drew varied digits.)
        let x = self.norm0.forward_leaky_relu(self.dense.forward(noise), LEAKY_SLOPE); // [batch, 12544]
        let x = x.reshape([batch, 256, 7, 7]);
        let x = self.norm1.forward_leaky_relu(self.up1.forward(x), LEAKY_SLOPE); // [batch, 128, 7, 7]
        let x = self.norm2.forward_leaky_relu(self.up2.forward(x), LEAKY_SLOPE); // [batch, 64, 14, 14]
        self.output.forward(x).tanh() // [batch, 1, 28, 28]
    }
}

impl DiscriminatorConfig {
    pub fn init(&self, device: &Device) -> Discriminator {
        // Burn initialises biases with the weights' initialiser, and Xavier needs a fan-out a
        // bias does not have: build, then set the weights by `initializer` and the biases to
        // zero, as Keras does.
        let down = |from: usize, to: usize| {
            let mut conv = Conv2dConfig::new([from, to], [5, 5])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device);
            let receptive = 5 * 5;
            conv.weight =
                self.initializer.init_with([to, from, 5, 5], Some(from * receptive), Some(to * receptive), device);
            conv.bias = Some(Initializer::Zeros.init([to], device));
            Conv2d::from(conv)
        };
        let mut output = LinearConfig::new(128 * 7 * 7, 1).init(device);
        output.weight = self.initializer.init_with([128 * 7 * 7, 1], Some(128 * 7 * 7), Some(1), device);
        output.bias = Some(Initializer::Zeros.init([1], device));
        Discriminator {
            conv1: down(1, 64),
            conv2: down(64, 128),
            dropout: DropoutConfig::new(self.dropout).init().into(),
            output,
            // Small at first, so the projection starts near the unconditional logit.
            label: (self.classes > 0).then(|| {
                let mut table = EmbeddingConfig::new(self.classes, 128 * 7 * 7).init(device);
                table.weight = Initializer::Normal { mean: 0.0, std: 0.01 }.init([self.classes, 128 * 7 * 7], device);
                table
            }),
        }
    }
}

impl Discriminator {
    /// Real-vs-generated logits.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]` in `[-1, 1]`
    /// - output: `[batch]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<1> {
        self.forward_with(images, None)
    }

    /// Logits of images said to be of class `labels`: a conditional discriminator adds the
    /// projection of its features on the label's embedding (None, or an unconditional one: the
    /// plain logit).
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]` in `[-1, 1]`; labels: `[batch]` class indices
    /// - output: `[batch]`
    pub fn forward_with(&self, images: Tensor<4>, labels: Option<Tensor<1, Int>>) -> Tensor<1> {
        let batch = images.dims()[0];
        let x = self.dropout.forward(leaky_relu(self.conv1.forward(images), LEAKY_SLOPE)); // [batch, 64, 14, 14]
        let x = self.dropout.forward(leaky_relu(self.conv2.forward(x), LEAKY_SLOPE)); // [batch, 128, 7, 7]
        let features = x.reshape([batch, 128 * 7 * 7]);
        let logits = self.output.forward(features.clone()).reshape([batch]);
        match (&self.label, labels) {
            (Some(table), Some(labels)) => logits + (features * embed(table, labels)).sum_dim(1).reshape([batch]),
            _ => logits,
        }
    }
}
