//! Turning a user's picture of a digit into the 28x28 input an MNIST classifier expects.
//!
//! MNIST digits are light ink on black, scaled so the longer side of the ink's bounding box is
//! 20 px (aspect ratio kept), and placed in a 28x28 field so the ink's centre of mass is at the
//! centre. A picture that is not prepared the same way is classified far worse, so this module
//! repeats those steps: greyscale, invert if the background is light, stretch the levels,
//! crop to the ink, scale to 20 px, centre by mass.

use std::io;
use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageReader, Luma, LumaA};

/// Side of an MNIST image.
pub const MNIST_SIDE: usize = 28;
/// `MNIST_SIDE * MNIST_SIDE`, the length of [`load_as_mnist`]'s output.
pub const MNIST_PIXELS: usize = MNIST_SIDE * MNIST_SIDE;

/// The largest picture side zoo decodes: a header claiming more is refused before any pixel
/// is decoded (a 100-byte file can claim 100,000 x 100,000 pixels).
pub const MAX_PICTURE_SIDE: u32 = 8192;

/// Longer side of the ink's box after scaling, as in MNIST.
const FIT_SIDE: u32 = 20;
/// Where the centre of mass goes, in pixel-index coordinates (MNIST's convention).
const MNIST_CENTRE: f64 = 14.0;
/// A border brighter than this on average means dark ink on a light background.
const LIGHT_BACKGROUND: f32 = 127.0;
/// Ink must stand out from the background by at least this much (of 255) to count at all.
const MIN_CONTRAST: f32 = 24.0;
/// After stretching the levels, a pixel above this is ink for the bounding box; low enough to
/// keep thin strokes, high enough to ignore paper texture and JPEG-like noise.
const INK_THRESHOLD: u8 = 40;

/// Why a picture could not be prepared. Each message is one line naming the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{}: cannot open ({source}); check the path and that the file is readable", .path.display())]
    Open { path: PathBuf, source: io::Error },

    #[error(
        "{}: is not a PNG or JPEG picture the decoder can read ({reason}); give a PNG or JPEG file",
        .path.display()
    )]
    NotPng { path: PathBuf, reason: String },

    #[error(
        "{}: the picture claims {width} x {height} pixels; zoo reads pictures of at most {MAX_PICTURE_SIDE} pixels a side: scale it down first",
        .path.display()
    )]
    TooLarge { path: PathBuf, width: u32, height: u32 },

    #[error(
        "{}: no ink found (the picture is blank or has almost no contrast); give a picture of one drawn figure, dark on light or light on dark",
        .path.display()
    )]
    NoInk { path: PathBuf },
}

/// Reads a picture (PNG) and prepares it as MNIST does: returns `[28 * 28]` values in
/// `[0, 1]`, row-major, bright ink on a black background.
pub fn load_as_mnist(path: &Path) -> Result<Vec<f32>, ImageError> {
    let decoded = decode(path)?;
    fit_to_mnist(&flatten_to_gray(&decoded), path)
}

/// [`load_as_mnist`] of a picture's bytes already in memory (an upload, a fuzzer's input);
/// `source` names it in errors.
pub fn mnist_from_bytes(bytes: &[u8], source: &Path) -> Result<Vec<f32>, ImageError> {
    let decoded = decode_bytes(bytes, source)?;
    fit_to_mnist(&flatten_to_gray(&decoded), source)
}

/// The MNIST preparation for a greyscale picture already in memory; `source` only names it in
/// errors. Returns `[28 * 28]` values in `[0, 1]`, row-major.
pub fn fit_to_mnist(gray: &GrayImage, source: &Path) -> Result<Vec<f32>, ImageError> {
    let no_ink = || ImageError::NoInk { path: source.to_path_buf() };
    let ink = ink_map(gray).ok_or_else(no_ink)?;
    let bounds = ink_bounds(&ink).ok_or_else(no_ink)?;
    let glyph = scale_to_fit(&ink, bounds);
    Ok(place_on_canvas(&glyph))
}

