//! Top-k accuracy: where the true class ranks among a model's scores, for the language models
//! (next character) and the classifiers with more than a handful of classes.

use burn::prelude::*;

use crate::error::Result;

/// How many classes `scores` puts strictly above each row's target (0: the target is the top
/// guess; ties count in the target's favour).
///
/// # Shapes
/// - scores: `[n, classes]` (logits or log-probabilities); targets: `[n]`; output: `n` ranks
pub fn target_ranks(scores: Tensor<2>, targets: Tensor<1, Int>) -> Result<Vec<usize>> {
    let [n, classes] = scores.dims();
    let target_scores = scores.clone().gather(1, targets.reshape([n, 1])); // [n, 1]
    let above = scores.greater(target_scores.expand([n, classes])).int().sum_dim(1); // [n, 1]
    Ok(crate::read::ints(above.flatten::<1>(0, 1))?.into_iter().map(|r| r.max(0) as usize).collect())
}

/// The share in percent of `ranks` below `k`: the target among the model's `k` best guesses.
pub fn top_k_accuracy(ranks: &[usize], k: usize) -> f64 {
    100.0 * ranks.iter().filter(|&&r| r < k).count() as f64 / ranks.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_count_the_classes_scored_above_the_target() {
        let device = Device::default();
        let scores = Tensor::<2>::from_floats([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.4, 0.4, 0.2]], &device);
        let targets = Tensor::<1, Int>::from_ints([1, 1, 0], &device);
        // Row 1: the top; row 2: both others above; row 3: a tie with the top counts as the top.
        let ranks = target_ranks(scores, targets).unwrap();
        assert_eq!(ranks, vec![0, 2, 0]);
        assert!((top_k_accuracy(&ranks, 1) - 200.0 / 3.0).abs() < 1e-9);
        assert_eq!(top_k_accuracy(&ranks, 3), 100.0);
    }
}
