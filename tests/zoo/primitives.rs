//! zoo-primitives against Burn: the from-scratch convolution, pooling, initialisers and hand
//! backpropagation give what Burn's CPU backend gives, over many random shapes and settings.

use burn::module::Param;
use burn::nn::Initializer;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use zoo_primitives::init::{Init, Rng, fan_in_fan_out, stats};
use zoo_primitives::{Matrix, Padding, Tensor4};

fn random_tensor(shape: [usize; 4], rng: &mut Rng) -> Tensor4 {
    let n = shape.iter().product();
    Tensor4::new((0..n).map(|_| rng.uniform(-1.0, 1.0) as f32).collect(), shape)
}

fn to_burn(t: &Tensor4, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(t.data.clone(), t.shape), device)
}

fn from_burn(t: Tensor<4>) -> Tensor4 {
    let shape = t.dims();
    Tensor4::new(t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap(), shape)
}

/// A random integer in `lo..=hi`.
fn pick(rng: &mut Rng, lo: usize, hi: usize) -> usize {
    lo + (rng.next_u64() % (hi - lo + 1) as u64) as usize
}

#[test]
fn conv2d_matches_burn_over_random_shapes() {
    let device = Device::flex();
    let mut rng = Rng::new(2026);
    let mut checked = 0;
    while checked < 60 {
        let (batch, cin, cout) = (pick(&mut rng, 1, 3), pick(&mut rng, 1, 3), pick(&mut rng, 1, 4));
        let (h, w) = (pick(&mut rng, 3, 12), pick(&mut rng, 3, 12));
        let (kh, kw) = (pick(&mut rng, 1, 4), pick(&mut rng, 1, 4));
        let stride = [pick(&mut rng, 1, 3), pick(&mut rng, 1, 3)];
        let dilation = [pick(&mut rng, 1, 2), pick(&mut rng, 1, 2)];
        let padding = [pick(&mut rng, 0, 2), pick(&mut rng, 0, 2)];
        // Skip settings where no window fits.
        if h + 2 * padding[0] < dilation[0] * (kh - 1) + 1 || w + 2 * padding[1] < dilation[1] * (kw - 1) + 1 {
            continue;
        }
        let x = random_tensor([batch, cin, h, w], &mut rng);
        let weight = random_tensor([cout, cin, kh, kw], &mut rng);
        let bias: Vec<f32> = (0..cout).map(|_| rng.uniform(-1.0, 1.0) as f32).collect();
        let ours = zoo_primitives::conv2d(
            &x,
            &weight,
            Some(&bias),
            zoo_primitives::ConvOptions::new(stride, dilation, Padding::Explicit(padding)),
        );
        let theirs = from_burn(conv2d(
            to_burn(&x, &device),
            to_burn(&weight, &device),
            Some(Tensor::from_data(TensorData::new(bias, [cout]), &device)),
            ConvOptions::new(stride, padding, dilation, 1),
        ));
        assert_eq!(ours.shape, theirs.shape, "shape, case {checked}");
        let diff = ours.max_abs_diff(&theirs);
        assert!(diff < 1e-5, "case {checked}: {:?} k{kh}x{kw} s{stride:?} d{dilation:?} p{padding:?}: {diff}", x.shape);
        checked += 1;
    }
}

#[test]
fn same_padding_matches_burn_uneven_padding() {
    let device = Device::flex();
    let mut rng = Rng::new(7);
    for (size, kernel, stride) in [(5, 3, 1), (5, 3, 2), (6, 3, 2), (7, 4, 3), (28, 5, 2)] {
        let x = random_tensor([1, 1, size, size], &mut rng);
        let weight = random_tensor([2, 1, kernel, kernel], &mut rng);
        let options = zoo_primitives::ConvOptions::new([stride; 2], [1; 2], Padding::Same);
        let ours = zoo_primitives::conv2d(&x, &weight, None, options);
        let pads = zoo_primitives::conv::resolve_padding(Padding::Same, [size; 2], [kernel; 2], [stride; 2], [1; 2]);
        let theirs = from_burn(conv2d(
            to_burn(&x, &device),
            to_burn(&weight, &device),
            None,
            ConvOptions::new_with_padding([stride; 2], pads, [1; 2], 1),
        ));
        assert_eq!(ours.shape[2], size.div_ceil(stride), "same padding keeps ceil(in / stride)");
        assert!(ours.max_abs_diff(&theirs) < 1e-5, "size {size} kernel {kernel} stride {stride}");
    }
}

