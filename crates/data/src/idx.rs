//! Reader for the IDX files MNIST (and MNIST-format sets such as Fashion-MNIST) ship in.
//!
//! An IDX image file is a 16-byte big-endian header `[magic 0x00000803, count, rows, cols]`
//! followed by `count * rows * cols` pixel bytes, row-major. A label file is an 8-byte header
//! `[magic 0x00000801, count]` followed by `count` label bytes. Either may be gzip-compressed;
//! compression is recognised by the gzip magic bytes, not by the file name, because both
//! `.gz` files that were unpacked without renaming and raw files given a `.gz` name occur.

use std::borrow::Cow;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGE_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABEL_MAGIC: u32 = 0x0000_0801;

/// `[magic, count, rows, cols]`, four big-endian `u32`.
const IMAGE_HEADER_LEN: usize = 16;
/// `[magic, count]`, two big-endian `u32`.
const LABEL_HEADER_LEN: usize = 8;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Upper bound on the buffer reserved from a gzip trailer's size field: the field comes from
/// the file, so a corrupt or hostile one must not make us reserve gigabytes up front.
const MAX_PREALLOCATION: usize = 256 << 20;

/// Where a set came from when it was built in memory rather than read from files.
const IN_MEMORY_SOURCE: &str = "in-memory image set";

/// A decoded set of images with one class label each (and, for models that also locate what
/// they classify, one box each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// `[len, channels, rows, cols]` pixel bytes, row-major, 0 = background.
    pub images: Vec<u8>,
    /// `[len]` class indices.
    pub labels: Vec<u8>,
    /// Colour channels of each image: 1 (grey, what IDX files hold) or 3 (RGB).
    pub channels: usize,
    pub rows: usize,
    pub cols: usize,
    /// `[len]` boxes `[x_min, y_min, x_max, y_max]` in pixels (max exclusive), one per image;
    /// empty for a set without boxes.
    pub boxes: Vec<[u16; 4]>,
    /// Largest label + 1, read from the labels rather than assumed to be 10.
    pub num_classes: usize,
    /// The image file (or name) the set was read from, for error messages.
    pub source: String,
}

impl ImageSet {
    /// Builds a set of grey images from buffers already in memory (`images` is
    /// `[labels.len(), rows, cols]`). Fails on an empty set, a zero-sized side, or buffers
    /// whose counts disagree.
    pub fn new(images: Vec<u8>, labels: Vec<u8>, rows: usize, cols: usize) -> Result<Self, IdxError> {
        Self::with_channels(images, labels, 1, rows, cols)
    }

    /// Builds a set of images of `channels` colour channels (`images` is
    /// `[labels.len(), channels, rows, cols]`).
    pub fn with_channels(
        images: Vec<u8>,
        labels: Vec<u8>,
        channels: usize,
        rows: usize,
        cols: usize,
    ) -> Result<Self, IdxError> {
        if rows == 0 || cols == 0 || channels == 0 {
            return Err(IdxError::ZeroSide { path: PathBuf::from(IN_MEMORY_SOURCE), rows, cols });
        }
        let pixels_per_image = channels * rows * cols;
        if !images.len().is_multiple_of(pixels_per_image) {
            return Err(IdxError::RaggedBuffer { len: images.len(), rows, cols });
        }
        let count = images.len() / pixels_per_image;
        let mut set = assemble(
            Pixels { bytes: images, count, rows, cols: cols * channels },
            labels,
            IN_MEMORY_SOURCE.to_string(),
            "its label buffer".to_string(),
        )?;
        (set.channels, set.cols) = (channels, cols);
        Ok(set)
    }

