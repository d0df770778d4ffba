//! Item 2's toolkit against overfitting: early stopping keeping the best epoch's weights,
//! L1/L2 penalties and decoupled weight decay, k-fold cross-validation end to end, and the
//! augmented-image grid. (Augmentation's transforms and the folds' dealing have unit tests
//! beside their code.)

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use serde_json::{Map, Value};
use zoo_train::dashboard::MetricSpec;
use zoo_train::fit::{FitConfig, Optimizer};
use zoo_train::regularize::Regularization;
use zoo_train::run::RunDir;
use zoo_train::trainer::{self, EarlyStopping, Outcome, Reporter, Training};

use crate::common::{assert_clean_error, stderr, stdout, zoo};

/// A family whose validation loss follows a script, epoch by epoch; its "weights" are the
/// number of the epoch that made them, so the files say which epoch they come from.
struct Scripted {
    losses: Vec<f64>,
    epoch: usize,
    rule: EarlyStopping,
}

impl Training for Scripted {
    const PARTS: &'static [&'static str] = &["model.bpk"];
    const UNIT: &'static str = "steps";

    fn name(&self) -> &str {
        "scripted"
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::lower("Loss")]
    }
    fn curves(&self) -> Vec<&'static str> {
        vec!["Loss"]
    }
    fn epochs(&self) -> usize {
        self.losses.len()
    }
    fn early_stopping(&self) -> Option<EarlyStopping> {
        Some(self.rule.clone())
    }
    fn weights(&self) -> zoo_train::Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("model.bpk", vec![self.epoch as u8])])
    }
    fn save(&self) -> zoo_train::Result<Vec<Vec<u8>>> {
        Ok(vec![vec![self.epoch as u8]])
    }
    fn load(&mut self, parts: Vec<Vec<u8>>, _epoch: usize) -> zoo_train::Result<()> {
        self.epoch = usize::from(parts[0][0]);
        Ok(())
    }
    fn state(&self) -> Map<String, Value> {
        Map::new()
    }
    fn train_items(&self, _epoch: usize) -> usize {
        1
    }
    fn train_epoch(&mut self, epoch: usize, report: &mut Reporter) -> zoo_train::Result<()> {
        self.epoch = epoch;
        report.value("Loss", 1.0);
        report.progress(1);
        Ok(())
    }
    fn valid_items(&self) -> usize {
        1
    }
    fn validate(&mut self, epoch: usize, report: &mut Reporter) -> zoo_train::Result<()> {
        report.value("Loss", self.losses[epoch - 1]);
        report.progress(1);
        Ok(())
    }
    fn finish(&mut self, run: &RunDir, epochs: usize) -> zoo_train::Result<(String, String)> {
        trainer::write_files(run, self.weights()?)?;
        Ok((trainer::epochs_done(epochs), "weights model.bpk".into()))
    }
}

fn scripted(losses: &[f64], rule: EarlyStopping, run: &RunDir) -> trainer::FitReport {
    let mut training = Scripted { losses: losses.to_vec(), epoch: 0, rule };
    trainer::fit(run, &mut training, None).unwrap()
}

#[test]
fn early_stopping_stops_at_the_right_epoch_and_keeps_the_best_weights() {
    let temp = tempfile::tempdir().unwrap();
    // Best at epoch 3; epochs 4 and 5 do not improve on it: patience 2 stops after epoch 5.
    let run = RunDir::create(Some(&temp.path().join("a")), "scripted").unwrap();
    let report = scripted(&[0.9, 0.5, 0.3, 0.35, 0.31, 0.1, 0.05], EarlyStopping::on("Loss", 2), &run);
    assert_eq!((report.outcome, report.epochs), (Outcome::Finished, 5));
    assert_eq!(std::fs::read(run.file("model.bpk")).unwrap(), vec![3], "the model is the best epoch's");
    assert_eq!(std::fs::read(run.file("last.bpk")).unwrap(), vec![5], "last.bpk is the last epoch's");
    assert!(!run.file("best-model.bpk").exists(), "the best copy became the model");
    let csv = std::fs::read_to_string(run.file("metrics.csv")).unwrap();
    assert!(csv.contains("5,valid,Epochs Without Improvement,2"), "metrics.csv says why it stopped: {csv}");

    // min_delta: 0.3 -> 0.29 is not enough of an improvement; 0.3 -> 0.2 is.
    let run = RunDir::create(Some(&temp.path().join("b")), "scripted").unwrap();
    let rule = EarlyStopping::on("Loss", 2).with_min_delta(0.05);
    let report = scripted(&[0.3, 0.29, 0.2, 0.19, 0.18, 0.17], rule, &run);
    assert_eq!(report.epochs, 5);
    assert_eq!(std::fs::read(run.file("model.bpk")).unwrap(), vec![3]);

    // A metric the family does not report is the user's mistake, named.
    let run = RunDir::create(Some(&temp.path().join("c")), "scripted").unwrap();
    let mut training = Scripted { losses: vec![0.5; 3], epoch: 0, rule: EarlyStopping::on("Acuracy", 2) };
    let error = trainer::fit(&run, &mut training, None).unwrap_err().to_string();
    assert!(error.contains("`Acuracy` is not a metric of scripted; it reports Loss"), "{error}");
}

