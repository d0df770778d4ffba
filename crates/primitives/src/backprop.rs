//! Backpropagation by hand (article item 14), in `f64`.
//!
//! Two models, every gradient written out with the chain rule:
//!
//! * [`LogisticRegression`]: `X [n, d]`, `w [d]`, `b`: `ŷ = σ(X w + b)`, mean binary
//!   cross-entropy. The article's version has weights of shape `(2, 1)` for an input with one
//!   feature (so `np.dot` fails) and no bias; here the shapes are `w [d]` plus `b`.
//! * [`Mlp`]: `X [n, d] → Linear → ReLU → Linear → softmax`, mean cross-entropy over integer
//!   labels. Weights are `[in, out]` (Burn's `Linear` layout: `y = x W + b`).
//!
//! Both update with plain SGD: `θ ← θ - lr · ∂L/∂θ`.

use crate::activation::{relu, relu_grad, sigmoid, softmax};
use crate::tensor::Matrix;

/// Binary cross-entropy of one logit `z` against a label `y ∈ [0, 1]`, computed from the logit:
/// `-y ln σ(z) - (1-y) ln(1-σ(z)) = max(z, 0) - z y + ln(1 + e^{-|z|})`. The right-hand side never
/// takes the log of 0, which the article's `np.log(y_pred)` does once `ŷ` saturates.
pub fn bce_with_logits(z: f64, y: f64) -> f64 {
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// `ŷ = σ(X w + b)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticRegression {
    /// `[d]`, one weight per feature.
    pub w: Vec<f64>,
    pub b: f64,
}

/// One forward and backward pass of [`LogisticRegression`], every intermediate value kept.
#[derive(Clone, Debug, PartialEq)]
pub struct LogisticStep {
    /// Logits `z = X w + b`, `[n]`.
    pub z: Vec<f64>,
    /// Probabilities `ŷ = σ(z)`, `[n]`.
    pub y_hat: Vec<f64>,
    /// Mean BCE.
    pub loss: f64,
    /// `∂L/∂z = (ŷ - y) / n`, `[n]`: sigmoid and BCE together differentiate to this.
    pub dz: Vec<f64>,
    /// `∂L/∂w = Xᵀ (ŷ - y) / n`, `[d]`.
    pub dw: Vec<f64>,
    /// `∂L/∂b = Σ (ŷ - y) / n`.
    pub db: f64,
}

impl LogisticRegression {
    pub fn new(w: Vec<f64>, b: f64) -> Self {
        Self { w, b }
    }

    /// Logits `z = X w + b`: `[n, d] · [d] -> [n]`.
    pub fn logits(&self, x: &Matrix) -> Vec<f64> {
        assert_eq!(x.cols, self.w.len(), "X has {} features, w has {} weights", x.cols, self.w.len());
        (0..x.rows).map(|i| x.row(i).iter().zip(&self.w).map(|(a, w)| a * w).sum::<f64>() + self.b).collect()
    }

    /// Mean BCE over the batch.
    pub fn loss(&self, x: &Matrix, y: &[f64]) -> f64 {
        let z = self.logits(x);
        z.iter().zip(y).map(|(&z, &y)| bce_with_logits(z, y)).sum::<f64>() / y.len() as f64
    }

    /// Forward and backward pass.
    ///
    /// Chain rule for one sample: `L = BCE(σ(z), y)`, `∂L/∂ŷ = (ŷ - y) / (ŷ (1 - ŷ))` and
    /// `∂ŷ/∂z = ŷ (1 - ŷ)`, so `∂L/∂z = ŷ - y`. Averaging over `n` samples divides by `n`, and
    /// `z = X w + b` sends it on to `w` through `Xᵀ` and to `b` as a sum.
    pub fn gradients(&self, x: &Matrix, y: &[f64]) -> LogisticStep {
        assert_eq!(x.rows, y.len(), "X has {} rows, y has {} labels", x.rows, y.len());
        let n = y.len() as f64;
        let z = self.logits(x);
        let y_hat: Vec<f64> = z.iter().map(|&v| sigmoid(v)).collect();
        let loss = z.iter().zip(y).map(|(&z, &y)| bce_with_logits(z, y)).sum::<f64>() / n;
        let dz: Vec<f64> = y_hat.iter().zip(y).map(|(p, t)| (p - t) / n).collect();
        let dw = (0..x.cols).map(|j| (0..x.rows).map(|i| x.get(i, j) * dz[i]).sum()).collect();
        let db = dz.iter().sum();
        LogisticStep { z, y_hat, loss, dz, dw, db }
    }

