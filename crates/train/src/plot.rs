//! Pictures a person opens: the training curves of a run (`curves.png`).

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::checkpoint::atomic_write;
use crate::metrics_log::EpochMetric;

/// DejaVu Sans (free licence, `assets/fonts/LICENSE-DejaVu.txt`): plotters draws text with it,
/// so the pictures need no system fonts.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TTF shipped with the crate; a failure would only lose text.
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Encodes an RGB buffer as PNG and writes it atomically.
pub fn write_png_rgb(path: &Path, width: u32, height: u32, rgb: Vec<u8>) -> std::io::Result<()> {
    let image = image::RgbImage::from_raw(width, height, rgb)
        .ok_or_else(|| std::io::Error::other("RGB buffer of the wrong size"))?;
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).map_err(std::io::Error::other)?;
    atomic_write(path, &bytes)
}

/// One panel per metric in `metrics` (e.g. Loss and Accuracy), train and valid curves against
/// the epoch. Metrics with no rows are left out.
pub fn training_curves(path: &Path, title: &str, rows: &[EpochMetric], metrics: &[&str]) -> std::io::Result<()> {
    register_fonts();
    let metrics: Vec<&str> = metrics.iter().copied().filter(|m| rows.iter().any(|r| r.metric == *m)).collect();
    if metrics.is_empty() {
        return Ok(());
    }
    let (width, height) = (560 * metrics.len() as u32, 420u32);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let (header, body) = root.split_vertically(36);
        header.titled(title, ("sans-serif", 22)).map_err(std::io::Error::other)?;
        for (panel, metric) in body.split_evenly((1, metrics.len())).iter().zip(&metrics) {
            draw_panel(panel, rows, metric, metric, None).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        root.present().map_err(std::io::Error::other)?;
    }
    write_png_rgb(path, width, height, rgb)
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Several runs side by side (`zoo compare`): one panel per run with its train and valid
/// curves of `metric`, on one vertical scale so the panels compare at a glance.
pub fn runs_panels(path: &Path, title: &str, runs: &[(String, Vec<EpochMetric>)], metric: &str) -> std::io::Result<()> {
    register_fonts();
    let values = runs.iter().flat_map(|(_, rows)| rows).filter(|r| r.metric == metric && r.value.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), r| (lo.min(r.value), hi.max(r.value)));
    let y_range = lo.is_finite().then_some((lo, hi));
    let columns = runs.len().clamp(1, 4);
    let rows_of_panels = runs.len().div_ceil(columns).max(1);
    let (width, height) = (440 * columns as u32, 36 + 340 * rows_of_panels as u32);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let (header, body) = root.split_vertically(36);
        header.titled(title, ("sans-serif", 22)).map_err(std::io::Error::other)?;
        for (panel, (label, rows)) in body.split_evenly((rows_of_panels, columns)).iter().zip(runs) {
            draw_panel(panel, rows, metric, label, y_range).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        root.present().map_err(std::io::Error::other)?;
    }
    write_png_rgb(path, width, height, rgb)
}

/// Train and valid curves of `metric` against the epoch, titled `caption`, on `y_range` when
/// given (else the panel's own).
fn draw_panel(
    area: &Area<'_>,
    rows: &[EpochMetric],
    metric: &str,
    caption: &str,
    y_range: Option<(f64, f64)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let series = |split: &str| -> Vec<(f64, f64)> {
        let mut points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.metric == metric && r.split == split && r.value.is_finite())
            .map(|r| (r.epoch as f64, r.value))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points
    };
    let (train, valid) = (series("train"), series("valid"));
    let all = train.iter().chain(&valid);
    let max_epoch = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = y_range
        .unwrap_or_else(|| all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1))));
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .margin(12)
        .caption(caption, ("sans-serif", 18))
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.5..max_epoch + 0.5, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(metric)
        .x_labels((max_epoch as usize).min(12))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 13))
        .draw()?;
    for (points, colour, name) in [(train, BLUE, "train"), (valid, RED, "valid")] {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

/// Return per episode (thin, light) with its moving average over `window` episodes (thick):
/// the picture of an RL run (`returns.png`).
pub fn episode_returns(path: &Path, title: &str, returns: &[f64], window: usize) -> std::io::Result<()> {
    register_fonts();
    let (width, height) = (900u32, 450u32);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw_returns(&root, title, returns, window.max(1)).map_err(|e| std::io::Error::other(e.to_string()))?;
        root.present().map_err(std::io::Error::other)?;
    }
    write_png_rgb(path, width, height, rgb)
}