    /// The set with one box per image, `[x_min, y_min, x_max, y_max]` in pixels. Fails when
    /// the count differs from the images' or a box is empty or outside its image.
    pub fn with_boxes(mut self, boxes: Vec<[u16; 4]>) -> Result<Self, IdxError> {
        if boxes.len() != self.len() {
            return Err(IdxError::CountMismatch {
                images: self.source.clone(),
                n: self.len(),
                labels: "its box list".to_string(),
                m: boxes.len(),
            });
        }
        if let Some(index) = boxes.iter().position(|&[x0, y0, x1, y1]| {
            x0 >= x1 || y0 >= y1 || usize::from(x1) > self.cols || usize::from(y1) > self.rows
        }) {
            return Err(IdxError::BadBox { index, b: boxes[index], rows: self.rows, cols: self.cols });
        }
        self.boxes = boxes;
        Ok(self)
    }

    /// Number of images (= number of labels).
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `channels * rows * cols`: the bytes of one image.
    pub fn pixels_per_image(&self) -> usize {
        self.channels * self.rows * self.cols
    }

    /// The `[channels, rows, cols]` pixels of image `index`. Panics when `index >= len()`, like slice
    /// indexing: indices come from code, never from a file.
    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.pixels_per_image();
        &self.images[index * size..(index + 1) * size]
    }

    /// Label of image `index`. Panics when `index >= len()`.
    pub fn label(&self, index: usize) -> u8 {
        self.labels[index]
    }

    /// A copy of the images at `indices`, in that order (same `num_classes`).
    pub fn pick(&self, indices: &[u32]) -> ImageSet {
        let mut images = Vec::with_capacity(indices.len() * self.pixels_per_image());
        for &i in indices {
            images.extend_from_slice(self.image(i as usize));
        }
        ImageSet {
            images,
            labels: indices.iter().map(|&i| self.labels[i as usize]).collect(),
            channels: self.channels,
            rows: self.rows,
            cols: self.cols,
            boxes: if self.boxes.is_empty() {
                Vec::new()
            } else {
                indices.iter().map(|&i| self.boxes[i as usize]).collect()
            },
            num_classes: self.num_classes,
            source: self.source.clone(),
        }
    }

    /// The images of the classes in `classes`, relabelled by their position in it (`[5, 6, 7,
    /// 8, 9]`: a 5 becomes class 0), with `num_classes` the list's length. Empty when none of
    /// the images is of those classes.
    pub fn only_classes(&self, classes: &[u8]) -> ImageSet {
        let keep: Vec<u32> = (0..self.len()).filter(|&i| classes.contains(&self.labels[i])).map(|i| i as u32).collect();
        let mut set = self.pick(&keep);
        for label in &mut set.labels {
            *label = classes.iter().position(|c| c == label).unwrap_or_default() as u8;
        }
        set.num_classes = classes.len();
        set
    }

    /// A copy of the images in `range` (clamped to `0..len()`). Keeps this set's
    /// `num_classes`, so a slice that happens to miss the top class still sizes a model
    /// the same way as the whole set.
    pub fn subset(&self, range: Range<usize>) -> ImageSet {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        let size = self.pixels_per_image();
        ImageSet {
            images: self.images[start * size..end * size].to_vec(),
            labels: self.labels[start..end].to_vec(),
            channels: self.channels,
            rows: self.rows,
            cols: self.cols,
            boxes: if self.boxes.is_empty() { Vec::new() } else { self.boxes[start..end].to_vec() },
            num_classes: self.num_classes,
            source: self.source.clone(),
        }
    }
}

/// Which half of MNIST to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// The prefix MNIST's file names use: `train-…` and `t10k-…`.
    fn file_prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }

    /// The names tried for this split's image file, in order of preference (raw first: no
    /// decompression needed). Both the official `-idx3-` and the common `.idx3-` spelling.
    pub fn image_file_names(self) -> [String; 4] {
        file_names(self.file_prefix(), "images", "idx3")
    }

    /// The names tried for this split's label file, in order of preference.
    pub fn label_file_names(self) -> [String; 4] {
        file_names(self.file_prefix(), "labels", "idx1")
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
        })
    }
}

fn file_names(prefix: &str, kind: &str, idx: &str) -> [String; 4] {
    let dashed = format!("{prefix}-{kind}-{idx}-ubyte");
    let dotted = format!("{prefix}-{kind}.{idx}-ubyte");
    [dashed.clone(), format!("{dashed}.gz"), dotted.clone(), format!("{dotted}.gz")]
}

