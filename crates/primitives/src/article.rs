//! The article's NumPy code, ported **literally, bugs included**. Do not use these for anything
//! but showing what the article's code prints; the correct versions live in [`crate::conv`],
//! [`crate::pool`] and [`crate::backprop`]. Tests and `zoo explain` put the two side by side.
//!
//! Matrices are `Vec<Vec<f64>>` (a NumPy 2-D array). The article builds its image and kernel
//! with integer literals, so NumPy gives them an integer dtype and `np.zeros_like(image)` makes an
//! integer output; the sharpen kernel only produces integers, so `f64` shows the same numbers.

// The loops are ported index for index from the Python on purpose, bounds included.
#![allow(clippy::needless_range_loop)]

/// NumPy's `np.zeros_like` for a 2-D array.
fn zeros_like(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    a.iter().map(|row| vec![0.0; row.len()]).collect()
}

/// NumPy's `np.flip` on a 2-D array (both axes): a 180-degree rotation.
fn flip(k: &[Vec<f64>]) -> Vec<Vec<f64>> {
    k.iter().rev().map(|row| row.iter().rev().copied().collect()).collect()
}

/// `np.sum(patch * kernel)` with `patch = image[i:i+kh, j:j+kw]`.
fn window_dot(image: &[Vec<f64>], kernel: &[Vec<f64>], i: usize, j: usize) -> f64 {
    let mut s = 0.0;
    for (u, krow) in kernel.iter().enumerate() {
        for (v, k) in krow.iter().enumerate() {
            s += image[i + u][j + v] * k;
        }
    }
    s
}

/// Item 12's `conv2d(image, kernel)` (also the `conv2d` of item 20):
///
/// ```python
/// output = np.zeros_like(image)
/// kernel = np.flip(kernel)
/// for i in range(image.shape[0] - kernel.shape[0]):      # BUG: should be ... + 1
///     for j in range(image.shape[1] - kernel.shape[1]):  # BUG: should be ... + 1
///         patch = image[i:i+kernel.shape[0], j:j+kernel.shape[1]]
///         output[i, j] = np.sum(patch * kernel)
/// return output
/// ```
///
/// Two problems: the loops stop one position early (the last valid row and column of the output
/// are never computed), and the output keeps the input's size, so the missing values stay as
/// zeros that look like results.
pub fn item12_conv2d(image: &[Vec<f64>], kernel: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut output = zeros_like(image);
    let kernel = flip(kernel);
    // Python's range(n) with n <= 0 is empty; saturating_sub gives the same.
    for i in 0..image.len().saturating_sub(kernel.len()) {
        for j in 0..image[0].len().saturating_sub(kernel[0].len()) {
            output[i][j] = window_dot(image, &kernel, i, j);
        }
    }
    output
}

/// Item 17's inline loop: the same as item 12 but without the flip (so cross-correlation),
/// with the same loop bounds bug.
pub fn item17_conv(image: &[Vec<f64>], kernel: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut output = zeros_like(image);
    for i in 0..image.len().saturating_sub(kernel.len()) {
        for j in 0..image[0].len().saturating_sub(kernel[0].len()) {
            output[i][j] = window_dot(image, kernel, i, j);
        }
    }
    output
}

/// Item 20's `cnn(image, kernel1, depth1, kernel2, depth2)`: item 12's buggy `conv2d` applied
/// twice. `depth1` and `depth2` are accepted and ignored, as in the article: each "layer" has
/// one 2-D kernel, so the depth (number of filters) the item is about never appears.
pub fn item20_cnn(
    image: &[Vec<f64>],
    kernel1: &[Vec<f64>],
    _depth1: usize,
    kernel2: &[Vec<f64>],
    _depth2: usize,
) -> Vec<Vec<f64>> {
    let feature_map1 = item12_conv2d(image, kernel1);
    item12_conv2d(&feature_map1, kernel2)
}

