//! The data of `multitask` (item 30): real MNIST digits, each scaled to a random size and placed
//! at a random spot on a larger black canvas, with the box of its ink. Everything about a
//! canvas is drawn from the seed and the digit's index, so a canvas is the same whatever else
//! the set holds (`--limit` keeps the first canvases as they were).

use crate::idx::{IdxError, ImageSet};
use crate::rng::{SplitMix64, splitmix_step};

/// A scaled digit's pixels below this level (of 255) are cleared: the faint fringe that
/// resampling leaves would otherwise widen the box by a pixel no one sees.
pub const INK_LEVEL: u8 = 24;

/// How canvases are made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CanvasSpec {
    /// Side of the square canvas, in pixels.
    pub side: usize,
    /// The digit's 28x28 frame is scaled to a side drawn uniformly from `min_size..=max_size`
    /// (the ink fills about 20/28 of it).
    pub min_size: usize,
    pub max_size: usize,
    /// Strokes cut from other digits of the same split and scattered outside the digit's box.
    pub distractors: usize,
    /// Seeds every draw; the training and test splits use different streams.
    pub seed: u64,
}

impl CanvasSpec {
    /// What cannot work, as a message naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.min_size < 8 || self.min_size > self.max_size {
            return Err(format!(
                "canvas.min_size: {} must be at least 8 and at most canvas.max_size ({})",
                self.min_size, self.max_size
            ));
        }
        if self.max_size > self.side {
            return Err(format!(
                "canvas.max_size: {} is larger than the canvas (canvas.side {})",
                self.max_size, self.side
            ));
        }
        if self.side > 1024 {
            return Err(format!("canvas.side: {} is larger than 1024", self.side));
        }
        Ok(())
    }
}

/// One canvas per image of `digits` (28x28 greyscale), labels kept, boxes set: `[x_min, y_min,
/// x_max, y_max]` in pixels, max exclusive, the bounds of the digit's ink (distractors are not
/// part of it). `stream` separates the splits (0 training, 1 test).
pub fn make_canvases(digits: &ImageSet, spec: &CanvasSpec, stream: u64) -> Result<ImageSet, IdxError> {
    let side = spec.side;
    let mut images = vec![0u8; digits.len() * side * side];
    let mut boxes = Vec::with_capacity(digits.len());
    for (index, canvas) in images.chunks_mut(side * side).enumerate() {
        let mut rng = canvas_rng(spec.seed, stream, index);
        let size = spec.min_size + rng.below(spec.max_size - spec.min_size + 1);
        let glyph = scale_square(digits.image(index), digits.rows, digits.cols, size);
        let (left, top) = (rng.below(side - size + 1), rng.below(side - size + 1));
        paste_max(canvas, side, &glyph, size, size, left, top);
        let b = ink_bounds(&glyph, size, size)
            .map(|[x0, y0, x1, y1]| [left + x0, top + y0, left + x1, top + y1])
            // An empty digit (none in MNIST) keeps the frame it was given.
            .unwrap_or([left, top, left + size, top + size]);
        for _ in 0..spec.distractors {
            add_distractor(canvas, side, digits, index, b, &mut rng);
        }
        boxes.push(b.map(|v| v as u16));
    }
    ImageSet::new(images, digits.labels.clone(), side, side)?.with_boxes(boxes)
}

/// The generator of canvas `index` of `stream`: independent of every other canvas.
fn canvas_rng(seed: u64, stream: u64, index: usize) -> SplitMix64 {
    let key = splitmix_step(seed ^ splitmix_step(stream.wrapping_mul(0x1000_0000_01B3) ^ index as u64));
    SplitMix64::new(key)
}

/// `pixels` (`rows` x `cols`) resampled to `size` x `size` (bilinear, pixel centres aligned;
/// when shrinking, each output pixel averages the source pixels it covers), fringe below
/// [`INK_LEVEL`] cleared.
pub fn scale_square(pixels: &[u8], rows: usize, cols: usize, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size * size];
    let (sy, sx) = (rows as f32 / size as f32, cols as f32 / size as f32);
    // Supersampling when shrinking: 2x2 samples per output pixel smooth the aliasing that
    // single bilinear samples give at half size.
    let taps = if size < rows.max(cols) { 2 } else { 1 };
    let at = |y: isize, x: isize| -> f32 {
        if y < 0 || x < 0 || y >= rows as isize || x >= cols as isize {
            0.0
        } else {
            f32::from(pixels[y as usize * cols + x as usize])
        }
    };
    for oy in 0..size {
        for ox in 0..size {
            let mut sum = 0.0;
            for ty in 0..taps {
                for tx in 0..taps {
                    let fy = (oy as f32 + (ty as f32 + 0.5) / taps as f32) * sy - 0.5;
                    let fx = (ox as f32 + (tx as f32 + 0.5) / taps as f32) * sx - 0.5;
                    let (y0, x0) = (fy.floor(), fx.floor());
                    let (wy, wx) = (fy - y0, fx - x0);
                    let (y0, x0) = (y0 as isize, x0 as isize);
                    sum += (1.0 - wy) * ((1.0 - wx) * at(y0, x0) + wx * at(y0, x0 + 1))
                        + wy * ((1.0 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1));
                }
            }
            let value = (sum / (taps * taps) as f32).round().clamp(0.0, 255.0) as u8;
            out[oy * size + ox] = if value < INK_LEVEL { 0 } else { value };
        }
    }
    out
}

