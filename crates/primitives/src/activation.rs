//! Activation functions and their derivatives (article item 13), in `f64`.
//!
//! Each scalar function `f` comes with `f_grad`, its derivative `f'(x)` evaluated at the *input*
//! `x`. Backpropagation multiplies the incoming gradient by it: `dL/dx = dL/dy * f'(x)`.
//! Softmax maps a vector to a vector, so its derivative is a Jacobian matrix; backpropagation
//! only ever needs the product of that Jacobian with a vector ([`softmax_jvp`]).
//!
//! Everything runs in `f64`; cast when storing into an `f32` tensor.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// ReLU: `max(0, x)`.
pub fn relu(x: f64) -> f64 {
    if x > 0.0 { x } else { 0.0 }
}

/// ReLU': 1 for `x > 0`, else 0. At `x = 0` the derivative does not exist; like PyTorch and
/// Burn we use 0 there.
pub fn relu_grad(x: f64) -> f64 {
    if x > 0.0 { 1.0 } else { 0.0 }
}

/// Leaky ReLU: `x` for `x > 0`, `slope * x` otherwise (Keras' `LeakyReLU` default slope is 0.3,
/// PyTorch's and Burn's is 0.01).
pub fn leaky_relu(x: f64, slope: f64) -> f64 {
    if x > 0.0 { x } else { slope * x }
}

/// Leaky ReLU': 1 for `x > 0`, `slope` otherwise (`slope` at 0, the left derivative).
pub fn leaky_relu_grad(x: f64, slope: f64) -> f64 {
    if x > 0.0 { 1.0 } else { slope }
}

/// Sigmoid `1 / (1 + e^-x)`, computed without overflow for large `|x|`.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        // Same value, rewritten so that exp only sees a negative argument.
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Sigmoid': `σ(x) (1 - σ(x))`; at most 0.25 (at 0), which is why deep sigmoid nets vanish.
pub fn sigmoid_grad(x: f64) -> f64 {
    let s = sigmoid(x);
    s * (1.0 - s)
}

/// Hyperbolic tangent.
pub fn tanh(x: f64) -> f64 {
    x.tanh()
}

/// tanh': `1 - tanh(x)^2`.
pub fn tanh_grad(x: f64) -> f64 {
    let t = x.tanh();
    1.0 - t * t
}

/// The error function `erf(x) = 2/√π ∫₀ˣ e^(-t²) dt`, to about 1e-15 absolute.
///
/// Uses the everywhere-convergent series with only positive terms (Abramowitz & Stegun 7.1.6):
///
/// ```text
/// erf(x) = 2/√π · e^(-x²) · Σ_{n≥0} 2ⁿ x^(2n+1) / (1·3·5···(2n+1))
/// ```
///
/// No cancellation happens inside the sum, so it stays accurate; the terms grow until
/// `n ≈ x²` and then fall, so up to `|x| = 6` a couple of hundred terms suffice. Beyond 6,
/// `1 - erf(x) < 3e-17`, below `f64` resolution near 1, so we return ±1. (The popular
/// 5-coefficient formula A&S 7.1.26 is only good to 1.5e-7, too coarse for 1e-5 checks on
/// derivatives.)
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let a = x.abs();
    if a >= 6.0 {
        return x.signum();
    }
    let x2 = a * a;
    let mut term = a; // n = 0: 2⁰ x¹ / 1
    let mut sum = a;
    let mut n = 0.0;
    while term > sum * 1e-17 {
        n += 1.0;
        // term_n = term_{n-1} · 2x² / (2n + 1)
        term *= 2.0 * x2 / (2.0 * n + 1.0);
        sum += term;
    }
    let value = 2.0 / PI.sqrt() * (-x2).exp() * sum;
    value.min(1.0).copysign(x)
}

/// Standard normal CDF `Φ(x) = (1 + erf(x/√2)) / 2`.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x * FRAC_1_SQRT_2))
}

/// Standard normal density `φ(x) = e^(-x²/2) / √(2π)`.
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// GELU, the exact form (Burn's `gelu`, PyTorch's default): `x · Φ(x)`.
pub fn gelu(x: f64) -> f64 {
    x * normal_cdf(x)
}

/// GELU': `Φ(x) + x φ(x)` (product rule).
pub fn gelu_grad(x: f64) -> f64 {
    normal_cdf(x) + x * normal_pdf(x)
}

