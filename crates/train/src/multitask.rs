//! `multitask` (item 30): what digit, and where. Recipe, trainer (a class loss and a box loss,
//! weighted), `zoo eval` (accuracy, mean IoU, IoU > 0.5 on the test canvases), `zoo predict`
//! (class, probability and box of a picture, drawn when asked) and `zoo sample` (test canvases
//! with the true and the predicted box).

use std::path::{Path, PathBuf};

use burn::nn::loss::{CrossEntropyLossConfig, MseLoss, Reduction};
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use plotters::style::RGBColor;
use serde::{Deserialize, Serialize};
use zoo_data::canvas::{CanvasSpec, make_canvases};
use zoo_data::{ImageSet, Split};
use zoo_models::{MultiTask, MultiTaskConfig, MultiTaskOutput};

use crate::accumulate::HeldGradients;
use crate::checkpoint::{load_model_and_optimizer, module_bytes, optimizer_bytes, read_module};
use crate::dashboard::MetricSpec;
use crate::error::{Result, ResultExt, ZooError};
use crate::fit::{FitConfig, LrSchedule};
use crate::generative::{image_batch, picture_path, test_set, to_vec};
use crate::image::trained_weights;
use crate::image_training::{ImageRecipe, ImageTrainer, ImageTraining};
use crate::loader::ImageBatch;
use crate::plot::{BoxedPicture, boxed_grid};
use crate::recipes::Recipe;
use crate::run::{RunDir, RunInfo, timestamp_iso};

/// How the canvases are made from the digits (see [`zoo_data::canvas`]).
#[derive(Config, Debug)]
pub struct CanvasConfig {
    /// Side of the square canvas, in pixels.
    #[config(default = 64)]
    pub side: usize,
    /// The digit's 28x28 frame is scaled to a side between these (its ink fills about 20/28).
    #[config(default = 14)]
    pub min_size: usize,
    #[config(default = 48)]
    pub max_size: usize,
    /// Strokes cut from other digits, scattered outside the digit's box.
    #[config(default = 0)]
    pub distractors: usize,
    /// Seeds the sizes and places; the test canvases draw from another stream of it.
    #[config(default = 0)]
    pub seed: u64,
}

impl CanvasConfig {
    pub fn spec(&self) -> CanvasSpec {
        CanvasSpec {
            side: self.side,
            min_size: self.min_size,
            max_size: self.max_size,
            distractors: self.distractors,
            seed: self.seed,
        }
    }

    /// The canvases of a split's digits.
    pub fn canvases(&self, digits: &ImageSet, split: Split) -> Result<ImageSet> {
        let stream = match split {
            Split::Train => 0,
            Split::Test => 1,
        };
        Ok(make_canvases(digits, &self.spec(), stream)?)
    }
}

/// The box head's loss.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum BoxLoss {
    /// Mean squared error of the four numbers (the article's).
    Mse,
    /// Mean absolute error of the four numbers.
    L1,
    /// `1 - GIoU` (Rezatofighi et al. 2019): the overlap itself, whatever the box's size.
    Giou,
}

/// The two losses and their weights: `class_weight * cross-entropy + box_weight * box loss`.
/// A weight of 0 trains one head only (the single-task baselines).
#[derive(Config, Debug)]
pub struct MultiTaskLoss {
    #[config(default = 1.0)]
    pub class_weight: f64,
    #[config(default = 1.0)]
    pub box_weight: f64,
    #[config(default = "BoxLoss::Giou")]
    pub box_loss: BoxLoss,
}

/// Recipe of `multitask`: what `config.json` holds.
#[derive(Config, Debug)]
pub struct MultiTaskRecipe {
    pub model: MultiTaskConfig,
    pub canvas: CanvasConfig,
    pub loss: MultiTaskLoss,
    /// Adam's moments and epsilon (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    pub fit: FitConfig,
}

impl Recipe for MultiTaskRecipe {
    const NAME: &'static str = "multitask";

    fn default_recipe() -> Self {
        let fit = FitConfig::new().with_epochs(12).with_batch_size(64).with_schedule(LrSchedule::Cosine);
        Self::new(MultiTaskConfig::new(), CanvasConfig::new(), MultiTaskLoss::new(), AdamConfig::new(), fit)
    }
}