#[test]
fn pooling_matches_burn_over_random_shapes() {
    let device = Device::flex();
    let mut rng = Rng::new(99);
    for case in 0..60 {
        let shape = [pick(&mut rng, 1, 2), pick(&mut rng, 1, 3), pick(&mut rng, 4, 11), pick(&mut rng, 4, 11)];
        let kernel = [pick(&mut rng, 1, 3), pick(&mut rng, 1, 3)];
        let stride = [pick(&mut rng, 1, 3), pick(&mut rng, 1, 3)];
        // Burn and PyTorch allow at most half the window as padding.
        let padding = [pick(&mut rng, 0, kernel[0] / 2), pick(&mut rng, 0, kernel[1] / 2)];
        let x = random_tensor(shape, &mut rng);

        let ours = zoo_primitives::max_pool2d(
            &x,
            zoo_primitives::MaxPoolOptions::new(kernel).with_stride(stride).with_padding(padding),
        );
        let mut options = MaxPoolOptions::new(kernel);
        options.stride = stride;
        options.padding = padding.map(|p| (p, p));
        let theirs = from_burn(max_pool2d(to_burn(&x, &device), options));
        assert_eq!(ours.shape, theirs.shape, "max pool shape, case {case}");
        assert!(ours.max_abs_diff(&theirs) < 1e-5, "max pool case {case}");

        for include in [true, false] {
            let ours = zoo_primitives::avg_pool2d(
                &x,
                zoo_primitives::AvgPoolOptions::new(kernel)
                    .with_stride(stride)
                    .with_padding(padding)
                    .with_count_include_pad(include),
            );
            let mut options = AvgPoolOptions::new(kernel);
            options.stride = stride;
            options.padding = padding.map(|p| (p, p));
            options.count_include_pad = include;
            let theirs = from_burn(avg_pool2d(to_burn(&x, &device), options));
            assert!(ours.max_abs_diff(&theirs) < 1e-5, "avg pool case {case} include_pad {include}");
        }
    }
}

#[test]
fn initialisers_match_burn_statistics() {
    let device = Device::flex();
    let _rng = crate::common::rng_lock();
    device.seed(5);
    let shape = [256, 128, 3, 3];
    let (fan_in, fan_out) = fan_in_fan_out(&shape);
    let pairs = [
        (Init::Uniform { low: -0.5, high: 0.5 }, Initializer::Uniform { min: -0.5, max: 0.5 }),
        (Init::Normal { mean: 0.0, std: 0.1 }, Initializer::Normal { mean: 0.0, std: 0.1 }),
        (Init::XavierUniform { gain: 1.0 }, Initializer::XavierUniform { gain: 1.0 }),
        (Init::XavierNormal { gain: 1.0 }, Initializer::XavierNormal { gain: 1.0 }),
        (
            Init::KaimingUniform { gain: 2f64.sqrt(), fan_out_only: false },
            Initializer::KaimingUniform { gain: 2f64.sqrt(), fan_out_only: false },
        ),
        (
            Init::KaimingNormal { gain: 2f64.sqrt(), fan_out_only: false },
            Initializer::KaimingNormal { gain: 2f64.sqrt(), fan_out_only: false },
        ),
    ];
    let mut rng = Rng::new(1);
    for (ours, theirs) in pairs {
        let theory = ours.theory(&shape);
        let ours_stats = stats(&ours.sample(&shape, &mut rng));
        let param: Param<Tensor<4>> = theirs.init_with(shape, Some(fan_in), Some(fan_out), &device);
        let values = param.val().into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        let burn_stats = stats(&values);
        for (who, s) in [("zoo", &ours_stats), ("burn", &burn_stats)] {
            let rel = (s.std - theory.std).abs() / theory.std;
            assert!(rel < 0.01, "{} {who}: std {} vs theory {}", ours.name(), s.std, theory.std);
            assert!(
                (s.mean - theory.mean).abs() < 0.01 * theory.std.max(1e-3) + 1e-3,
                "{} {who}: mean {}",
                ours.name(),
                s.mean
            );
            if let Some((low, high)) = theory.bounds {
                assert!(s.min >= low - 1e-6 && s.max <= high + 1e-6, "{} {who}: bounds", ours.name());
            }
        }
    }
}