#[derive(Module, Debug)]
struct Weights {
    matrix: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

#[test]
fn penalties_match_a_hand_computation_in_value_and_gradient() {
    let device = Device::flex().autodiff();
    let module = Weights {
        matrix: Param::from_tensor(Tensor::from_data([[1.0, -2.0], [0.5, 0.0]], &device)),
        bias: Param::from_tensor(Tensor::from_data([3.0, -4.0], &device)),
    };
    let regularization = Regularization::new().with_l1(0.1).with_l2(0.01);
    let penalty = regularization.penalty(&module).expect("a penalty");
    // Biases go free: 0.1 * (1 + 2 + 0.5 + 0) + 0.01 * (1 + 4 + 0.25 + 0) = 0.35 + 0.0525.
    let value = f64::from(penalty.clone().into_scalar::<f32>());
    assert!((value - 0.4025).abs() < 1e-6, "{value}");
    // Gradient: 0.1 * sign(w) + 0.02 * w (sign(0) = 0).
    let grads = GradientsParams::from_grads(penalty.backward(), &module);
    let matrix: Vec<f32> = grads.get::<2>(module.matrix.id).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let expected = [0.1 + 0.02, -0.1 - 0.04, 0.1 + 0.01, 0.0];
    for (got, want) in matrix.iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "{matrix:?} vs {expected:?}");
    }
    assert!(grads.get::<1>(module.bias.id).is_none(), "no penalty on biases");
    assert!(Regularization::new().penalty(&module).is_none(), "off by default");
}

#[test]
fn a_step_with_weight_decay_shrinks_a_weight_by_lr_times_decay() {
    let device = Device::flex().autodiff();
    let start = [[2.0f32, -1.0]];
    let module = Weights {
        matrix: Param::from_tensor(Tensor::from_data(start, &device)),
        bias: Param::from_tensor(Tensor::from_data([0.0, 0.0], &device)),
    };
    // A loss whose gradient on the matrix is zero: only the decay moves it.
    let loss = module.matrix.val().mul_scalar(0.0).sum() + module.bias.val().sum();
    let grads = GradientsParams::from_grads(loss.backward(), &module);
    let adam = burn::optim::AdamConfig::new();
    let mut optimizer = FitConfig::new().build_optimizer(&adam, 0.5);
    let lr = 0.1f64;
    let stepped = optimizer.step(lr, module, grads);
    let matrix: Vec<f32> = stepped.matrix.val().into_data().try_to_vec::<f32>().unwrap();
    // AdamW: w <- w - lr * decay * w (a zero gradient: Adam's own step is zero).
    for (got, w) in matrix.iter().zip(start[0]) {
        let want = w - (lr * 0.5) as f32 * w;
        assert!((got - want).abs() < 1e-6, "{matrix:?}");
    }
}

#[test]
fn sgd_with_momentum_steps_as_pytorch_does() {
    let device = Device::flex().autodiff();
    let mut module = Weights {
        matrix: Param::from_tensor(Tensor::from_data([[1.0f32, -2.0]], &device)),
        bias: Param::from_tensor(Tensor::from_data([0.0, 0.0], &device)),
    };
    // loss = sum(3 * w): a constant gradient of 3 on the matrix.
    let fit = FitConfig::new().with_optimizer(Optimizer::Sgd { momentum: 0.9, nesterov: false });
    fit.validate().unwrap();
    let mut optimizer = fit.build_optimizer(&burn::optim::AdamConfig::new(), 0.0);
    let lr = 0.1f64;
    for _ in 0..2 {
        let loss = module.matrix.val().mul_scalar(3.0).sum() + module.bias.val().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &module);
        module = optimizer.step(lr, module, grads);
    }
    // PyTorch's SGD(momentum=0.9): v1 = g, v2 = 0.9 g + g; w2 = w0 - lr (g + 1.9 g) = w0 - 0.87.
    let matrix: Vec<f32> = module.matrix.val().into_data().try_to_vec::<f32>().unwrap();
    for (got, w) in matrix.iter().zip([1.0f32, -2.0]) {
        assert!((got - (w - 0.87)).abs() < 1e-5, "{matrix:?}");
    }
    let bad = FitConfig::new().with_optimizer(Optimizer::Sgd { momentum: 1.5, nesterov: false }).validate();
    assert!(bad.unwrap_err().contains("fit.optimizer"));
}

