//! `zoo eval gan --judge CNN_RUN`: a trained `cnn` judges the generator, as the Inception
//! network judges ImageNet GANs (FID), but in the feature space of a digit classifier:
//!
//! - the Fréchet distance between Gaussians fitted to the judge's penultimate-layer features
//!   of generated images and of the real test images, beside the same distance between real
//!   training and test images (the floor: what two samples of real digits differ by);
//! - the share of generated images the judge classifies with at least 90 % confidence;
//! - the judge's class histogram of the generated images (mode collapse shows as empty classes).

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};
use zoo_data::{ImageSet, Split};
use zoo_models::Cnn;

use super::gan::{generate, load_generator};
use super::{image_batch, to_vec};
use crate::classifier::Classifier;
use crate::error::Result;
use crate::image::load_classifier;
use crate::recipes::{CnnRecipe, Recipe};
use crate::run::{RunDir, timestamp_iso};
use crate::source::DataSource;

/// Confidence from which a generated image counts as a clear digit.
pub const CONFIDENT: f32 = 0.9;

/// What `zoo eval gan` reports and `eval.json` keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GanEval {
    pub model: String,
    /// Which generator drew: `moving average` or `trained`.
    pub generator: String,
    pub judge: String,
    pub generated: usize,
    /// Fréchet distance, generated vs real test images, in the judge's feature space.
    pub frechet_distance: f64,
    /// The same distance between as many real training images and the test images.
    pub frechet_floor: f64,
    /// `frechet_distance / frechet_floor`.
    pub ratio: f64,
    /// Share of generated images classified with at least 90 % confidence, in percent.
    pub confident_percent: f64,
    /// Share of generated images per class, in percent.
    pub class_percent: Vec<f64>,
    /// A class-conditional generator's: for each class, the share of the images asked for it
    /// that the judge calls it, in percent (empty for an unconditional one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asked_percent: Vec<f64>,
    pub evaluated: String,
}

/// Mean and covariance of feature rows.
#[derive(Clone, Debug)]
pub struct Gaussian {
    pub mean: Vec<f64>,
    /// Row-major `dim x dim`.
    pub covariance: Vec<f64>,
    pub dim: usize,
}

impl Gaussian {
    /// Fits rows of `dim` values (unbiased covariance).
    pub fn fit(rows: &[f32], dim: usize) -> Self {
        let n = rows.len() / dim;
        let mut mean = vec![0.0; dim];
        for row in rows.chunks(dim) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += f64::from(*v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut covariance = vec![0.0; dim * dim];
        for row in rows.chunks(dim) {
            let centred: Vec<f64> = row.iter().zip(&mean).map(|(v, m)| f64::from(*v) - m).collect();
            for i in 0..dim {
                for j in i..dim {
                    covariance[i * dim + j] += centred[i] * centred[j];
                }
            }
        }
        for i in 0..dim {
            for j in i..dim {
                let c = covariance[i * dim + j] / (n as f64 - 1.0).max(1.0);
                covariance[i * dim + j] = c;
                covariance[j * dim + i] = c;
            }
        }
        Self { mean, covariance, dim }
    }
}

/// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of a symmetric
/// matrix, by cyclic Jacobi rotations: slow for large matrices, exact enough and dependency-free
/// for the 128x128 covariances here.
pub fn symmetric_eigen(matrix: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = matrix.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(1e-300);
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            for j in 0..n {
                out[i * n + j] += aik * b[k * n + j];
            }
        }
    }
    out
}

/// Fréchet distance between two Gaussians:
/// `|m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr((C1^1/2 C2 C1^1/2)^1/2)`.
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> f64 {
    let n = a.dim;
    let mean_term: f64 = a.mean.iter().zip(&b.mean).map(|(x, y)| (x - y).powi(2)).sum();
    let trace = |m: &[f64]| (0..n).map(|i| m[i * n + i]).sum::<f64>();
    // C1^1/2 = V diag(sqrt(max(l, 0))) V^T
    let (values, vectors) = symmetric_eigen(&a.covariance, n);
    let mut root = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            root[i * n + j] = (0..n).map(|k| vectors[i * n + k] * values[k].max(0.0).sqrt() * vectors[j * n + k]).sum();
        }
    }
    let middle = matmul(&matmul(&root, &b.covariance, n), &root, n);
    let (middle_values, _) = symmetric_eigen(&middle, n);
    let cross: f64 = middle_values.iter().map(|l| l.max(0.0).sqrt()).sum();
    mean_term + trace(&a.covariance) + trace(&b.covariance) - 2.0 * cross
}