crate::fit_recipe!(MultiTaskRecipe);

impl MultiTaskRecipe {
    /// The network as the recipe and the canvas say.
    fn model_config(&self) -> MultiTaskConfig {
        self.model.clone().with_side(self.canvas.side)
    }
}

impl ImageRecipe for MultiTaskRecipe {
    type Trainer = MultiTaskTrainer;

    fn trainer(&self, device: &Device) -> MultiTaskTrainer {
        device.seed(self.fit.seed);
        let train_device = device.clone().autodiff();
        MultiTaskTrainer {
            model: self.model_config().init(&train_device),
            optimizer: self.fit.build_optimizer(&self.optimizer, 0.0),
            held: HeldGradients::default(),
            recipe: self.clone(),
            train_device,
            device: device.clone(),
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        self.canvas.spec().check()?;
        self.model_config().check()?;
        let weights = [("loss.class_weight", self.loss.class_weight), ("loss.box_weight", self.loss.box_weight)];
        if let Some((field, w)) = weights.iter().find(|(_, w)| !(w.is_finite() && *w >= 0.0)) {
            return Err(format!("{field}: {w} must be a number of at least 0"));
        }
        if self.loss.class_weight == 0.0 && self.loss.box_weight == 0.0 {
            return Err("loss.class_weight and loss.box_weight are both 0: nothing would be learnt".to_string());
        }
        Ok(())
    }

    fn prepare(&self, set: ImageSet, split: Split) -> Result<ImageSet> {
        self.canvas.canvases(&set, split)
    }

    fn adapt_to(&mut self, train: &ImageSet) {
        self.model.num_classes = train.num_classes;
    }

    fn describe_data(&self, train: &ImageSet) -> String {
        format!(
            "{} classes, digits of {}-{} px on {s}x{s} canvases",
            train.num_classes,
            self.canvas.min_size,
            self.canvas.max_size,
            s = self.canvas.side
        )
    }
}

/// Per-box IoU and GIoU of predicted and true boxes (corners as fractions; a predicted box's
/// corners are taken in whichever order they come).
///
/// # Shapes
/// - predicted, truth: `[batch, 4]` `[x_min, y_min, x_max, y_max]`
/// - output: `([batch], [batch])`
pub fn iou_giou(predicted: Tensor<2>, truth: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
    let [batch, _] = predicted.dims();
    let column = |t: &Tensor<2>, i: usize| t.clone().slice([0..batch, i..i + 1]).flatten::<1>(0, 1);
    let (a0, a1) = (column(&predicted, 0), column(&predicted, 2));
    let (b0, b1) = (column(&predicted, 1), column(&predicted, 3));
    let (px0, px1, py0, py1) =
        (a0.clone().min_pair(a1.clone()), a0.max_pair(a1), b0.clone().min_pair(b1.clone()), b0.max_pair(b1));
    let (tx0, ty0, tx1, ty1) = (column(&truth, 0), column(&truth, 1), column(&truth, 2), column(&truth, 3));
    let overlap = |lo0: &Tensor<1>, hi0: &Tensor<1>, lo1: &Tensor<1>, hi1: &Tensor<1>| {
        (hi0.clone().min_pair(hi1.clone()) - lo0.clone().max_pair(lo1.clone())).clamp_min(0.0)
    };
    let intersection = overlap(&px0, &px1, &tx0, &tx1) * overlap(&py0, &py1, &ty0, &ty1);
    let area_p = (px1.clone() - px0.clone()) * (py1.clone() - py0.clone());
    let area_t = (tx1.clone() - tx0.clone()) * (ty1.clone() - ty0.clone());
    let union = area_p + area_t - intersection.clone() + 1e-7;
    let iou = intersection / union.clone();
    let enclosing = (px1.max_pair(tx1) - px0.min_pair(tx0)) * (py1.max_pair(ty1) - py0.min_pair(ty0)) + 1e-7;
    let giou = iou.clone() - (enclosing.clone() - union) / enclosing;
    (iou, giou)
}

/// A predicted box's corners as `[x_min, y_min, x_max, y_max]`, whichever order the head gave
/// them in (as [`iou_giou`] reads them).
pub fn corners([x0, y0, x1, y1]: [f32; 4]) -> [f32; 4] {
    [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)]
}

