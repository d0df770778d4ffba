//! Item 29 of the source document: cross-modal learning, a network that says whether a caption
//! describes a picture.
//!
//! The article's two towers, kept: text `Embedding -> LSTM 128` (its last state), image `Conv
//! 32 -> Pool -> Conv 64 -> Pool -> Flatten`; the two concatenated, then `Dense 128 ReLU ->
//! Dense 1` (a logit; the sigmoid is in the loss, binary cross-entropy). Sizes fit zoo's data:
//! 28x28 digits (valid 3x3 convolutions, 28 -> 13 -> 5, as `cnn`), captions of at most a few
//! tens of tokens, left-padded so the LSTM's last step is the caption's last token.

use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::cnn::feature_side;
use crate::lstm::{FusedLstmLayer, lstm_input_product};
use crate::nn::{Conv2d, MaxPool2d};
use crate::{IMAGE_SIDE, kernels};

/// Configuration of [`CrossModal`].
#[derive(Config, Debug)]
pub struct CrossModalConfig {
    /// Token ids the text tower reads (the tokeniser's vocabulary, padding and unknown included).
    #[config(default = 64)]
    pub vocab: usize,
    /// Width of the token embedding (the article: 128).
    #[config(default = 64)]
    pub embedding: usize,
    /// Units of the LSTM (the article: 128).
    #[config(default = 128)]
    pub text_hidden: usize,
    /// Filters of the image tower's two convolutions (the article: 32, 64).
    #[config(default = 32)]
    pub conv1_channels: usize,
    #[config(default = 64)]
    pub conv2_channels: usize,
    /// Width of the joint dense layer (the article: 128).
    #[config(default = 128)]
    pub hidden: usize,
}

/// The two towers and the joint classifier.
#[derive(Module, Debug)]
pub struct CrossModal {
    embedding: Embedding,
    /// The LSTM's input product `x W_x + b`: `[embedding, 4 text_hidden]`.
    text_input: Linear,
    lstm: FusedLstmLayer,
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    joint: Linear,
    output: Linear,
}

impl CrossModalConfig {
    pub fn init(&self, device: &Device) -> CrossModal {
        let side = feature_side(IMAGE_SIDE);
        let image_features = self.conv2_channels * side * side;
        CrossModal {
            embedding: EmbeddingConfig::new(self.vocab, self.embedding).init(device),
            text_input: lstm_input_product(self.embedding, self.text_hidden, 1.0, device),
            lstm: FusedLstmLayer::new(self.text_hidden, device),
            conv1: Conv2dConfig::new([1, self.conv1_channels], [3, 3]).init(device).into(),
            conv2: Conv2dConfig::new([self.conv1_channels, self.conv2_channels], [3, 3]).init(device).into(),
            pool: MaxPool2dConfig::new([2, 2]).init().into(),
            joint: LinearConfig::new(image_features + self.text_hidden, self.hidden).init(device),
            output: LinearConfig::new(self.hidden, 1).init(device),
        }
    }
}

impl CrossModal {
    /// The match logit of each (image, caption) pair.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`, pixels in `[0, 1]`
    /// - tokens: `[batch, len]` token ids, left-padded
    /// - output: `[batch]` logits (sigmoid: the probability that the caption describes the image)
    pub fn forward(&self, images: Tensor<4>, tokens: Tensor<2, Int>) -> Tensor<1> {
        self.joint_logits(self.image_features(images), self.text_features(tokens))
    }

    /// The image tower.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`
    /// - output: `[batch, conv2_channels * 5 * 5]`
    pub fn image_features(&self, images: Tensor<4>) -> Tensor<2> {
        // ReLU after the pooling: the same values and gradients on a quarter of the elements.
        let x = relu(self.pool.forward(self.conv1.forward(images))); // [batch, 32, 13, 13]
        let x = relu(self.pool.forward(self.conv2.forward(x))); // [batch, 64, 5, 5]
        x.flatten::<2>(1, 3) // [batch, 1600]
    }

    /// The text tower: the LSTM's state after the last token.
    ///
    /// # Shapes
    /// - tokens: `[batch, len]`
    /// - output: `[batch, text_hidden]`
    pub fn text_features(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let [batch, len] = tokens.dims();
        let device = tokens.device();
        let hidden = self.lstm.hidden();
        let zeros = || Tensor::<2>::zeros([batch, hidden], &device);
        let x_gates = self.text_input.forward(self.embedding.forward(tokens)); // [batch, len, 4 hidden]
        if kernels::applies(&x_gates) {
            let out = self.lstm.sequence(x_gates, zeros(), zeros()).expect("the kernel applies"); // [batch, len, 2 hidden]
            return out.slice([0..batch, len - 1..len, 0..hidden]).reshape([batch, hidden]);
        }
        let mut state = (zeros(), zeros());
        for step in x_gates.split(1, 1) {
            state = self.lstm.step(step.squeeze_dim::<2>(1), state); // [batch, 4 hidden] -> h, c
        }
        state.0
    }

    /// The image tower's share of the joint layer: the joint layer reads the concatenation
    /// `[image, text]`, so its product splits into an image part and a text part, and a pair's
    /// logit needs only their sum. Scoring many pairs then costs a sum per pair.
    ///
    /// # Shapes
    /// - images: `[n, 1, 28, 28]`
    /// - output: `[n, hidden]`
    pub fn image_projection(&self, images: Tensor<4>) -> Tensor<2> {
        let features = self.image_features(images); // [n, 1600]
        let width = features.dims()[1];
        let [_, hidden] = self.joint.weight.dims();
        features.matmul(self.joint.weight.val().slice([0..width, 0..hidden]))
    }

    /// The text tower's share of the joint layer, its bias included.
    ///
    /// # Shapes
    /// - tokens: `[m, len]`
    /// - output: `[m, hidden]`
    pub fn text_projection(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let features = self.text_features(tokens); // [m, text_hidden]
        let [inputs, hidden] = self.joint.weight.dims();
        let text = features.dims()[1];
        let projected = features.matmul(self.joint.weight.val().slice([inputs - text..inputs, 0..hidden]));
        match &self.joint.bias {
            Some(bias) => projected + bias.val().unsqueeze_dim(0),
            None => projected,
        }
    }

    /// The logit of every (image, caption) pair from the two projections.
    ///
    /// # Shapes
    /// - images: `[n, hidden]`, texts: `[m, hidden]`
    /// - output: `[n, m]`
    pub fn pair_logits(&self, images: Tensor<2>, texts: Tensor<2>) -> Tensor<2> {
        let [n, _] = images.dims();
        let [m, _] = texts.dims();
        let hidden = relu(images.unsqueeze_dim::<3>(1) + texts.unsqueeze_dim::<3>(0)); // [n, m, hidden]
        self.output.forward(hidden).reshape([n, m])
    }

    /// The joint classifier on the towers' outputs.
    ///
    /// # Shapes
    /// - image: `[batch, conv2_channels * 25]`, text: `[batch, text_hidden]`
    /// - output: `[batch]`
    pub fn joint_logits(&self, image: Tensor<2>, text: Tensor<2>) -> Tensor<1> {
        let both = Tensor::cat(vec![image, text], 1); // [batch, 1600 + text_hidden]
        self.output.forward(relu(self.joint.forward(both))).flatten::<1>(0, 1)
    }
}