fn draw_returns(
    area: &Area<'_>,
    title: &str,
    returns: &[f64],
    window: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let raw: Vec<(f64, f64)> = returns.iter().enumerate().map(|(i, r)| ((i + 1) as f64, *r)).collect();
    let averaged: Vec<(f64, f64)> = (0..returns.len())
        .map(|i| {
            let from = (i + 1).saturating_sub(window);
            let slice = &returns[from..=i];
            ((i + 1) as f64, slice.iter().sum::<f64>() / slice.len() as f64)
        })
        .collect();
    let (lo, hi) = returns.iter().fold((0.0f64, 1.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let pad = (hi - lo) * 0.05;
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .caption(title, ("sans-serif", 20))
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..(returns.len().max(1) as f64 + 1.0), (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("episode")
        .y_desc("return")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 13))
        .draw()?;
    chart
        .draw_series(LineSeries::new(raw, BLUE.mix(0.35).stroke_width(1)))?
        .label("return")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLUE.mix(0.35).stroke_width(2)));
    chart
        .draw_series(LineSeries::new(averaged, BLUE.stroke_width(3)))?
        .label(format!("mean of the last {window}"))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLUE.stroke_width(3)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

/// Greyscale images (`count` of `side` x `side` values in `[0, 1]`, 1 = ink) as a grid of
/// `columns` columns, each pixel drawn `scale` times, dark ink on white with 2-pixel gaps.
pub fn image_grid(path: &Path, pixels: &[f32], side: usize, columns: usize, scale: usize) -> std::io::Result<()> {
    let count = pixels.len() / (side * side);
    let columns = columns.clamp(1, count.max(1));
    let rows = count.div_ceil(columns);
    let (gap, cell) = (2usize, side * scale);
    let width = columns * (cell + gap) + gap;
    let height = rows * (cell + gap) + gap;
    let mut rgb = vec![255u8; width * height * 3];
    for i in 0..count {
        let (top, left) = (gap + (i / columns) * (cell + gap), gap + (i % columns) * (cell + gap));
        for y in 0..cell {
            for x in 0..cell {
                let v = pixels[i * side * side + (y / scale) * side + x / scale].clamp(0.0, 1.0);
                let grey = (255.0 * (1.0 - v)).round() as u8;
                let at = ((top + y) * width + left + x) * 3;
                rgb[at..at + 3].fill(grey);
            }
        }
    }
    write_png_rgb(path, width as u32, height as u32, rgb)
}

/// A scatter of 2-d points `(x, y, label)`, one colour per label, with a legend.
pub fn latent_scatter(path: &Path, title: &str, points: &[(f64, f64, u8)]) -> std::io::Result<()> {
    register_fonts();
    let (width, height) = (760u32, 700u32);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw_scatter(&root, title, points).map_err(|e| std::io::Error::other(e.to_string()))?;
        root.present().map_err(std::io::Error::other)?;
    }
    write_png_rgb(path, width, height, rgb)
}

