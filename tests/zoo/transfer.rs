//! `transfer` (items 11 and 18): what each fine-tuning mode trains (gradients, optimiser state,
//! weights after a step), and the command line end to end: pretrain a `cnn` on digits 0-4 of
//! the extract, fine-tune on digits 5-9, evaluate, predict.

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use zoo_models::{FineTuning, Transfer, TransferConfig};

use crate::common::{assert_clean_error, fixture, real_batch, rng_lock, stderr, stdout, zoo};

/// Every float parameter's path, and whether it takes gradients.
#[derive(Default)]
struct Params {
    path: Vec<String>,
    found: Vec<(String, bool)>,
}

impl ModuleVisitor for Params {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.found.push((self.path.join("."), param.is_require_grad()));
    }
}

fn trainable(net: &Transfer) -> Vec<String> {
    let mut params = Params::default();
    net.visit(&mut params);
    params.found.into_iter().filter(|(_, grad)| *grad).map(|(path, _)| path).collect()
}

/// One Adam step on a real batch: the network after it, and the optimiser's state tensors.
fn step(fine_tuning: FineTuning) -> (Transfer, Transfer, usize) {
    let _rng = rng_lock();
    let device = Device::flex().autodiff();
    device.seed(5);
    let net = TransferConfig::new().with_num_classes(10).with_hidden(32).with_fine_tuning(fine_tuning).init(&device);
    let (images, targets) = real_batch(32, &device);
    let loss = CrossEntropyLossConfig::new().init(&device).forward(net.forward(images), targets);
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let mut optimizer = AdamConfig::new().init();
    let after = optimizer.step(1e-2, net.clone(), grads);
    (net, after, optimizer.to_record().len())
}

fn bytes<M: Module>(module: &M) -> Vec<u8> {
    zoo_train::checkpoint::module_bytes(module).unwrap()
}

#[test]
fn a_frozen_backbone_gets_no_gradient_no_optimiser_state_and_does_not_move() {
    let (before, after, state) = step(FineTuning::Frozen);
    assert_eq!(trainable(&before), ["hidden.weight", "hidden.bias", "output.weight", "output.bias"]);
    assert_eq!(bytes(&before.backbone), bytes(&after.backbone), "the backbone is unchanged");
    assert_ne!(bytes(&before), bytes(&after), "the head moved");
    // Adam keeps two moments per trained tensor: the head's four only.
    assert_eq!(state, 2 * 4);

    let (before, after, last_stage_state) = step(FineTuning::LastStage);
    let trained = trainable(&before);
    assert!(trained.contains(&"backbone.Cnn.conv2.weight".to_string()), "{trained:?}");
    assert!(!trained.iter().any(|p| p.contains("conv1")), "{trained:?}");
    assert_ne!(bytes(&before.backbone), bytes(&after.backbone), "the last stage moved");
    // The head and conv2 (the cnn's own dense layers are in the backbone, unused: no gradient).
    assert_eq!(last_stage_state, 2 * 6);
    let (_, _, whole_state) = step(FineTuning::Whole);
    assert_eq!(whole_state, 2 * 8);
}