/// A whole picture prepared as a canvas of `multitask`: the picture padded to a square (black
/// around it), scaled to `side` x `side`, ink bright on black with levels stretched.
#[derive(Clone, Debug)]
pub struct PictureCanvas {
    /// `[side * side]` values in `[0, 1]`, row-major.
    pub pixels: Vec<f32>,
    /// The picture as the person sees it, in colour.
    pub original: image::RgbImage,
    /// Picture pixels per canvas pixel.
    pub scale: f32,
    /// Where the picture's top-left corner sits in the padded square, in picture pixels.
    pub pad: (f32, f32),
}

impl PictureCanvas {
    /// A box `[x_min, y_min, x_max, y_max]` in canvas fractions as picture pixels, clamped to
    /// the picture.
    pub fn to_picture(&self, fractions: [f32; 4], side: usize) -> [f32; 4] {
        let (width, height) = (self.original.width() as f32, self.original.height() as f32);
        let x = |v: f32| (v * side as f32 * self.scale - self.pad.0).clamp(0.0, width);
        let y = |v: f32| (v * side as f32 * self.scale - self.pad.1).clamp(0.0, height);
        [x(fractions[0]), y(fractions[1]), x(fractions[2]), y(fractions[3])]
    }
}

/// Reads a picture (PNG, JPEG) as a `side` x `side` canvas: the whole picture, not a crop to
/// its ink, since where the ink is is what `multitask` tells.
pub fn load_as_canvas(path: &Path, side: usize) -> Result<PictureCanvas, ImageError> {
    canvas_of(decode(path)?, path, side)
}

/// [`load_as_canvas`] of a picture's bytes already in memory (an upload); `source` names it in
/// errors.
pub fn canvas_from_bytes(bytes: &[u8], source: &Path, side: usize) -> Result<PictureCanvas, ImageError> {
    canvas_of(decode_bytes(bytes, source)?, source, side)
}

fn canvas_of(decoded: DynamicImage, path: &Path, side: usize) -> Result<PictureCanvas, ImageError> {
    let ink = ink_map(&flatten_to_gray(&decoded)).ok_or_else(|| ImageError::NoInk { path: path.to_path_buf() })?;
    let (width, height) = ink.dimensions();
    let square = width.max(height);
    let pad = ((square - width) / 2, (square - height) / 2);
    let mut padded = GrayImage::new(square, square);
    imageops::replace(&mut padded, &ink, i64::from(pad.0), i64::from(pad.1));
    let filter = if square as usize > side { FilterType::Triangle } else { FilterType::Nearest };
    let scaled = imageops::resize(&padded, side as u32, side as u32, filter);
    Ok(PictureCanvas {
        pixels: scaled.iter().map(|&p| f32::from(p) / 255.0).collect(),
        original: decoded.to_rgb8(),
        scale: square as f32 / side as f32,
        pad: (pad.0 as f32, pad.1 as f32),
    })
}

fn decode(path: &Path) -> Result<DynamicImage, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Open { path: path.to_path_buf(), source })?;
    decode_bytes(&bytes, path)
}

/// [`decode`] of a picture already in memory (an upload); `source` names it in errors.
fn decode_bytes(bytes: &[u8], source: &Path) -> Result<DynamicImage, ImageError> {
    let not_a_picture = |reason: String| ImageError::NotPng { path: source.to_path_buf(), reason };
    // Guessing from the content first means a PNG named `.jpg` still works, and anything that
    // is not a PNG gets the decoder's own reason.
    let mut reader =
        ImageReader::new(io::Cursor::new(bytes)).with_guessed_format().map_err(|e| not_a_picture(e.to_string()))?;
    // A header can claim any size: what the decoder may allocate is bounded by what the file
    // could hold (deflate expands at most about 1,000-fold; a photo's JPEG far less), so a
    // damaged or hostile 300-byte file cannot ask for gigabytes.
    let claimed = ImageReader::new(io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()
        .and_then(|reader| reader.into_dimensions().ok());
    if let Some((width, height)) = claimed.filter(|&(w, h)| w.max(h) > MAX_PICTURE_SIDE) {
        return Err(ImageError::TooLarge { path: source.to_path_buf(), width, height });
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PICTURE_SIDE);
    limits.max_image_height = Some(MAX_PICTURE_SIDE);
    limits.max_alloc = Some((bytes.len() as u64).saturating_mul(2048).clamp(64 << 20, 2 << 30));
    reader.limits(limits);
    reader.decode().map_err(|err: image::ImageError| not_a_picture(err.to_string().replace('\n', " ")))
}

/// Greyscale (luma) with any transparency composited onto white, since a drawing exported
/// with a transparent background is meant to be seen on white.
fn flatten_to_gray(image: &DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.to_luma8();
    }
    let with_alpha = image.to_luma_alpha8();
    GrayImage::from_fn(with_alpha.width(), with_alpha.height(), |x, y| {
        let LumaA([luma, alpha]) = *with_alpha.get_pixel(x, y);
        let (luma, alpha) = (u32::from(luma), u32::from(alpha));
        // luma * a + white * (1 - a), with a in 0..=255; rounds to nearest.
        let composite = (luma * alpha + 255 * (255 - alpha) + 127) / 255;
        Luma([composite.min(255) as u8])
    })
}

