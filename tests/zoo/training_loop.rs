//! The one training loop (`zoo_train::trainer`) with what no shipped model uses yet: a model
//! with two heads (a class and a box) on colour images with boxes, through the image loaders;
//! a loss per head in `metrics.csv`; resume; the NaN guard; early stopping.

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLossConfig, MseLoss, Reduction};
use burn::nn::{Linear, LinearConfig};
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use zoo_data::ImageSet;
use zoo_train::accumulate::HeldGradients;
use zoo_train::checkpoint::{load_module, load_optimizer, module_bytes, optimizer_bytes};
use zoo_train::dashboard::MetricSpec;
use zoo_train::fit::FitConfig;
use zoo_train::image_training::{ImageTrainer, ImageTraining};
use zoo_train::loader::ImageBatch;
use zoo_train::run::RunDir;
use zoo_train::trainer::{self, EarlyStopping, Outcome};

use crate::common::rng_lock;

const SIDE: usize = 8;

/// 8x8 RGB pictures, each with one bright 3x3 square: its class says whether the square is
/// in the left or the right half, its box is the square.
fn squares(n: usize) -> ImageSet {
    let (mut images, mut labels, mut boxes) = (Vec::new(), Vec::new(), Vec::new());
    let mut state = 7u64;
    for _ in 0..n {
        state = zoo_data::rng::splitmix_step(state);
        let (x, y) = ((state % 6) as usize, (state / 6 % 6) as usize);
        for channel in 0..3 {
            for row in 0..SIDE {
                for col in 0..SIDE {
                    let inside = (x..x + 3).contains(&col) && (y..y + 3).contains(&row);
                    images.push(if inside { 200 + 20 * channel as u8 } else { 10 });
                }
            }
        }
        labels.push(u8::from(x + 1 >= SIDE / 2));
        boxes.push([x as u16, y as u16, x as u16 + 3, y as u16 + 3]);
    }
    ImageSet::with_channels(images, labels, 3, SIDE, SIDE).unwrap().with_boxes(boxes).unwrap()
}

#[derive(Module, Debug)]
struct TwoHeads {
    body: Linear,
    class: Linear,
    place: Linear,
}

impl TwoHeads {
    fn new(device: &Device) -> Self {
        Self {
            body: LinearConfig::new(3 * SIDE * SIDE, 32).init(device),
            class: LinearConfig::new(32, 2).init(device),
            place: LinearConfig::new(32, 4).init(device),
        }
    }

    /// images `[batch, 3, 8, 8]` -> class logits `[batch, 2]` and box `[batch, 4]` in `[0, 1]`.
    fn forward(&self, images: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let x = relu(self.body.forward(images.flatten(1, 3)));
        (self.class.forward(x.clone()), sigmoid(self.place.forward(x)))
    }
}

struct TwoHeadTrainer {
    model: TwoHeads,
    optimizer: ModuleOptimizer,
    held: HeldGradients,
    /// Multiplies the learning rate (a huge one makes the loss overflow for the NaN guard).
    lr_scale: f64,
    device: Device,
}

impl TwoHeadTrainer {
    fn new(device: &Device, lr_scale: f64) -> Self {
        device.seed(1);
        Self {
            model: TwoHeads::new(&device.clone().autodiff()),
            optimizer: AdamConfig::new().init(),
            held: HeldGradients::default(),
            lr_scale,
            device: device.clone(),
        }
    }

    /// Both heads' losses and the accuracy of a batch.
    fn losses(model: &TwoHeads, batch: ImageBatch) -> (Tensor<1>, Tensor<1>, f64) {
        let boxes = batch.boxes.expect("the set has boxes");
        let (logits, place) = model.forward(batch.images);
        let class_loss =
            CrossEntropyLossConfig::new().init(&logits.device()).forward(logits.clone(), batch.targets.clone());
        let box_loss = MseLoss::new().forward(place, boxes, Reduction::Mean);
        let correct: i64 = logits.argmax(1).flatten::<1>(0, 1).equal(batch.targets.clone()).int().sum().into_scalar();
        (class_loss, box_loss, 100.0 * correct as f64 / batch.targets.dims()[0] as f64)
    }

