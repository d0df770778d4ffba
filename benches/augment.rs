//! Augmentation of a training batch, two ways: zoo's (`crates/train/src/augment.rs`: a draw per
//! image, bilinear resampling on the loader's thread) and what `burn::vision::Transform2D` runs
//! (`affine_grid_2d` and `grid_sample_2d` on the training device; here with a matrix per image,
//! which Transform2D itself does not offer). Rotation, scaling and cropping of 64 MNIST images.
//!
//! `cargo bench --bench augment` (`ZOO_BENCH_SECS` seconds per way, default 2).

use std::time::Duration;

use burn::prelude::*;
use burn::tensor::grid::affine_grid_2d;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use zoo_data::{Split, embedded};
use zoo_train::augment::Augmentation;

mod timing;
use timing::time;

const BATCH: usize = 64;

fn main() {
    let secs: f64 = std::env::var("ZOO_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let set = embedded::mnist_extract(Split::Train).expect("embedded extract");
    let augmentation = Augmentation { max_shift: 2, max_rotation: 15.0, max_scale: 0.1, min_crop: 0.85 };

    // zoo: what the loader's thread does for one batch, from bytes to the batch's floats.
    let mut state = 7u64;
    let zoo_ms = time(budget, || {
        let mut pixels = Vec::with_capacity(BATCH * 784);
        for i in 0..BATCH {
            let draw = augmentation.draw(&mut state, 28, 28);
            augmentation.apply(&draw, set.image(i), 28, 28, &mut pixels);
        }
        std::hint::black_box(pixels);
    });

    // Burn: an affine grid per image and one grid sample of the batch tensor, on flex.
    let device = Device::flex();
    let pixels: Vec<f32> = set.images[..BATCH * 784].iter().map(|&p| f32::from(p) / 255.0).collect();
    let images = Tensor::<4>::from_data(TensorData::new(pixels, [BATCH, 1, 28, 28]), &device);
    let mut state = 7u64;
    let burn_ms = time(budget, || {
        let mut matrices = Vec::with_capacity(BATCH * 6);
        for _ in 0..BATCH {
            let d = augmentation.draw(&mut state, 28, 28);
            let (sin, cos) = d.angle.sin_cos();
            let s = (d.crop / d.scale) as f32;
            let (cos, sin) = (cos as f32 * s, sin as f32 * s);
            matrices.extend([cos, -sin, d.dx as f32 / 14.0, sin, cos, d.dy as f32 / 14.0]);
        }
        let transform = Tensor::<3>::from_data(TensorData::new(matrices, [BATCH, 2, 3]), &device);
        let grid = affine_grid_2d(transform, [BATCH, 1, 28, 28]);
        let options = GridSampleOptions::new(InterpolateMode::Bilinear)
            .with_padding_mode(GridSamplePaddingMode::Zeros)
            .with_align_corners(true);
        let out: Vec<f32> = images.clone().grid_sample_2d(grid, options).into_data().try_to_vec().unwrap();
        std::hint::black_box(out);
    });
    println!("augmenting a batch of {BATCH} (shift 2, rotation 15°, scale 0.1, crop 0.85):");
    println!(
        "  zoo, per image on the loader's thread       {zoo_ms:7.3} ms  ({:.0} images/s)",
        BATCH as f64 * 1e3 / zoo_ms
    );
    println!(
        "  Burn affine_grid_2d + grid_sample_2d (flex) {burn_ms:7.3} ms  ({:.0} images/s)",
        BATCH as f64 * 1e3 / burn_ms
    );
}