/// Bright ink on black with levels stretched so the background maps to 0 and the brightest
/// ink to 255; `None` when nothing stands out from the background.
fn ink_map(gray: &GrayImage) -> Option<GrayImage> {
    let mut ink = gray.clone();
    let mut background = border_mean(gray);
    if background > LIGHT_BACKGROUND {
        for pixel in ink.iter_mut() {
            *pixel = 255 - *pixel;
        }
        background = 255.0 - background;
    }
    let peak = f32::from(ink.iter().copied().max()?);
    if peak - background < MIN_CONTRAST {
        return None;
    }
    let gain = 255.0 / (peak - background);
    for pixel in ink.iter_mut() {
        *pixel = ((f32::from(*pixel) - background) * gain).round().clamp(0.0, 255.0) as u8;
    }
    Some(ink)
}

/// Mean of the outermost ring of pixels: the background's level, for a digit that does not
/// fill the picture.
fn border_mean(gray: &GrayImage) -> f32 {
    let (width, height) = gray.dimensions();
    let on_border = |x: u32, y: u32| x == 0 || y == 0 || x + 1 == width || y + 1 == height;
    let (sum, count) = gray
        .enumerate_pixels()
        .filter(|(x, y, _)| on_border(*x, *y))
        .fold((0u64, 0u64), |(sum, count), (_, _, pixel)| (sum + u64::from(pixel.0[0]), count + 1));
    if count == 0 { 0.0 } else { sum as f32 / count as f32 }
}

/// Inclusive pixel bounds of the ink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    left: u32,
    top: u32,
    right: u32,
    bottom: u32,
}

impl Bounds {
    fn width(self) -> u32 {
        self.right - self.left + 1
    }

    fn height(self) -> u32 {
        self.bottom - self.top + 1
    }
}

/// Bounding box of the pixels brighter than [`INK_THRESHOLD`]; `None` if there are none.
fn ink_bounds(ink: &GrayImage) -> Option<Bounds> {
    ink.enumerate_pixels().filter(|(_, _, pixel)| pixel.0[0] > INK_THRESHOLD).fold(
        None,
        |bounds: Option<Bounds>, (x, y, _)| {
            Some(match bounds {
                None => Bounds { left: x, top: y, right: x, bottom: y },
                Some(b) => {
                    Bounds { left: b.left.min(x), top: b.top.min(y), right: b.right.max(x), bottom: b.bottom.max(y) }
                }
            })
        },
    )
}

/// Crops to `bounds` and scales so the longer side is [`FIT_SIDE`], keeping the aspect ratio.
/// Output is at most 20x20, at least 1x1.
fn scale_to_fit(ink: &GrayImage, bounds: Bounds) -> GrayImage {
    let (width, height) = (bounds.width(), bounds.height());
    let longer = f64::from(width.max(height));
    let fitted = |side: u32| ((f64::from(side) * f64::from(FIT_SIDE) / longer).round() as u32).clamp(1, FIT_SIDE);
    let cropped = imageops::crop_imm(ink, bounds.left, bounds.top, width, height).to_image();
    imageops::resize(&cropped, fitted(width), fitted(height), FilterType::Triangle)
}

