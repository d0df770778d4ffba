//! Item 24 of the source document: attention, written once for every text model (the article's
//! code left out the 1/sqrt(d) scaling and mixed up shapes).
//!
//! Multi-head scaled dot-product attention is Burn's `MultiHeadAttention` module run by
//! [`attend`] (`softmax(Q Kᵀ / sqrt(d_k)) V` per head, masked positions set to -1e4 before the
//! softmax, so their weight is 0 in f32); this file adds the two masks every model needs and the
//! attention pooling of item 24: one learned query attending over a token sequence.
//! `tests/zoo/attention.rs` checks Burn's module against a naive reference and the masks.

use burn::module::Param;
use burn::nn::Linear;
use burn::nn::attention::{MultiHeadAttention, MultiHeadAttentionConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::quiet_softmax;

use crate::kernels::dropout::dropout;
use crate::nn::softmax_scaled;

/// Burn's `MultiHeadAttention::forward` over the same module (weights, records), written out
/// so that the softmax and the dropout on the weights run zoo's kernels (Burn's softmax was
/// five single-threaded passes with libm's `exp`). Returns the context and the weights (after
/// dropout, as Burn's `MhaOutput`). The masks go in before the scaling (Burn's after), as
/// `min_float / scale`, so that the scaled score is Burn's `min_float` exactly.
///
/// # Shapes
/// - query: `[batch, len_q, d_model]`; key, value: `[batch, len_k, d_model]`
/// - mask_pad: `[batch, len_k]`, true at padding; mask_attn: `[batch, len_q, len_k]`, true
///   where a query may not look
/// - output: `[batch, len_q, d_model]` and `[batch, heads, len_q, len_k]`
pub fn attend(
    mha: &MultiHeadAttention,
    query: Tensor<3>,
    key: Tensor<3>,
    value: Tensor<3>,
    mask_pad: Option<Tensor<2, Bool>>,
    mask_attn: Option<Tensor<3, Bool>>,
) -> (Tensor<3>, Tensor<4>) {
    let [batch, len_q, d_model] = query.dims();
    let [key_batch, len_k, key_width] = key.dims();
    assert!(
        d_model == mha.d_model && key_batch == batch && key_width == d_model && value.dims() == [batch, len_k, d_model],
        "attention over query {:?}, key {:?}, value {:?}: the three need the batch and width {} of the layer, and key and value one length",
        query.dims(),
        key.dims(),
        value.dims(),
        mha.d_model
    );
    // [batch, len, d_model] -> [batch, heads, len, d_k]
    let split_heads = |x: Tensor<3>, linear: &Linear| {
        let [batch, len, _] = x.dims();
        linear.forward(x).reshape([batch, len, mha.n_heads, mha.d_k]).swap_dims(1, 2)
    };
    let (query, key, value) =
        (split_heads(query, &mha.query), split_heads(key, &mha.key), split_heads(value, &mha.value));
    let scale = 1.0 / (mha.d_k as f64).sqrt();
    let fill = mha.min_float / scale;
    let mut scores = query.matmul(key.transpose()); // [batch, heads, len_q, len_k]
    if let Some(mask) = mask_pad {
        let [batch, len_k] = mask.dims();
        scores = scores.mask_fill(mask.reshape([batch, 1, 1, len_k]), fill);
    }
    if let Some(mask) = mask_attn {
        let [batch, len_q, len_k] = mask.dims();
        scores = scores.mask_fill(mask.reshape([batch, 1, len_q, len_k]), fill);
    }
    let weights =
        if mha.quiet_softmax { quiet_softmax(scores.mul_scalar(scale), 3) } else { softmax_scaled(scores, scale) };
    let weights = dropout(&mha.dropout, weights);
    let context = weights.clone().matmul(value).swap_dims(1, 2).reshape([batch, len_q, d_model]);
    (mha.output.forward(context), weights)
}

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
        let (context, weights) = attend(&self.attention, query, tokens.clone(), tokens, padding, None);
        let weights = weights.mean_dim(1).reshape([batch, len]); // [batch, heads, 1, len] -> [batch, len]
        (context.reshape([batch, d_model]), weights)
    }
}