    fn report(class_loss: Tensor<1>, box_loss: Tensor<1>, accuracy: f64) -> Vec<(&'static str, f64)> {
        let value = |t: Tensor<1>| f64::from(t.into_scalar::<f32>());
        vec![("Class Loss", value(class_loss)), ("Box Loss", value(box_loss)), ("Accuracy", accuracy)]
    }
}

impl ImageTrainer for TwoHeadTrainer {
    const METRICS: &'static [MetricSpec] =
        &[MetricSpec::lower("Class Loss"), MetricSpec::lower("Box Loss"), MetricSpec::higher("Accuracy")];
    const PARTS: &'static [&'static str] = &["model.bpk", "optim.bpk"];

    fn train_device(&self) -> Device {
        self.device.clone().autodiff()
    }
    fn device(&self) -> Device {
        self.device.clone()
    }
    fn train_batch(&mut self, batch: ImageBatch, lr: Option<&ModuleLearningRate>) -> Vec<(&'static str, f64)> {
        let (class_loss, box_loss, accuracy) = Self::losses(&self.model, batch);
        let grads = GradientsParams::from_grads((class_loss.clone() + box_loss.clone()).backward(), &self.model);
        let lr = lr.map(|lr| ModuleLearningRate::from(lr.base() * self.lr_scale));
        self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr.as_ref());
        Self::report(class_loss, box_loss, accuracy)
    }
    fn valid_batch(&mut self, batch: ImageBatch) -> Vec<(&'static str, f64)> {
        let (class_loss, box_loss, accuracy) = Self::losses(&self.model.valid(), batch);
        Self::report(class_loss, box_loss, accuracy)
    }
    fn save(&self) -> zoo_train::Result<Vec<Vec<u8>>> {
        Ok(vec![module_bytes(&self.model)?, optimizer_bytes(&self.optimizer)?])
    }
    fn load(&mut self, parts: Vec<Vec<u8>>) -> zoo_train::Result<()> {
        let [model, optim]: [Vec<u8>; 2] = parts.try_into().expect("two records");
        self.model = load_module(TwoHeads::new(&self.train_device()), model, std::path::Path::new("model.bpk"))?;
        self.optimizer = load_optimizer(AdamConfig::new().init(), optim)?;
        Ok(())
    }
    fn final_weights(&self) -> zoo_train::Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("model.bpk", module_bytes(&self.model.valid())?)])
    }
}

fn fit_settings(epochs: usize) -> FitConfig {
    FitConfig::new().with_epochs(epochs).with_batch_size(16).with_learning_rate(3e-3).with_max_shift(1)
}

/// The mean of `metric` in `split` after `epoch`, from `metrics.csv`.
fn metric(run: &RunDir, epoch: usize, split: &str, metric: &str) -> f64 {
    let rows = zoo_train::metrics_log::read_metrics(&run.file("metrics.csv")).unwrap();
    rows.iter().find(|r| r.epoch == epoch && r.split == split && r.metric == metric).map(|r| r.value).unwrap()
}