/// Pastes `glyph` (at most 20x20) into a black 28x28 field so its centre of mass lands on
/// (14, 14), clamped to stay inside; returns `[28 * 28]` values in `[0, 1]`.
fn place_on_canvas(glyph: &GrayImage) -> Vec<f32> {
    let (width, height) = glyph.dimensions();
    let (mass_x, mass_y) = centre_of_mass(glyph).unwrap_or((f64::from(width) / 2.0, f64::from(height) / 2.0));
    let left = offset_for(mass_x, width);
    let top = offset_for(mass_y, height);
    let mut canvas = vec![0.0f32; MNIST_PIXELS];
    for (x, y, pixel) in glyph.enumerate_pixels() {
        let (column, row) = (left + x as usize, top + y as usize);
        if column < MNIST_SIDE
            && let Some(slot) = canvas.get_mut(row * MNIST_SIDE + column)
        {
            *slot = f32::from(pixel.0[0]) / 255.0;
        }
    }
    canvas
}

/// Intensity-weighted mean pixel index `(x, y)`; `None` for an all-black glyph.
fn centre_of_mass(glyph: &GrayImage) -> Option<(f64, f64)> {
    let (mut mass, mut moment_x, mut moment_y) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y, pixel) in glyph.enumerate_pixels() {
        let weight = f64::from(pixel.0[0]);
        mass += weight;
        moment_x += weight * f64::from(x);
        moment_y += weight * f64::from(y);
    }
    (mass > 0.0).then(|| (moment_x / mass, moment_y / mass))
}

