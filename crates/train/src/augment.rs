//! Augmentation of training images (item 2 of the source document: more varied data against
//! overfitting): random translation, rotation, scaling and cropping, drawn per image from a
//! seeded stream and applied on the loader's thread while the step runs.
//!
//! Why zoo's own code rather than `burn::vision::Transform2D`: that one applies one transform
//! to a whole batch (every image of a batch turned by the same angle) and runs on the training
//! device, in the step's time; this draws a transform per image and costs the step nothing
//! (`cargo bench --bench ops -- augment` measures both).

use crate::fit::FitConfig;

/// The ranges each training image's transform is drawn from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augmentation {
    /// Translation: up to this many whole pixels in x and y.
    pub max_shift: usize,
    /// Rotation: up to this many degrees either way.
    pub max_rotation: f64,
    /// Scaling about the centre by a factor in `[1 - max_scale, 1 + max_scale]`.
    pub max_scale: f64,
    /// Cropping: a square window of side between `min_crop` and 1 times the image's, stretched
    /// back to the image's size (1: no cropping).
    pub min_crop: f64,
}

impl Default for Augmentation {
    fn default() -> Self {
        Self { max_shift: 0, max_rotation: 0.0, max_scale: 0.0, min_crop: 1.0 }
    }
}

/// One image's transform, as drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Draw {
    /// Whole-pixel translation.
    pub dx: i64,
    pub dy: i64,
    /// Rotation in radians (counter-clockwise as the picture is seen).
    pub angle: f64,
    /// Scale factor about the centre.
    pub scale: f64,
    /// The crop window: its side as a share of the image's, and its top-left corner in pixels.
    pub crop: f64,
    pub crop_x: f64,
    pub crop_y: f64,
}

impl Draw {
    /// The draw that changes nothing.
    pub const IDENTITY: Draw = Draw { dx: 0, dy: 0, angle: 0.0, scale: 1.0, crop: 1.0, crop_x: 0.0, crop_y: 0.0 };
}

impl Augmentation {
    /// The augmentation a recipe's fit settings ask for.
    pub fn from_fit(fit: &FitConfig) -> Self {
        Self {
            max_shift: fit.max_shift,
            max_rotation: fit.max_rotation,
            max_scale: fit.max_scale,
            min_crop: fit.min_crop,
        }
    }

    /// Whole-pixel shifts of up to `max_shift` and nothing else.
    pub fn shift(max_shift: usize) -> Self {
        Self { max_shift, ..Self::default() }
    }

    pub fn is_off(&self) -> bool {
        self.max_shift == 0 && self.only_shifts()
    }

    /// No resampling: the image only moves by whole pixels (exact, and the cheap path).
    fn only_shifts(&self) -> bool {
        self.max_rotation == 0.0 && self.max_scale == 0.0 && self.min_crop >= 1.0
    }