/// Everything that can be wrong with an IDX folder or file. Each message is one line that
/// names the file or value and says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error(
        "{}: no such directory; pass --data DIR with train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz], or run `zoo data fetch mnist`",
        .dir.display()
    )]
    MissingDir { dir: PathBuf },

    #[error(
        "{}: is a file, not a directory; pass --data the folder that holds the MNIST-format files",
        .dir.display()
    )]
    NotADirectory { dir: PathBuf },

    #[error(
        "{}: no {split} {kind} file (looked for {looked_for}); pass --data DIR holding MNIST-format files or run `zoo data fetch mnist`",
        .dir.display()
    )]
    MissingFile {
        dir: PathBuf,
        split: Split,
        /// `"image"` or `"label"`.
        kind: &'static str,
        /// The candidate names, comma-separated.
        looked_for: String,
    },

    #[error("{}: cannot read ({source}); check that the file exists and is readable", .path.display())]
    Io { path: PathBuf, source: io::Error },

    #[error(
        "{}: corrupt gzip stream ({source}); re-download it (zoo data fetch mnist)",
        .path.display()
    )]
    Gzip { path: PathBuf, source: io::Error },

    #[error(
        "{}: not an IDX {kind} file (magic 0x{found:08x}, expected 0x{expected:08x}); pass --data a folder holding MNIST-format files",
        .path.display()
    )]
    BadMagic {
        path: PathBuf,
        /// `"image"` or `"label"`.
        kind: &'static str,
        found: u32,
        expected: u32,
    },

    #[error(
        "{}: {actual} bytes is too short for an IDX {kind} file (its header alone is {header} bytes); re-download it (zoo data fetch mnist)",
        .path.display()
    )]
    TooShort { path: PathBuf, kind: &'static str, header: usize, actual: usize },

    #[error(
        "{}: truncated IDX file: header says {what} = {expected} bytes, file has {actual}; re-download it (zoo data fetch mnist)",
        .path.display()
    )]
    Truncated {
        path: PathBuf,
        /// What the header promises, e.g. `"60000 images of 28x28"`.
        what: String,
        /// Header plus payload, in bytes (`u128`: three `u32` factors cannot overflow it).
        expected: u128,
        actual: usize,
    },

    #[error(
        "{}: IDX file has bytes past its end: header says {what} = {expected} bytes, file has {actual}; the file is damaged or not MNIST, re-download it (zoo data fetch mnist)",
        .path.display()
    )]
    TrailingBytes { path: PathBuf, what: String, expected: u128, actual: usize },

    #[error(
        "{}: IDX file holds no items; pass --data a folder holding a non-empty MNIST-format set",
        .path.display()
    )]
    Empty { path: PathBuf },

    #[error(
        "{}: images are {rows}x{cols}, a side of zero; the file is damaged, re-download it (zoo data fetch mnist)",
        .path.display()
    )]
    ZeroSide { path: PathBuf, rows: usize, cols: usize },

    #[error(
        "image buffer of {len} bytes is not a whole number of {rows}x{cols} images; build the set from [count, rows, cols] pixels"
    )]
    RaggedBuffer { len: usize, rows: usize, cols: usize },

    #[error("{images}: {n} images but {labels} has {m} labels; the two files must come from the same set")]
    CountMismatch { images: String, n: usize, labels: String, m: usize },

    #[error(
        "box {index} is {b:?} ([x_min, y_min, x_max, y_max]), empty or outside its {rows}x{cols} image; fix the box list"
    )]
    BadBox { index: usize, b: [u16; 4], rows: usize, cols: usize },

    #[error(
        "{source_name}: images are {rows}x{cols} but this model needs {want_rows}x{want_cols}; pass --data a folder holding {want_rows}x{want_cols} MNIST-format images"
    )]
    WrongDims { source_name: String, rows: usize, cols: usize, want_rows: usize, want_cols: usize },
}

