//! Item 24 of the source document: attention, written once for every text model (the article's
//! code left out the 1/sqrt(d) scaling and mixed up shapes).
//!
//! Multi-head scaled dot-product attention is Burn's `MultiHeadAttention`
//! (`softmax(Q Kᵀ / sqrt(d_k)) V` per head, masked positions set to -1e4 before the softmax,
//! so their weight is 0 in f32); this file adds the two masks every model needs and the
//! attention pooling of item 24: one learned query attending over a token sequence.
//! `tests/zoo/attention.rs` checks Burn's module against a naive reference and the masks.

use burn::module::Param;
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::prelude::*;
use burn::tensor::Distribution;

/// `[batch, len, len]`, true where position `i` may not look at `j > i` (the future).
pub fn causal_mask(batch: usize, len: usize, device: &Device) -> Tensor<3, Bool> {
    burn::nn::attention::generate_autoregressive_mask(batch, len, device)
}

/// `[batch, len]`, true at the padding after each sequence's `lengths[b]` real tokens.
pub fn padding_mask(lengths: &[usize], len: usize, device: &Device) -> Tensor<2, Bool> {
    let flags: Vec<bool> = lengths.iter().flat_map(|&n| (0..len).map(move |i| i >= n)).collect();
    Tensor::<2, Bool>::from_data(TensorData::new(flags, [lengths.len(), len]), device)
}

/// Configuration of [`AttentionPooling`].
#[derive(Config, Debug)]
pub struct AttentionPoolingConfig {
    /// Width of the token vectors.
    pub d_model: usize,
    /// Attention heads.
    #[config(default = 4)]
    pub heads: usize,
}

/// A learned query attends over the tokens and returns their weighted summary: the pooling of
/// item 24, which also says which tokens mattered.
#[derive(Module, Debug)]
pub struct AttentionPooling {
    /// `[1, 1, d_model]`
    query: Param<Tensor<3>>,
    attention: MultiHeadAttention,
}

impl AttentionPoolingConfig {
    pub fn init(&self, device: &Device) -> AttentionPooling {
        let query = Tensor::random([1, 1, self.d_model], Distribution::Normal(0.0, 0.02), device);
        AttentionPooling {
            query: Param::from_tensor(query),
            attention: MultiHeadAttentionConfig::new(self.d_model, self.heads).with_dropout(0.0).init(device),
        }
    }
}

impl AttentionPooling {
    /// The pooled vector and the weight of every token (the mean over heads).
    ///
    /// # Shapes
    /// - tokens: `[batch, len, d_model]`; padding: `[batch, len]`, true at padding
    /// - output: `[batch, d_model]` and `[batch, len]` (each row sums to 1, 0 at padding)
    pub fn forward(&self, tokens: Tensor<3>, padding: Option<Tensor<2, Bool>>) -> (Tensor<2>, Tensor<2>) {
        let [batch, len, d_model] = tokens.dims();
        let query = self.query.val().expand([batch as i64, 1, d_model as i64]);
        let mut input = MhaInput::new(query, tokens.clone(), tokens);
        if let Some(padding) = padding {
            input = input.mask_pad(padding);
        }
        let out = self.attention.forward(input);
        let weights = out.weights.mean_dim(1).reshape([batch, len]); // [batch, heads, 1, len] -> [batch, len]
        (out.context.reshape([batch, d_model]), weights)
    }
}
