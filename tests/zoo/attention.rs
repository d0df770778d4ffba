//! Attention (item 24): Burn's multi-head attention, and zoo's `attend` walking the same
//! module, against a naive `softmax(Q Kᵀ / sqrt(d)) V` written out in loops, the padding and
//! causal masks (masked positions get zero weight), and attention pooling.

use burn::nn::Linear;
use burn::nn::attention::{MhaInput, MultiHeadAttentionConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use zoo_models::attention::attend;
use zoo_models::{AttentionPoolingConfig, causal_mask, padding_mask};

use crate::common::rng_lock;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap().into_iter().map(f64::from).collect()
}

/// `x W + b` for one row, with Burn's `[d_in, d_out]` weight layout.
fn affine(row: &[f64], linear: &Linear) -> Vec<f64> {
    let w = values(linear.weight.val());
    let b = linear.bias.as_ref().map(|b| values(b.val())).unwrap_or_default();
    let d_out = w.len() / row.len();
    (0..d_out)
        .map(|o| {
            row.iter().enumerate().map(|(i, x)| x * w[i * d_out + o]).sum::<f64>() + b.get(o).copied().unwrap_or(0.0)
        })
        .collect()
}

/// Naive multi-head attention of one sequence: returns (output rows, weights[head][i][j]).
fn naive(
    x: &[Vec<f64>],
    mha: &burn::nn::attention::MultiHeadAttention,
    hidden: &dyn Fn(usize, usize) -> bool,
) -> (Vec<Vec<f64>>, Vec<Vec<Vec<f64>>>) {
    let (heads, d_model) = (mha.n_heads, mha.d_model);
    let d_k = d_model / heads;
    let q: Vec<Vec<f64>> = x.iter().map(|r| affine(r, &mha.query)).collect();
    let k: Vec<Vec<f64>> = x.iter().map(|r| affine(r, &mha.key)).collect();
    let v: Vec<Vec<f64>> = x.iter().map(|r| affine(r, &mha.value)).collect();
    let n = x.len();
    let mut context = vec![vec![0.0; d_model]; n];
    let mut all_weights = Vec::new();
    for h in 0..heads {
        let span = h * d_k..(h + 1) * d_k;
        let mut weights = vec![vec![0.0; n]; n];
        for i in 0..n {
            let scores: Vec<f64> = (0..n)
                .map(|j| {
                    if hidden(i, j) {
                        f64::NEG_INFINITY
                    } else {
                        span.clone().map(|c| q[i][c] * k[j][c]).sum::<f64>() / (d_k as f64).sqrt()
                    }
                })
                .collect();
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f64 = exps.iter().sum();
            for j in 0..n {
                weights[i][j] = exps[j] / total;
                for c in span.clone() {
                    context[i][c] += weights[i][j] * v[j][c];
                }
            }
        }
        all_weights.push(weights);
    }
    (context.iter().map(|r| affine(r, &mha.output)).collect(), all_weights)
}

fn check(mask: &str) {
    let _rng = rng_lock();
    let device = Device::flex();
    device.seed(21);
    let (batch, len, d_model, heads) = (2, 5, 8, 2);
    let mha = MultiHeadAttentionConfig::new(d_model, heads).with_dropout(0.0).init(&device);
    let x = Tensor::<3>::random([batch, len, d_model], Distribution::Normal(0.0, 1.0), &device);
    let lengths = [5, 3];
    let mask_pad = (mask == "padding").then(|| padding_mask(&lengths, len, &device));
    let mask_attn = (mask == "causal").then(|| causal_mask(batch, len, &device));
    // Burn's module, then zoo's walk over it (what the transformers run).
    let mut input = MhaInput::self_attn(x.clone());
    if let Some(m) = mask_pad.clone() {
        input = input.mask_pad(m);
    }
    if let Some(m) = mask_attn.clone() {
        input = input.mask_attn(m);
    }
    let out = mha.forward(input);
    check_against_naive(mask, &mha, &x, &lengths, values(out.context), values(out.weights));
    let (context, weights) = attend(&mha, x.clone(), x.clone(), x.clone(), mask_pad, mask_attn);
    check_against_naive(mask, &mha, &x, &lengths, values(context), values(weights));
}

fn check_against_naive(
    mask: &str,
    mha: &burn::nn::attention::MultiHeadAttention,
    x: &Tensor<3>,
    lengths: &[usize],
    context: Vec<f64>,
    weights: Vec<f64>,
) {
    let [batch, len, d_model] = x.dims();
    let heads = mha.n_heads;
    let xs = values(x.clone());
    for b in 0..batch {
        let rows: Vec<Vec<f64>> =
            (0..len).map(|i| xs[(b * len + i) * d_model..(b * len + i + 1) * d_model].to_vec()).collect();
        let hidden = |i: usize, j: usize| match mask {
            "padding" => j >= lengths[b],
            "causal" => j > i,
            _ => false,
        };
        let (expected, expected_weights) = naive(&rows, mha, &hidden);
        for i in 0..len {
            for c in 0..d_model {
                let got = context[(b * len + i) * d_model + c];
                assert!((got - expected[i][c]).abs() < 1e-4, "{mask} b{b} i{i} c{c}: {got} vs {}", expected[i][c]);
            }
            for h in 0..heads {
                for j in 0..len {
                    let got = weights[((b * heads + h) * len + i) * len + j];
                    assert!((got - expected_weights[h][i][j]).abs() < 1e-5, "{mask} weight b{b} h{h} {i}->{j}");
                    if hidden(i, j) {
                        assert_eq!(got, 0.0, "{mask}: masked position {i}->{j} has weight {got}");
                    }
                }
            }
        }
    }
}

#[test]
fn multi_head_attention_matches_the_naive_formula() {
    check("none");
}

#[test]
fn padding_gets_zero_weight() {
    check("padding");
}

#[test]
fn the_future_gets_zero_weight_under_the_causal_mask() {
    check("causal");
}

#[test]
fn attention_pooling_weights_real_tokens_only() {
    let _rng = rng_lock();
    let device = Device::flex();
    let pooling = AttentionPoolingConfig::new(8).with_heads(2).init(&device);
    let tokens = Tensor::<3>::random([3, 6, 8], Distribution::Normal(0.0, 1.0), &device);
    let (pooled, weights) = pooling.forward(tokens, Some(padding_mask(&[6, 2, 4], 6, &device)));
    assert_eq!(pooled.dims(), [3, 8]);
    let w = values(weights);
    for (b, real) in [6, 2, 4].into_iter().enumerate() {
        let row = &w[b * 6..(b + 1) * 6];
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{row:?}");
        assert!(row[real..].iter().all(|&x| x == 0.0), "{row:?}");
    }
}
