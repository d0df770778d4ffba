//! zoo's own CPU kernels against Burn's operations: values and every input's gradient, over
//! many shapes, with and without autodiff.

use burn::prelude::*;
use burn::tensor::Distribution;
use zoo_models::kernels::lstm::{lstm_sequence, lstm_sequence_reference};
use zoo_models::kernels::{self, KernelBackend};

use crate::common::rng_lock;

fn assert_close<const D: usize>(what: &str, got: Tensor<D>, want: Tensor<D>) {
    let (got, want) = (got.into_data().try_to_vec::<f32>().unwrap(), want.into_data().try_to_vec::<f32>().unwrap());
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 2e-5 * scale, "{what}[{k}]: kernel {g}, Burn {w}");
    }
}

#[test]
fn the_kernels_apply_on_flex_and_not_elsewhere_by_default() {
    let device = Device::flex();
    let plain = Tensor::<2>::zeros([2, 3], &device);
    let tracked = Tensor::<2>::zeros([2, 3], &device.clone().autodiff());
    assert_eq!(kernels::backend_of(&plain), Some(KernelBackend::Flex));
    assert_eq!(kernels::backend_of(&tracked), Some(KernelBackend::AutodiffFlex));
    #[cfg(feature = "ndarray")]
    {
        #[allow(deprecated)]
        let ndarray = Device::ndarray();
        assert_eq!(kernels::backend_of(&Tensor::<2>::zeros([2, 3], &ndarray)), None);
    }
}

#[test]
fn lstm_sequence_matches_burns_operations_in_values_and_gradients() {
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(11);
    // (batch, steps, hidden): single rows, single steps, odd widths, and one large enough to
    // split its products and its element-wise work across threads.
    for (batch, steps, hidden) in [(1, 1, 1), (1, 4, 3), (3, 1, 5), (2, 7, 4), (5, 3, 9), (4, 6, 16), (64, 3, 256)] {
        let normal = Distribution::Normal(0.0, 1.0);
        let x = Tensor::<3>::random([batch, steps, 4 * hidden], normal, &device).require_grad();
        let w = (Tensor::<2>::random([hidden, 4 * hidden], normal, &device) / (hidden as f64).sqrt())
            .detach()
            .require_grad();
        let h0 = Tensor::<2>::random([batch, hidden], normal, &device).require_grad();
        let c0 = Tensor::<2>::random([batch, hidden], normal, &device).require_grad();
        // A weighted sum, so that every output (h and c, every step) gets its own gradient.
        let weights = Tensor::<3>::random([batch, steps, 2 * hidden], normal, &device);
        let run = |kernel: bool| {
            let out = if kernel {
                lstm_sequence(&x, &w, &h0, &c0).expect("the kernel applies on flex")
            } else {
                lstm_sequence_reference(x.clone(), w.clone(), h0.clone(), c0.clone())
            };
            let grads = (out.clone() * weights.clone()).sum().backward();
            let grad = |t: &Tensor<3>| t.grad(&grads).unwrap();
            let grad2 = |t: &Tensor<2>| t.grad(&grads).unwrap();
            (out.inner(), grad(&x), grad2(&w), grad2(&h0), grad2(&c0))
        };
        let (kernel, reference) = (run(true), run(false));
        let case = format!("batch {batch}, steps {steps}, hidden {hidden}");
        assert_close(&format!("output ({case})"), kernel.0, reference.0);
        assert_close(&format!("d x_gates ({case})"), kernel.1, reference.1);
        assert_close(&format!("d w_h ({case})"), kernel.2, reference.2);
        assert_close(&format!("d h0 ({case})"), kernel.3, reference.3);
        assert_close(&format!("d c0 ({case})"), kernel.4, reference.4);
        // Without autodiff the kernel gives the same values.
        let plain = |t: Tensor<2>| t.inner();
        let untracked = lstm_sequence(&x.clone().inner(), &plain(w.clone()), &plain(h0.clone()), &plain(c0.clone()))
            .expect("applies");
        assert_close(
            &format!("untracked output ({case})"),
            untracked,
            lstm_sequence_reference(x.clone(), w.clone(), h0.clone(), c0.clone()).inner(),
        );
    }
}

