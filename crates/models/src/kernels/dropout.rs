//! Dropout with a fast mask. Burn's `Dropout` draws its Bernoulli mask element by element
//! from a ChaCha generator on one thread; on the `mlp` step at batch 256 that was a fifth of
//! the step (`perf`, flex). Here the mask comes from a counter-based hash (SplitMix64 of the
//! element's index and a per-call seed drawn from Burn's seeded generator, so seeded runs
//! stay reproducible), written across the thread pool; the layer is then one product by a
//! constant, which Burn's autodiff differentiates as usual.

use burn::nn::Dropout;
use burn::prelude::*;
use burn::tensor::Distribution;
use rayon::prelude::*;

use super::{KernelBackend, backend_of, enabled};

/// `layer.forward(input)` with zoo's mask where the kernels apply (flex under autodiff), else
/// Burn's. Like Burn's, it is the identity outside training (no autodiff, the layer frozen,
/// or probability 0).
pub fn dropout<const D: usize>(layer: &Dropout, input: Tensor<D>) -> Tensor<D> {
    if !enabled() || backend_of(&input) != Some(KernelBackend::AutodiffFlex) {
        return layer.forward(input);
    }
    if !layer.training.is_enabled() || layer.prob == 0.0 {
        return input;
    }
    let device = input.device();
    let seed_parts: Vec<f32> = Tensor::<1>::random([2], Distribution::Uniform(0.0, 1.0), &device)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    let seed = seed_parts.iter().fold(0u64, |s, &v| (s << 32) ^ u64::from(v.to_bits()));
    let mask = Tensor::<D>::from_data(
        TensorData::new(mask(input.shape().num_elements(), 1.0 - layer.prob, seed), input.shape()),
        &device,
    );
    input * mask
}

/// `len` values, each `1 / keep` with probability `keep`, else 0.
pub fn mask(len: usize, keep: f64, seed: u64) -> Vec<f32> {
    let (scale, threshold) = ((1.0 / keep) as f32, (keep * (1u64 << 24) as f64) as u64);
    let mut values = vec![0.0f32; len];
    values.par_chunks_mut(1 << 14).enumerate().for_each(|(chunk, part)| {
        let start = (chunk << 14) as u64;
        for (i, v) in part.iter_mut().enumerate() {
            // 24 uniform bits of SplitMix64(seed + index).
            let mut z = seed.wrapping_add((start + i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            *v = if (z >> 40) < threshold { scale } else { 0.0 };
        }
    });
    values
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn the_mask_keeps_the_asked_share_at_the_right_scale_and_depends_on_the_seed() {
        let values = mask(200_000, 0.7, 5);
        let kept = values.iter().filter(|&&v| v > 0.0).count() as f64 / values.len() as f64;
        assert!((kept - 0.7).abs() < 0.005, "{kept}");
        assert!(values.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        assert_ne!(values, mask(200_000, 0.7, 6));
        assert_eq!(values, mask(200_000, 0.7, 5));
    }
}