/// IoU of two boxes `[x_min, y_min, x_max, y_max]` (max exclusive, any unit).
pub fn iou(a: [f32; 4], b: [f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// A batch's losses and figures.
struct Step {
    class_loss: Tensor<1>,
    box_loss: Tensor<1>,
    logits: Tensor<2>,
    iou: Tensor<1>,
}

impl Step {
    fn of(output: MultiTaskOutput, batch: &ImageBatch, kind: BoxLoss) -> Self {
        let boxes = batch.boxes.clone().expect("canvases have boxes");
        let MultiTaskOutput { logits, boxes: predicted } = output;
        let class_loss =
            CrossEntropyLossConfig::new().init(&logits.device()).forward(logits.clone(), batch.targets.clone());
        let (iou, giou) = iou_giou(predicted.clone(), boxes.clone());
        let box_loss = match kind {
            BoxLoss::Mse => MseLoss::new().forward(predicted, boxes, Reduction::Mean),
            BoxLoss::L1 => (predicted - boxes).abs().mean(),
            BoxLoss::Giou => (giou.neg() + 1.0).mean(),
        };
        Self { class_loss, box_loss, logits, iou }
    }

    /// The figures the dashboard shows, read back from the device.
    fn metrics(self, targets: Tensor<1, Int>) -> Vec<(&'static str, f64)> {
        let size = targets.dims()[0].max(1) as f64;
        let value = |t: Tensor<1>| f64::from(t.into_scalar::<f32>());
        let correct = self.logits.argmax(1).flatten::<1>(0, 1).equal(targets).int().sum().into_scalar::<i64>();
        let hits = self.iou.clone().greater_elem(0.5).int().sum().into_scalar::<i64>();
        vec![
            ("Class Loss", value(self.class_loss)),
            ("Box Loss", value(self.box_loss)),
            ("Accuracy", 100.0 * correct as f64 / size),
            ("Mean IoU", value(self.iou.mean())),
            ("IoU > 0.5", 100.0 * hits as f64 / size),
        ]
    }
}

pub struct MultiTaskTrainer {
    pub model: MultiTask,
    optimizer: ModuleOptimizer,
    /// Gradients gathered for the next optimiser step (`fit.accumulate_batches`).
    held: HeldGradients,
    recipe: MultiTaskRecipe,
    train_device: Device,
    device: Device,
}

impl ImageTrainer for MultiTaskTrainer {
    const METRICS: &'static [MetricSpec] = &[
        MetricSpec::lower("Class Loss"),
        MetricSpec::lower("Box Loss"),
        MetricSpec::higher("Accuracy"),
        MetricSpec::higher("Mean IoU"),
        MetricSpec::higher("IoU > 0.5"),
    ];
    const PARTS: &'static [&'static str] = &["model.bpk", "optim.bpk"];

    fn train_device(&self) -> Device {
        self.train_device.clone()
    }
    fn device(&self) -> Device {
        self.device.clone()
    }

    fn train_batch(&mut self, batch: ImageBatch, lr: Option<&ModuleLearningRate>) -> Vec<(&'static str, f64)> {
        let step = Step::of(self.model.forward(batch.images.clone()), &batch, self.recipe.loss.box_loss);
        let loss = &self.recipe.loss;
        let objective = step.class_loss.clone() * loss.class_weight + step.box_loss.clone() * loss.box_weight;
        let grads = GradientsParams::from_grads(objective.backward(), &self.model);
        self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr);
        step.metrics(batch.targets)
    }

    fn valid_batch(&mut self, batch: ImageBatch) -> Vec<(&'static str, f64)> {
        let step = Step::of(self.model.valid().forward(batch.images.clone()), &batch, self.recipe.loss.box_loss);
        step.metrics(batch.targets)
    }

    fn pictures(&mut self, run: &RunDir, epoch: usize, valid: &ImageSet) -> Result<()> {
        let path = run.file(&format!("samples/epoch-{epoch:03}.png"));
        boxes_grid(&self.model.valid(), valid, 16, &self.device, &path)
    }

    fn describe_outputs(&self) -> &'static str {
        "pictures samples/"
    }

    fn save(&self) -> Result<Vec<Vec<u8>>> {
        Ok(vec![module_bytes(&self.model)?, optimizer_bytes(&self.optimizer)?])
    }

    fn load(&mut self, parts: Vec<Vec<u8>>) -> Result<()> {
        let fresh = self.recipe.model_config().init(&self.train_device);
        let optimizer = std::mem::replace(&mut self.optimizer, AdamConfig::new().init());
        (self.model, self.optimizer) = load_model_and_optimizer(parts, fresh, optimizer)?;
        Ok(())
    }

    fn final_weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("model.bpk", module_bytes(&self.model.valid())?)])
    }
}

