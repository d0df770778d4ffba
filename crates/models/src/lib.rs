//! The models of zoo, one file per model: a `XConfig` with documented defaults, the module
//! `X`, `init` and `forward`. Nothing here knows about optimisers, data or files.

pub mod cnn;
pub mod mlp;
pub mod qnet;

pub use cnn::{Cnn, CnnConfig};
pub use mlp::{Mlp, MlpConfig};
pub use qnet::{QNet, QNetConfig};

/// Side of the square greyscale images the image models take (MNIST's 28x28).
pub const IMAGE_SIDE: usize = 28;
