//! Weight initialisers (article item 16) and the tiny random number generator behind them.
//!
//! Why it matters: a layer computes `y = Σ_i w_i x_i` over `fan_in` inputs. With independent
//! zero-mean weights of variance `σ²`, `Var(y) = fan_in · σ² · E[x²]`, so the signal grows or
//! shrinks by a factor `fan_in · σ²` per layer. The schemes below pick `σ` to keep that factor
//! near 1:
//!
//! | scheme | std | uniform bound `a` (`U(-a, a)` has std `a/√3`) |
//! |---|---|---|
//! | Xavier/Glorot (tanh, sigmoid, linear) | `gain · √(2 / (fan_in + fan_out))` | `gain · √(6 / (fan_in + fan_out))` |
//! | He/Kaiming (ReLU: `gain = √2`) | `gain / √fan_in` | `gain · √(3 / fan_in)` |
//!
//! These are exactly Burn's `Initializer::{XavierUniform, XavierNormal, KaimingUniform,
//! KaimingNormal}` formulas. The article's He code (`np.random.normal(...) * np.sqrt(2 / input_dim)`)
//! is He-normal with `gain = √2`; its prose formulas for Xavier ("w = γ/√n") are garbled.
//!
//! ## Fan-in and fan-out ([`fan_in_fan_out`])
//!
//! * dense weight `[in, out]` (Burn's `Linear` layout, `y = x W + b`; PyTorch stores `[out, in]`):
//!   `fan_in = in`, `fan_out = out`;
//! * convolution weight `[out_ch, in_ch, kh, kw]` (Burn and PyTorch): each output sums over
//!   `in_ch · kh · kw` inputs, so `fan_in = in_ch · kh · kw` and `fan_out = out_ch · kh · kw`
//!   (the receptive field `kh · kw` multiplies both). A 1-D conv `[out, in, k]` works the same way.

use std::f64::consts::{PI, SQRT_2};

/// The gain He et al. derive for ReLU: half the units are zero, so the variance needs doubling.
pub const RELU_GAIN: f64 = SQRT_2;

/// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit counter pushed through a strong mixing
/// function. Tiny, fast, passes BigCrush, and fully deterministic for a seed, which is what the
/// worked examples need. Normal draws use the Box–Muller transform.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    /// Box–Muller makes normals in pairs; the second one waits here.
    spare_normal: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self { state: seed, spare_normal: None }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`: the top 53 bits as the mantissa of an `f64`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.next_f64()
    }

    /// Normal with the given mean and standard deviation (Box–Muller):
    /// for `u1, u2 ~ U(0, 1]`, `r = √(-2 ln u1)`, `θ = 2π u2`, both `r cos θ` and `r sin θ` are
    /// independent standard normals.
    pub fn normal(&mut self, mean: f64, std: f64) -> f64 {
        let z = match self.spare_normal.take() {
            Some(z) => z,
            None => {
                let u1 = 1.0 - self.next_f64(); // (0, 1]: ln never sees 0
                let u2 = self.next_f64();
                let r = (-2.0 * u1.ln()).sqrt();
                let theta = 2.0 * PI * u2;
                self.spare_normal = Some(r * theta.sin());
                r * theta.cos()
            }
        };
        mean + std * z
    }
}

/// `(fan_in, fan_out)` of a weight shape; see the module docs for the conventions.
///
/// * `[in, out]` → `(in, out)` (dense, Burn's `Linear` layout)
/// * `[out_ch, in_ch, k...]` → `(in_ch · Πk, out_ch · Πk)` (convolution, 1-D, 2-D or 3-D)
///
/// Panics for fewer than two dimensions (a bias has no fan-out to speak of).
pub fn fan_in_fan_out(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] | [_] => panic!("fan_in_fan_out: a weight needs at least 2 dimensions, got {shape:?}"),
        [fan_in, fan_out] => (*fan_in, *fan_out),
        [out_ch, in_ch, kernel @ ..] => {
            let receptive_field: usize = kernel.iter().product();
            (in_ch * receptive_field, out_ch * receptive_field)
        }
    }
}

/// An initialisation scheme, with the same names and parameters as Burn's `Initializer`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// `U(low, high)`.
    Uniform { low: f64, high: f64 },
    /// `N(mean, std²)`.
    Normal { mean: f64, std: f64 },
    /// `U(-a, a)`, `a = gain · √(6 / (fan_in + fan_out))`.
    XavierUniform { gain: f64 },
    /// `N(0, σ²)`, `σ = gain · √(2 / (fan_in + fan_out))`.
    XavierNormal { gain: f64 },
    /// `U(-a, a)`, `a = gain · √(3 / fan)`; `fan` = fan_out if `fan_out_only`, else fan_in.
    KaimingUniform { gain: f64, fan_out_only: bool },
    /// `N(0, σ²)`, `σ = gain / √fan`.
    KaimingNormal { gain: f64, fan_out_only: bool },
}

/// What theory says about the values an [`Init`] draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Theory {
    pub mean: f64,
    pub std: f64,
    /// `Some((low, high))` for the uniform schemes; normals are unbounded.
    pub bounds: Option<(f64, f64)>,
}

/// Observed statistics of a sample (population std, divided by `n`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
}

/// Mean, std, min and max of `values` (accumulated in `f64`). Panics on an empty slice.
pub fn stats(values: &[f32]) -> Stats {
    assert!(!values.is_empty(), "stats of an empty slice");
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let min = values.iter().copied().fold(f32::INFINITY, f32::min) as f64;
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    Stats { mean, std: var.sqrt(), min, max }
}

impl Init {
    /// A short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            Init::Uniform { .. } => "uniform",
            Init::Normal { .. } => "normal",
            Init::XavierUniform { .. } => "xavier_uniform",
            Init::XavierNormal { .. } => "xavier_normal",
            Init::KaimingUniform { .. } => "kaiming_uniform",
            Init::KaimingNormal { .. } => "kaiming_normal",
        }
    }

    /// The distribution this scheme draws from for a weight of `shape`.
    pub fn theory(&self, shape: &[usize]) -> Theory {
        let sqrt3 = 3f64.sqrt();
        // Uniform U(-a, a): mean 0, std a/√3.
        let symmetric_uniform = |a: f64| Theory { mean: 0.0, std: a / sqrt3, bounds: Some((-a, a)) };
        let centred_normal = |std: f64| Theory { mean: 0.0, std, bounds: None };
        match *self {
            Init::Uniform { low, high } => {
                Theory { mean: (low + high) / 2.0, std: (high - low) / 12f64.sqrt(), bounds: Some((low, high)) }
            }
            Init::Normal { mean, std } => Theory { mean, std, bounds: None },
            Init::XavierUniform { gain } => symmetric_uniform(sqrt3 * xavier_std(shape, gain)),
            Init::XavierNormal { gain } => centred_normal(xavier_std(shape, gain)),
            Init::KaimingUniform { gain, fan_out_only } => {
                symmetric_uniform(sqrt3 * kaiming_std(shape, gain, fan_out_only))
            }
            Init::KaimingNormal { gain, fan_out_only } => centred_normal(kaiming_std(shape, gain, fan_out_only)),
        }
    }

    /// Draws `Π shape` values (row-major, the layout of a `Tensor4` or `Matrix` of that shape).
    pub fn sample(&self, shape: &[usize], rng: &mut Rng) -> Vec<f32> {
        let count: usize = shape.iter().product();
        let theory = self.theory(shape);
        match theory.bounds {
            Some((low, high)) => (0..count).map(|_| rng.uniform(low, high) as f32).collect(),
            None => (0..count).map(|_| rng.normal(theory.mean, theory.std) as f32).collect(),
        }
    }
}

/// Xavier's `gain · √(2 / (fan_in + fan_out))`.
fn xavier_std(shape: &[usize], gain: f64) -> f64 {
    let (fan_in, fan_out) = fan_in_fan_out(shape);
    gain * (2.0 / (fan_in + fan_out) as f64).sqrt()
}

/// Kaiming's `gain / √fan`.
fn kaiming_std(shape: &[usize], gain: f64, fan_out_only: bool) -> f64 {
    let (fan_in, fan_out) = fan_in_fan_out(shape);
    let fan = if fan_out_only { fan_out } else { fan_in };
    gain / (fan as f64).sqrt()
}

/// `U(low, high)` values for a weight of `shape`.
pub fn uniform(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> Vec<f32> {
    Init::Uniform { low, high }.sample(shape, rng)
}

/// `N(mean, std²)` values for a weight of `shape`.
pub fn normal(shape: &[usize], mean: f64, std: f64, rng: &mut Rng) -> Vec<f32> {
    Init::Normal { mean, std }.sample(shape, rng)
}

/// Xavier/Glorot uniform (gain 1 for tanh/sigmoid/linear layers).
pub fn xavier_uniform(shape: &[usize], gain: f64, rng: &mut Rng) -> Vec<f32> {
    Init::XavierUniform { gain }.sample(shape, rng)
}

/// Xavier/Glorot normal.
pub fn xavier_normal(shape: &[usize], gain: f64, rng: &mut Rng) -> Vec<f32> {
    Init::XavierNormal { gain }.sample(shape, rng)
}

/// He/Kaiming uniform over fan-in (use [`RELU_GAIN`] before a ReLU: bound `√(6 / fan_in)`).
pub fn kaiming_uniform(shape: &[usize], gain: f64, rng: &mut Rng) -> Vec<f32> {
    Init::KaimingUniform { gain, fan_out_only: false }.sample(shape, rng)
}

/// He/Kaiming normal over fan-in (with [`RELU_GAIN`]: std `√(2 / fan_in)`, the article's He).
pub fn kaiming_normal(shape: &[usize], gain: f64, rng: &mut Rng) -> Vec<f32> {
    Init::KaimingNormal { gain, fan_out_only: false }.sample(shape, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans() {
        assert_eq!(fan_in_fan_out(&[784, 128]), (784, 128));
        // the article's CNN: Conv 32 3x3 on 1 channel, then Conv 64 3x3 on 32 channels
        assert_eq!(fan_in_fan_out(&[32, 1, 3, 3]), (9, 288));
        assert_eq!(fan_in_fan_out(&[64, 32, 3, 3]), (288, 576));
        assert_eq!(fan_in_fan_out(&[16, 4, 5]), (20, 80));
    }

    #[test]
    #[should_panic(expected = "at least 2 dimensions")]
    fn fans_of_a_vector_are_refused() {
        fan_in_fan_out(&[10]);
    }

    #[test]
    fn rng_is_deterministic_and_uniform() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        // The published SplitMix64 reference: seed 0 gives 0xE220A8397B1DCDAF first.
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut rng = Rng::new(1);
        let xs: Vec<f64> = (0..200_000).map(|_| rng.next_f64()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.005, "mean {mean}");
    }

    /// Checks sample statistics of `init` on a large `shape` against its theory.
    /// With n = 262 144 draws the sample mean is within 5 standard errors (5 σ/√n ≈ 0.01 σ)
    /// and the sample std within 1 %.
    fn check_against_theory(init: Init, shape: &[usize]) {
        let values = init.sample(shape, &mut Rng::new(2024));
        let t = init.theory(shape);
        let s = stats(&values);
        let n = values.len() as f64;
        assert!((s.mean - t.mean).abs() < 5.0 * t.std / n.sqrt(), "{}: mean {} vs {}", init.name(), s.mean, t.mean);
        assert!((s.std / t.std - 1.0).abs() < 0.01, "{}: std {} vs {}", init.name(), s.std, t.std);
        match t.bounds {
            Some((low, high)) => {
                assert!(s.min >= low as f32 as f64 && s.max <= high as f32 as f64, "{}: out of bounds", init.name());
                // and the range is actually used: within 0.1 % of each end
                let width = high - low;
                assert!(s.min < low + 0.001 * width && s.max > high - 0.001 * width);
            }
            None => {
                // A normal sample of this size reaches beyond 4 σ but (almost surely) not 6 σ.
                let reach = (s.max - t.mean).max(t.mean - s.min) / t.std;
                assert!(reach > 4.0 && reach < 6.0, "{}: reach {reach} σ", init.name());
            }
        }
    }

    #[test]
    fn initialisers_match_theory() {
        let dense = [512, 512];
        let conv = [256, 128, 3, 3];
        for shape in [&dense[..], &conv[..]] {
            check_against_theory(Init::Uniform { low: -1.0, high: 1.0 }, shape);
            check_against_theory(Init::Uniform { low: 2.0, high: 5.0 }, shape);
            check_against_theory(Init::Normal { mean: 0.0, std: 1.0 }, shape);
            check_against_theory(Init::Normal { mean: -3.0, std: 0.5 }, shape);
            check_against_theory(Init::XavierUniform { gain: 1.0 }, shape);
            check_against_theory(Init::XavierNormal { gain: 1.0 }, shape);
            check_against_theory(Init::KaimingUniform { gain: RELU_GAIN, fan_out_only: false }, shape);
            check_against_theory(Init::KaimingNormal { gain: RELU_GAIN, fan_out_only: false }, shape);
            check_against_theory(Init::KaimingUniform { gain: 1.0, fan_out_only: true }, shape);
        }
    }

    #[test]
    fn theory_formulas() {
        // Xavier uniform on [784, 128]: a = √(6 / 912)
        let t = Init::XavierUniform { gain: 1.0 }.theory(&[784, 128]);
        assert!((t.bounds.unwrap().1 - (6.0f64 / 912.0).sqrt()).abs() < 1e-15);
        // He normal on [784, 100], the article's example: std = √(2 / 784)
        let t = Init::KaimingNormal { gain: RELU_GAIN, fan_out_only: false }.theory(&[784, 100]);
        assert!((t.std - (2.0f64 / 784.0).sqrt()).abs() < 1e-15);
        // He uniform bound √(6 / fan_in) for a conv [64, 32, 3, 3]: fan_in 288
        let t = Init::KaimingUniform { gain: RELU_GAIN, fan_out_only: false }.theory(&[64, 32, 3, 3]);
        assert!((t.bounds.unwrap().1 - (6.0f64 / 288.0).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn he_keeps_the_relu_signal_variance() {
        // Push a unit-variance signal through 10 ReLU layers of width 256: with He init the
        // mean square stays of order 1; with Xavier (gain 1) it halves at every layer.
        let width = 256;
        let run = |init: Init| {
            let mut rng = Rng::new(99);
            let mut x: Vec<f64> = (0..width).map(|_| rng.normal(0.0, 1.0)).collect();
            for _ in 0..10 {
                let w = init.sample(&[width, width], &mut rng);
                x = (0..width)
                    .map(|j| (0..width).map(|i| x[i] * w[i * width + j] as f64).sum::<f64>().max(0.0))
                    .collect();
            }
            x.iter().map(|v| v * v).sum::<f64>() / width as f64
        };
        let he = run(Init::KaimingNormal { gain: RELU_GAIN, fan_out_only: false });
        let xavier = run(Init::XavierNormal { gain: 1.0 });
        assert!(he > 0.2 && he < 5.0, "He: mean square {he}");
        assert!(xavier < 0.01, "Xavier before ReLU: mean square {xavier}");
    }
}