const TRUTH: RGBColor = RGBColor(0, 160, 60);
const PREDICTED: RGBColor = RGBColor(220, 30, 30);

/// A canvas as a picture: ink dark on white.
fn canvas_picture(pixels: &[f32], side: usize) -> image::RgbImage {
    image::RgbImage::from_fn(side as u32, side as u32, |x, y| {
        let grey = (255.0 * (1.0 - pixels[y as usize * side + x as usize].clamp(0.0, 1.0))).round() as u8;
        image::Rgb([grey, grey, grey])
    })
}

/// The first `n` canvases of `set`, each with its true box (green) and the predicted one (red,
/// labelled with the predicted class and its probability), 8 to a row.
pub fn boxes_grid(model: &MultiTask, set: &ImageSet, n: usize, device: &Device, path: &Path) -> Result<()> {
    let n = n.min(set.len());
    let side = set.rows;
    let images = image_batch(set, n, device);
    let pixels = to_vec(images.clone())?;
    let output = model.forward(images);
    let probabilities = to_vec(softmax(output.logits, 1))?;
    let boxes = to_vec(output.boxes)?;
    let classes = probabilities.len() / n.max(1);
    let pictures: Vec<BoxedPicture> = (0..n)
        .map(|i| {
            let (class, p) = best(&probabilities[i * classes..(i + 1) * classes]);
            let truth = set.boxes[i].map(f32::from);
            let predicted = corners(std::array::from_fn(|k| boxes[i * 4 + k] * side as f32));
            BoxedPicture {
                rgb: canvas_picture(&pixels[i * side * side..(i + 1) * side * side], side),
                boxes: vec![
                    (truth, TRUTH, String::new()),
                    (predicted, PREDICTED, format!("{class} ({:.0}%)", 100.0 * p)),
                ],
            }
        })
        .collect();
    boxed_grid(path, &pictures, 8, 3).with_path(path)
}

/// The likeliest class and its probability.
fn best(probabilities: &[f32]) -> (usize, f32) {
    probabilities.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0))
}

/// A run's recipe and trained network on `device`.
pub fn load(run_dir: &Path, device: &Device) -> Result<(RunDir, RunInfo, MultiTaskRecipe, MultiTask)> {
    let (run, info) = RunDir::open(run_dir, MultiTaskRecipe::NAME)?;
    let recipe: MultiTaskRecipe = run.read_recipe()?;
    let path = trained_weights::<ImageTraining<MultiTaskTrainer>>(&run)?;
    let model = read_module(recipe.model_config().init(device), &path)?;
    Ok((run, info, recipe, model))
}

/// The test canvases of a run (its data, or `--data`), made as the recipe says.
fn test_canvases(recipe: &MultiTaskRecipe, info: &RunInfo, data: Option<&Path>) -> Result<(ImageSet, String)> {
    let (digits, describe) = test_set(info, data)?;
    let digits = recipe.fit.select_classes(digits).map_err(ZooError::usage)?;
    Ok((recipe.canvas.canvases(&digits, Split::Test)?, describe))
}

