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
