//! Data for the zoo: MNIST-format IDX files, the MNIST extract embedded in the binary,
//! downloading MNIST, preparing a user's own picture for a classifier, and the
//! reinforcement-learning environments (behind burn-rl's backend-free `Environment` trait), and
//! the tokenisers of the text models.
//! Plain Rust; nothing here uses tensors.

pub mod canvas;
pub mod captions;
pub mod corpus;
pub mod embedded;
pub mod env;
pub mod fetch;
pub mod folder;
pub mod idx;
pub mod image_prep;
pub mod rng;
pub mod series;
pub mod text;

pub use canvas::{CanvasSpec, make_canvases};
pub use corpus::{Chunk, CorpusError, Document, DocumentSource, Part};
pub use fetch::{
    DEFAULT_MIRRORS, FetchError, FetchReport, FetchedFile, MNIST_FILES, Outcome, Resource, default_cache_dir,
    default_mirrors, fetch, mnist_cache_dir,
};
pub use folder::{FolderError, read_image_folder};
pub use idx::{IdxError, ImageSet, Split, from_bytes, load_dir, require_dims};
pub use image_prep::{ImageError, MNIST_PIXELS, MNIST_SIDE, fit_to_mnist, load_as_mnist};
pub use rng::SplitMix64;
pub use series::{Series, SeriesError};
pub use text::{CharTokenizer, WordTokenizer};
