//! Batches of images straight from the decoded IDX buffer.
//!
//! The whole set lives in one contiguous `u8` buffer ([`ImageSet`]); a batch is gathered into
//! one `f32` buffer by a producer thread that runs one or two batches ahead of the training
//! step, so the model never waits on data and nothing is allocated per sample.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::prelude::*;
use zoo_data::ImageSet;

use crate::augment::{Augmentation, Draw, moved_box};

/// Batches prepared ahead of the training step.
const PREFETCH: usize = 2;

/// A batch of images with their targets: a class each, and a box each when the set has boxes.
#[derive(Clone, Debug)]
pub struct ImageBatch {
    /// `[batch, channels, rows, cols]`, pixels in `[0, 1]`.
    pub images: Tensor<4>,
    /// `[batch]`, class indices.
    pub targets: Tensor<1, Int>,
    /// `[batch, 4]`: `[x_min, y_min, x_max, y_max]` as shares of the image's width and height,
    /// when the set has boxes.
    pub boxes: Option<Tensor<2>>,
}

impl ImageBatch {
    /// A batch of images and classes, without boxes.
    pub fn new(images: Tensor<4>, targets: Tensor<1, Int>) -> Self {
        Self { images, targets, boxes: None }
    }
}

/// Iterates over a subset of an [`ImageSet`] in batches, reshuffled every epoch when a seed
/// is given (seed + epoch number, so a run is reproducible).
#[derive(Clone)]
pub struct ImageLoader {
    set: Arc<ImageSet>,
    /// Indices into `set` that this loader covers (its split).
    indices: Arc<[u32]>,
    batch_size: usize,
    shuffle_seed: Option<u64>,
    /// Training-time augmentation, drawn per image (off for validation and evaluation).
    augmentation: Augmentation,
    epoch: Arc<AtomicU64>,
    device: Device,
}

impl ImageLoader {
    pub fn new(
        set: Arc<ImageSet>,
        indices: Vec<u32>,
        batch_size: usize,
        shuffle_seed: Option<u64>,
        device: &Device,
    ) -> Self {
        Self {
            set,
            indices: indices.into(),
            batch_size: batch_size.max(1),
            shuffle_seed,
            augmentation: Augmentation::default(),
            epoch: Arc::new(AtomicU64::new(0)),
            device: device.clone(),
        }
    }

    /// Moves every image by a random offset of up to `max_shift` pixels in x and y, a new one
    /// each epoch (item 2 of the source document: augmentation against overfitting).
    pub fn with_random_shift(self, max_shift: usize) -> Self {
        self.with_augmentation(Augmentation::shift(max_shift))
    }

    /// Transforms every image by a random draw of `augmentation`, a new one each epoch.
    pub fn with_augmentation(mut self, augmentation: Augmentation) -> Self {
        self.augmentation = augmentation;
        self
    }

    /// A loader over the whole set in its stored order.
    pub fn sequential(set: Arc<ImageSet>, batch_size: usize, device: &Device) -> Self {
        let indices = (0..set.len() as u32).collect();
        Self::new(set, indices, batch_size, None, device)
    }

    /// Moves on one epoch without iterating (a resumed run continues the shuffling where
    /// the checkpoint left it).
    pub fn skip_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// This epoch's visiting order and the seed of its augmentation.
    fn order(&self) -> (Vec<u32>, u64) {
        let mut order = self.indices.to_vec();
        let seed = self.shuffle_seed.unwrap_or(0);
        let epoch = self.epoch.fetch_add(1, Ordering::Relaxed);
        if self.shuffle_seed.is_some() {
            shuffle(&mut order, seed.wrapping_add(epoch));
        }
        (order, splitmix(seed ^ epoch.rotate_left(32)))
    }
}