#[test]
fn pretrain_on_five_digits_then_fine_tune_on_the_other_five() {
    let temp = tempfile::tempdir().unwrap();
    let (pre, tuned) = (temp.path().join("pre"), temp.path().join("tuned"));
    let recipe = temp.path().join("pre.json");
    std::fs::write(&recipe, r#"{"fit": {"epochs": 1, "limit": 3000, "classes": [0, 1, 2, 3, 4]}}"#).unwrap();
    let out = zoo(&[
        "train",
        "cnn",
        "--config",
        recipe.to_str().unwrap(),
        "--run-dir",
        pre.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let recipe = temp.path().join("tune.json");
    std::fs::write(&recipe, r#"{"fit": {"epochs": 2, "limit": 3000, "classes": [5, 6, 7, 8, 9]}}"#).unwrap();
    let tuned_s = tuned.to_str().unwrap();
    let out = zoo(&[
        "train",
        "transfer",
        "--from",
        pre.to_str().unwrap(),
        "--config",
        recipe.to_str().unwrap(),
        "--run-dir",
        tuned_s,
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("(5 classes)"), "{}", stdout(&out));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tuned.join("config.json")).unwrap()).unwrap();
    assert!(config["from"].as_str().unwrap().ends_with("pre"), "{config}");
    assert_eq!(config["model"]["fine_tuning"], "Frozen");
    assert!(config["model"]["backbone"]["Cnn"].is_object(), "{config}");

    let out = zoo(&["eval", "transfer", "--run", tuned_s, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let accuracy: f64 =
        text.split("accuracy ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().parse().unwrap();
    assert!(accuracy > 60.0, "digits 5-9 on a frozen 0-4 backbone: {text}");
    // Predictions name the digits, not the classes' positions.
    let out =
        zoo(&["predict", "transfer", "--run", tuned_s, "--device", "cpu", fixture("digit-7.png").to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let classes: Vec<&str> = line.split(": ").nth(1).unwrap().split_whitespace().step_by(3).collect();
    assert!(classes.iter().all(|c| ["5", "6", "7", "8", "9"].contains(c)), "{line}");

    // Mistakes: a source that is no cnn or resnet run, and frozen fine-tuning without one.
    let out = zoo(&[
        "train",
        "transfer",
        "--from",
        tuned_s,
        "--device",
        "cpu",
        "--run-dir",
        temp.path().join("x").to_str().unwrap(),
    ]);
    assert_clean_error(&out, 2, "(this is a transfer run)");
    let out = zoo(&["train", "transfer", "--device", "cpu", "--run-dir", temp.path().join("y").to_str().unwrap()]);
    assert_clean_error(&out, 2, "needs a pretrained network: give --from RUN");
    let out = zoo(&["train", "cnn", "--from", pre.to_str().unwrap(), "--device", "cpu"]);
    assert_clean_error(&out, 2, "--from does not apply to `zoo train cnn`");
}

/// A folder of the extract's digits 0, 1 and 2 as PNG files of several sizes (some dark ink on
/// white), one subfolder per class named after it.
fn picture_folder(dir: &std::path::Path, per_class: usize) {
    let set = zoo_data::embedded::mnist_extract(zoo_data::Split::Train).unwrap();
    for (class, name) in ["zero", "one", "two"].iter().enumerate() {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        let indices = (0..set.len()).filter(|&i| usize::from(set.labels[i]) == class).take(per_class);
        for (n, i) in indices.enumerate() {
            let mut picture = image::GrayImage::from_raw(28, 28, set.image(i).to_vec()).unwrap();
            if n % 2 == 1 {
                image::imageops::invert(&mut picture);
            }
            let side = [28, 40, 64][n % 3];
            let picture = image::imageops::resize(&picture, side, side, image::imageops::FilterType::Triangle);
            picture.save(dir.join(name).join(format!("{n}.png"))).unwrap();
        }
    }
}

#[test]
fn a_folder_of_your_own_pictures_trains_evaluates_and_predicts_by_class_name() {
    let temp = tempfile::tempdir().unwrap();
    let (pre, tuned, pictures) = (temp.path().join("pre"), temp.path().join("tuned"), temp.path().join("pictures"));
    let out = zoo(&[
        "train",
        "cnn",
        "--epochs",
        "1",
        "--limit",
        "2000",
        "--run-dir",
        pre.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    picture_folder(&pictures.join("train"), 30);
    picture_folder(&pictures.join("test"), 6);
    let tuned_s = tuned.to_str().unwrap();
    let out = zoo(&[
        "train",
        "transfer",
        "--from",
        pre.to_str().unwrap(),
        "--data",
        pictures.to_str().unwrap(),
        "--epochs",
        "8",
        "--run-dir",
        tuned_s,
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("90 training images (3 classes)"), "{}", stdout(&out));
    let names: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(tuned.join("classes.json")).unwrap()).unwrap();
    assert_eq!(names, ["one", "two", "zero"]);
    let out = zoo(&["eval", "transfer", "--run", tuned_s, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("test set of 18 images"), "{}", stdout(&out));
    let picture = pictures.join("test/two/1.png");
    let out = zoo(&["predict", "transfer", "--run", tuned_s, "--device", "cpu", picture.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert!(["one", "two", "zero"].iter().any(|n| line.contains(&format!(": {n} "))), "{line}");

    // A class folder without pictures, a picture that is not one, a single class.
    let bad = temp.path().join("bad");
    picture_folder(&bad, 3);
    std::fs::create_dir_all(bad.join("three")).unwrap();
    let train = |data: &std::path::Path, run: &str| {
        zoo(&[
            "train",
            "transfer",
            "--from",
            pre.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--run-dir",
            temp.path().join(run).to_str().unwrap(),
            "--device",
            "cpu",
        ])
    };
    assert_clean_error(&train(&bad, "r1"), 2, "three: no pictures (PNG or JPEG files)");
    std::fs::write(bad.join("three/broken.png"), b"not a picture").unwrap();
    assert_clean_error(&train(&bad, "r2"), 1, "broken.png: is not a PNG or JPEG picture");
    let single = temp.path().join("single");
    picture_folder(&single, 2);
    std::fs::remove_dir_all(single.join("one")).unwrap();
    std::fs::remove_dir_all(single.join("two")).unwrap();
    assert_clean_error(&train(&single, "r3"), 2, "only one class folder (zero)");
}
