//! Data for the zoo: MNIST-format IDX files, the MNIST extract embedded in the binary,
//! downloading MNIST, and preparing a user's own picture for a classifier. Plain Rust;
//! nothing here depends on a tensor backend.

pub mod embedded;
pub mod fetch;
pub mod idx;
pub mod image_prep;

pub use fetch::{
    DEFAULT_MIRRORS, FetchError, FetchReport, FetchedFile, MNIST_FILES, Outcome, Resource,
    default_cache_dir, default_mirrors, fetch, mnist_cache_dir,
};
pub use idx::{IdxError, ImageSet, Split, from_bytes, load_dir, require_dims};
pub use image_prep::{ImageError, MNIST_PIXELS, MNIST_SIDE, fit_to_mnist, load_as_mnist};