    /// Draws one image's transform from `state` (a SplitMix64 stream): the shift from one
    /// step, as shift-only runs always drew it, then one step per other transform in use.
    pub fn draw(&self, state: &mut u64, rows: usize, cols: usize) -> Draw {
        let mut draw = Draw::IDENTITY;
        let mut next = || {
            *state = splitmix(*state);
            *state
        };
        if self.max_shift > 0 {
            let (max, value) = (self.max_shift as i64, next());
            let span = (2 * max + 1) as u64;
            draw.dx = (value % span) as i64 - max;
            draw.dy = (value / span % span) as i64 - max;
        }
        // A uniform number in [-1, 1] from the top 53 bits of a step.
        let mut symmetric = || (next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
        if self.max_rotation > 0.0 {
            draw.angle = self.max_rotation.to_radians() * symmetric();
        }
        if self.max_scale > 0.0 {
            draw.scale = 1.0 + self.max_scale * symmetric();
        }
        if self.min_crop < 1.0 {
            let unit = |v: f64| (v + 1.0) / 2.0;
            draw.crop = self.min_crop + (1.0 - self.min_crop) * unit(symmetric());
            draw.crop_x = (1.0 - draw.crop) * cols as f64 * unit(symmetric());
            draw.crop_y = (1.0 - draw.crop) * rows as f64 * unit(symmetric());
        }
        draw
    }

    /// Appends `image` (`[channels, rows, cols]` bytes) transformed by `draw`, as floats in
    /// `[0, 1]`; what comes in from outside the picture is background (0).
    pub fn apply(&self, draw: &Draw, image: &[u8], rows: usize, cols: usize, out: &mut Vec<f32>) {
        if self.only_shifts() {
            for channel in image.chunks(rows * cols) {
                push_shifted(out, channel, rows, cols, draw.dx, draw.dy);
            }
        } else {
            for channel in image.chunks(rows * cols) {
                push_resampled(out, channel, rows, cols, draw);
            }
        }
    }
}

/// Where a point of the transformed picture comes from in the original (pixel coordinates,
/// `(0, 0)` the top-left corner of the top-left pixel): the inverse of crop, then rotate and
/// scale about the centre, then translate.
fn source_of(draw: &Draw, rows: usize, cols: usize, x: f64, y: f64) -> (f64, f64) {
    let (cx, cy) = (cols as f64 / 2.0, rows as f64 / 2.0);
    let (x, y) = (x - draw.dx as f64 - cx, y - draw.dy as f64 - cy);
    // Rotating the picture by +angle (counter-clockwise on screen, y pointing down) samples it
    // at the point turned by -angle.
    let (sin, cos) = draw.angle.sin_cos();
    let (x, y) = ((cos * x - sin * y) / draw.scale + cx, (sin * x + cos * y) / draw.scale + cy);
    (draw.crop_x + x * draw.crop, draw.crop_y + y * draw.crop)
}

/// Where a point of the original picture lands in the transformed one (the inverse of
/// [`source_of`]); boxes move through it.
pub fn target_of(draw: &Draw, rows: usize, cols: usize, x: f64, y: f64) -> (f64, f64) {
    let (cx, cy) = (cols as f64 / 2.0, rows as f64 / 2.0);
    let (x, y) = ((x - draw.crop_x) / draw.crop - cx, (y - draw.crop_y) / draw.crop - cy);
    let (sin, cos) = draw.angle.sin_cos();
    let (x, y) = ((cos * x + sin * y) * draw.scale, (-sin * x + cos * y) * draw.scale);
    (x + cx + draw.dx as f64, y + cy + draw.dy as f64)
}

/// The box `[x_min, y_min, x_max, y_max]` (pixels) of an image after `draw`: the bounds of
/// its moved corners, kept inside the picture; as shares of the width and height.
pub fn moved_box(draw: &Draw, rows: usize, cols: usize, [x0, y0, x1, y1]: [u16; 4]) -> [f32; 4] {
    let corners =
        [(x0, y0), (x1, y0), (x0, y1), (x1, y1)].map(|(x, y)| target_of(draw, rows, cols, f64::from(x), f64::from(y)));
    let xs = corners.map(|c| c.0.clamp(0.0, cols as f64));
    let ys = corners.map(|c| c.1.clamp(0.0, rows as f64));
    let min = |v: [f64; 4]| v.into_iter().fold(f64::INFINITY, f64::min);
    let max = |v: [f64; 4]| v.into_iter().fold(f64::NEG_INFINITY, f64::max);
    [min(xs) / cols as f64, min(ys) / rows as f64, max(xs) / cols as f64, max(ys) / rows as f64].map(|v| v as f32)
}

/// Appends `image` ([rows, cols] bytes) moved by (dx, dy) pixels as floats in [0, 1]; what
/// moves in from outside is background (0).
pub fn push_shifted(out: &mut Vec<f32>, image: &[u8], rows: usize, cols: usize, dx: i64, dy: i64) {
    for y in 0..rows as i64 {
        for x in 0..cols as i64 {
            let (sx, sy) = (x - dx, y - dy);
            let inside = (0..cols as i64).contains(&sx) && (0..rows as i64).contains(&sy);
            let p = if inside { image[(sy * cols as i64 + sx) as usize] } else { 0 };
            out.push(f32::from(p) / 255.0);
        }
    }
}

/// Appends `image` ([rows, cols] bytes) transformed by `draw`, each pixel sampled bilinearly
/// at its centre's source point.
fn push_resampled(out: &mut Vec<f32>, image: &[u8], rows: usize, cols: usize, draw: &Draw) {
    let pixel = |x: i64, y: i64| -> f32 {
        if (0..cols as i64).contains(&x) && (0..rows as i64).contains(&y) {
            f32::from(image[y as usize * cols + x as usize])
        } else {
            0.0
        }
    };
    for y in 0..rows {
        for x in 0..cols {
            let (sx, sy) = source_of(draw, rows, cols, x as f64 + 0.5, y as f64 + 0.5);
            // Pixel centres sit at half-integers: the four around the source point.
            let (fx, fy) = (sx - 0.5, sy - 0.5);
            let (x0, y0) = (fx.floor() as i64, fy.floor() as i64);
            let (tx, ty) = ((fx - x0 as f64) as f32, (fy - y0 as f64) as f32);
            let top = pixel(x0, y0) * (1.0 - tx) + pixel(x0 + 1, y0) * tx;
            let bottom = pixel(x0, y0 + 1) * (1.0 - tx) + pixel(x0 + 1, y0 + 1) * tx;
            out.push((top * (1.0 - ty) + bottom * ty) / 255.0);
        }
    }
}

use zoo_data::rng::splitmix_step as splitmix;

#[cfg(test)]
mod tests {
    use super::*;

