//! VGG16, the backbone of items 11 and 18 (`VGG16(weights='imagenet', include_top=False)`),
//! laid out as torchvision's `vgg16` so that its weights file loads unchanged: thirteen 3x3
//! convolutions (`features.0` ... `features.28` in torchvision, every convolution a module of
//! `features` and the ReLUs and poolings between them not), an adaptive average pooling to 7x7
//! and three dense layers (`classifier.0`, `.3`, `.6`). Burn numbers the layers of a list
//! contiguously (`features.0` ... `features.12`); the loader maps torchvision's gaps onto that.
//! A width multiplier narrows every layer for tests (1: torchvision's 64 ... 512 and 4096).

use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::nn::{Conv2d, MaxPool2d};

/// Convolutions per stage and their filters at width 1 (VGG16, configuration "D").
const STAGES: [(usize, usize); 5] = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)];

/// Configuration of [`Vgg16`].
#[derive(Config, Debug)]
pub struct Vgg16Config {
    /// Classes of the top (ImageNet: 1000).
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Channels of the input pictures (3: RGB).
    #[config(default = 3)]
    pub channels: usize,
    /// Every layer's width times this (1: torchvision's VGG16).
    #[config(default = 1.0)]
    pub width: f64,
    /// Side of the square input the network was trained on (224); any side of at least 32
    /// works, the pooling before the top adapts to 7x7.
    #[config(default = 224)]
    pub input_side: usize,
}

/// VGG16: convolutional base and top.
#[derive(Module, Debug)]
pub struct Vgg16 {
    features: Vec<Conv2d>,
    pool: MaxPool2d,
    average: AdaptiveAvgPool2d,
    classifier: Vec<Linear>,
    dropout: Dropout,
}

impl Vgg16Config {
    fn scaled(&self, width: usize) -> usize {
        ((width as f64 * self.width).round() as usize).max(1)
    }

    /// Builds the network on `device` with freshly initialised weights.
    pub fn init(&self, device: &Device) -> Vgg16 {
        let mut features = Vec::new();
        let mut from = self.channels;
        for (convolutions, filters) in STAGES {
            let to = self.scaled(filters);
            for _ in 0..convolutions {
                let conv = Conv2dConfig::new([from, to], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
                features.push(conv.init(device).into());
                from = to;
            }
        }
        let hidden = self.scaled(4096);
        Vgg16 {
            features,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init().into(),
            average: AdaptiveAvgPool2dConfig::new([7, 7]).init(),
            classifier: vec![
                LinearConfig::new(from * 7 * 7, hidden).init(device),
                LinearConfig::new(hidden, hidden).init(device),
                LinearConfig::new(hidden, self.num_classes).init(device),
            ],
            dropout: DropoutConfig::new(0.5).init(),
        }
    }
}

impl Vgg16 {
    /// The convolutional base (`include_top=False`), pooled to 7x7 and flattened.
    ///
    /// # Shapes
    /// - images: `[batch, channels, side, side]`; output: `[batch, width(512) * 7 * 7]`
    pub fn conv_features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        let mut layer = 0;
        for (convolutions, _) in STAGES {
            for _ in 0..convolutions {
                x = relu(self.features[layer].forward(x));
                layer += 1;
            }
            x = self.pool.forward(x); // the side halves
        }
        self.average.forward(x).flatten::<2>(1, 3) // [batch, width * 7 * 7]
    }

    /// Width of [`conv_features`](Self::conv_features).
    pub fn conv_feature_size(&self) -> usize {
        self.features.last().map_or(0, |conv| conv.weight.val().dims()[0]) * 7 * 7
    }

    /// Class logits of the top.
    ///
    /// # Shapes
    /// - images: `[batch, channels, side, side]`; output: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.conv_features(images);
        let x = self.dropout.forward(relu(self.classifier[0].forward(x)));
        let x = self.dropout.forward(relu(self.classifier[1].forward(x)));
        self.classifier[2].forward(x)
    }

    /// Freezes every convolution but the last stage's three.
    pub fn freeze_all_but_last_stage(mut self) -> Self {
        let keep = self.features.len() - STAGES[STAGES.len() - 1].0;
        self.features =
            self.features.into_iter().enumerate().map(|(i, c)| if i < keep { c.freeze() } else { c }).collect();
        self
    }
}

impl crate::ImageNet for Vgg16 {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}
