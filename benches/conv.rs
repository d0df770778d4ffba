//! The from-scratch convolution of `zoo-primitives` (plain loops, readable first) against
//! Burn's on the CPU (flex: im2col onto a tuned matrix multiply), at the layer sizes of the
//! article's CNN (item 3), as a ratio.
//!
//! `cargo bench --bench conv` (seconds per case: `ZOO_BENCH_SECS`, default 3).

use std::time::{Duration, Instant};

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use zoo_primitives::init::Rng;
use zoo_primitives::{Padding, Tensor4};

/// Runs `f` for about `budget` and returns the mean seconds per call.
fn time(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let (started, mut calls) = (Instant::now(), 0u32);
    while started.elapsed() < budget || calls < 2 {
        f();
        calls += 1;
    }
    started.elapsed().as_secs_f64() / f64::from(calls)
}

fn main() {
    let secs: f64 = std::env::var("ZOO_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let budget = Duration::from_secs_f64(secs);
    let device = Device::flex();
    let mut rng = Rng::new(1);
    let mut random = |shape: [usize; 4]| {
        let n = shape.iter().product();
        Tensor4::new((0..n).map(|_| rng.uniform(-1.0, 1.0) as f32).collect(), shape)
    };
    println!("convolution forward, batch 64, valid padding, stride 1 (the article's CNN layers)");
    println!("{:<28} {:>12} {:>12} {:>8}", "layer", "naive ms", "burn ms", "ratio");
    for (name, input, weight) in [
        ("conv1 1->32, 28x28, 3x3", [64, 1, 28, 28], [32, 1, 3, 3]),
        ("conv2 32->64, 13x13, 3x3", [64, 32, 13, 13], [64, 32, 3, 3]),
    ] {
        let (x, w) = (random(input), random(weight));
        let options = zoo_primitives::ConvOptions::new([1, 1], [1, 1], Padding::Valid);
        let naive = time(budget, || {
            std::hint::black_box(zoo_primitives::conv2d(&x, &w, None, options));
        });
        let bx = Tensor::<4>::from_data(TensorData::new(x.data.clone(), input), &device);
        let bw = Tensor::<4>::from_data(TensorData::new(w.data.clone(), weight), &device);
        let burn = time(budget, || {
            let y = conv2d(bx.clone(), bw.clone(), None, ConvOptions::new([1, 1], [0, 0], [1, 1], 1));
            let _: f32 = y.sum().into_scalar();
        });
        println!("{name:<28} {:>12.2} {:>12.2} {:>7.1}x", naive * 1e3, burn * 1e3, naive / burn);
    }
}