/// The judge's features and class probabilities of a batch of pixels in `[0, 1]`.
fn judge_batch(judge: &Classifier<Cnn>, images: Tensor<4>) -> Result<(Vec<f32>, Vec<f32>)> {
    let features = judge.net.features(images.clone());
    let probabilities = softmax(judge.net.forward(images), 1);
    Ok((to_vec(features)?, to_vec(probabilities)?))
}

fn judge_set(judge: &Classifier<Cnn>, set: &ImageSet, device: &Device) -> Result<Vec<f32>> {
    let mut features = Vec::new();
    for start in (0..set.len()).step_by(500) {
        let chunk = set.subset(start..start + 500);
        features.extend(judge_batch(judge, image_batch(&chunk, chunk.len(), device))?.0);
    }
    Ok(features)
}

/// Pixels in `[0, 1]` as an 8-bit picture stores them (`round(255 x) / 255`): the judge scores
/// a generator's pictures as a file of them would hold them, so that `zoo eval gan --run` and
/// `--images` of the same pictures give the same figures.
pub fn as_stored(images: Tensor<4>) -> Tensor<4> {
    images.mul_scalar(255.0).round().div_scalar(255.0)
}

/// `zoo eval gan --run RUN --judge CNN_RUN`: `n` pictures of the run's generator (drawn from
/// `seed`) judged; written to the run's `eval.json`.
pub fn eval(run_dir: &Path, judge_dir: &Path, n: usize, seed: u64, trained: bool, device: &Device) -> Result<GanEval> {
    // Seeded before loading too: the standing statistics of an averaged generator draw noise.
    device.seed(seed);
    let (run, _, generator, kind) = load_generator(run_dir, trained, device)?;
    let judge = Judge::open(judge_dir, device)?;
    let n = judge.check_count(n)?;
    device.seed(seed);
    let pictures = generate(&generator, n, device).into_iter().map(as_stored).collect();
    let report = judge.score(pictures, n, generator.classes(), kind, device)?;
    run.write_json("eval.json", &report)?;
    Ok(report)
}

/// `zoo eval gan --images FILE --judge CNN_RUN`: the pictures of an IDX file (another
/// program's generator, or `zoo sample gan --out FILE.idx`), the first `n` of them at most.
pub fn eval_file(file: &Path, judge_dir: &Path, n: Option<usize>, device: &Device) -> Result<GanEval> {
    let bytes = std::fs::read(file).map_err(|e| {
        crate::error::ZooError::usage(format!(
            "{}: cannot read the pictures ({e}); give an IDX file of 28x28 images",
            file.display()
        ))
    })?;
    let (pixels, count, rows, cols) = zoo_data::idx::parse_images(&bytes, file)?;
    if (rows, cols) != (28, 28) {
        return Err(crate::error::ZooError::usage(format!(
            "{}: pictures of {rows}x{cols}; the judge reads 28x28 (MNIST's size)",
            file.display()
        )));
    }
    let judge = Judge::open(judge_dir, device)?;
    let n = judge.check_count(n.unwrap_or(count).min(count))?;
    let set = ImageSet::new(pixels[..n * 784].to_vec(), vec![0; n], 28, 28)?;
    let pictures = (0..n).step_by(500).map(|start| {
        let chunk = set.subset(start..(start + 500).min(n));
        image_batch(&chunk, chunk.len(), device)
    });
    judge.score(pictures.collect(), n, 0, &format!("pictures of {}", file.display()), device)
}

/// A `cnn` run judging pictures, with its data's test and training images as the references.
struct Judge {
    dir: std::path::PathBuf,
    net: Classifier<Cnn>,
    classes: usize,
    test: ImageSet,
    train: ImageSet,
}

impl Judge {
    fn open(judge_dir: &Path, device: &Device) -> Result<Self> {
        let (judge_run, judge_info) = RunDir::open(judge_dir, CnnRecipe::NAME)?;
        let (recipe, net) = load_classifier::<CnnRecipe>(&judge_run, device)?;
        // The judge's own data: its test split is the reference, its training split the floor.
        let source = DataSource::from_record(&judge_info.data)?;
        Ok(Self {
            dir: judge_dir.to_path_buf(),
            net: net.valid(),
            classes: crate::classifier::ClassifierRecipe::num_classes(&recipe),
            test: source.load(Split::Test)?,
            train: source.load(Split::Train)?,
        })
    }