#[test]
fn conv2d_matches_burns_convolution_in_values_and_gradients() {
    use burn::tensor::module::conv2d;
    use burn::tensor::ops::ConvOptions;
    use zoo_models::kernels::conv::conv2d_tensors;
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(12);
    let normal = Distribution::Normal(0.0, 1.0);
    // (batch, c_in, h, w, c_out, kernel, stride, [top, bottom, left, right], bias): the shapes
    // of zoo's models (one input channel, stride 2 with "same" and uneven padding, 5x5) and
    // odd ones (non-square, kernel as large as the padded input, no bias).
    type Case = (usize, usize, usize, usize, usize, [usize; 2], [usize; 2], [usize; 4], bool);
    let cases: [Case; 10] = [
        (64, 1, 28, 28, 8, [3, 3], [1, 1], [1, 1, 1, 1], true),
        (2, 1, 8, 8, 3, [3, 3], [1, 1], [0, 0, 0, 0], true),
        (3, 4, 7, 7, 5, [3, 3], [1, 1], [1, 1, 1, 1], true),
        (2, 3, 9, 9, 4, [3, 3], [2, 2], [1, 1, 1, 1], true),
        (2, 2, 10, 10, 3, [5, 5], [2, 2], [2, 2, 2, 2], false),
        (1, 2, 8, 8, 2, [5, 5], [2, 2], [1, 2, 1, 2], true),
        (2, 3, 6, 11, 2, [2, 3], [1, 2], [0, 1, 2, 0], true),
        (1, 1, 3, 3, 1, [5, 5], [1, 1], [1, 1, 1, 1], true),
        (5, 1, 28, 28, 8, [3, 3], [1, 1], [0, 0, 0, 0], true),
        (4, 8, 13, 13, 16, [3, 3], [1, 1], [0, 0, 0, 0], true),
    ];
    for (batch, c_in, h, w, c_out, kernel, stride, pad, with_bias) in cases {
        let x = Tensor::<4>::random([batch, c_in, h, w], normal, &device).require_grad();
        let weight = Tensor::<4>::random([c_out, c_in, kernel[0], kernel[1]], normal, &device).require_grad();
        let bias = Tensor::<1>::random([c_out], normal, &device).require_grad();
        let options = ConvOptions::new_with_padding(stride, [(pad[0], pad[1]), (pad[2], pad[3])], [1, 1], 1);
        let run = |kernel_path: bool| {
            let b = with_bias.then(|| bias.clone());
            let out = if kernel_path {
                conv2d_tensors(&x, &weight, b.as_ref(), stride, pad).expect("the kernel applies on flex")
            } else {
                conv2d(x.clone(), weight.clone(), b, options.clone())
            };
            let weights = Tensor::<4>::ones(out.dims(), &device) + out.clone().detach().sin();
            let grads = (out.clone() * weights).sum().backward();
            (
                out.inner(),
                x.grad(&grads).unwrap(),
                weight.grad(&grads).unwrap(),
                with_bias.then(|| bias.grad(&grads).unwrap()),
            )
        };
        let (kernel, reference) = (run(true), run(false));
        let case =
            format!("batch {batch}, {c_in}->{c_out}, {h}x{w}, kernel {kernel:?}, stride {stride:?}, padding {pad:?}");
        assert_eq!(kernel.0.dims(), reference.0.dims(), "{case}");
        assert_close(&format!("output ({case})"), kernel.0, reference.0);
        assert_close(&format!("d x ({case})"), kernel.1, reference.1);
        assert_close(&format!("d weight ({case})"), kernel.2, reference.2);
        if let (Some(a), Some(b)) = (kernel.3, reference.3) {
            assert_close(&format!("d bias ({case})"), a, b);
        }
    }
}