    /// SGD: `w ← w - lr · dw`, `b ← b - lr · db`.
    pub fn sgd_update(&mut self, step: &LogisticStep, lr: f64) {
        for (w, g) in self.w.iter_mut().zip(&step.dw) {
            *w -= lr * g;
        }
        self.b -= lr * step.db;
    }

    /// `epochs` full-batch SGD steps; returns the loss before each step.
    pub fn train(&mut self, x: &Matrix, y: &[f64], lr: f64, epochs: usize) -> Vec<f64> {
        (0..epochs)
            .map(|_| {
                let step = self.gradients(x, y);
                self.sgd_update(&step, lr);
                step.loss
            })
            .collect()
    }
}

/// Two-layer perceptron `softmax(relu(X W1 + b1) W2 + b2)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// `[d_in, hidden]`.
    pub w1: Matrix,
    /// `[hidden]`.
    pub b1: Vec<f64>,
    /// `[hidden, classes]`.
    pub w2: Matrix,
    /// `[classes]`.
    pub b2: Vec<f64>,
}

/// One forward and backward pass of [`Mlp`] on a batch of `n` samples: every intermediate value
/// (what `zoo explain backprop` prints) and every gradient of the mean loss.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpTrace {
    /// `z1 = X W1 + b1`, `[n, hidden]`.
    pub z1: Matrix,
    /// `a1 = relu(z1)`, `[n, hidden]`.
    pub a1: Matrix,
    /// `z2 = a1 W2 + b2` (logits), `[n, classes]`.
    pub z2: Matrix,
    /// `p = softmax(z2)` row by row, `[n, classes]`.
    pub probs: Matrix,
    /// `L = -mean_i ln p[i, label_i]`.
    pub loss: f64,
    /// `∂L/∂z2 = (p - onehot(labels)) / n`, `[n, classes]`.
    pub dz2: Matrix,
    /// `∂L/∂W2 = a1ᵀ dz2`, `[hidden, classes]`.
    pub dw2: Matrix,
    /// `∂L/∂b2 = Σ_rows dz2`, `[classes]`.
    pub db2: Vec<f64>,
    /// `∂L/∂a1 = dz2 W2ᵀ`, `[n, hidden]`.
    pub da1: Matrix,
    /// `∂L/∂z1 = da1 ⊙ relu'(z1)`, `[n, hidden]`.
    pub dz1: Matrix,
    /// `∂L/∂W1 = Xᵀ dz1`, `[d_in, hidden]`.
    pub dw1: Matrix,
    /// `∂L/∂b1 = Σ_rows dz1`, `[hidden]`.
    pub db1: Vec<f64>,
}

/// Adds `bias [cols]` to every row of `m`.
fn add_row_bias(m: &Matrix, bias: &[f64]) -> Matrix {
    assert_eq!(m.cols, bias.len());
    let mut out = m.clone();
    for r in 0..out.rows {
        for (c, b) in bias.iter().enumerate() {
            out.data[r * out.cols + c] += b;
        }
    }
    out
}

impl Mlp {
    /// Wraps the parameters; panics if their shapes do not chain.
    pub fn new(w1: Matrix, b1: Vec<f64>, w2: Matrix, b2: Vec<f64>) -> Self {
        assert_eq!(w1.cols, b1.len(), "b1 must have one value per hidden unit");
        assert_eq!(w1.cols, w2.rows, "W2 must have one row per hidden unit");
        assert_eq!(w2.cols, b2.len(), "b2 must have one value per class");
        Self { w1, b1, w2, b2 }
    }

    /// Softmax cross-entropy of the logits `[n, classes]` against labels: `(probs, mean loss)`.
    pub fn softmax_cross_entropy(logits: &Matrix, labels: &[usize]) -> (Matrix, f64) {
        assert_eq!(logits.rows, labels.len(), "one label per row");
        let mut probs = Matrix::zeros(logits.rows, logits.cols);
        let mut loss = 0.0;
        for (i, &label) in labels.iter().enumerate() {
            assert!(label < logits.cols, "label {label} out of range");
            let p = softmax(logits.row(i));
            loss -= p[label].ln();
            probs.data[i * logits.cols..(i + 1) * logits.cols].copy_from_slice(&p);
        }
        (probs, loss / labels.len() as f64)
    }