impl IdxError {
    /// Whether the user named the wrong thing (a missing folder or file, a folder of images the
    /// wrong size) rather than the files being damaged or unreadable.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            IdxError::MissingDir { .. }
                | IdxError::NotADirectory { .. }
                | IdxError::MissingFile { .. }
                | IdxError::WrongDims { .. }
        )
    }
}

/// Reads the `split` half of an MNIST-format folder: finds its image and label files under
/// either naming convention, raw or gzip, and checks that they agree.
pub fn load_dir(dir: &Path, split: Split) -> Result<ImageSet, IdxError> {
    require_directory(dir)?;
    let image_path = find_file(dir, split, "image", split.image_file_names())?;
    let label_path = find_file(dir, split, "label", split.label_file_names())?;

    let pixels = {
        let bytes = read_file(&image_path)?;
        parse_image_bytes(decompress_if_gzip(bytes, &image_path)?, &image_path)?
    };
    let labels = {
        let bytes = read_file(&label_path)?;
        parse_label_bytes(decompress_if_gzip(bytes, &label_path)?, &label_path)?
    };
    assemble(pixels, labels, image_path.display().to_string(), label_path.display().to_string())
}

/// Builds a set from IDX file contents held in memory (raw or gzip), e.g. a small extract
/// embedded in the binary. `name` stands in for the file names in error messages.
pub fn from_bytes(images: &[u8], labels: &[u8], name: &str) -> Result<ImageSet, IdxError> {
    let image_name = PathBuf::from(format!("{name} (images)"));
    let label_name = PathBuf::from(format!("{name} (labels)"));
    let pixels = parse_image_bytes(decompress_if_gzip(images, &image_name)?, &image_name)?;
    let labels = parse_label_bytes(decompress_if_gzip(labels, &label_name)?, &label_name)?;
    assemble(pixels, labels, image_name.display().to_string(), label_name.display().to_string())
}

/// Parses an IDX image file (raw or gzip) into `(pixels, count, rows, cols)`, with `pixels`
/// laid out `[count, rows, cols]`. `path` only names the file in errors.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<(Vec<u8>, usize, usize, usize), IdxError> {
    let pixels = parse_image_bytes(decompress_if_gzip(bytes, path)?, path)?;
    Ok((pixels.bytes, pixels.count, pixels.rows, pixels.cols))
}

/// An IDX image file's bytes (uncompressed) for `pixels` laid out `[count, rows, cols]`: what
/// [`parse_images`] reads back.
pub fn image_file_bytes(pixels: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    let count = pixels.len() / (rows * cols).max(1);
    let mut bytes = Vec::with_capacity(16 + pixels.len());
    for value in [IMAGE_MAGIC, count as u32, rows as u32, cols as u32] {
        bytes.extend_from_slice(&value.to_be_bytes());
    }
    bytes.extend_from_slice(pixels);
    bytes
}

/// Parses an IDX label file (raw or gzip) into its `[count]` labels.
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>, IdxError> {
    parse_label_bytes(decompress_if_gzip(bytes, path)?, path)
}

/// Checks that a set's images are `rows x cols`, so a model built for MNIST gets a typed error
/// rather than a shape panic deep inside a tensor op.
pub fn require_dims(set: &ImageSet, rows: usize, cols: usize) -> Result<(), IdxError> {
    if set.rows == rows && set.cols == cols {
        return Ok(());
    }
    Err(IdxError::WrongDims {
        source_name: set.source.clone(),
        rows: set.rows,
        cols: set.cols,
        want_rows: rows,
        want_cols: cols,
    })
}

/// Pixels parsed from an image file: `bytes` is `[count, rows, cols]`.
struct Pixels {
    bytes: Vec<u8>,
    count: usize,
    rows: usize,
    cols: usize,
}