#[test]
fn max_pool2d_matches_burns_pooling_in_values_and_gradients() {
    use burn::tensor::module::max_pool2d;
    use zoo_models::kernels::pool::max_pool2d_tensor;
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(13);
    // (batch, channels, h, w, kernel, stride): the models' 2x2 pools on even and odd sides
    // (the last row and column dropped), overlapping and non-square windows.
    for (batch, channels, h, w, kernel, stride) in [
        (2, 3, 26, 26, [2, 2], [2, 2]),
        (64, 8, 28, 28, [2, 2], [2, 2]),
        (3, 2, 11, 11, [2, 2], [2, 2]),
        (1, 4, 7, 9, [3, 3], [1, 1]),
        (2, 1, 9, 8, [3, 2], [2, 3]),
        (1, 1, 2, 2, [2, 2], [2, 2]),
    ] {
        let x = Tensor::<4>::random([batch, channels, h, w], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let run = |kernel_path: bool| {
            let out = if kernel_path {
                max_pool2d_tensor(&x, kernel, stride).expect("the kernel applies on flex")
            } else {
                max_pool2d(x.clone(), burn::tensor::ops::MaxPoolOptions::new(kernel).with_stride(stride))
            };
            let weights = Tensor::<4>::ones(out.dims(), &device) + out.clone().detach().cos();
            let grads = (out.clone() * weights).sum().backward();
            (out.inner(), x.grad(&grads).unwrap())
        };
        let (kernel_run, reference) = (run(true), run(false));
        let case = format!("batch {batch}, channels {channels}, {h}x{w}, kernel {kernel:?}, stride {stride:?}");
        assert_eq!(kernel_run.0.dims(), reference.0.dims(), "{case}");
        assert_close(&format!("output ({case})"), kernel_run.0, reference.0);
        assert_close(&format!("d x ({case})"), kernel_run.1, reference.1);
    }
}

#[test]
fn conv_transpose2d_matches_burns_in_values_and_gradients() {
    use burn::tensor::module::conv_transpose2d;
    use burn::tensor::ops::ConvTransposeOptions;
    use zoo_models::kernels::conv::conv_transpose2d_tensors;
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(14);
    let normal = Distribution::Normal(0.0, 1.0);
    // (batch, c_in, h, w, c_out, kernel, stride, padding, padding_out, bias): the VAE's and
    // the DCGAN's layers at small sizes, and odd ones.
    type Case = (usize, usize, usize, usize, usize, [usize; 2], [usize; 2], [usize; 2], [usize; 2], bool);
    let cases: [Case; 9] = [
        (64, 8, 7, 7, 8, [3, 3], [2, 2], [1, 1], [1, 1], true),
        (2, 4, 7, 7, 3, [3, 3], [2, 2], [1, 1], [1, 1], true),
        (2, 3, 5, 5, 1, [3, 3], [1, 1], [1, 1], [0, 0], true),
        (2, 6, 7, 7, 4, [5, 5], [1, 1], [2, 2], [0, 0], false),
        (3, 4, 7, 7, 2, [5, 5], [2, 2], [2, 2], [1, 1], false),
        (1, 1, 4, 6, 2, [2, 3], [2, 1], [0, 1], [1, 0], true),
        (2, 2, 3, 3, 3, [3, 3], [3, 3], [0, 0], [2, 2], true),
        (1, 3, 1, 1, 2, [4, 4], [1, 1], [0, 0], [0, 0], true),
        (4, 8, 7, 7, 8, [3, 3], [2, 2], [1, 1], [1, 1], true),
    ];
    for (batch, c_in, h, w, c_out, kernel, stride, padding, padding_out, with_bias) in cases {
        let x = Tensor::<4>::random([batch, c_in, h, w], normal, &device).require_grad();
        let weight = Tensor::<4>::random([c_in, c_out, kernel[0], kernel[1]], normal, &device).require_grad();
        let bias = Tensor::<1>::random([c_out], normal, &device).require_grad();
        let options = ConvTransposeOptions::new(stride, padding, padding_out, [1, 1], 1);
        let run = |kernel_path: bool| {
            let b = with_bias.then(|| bias.clone());
            let out = if kernel_path {
                conv_transpose2d_tensors(&x, &weight, b.as_ref(), stride, padding, padding_out)
                    .expect("the kernel applies on flex")
            } else {
                conv_transpose2d(x.clone(), weight.clone(), b, options.clone())
            };
            let weights = Tensor::<4>::ones(out.dims(), &device) + out.clone().detach().sin();
            let grads = (out.clone() * weights).sum().backward();
            (
                out.inner(),
                x.grad(&grads).unwrap(),
                weight.grad(&grads).unwrap(),
                with_bias.then(|| bias.grad(&grads).unwrap()),
            )
        };
        let (kernel_run, reference) = (run(true), run(false));
        let case = format!(
            "batch {batch}, {c_in}->{c_out}, {h}x{w}, kernel {kernel:?}, stride {stride:?}, padding {padding:?}, out {padding_out:?}"
        );
        assert_eq!(kernel_run.0.dims(), reference.0.dims(), "{case}");
        assert_close(&format!("output ({case})"), kernel_run.0, reference.0);
        assert_close(&format!("d x ({case})"), kernel_run.1, reference.1);
        assert_close(&format!("d weight ({case})"), kernel_run.2, reference.2);
        if let (Some(a), Some(b)) = (kernel_run.3, reference.3) {
            assert_close(&format!("d bias ({case})"), a, b);
        }
    }
}

#[test]
fn batch_norm_leaky_relu_matches_burns_layers_in_values_gradients_and_running_statistics() {
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use zoo_models::kernels::batch_norm::{batch_norm, batch_norm_leaky_relu};
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(17);
    // The generator's three shapes (dense features, then channels of 7x7 and 14x14 maps) at a
    // small batch, a single row, and inputs off zero mean in short and long runs (the kernel
    // accumulates its statistics in f64; Burn's f32 ones drift beyond the tolerance from a mean
    // of about 300).
    // Slope 1: plain batch norm (`zoo_models::nn::BatchNorm::forward`), against Burn's layer alone.
    for (dims, offset, slope) in [
        (vec![8, 12544], 0.0, 0.3),
        (vec![5, 128, 7, 7], 0.0, 0.3),
        (vec![3, 64, 14, 14], 0.0, 0.3),
        (vec![1, 6, 3, 3], 0.0, 0.3),
        (vec![4, 5, 2, 3], 20.0, 0.3),
        (vec![4, 5, 9, 9], 20.0, 0.3),
        (vec![6, 32, 7, 7], 0.0, 1.0),
        (vec![4, 5, 2, 3], 20.0, 1.0),
    ] {
        let channels = dims[1];
        // Non-trivial scale and shift, so every term of the gradient shows.
        let gamma = Tensor::<1>::random([channels], Distribution::Uniform(0.5, 1.5), &device);
        let beta = Tensor::<1>::random([channels], Distribution::Uniform(-0.5, 0.5), &device);
        let x = Tensor::<2>::random(
            [dims.iter().product::<usize>() / channels, channels],
            Distribution::Normal(offset, 2.0),
            &device,
        );
        let run = |on: bool| {
            kernels::set_enabled(on);
            // A fresh layer each time: clones share their running statistics.
            let mut layer = BatchNormConfig::new(channels).init(&device);
            layer.gamma = Param::from_tensor(gamma.clone());
            layer.beta = Param::from_tensor(beta.clone());
            let input = x.clone().reshape(pad4(&dims)).require_grad();
            let out: Tensor<4> = if slope == 1.0 {
                batch_norm(&layer, input.clone())
            } else {
                batch_norm_leaky_relu(&layer, input.clone(), slope)
            };
            let weights = Tensor::<4>::ones(out.dims(), &device) + out.clone().detach().cos();
            let grads = (out.clone() * weights).sum().backward();
            let grad = |t: &Tensor<1>| t.grad(&grads).unwrap();
            (
                out.inner(),
                input.grad(&grads).unwrap(),
                grad(&layer.gamma.val()),
                grad(&layer.beta.val()),
                layer.running_mean.value().inner(),
                layer.running_var.value().inner(),
            )
        };
        let (zoo, burn) = (run(true), run(false));
        kernels::set_enabled(true);
        let case = format!("{dims:?}, mean {offset}, slope {slope}");
        assert_close(&format!("output ({case})"), zoo.0, burn.0);
        assert_close(&format!("d x ({case})"), zoo.1, burn.1);
        assert_close(&format!("d gamma ({case})"), zoo.2, burn.2);
        assert_close(&format!("d beta ({case})"), zoo.3, burn.3);
        assert_close(&format!("running mean ({case})"), zoo.4, burn.4);
        assert_close(&format!("running variance ({case})"), zoo.5, burn.5);
    }
}

#[test]
fn relu_leaky_relu_and_the_residual_sum_match_burns_in_values_and_gradients() {
    use zoo_models::nn::{add_relu, leaky_relu, relu};
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(23);
    // Above and below the kernel's size threshold (32,768 values), a length that is no multiple
    // of the mask's 64-bit words, a strided (transposed) input, and whole numbers (many exact
    // zeros, where ReLU's and LeakyReLU's gradients differ).
    for (dims, transposed, whole) in [
        ([3, 64, 14, 14], false, false),
        ([4, 32, 16, 16], true, false),
        ([2, 3, 5, 5], false, false),
        ([3, 61, 13, 15], false, false),
        ([3, 64, 14, 14], false, true),
    ] {
        let draw = || {
            let t = Tensor::<4>::random(dims, Distribution::Normal(0.0, 1.0), &device);
            if whole { t.round() } else { t }
        };
        let (a, b) = (draw(), draw());
        let weights = Tensor::<4>::random(dims, Distribution::Uniform(0.5, 1.5), &device);
        for (name, op) in [
            ("relu", &(|a: Tensor<4>, _: Tensor<4>| relu(a)) as &dyn Fn(Tensor<4>, Tensor<4>) -> Tensor<4>),
            ("leaky_relu 0.3", &|a, _| leaky_relu(a, 0.3)),
            ("add_relu", &|a, b| add_relu(a, b)),
        ] {
            let run = |on: bool| {
                kernels::set_enabled(on);
                let (a, b) = (a.clone().require_grad(), b.clone().require_grad());
                let input = if transposed { a.clone().swap_dims(2, 3) } else { a.clone() };
                let other = if transposed { b.clone().swap_dims(2, 3) } else { b.clone() };
                let out = op(input, other);
                let grads = (out.clone() * weights.clone()).sum().backward();
                (out.inner(), a.grad(&grads).unwrap(), b.grad(&grads))
            };
            let (zoo, burn) = (run(true), run(false));
            kernels::set_enabled(true);
            let case = format!("{name}, {dims:?}, transposed {transposed}, whole {whole}");
            assert_close(&format!("output ({case})"), zoo.0, burn.0);
            assert_close(&format!("d a ({case})"), zoo.1, burn.1);
            assert_eq!(zoo.2.is_some(), burn.2.is_some(), "d b exists ({case})");
            if let (Some(z), Some(b)) = (zoo.2, burn.2) {
                assert_close(&format!("d b ({case})"), z, b);
            }
        }
    }
}

/// A one-input kernel (`op`) against Burn's operation (zoo's kernels off) on `x` under autodiff,
/// transposed in its last two dimensions or not: the outputs and the gradients of a weighted
/// sum of them agree. Returns the kernel's output.
fn one_input_matches_burn<const D: usize>(
    case: &str,
    x: &Tensor<D>,
    transposed: bool,
    op: &dyn Fn(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    let arrange = |x: Tensor<D>| if transposed { x.swap_dims(D - 2, D - 1) } else { x };
    let weights = Tensor::<D>::random(arrange(x.clone()).dims(), Distribution::Uniform(0.5, 1.5), &x.device());
    let run = |on: bool| {
        kernels::set_enabled(on);
        let x = x.clone().require_grad();
        let out = op(arrange(x.clone()));
        let grads = (out.clone() * weights.clone()).sum().backward();
        (out.inner(), x.grad(&grads).unwrap())
    };
    let (zoo, burn) = (run(true), run(false));
    kernels::set_enabled(true);
    assert_close(&format!("output ({case})"), zoo.0.clone(), burn.0);
    assert_close(&format!("d x ({case})"), zoo.1, burn.1);
    zoo.0
}

#[test]
fn gelu_matches_burns_in_values_and_gradients() {
    use zoo_models::nn::gelu;
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(29);
    // Above and below the kernel's size threshold (32,768 values), a strided (transposed)
    // input, and the tails (|x| up to 12, where Φ is 0 or 1 to float precision).
    for (dims, transposed, spread) in
        [([4, 128, 96], false, 1.0), ([2, 5, 7], false, 1.0), ([4, 96, 128], true, 1.0), ([4, 128, 96], false, 4.0)]
    {
        let x = Tensor::<3>::random(dims, Distribution::Normal(0.0, spread), &device);
        let case = format!("{dims:?}, transposed {transposed}, spread {spread}");
        one_input_matches_burn(&case, &x, transposed, &|x| gelu(x));
        let inference = |on: bool| {
            kernels::set_enabled(on);
            gelu(x.clone().inner())
        };
        let (zoo, burn) = (inference(true), inference(false));
        kernels::set_enabled(true);
        assert_close(&format!("inference output ({case})"), zoo, burn);
    }
}

#[test]
fn attentions_scaled_softmax_matches_burns_in_values_and_gradients() {
    use zoo_models::nn::softmax_scaled;
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(37);
    // Above and below the kernel's size threshold, rows no multiple of its 16 lanes, a strided
    // (transposed) input, and masked scores (-1e4, some rows wholly masked: uniform weights).
    for (dims, transposed, masked) in [
        ([2, 6, 64, 128], false, false),
        ([2, 3, 5, 7], false, false),
        ([3, 4, 70, 37], true, false),
        ([2, 6, 64, 128], false, true),
    ] {
        let mut x = Tensor::<4>::random(dims, Distribution::Normal(0.0, 3.0), &device);
        if masked {
            let mask = Tensor::<4>::random(dims, Distribution::Uniform(0.0, 1.0), &device).lower_elem(0.3);
            let whole_rows =
                Tensor::<4>::random([dims[0], dims[1], dims[2], 1], Distribution::Uniform(0.0, 1.0), &device)
                    .lower_elem(0.05)
                    .expand(dims);
            x = x.mask_fill(mask.bool_or(whole_rows), -1e4);
        }
        let case = format!("{dims:?}, transposed {transposed}, masked {masked}");
        let zoo = one_input_matches_burn(&case, &x, transposed, &|x| softmax_scaled(x, 0.125));
        let rows = zoo.sum_dim(3).into_data().try_to_vec::<f32>().unwrap();
        assert!(rows.iter().all(|s| (s - 1.0).abs() < 1e-5), "rows sum to 1 ({case})");
    }
    // A diverged score shows: a NaN makes its row NaN, as in Burn's softmax, and only its row.
    let mut scores = vec![0.5f32; 2 * 64 * 512];
    scores[3] = f32::NAN;
    let x = Tensor::<3>::from_data(TensorData::new(scores, [2, 64, 512]), &Device::flex());
    let out = softmax_scaled(x, 0.125).into_data().try_to_vec::<f32>().unwrap();
    assert!(out[..512].iter().all(|v| v.is_nan()), "the row with a NaN is NaN");
    assert!(out[512..].iter().all(|v| (v - 1.0 / 512.0).abs() < 1e-7), "the other rows are uniform");
}

/// zoo's walk over Burn's encoder layers computes what Burn's `TransformerEncoder::forward`
/// does (pre-norm and post-norm, padding and attention masks), values and gradients.
#[test]
fn the_transformer_encoder_walk_matches_burns_forward() {
    use burn::nn::transformer::{TransformerEncoderConfig, TransformerEncoderInput};
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(31);
    // Scores [4, 4, 64, 64] and feed-forward activations [4, 64, 384]: above the kernels' size
    // threshold.
    let x = Tensor::<3>::random([4, 64, 96], Distribution::Normal(0.0, 1.0), &device).require_grad();
    let padding = Tensor::<1, Int>::arange(0..64, &device).reshape([1, 64]).repeat_dim(0, 4).greater_equal_elem(50);
    let causal = zoo_models::attention::causal_mask(4, 64, &device);
    for norm_first in [true, false] {
        // Dropout 0: the same function in training mode, where the gradients are compared.
        let encoder =
            TransformerEncoderConfig::new(96, 384, 4, 2).with_norm_first(norm_first).with_dropout(0.0).init(&device);
        for (pad, attn) in [(Some(padding.clone()), None), (None, Some(causal.clone()))] {
            let mut input = TransformerEncoderInput::new(x.clone());
            if let Some(mask) = pad.clone() {
                input = input.mask_pad(mask);
            }
            if let Some(mask) = attn.clone() {
                input = input.mask_attn(mask);
            }
            let burn = encoder.forward(input);
            let zoo = zoo_models::transformer::encode(&encoder, x.clone(), pad.clone(), attn.clone());
            let case = format!("norm_first {norm_first}, padding {}", pad.is_some());
            let gradient = |out: Tensor<3>| x.grad(&out.sum().backward()).unwrap();
            assert_close(&format!("output ({case})"), zoo.clone().inner(), burn.clone().inner());
            assert_close(&format!("d x ({case})"), gradient(zoo), gradient(burn));
        }
    }
}

/// `dims` as four dimensions (trailing 1s), so one closure serves every case.
fn pad4(dims: &[usize]) -> [usize; 4] {
    let mut out = [1; 4];
    out[..dims.len()].copy_from_slice(dims);
    out
}

#[test]
fn every_model_computes_the_same_with_and_without_zoos_kernels() {
    use zoo_models::*;
    let _rng = rng_lock();
    let device = Device::flex();
    device.seed(15);
    let images = Tensor::<4>::random([3, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let both = |name: &str, f: &dyn Fn() -> Tensor<2>| {
        kernels::set_enabled(false);
        let burn = f();
        kernels::set_enabled(true);
        let zoo = f();
        assert_close(name, zoo, burn);
    };
    let flat = |t: Tensor<4>| t.flatten::<2>(1, 3);
    let cnn = CnnConfig::new().init(&device);
    both("cnn", &|| cnn.forward(images.clone()));
    let ae = AutoencoderConfig::new().with_kind(AutoencoderKind::Conv).with_channels(8).init(&device);
    both("conv autoencoder", &|| flat(ae.forward(images.clone())));
    let vae = VaeConfig::new().init(&device);
    both("vae decoder", &|| flat(vae.decode(Tensor::<2>::ones([3, 2], &device))));
    both("vae encoder", &|| vae.encode(images.clone()).0);
    let generator = GeneratorConfig::new().init(&device);
    let noise = Tensor::<2>::random([3, 100], Distribution::Normal(0.0, 1.0), &device);
    both("generator", &|| flat(generator.forward(noise.clone())));
    let discriminator = DiscriminatorConfig::new().init(&device);
    both("discriminator", &|| discriminator.forward(images.clone()).reshape([3, 1]));
    let lstm = LstmForecasterConfig::new().init(&device);
    both("lstm forecaster", &|| lstm.forward(images.clone().reshape([3, 784]).slice([0..3, 0..50])).reshape([3, 1]));
}

/// The kernels draw each parameter's (lazily initialised) random values in Burn's order, so a
/// seeded run trains the same with them as without, up to rounding.
#[test]
fn seeded_training_is_the_same_with_and_without_zoos_kernels() {
    use zoo_models::*;
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    let images = Tensor::<4>::random([128, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
    let run = |on: bool| {
        kernels::set_enabled(on);
        device.seed(15);
        let ae = AutoencoderConfig::new().with_kind(AutoencoderKind::Conv).with_channels(8).init(&device);
        let mut opt = burn::optim::AdamConfig::new().init();
        let mut model = ae;
        let mut losses = vec![];
        for _ in 0..3 {
            let loss = bernoulli_nll(model.forward(images.clone()), images.clone()).mean();
            losses.push(loss.clone().into_scalar::<f32>());
            let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(1e-3, model, grads);
        }
        losses
    };
    let (burn, zoo) = (run(false), run(true));
    kernels::set_enabled(true);
    for (b, z) in burn.iter().zip(&zoo) {
        assert!((b - z).abs() < 1e-4 * b.abs(), "losses {burn:?} without zoo's kernels, {zoo:?} with");
    }
}

#[test]
fn dropout_scales_what_it_keeps_passes_gradients_through_the_mask_and_is_off_outside_training() {
    use burn::nn::DropoutConfig;
    use zoo_models::kernels::dropout::dropout;
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(16);
    let layer = DropoutConfig::new(0.25).init();
    let x = (Tensor::<2>::random([200, 100], Distribution::Uniform(1.0, 2.0), &device)).require_grad();
    let y = dropout(&layer, x.clone());
    let grads = y.clone().sum().backward();
    let (x_v, y_v) = (
        x.clone().inner().into_data().try_to_vec::<f32>().unwrap(),
        y.inner().into_data().try_to_vec::<f32>().unwrap(),
    );
    let g_v = x.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let kept = y_v.iter().filter(|&&v| v != 0.0).count() as f64 / y_v.len() as f64;
    assert!((kept - 0.75).abs() < 0.02, "kept {kept}");
    for ((x, y), g) in x_v.iter().zip(&y_v).zip(&g_v) {
        let scaled = (y - x / 0.75).abs() < 1e-5;
        assert!(*y == 0.0 && *g == 0.0 || scaled && (g - 1.0 / 0.75).abs() < 1e-5, "x {x} y {y} grad {g}");
    }
    // The same seed draws the same mask; inference leaves the input alone.
    device.seed(16);
    let again = dropout(&layer, x.clone().detach());
    device.seed(16);
    assert_close("same seed", again.inner(), dropout(&layer, x.clone().detach()).inner());
    let plain = x.clone().inner();
    assert_close("inference", dropout(&layer, plain.clone()), plain);
}

/// The GAN at its recipe's batch of 256 (the kernels split such batches across threads): three
/// training steps of both networks lose the same with zoo's kernels as with Burn's operations.
#[test]
fn seeded_gan_training_at_full_batch_is_the_same_with_and_without_zoos_kernels() {
    use zoo_train::generative::gan::GanRecipe;
    use zoo_train::image_training::{ImageRecipe, ImageTrainer};
    use zoo_train::loader::ImageBatch;
    use zoo_train::recipes::Recipe;
    let _rng = rng_lock();
    let device = Device::flex();
    let (images, targets) = crate::common::real_batch(256, &device.clone().autodiff());
    let run = |on: bool| {
        kernels::set_enabled(on);
        let mut recipe = GanRecipe::default_recipe();
        // Dropout masks are drawn differently by the two paths; without it both are exact.
        recipe.discriminator.dropout = 0.0;
        let mut trainer = recipe.trainer(&device);
        (0..3)
            .flat_map(|_| trainer.train_batch(ImageBatch::new(images.clone(), targets.clone()), Some(&1e-3.into())))
            .collect::<Vec<_>>()
    };
    let (burn, zoo) = (run(false), run(true));
    kernels::set_enabled(true);
    for ((name, b), (_, z)) in burn.iter().zip(&zoo) {
        assert!((b - z).abs() <= 1e-3 * b.abs().max(1e-2), "{name}: {burn:?} without zoo's kernels, {zoo:?} with");
    }
}