    /// Mean loss only (what finite differences perturb).
    pub fn loss(&self, x: &Matrix, labels: &[usize]) -> f64 {
        let a1 = add_row_bias(&x.matmul(&self.w1), &self.b1).map(relu);
        let z2 = add_row_bias(&a1.matmul(&self.w2), &self.b2);
        Self::softmax_cross_entropy(&z2, labels).1
    }

    /// Forward pass, then every gradient by the chain rule, from the loss back to `W1`.
    pub fn trace(&self, x: &Matrix, labels: &[usize]) -> MlpTrace {
        let n = labels.len() as f64;
        // ---- forward ----
        let z1 = add_row_bias(&x.matmul(&self.w1), &self.b1); // [n, h]
        let a1 = z1.map(relu); // [n, h]
        let z2 = add_row_bias(&a1.matmul(&self.w2), &self.b2); // [n, k]
        let (probs, loss) = Self::softmax_cross_entropy(&z2, labels);

        // ---- backward ----
        // Softmax followed by cross-entropy differentiates to p - onehot (the softmax Jacobian
        // and the 1/p of the log cancel); the mean over the batch divides by n.
        let mut dz2 = probs.clone();
        for (i, &label) in labels.iter().enumerate() {
            dz2.data[i * dz2.cols + label] -= 1.0;
        }
        let dz2 = dz2.map(|v| v / n);
        // z2 = a1 W2 + b2
        let dw2 = a1.transpose().matmul(&dz2); // [h, n] · [n, k] = [h, k]
        let db2 = dz2.column_sums(); // [k]
        let da1 = dz2.matmul(&self.w2.transpose()); // [n, k] · [k, h] = [n, h]
        // a1 = relu(z1): the gradient passes where z1 > 0 and stops elsewhere
        let mut dz1 = da1.clone();
        for (g, &z) in dz1.data.iter_mut().zip(&z1.data) {
            *g *= relu_grad(z);
        }
        // z1 = X W1 + b1
        let dw1 = x.transpose().matmul(&dz1); // [d, n] · [n, h] = [d, h]
        let db1 = dz1.column_sums(); // [h]
        MlpTrace { z1, a1, z2, probs, loss, dz2, dw2, db2, da1, dz1, dw1, db1 }
    }