/// Joins parsed images and labels into a set, checking that their counts agree.
fn assemble(pixels: Pixels, labels: Vec<u8>, image_name: String, label_name: String) -> Result<ImageSet, IdxError> {
    if pixels.count != labels.len() {
        return Err(IdxError::CountMismatch {
            images: image_name,
            n: pixels.count,
            labels: label_name,
            m: labels.len(),
        });
    }
    if labels.is_empty() {
        return Err(IdxError::Empty { path: PathBuf::from(image_name) });
    }
    let num_classes = labels.iter().copied().max().map_or(0, |max| usize::from(max) + 1);
    Ok(ImageSet {
        images: pixels.bytes,
        labels,
        channels: 1,
        rows: pixels.rows,
        cols: pixels.cols,
        boxes: Vec::new(),
        num_classes,
        source: image_name,
    })
}

fn require_directory(dir: &Path) -> Result<(), IdxError> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(IdxError::NotADirectory { dir: dir.to_path_buf() }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Err(IdxError::MissingDir { dir: dir.to_path_buf() }),
        Err(source) => Err(IdxError::Io { path: dir.to_path_buf(), source }),
    }
}

/// The first of `candidates` that exists in `dir` as a file.
fn find_file(dir: &Path, split: Split, kind: &'static str, candidates: [String; 4]) -> Result<PathBuf, IdxError> {
    candidates.iter().map(|name| dir.join(name)).find(|path| path.is_file()).ok_or_else(|| IdxError::MissingFile {
        dir: dir.to_path_buf(),
        split,
        kind,
        looked_for: candidates.join(", "),
    })
}

fn read_file(path: &Path) -> Result<Vec<u8>, IdxError> {
    fs::read(path).map_err(|source| IdxError::Io { path: path.to_path_buf(), source })
}

/// Returns the bytes unchanged unless they start with the gzip magic, in which case they are
/// inflated (all members, as `gzip` itself does for concatenated streams).
fn decompress_if_gzip<'a>(bytes: impl Into<Cow<'a, [u8]>>, path: &Path) -> Result<Cow<'a, [u8]>, IdxError> {
    let bytes = bytes.into();
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut inflated = Vec::with_capacity(gzip_size_hint(&bytes));
    MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut inflated)
        .map_err(|source| IdxError::Gzip { path: path.to_path_buf(), source })?;
    Ok(Cow::Owned(inflated))
}

/// The uncompressed size recorded in a gzip trailer (RFC 1952 ISIZE: last four bytes,
/// little-endian, modulo 2^32), capped by deflate's best ratio (about 1032:1) and by
/// [`MAX_PREALLOCATION`]; only a capacity hint, wrong for damaged files.
fn gzip_size_hint(bytes: &[u8]) -> usize {
    let ceiling = bytes.len().saturating_mul(1032).min(MAX_PREALLOCATION);
    bytes.last_chunk::<4>().map_or(0, |tail| usize::try_from(u32::from_le_bytes(*tail)).unwrap_or(0).min(ceiling))
}

/// Big-endian `u32` at `offset`, if the bytes reach that far.
fn read_be_u32(bytes: &[u8], offset: usize) -> Option<u32> {
    let word: [u8; 4] = bytes.get(offset..offset + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(word))
}

/// Checks the magic number at the start of an IDX file.
fn check_magic(bytes: &[u8], path: &Path, kind: &'static str, expected: u32, header: usize) -> Result<(), IdxError> {
    let too_short = || IdxError::TooShort { path: path.to_path_buf(), kind, header, actual: bytes.len() };
    let found = read_be_u32(bytes, 0).ok_or_else(too_short)?;
    if found != expected {
        return Err(IdxError::BadMagic { path: path.to_path_buf(), kind, found, expected });
    }
    if bytes.len() < header {
        return Err(too_short());
    }
    Ok(())
}

/// Checks that the file is exactly header + payload long.
fn check_length(path: &Path, what: String, expected: u128, actual: usize) -> Result<(), IdxError> {
    let path = path.to_path_buf();
    match (actual as u128).cmp(&expected) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Less => Err(IdxError::Truncated { path, what, expected, actual }),
        std::cmp::Ordering::Greater => Err(IdxError::TrailingBytes { path, what, expected, actual }),
    }
}