/// Items 22 and 26's `conv2dStride(image, kernel, stride)`:
///
/// ```python
/// output = np.zeros_like(image)
/// kernel = np.flip(kernel)
/// for i in range(image.shape[0] - kernel.shape[0]):
///     for j in range(image.shape[1] - kernel.shape[1]):
///         patch = image[i:i+kernel.shape[0], j:j+kernel.shape[1]]
///         output[i:i+stride[0], j:j+stride[1]] = np.sum(patch * kernel, axis=(1, 2))
/// return output
/// ```
///
/// `patch * kernel` is 2-D, so `np.sum(..., axis=(1, 2))` raises NumPy's
/// `AxisError: axis 2 is out of bounds for array of dimension 2` the first time the loop body
/// runs: that is returned as `Err`. The stride is never used to step the window either (the loops
/// step by 1; the stride only sets the size of the block written), and the output keeps the
/// input's size. On the article's own 3x3 image with a 3x3 kernel, `range(0)` is empty, the
/// body never runs, and the function returns (prints) a 3x3 block of zeros.
pub fn item22_conv2d_stride(
    image: &[Vec<f64>],
    kernel: &[Vec<f64>],
    _stride: (usize, usize),
) -> Result<Vec<Vec<f64>>, String> {
    let output = zeros_like(image);
    let _kernel = flip(kernel);
    let rows = image.len().saturating_sub(kernel.len());
    let cols = image[0].len().saturating_sub(kernel[0].len());
    if rows > 0 && cols > 0 {
        // First iteration (i = 0, j = 0): np.sum(patch * kernel, axis=(1, 2)) on a 2-D array.
        return Err("numpy.exceptions.AxisError: axis 2 is out of bounds for array of dimension 2".into());
    }
    Ok(output)
}

/// Item 14's `forward(x, weights)`: `z = np.dot(x, weights)` then the sigmoid, with NumPy's
/// shape rule for `np.dot` of two 2-D arrays (`(m, k) · (k', n)` needs `k == k'`).
///
/// The article calls it with `x = [[0], [1]]` (shape `(2, 1)`) and `weights = np.random.rand(2, 1)`
/// (shape `(2, 1)`), so the very first call fails with
/// `ValueError: shapes (2,1) and (2,1) not aligned: 1 (dim 1) != 2 (dim 0)`.
/// The weights should have had one row per input feature: shape `(1, 1)` (or `[d]` = `[1]` with
/// a separate bias, which the article also lacks).
pub fn item14_forward(x: &[Vec<f64>], weights: &[Vec<f64>]) -> Result<Vec<Vec<f64>>, String> {
    let (m, k) = (x.len(), x[0].len());
    let (k2, n) = (weights.len(), weights[0].len());
    if k != k2 {
        return Err(format!("ValueError: shapes ({m},{k}) and ({k2},{n}) not aligned: {k} (dim 1) != {k2} (dim 0)"));
    }
    Ok((0..m)
        .map(|i| {
            (0..n)
                .map(|j| {
                    let z: f64 = (0..k).map(|t| x[i][t] * weights[t][j]).sum();
                    1.0 / (1.0 + (-z).exp())
                })
                .collect()
        })
        .collect())
}

/// Item 14's `backward`: `dW = np.dot(np.transpose(x), y_pred - y_true)`. Its loss is the *mean*
/// BCE, whose gradient is `xᵀ(ŷ - y) / n`; this `dW` is `n` times larger (it is the gradient of
/// the *summed* loss), so the article's learning rate 0.1 is effectively `0.1 · n`.
pub fn item14_dw(x: &[Vec<f64>], y_pred: &[f64], y_true: &[f64]) -> Vec<f64> {
    let d = x[0].len();
    (0..d).map(|t| x.iter().zip(y_pred.iter().zip(y_true)).map(|(row, (p, y))| row[t] * (p - y)).sum()).collect()
}

/// Item 19's `max_pooling(input_tensor, window_size, stride)`, which is correct (floor mode:
/// a 3x3 input with a 2x2 window and stride 2 gives 1x1, dropping the last row and column, as
/// every framework does).
pub fn item19_max_pooling(input: &[Vec<f64>], window: (usize, usize), stride: (usize, usize)) -> Vec<Vec<f64>> {
    let out_h = (input.len() - window.0) / stride.0 + 1;
    let out_w = (input[0].len() - window.1) / stride.1 + 1;
    (0..out_h)
        .map(|i| {
            (0..out_w)
                .map(|j| {
                    let mut m = f64::NEG_INFINITY;
                    for row in &input[i * stride.0..i * stride.0 + window.0] {
                        for &v in &row[j * stride.1..j * stride.1 + window.1] {
                            m = m.max(v);
                        }
                    }
                    m
                })
                .collect()
        })
        .collect()
}

/// The article's 5x5 image, a hollow square (items 12, 17, 20).
pub fn image5() -> Vec<Vec<f64>> {
    vec![
        vec![0., 0., 0., 0., 0.],
        vec![0., 1., 1., 1., 0.],
        vec![0., 1., 0., 1., 0.],
        vec![0., 1., 1., 1., 0.],
        vec![0., 0., 0., 0., 0.],
    ]
}