    /// `n` capped by the test images there are to compare with; an error below 2.
    fn check_count(&self, n: usize) -> Result<usize> {
        let n = n.min(self.test.len());
        if n < 2 {
            return Err(crate::error::ZooError::usage(format!(
                "the judge needs at least 2 generated and 2 test images (--samples {n}, {} test images)",
                self.test.len()
            )));
        }
        Ok(n)
    }

    /// The figures of `n` pictures (pixels in `[0, 1]`, in batches). A conditional generator
    /// draws the classes in turn within each batch (`Generator::forward`): picture k of a batch
    /// was asked for class `k % asked_classes` (0: none asked).
    fn score(
        &self,
        pictures: Vec<Tensor<4>>,
        n: usize,
        asked_classes: usize,
        kind: &str,
        device: &Device,
    ) -> Result<GanEval> {
        let (mut features, mut confident) = (Vec::new(), 0usize);
        let mut histogram = vec![0usize; self.classes];
        let (mut asked, mut asked_right) = (vec![0usize; asked_classes], vec![0usize; asked_classes]);
        for images in pictures {
            let (f, p) = judge_batch(&self.net, images)?;
            features.extend(f);
            for (k, row) in p.chunks(self.classes).enumerate() {
                let (best, probability) =
                    row.iter().enumerate().fold((0, 0.0f32), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
                if asked_classes > 0 {
                    asked[k % asked_classes] += 1;
                    asked_right[k % asked_classes] += usize::from(best == k % asked_classes);
                }
                histogram[best] += 1;
                if probability >= CONFIDENT {
                    confident += 1;
                }
            }
        }
        let dim = features.len() / n;
        let generated = Gaussian::fit(&features, dim);
        let real_test = Gaussian::fit(&judge_set(&self.net, &self.test.subset(0..n), device)?, dim);
        let real_train = Gaussian::fit(&judge_set(&self.net, &self.train.subset(0..n), device)?, dim);
        let distance = frechet_distance(&generated, &real_test);
        let floor = frechet_distance(&real_train, &real_test);
        Ok(GanEval {
            model: super::gan::GanRecipe::NAME.into(),
            generator: kind.into(),
            judge: self.dir.display().to_string(),
            generated: n,
            frechet_distance: distance,
            frechet_floor: floor,
            ratio: distance / floor.max(1e-12),
            confident_percent: 100.0 * confident as f64 / n as f64,
            class_percent: histogram.iter().map(|&c| 100.0 * c as f64 / n as f64).collect(),
            asked_percent: asked.iter().zip(&asked_right).map(|(&a, &r)| 100.0 * r as f64 / a.max(1) as f64).collect(),
            evaluated: timestamp_iso(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_finds_known_eigenvalues() {
        let m = [2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0];
        let (mut values, _) = symmetric_eigen(&m, 3);
        values.sort_by(f64::total_cmp);
        for (got, want) in values.iter().zip([1.0, 3.0, 5.0]) {
            assert!((got - want).abs() < 1e-10, "{values:?}");
        }
    }

    #[test]
    fn frechet_distance_of_known_gaussians() {
        // Same covariance: only the means differ.
        let a = Gaussian { mean: vec![0.0, 0.0], covariance: vec![1.0, 0.0, 0.0, 1.0], dim: 2 };
        let b = Gaussian { mean: vec![3.0, 4.0], covariance: vec![1.0, 0.0, 0.0, 1.0], dim: 2 };
        assert!((frechet_distance(&a, &b) - 25.0).abs() < 1e-9);
        // Diagonal covariances: sum of (sqrt(s1) - sqrt(s2))^2.
        let c = Gaussian { mean: vec![0.0, 0.0], covariance: vec![4.0, 0.0, 0.0, 9.0], dim: 2 };
        assert!((frechet_distance(&a, &c) - (1.0 + 4.0)).abs() < 1e-9);
        assert!(frechet_distance(&c, &c).abs() < 1e-9);
    }

    #[test]
    fn fitted_gaussian_of_rows() {
        let rows = [1.0f32, 2.0, 3.0, 6.0];
        let g = Gaussian::fit(&rows, 2);
        assert_eq!(g.mean, vec![2.0, 4.0]);
        assert_eq!(g.covariance, vec![2.0, 4.0, 4.0, 8.0]);
    }
}
