//! Items 3 and 7 of the source document: the convolutional network for MNIST.
//!
//! `Conv 32 3x3 ReLU -> MaxPool 2 -> Conv 64 3x3 ReLU -> MaxPool 2 -> Flatten -> Dense 128 ReLU
//! -> Dense num_classes` (logits). Convolutions are "valid" (no padding) as in Keras' default,
//! so a 28x28 image becomes 26 -> 13 -> 11 -> 5, and the flattened features are 64 * 5 * 5.

use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

use crate::nn::{Conv2d, MaxPool2d};

use crate::IMAGE_SIDE;

/// Configuration of [`Cnn`].
#[derive(Config, Debug)]
pub struct CnnConfig {
    /// Number of classes, read from the labels of the training data.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Filters of the first convolution.
    #[config(default = 32)]
    pub conv1_channels: usize,
    /// Filters of the second convolution.
    #[config(default = 64)]
    pub conv2_channels: usize,
    /// Width of the dense hidden layer.
    #[config(default = 128)]
    pub hidden: usize,
}

/// Two convolution + pooling stages followed by a dense classifier.
#[derive(Module, Debug)]
pub struct Cnn {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    activation: Relu,
    hidden: Linear,
    output: Linear,
}

/// Spatial side after a valid 3x3 convolution and a 2x2 pooling, twice: 28 -> 13 -> 5 (also
/// `crossmodal`'s image tower, which has the same two stages).
pub(crate) const fn feature_side(side: usize) -> usize {
    ((side - 2) / 2 - 2) / 2
}

impl CnnConfig {
    /// Builds the model on `device` with freshly initialised weights.
    pub fn init(&self, device: &Device) -> Cnn {
        let side = feature_side(IMAGE_SIDE);
        Cnn {
            conv1: Conv2dConfig::new([1, self.conv1_channels], [3, 3]).init(device).into(),
            conv2: Conv2dConfig::new([self.conv1_channels, self.conv2_channels], [3, 3]).init(device).into(),
            pool: MaxPool2dConfig::new([2, 2]).init().into(),
            activation: Relu::new(),
            hidden: LinearConfig::new(self.conv2_channels * side * side, self.hidden).init(device),
            output: LinearConfig::new(self.hidden, self.num_classes).init(device),
        }
    }
}

impl Cnn {
    /// Class logits for a batch of images.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`, pixels in `[0, 1]`
    /// - output: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.output.forward(self.features(images)) // [batch, num_classes]
    }

    /// The penultimate-layer features (after the dense ReLU): what the classifier sees, and
    /// what a judge of generated images compares.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`
    /// - output: `[batch, hidden]`
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.conv_features(images); // [batch, 1600]
        self.activation.forward(self.hidden.forward(x)) // [batch, 128]
    }

    /// The convolutional base's output, flattened: what a new head learns from when the
    /// network is a pretrained backbone (items 11 and 18: VGG16 without its top).
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`
    /// - output: `[batch, conv2_channels * 5 * 5]`
    pub fn conv_features(&self, images: Tensor<4>) -> Tensor<2> {
        // ReLU after the pooling, not before: the same values and gradients (the maximum of
        // ReLUs is the ReLU of the maximum), on a quarter of the elements; Burn's ReLU and
        // its backward pass run on one thread.
        let x = self.pool.forward(self.conv1.forward(images)); // [batch, 32, 13, 13]
        let x = self.activation.forward(x);
        let x = self.pool.forward(self.conv2.forward(x)); // [batch, 64, 5, 5]
        let x = self.activation.forward(x);
        x.flatten::<2>(1, 3) // [batch, 1600]
    }

    /// Width of [`conv_features`](Self::conv_features).
    pub fn conv_feature_size(&self) -> usize {
        let side = feature_side(IMAGE_SIDE);
        self.conv2.weight.val().dims()[0] * side * side
    }

    /// Freezes the first stage (conv1): fine-tuning then trains the last stage (conv2) only.
    pub fn freeze_first_stage(mut self) -> Self {
        self.conv1 = self.conv1.freeze();
        self
    }
}

impl crate::ImageNet for Cnn {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}
