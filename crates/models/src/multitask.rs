//! Item 30 of the source document: multi-task learning, one network that says what digit a
//! picture holds and where it is.
//!
//! The article: a shared `Conv 32 3x3 -> Flatten` trunk on 28x28x1, then head 1 `Dense 64 ->
//! Dense 10` (softmax, cross-entropy) and head 2 `Dense 64 -> Dense 4` (sigmoid, MSE) for the
//! bounding box. zoo grows the trunk to fit its task (a digit anywhere on a 64x64 canvas, at 14
//! to 48 px): `stages` of `conv 3x3 same -> batch norm -> ReLU`, a 2x2 max-pool between stages,
//! so 64 px become 32, 16 and an 8x8 map; each head is the article's `dense hidden ReLU ->
//! dense`. The heads read the map differently: the class head its maximum over positions
//! (what a digit is does not depend on where it is), the box head the whole flattened map
//! (where it is is the question). Both from the flattened map, the class head learns each digit
//! anew at every position: 94.9 % test accuracy after 3 epochs, against 98-99 % for this.

use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use crate::nn::{BatchNorm, Conv2d, MaxPool2d};

/// Configuration of [`MultiTask`].
#[derive(Config, Debug)]
pub struct MultiTaskConfig {
    /// Number of classes, read from the labels of the training data.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Side of the square greyscale input (the canvas).
    #[config(default = 64)]
    pub side: usize,
    /// Filters of each trunk stage; a max-pool between stages halves the side (the article: one
    /// stage of 32).
    #[config(default = "vec![16, 32, 64, 128]")]
    pub stages: Vec<usize>,
    /// Width of each head's hidden dense layer (the article: 64).
    #[config(default = 128)]
    pub head_hidden: usize,
}

/// One trunk stage: `conv 3x3 same -> batch norm -> ReLU`.
#[derive(Module, Debug)]
pub struct TrunkStage {
    conv: Conv2d,
    norm: BatchNorm,
}

/// The shared trunk and the two heads.
#[derive(Module, Debug)]
pub struct MultiTask {
    stages: Vec<TrunkStage>,
    pool: MaxPool2d,
    class_hidden: Linear,
    class_output: Linear,
    box_hidden: Linear,
    box_output: Linear,
}

/// What the two heads say of a batch.
#[derive(Clone, Debug)]
pub struct MultiTaskOutput {
    /// `[batch, num_classes]` class logits.
    pub logits: Tensor<2>,
    /// `[batch, 4]` box `[x_min, y_min, x_max, y_max]` as fractions of the side, in `(0, 1)`.
    pub boxes: Tensor<2>,
}

impl MultiTaskConfig {
    /// The side of the trunk's output map.
    pub fn feature_side(&self) -> usize {
        self.stages.iter().skip(1).fold(self.side, |side, _| side / 2)
    }

    /// What cannot work, as a message naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.stages.is_empty() || self.stages.contains(&0) {
            return Err("model.stages: give at least one stage, each with at least one filter".to_string());
        }
        if self.feature_side() == 0 {
            return Err(format!(
                "model.stages: {} stages halve a {} px side to nothing; use fewer",
                self.stages.len(),
                self.side
            ));
        }
        Ok(())
    }

    pub fn init(&self, device: &Device) -> MultiTask {
        let mut from = 1;
        let stages = self
            .stages
            .iter()
            .map(|&to| {
                let conv = Conv2dConfig::new([from, to], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
                    .into();
                from = to;
                TrunkStage { conv, norm: BatchNormConfig::new(to).init(device).into() }
            })
            .collect();
        let side = self.feature_side();
        let features = from * side * side;
        MultiTask {
            stages,
            pool: MaxPool2dConfig::new([2, 2]).init().into(),
            class_hidden: LinearConfig::new(from, self.head_hidden).init(device),
            class_output: LinearConfig::new(self.head_hidden, self.num_classes).init(device),
            box_hidden: LinearConfig::new(features, self.head_hidden).init(device),
            box_output: LinearConfig::new(self.head_hidden, 4).init(device),
        }
    }
}

impl MultiTask {
    /// Both heads.
    ///
    /// # Shapes
    /// - images: `[batch, 1, side, side]`, pixels in `[0, 1]`
    /// - output: logits `[batch, num_classes]`, boxes `[batch, 4]`
    pub fn forward(&self, images: Tensor<4>) -> MultiTaskOutput {
        let map = self.trunk(images); // [batch, c, s, s] (default [batch, 128, 8, 8])
        let [batch, channels, _, _] = map.dims();
        let anywhere = map.clone().flatten::<3>(2, 3).max_dim(2).reshape([batch, channels]); // [batch, c]
        let logits = self.class_output.forward(relu(self.class_hidden.forward(anywhere)));
        let everywhere = map.flatten::<2>(1, 3); // [batch, c * s * s]
        let boxes = sigmoid(self.box_output.forward(relu(self.box_hidden.forward(everywhere))));
        MultiTaskOutput { logits, boxes }
    }

    /// The shared trunk's map.
    ///
    /// # Shapes
    /// - images: `[batch, 1, side, side]`
    /// - output: `[batch, stages.last, s, s]`, `s = side / 2^(stages - 1)` (default `[batch, 128,
    ///   8, 8]`)
    pub fn trunk(&self, images: Tensor<4>) -> Tensor<4> {
        let mut x = images;
        for (i, stage) in self.stages.iter().enumerate() {
            if i > 0 {
                x = self.pool.forward(x); // [batch, c, s, s] -> [batch, c, s / 2, s / 2]
            }
            x = stage.norm.forward_leaky_relu(stage.conv.forward(x), 0.0); // [batch, c', s, s]
        }
        x
    }
}
