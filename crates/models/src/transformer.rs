//! Item 24 of the source document put to work: two transformers built on Burn's encoder layers
//! (pre-norm, GELU feed-forward) and the attention of `attention.rs`.
//! - [`CharTransformer`]: a causal self-attention character language model (a small GPT).
//! - [`TextClassifier`]: a transformer encoder whose tokens are pooled by one learned query
//!   (cross-attention, [`AttentionPooling`]), then classified.

use burn::module::Param;
use burn::nn::activation::Activation;
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig};
use burn::nn::{
    DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
};
use burn::prelude::*;

use crate::kernels::dropout::dropout;
use crate::nn::Dropout;
use burn::tensor::Distribution;

use crate::attention::{AttentionPooling, AttentionPoolingConfig, attend, causal_mask};

/// Token and position embeddings as GPT-2 initialises them (normal, std 0.02).
fn embeddings(vocab: usize, positions: usize, d_model: usize, device: &Device) -> (Embedding, Param<Tensor<2>>) {
    let tokens = EmbeddingConfig::new(vocab, d_model)
        .with_initializer(Initializer::Normal { mean: 0.0, std: 0.02 })
        .init(device);
    let positions = Param::from_tensor(Tensor::random([positions, d_model], Distribution::Normal(0.0, 0.02), device));
    (tokens, positions)
}

/// Token plus position embedding of a batch of ids.
///
/// # Shapes
/// - ids: `[batch, len]`, `positions`: `[max_len, d_model]`; output `[batch, len, d_model]`
// `slice([0..len])` takes the first `len` rows of a 2-d tensor: one range per sliced
// dimension, not a one-element range list.
#[allow(clippy::single_range_in_vec_init)]
fn embed(tokens: &Embedding, positions: &Param<Tensor<2>>, ids: Tensor<2, Int>) -> Tensor<3> {
    let [_, len] = ids.dims();
    let d_model = positions.dims()[1];
    tokens.forward(ids) + positions.val().slice([0..len]).reshape([1, len, d_model])
}

fn encoder(d_model: usize, heads: usize, layers: usize, dropout: f64, device: &Device) -> TransformerEncoder {
    TransformerEncoderConfig::new(d_model, 4 * d_model, heads, layers)
        .with_dropout(dropout)
        .with_norm_first(true)
        .init(device)
}

/// Burn's `TransformerEncoder::forward`, written out over its own layers (the same modules,
/// weights and records) so that the feed-forward's exact GELU, the attention's softmax (see
/// [`attend`]) and the dropouts run zoo's kernels: Burn's GELU computed libm's `erff` a value
/// at a time on one thread (10 % of a GPT step). `mask_pad`: `[batch, len]`, true at padding; `mask_attn`: `[batch, len, len]`, true
/// where a position may not look.
///
/// # Shapes
/// - x: `[batch, len, d_model]`; output: the same
pub fn encode(
    encoder: &TransformerEncoder,
    mut x: Tensor<3>,
    mask_pad: Option<Tensor<2, Bool>>,
    mask_attn: Option<Tensor<3, Bool>>,
) -> Tensor<3> {
    for layer in &encoder.layers {
        // Burn's names: `norm_2` before the attention, `norm_1` before the feed-forward when
        // the norm comes first; after each residual sum otherwise.
        let attention = |h: Tensor<3>| {
            let (context, _) = attend(&layer.mha, h.clone(), h.clone(), h, mask_pad.clone(), mask_attn.clone());
            dropout(&layer.dropout, context)
        };
        let feed_forward = |h: Tensor<3>| {
            let ff = &layer.pwff;
            let h = ff.linear_inner.forward(h); // [batch, len, d_ff]
            let h = match &ff.activation {
                Activation::Gelu(g) if !g.approximate => crate::nn::gelu(h),
                other => other.forward(h),
            };
            dropout(&layer.dropout, ff.linear_outer.forward(dropout(&ff.dropout, h)))
        };
        x = if layer.norm_first {
            let x = x.clone() + attention(layer.norm_2.forward(x));
            x.clone() + feed_forward(layer.norm_1.forward(x))
        } else {
            let x = layer.norm_1.forward(x.clone() + attention(x));
            layer.norm_2.forward(x.clone() + feed_forward(x))
        };
    }
    x
}

