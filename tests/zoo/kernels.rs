//! zoo's own CPU kernels against Burn's operations: values and every input's gradient, over
//! many shapes, with and without autodiff.

use burn::prelude::*;
use burn::tensor::Distribution;
use zoo_models::kernels::{self, KernelBackend};
use zoo_models::kernels::lstm::{lstm_sequence, lstm_sequence_reference};

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
    #[allow(deprecated)]
    assert_eq!(kernels::backend_of(&Tensor::<2>::zeros([2, 3], &Device::ndarray())), None);
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
        let w = (Tensor::<2>::random([hidden, 4 * hidden], normal, &device) / (hidden as f64).sqrt()).detach().require_grad();
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
        let untracked = lstm_sequence(&x.clone().inner(), &plain(w.clone()), &plain(h0.clone()), &plain(c0.clone())).expect("applies");
        assert_close(&format!("untracked output ({case})"), untracked, lstm_sequence_reference(x.clone(), w.clone(), h0.clone(), c0.clone()).inner());
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
    let cases: [(usize, usize, usize, usize, usize, [usize; 2], [usize; 2], [usize; 4], bool); 9] = [
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
            (out.inner(), x.grad(&grads).unwrap(), weight.grad(&grads).unwrap(), with_bias.then(|| bias.grad(&grads).unwrap()))
        };
        let (kernel, reference) = (run(true), run(false));
        let case = format!("batch {batch}, {c_in}->{c_out}, {h}x{w}, kernel {kernel:?}, stride {stride:?}, padding {pad:?}");
        assert_eq!(kernel.0.dims(), reference.0.dims(), "{case}");
        assert_close(&format!("output ({case})"), kernel.0, reference.0);
        assert_close(&format!("d x ({case})"), kernel.1, reference.1);
        assert_close(&format!("d weight ({case})"), kernel.2, reference.2);
        if let (Some(a), Some(b)) = (kernel.3, reference.3) {
            assert_close(&format!("d bias ({case})"), a, b);
        }
    }
}