    /// A 5x5 picture with one lit pixel at (x, y).
    fn dot(x: usize, y: usize) -> Vec<u8> {
        let mut image = vec![0u8; 25];
        image[y * 5 + x] = 255;
        image
    }

    fn lit(pixels: &[f32]) -> Vec<usize> {
        pixels.iter().enumerate().filter(|(_, v)| **v > 0.5).map(|(i, _)| i).collect()
    }

    #[test]
    fn a_shifted_pixel_lands_where_expected() {
        let mut out = Vec::new();
        push_shifted(&mut out, &dot(2, 2), 5, 5, 1, -1);
        assert_eq!(lit(&out), vec![5 + 3], "centre (2,2) moved right and up to (3,1)");
        out.clear();
        push_shifted(&mut out, &dot(2, 2), 5, 5, 3, 0);
        assert!(out.iter().all(|v| *v == 0.0), "shifted out of the picture");
        // The resampling path agrees with the exact one on whole-pixel shifts.
        let (mut exact, mut resampled) = (Vec::new(), Vec::new());
        let draw = Draw { dx: -2, dy: 1, ..Draw::IDENTITY };
        push_shifted(&mut exact, &dot(3, 1), 5, 5, -2, 1);
        push_resampled(&mut resampled, &dot(3, 1), 5, 5, &draw);
        assert_eq!(exact, resampled);
    }

    #[test]
    fn rotation_by_zero_is_the_identity_and_a_quarter_turn_moves_a_pixel_round() {
        let image: Vec<u8> = (0..25).map(|i| (i * 10) as u8).collect();
        let mut out = Vec::new();
        push_resampled(&mut out, &image, 5, 5, &Draw::IDENTITY);
        let back: Vec<u8> = out.iter().map(|v| (v * 255.0).round() as u8).collect();
        assert_eq!(back, image);
        // A quarter turn counter-clockwise on screen: the pixel right of the centre goes to
        // the one above it.
        let mut out = Vec::new();
        let quarter = Draw { angle: std::f64::consts::FRAC_PI_2, ..Draw::IDENTITY };
        push_resampled(&mut out, &dot(3, 2), 5, 5, &quarter);
        assert_eq!(lit(&out), vec![5 + 2]);
    }

    #[test]
    fn scaling_and_cropping_move_pixels_away_from_and_towards_the_centre() {
        // Doubling about the centre (2.5, 2.5) takes the pixel centred at (3.5, 2.5) to (4.5, 2.5).
        let mut out = Vec::new();
        push_resampled(&mut out, &dot(3, 2), 5, 5, &Draw { scale: 2.0, ..Draw::IDENTITY });
        assert!(out[2 * 5 + 4] > 0.5, "{out:?}");
        // A crop of the top-left 3x3 (side 0.6, corner (0, 0)) stretched to 5x5 takes the
        // pixel centred at (1.5, 1.5) to (2.5, 2.5): the centre.
        let mut out = Vec::new();
        push_resampled(&mut out, &dot(1, 1), 5, 5, &Draw { crop: 0.6, ..Draw::IDENTITY });
        assert_eq!(lit(&out), vec![2 * 5 + 2]);
        // Boxes move with their image: the inverse map undoes the forward one.
        let draw = Draw { dx: 1, dy: -2, angle: 0.3, scale: 1.2, crop: 0.8, crop_x: 0.7, crop_y: 0.4 };
        let (x, y) = target_of(&draw, 5, 5, 1.25, 3.5);
        let (sx, sy) = source_of(&draw, 5, 5, x, y);
        assert!((sx - 1.25).abs() < 1e-9 && (sy - 3.5).abs() < 1e-9);
    }

    #[test]
    fn the_seed_fixes_the_draw_and_the_ranges_hold() {
        let augmentation = Augmentation { max_shift: 2, max_rotation: 15.0, max_scale: 0.1, min_crop: 0.8 };
        let draws = |seed: u64| {
            let mut state = seed;
            (0..200).map(|_| augmentation.draw(&mut state, 28, 28)).collect::<Vec<_>>()
        };
        assert_eq!(draws(5), draws(5));
        assert_ne!(draws(5), draws(6));
        for d in draws(5) {
            assert!(d.dx.abs() <= 2 && d.dy.abs() <= 2);
            assert!(d.angle.abs() <= 15f64.to_radians() && (0.9..=1.1).contains(&d.scale));
            assert!((0.8..=1.0).contains(&d.crop));
            assert!(d.crop_x >= 0.0 && d.crop_x + d.crop * 28.0 <= 28.0 + 1e-9);
        }
        // Shifts alone draw exactly as before the other transforms existed: one step each.
        let mut state = 9;
        let d = Augmentation::shift(2).draw(&mut state, 28, 28);
        let value = splitmix(9);
        assert_eq!((d.dx, d.dy), ((value % 5) as i64 - 2, (value / 5 % 5) as i64 - 2));
        assert_eq!(state, value);
    }
}