/// Configuration of [`CharTransformer`].
#[derive(Config, Debug)]
pub struct CharTransformerConfig {
    /// Characters the model reads and predicts (the tokeniser's vocabulary, unknown included).
    pub vocab: usize,
    /// The longest context, in characters (nanoGPT's `block_size`).
    #[config(default = 128)]
    pub context: usize,
    /// Width of every token vector.
    #[config(default = 192)]
    pub d_model: usize,
    #[config(default = 6)]
    pub heads: usize,
    #[config(default = 4)]
    pub layers: usize,
    #[config(default = 0.1)]
    pub dropout: f64,
}

/// A small GPT: embeddings, pre-norm transformer blocks under a causal mask, a last layer norm
/// and a linear read-out to the next character.
#[derive(Module, Debug)]
pub struct CharTransformer {
    tokens: Embedding,
    /// `[context, d_model]`
    positions: Param<Tensor<2>>,
    dropout: Dropout,
    blocks: TransformerEncoder,
    norm: LayerNorm,
    output: Linear,
}

impl CharTransformerConfig {
    pub fn init(&self, device: &Device) -> CharTransformer {
        let (tokens, positions) = embeddings(self.vocab, self.context, self.d_model, device);
        CharTransformer {
            tokens,
            positions,
            dropout: DropoutConfig::new(self.dropout).init().into(),
            blocks: encoder(self.d_model, self.heads, self.layers, self.dropout, device),
            norm: LayerNormConfig::new(self.d_model).init(device),
            output: LinearConfig::new(self.d_model, self.vocab).init(device),
        }
    }
}

impl CharTransformer {
    /// Logits of the next character at every position; position `t` sees positions `0..=t`.
    ///
    /// # Shapes
    /// - ids: `[batch, len]` with `len <= context`
    /// - output: `[batch, len, vocab]`
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [batch, len] = ids.dims();
        let device = ids.device();
        let x = self.dropout.forward(embed(&self.tokens, &self.positions, ids));
        let x = encode(&self.blocks, x, None, Some(causal_mask(batch, len, &device)));
        self.output.forward(self.norm.forward(x))
    }

    /// The longest context the position table covers.
    pub fn context(&self) -> usize {
        self.positions.dims()[0]
    }
}

/// Configuration of [`TextClassifier`].
#[derive(Config, Debug)]
pub struct TextClassifierConfig {
    /// Words in the vocabulary (padding and unknown included).
    pub vocab: usize,
    pub num_classes: usize,
    /// The longest input, in words; longer texts are cut.
    #[config(default = 100)]
    pub max_len: usize,
    #[config(default = 64)]
    pub d_model: usize,
    #[config(default = 4)]
    pub heads: usize,
    #[config(default = 2)]
    pub layers: usize,
    #[config(default = 0.2)]
    pub dropout: f64,
}

/// Transformer encoder, attention pooling with one learned query, linear classifier.
#[derive(Module, Debug)]
pub struct TextClassifier {
    tokens: Embedding,
    /// `[max_len, d_model]`
    positions: Param<Tensor<2>>,
    dropout: Dropout,
    encoder: TransformerEncoder,
    norm: LayerNorm,
    pooling: AttentionPooling,
    output: Linear,
}

impl TextClassifierConfig {
    pub fn init(&self, device: &Device) -> TextClassifier {
        let (tokens, positions) = embeddings(self.vocab, self.max_len, self.d_model, device);
        TextClassifier {
            tokens,
            positions,
            dropout: DropoutConfig::new(self.dropout).init().into(),
            encoder: encoder(self.d_model, self.heads, self.layers, self.dropout, device),
            norm: LayerNormConfig::new(self.d_model).init(device),
            pooling: AttentionPoolingConfig::new(self.d_model).with_heads(self.heads).init(device),
            output: LinearConfig::new(self.d_model, self.num_classes).init(device),
        }
    }
}

impl TextClassifier {
    /// Class logits and the pooling query's weight on every token.
    ///
    /// # Shapes
    /// - ids: `[batch, len]` word ids, `len <= max_len`; padding: `[batch, len]`, true at padding
    /// - output: `[batch, classes]` and `[batch, len]` (rows sum to 1, 0 at padding)
    pub fn forward(&self, ids: Tensor<2, Int>, padding: Tensor<2, Bool>) -> (Tensor<2>, Tensor<2>) {
        let x = self.dropout.forward(embed(&self.tokens, &self.positions, ids));
        let x = encode(&self.encoder, x, Some(padding.clone()), None);
        let (pooled, weights) = self.pooling.forward(self.norm.forward(x), Some(padding));
        (self.output.forward(self.dropout.forward(pooled)), weights)
    }

    /// The longest input the position table covers.
    pub fn max_len(&self) -> usize {
        self.positions.dims()[0]
    }
}
