//! The training wrapper shared by every image classifier (`mlp`, `cnn`, ...).
//!
//! burn-train's `TrainStep` and the models are both foreign to this crate, so the steps are
//! implemented on a local wrapper that holds the network.

use burn::module::ModuleDisplay;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use zoo_models::{Cnn, Mlp, Rnn};

use crate::loader::ImageBatch;

/// A network that maps a batch of images to class logits.
pub trait ImageNet: Module + ModuleDisplay + core::fmt::Display + 'static {
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`
    /// - output: `[batch, num_classes]`
    fn logits(&self, images: Tensor<4>) -> Tensor<2>;
}

impl ImageNet for Mlp {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

impl ImageNet for Cnn {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

impl ImageNet for Rnn {
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.forward(images)
    }
}

/// An image network trained with softmax cross-entropy on its logits.
#[derive(Module, Debug)]
pub struct Classifier<N> {
    pub net: N,
}

impl<N: ImageNet> Classifier<N> {
    pub fn new(net: N) -> Self {
        Self { net }
    }

    /// Logits and the mean cross-entropy of a batch.
    pub fn forward_classification(&self, batch: ImageBatch) -> ClassificationOutput {
        let logits = self.net.logits(batch.images);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

impl<N: ImageNet> TrainStep for Classifier<N> {
    type Input = ImageBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<ClassificationOutput> {
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl<N: ImageNet> InferenceStep for Classifier<N> {
    type Input = ImageBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: ImageBatch) -> ClassificationOutput {
        self.forward_classification(batch)
    }
}