/// Offset of a glyph side of `extent` pixels that moves `mass` to the field's centre,
/// clamped so the glyph stays inside the field.
fn offset_for(mass: f64, extent: u32) -> usize {
    let max_offset = MNIST_SIDE.saturating_sub(extent as usize) as f64;
    (MNIST_CENTRE - mass).round().clamp(0.0, max_offset) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    fn save_png(dir: &Path, name: &str, picture: impl Into<DynamicImage>) -> PathBuf {
        let path = dir.join(name);
        let picture: DynamicImage = picture.into();
        picture.save(&path).expect("write test PNG");
        path
    }

    fn fill(picture: &mut GrayImage, xs: std::ops::Range<u32>, ys: std::ops::Range<u32>, value: u8) {
        for y in ys {
            for x in xs.clone() {
                picture.put_pixel(x, y, Luma([value]));
            }
        }
    }

    /// Intensity-weighted mean index of a 28x28 output.
    fn output_centre_of_mass(pixels: &[f32]) -> (f64, f64) {
        let (mut mass, mut mx, mut my) = (0.0, 0.0, 0.0);
        for (index, &value) in pixels.iter().enumerate() {
            let value = f64::from(value);
            mass += value;
            mx += value * (index % MNIST_SIDE) as f64;
            my += value * (index / MNIST_SIDE) as f64;
        }
        (mx / mass, my / mass)
    }

    /// `(width, height)` of the box of output pixels above `threshold`.
    fn output_ink_box(pixels: &[f32], threshold: f32) -> (usize, usize) {
        let inked: Vec<(usize, usize)> = pixels
            .iter()
            .enumerate()
            .filter(|(_, value)| **value > threshold)
            .map(|(index, _)| (index % MNIST_SIDE, index / MNIST_SIDE))
            .collect();
        let min_x = inked.iter().map(|p| p.0).min().expect("some ink");
        let max_x = inked.iter().map(|p| p.0).max().expect("some ink");
        let min_y = inked.iter().map(|p| p.1).min().expect("some ink");
        let max_y = inked.iter().map(|p| p.1).max().expect("some ink");
        (max_x - min_x + 1, max_y - min_y + 1)
    }

    fn assert_mnist_shaped(pixels: &[f32]) {
        assert_eq!(pixels.len(), MNIST_PIXELS);
        assert!(pixels.iter().all(|value| (0.0..=1.0).contains(value)));
    }

    #[test]
    fn dark_ink_on_light_paper_is_inverted_and_centred() {
        let dir = tempfile::tempdir().expect("temp dir");
        // An off-centre "L": a tall bar and a foot, dark grey on white.
        let mut picture = GrayImage::from_pixel(60, 80, Luma([250]));
        fill(&mut picture, 10..16, 15..65, 20);
        fill(&mut picture, 10..30, 59..65, 20);
        let path = save_png(dir.path(), "digit.png", picture);

        let pixels = load_as_mnist(&path).expect("prepared");
        assert_mnist_shaped(&pixels);
        assert!(pixels.iter().copied().fold(0.0, f32::max) > 0.9, "ink should be bright");
        assert_eq!(pixels[0], 0.0, "background should be black");
        assert_eq!(pixels[MNIST_PIXELS - 1], 0.0, "background should be black");
        let (x, y) = output_centre_of_mass(&pixels);
        assert!((x - 14.0).abs() <= 1.0 && (y - 14.0).abs() <= 1.0, "centre of mass ({x}, {y})");
        let (width, height) = output_ink_box(&pixels, 0.0);
        assert!(width <= 20 && height <= 20, "ink box {width}x{height}");
    }

    #[test]
    fn large_picture_is_scaled_to_twenty_pixels() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut picture = GrayImage::new(400, 300); // black
        fill(&mut picture, 50..350, 100..160, 255);
        let path = save_png(dir.path(), "wide.png", picture);

        let pixels = load_as_mnist(&path).expect("prepared");
        assert_mnist_shaped(&pixels);
        let (width, height) = output_ink_box(&pixels, 0.0);
        assert!(width <= 20 && height <= 20, "ink box {width}x{height}");
        assert!(width >= 19, "longer side should be scaled to 20, got {width}");
        let (x, y) = output_centre_of_mass(&pixels);
        assert!((x - 14.0).abs() <= 1.0 && (y - 14.0).abs() <= 1.0, "centre of mass ({x}, {y})");
    }

    #[test]
    fn transparent_background_counts_as_white() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut picture = RgbaImage::from_pixel(40, 40, Rgba([0, 0, 0, 0]));
        for y in 8..32 {
            for x in 17..23 {
                picture.put_pixel(x, y, Rgba([0, 0, 0, 255]));
            }
        }
        let path = save_png(dir.path(), "stroke.png", picture);

        let pixels = load_as_mnist(&path).expect("prepared");
        assert_mnist_shaped(&pixels);
        assert!(pixels.iter().copied().fold(0.0, f32::max) > 0.9);
        assert_eq!(pixels[0], 0.0);
    }

    #[test]
    fn a_text_file_named_png_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("note.png");
        std::fs::write(&path, "this is not a picture\n").expect("write text");

        let err = load_as_mnist(&path).expect_err("not a PNG");
        assert!(matches!(err, ImageError::NotPng { .. }), "wrong error: {err}");
        let text = err.to_string();
        assert!(text.contains("note.png") && text.contains("give a PNG or JPEG file"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn a_blank_picture_has_no_ink() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, level) in [("white.png", 255u8), ("grey.png", 128), ("black.png", 0)] {
            let path = save_png(dir.path(), name, GrayImage::from_pixel(30, 30, Luma([level])));
            let err = load_as_mnist(&path).expect_err("blank");
            assert!(matches!(err, ImageError::NoInk { .. }), "{name}: wrong error: {err}");
            assert!(err.to_string().contains("no ink found"));
        }
    }

    #[test]
    fn a_missing_file_is_an_open_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = load_as_mnist(&dir.path().join("absent.png")).expect_err("missing");
        assert!(matches!(err, ImageError::Open { .. }), "wrong error: {err}");
    }

    #[test]
    fn an_mnist_like_picture_keeps_its_place() {
        // Already 28x28, light on black, 20 px tall and centred: should come back nearly as is.
        let mut picture = GrayImage::new(28, 28);
        fill(&mut picture, 11..17, 4..24, 255);
        let pixels = fit_to_mnist(&picture, Path::new("memory")).expect("prepared");
        assert_mnist_shaped(&pixels);
        let (width, height) = output_ink_box(&pixels, 0.5);
        assert_eq!(height, 20);
        assert!((5..=7).contains(&width), "width {width}");
    }
}