#[test]
fn a_two_headed_model_on_colour_images_with_boxes_trains_resumes_and_keeps_both_losses() {
    let _rng = rng_lock();
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::create(Some(&tmp.path().join("two")), "two-heads").unwrap();
    let mut training =
        ImageTraining::new("two-heads", fit_settings(2), TwoHeadTrainer::new(&device, 1.0), squares(400));
    let report = trainer::fit(&run, &mut training, None).unwrap();
    assert_eq!((report.outcome, report.epochs), (Outcome::Finished, 2));
    for split in ["train", "valid"] {
        for name in ["Class Loss", "Box Loss", "Accuracy"] {
            assert!(metric(&run, 2, split, name).is_finite(), "{split} {name}");
        }
    }
    assert!(metric(&run, 2, "train", "Box Loss") < metric(&run, 1, "train", "Box Loss"), "the box head learns");
    assert!(metric(&run, 2, "valid", "Accuracy") > 60.0, "the class head learns");
    assert!(run.file("model.bpk").is_file() && run.file("curves.png").is_file());

    // Two more epochs from the checkpoint of epoch 2.
    let mut resumed = ImageTraining::new("two-heads", fit_settings(4), TwoHeadTrainer::new(&device, 1.0), squares(400));
    let report = trainer::fit(&run, &mut resumed, Some(2)).unwrap();
    assert_eq!(report.epochs, 4);
    assert!(metric(&run, 4, "valid", "Box Loss") < metric(&run, 1, "valid", "Box Loss"));
}

#[test]
fn a_loss_that_overflows_stops_the_run_with_its_last_good_checkpoint() {
    let _rng = rng_lock();
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::create(Some(&tmp.path().join("nan")), "two-heads").unwrap();
    // A learning rate of 3e38 sends the weights, then the losses, past f32.
    let mut training =
        ImageTraining::new("two-heads", fit_settings(3), TwoHeadTrainer::new(&device, 1e41), squares(200));
    let error = trainer::fit(&run, &mut training, None).unwrap_err().to_string();
    assert!(error.contains("training diverged") && error.contains("--lr"), "{error}");
    assert!(!run.file("model.bpk").exists(), "no final weights from a diverged run");
}

#[test]
fn early_stopping_ends_the_run_when_the_watched_metric_stops_improving() {
    let _rng = rng_lock();
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::create(Some(&tmp.path().join("early")), "two-heads").unwrap();
    // A learning rate of 0: the validation loss never improves on epoch 1's.
    let rule = EarlyStopping::on("Box Loss", 1);
    let mut training =
        ImageTraining::new("two-heads", fit_settings(5), TwoHeadTrainer::new(&device, 0.0), squares(100))
            .with_early_stopping(rule);
    let report = trainer::fit(&run, &mut training, None).unwrap();
    assert_eq!((report.outcome, report.epochs), (Outcome::Finished, 2));
    assert!(run.file("model.bpk").is_file(), "the stopped run's weights are written");
}

#[test]
fn accumulating_two_batches_of_20_trains_as_batches_of_40() {
    let _rng = rng_lock();
    let device = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    // 400 pictures, 360 of them trained on: 9 batches of 40, or 18 of 20 in 9 steps of two.
    let train = |name: &str, fit: FitConfig| {
        let run = RunDir::create(Some(&tmp.path().join(name)), "two-heads").unwrap();
        let mut training = ImageTraining::new("two-heads", fit, TwoHeadTrainer::new(&device, 1.0), squares(400));
        trainer::fit(&run, &mut training, None).unwrap();
        run
    };
    let whole = train("whole", fit_settings(2).with_batch_size(40));
    let accumulated = train("accumulated", fit_settings(2).with_batch_size(20).with_accumulate_batches(2));
    let single = train("single", fit_settings(2).with_batch_size(20));
    for (epoch, split, name) in [(1, "train", "Class Loss"), (2, "train", "Box Loss"), (2, "valid", "Box Loss")] {
        let (a, b) = (metric(&whole, epoch, split, name), metric(&accumulated, epoch, split, name));
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1e-3), "epoch {epoch} {split} {name}: {a} vs {b}");
    }
    // Without accumulation, batches of 20 take twice the steps and land elsewhere.
    let (a, c) = (metric(&whole, 2, "valid", "Box Loss"), metric(&single, 2, "valid", "Box Loss"));
    assert!((a - c).abs() > 1e-4 * a.abs(), "{a} vs {c}");
}
