//! Where a training step's time goes, operation by operation: each layer of the `cnn`, `vae`
//! and `gan` steps timed alone on flex, forward and forward + backward, at the batch sizes of
//! the throughput bench, by Burn's operation and by zoo's kernel where zoo has one (the same
//! figure twice where it has not). What `benches/throughput.rs` reports as one figure per
//! model, split so that the slow operation shows.
//!
//! `cargo bench --bench ops` (`ZOO_BENCH_ONLY=conv2` a subset by name, `ZOO_BENCH_SECS` the
//! seconds per operation, default 1).

use std::time::Duration;

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::relu;

mod timing;
use timing::time;

/// A named layer: its input shape and forward function (`true`: by zoo's kernel where zoo
/// has one).
struct Op {
    name: &'static str,
    input: [usize; 4],
    forward: Box<dyn Fn(Tensor<4>, bool) -> Tensor<4>>,
}

type Forward = Box<dyn Fn(Tensor<4>, bool) -> Tensor<4>>;

fn main() {
    zoo_train::cpu::tune();
    let secs: f64 = std::env::var("ZOO_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let only = std::env::var("ZOO_BENCH_ONLY").ok();
    let budget = Duration::from_secs_f64(secs);
    let device = Device::flex().autodiff();
    let conv = |c: [usize; 2], k: usize, stride: usize, pad: usize| {
        let layer = Conv2dConfig::new(c, [k, k])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .init(&device);
        Box::new(move |x, zoo| if zoo { zoo_models::kernels::conv::conv2d(&layer, x) } else { layer.forward(x) })
            as Forward
    };
    let up = |c: [usize; 2], k: usize, stride: usize, pad: usize| {
        let layer = ConvTranspose2dConfig::new(c, [k, k])
            .with_stride([stride, stride])
            .with_padding([pad, pad])
            .with_padding_out([stride - 1, stride - 1])
            .init(&device);
        Box::new(
            move |x, zoo| if zoo { zoo_models::kernels::conv::conv_transpose2d(&layer, x) } else { layer.forward(x) },
        ) as Forward
    };
    let pool = MaxPool2dConfig::new([2, 2]).init();
    let ops = vec![
        Op { name: "cnn conv1 1->32 3x3", input: [256, 1, 28, 28], forward: conv([1, 32], 3, 1, 0) },
        Op { name: "cnn relu 32x26x26", input: [256, 32, 26, 26], forward: Box::new(|x, _| relu(x)) },
        Op {
            name: "cnn maxpool 32x26x26",
            input: [256, 32, 26, 26],
            forward: Box::new(
                move |x, zoo| if zoo { zoo_models::kernels::pool::max_pool2d(&pool, x) } else { pool.forward(x) },
            ),
        },
        Op { name: "cnn conv2 32->64 3x3", input: [256, 32, 13, 13], forward: conv([32, 64], 3, 1, 0) },
        Op { name: "vae conv1 1->32 s2", input: [128, 1, 28, 28], forward: conv([1, 32], 3, 2, 1) },
        Op { name: "vae conv2 32->64 s2", input: [128, 32, 14, 14], forward: conv([32, 64], 3, 2, 1) },
        Op { name: "vae up1 64->64 s2", input: [128, 64, 7, 7], forward: up([64, 64], 3, 2, 1) },
        Op { name: "vae up2 64->32 s2", input: [128, 64, 14, 14], forward: up([64, 32], 3, 2, 1) },
        Op { name: "vae out 32->1 s1", input: [128, 32, 28, 28], forward: up([32, 1], 3, 1, 1) },
        Op { name: "gan D conv1 1->64 5x5 s2", input: [256, 1, 28, 28], forward: conv([1, 64], 5, 2, 2) },
        Op { name: "gan D conv2 64->128 5x5 s2", input: [256, 64, 14, 14], forward: conv([64, 128], 5, 2, 2) },
        Op { name: "gan G up1 256->128 5x5 s1", input: [256, 256, 7, 7], forward: up([256, 128], 5, 1, 2) },
        Op { name: "gan G up2 128->64 5x5 s2", input: [256, 128, 7, 7], forward: up([128, 64], 5, 2, 2) },
        Op { name: "gan G out 64->1 5x5 s2", input: [256, 64, 14, 14], forward: up([64, 1], 5, 2, 2) },
    ];
    println!(
        "{:<28} {:>18} {:>10} {:>12} {:>10} {:>12}",
        "operation (flex)", "input", "burn fwd", "burn fwd+bwd", "zoo fwd", "zoo fwd+bwd"
    );
    for op in ops.iter().filter(|op| only.as_ref().is_none_or(|o| op.name.contains(o.as_str()))) {
        let x = Tensor::<4>::random(op.input, Distribution::Normal(0.0, 1.0), &device).require_grad();
        let measure = |zoo: bool| {
            let forward = time(budget, || {
                let _: f32 = (op.forward)(x.clone().detach(), zoo).sum().into_scalar();
            });
            let both = time(budget, || {
                let grads = (op.forward)(x.clone(), zoo).sum().backward();
                let _: f32 = x.grad(&grads).expect("input gradient").sum().into_scalar();
            });
            (forward, both)
        };
        let (burn, zoo) = (measure(false), measure(true));
        println!(
            "{:<28} {:>18} {:>10.2} {:>12.2} {:>10.2} {:>12.2}",
            op.name,
            format!("{:?}", op.input),
            burn.0,
            burn.1,
            zoo.0,
            zoo.1
        );
    }
    backward_by_parts(budget);
}

/// The three convolutions Burn's generic backward pass runs for one `cnn` layer at batch 64,
/// timed apart on each CPU backend: the forward convolution, the input gradient (a transposed
/// convolution) and the weight gradient (a convolution of the input, batch as channels, by
/// the output gradient as a kernel the size of the output image). ndarray's weight gradient
/// is the pathological one (the README's speed section).
fn backward_by_parts(budget: Duration) {
    use burn::tensor::module::{conv_transpose2d, conv2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
    #[allow(unused_mut)]
    let mut backends = vec![("flex", Device::flex())];
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    backends.push(("ndarray", Device::ndarray()));
    println!();
    println!(
        "{:<8} {:<22} {:>10} {:>14} {:>15}",
        "backend", "cnn layer, batch 64", "conv ms", "input grad ms", "weight grad ms"
    );
    for (name, device) in backends {
        for (layer, x_shape, w_shape) in [
            ("conv1 1->32 3x3", [64, 1, 28, 28], [32, 1, 3, 3]),
            ("conv2 32->64 3x3", [64, 32, 13, 13], [64, 32, 3, 3]),
        ] {
            let x = Tensor::<4>::random(x_shape, Distribution::Normal(0.0, 1.0), &device);
            let w = Tensor::<4>::random(w_shape, Distribution::Normal(0.0, 1.0), &device);
            let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
            let dy = conv2d(x.clone(), w.clone(), None, options.clone());
            let forward = time(budget, || {
                let _: f32 = conv2d(x.clone(), w.clone(), None, options.clone()).sum().into_scalar();
            });
            let input_grad = time(budget, || {
                let t = ConvTransposeOptions::new([1, 1], [0, 0], [0, 0], [1, 1], 1);
                let _: f32 = conv_transpose2d(dy.clone(), w.clone(), None, t).sum().into_scalar();
            });
            // Burn's `conv2d_weight_backward`: [c_in, batch, h, w] by [c_out, batch, oh, ow].
            let weight_grad = time(budget, || {
                let g = conv2d(x.clone().swap_dims(0, 1), dy.clone().swap_dims(0, 1), None, options.clone());
                let _: f32 = g.sum().into_scalar();
            });
            println!("{name:<8} {layer:<22} {forward:>10.2} {input_grad:>14.2} {weight_grad:>15.2}");
        }
    }
}