/// Strips `header` bytes off the front without copying when the buffer is already owned.
fn payload(bytes: Cow<'_, [u8]>, header: usize) -> Vec<u8> {
    match bytes {
        Cow::Owned(mut owned) => {
            owned.drain(..header);
            owned
        }
        Cow::Borrowed(borrowed) => borrowed[header..].to_vec(),
    }
}

fn parse_image_bytes(bytes: Cow<'_, [u8]>, path: &Path) -> Result<Pixels, IdxError> {
    check_magic(&bytes, path, "image", IMAGE_MAGIC, IMAGE_HEADER_LEN)?;
    // check_magic guaranteed the whole header is present, so these reads succeed.
    let field = |offset| read_be_u32(&bytes, offset).map_or(0, |v| v as usize);
    let (count, rows, cols) = (field(4), field(8), field(12));
    if count == 0 {
        return Err(IdxError::Empty { path: path.to_path_buf() });
    }
    if rows == 0 || cols == 0 {
        return Err(IdxError::ZeroSide { path: path.to_path_buf(), rows, cols });
    }
    let expected = IMAGE_HEADER_LEN as u128 + count as u128 * rows as u128 * cols as u128;
    let what = format!("{count} images of {rows}x{cols}");
    check_length(path, what, expected, bytes.len())?;
    Ok(Pixels { bytes: payload(bytes, IMAGE_HEADER_LEN), count, rows, cols })
}