/// The article's 3x3 image, a plus sign (items 19, 22, 26).
pub fn image3() -> Vec<Vec<f64>> {
    vec![vec![0., 1., 0.], vec![1., 1., 1.], vec![0., 1., 0.]]
}

/// The article's sharpen kernel.
pub fn sharpen() -> Vec<Vec<f64>> {
    vec![vec![0., -1., 0.], vec![-1., 5., -1.], vec![0., -1., 0.]]
}

/// A `Vec<Vec<f64>>` as a single-channel [`crate::Tensor4`] `[1, 1, h, w]`.
pub fn to_tensor(m: &[Vec<f64>]) -> crate::Tensor4 {
    let h = m.len();
    let w = m.first().map_or(0, |r| r.len());
    crate::Tensor4::new(m.iter().flatten().map(|&v| v as f32).collect(), [1, 1, h, w])
}

#[cfg(test)]
mod tests {
    //! "Article bug" tests: what the article's code computes next to the correct result.
    use super::*;
    use crate::conv::{ConvOptions, Padding, conv2d, convolve2d};
    use crate::pool::{MaxPoolOptions, max_pool2d};

    fn plane(t: &crate::Tensor4) -> Vec<Vec<f64>> {
        t.plane(0, 0).into_iter().map(|r| r.into_iter().map(f64::from).collect()).collect()
    }

    #[test]
    fn item12_misses_the_last_row_and_column() {
        let article = item12_conv2d(&image5(), &sharpen());
        // Only the 2x2 top-left block is computed; the rest of the 5x5 output is zeros.
        assert_eq!(
            article,
            vec![
                vec![3., 3., 0., 0., 0.],
                vec![3., -4., 0., 0., 0.],
                vec![0., 0., 0., 0., 0.],
                vec![0., 0., 0., 0., 0.],
                vec![0., 0., 0., 0., 0.],
            ]
        );
        let correct = convolve2d(&to_tensor(&image5()), &to_tensor(&sharpen()), None, ConvOptions::default());
        assert_eq!(correct.shape, [1, 1, 3, 3]);
        assert_eq!(plane(&correct), vec![vec![3., 3., 3.], vec![3., -4., 3.], vec![3., 3., 3.]]);
        // The part the article did compute is right; the 5 missing values are not zero.
        for i in 0..2 {
            for j in 0..2 {
                assert_eq!(article[i][j], plane(&correct)[i][j]);
            }
        }
        assert_ne!(article[0][2], plane(&correct)[0][2]);
    }

