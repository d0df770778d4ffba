//! Item 28 of the source document: the residual network.
//!
//! The article's block: `conv 3x3 same -> ReLU -> conv 3x3 same -> + the block's input -> ReLU`,
//! and its body: `conv 64 -> ReLU -> 2 blocks -> conv 64 -> ReLU` on 28x28x1. The article stops
//! at the body; zoo gives it the head a classifier needs: global average pooling, then a dense
//! layer to the classes. [`ResNetConfig`] builds that network by default, and deeper ones from
//! its options: several stages of blocks, each stage after the first starting with a stride-2
//! block that doubles the width (a 1x1 stride-2 projection on its skip path), batch norm after
//! each convolution, and, for the depth experiment, the same network without its skip
//! connections.

use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;

use crate::nn::{BatchNorm, Conv2d, add_relu, relu};

/// Configuration of [`ResNet`].
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Number of classes, read from the labels of the training data.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Channels of the input images (1 for MNIST).
    #[config(default = 1)]
    pub channels: usize,
    /// Filters of the stem and the first stage; each later stage doubles them (the article: 64).
    #[config(default = 64)]
    pub width: usize,
    /// Residual blocks of each stage; every stage after the first halves the picture's side
    /// (the article: one stage of 2).
    #[config(default = "vec![2]")]
    pub blocks: Vec<usize>,
    /// Batch norm after every convolution (the article: none).
    #[config(default = false)]
    pub batch_norm: bool,
    /// The skip connections; without them the same layers make a plain network.
    #[config(default = true)]
    pub skip: bool,
}

/// Item 28's block: two 3x3 convolutions and the shortcut.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    conv1: Conv2d,
    norm1: Option<BatchNorm>,
    conv2: Conv2d,
    norm2: Option<BatchNorm>,
    /// A 1x1 stride-2 convolution (and its norm) that fits the input of a block that halves
    /// the side and doubles the width to its output.
    projection: Option<Conv2d>,
    projection_norm: Option<BatchNorm>,
    skip: bool,
}

/// A 3x3 convolution with "same" padding (at stride 2, the side halves).
fn conv3x3(from: usize, to: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
        .into()
}

fn norm(features: usize, on: bool, device: &Device) -> Option<BatchNorm> {
    on.then(|| BatchNormConfig::new(features).init(device).into())
}

/// `relu(norm(x))`, the norm when there is one (fused into one kernel on the CPU).
fn norm_relu(norm: &Option<BatchNorm>, x: Tensor<4>) -> Tensor<4> {
    match norm {
        Some(norm) => norm.forward_leaky_relu(x, 0.0),
        None => relu(x),
    }
}

impl ResidualBlock {
    /// A block from `from` to `to` channels; `stride` 2 halves the side.
    pub fn new(from: usize, to: usize, stride: usize, batch_norm: bool, skip: bool, device: &Device) -> Self {
        let project = skip && (stride != 1 || from != to);
        Self {
            conv1: conv3x3(from, to, stride, device),
            norm1: norm(to, batch_norm, device),
            conv2: conv3x3(to, to, 1, device),
            norm2: norm(to, batch_norm, device),
            projection: project
                .then(|| Conv2dConfig::new([from, to], [1, 1]).with_stride([stride, stride]).init(device).into()),
            projection_norm: norm(to, project && batch_norm, device),
            skip,
        }
    }

    /// # Shapes
    /// - x: `[batch, from, h, w]`; output `[batch, to, h / stride, w / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = norm_relu(&self.norm1, self.conv1.forward(x.clone()));
        let y = self.conv2.forward(y);
        let y = match &self.norm2 {
            Some(norm) => norm.forward(y),
            None => y,
        };
        if !self.skip {
            return relu(y);
        }
        let shortcut = match &self.projection {
            Some(projection) => {
                let s = projection.forward(x);
                match &self.projection_norm {
                    Some(norm) => norm.forward(s),
                    None => s,
                }
            }
            None => x,
        };
        add_relu(y, shortcut)
    }
}

/// The residual network: stem, stages of blocks, the article's closing convolution, global
/// average pooling and a dense classifier.
#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv2d,
    stem_norm: Option<BatchNorm>,
    blocks: Vec<ResidualBlock>,
    closing: Conv2d,
    closing_norm: Option<BatchNorm>,
    output: Linear,
}

impl ResNetConfig {
    /// Builds the network on `device` with freshly initialised weights.
    pub fn init(&self, device: &Device) -> ResNet {
        let mut blocks = Vec::new();
        let mut width = self.width;
        for (stage, &count) in self.blocks.iter().enumerate() {
            for b in 0..count {
                let (from, stride) = if stage > 0 && b == 0 { (width / 2, 2) } else { (width, 1) };
                blocks.push(ResidualBlock::new(from, width, stride, self.batch_norm, self.skip, device));
            }
            if stage + 1 < self.blocks.len() {
                width *= 2;
            }
        }
        ResNet {
            stem: conv3x3(self.channels, self.width, 1, device),
            stem_norm: norm(self.width, self.batch_norm, device),
            blocks,
            closing: conv3x3(width, width, 1, device),
            closing_norm: norm(width, self.batch_norm, device),
            output: LinearConfig::new(width, self.num_classes).init(device),
        }
    }
}

impl ResNet {
    /// # Shapes
    /// - images: `[batch, channels, h, w]`; output: logits `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.output.forward(self.pooled_features(images))
    }

    /// The body's output after global average pooling: what a new head learns from when the
    /// network is a pretrained backbone.
    ///
    /// # Shapes
    /// - images: `[batch, channels, h, w]`; output: `[batch, width']` (the last stage's width)
    pub fn pooled_features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = norm_relu(&self.stem_norm, self.stem.forward(images)); // [batch, width, h, w]
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x)); // [batch, width', h', w']
        let x = norm_relu(&self.closing_norm, self.closing.forward(x));
        let [batch, channels, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([batch, channels]) // global average pooling
    }

    /// Width of [`pooled_features`](Self::pooled_features).
    pub fn feature_size(&self) -> usize {
        self.closing.weight.val().dims()[0]
    }

    /// Freezes the stem and every block but the last `last_stage` ones: fine-tuning then trains
    /// the last stage and the closing convolution only.
    pub fn freeze_all_but_last(mut self, last_stage: usize) -> Self {
        self.stem = self.stem.freeze();
        self.stem_norm = self.stem_norm.map(Module::freeze);
        let keep = self.blocks.len().saturating_sub(last_stage);
        self.blocks = self.blocks.into_iter().enumerate().map(|(i, b)| if i < keep { b.freeze() } else { b }).collect();
        self
    }
}

impl crate::ImageNet for ResNet {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}