fn matrix_to_burn(m: &Matrix, device: &Device) -> Tensor<2> {
    let data: Vec<f32> = m.data.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, [m.rows, m.cols]), device)
}

fn close(ours: &[f64], theirs: Tensor<2>, what: &str) {
    let theirs = theirs.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    assert_eq!(ours.len(), theirs.len(), "{what}");
    let worst = ours.iter().zip(&theirs).map(|(a, b)| (*a as f32 - b).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-5, "{what}: largest difference {worst}");
}

#[test]
fn hand_backprop_of_the_mlp_matches_burn_autodiff() {
    let mut rng = Rng::new(3);
    let (n, d, h, k) = (6, 5, 4, 3);
    let random = |rows: usize, cols: usize, rng: &mut Rng| {
        Matrix::new(rows, cols, (0..rows * cols).map(|_| rng.uniform(-1.0, 1.0)).collect())
    };
    let x = random(n, d, &mut rng);
    let labels: Vec<usize> = (0..n).map(|i| i % k).collect();
    let mlp = zoo_primitives::backprop::Mlp::new(
        random(d, h, &mut rng),
        (0..h).map(|_| rng.uniform(-0.5, 0.5)).collect(),
        random(h, k, &mut rng),
        (0..k).map(|_| rng.uniform(-0.5, 0.5)).collect(),
    );
    let trace = mlp.trace(&x, &labels);

    let device = Device::flex().autodiff();
    let w1 = matrix_to_burn(&mlp.w1, &device).require_grad();
    let w2 = matrix_to_burn(&mlp.w2, &device).require_grad();
    let b1 = matrix_to_burn(&Matrix::new(1, h, mlp.b1.clone()), &device).require_grad();
    let b2 = matrix_to_burn(&Matrix::new(1, k, mlp.b2.clone()), &device).require_grad();
    let a1 = relu(matrix_to_burn(&x, &device).matmul(w1.clone()) + b1.clone());
    let logits = a1.matmul(w2.clone()) + b2.clone();
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(labels.iter().map(|&l| l as i64).collect::<Vec<_>>(), [n]),
        &device,
    );
    let loss = CrossEntropyLossConfig::new().init(&device).forward(logits, targets);
    let grads = loss.backward();
    let loss: f32 = loss.into_scalar();
    assert!((trace.loss as f32 - loss).abs() < 1e-5, "loss {} vs {loss}", trace.loss);
    close(&trace.dw1.data, w1.grad(&grads).unwrap(), "dW1");
    close(&trace.db1, b1.grad(&grads).unwrap(), "db1");
    close(&trace.dw2.data, w2.grad(&grads).unwrap(), "dW2");
    close(&trace.db2, b2.grad(&grads).unwrap(), "db2");
}

#[test]
fn hand_backprop_of_logistic_regression_matches_burn_autodiff() {
    let mut rng = Rng::new(4);
    let (n, d) = (8, 3);
    let x = Matrix::new(n, d, (0..n * d).map(|_| rng.uniform(-2.0, 2.0)).collect());
    let y: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
    let model = zoo_primitives::backprop::LogisticRegression::new(vec![0.3, -0.2, 0.1], 0.05);
    let step = model.gradients(&x, &y);

    let device = Device::flex().autodiff();
    let w = matrix_to_burn(&Matrix::new(d, 1, model.w.clone()), &device).require_grad();
    let b = Tensor::<2>::from_data(TensorData::new(vec![model.b as f32], [1, 1]), &device).require_grad();
    let p = sigmoid(matrix_to_burn(&x, &device).matmul(w.clone()) + b.clone());
    let y_t = matrix_to_burn(&Matrix::new(n, 1, y.clone()), &device);
    let ones = Tensor::<2>::ones([n, 1], &device);
    // Mean binary cross-entropy, written out.
    let loss = -(y_t.clone() * p.clone().log() + (ones.clone() - y_t) * (ones - p).log()).mean();
    let grads = loss.backward();
    close(&step.dw, w.grad(&grads).unwrap(), "dW");
    close(&[step.db], b.grad(&grads).unwrap(), "db");
}