/// Bounds `[x_min, y_min, x_max, y_max]` (max exclusive) of the non-zero pixels of a `width` x
/// `height` picture; `None` when it is all zero.
pub fn ink_bounds(pixels: &[u8], width: usize, height: usize) -> Option<[usize; 4]> {
    let mut bounds: Option<[usize; 4]> = None;
    for y in 0..height {
        for x in 0..width {
            if pixels[y * width + x] > 0 {
                bounds = Some(match bounds {
                    None => [x, y, x + 1, y + 1],
                    Some([x0, y0, x1, y1]) => [x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1)],
                });
            }
        }
    }
    bounds
}

/// Pastes `glyph` (`width` x `height`) at (`left`, `top`), keeping the brighter pixel where ink
/// meets ink.
fn paste_max(canvas: &mut [u8], side: usize, glyph: &[u8], width: usize, height: usize, left: usize, top: usize) {
    for y in 0..height.min(side.saturating_sub(top)) {
        for x in 0..width.min(side.saturating_sub(left)) {
            let slot = &mut canvas[(top + y) * side + left + x];
            *slot = (*slot).max(glyph[y * width + x]);
        }
    }
}

/// A 10x10 cut of another digit at about the main digit's scale, placed where it
/// does not touch the box `b`; skipped when ten tries find no such place.
fn add_distractor(
    canvas: &mut [u8],
    side: usize,
    digits: &ImageSet,
    index: usize,
    b: [usize; 4],
    rng: &mut SplitMix64,
) {
    const CUT: usize = 10;
    // One of the digits before this one (the second for the first), so a canvas does not
    // depend on how many come after it.
    let other = if index > 0 { rng.below(index) } else { 1.min(digits.len() - 1) };
    let (rows, cols) = (digits.rows, digits.cols);
    // A cut from the middle of the frame, where strokes are.
    let (cy, cx) =
        (4 + rng.below(rows.saturating_sub(CUT + 8).max(1)), 4 + rng.below(cols.saturating_sub(CUT + 8).max(1)));
    let source = digits.image(other);
    let mut cut = vec![0u8; CUT * CUT];
    for y in 0..CUT {
        for x in 0..CUT {
            cut[y * CUT + x] = source.get((cy + y) * cols + cx + x).copied().unwrap_or(0);
        }
    }
    if side < CUT {
        return;
    }
    for _ in 0..10 {
        let (left, top) = (rng.below(side - CUT + 1), rng.below(side - CUT + 1));
        let apart = left + CUT <= b[0] || left >= b[2] || top + CUT <= b[1] || top >= b[3];
        if apart {
            paste_max(canvas, side, &cut, CUT, CUT, left, top);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(n: usize) -> ImageSet {
        // A blob per digit at a different place, as MNIST's strokes would be.
        let mut images = vec![0u8; n * 28 * 28];
        for (i, image) in images.chunks_mut(28 * 28).enumerate() {
            for y in 6 + i % 5..18 + i % 5 {
                for x in 8..20 - i % 3 {
                    image[y * 28 + x] = 200;
                }
            }
        }
        ImageSet::new(images, (0..n).map(|i| (i % 10) as u8).collect(), 28, 28).unwrap()
    }

    #[test]
    fn scaling_keeps_a_flat_square_flat_inside() {
        let square = vec![255u8; 28 * 28];
        let big = scale_square(&square, 28, 28, 48);
        assert_eq!(big[24 * 48 + 24], 255);
        let small = scale_square(&square, 28, 28, 14);
        assert_eq!(small[7 * 14 + 7], 255);
    }

    #[test]
    fn bounds_of_a_known_picture() {
        let mut p = vec![0u8; 5 * 4];
        p[5 + 1] = 9; // (x 1, y 1)
        p[2 * 5 + 3] = 9; // (x 3, y 2)
        assert_eq!(ink_bounds(&p, 5, 4), Some([1, 1, 4, 3]));
        assert_eq!(ink_bounds(&[0; 4], 2, 2), None);
    }

    #[test]
    fn a_bad_spec_names_its_field() {
        let spec = CanvasSpec { side: 64, min_size: 30, max_size: 20, distractors: 0, seed: 0 };
        assert!(spec.check().unwrap_err().starts_with("canvas.min_size"));
        let spec = CanvasSpec { side: 32, min_size: 14, max_size: 48, distractors: 0, seed: 0 };
        assert!(spec.check().unwrap_err().starts_with("canvas.max_size"));
    }

    #[test]
    fn canvases_of_a_prefix_are_the_prefix_of_the_canvases() {
        let spec = CanvasSpec { side: 64, min_size: 14, max_size: 48, distractors: 2, seed: 3 };
        let all = make_canvases(&digits(20), &spec, 0).unwrap();
        let first = make_canvases(&digits(20).subset(0..5), &spec, 0).unwrap();
        assert!(all.images[..first.images.len()] == first.images[..], "the first five canvases differ");
        assert_eq!(&all.boxes[..5], &first.boxes[..]);
        let test = make_canvases(&digits(20), &spec, 1).unwrap();
        assert_ne!(all.boxes, test.boxes, "the test stream differs from the training one");
    }
}
