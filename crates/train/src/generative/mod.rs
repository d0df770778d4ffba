//! The generative recipes, `autoencoder`, `vae` and `gan`, and the helpers their evaluation
//! and pictures share. Each trains through `crate::image_training` (an `ImageTrainer` per
//! model; the GAN's alternates its two optimisers inside one step).

pub mod autoencoder;
pub mod gan;
pub mod judge;
pub mod vae;

use std::path::{Path, PathBuf};

use burn::prelude::*;
use zoo_data::{ImageSet, Split};

use crate::error::Result;
use crate::run::{RunDir, RunInfo};
use crate::source::DataSource;

pub use crate::checkpoint::{
    load_model_and_optimizer, load_module, load_optimizer, module_bytes, optimizer_bytes, read_module,
};

/// The first `n` images of `set` as a batch `[n, channels, rows, cols]` in `[0, 1]` on `device`.
pub fn image_batch(set: &ImageSet, n: usize, device: &Device) -> Tensor<4> {
    let n = n.min(set.len());
    let pixels: Vec<f32> = set.images[..n * set.pixels_per_image()].iter().map(|&p| f32::from(p) / 255.0).collect();
    Tensor::from_data(TensorData::new(pixels, [n, set.channels, set.rows, set.cols]), device)
}

/// A tensor's values as `f32`s.
pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    crate::read::floats(tensor)
}

/// The run's test images (its own data, or `--data`).
pub fn test_set(info: &RunInfo, data: Option<&Path>) -> Result<(ImageSet, String)> {
    let source = match data {
        Some(dir) => DataSource::from_arg(Some(dir))?,
        None => DataSource::from_record(&info.data)?,
    };
    Ok((source.load(Split::Test)?, source.describe()))
}

/// Where a picture goes: `--out`, else `name` in the run folder.
pub fn picture_path(run: &RunDir, out: Option<&Path>, name: &str) -> PathBuf {
    out.map(Path::to_path_buf).unwrap_or_else(|| run.file(name))
}