#[test]
fn an_sgd_recipe_trains_through_the_binary() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("sgd");
    let sgd = r#"fit.optimizer={"Sgd": {"momentum": 0.9, "nesterov": true}}"#;
    let args = ["train", "mlp", "--epochs", "1", "--limit", "600", "--lr", "0.05", "--set", sgd, "--device", "cpu"];
    let out = zoo(&[&args[..], &["--run-dir", run.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let config: Value = serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["fit"]["optimizer"]["Sgd"]["momentum"].as_f64(), Some(0.9));
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let accuracy: f64 = csv
        .lines()
        .find(|l| l.starts_with("1,valid,Accuracy,"))
        .and_then(|l| l.rsplit(',').next()?.parse().ok())
        .unwrap();
    assert!(accuracy > 50.0, "SGD learns: valid accuracy {accuracy}");
}

#[test]
fn tensorboard_gets_training_scalars_every_fifty_batches() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("tb");
    // 3,400 images less a tenth for validation, 32 a batch: 96 batches, one step write at 50.
    let args = ["train", "mlp", "--epochs", "1", "--limit", "3400", "--batch-size", "32", "--device", "cpu"];
    let out = zoo(&[&args[..], &["--run-dir", run.to_str().unwrap()]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let events = std::fs::read_dir(&run)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents")))
        .expect("an event file");
    let bytes = std::fs::read(events).unwrap();
    let count = |tag: &[u8]| bytes.windows(tag.len()).filter(|w| w == &tag).count();
    assert_eq!(count(b"train_step/Loss"), 1, "one step write of the loss");
    assert_eq!(count(b"train/Loss"), 1, "and the epoch's");
    // Its step is the samples trained: 50 batches of 32, varint 1600 after field 2.
    assert!(bytes.windows(3).any(|w| w == [0x10, 0xC0, 0x0C]), "step 1600");
}

#[test]
fn cross_validation_end_to_end_with_two_folds_and_resume() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("cv");
    let dir_s = dir.to_str().unwrap();
    let args = ["cv", "mlp", "--folds", "2", "--epochs", "1", "--limit", "600", "--device", "cpu", "--run-dir", dir_s];
    let out = zoo(&args);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("mean over 2 folds: valid accuracy"), "{text}");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cv.json")).unwrap()).unwrap();
    let results = record["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!(r["train_images"].as_u64().unwrap() + r["valid_images"].as_u64().unwrap(), 600);
        assert!(r["valid_accuracy"].as_f64().unwrap() > 30.0, "{r}");
    }
    assert!(record["summary"]["valid_accuracy_std"].as_f64().is_some());
    assert!(dir.join("fold-2/model.bpk").is_file());

    // As if stopped during the second fold: its weights and result gone; resume redoes it.
    let first_fold = results[0].clone();
    let mut record = record.clone();
    record["results"] = Value::Array(vec![first_fold.clone()]);
    record.as_object_mut().unwrap().remove("summary");
    std::fs::write(dir.join("cv.json"), serde_json::to_string(&record).unwrap()).unwrap();
    std::fs::remove_dir_all(dir.join("fold-2")).unwrap();
    let out = zoo(&["cv", "mlp", "--resume", dir_s, "--device", "cpu"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("after 1 of 2 folds"), "{}", stdout(&out));
    let again: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("cv.json")).unwrap()).unwrap();
    assert_eq!(again["results"][0], first_fold, "the finished fold is kept as it was");
    assert_eq!(again["results"].as_array().unwrap().len(), 2);

    // A fold is not resumed as a plain run (its split is the cross-validation's).
    let fold = dir.join("fold-1");
    let out = zoo(&["train", "mlp", "--resume", fold.to_str().unwrap(), "--epochs", "2", "--device", "cpu"]);
    assert_clean_error(&out, 2, "zoo cv mlp --resume");
    // Nothing left to do.
    assert_clean_error(&zoo(&["cv", "mlp", "--resume", dir_s, "--device", "cpu"]), 2, "all 2 folds are done");
    assert_clean_error(&zoo(&["cv", "mlp", "--folds", "1", "--device", "cpu"]), 2, "--folds 1");
}

#[test]
fn the_augmented_grid_shows_each_image_as_stored_and_transformed() {
    let temp = tempfile::tempdir().unwrap();
    let recipe = temp.path().join("augment.json");
    std::fs::write(&recipe, r#"{"fit": {"max_rotation": 20, "max_scale": 0.1, "min_crop": 0.8}}"#).unwrap();
    let out_png = temp.path().join("grid.png");
    let out = zoo(&[
        "sample",
        "cnn",
        "--augmented",
        "--config",
        recipe.to_str().unwrap(),
        "--n",
        "16",
        "--out",
        out_png.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let png = std::fs::read(&out_png).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // 8 columns and 2 rows of 28x28 drawn 3 times with 2-pixel gaps.
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (8 * 86 + 2, 2 * 86 + 2));
    // With neither --run nor --config: the model's default recipe (cnn: shifts of 2 pixels).
    let default_png = temp.path().join("default.png");
    let out = zoo(&["sample", "cnn", "--augmented", "--n", "8", "--out", default_png.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(default_png.is_file());
    // A bad range is refused by name.
    std::fs::write(&recipe, r#"{"fit": {"max_scale": 1.5}}"#).unwrap();
    let out = zoo(&["sample", "cnn", "--augmented", "--config", recipe.to_str().unwrap()]);
    assert_clean_error(&out, 2, "fit.max_scale");
}
