//! Items 11 and 18 of the source document: transfer learning. A network trained on one task
//! (the article: VGG16 on ImageNet) keeps its convolutional base as a backbone; a new head
//! (the article's: Flatten -> Dense 1024 ReLU -> Dense N) learns the new task, with the backbone
//! frozen (the article), its last stage trainable, or all of it trained at a smaller rate.
//!
//! The backbone is one of zoo's own networks: `cnn` (its convolution and pooling stages,
//! flattened) or `resnet` (its body, average-pooled). Its classifier layers stay in the module,
//! unused, so that a trained run's weights load into it as they were saved.

use burn::nn::{Linear, LinearConfig, Relu};
use burn::prelude::*;

use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::{Cnn, CnnConfig, ResNet, ResNetConfig, Vgg16, Vgg16Config};

/// The architecture of the backbone: the source run's own model config.
#[derive(Config, Debug)]
pub enum BackboneConfig {
    Cnn(CnnConfig),
    ResNet(ResNetConfig),
    /// torchvision's VGG16 (the article's backbone), from its weights file: pictures are
    /// given its channels (grey repeated) and resized to its input side.
    Vgg16(Vgg16Config),
}

/// What fine-tuning trains.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum FineTuning {
    /// The head only; the backbone is frozen and runs without autodiff (the article).
    Frozen,
    /// The head and the backbone's last stage (`cnn`: its second convolution; `resnet`: its
    /// last stage of blocks and closing convolution).
    LastStage,
    /// Everything, the backbone at the recipe's smaller learning rate.
    Whole,
}

/// Configuration of [`Transfer`].
#[derive(Config, Debug)]
pub struct TransferConfig {
    /// Number of classes of the new task, read from its labels.
    #[config(default = 10)]
    pub num_classes: usize,
    /// The backbone's architecture (set from the source run).
    #[config(default = "BackboneConfig::Cnn(CnnConfig::new())")]
    pub backbone: BackboneConfig,
    /// Width of the head's hidden dense layer (the article: 1024).
    #[config(default = 1024)]
    pub hidden: usize,
    /// What fine-tuning trains.
    #[config(default = "FineTuning::Frozen")]
    pub fine_tuning: FineTuning,
}

/// The backbone: a zoo network used up to its features.
// One backbone per model, built once: the variants' sizes do not matter (and Burn's module
// derive takes each variant's network as it is, not boxed).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Backbone {
    Cnn(Cnn),
    ResNet(ResNet),
    Vgg16(Vgg16),
}

impl Backbone {
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`; output: `[batch, feature_size]`
    pub fn features(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Backbone::Cnn(net) => net.conv_features(images),
            Backbone::ResNet(net) => net.pooled_features(images),
            Backbone::Vgg16(net) => net.conv_features(images),
        }
    }

    pub fn feature_size(&self) -> usize {
        match self {
            Backbone::Cnn(net) => net.conv_feature_size(),
            Backbone::ResNet(net) => net.feature_size(),
            Backbone::Vgg16(net) => net.conv_feature_size(),
        }
    }
}

/// A backbone and the article's head.
#[derive(Module, Debug)]
pub struct Transfer {
    pub backbone: Backbone,
    hidden: Linear,
    activation: Relu,
    output: Linear,
    /// The whole backbone is frozen: its pass runs on the plain device, outside autodiff.
    frozen: bool,
    /// `[channels, side]` the backbone takes when the pictures must be converted to it (VGG16);
    /// `[0, 0]`: as they come.
    input: [usize; 2],
}

impl BackboneConfig {
    /// A backbone of freshly initialised weights.
    pub fn init(&self, device: &Device) -> Backbone {
        match self {
            BackboneConfig::Cnn(config) => Backbone::Cnn(config.init(device)),
            BackboneConfig::ResNet(config) => Backbone::ResNet(config.init(device)),
            BackboneConfig::Vgg16(config) => Backbone::Vgg16(config.init(device)),
        }
    }
}

impl TransferConfig {
    /// The network with a freshly initialised backbone (training from scratch, or the shape
    /// that a run's weights load into).
    pub fn init(&self, device: &Device) -> Transfer {
        self.init_with(self.backbone.init(device), device)
    }

    /// The network on `backbone` (pretrained), frozen as [`fine_tuning`](Self::fine_tuning)
    /// says, with a new head.
    pub fn init_with(&self, backbone: Backbone, device: &Device) -> Transfer {
        let features = backbone.feature_size();
        let backbone = match (self.fine_tuning, backbone) {
            (FineTuning::Frozen, backbone) => backbone.freeze(),
            (FineTuning::LastStage, Backbone::Cnn(net)) => Backbone::Cnn(net.freeze_first_stage()),
            (FineTuning::LastStage, Backbone::ResNet(net)) => {
                let last = match &self.backbone {
                    BackboneConfig::ResNet(config) => config.blocks.last().copied().unwrap_or(0),
                    _ => 0,
                };
                Backbone::ResNet(net.freeze_all_but_last(last))
            }
            (FineTuning::LastStage, Backbone::Vgg16(net)) => Backbone::Vgg16(net.freeze_all_but_last_stage()),
            (FineTuning::Whole, backbone) => backbone,
        };
        let input = match &self.backbone {
            BackboneConfig::Vgg16(config) => [config.channels, config.input_side],
            _ => [0, 0],
        };
        Transfer {
            backbone,
            input,
            hidden: LinearConfig::new(features, self.hidden).init(device),
            activation: Relu::new(),
            output: LinearConfig::new(self.hidden, self.num_classes).init(device),
            frozen: self.fine_tuning == FineTuning::Frozen,
        }
    }
}

impl Transfer {
    /// Class logits of the new task.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`; output: `[batch, num_classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let images = self.to_backbone_input(images);
        let features = if self.frozen && images.is_autodiff() {
            // No gradient flows into a frozen backbone: run it without recording a graph.
            Tensor::from_inner(self.backbone.valid().features(images.inner()))
        } else {
            self.backbone.features(images)
        }; // [batch, feature_size]
        let x = self.activation.forward(self.hidden.forward(features)); // [batch, hidden]
        self.output.forward(x) // [batch, num_classes]
    }
}

impl Transfer {
    /// Pictures as the backbone takes them: grey repeated into its channels, resized to its
    /// side (bilinear).
    ///
    /// # Shapes
    /// - images: `[batch, c, h, w]`; output: `[batch, channels, side, side]`
    fn to_backbone_input(&self, images: Tensor<4>) -> Tensor<4> {
        let [channels, side] = self.input;
        if channels == 0 {
            return images;
        }
        let [batch, c, h, w] = images.dims();
        let images = if c == 1 && channels > 1 { images.expand([batch, channels, h, w]) } else { images };
        if (h, w) == (side, side) {
            return images;
        }
        let options = InterpolateOptions::new(InterpolateMode::Bilinear).with_output_size([side, side]);
        interpolate(images, options)
    }
}

impl crate::ImageNet for Transfer {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}