/// Softmax `y_i = e^(z_i) / Σ_j e^(z_j)`, numerically stable: subtracting `max(z)` first leaves
/// the result unchanged (it cancels between numerator and denominator) and keeps `exp` from
/// overflowing. Panics on an empty slice.
pub fn softmax(z: &[f64]) -> Vec<f64> {
    assert!(!z.is_empty(), "softmax of an empty vector");
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = z.iter().map(|&v| (v - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

/// The softmax Jacobian `J[i][j] = ∂y_i/∂z_j = y_i (δ_ij - y_j)`, from the output `y = softmax(z)`.
pub fn softmax_jacobian(y: &[f64]) -> Vec<Vec<f64>> {
    (0..y.len()).map(|i| (0..y.len()).map(|j| y[i] * (if i == j { 1.0 } else { 0.0 } - y[j])).collect()).collect()
}

/// Jacobian-vector product `J v` of softmax, from the output `y = softmax(z)`:
/// `(J v)_i = y_i (v_i - Σ_j y_j v_j)`. `J` is symmetric, so this is also the
/// vector-Jacobian product that backpropagation uses (`v` = the gradient w.r.t. `y`), in O(n)
/// instead of building the n x n matrix.
pub fn softmax_jvp(y: &[f64], v: &[f64]) -> Vec<f64> {
    assert_eq!(y.len(), v.len(), "softmax_jvp: lengths differ");
    let dot: f64 = y.iter().zip(v).map(|(a, b)| a * b).sum();
    y.iter().zip(v).map(|(yi, vi)| yi * (vi - dot)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central difference `(f(x+h) - f(x-h)) / 2h`: error O(h²).
    fn central_difference(f: impl Fn(f64) -> f64, x: f64) -> f64 {
        let h = 1e-6;
        (f(x + h) - f(x - h)) / (2.0 * h)
    }

    /// Points to check, avoiding the kink at 0 of ReLU and LeakyReLU.
    fn points() -> Vec<f64> {
        (-60..=60).map(|i| i as f64 * 0.1 + 0.0123).collect()
    }

    fn check(name: &str, f: impl Fn(f64) -> f64, df: impl Fn(f64) -> f64) {
        for x in points() {
            let fd = central_difference(&f, x);
            let an = df(x);
            assert!((fd - an).abs() < 1e-7, "{name}'({x}): analytic {an} vs finite difference {fd}");
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        check("relu", relu, relu_grad);
        check("leaky_relu", |x| leaky_relu(x, 0.2), |x| leaky_relu_grad(x, 0.2));
        check("sigmoid", sigmoid, sigmoid_grad);
        check("tanh", tanh, tanh_grad);
        check("gelu", gelu, gelu_grad);
        check("erf", erf, |x| 2.0 / PI.sqrt() * (-x * x).exp());
    }

    #[test]
    fn article_relu_example() {
        // item 13: ReLU on np.array([-2, -1, 0, 1, 2]) prints [0 0 0 1 2]
        let out: Vec<f64> = [-2.0, -1.0, 0.0, 1.0, 2.0].into_iter().map(relu).collect();
        assert_eq!(out, vec![0.0, 0.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn erf_reference_values() {
        // Values from tables of erf (A&S table 7.1 / any CAS), 16 digits.
        let table = [
            (0.0, 0.0),
            (0.1, 0.1124629160182849),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (1.5, 0.9661051464753108),
            (2.0, 0.9953222650189527),
            (3.0, 0.9999779095030014),
            (4.0, 0.9999999845827421),
        ];
        for (x, want) in table {
            assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {} want {want}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-14, "erf is odd");
        }
        assert_eq!(erf(7.0), 1.0);
        assert_eq!(erf(-7.0), -1.0);
        // continuity across the cut-off at 6
        assert!((erf(5.999_999) - 1.0).abs() < 1e-15);
    }

    #[test]
    fn gelu_reference_values() {
        // GELU(1) = Φ(1) = 0.8413447460685429 ; GELU(-1) = -(1 - Φ(1))
        assert!((gelu(1.0) - 0.8413447460685429).abs() < 1e-14);
        assert!((gelu(-1.0) + 0.15865525393145707).abs() < 1e-14);
        assert_eq!(gelu(0.0), 0.0);
        assert_eq!(gelu_grad(0.0), 0.5);
    }

    #[test]
    fn sigmoid_is_stable_and_bounded() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert!((sigmoid(2.0) + sigmoid(-2.0) - 1.0).abs() < 1e-15);
        assert_eq!(sigmoid_grad(0.0), 0.25);
    }

    #[test]
    fn softmax_is_stable_and_sums_to_one() {
        let y = softmax(&[1000.0, 1001.0, 1002.0]);
        let shifted = softmax(&[0.0, 1.0, 2.0]);
        for (a, b) in y.iter().zip(&shifted) {
            assert!((a - b).abs() < 1e-15);
        }
        assert!((y.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!((shifted[2] - 0.6652409557748219).abs() < 1e-15);
    }

    #[test]
    fn softmax_jvp_matches_finite_differences_and_the_jacobian() {
        let z = [0.3, -1.2, 2.0, 0.7];
        let v = [1.0, -0.5, 0.25, 2.0];
        let y = softmax(&z);
        let jvp = softmax_jvp(&y, &v);
        // Directional derivative: (softmax(z + h v) - softmax(z - h v)) / 2h = J v
        let h = 1e-6;
        let plus: Vec<f64> = z.iter().zip(&v).map(|(a, b)| a + h * b).collect();
        let minus: Vec<f64> = z.iter().zip(&v).map(|(a, b)| a - h * b).collect();
        let (yp, ym) = (softmax(&plus), softmax(&minus));
        let jac = softmax_jacobian(&y);
        for i in 0..z.len() {
            let fd = (yp[i] - ym[i]) / (2.0 * h);
            assert!((fd - jvp[i]).abs() < 1e-8, "component {i}: {} vs {fd}", jvp[i]);
            let row: f64 = jac[i].iter().zip(&v).map(|(a, b)| a * b).sum();
            assert!((row - jvp[i]).abs() < 1e-15);
            // rows of the Jacobian sum to zero: adding a constant to z changes nothing
            assert!(jac[i].iter().sum::<f64>().abs() < 1e-15);
        }
    }
}