fn parse_label_bytes(bytes: Cow<'_, [u8]>, path: &Path) -> Result<Vec<u8>, IdxError> {
    check_magic(&bytes, path, "label", LABEL_MAGIC, LABEL_HEADER_LEN)?;
    let count = read_be_u32(&bytes, 4).map_or(0, |v| v as usize);
    if count == 0 {
        return Err(IdxError::Empty { path: path.to_path_buf() });
    }
    let expected = LABEL_HEADER_LEN as u128 + count as u128;
    check_length(path, format!("{count} labels"), expected, bytes.len())?;
    Ok(payload(bytes, LABEL_HEADER_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// An IDX image file: header `[0x803, count, rows, cols]` + `pixels`.
    fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [IMAGE_MAGIC, count, rows, cols] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        bytes.extend_from_slice(pixels);
        bytes
    }

    /// An IDX label file: header `[0x801, labels.len()]` + `labels`.
    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&LABEL_MAGIC.to_be_bytes());
        bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        bytes.extend_from_slice(labels);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).expect("gzip into memory");
        encoder.finish().expect("gzip into memory")
    }

    /// `count` images of `rows x cols` whose pixels count up from 0 (mod 256).
    fn counting_pixels(count: usize, rows: usize, cols: usize) -> Vec<u8> {
        (0..count * rows * cols).map(|i| (i % 256) as u8).collect()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) {
        fs::write(dir.join(name), bytes).expect("write test file");
    }

    fn assert_one_line(err: &IdxError) {
        let text = err.to_string();
        assert!(!text.contains('\n'), "multi-line message: {text}");
    }

    #[test]
    fn parses_raw_images_and_labels() {
        let pixels = counting_pixels(2, 3, 2);
        let (parsed, count, rows, cols) =
            parse_images(&idx_images(2, 3, 2, &pixels), Path::new("x")).expect("valid file");
        assert_eq!((count, rows, cols), (2, 3, 2));
        assert_eq!(parsed, pixels);
        let labels = parse_labels(&idx_labels(&[7, 1]), Path::new("y")).expect("valid file");
        assert_eq!(labels, vec![7, 1]);
    }

    #[test]
    fn parses_gzip_by_magic_bytes() {
        let pixels = counting_pixels(3, 2, 2);
        let (parsed, count, _, _) =
            parse_images(&gzip(&idx_images(3, 2, 2, &pixels)), Path::new("x.idx")).expect("gzip file");
        assert_eq!(count, 3);
        assert_eq!(parsed, pixels);
        let labels = parse_labels(&gzip(&idx_labels(&[0, 1, 2])), Path::new("y")).expect("gzip");
        assert_eq!(labels, vec![0, 1, 2]);
    }

    #[test]
    fn from_bytes_builds_a_set() {
        let pixels = counting_pixels(2, 28, 28);
        let set =
            from_bytes(&gzip(&idx_images(2, 28, 28, &pixels)), &idx_labels(&[3, 5]), "demo").expect("valid extract");
        assert_eq!(set.len(), 2);
        assert_eq!(set.image(1), &pixels[784..]);
        assert_eq!(set.label(1), 5);
        assert_eq!(set.num_classes, 6);
        require_dims(&set, 28, 28).expect("28x28");
    }

    #[test]
    fn loads_dashed_raw_and_dotted_gzip_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        let train_pixels = counting_pixels(3, 4, 4);
        write(dir.path(), "train-images-idx3-ubyte", &idx_images(3, 4, 4, &train_pixels));
        write(dir.path(), "train-labels-idx1-ubyte", &idx_labels(&[0, 1, 2]));
        let test_pixels = counting_pixels(2, 4, 4);
        write(dir.path(), "t10k-images.idx3-ubyte.gz", &gzip(&idx_images(2, 4, 4, &test_pixels)));
        write(dir.path(), "t10k-labels.idx1-ubyte.gz", &gzip(&idx_labels(&[1, 1])));

        let train = load_dir(dir.path(), Split::Train).expect("train split");
        assert_eq!((train.len(), train.rows, train.cols), (3, 4, 4));
        assert_eq!(train.images, train_pixels);
        assert_eq!(train.num_classes, 3);

        let test = load_dir(dir.path(), Split::Test).expect("test split");
        assert_eq!(test.len(), 2);
        assert_eq!(test.images, test_pixels);
        assert!(test.source.ends_with("t10k-images.idx3-ubyte.gz"));
    }

    #[test]
    fn gzip_is_detected_by_content_not_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A raw file carrying a .gz name, and a gzip file carrying none.
        write(dir.path(), "train-images-idx3-ubyte.gz", &idx_images(1, 2, 2, &[1, 2, 3, 4]));
        write(dir.path(), "train-labels-idx1-ubyte", &gzip(&idx_labels(&[4])));
        let set = load_dir(dir.path(), Split::Train).expect("mislabelled but valid files");
        assert_eq!(set.images, vec![1, 2, 3, 4]);
        assert_eq!(set.num_classes, 5);
    }

    #[test]
    fn wrong_magic_is_rejected() {
        let mut bytes = idx_images(1, 2, 2, &[0; 4]);
        bytes[3] = 0x01; // now a label magic
        let err = parse_images(&bytes, Path::new("bad")).expect_err("wrong magic");
        assert!(matches!(err, IdxError::BadMagic { found: 0x801, expected: 0x803, .. }));
        assert!(err.to_string().contains("0x00000801"));
        assert_one_line(&err);
    }

    #[test]
    fn truncated_file_reports_expected_and_actual_bytes() {
        let mut bytes = idx_images(3, 2, 2, &counting_pixels(3, 2, 2));
        bytes.truncate(bytes.len() - 5);
        let err = parse_images(&bytes, Path::new("short")).expect_err("truncated");
        match &err {
            IdxError::Truncated { expected, actual, .. } => {
                assert_eq!(*expected, 16 + 12);
                assert_eq!(*actual, 16 + 12 - 5);
            }
            other => panic!("wrong error: {other}"),
        }
        assert!(err.to_string().contains("3 images of 2x2 = 28 bytes, file has 23"));
        assert_one_line(&err);

        let header_only = &idx_images(1, 2, 2, &[])[..10];
        let err = parse_images(header_only, Path::new("stub")).expect_err("no full header");
        assert!(matches!(err, IdxError::TooShort { actual: 10, .. }));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = idx_labels(&[1, 2]);
        bytes.extend_from_slice(b"junk");
        let err = parse_labels(&bytes, Path::new("long")).expect_err("trailing bytes");
        assert!(matches!(err, IdxError::TrailingBytes { expected: 10, actual: 14, .. }));
        assert_one_line(&err);
    }

    #[test]
    fn image_and_label_counts_must_match() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "train-images-idx3-ubyte", &idx_images(3, 2, 2, &[0; 12]));
        write(dir.path(), "train-labels-idx1-ubyte", &idx_labels(&[0, 1]));
        let err = load_dir(dir.path(), Split::Train).expect_err("3 images, 2 labels");
        assert!(matches!(err, IdxError::CountMismatch { n: 3, m: 2, .. }));
        let text = err.to_string();
        assert!(text.contains("train-images-idx3-ubyte: 3 images but"), "{text}");
        assert!(text.contains("has 2 labels"), "{text}");
        assert_one_line(&err);
    }

    #[test]
    fn missing_directory_is_its_own_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nowhere");
        let err = load_dir(&missing, Split::Train).expect_err("no dir");
        assert!(matches!(err, IdxError::MissingDir { .. }));
        assert!(err.is_usage());
        assert!(err.to_string().contains("zoo data fetch mnist"));
        assert_one_line(&err);
    }

    #[test]
    fn missing_file_lists_the_names_tried() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "train-images-idx3-ubyte", &idx_images(1, 2, 2, &[0; 4]));
        let err = load_dir(dir.path(), Split::Train).expect_err("no label file");
        assert!(matches!(err, IdxError::MissingFile { kind: "label", split: Split::Train, .. }));
        let text = err.to_string();
        for name in Split::Train.label_file_names() {
            assert!(text.contains(&name), "{text} lacks {name}");
        }
        assert_one_line(&err);

        let err = load_dir(dir.path(), Split::Test).expect_err("no test files");
        assert!(err.to_string().contains("t10k-images-idx3-ubyte"));
    }

    #[test]
    fn other_image_sizes_fail_require_dims() {
        let set =
            from_bytes(&idx_images(1, 32, 32, &[0; 1024]), &idx_labels(&[0]), "cifarish").expect("valid 32x32 set");
        let err = require_dims(&set, 28, 28).expect_err("not 28x28");
        assert!(matches!(err, IdxError::WrongDims { rows: 32, cols: 32, .. }));
        assert!(err.to_string().contains("32x32"));
        assert_one_line(&err);
    }

    #[test]
    fn num_classes_comes_from_the_labels() {
        let set = ImageSet::new(vec![0; 5 * 4], vec![0, 3, 1, 2, 1], 2, 2).expect("valid set");
        assert_eq!(set.num_classes, 4);
        // A subset keeps the parent's class count even when it lacks the top class.
        let head = set.subset(0..1);
        assert_eq!(head.len(), 1);
        assert_eq!(head.num_classes, 4);
        assert_eq!(set.subset(3..99).len(), 2);
    }

    #[test]
    fn corrupt_gzip_names_the_file() {
        // A valid 10-byte gzip header, then a deflate block of reserved type 0b11.
        let bytes = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff];
        let err = parse_images(&bytes, Path::new("broken.gz")).expect_err("corrupt gzip");
        assert!(matches!(err, IdxError::Gzip { .. }));
        assert!(err.to_string().starts_with("broken.gz: corrupt gzip stream"));
        assert_one_line(&err);

        let mut cut = gzip(&idx_labels(&[1, 2, 3]));
        cut.truncate(cut.len() - 6);
        let err = parse_labels(&cut, Path::new("cut.gz")).expect_err("truncated gzip");
        assert!(matches!(err, IdxError::Gzip { .. }));
    }

    #[test]
    fn empty_sets_are_rejected() {
        let err = parse_images(&idx_images(0, 28, 28, &[]), Path::new("none")).expect_err("zero images");
        assert!(matches!(err, IdxError::Empty { .. }));
        let err = ImageSet::new(Vec::new(), Vec::new(), 28, 28).expect_err("empty set");
        assert!(matches!(err, IdxError::Empty { .. }));
        let err = ImageSet::new(vec![0; 5], vec![0], 2, 2).expect_err("ragged buffer");
        assert!(matches!(err, IdxError::RaggedBuffer { .. }));
    }
}