fn draw_scatter(area: &Area<'_>, title: &str, points: &[(f64, f64, u8)]) -> Result<(), Box<dyn std::error::Error>> {
    let bounds = |f: fn(&(f64, f64, u8)) -> f64| {
        let (lo, hi) =
            points.iter().map(f).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if lo.is_finite() { (lo - 0.2, hi + 0.2) } else { (-1.0, 1.0) }
    };
    let ((x0, x1), (y0, y1)) = (bounds(|p| p.0), bounds(|p| p.1));
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .caption(title, ("sans-serif", 20))
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart.configure_mesh().x_desc("z1").y_desc("z2").label_style(("sans-serif", 13)).draw()?;
    let labels = points.iter().map(|p| p.2).max().map_or(0, |m| m as usize + 1);
    for label in 0..labels {
        let colour = Palette99::pick(label).to_rgba();
        chart
            .draw_series(
                points.iter().filter(|p| p.2 as usize == label).map(|p| Circle::new((p.0, p.1), 2, colour.filled())),
            )?
            .label(label.to_string())
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, colour.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

/// Lines over a shared step axis (truth and forecasts): one colour each, with a legend.
pub fn line_chart(path: &Path, title: &str, x_desc: &str, lines: &[(&str, &[f64])]) -> std::io::Result<()> {
    register_fonts();
    let (width, height) = (1000u32, 460u32);
    let mut rgb = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw_lines(&root, title, x_desc, lines).map_err(|e| std::io::Error::other(e.to_string()))?;
        root.present().map_err(std::io::Error::other)?;
    }
    write_png_rgb(path, width, height, rgb)
}

fn draw_lines(
    area: &Area<'_>,
    title: &str,
    x_desc: &str,
    lines: &[(&str, &[f64])],
) -> Result<(), Box<dyn std::error::Error>> {
    let len = lines.iter().map(|l| l.1.len()).max().unwrap_or(1).max(2);
    let (lo, hi) = lines
        .iter()
        .flat_map(|l| l.1.iter())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let pad = ((hi - lo) * 0.05).max(1e-9);
    let mut chart = ChartBuilder::on(area)
        .margin(14)
        .caption(title, ("sans-serif", 20))
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..(len - 1) as f64, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 13))
        .draw()?;
    let colours = [BLACK, BLUE, RGBColor(230, 120, 0), RED, GREEN];
    for (i, (name, values)) in lines.iter().enumerate() {
        let colour = colours[i % colours.len()];
        let width = if i == 0 { 2 } else { 1 };
        chart
            .draw_series(LineSeries::new(
                values.iter().enumerate().map(|(x, y)| (x as f64, *y)),
                colour.stroke_width(width),
            ))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

/// A picture with boxes to draw on it.
pub struct BoxedPicture {
    pub rgb: image::RgbImage,
    /// `([x_min, y_min, x_max, y_max]` in the picture's pixels, colour, label (empty: none)).
    pub boxes: Vec<([f32; 4], RGBColor, String)>,
}

/// Pictures with their boxes outlined and labelled, `columns` to a row, each pixel drawn
/// `scale` times, with 4-pixel grey gaps. A label sits above its box, or below it when the box
/// touches the picture's top.
pub fn boxed_grid(path: &Path, pictures: &[BoxedPicture], columns: usize, scale: usize) -> std::io::Result<()> {
    register_fonts();
    let columns = columns.clamp(1, pictures.len().max(1));
    let rows = pictures.len().div_ceil(columns).max(1);
    let cell_w = pictures.iter().map(|p| p.rgb.width() as usize).max().unwrap_or(1) * scale;
    let cell_h = pictures.iter().map(|p| p.rgb.height() as usize).max().unwrap_or(1) * scale;
    let gap = 4;
    let (width, height) = (columns * (cell_w + gap) + gap, rows * (cell_h + gap) + gap);
    // Grey gaps show where each picture ends.
    let mut rgb = vec![170u8; width * height * 3];
    let origin = |i: usize| (gap + (i % columns) * (cell_w + gap), gap + (i / columns) * (cell_h + gap));
    for (i, picture) in pictures.iter().enumerate() {
        let (left, top) = origin(i);
        for (x, y, pixel) in picture.rgb.enumerate_pixels() {
            for dy in 0..scale {
                for dx in 0..scale {
                    let at = ((top + y as usize * scale + dy) * width + left + x as usize * scale + dx) * 3;
                    rgb[at..at + 3].copy_from_slice(&pixel.0);
                }
            }
        }
    }
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (width as u32, height as u32)).into_drawing_area();
        // Readable on a small cell, in proportion on a large picture.
        let font_size = (cell_h / 16).clamp(12, 28) as i32;
        for (i, picture) in pictures.iter().enumerate() {
            let (left, top) = origin(i);
            let at = |v: f32, from: usize| from as i32 + (v * scale as f32).round() as i32;
            for (b, colour, label) in &picture.boxes {
                let (x0, y0, x1, y1) = (at(b[0], left), at(b[1], top), at(b[2], left), at(b[3], top));
                let outline = Rectangle::new([(x0, y0), (x1.max(x0 + 1), y1.max(y0 + 1))], colour.stroke_width(2));
                area.draw(&outline).map_err(std::io::Error::other)?;
                if !label.is_empty() {
                    // Above the box; below it when it touches the top; inside as a last resort.
                    let bottom = (top + cell_h) as i32;
                    let label_y = if y0 - font_size >= top as i32 {
                        y0 - font_size
                    } else if y1 + 2 + font_size <= bottom {
                        y1 + 2
                    } else {
                        y0 + 2
                    };
                    let style = ("sans-serif", font_size).into_font().color(colour);
                    area.draw(&Text::new(label.clone(), (x0 + 2, label_y), style)).map_err(std::io::Error::other)?;
                }
            }
        }
        area.present().map_err(std::io::Error::other)?;
    }
    write_png_rgb(path, width as u32, height as u32, rgb)
}