impl DataLoader<ImageBatch> for ImageLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<ImageBatch> + 'a> {
        let (order, mut augment_state) = self.order();
        let total = order.len();
        let (sender, receiver) = sync_channel(PREFETCH);
        let set = self.set.clone();
        let (batch_size, augmentation) = (self.batch_size, self.augmentation);
        // The producer ends by itself when the iterator is dropped (send fails) or at the end.
        std::thread::spawn(move || {
            let (rows, cols) = (set.rows, set.cols);
            for chunk in order.chunks(batch_size) {
                let mut pixels = Vec::with_capacity(chunk.len() * set.pixels_per_image());
                let mut labels = Vec::with_capacity(chunk.len());
                let mut boxes = Vec::with_capacity(if set.boxes.is_empty() { 0 } else { 4 * chunk.len() });
                for &index in chunk {
                    let index = index as usize;
                    let image = set.image(index);
                    let draw = if augmentation.is_off() {
                        pixels.extend(image.iter().map(|&p| f32::from(p) / 255.0));
                        Draw::IDENTITY
                    } else {
                        let draw = augmentation.draw(&mut augment_state, rows, cols);
                        augmentation.apply(&draw, image, rows, cols, &mut pixels);
                        draw
                    };
                    labels.push(i64::from(set.labels[index]));
                    if let Some(&corners) = set.boxes.get(index) {
                        // The box moves with its image and stays inside it.
                        boxes.extend(moved_box(&draw, rows, cols, corners));
                    }
                }
                if sender.send(HostBatch { pixels, labels, boxes }).is_err() {
                    return;
                }
            }
        });
        Box::new(ImageIter {
            receiver,
            channels: self.set.channels,
            rows: self.set.rows,
            cols: self.set.cols,
            device: self.device.clone(),
            done: 0,
            total,
        })
    }

    fn num_items(&self) -> usize {
        self.indices.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<ImageBatch>> {
        let mut loader = self.clone();
        loader.device = device.clone();
        Arc::new(loader)
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<ImageBatch>> {
        let mut loader = self.clone();
        loader.indices = self.indices[start..end.min(self.indices.len())].into();
        Arc::new(loader)
    }
}

/// One batch on the host, before it becomes tensors on the device.
struct HostBatch {
    pixels: Vec<f32>,
    labels: Vec<i64>,
    /// `[batch * 4]`, empty without boxes.
    boxes: Vec<f32>,
}

struct ImageIter {
    receiver: Receiver<HostBatch>,
    channels: usize,
    rows: usize,
    cols: usize,
    device: Device,
    done: usize,
    total: usize,
}

impl Iterator for ImageIter {
    type Item = Result<ImageBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.receiver.recv().ok()?;
        let size = batch.labels.len();
        self.done += size;
        let images = TensorData::new(batch.pixels, [size, self.channels, self.rows, self.cols]);
        let targets = TensorData::new(batch.labels, [size]);
        let boxes =
            (!batch.boxes.is_empty()).then(|| Tensor::from_data(TensorData::new(batch.boxes, [size, 4]), &self.device));
        Some(Ok(ImageBatch {
            images: Tensor::from_data(images, &self.device),
            targets: Tensor::from_data(targets, &self.device),
            boxes,
        }))
    }
}

impl DataLoaderIterator<ImageBatch> for ImageIter {
    fn progress(&self) -> Progress {
        Progress::new(self.done, self.total, Some("items".to_string()))
    }
}

use zoo_data::rng::splitmix_step as splitmix;

/// The first state of an augmentation stream for `seed` (mixed, so nearby seeds differ).
pub fn splitmix_seed(seed: u64) -> u64 {
    splitmix(seed ^ 0xA46_0E17)
}

/// Fisher-Yates with SplitMix64: deterministic for a seed, no dependency.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = splitmix(state);
        let j = (state % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// Splits `0..len` into a shuffled training part and a validation part of `valid_fraction`.
/// The split depends only on the seed, so a resumed run validates on the same images.
pub fn train_valid_split(len: usize, valid_fraction: f64, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut all: Vec<u32> = (0..len as u32).collect();
    shuffle(&mut all, seed ^ 0x05EE_D0F5_A11D);
    let valid = ((len as f64 * valid_fraction).round() as usize).min(len.saturating_sub(1));
    let train = all.split_off(valid);
    (train, all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_images_and_their_boxes_move_together() {
        // 6x6 RGB pictures, each with one lit pixel (all channels) and a 1x1 box on it.
        let (side, n) = (6usize, 40usize);
        let (mut images, mut boxes) = (vec![0u8; n * 3 * side * side], Vec::new());
        for i in 0..n {
            let (x, y) = (1 + i % 4, 1 + (i / 4) % 4);
            for c in 0..3 {
                images[i * 3 * side * side + c * side * side + y * side + x] = 255;
            }
            boxes.push([x as u16, y as u16, x as u16 + 1, y as u16 + 1]);
        }
        let set = ImageSet::with_channels(images, vec![0; n], 3, side, side).unwrap().with_boxes(boxes).unwrap();
        let device = Device::flex();
        let loader =
            ImageLoader::new(Arc::new(set), (0..n as u32).collect(), 16, Some(3), &device).with_random_shift(1);
        let mut seen = 0;
        for batch in loader.iter() {
            let batch = batch.unwrap();
            let size = batch.images.dims()[0];
            assert_eq!(batch.images.dims(), [size, 3, side, side]);
            let pixels: Vec<f32> = batch.images.into_data().convert::<f32>().try_into_vec().unwrap();
            let boxes: Vec<f32> = batch.boxes.expect("boxes").into_data().convert::<f32>().try_into_vec().unwrap();
            for i in 0..size {
                let (bx, by) =
                    ((boxes[4 * i] * side as f32).round() as usize, (boxes[4 * i + 1] * side as f32).round() as usize);
                for c in 0..3 {
                    let at = i * 3 * side * side + c * side * side + by * side + bx;
                    assert!(pixels[at] > 0.5, "image {i} channel {c}: the pixel is where its box says");
                }
            }
            seen += size;
        }
        assert_eq!(seen, n);
    }

    #[test]
    fn split_is_disjoint_and_complete() {
        let (train, valid) = train_valid_split(1000, 0.1, 7);
        assert_eq!((train.len(), valid.len()), (900, 100));
        let mut all: Vec<u32> = train.iter().chain(&valid).copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(train_valid_split(1000, 0.1, 7), (train, valid), "same seed, same split");
    }
}
