//! The MNIST extract shipped in `assets/mnist` (12,000 training and 2,000 test images, CC BY-SA
//! 3.0, see `assets/mnist/README.md`), compiled into the binary so a fresh offline clone trains.

use crate::idx::{IdxError, ImageSet, Split, from_bytes};

const TRAIN_IMAGES: &[u8] = include_bytes!("../../../assets/mnist/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] = include_bytes!("../../../assets/mnist/train-labels-idx1-ubyte.gz");
const TEST_IMAGES: &[u8] = include_bytes!("../../../assets/mnist/t10k-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] = include_bytes!("../../../assets/mnist/t10k-labels-idx1-ubyte.gz");

/// Decodes one split of the embedded extract.
pub fn mnist_extract(split: Split) -> Result<ImageSet, IdxError> {
    match split {
        Split::Train => from_bytes(TRAIN_IMAGES, TRAIN_LABELS, "embedded MNIST extract (train)"),
        Split::Test => from_bytes(TEST_IMAGES, TEST_LABELS, "embedded MNIST extract (test)"),
    }
}