    #[test]
    fn item12_with_fixed_bounds_is_our_convolution() {
        // Porting the loops with `+ 1` and a (h-kh+1) x (w-kw+1) output gives our result, for
        // an asymmetric kernel too (where the flip matters).
        let k = vec![vec![1., 2., 0.], vec![0., -1., 0.], vec![3., 0., -2.]];
        let img: Vec<Vec<f64>> = (0..5).map(|i| (0..6).map(|j| ((i * 7 + j * 3) % 5) as f64).collect()).collect();
        let kf = flip(&k);
        let fixed: Vec<Vec<f64>> = (0..3).map(|i| (0..4).map(|j| window_dot(&img, &kf, i, j)).collect()).collect();
        let ours = convolve2d(&to_tensor(&img), &to_tensor(&k), None, ConvOptions::default());
        assert_eq!(plane(&ours), fixed);
        // and the buggy loop agrees with it on the 2x3 block it does compute
        let buggy = item12_conv2d(&img, &k);
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(buggy[i][j], fixed[i][j]);
            }
        }
    }

    #[test]
    fn item17_same_bug_without_the_flip() {
        let article = item17_conv(&image5(), &sharpen());
        assert_eq!(article, item12_conv2d(&image5(), &sharpen())); // symmetric kernel
        let correct = conv2d(&to_tensor(&image5()), &to_tensor(&sharpen()), None, ConvOptions::default());
        assert_eq!(plane(&correct).len(), 3);
        assert_ne!(article.len(), 3);
    }

    #[test]
    fn item20_stacks_the_bug() {
        let article = item20_cnn(&image5(), &sharpen(), 3, &sharpen(), 3);
        // The second pass reads the first pass's fake zeros: [[-26, 4], [4, 0]] in a 5x5 of zeros.
        assert_eq!(article[0][..2], [-26., 4.]);
        assert_eq!(article[1][..2], [4., 0.]);
        assert!(article[2..].iter().all(|r| r.iter().all(|&v| v == 0.0)));
        // Correct: two valid 3x3 convolutions take 5x5 to 3x3 to 1x1.
        let k = to_tensor(&sharpen());
        let once = convolve2d(&to_tensor(&image5()), &k, None, ConvOptions::default());
        let twice = convolve2d(&once, &k, None, ConvOptions::default());
        assert_eq!(twice.shape, [1, 1, 1, 1]);
        assert_eq!(twice.data, vec![-32.0]);
        // With same padding both layers keep 5x5.
        let same = ConvOptions::new([1, 1], [1, 1], Padding::Same);
        let twice_same = convolve2d(&convolve2d(&to_tensor(&image5()), &k, None, same), &k, None, same);
        assert_eq!(twice_same.shape, [1, 1, 5, 5]);
        assert_eq!(twice_same.at([0, 0, 2, 2]), -32.0);
    }

    #[test]
    fn item22_strided_convolution_fails_or_does_nothing() {
        // On the article's own input the loops are empty: it prints a 3x3 of zeros.
        let article = item22_conv2d_stride(&image3(), &sharpen(), (2, 2));
        assert_eq!(article, Ok(vec![vec![0.0; 3]; 3]));
        // On any image larger than the kernel the body runs and NumPy raises.
        let err = item22_conv2d_stride(&image5(), &sharpen(), (2, 2)).unwrap_err();
        assert!(err.contains("axis 2 is out of bounds for array of dimension 2"));
        // Correct, on the 3x3 plus: stride 2, valid -> 1x1 [[1]]; same -> 2x2 of -2.
        let x = to_tensor(&image3());
        let k = to_tensor(&sharpen());
        let valid = convolve2d(&x, &k, None, ConvOptions::new([2, 2], [1, 1], Padding::Valid));
        assert_eq!(valid.shape, [1, 1, 1, 1]);
        assert_eq!(valid.data, vec![1.0]);
        let same = convolve2d(&x, &k, None, ConvOptions::new([2, 2], [1, 1], Padding::Same));
        assert_eq!(plane(&same), vec![vec![-2., -2.], vec![-2., -2.]]);
        // And on the 5x5 square: stride 2 valid -> 2x2 of 3; same -> 3x3.
        let x5 = to_tensor(&image5());
        let s2 = convolve2d(&x5, &k, None, ConvOptions::new([2, 2], [1, 1], Padding::Valid));
        assert_eq!(plane(&s2), vec![vec![3., 3.], vec![3., 3.]]);
    }

    #[test]
    fn item14_weight_shape_does_not_fit() {
        let x = vec![vec![0.0], vec![1.0]];
        let weights = vec![vec![0.5], vec![0.5]]; // np.random.rand(2, 1)
        let err = item14_forward(&x, &weights).unwrap_err();
        assert_eq!(err, "ValueError: shapes (2,1) and (2,1) not aligned: 1 (dim 1) != 2 (dim 0)");
        // With the shape fixed to (1, 1) the forward pass runs.
        let y_pred = item14_forward(&x, &[vec![0.5]]).unwrap();
        assert_eq!(y_pred[0][0], 0.5); // sigmoid(0): without a bias, x = 0 is stuck at 0.5
        assert!((y_pred[1][0] - crate::activation::sigmoid(0.5)).abs() < 1e-15);
    }

    #[test]
    fn item14_dw_is_n_times_the_mean_loss_gradient() {
        use crate::backprop::LogisticRegression;
        use crate::tensor::Matrix;
        let x = vec![vec![0.0], vec![1.0]];
        let y = [0.0, 1.0];
        let model = LogisticRegression::new(vec![0.5], 0.0);
        let grads = model.gradients(&Matrix::from_rows(&[&[0.0], &[1.0]]), &y);
        let article = item14_dw(&x, &grads.y_hat, &y);
        assert!((article[0] - 2.0 * grads.dw[0]).abs() < 1e-15);
    }

    #[test]
    fn item19_max_pooling_is_correct() {
        let article = item19_max_pooling(&image3(), (2, 2), (2, 2));
        assert_eq!(article, vec![vec![1.0]]);
        let ours = max_pool2d(&to_tensor(&image3()), MaxPoolOptions::new([2, 2]));
        assert_eq!(plane(&ours), article);
        let map: Vec<Vec<f64>> = (0..6).map(|i| (0..7).map(|j| ((i * 5 + j * 3) % 11) as f64).collect()).collect();
        let ours = max_pool2d(&to_tensor(&map), MaxPoolOptions::new([3, 2]).with_stride([2, 2]));
        assert_eq!(plane(&ours), item19_max_pooling(&map, (3, 2), (2, 2)));
    }
}