/// What `zoo eval multitask` reports and `eval.json` keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MultiTaskEval {
    pub model: String,
    pub data: String,
    pub canvases: usize,
    /// In percent.
    pub accuracy: f64,
    pub mean_iou: f64,
    /// Share of canvases whose predicted box overlaps the true one with IoU > 0.5, in percent.
    pub iou_above_half: f64,
    /// By the digit's box height: `(label, canvases, class accuracy in percent, mean IoU)`.
    pub by_size: Vec<(String, usize, f64, f64)>,
    pub evaluated: String,
}

pub fn eval(run_dir: &Path, data: Option<&Path>, device: &Device) -> Result<MultiTaskEval> {
    let (run, info, recipe, model) = load(run_dir, device)?;
    let (set, describe) = test_canvases(&recipe, &info, data)?;
    let side = set.rows as f32;
    let (mut correct, mut iou_sum, mut hits) = (0usize, 0.0f64, 0usize);
    // Box heights in thirds of the range the canvases draw from.
    let (low, high) = (recipe.canvas.min_size as f32 * 0.7, recipe.canvas.max_size as f32 * 0.75);
    let edges = [low + (high - low) / 3.0, low + 2.0 * (high - low) / 3.0];
    let mut by_size = [(0usize, 0usize, 0.0f64); 3];
    for start in (0..set.len()).step_by(500) {
        let chunk = set.subset(start..(start + 500).min(set.len()));
        let output = model.forward(image_batch(&chunk, chunk.len(), device));
        let predicted_class = crate::read::ints(output.logits.argmax(1).flatten::<1>(0, 1))?;
        let boxes = to_vec(output.boxes)?;
        for i in 0..chunk.len() {
            let right = usize::from(predicted_class[i] as u8 == chunk.labels[i]);
            correct += right;
            let truth = chunk.boxes[i].map(f32::from);
            let predicted = corners(std::array::from_fn(|k| boxes[i * 4 + k] * side));
            let overlap = iou(predicted, truth);
            iou_sum += f64::from(overlap);
            hits += usize::from(overlap > 0.5);
            let height = truth[3] - truth[1];
            let bucket = edges.iter().filter(|&&e| height >= e).count();
            by_size[bucket].0 += 1;
            by_size[bucket].1 += right;
            by_size[bucket].2 += f64::from(overlap);
        }
    }
    let n = set.len().max(1) as f64;
    let labels = [
        format!("under {:.0} px", edges[0]),
        format!("{:.0}-{:.0} px", edges[0], edges[1]),
        format!("{:.0} px and over", edges[1]),
    ];
    let report = MultiTaskEval {
        model: MultiTaskRecipe::NAME.into(),
        data: describe,
        canvases: set.len(),
        accuracy: 100.0 * correct as f64 / n,
        mean_iou: iou_sum / n,
        iou_above_half: 100.0 * hits as f64 / n,
        by_size: labels
            .into_iter()
            .zip(by_size)
            .map(|(label, (count, right, iou))| {
                let n = count.max(1) as f64;
                (label, count, 100.0 * right as f64 / n, iou / n)
            })
            .collect(),
        evaluated: timestamp_iso(),
    };
    run.write_json("eval.json", &report)?;
    Ok(report)
}

/// What `zoo predict multitask` says of a picture.
#[derive(Clone, Debug)]
pub struct Located {
    pub file: PathBuf,
    pub class: String,
    pub probability: f32,
    /// `[x_min, y_min, x_max, y_max]` in the picture's pixels.
    pub bounds: [f32; 4],
}

/// The likeliest class of a prepared picture, its probability, and its box
/// `[x_min, y_min, x_max, y_max]` in the picture's pixels.
pub fn locate(
    model: &MultiTask,
    recipe: &MultiTaskRecipe,
    canvas: &zoo_data::image_prep::PictureCanvas,
    device: &Device,
) -> Result<(String, f32, [f32; 4])> {
    let side = recipe.canvas.side;
    let images = Tensor::<4>::from_data(TensorData::new(canvas.pixels.clone(), [1, 1, side, side]), device);
    let output = model.forward(images);
    let (class, probability) = best(&to_vec(softmax(output.logits, 1))?);
    let fractions = to_vec(output.boxes)?;
    let bounds = canvas.to_picture(corners(std::array::from_fn(|k| fractions[k])), side);
    let class = recipe.fit.classes.get(class).map_or(class.to_string(), |c| c.to_string());
    Ok((class, probability, bounds))
}