    /// SGD: every parameter moves against its gradient.
    pub fn sgd_update(&mut self, trace: &MlpTrace, lr: f64) {
        let step = |params: &mut [f64], grads: &[f64]| {
            for (p, g) in params.iter_mut().zip(grads) {
                *p -= lr * g;
            }
        };
        step(&mut self.w1.data, &trace.dw1.data);
        step(&mut self.b1, &trace.db1);
        step(&mut self.w2.data, &trace.dw2.data);
        step(&mut self.b2, &trace.db2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Rng;

    const H: f64 = 1e-6;

    /// Central difference of `loss` with respect to `params[i]`, for every `i`.
    fn numeric_gradient(params: &mut [f64], mut loss: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
        (0..params.len())
            .map(|i| {
                let orig = params[i];
                params[i] = orig + H;
                let up = loss(params);
                params[i] = orig - H;
                let down = loss(params);
                params[i] = orig;
                (up - down) / (2.0 * H)
            })
            .collect()
    }

    fn assert_close(name: &str, analytic: &[f64], numeric: &[f64]) {
        assert_eq!(analytic.len(), numeric.len());
        for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
            assert!((a - n).abs() < 1e-7, "{name}[{i}]: analytic {a} vs numeric {n}");
        }
    }

    fn random_matrix(rows: usize, cols: usize, rng: &mut Rng) -> Matrix {
        Matrix::new(rows, cols, (0..rows * cols).map(|_| rng.normal(0.0, 1.0)).collect())
    }

    #[test]
    fn bce_with_logits_matches_the_textbook_formula() {
        for z in [-5.0, -0.3, 0.0, 0.7, 4.0] {
            for y in [0.0, 0.25, 1.0] {
                let p: f64 = sigmoid(z);
                let textbook = -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
                assert!((bce_with_logits(z, y) - textbook).abs() < 1e-12);
            }
        }
        assert!(bce_with_logits(-800.0, 1.0).is_finite());
    }

    #[test]
    fn logistic_gradients_match_finite_differences() {
        let mut rng = Rng::new(3);
        let (n, d) = (7, 4);
        let x = random_matrix(n, d, &mut rng);
        let y: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
        let model = LogisticRegression::new((0..d).map(|_| rng.normal(0.0, 0.5)).collect(), 0.3);
        let step = model.gradients(&x, &y);

        let mut params: Vec<f64> = model.w.iter().copied().chain([model.b]).collect();
        let numeric = numeric_gradient(&mut params, |p| LogisticRegression::new(p[..d].to_vec(), p[d]).loss(&x, &y));
        assert_close("dw", &step.dw, &numeric[..d]);
        assert_close("db", &[step.db], &numeric[d..]);
        assert!((step.loss - model.loss(&x, &y)).abs() < 1e-15);
    }

    #[test]
    fn logistic_regression_learns_the_article_data() {
        // The article's data with the shapes fixed: x = [[0], [1]], y = [0, 1].
        let x = Matrix::from_rows(&[&[0.0], &[1.0]]);
        let y = [0.0, 1.0];
        let mut model = LogisticRegression::new(vec![0.5], 0.0);
        let losses = model.train(&x, &y, 0.1, 1000);
        assert!(losses.windows(2).all(|w| w[1] < w[0]), "full-batch GD on a convex loss decreases");
        assert!(losses[999] < 0.25, "final loss {}", losses[999]);
        // The bias goes negative (x = 0 -> class 0), the weight positive.
        assert!(model.b < 0.0 && model.w[0] > 0.0);
    }

    #[test]
    fn mlp_gradients_match_finite_differences() {
        let mut rng = Rng::new(11);
        let (n, d, h, k) = (5, 4, 6, 3);
        let x = random_matrix(n, d, &mut rng);
        let labels: Vec<usize> = (0..n).map(|i| i % k).collect();
        let mlp = Mlp::new(
            random_matrix(d, h, &mut rng),
            (0..h).map(|_| rng.normal(0.0, 0.1)).collect(),
            random_matrix(h, k, &mut rng),
            (0..k).map(|_| rng.normal(0.0, 0.1)).collect(),
        );
        let t = mlp.trace(&x, &labels);
        // no pre-activation sits on the ReLU kink, where finite differences are meaningless
        assert!(t.z1.data.iter().all(|z| z.abs() > 1e-3));
        assert!((t.loss - mlp.loss(&x, &labels)).abs() < 1e-15);

        let sizes = [d * h, h, h * k, k];
        let mut params: Vec<f64> = [&mlp.w1.data[..], &mlp.b1, &mlp.w2.data, &mlp.b2].concat();
        let numeric = numeric_gradient(&mut params, |p| {
            let (w1, rest) = p.split_at(sizes[0]);
            let (b1, rest) = rest.split_at(sizes[1]);
            let (w2, b2) = rest.split_at(sizes[2]);
            Mlp::new(Matrix::new(d, h, w1.to_vec()), b1.to_vec(), Matrix::new(h, k, w2.to_vec()), b2.to_vec())
                .loss(&x, &labels)
        });
        let (nw1, rest) = numeric.split_at(sizes[0]);
        let (nb1, rest) = rest.split_at(sizes[1]);
        let (nw2, nb2) = rest.split_at(sizes[2]);
        assert_close("dW1", &t.dw1.data, nw1);
        assert_close("db1", &t.db1, nb1);
        assert_close("dW2", &t.dw2.data, nw2);
        assert_close("db2", &t.db2, nb2);
    }

    #[test]
    fn mlp_sgd_lowers_the_loss() {
        let mut rng = Rng::new(5);
        let (n, d, h, k) = (12, 3, 8, 3);
        let x = random_matrix(n, d, &mut rng);
        let labels: Vec<usize> = (0..n).map(|i| i % k).collect();
        let mut mlp = Mlp::new(
            random_matrix(d, h, &mut rng).map(|v| v * 0.5),
            vec![0.0; h],
            random_matrix(h, k, &mut rng).map(|v| v * 0.5),
            vec![0.0; k],
        );
        let first = mlp.loss(&x, &labels);
        for _ in 0..300 {
            let t = mlp.trace(&x, &labels);
            mlp.sgd_update(&t, 0.5);
        }
        let last = mlp.loss(&x, &labels);
        assert!(last < 0.5 * first, "loss {first} -> {last}");
    }

    #[test]
    fn probabilities_rows_sum_to_one() {
        let logits = Matrix::from_rows(&[&[1.0, 2.0, 3.0], &[-50.0, 0.0, 50.0]]);
        let (p, loss) = Mlp::softmax_cross_entropy(&logits, &[2, 0]);
        for r in 0..2 {
            assert!((p.row(r).iter().sum::<f64>() - 1.0).abs() < 1e-15);
        }
        // row 2 puts almost no mass on class 0: its loss is about 100
        assert!((loss - (100.0 + 0.4076059644443806) / 2.0).abs() < 1e-9);
    }
}