/// The class, its probability and the box of each picture; with `out`, the (single) picture
/// with its box and label drawn on it.
pub fn predict(run_dir: &Path, files: &[PathBuf], out: Option<&Path>, device: &Device) -> Result<Vec<Located>> {
    if out.is_some() && files.len() != 1 {
        return Err(ZooError::usage("--out draws one picture; give one picture with it".to_string()));
    }
    let (_, _, recipe, model) = load(run_dir, device)?;
    let side = recipe.canvas.side;
    let mut answers = Vec::with_capacity(files.len());
    for file in files {
        let canvas = zoo_data::image_prep::load_as_canvas(file, side)?;
        let (class, probability, bounds) = locate(&model, &recipe, &canvas, device)?;
        if let Some(path) = out {
            // Small pictures are drawn larger so the label can be read.
            let longer = canvas.original.width().max(canvas.original.height()) as usize;
            let scale = (256 / longer.max(1)).max(1);
            let label = format!("{class} ({:.0}%)", 100.0 * probability);
            let picture = BoxedPicture { rgb: canvas.original.clone(), boxes: vec![(bounds, PREDICTED, label)] };
            boxed_grid(path, &[picture], 1, scale).with_path(path)?;
        }
        answers.push(Located { file: file.clone(), class, probability, bounds });
    }
    Ok(answers)
}

/// `zoo sample multitask`: `n` test canvases with their true and predicted boxes.
pub fn sample(run_dir: &Path, n: usize, out: Option<&Path>, device: &Device) -> Result<Vec<PathBuf>> {
    let (run, info, recipe, model) = load(run_dir, device)?;
    let (set, _) = test_canvases(&recipe, &info, None)?;
    let path = picture_path(&run, out, "boxes.png");
    boxes_grid(&model, &set, n, device, &path)?;
    Ok(vec![path])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_and_giou_of_hand_computed_boxes() {
        let device = Device::default();
        let boxes =
            |rows: &[[f32; 4]]| Tensor::<2>::from_data(TensorData::new(rows.concat(), [rows.len(), 4]), &device);
        // Half-overlapping squares: intersection 0.5x1, union 1.5 -> IoU 1/3; enclosing 1.5,
        // so GIoU = IoU. Disjoint unit squares 1 apart: IoU 0, enclosing 3, union 2 -> -1/3.
        // Identical: 1 and 1. Corners given in reverse order count as the same box.
        let predicted =
            boxes(&[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.6, 0.6], [1.0, 1.0, 0.0, 0.0]]);
        let truth = boxes(&[[0.5, 0.0, 1.5, 1.0], [2.0, 0.0, 3.0, 1.0], [0.2, 0.2, 0.6, 0.6], [0.5, 0.0, 1.5, 1.0]]);
        let (iou_t, giou_t) = iou_giou(predicted, truth);
        let iou_v = to_vec(iou_t).unwrap();
        let giou_v = to_vec(giou_t).unwrap();
        let expected_iou = [1.0 / 3.0, 0.0, 1.0, 1.0 / 3.0];
        let expected_giou = [1.0 / 3.0, -1.0 / 3.0, 1.0, 1.0 / 3.0];
        for i in 0..4 {
            assert!((iou_v[i] - expected_iou[i]).abs() < 1e-5, "IoU {i}: {}", iou_v[i]);
            assert!((giou_v[i] - expected_giou[i]).abs() < 1e-5, "GIoU {i}: {}", giou_v[i]);
        }
        assert!((iou([0.0, 0.0, 1.0, 1.0], [0.5, 0.0, 1.5, 1.0]) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou([0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 3.0, 1.0]), 0.0);
        // A 4x4 box inside a 8x8 one: 16 / 64.
        assert_eq!(iou([0.0, 0.0, 8.0, 8.0], [2.0, 2.0, 6.0, 6.0]), 0.25);
    }
}
