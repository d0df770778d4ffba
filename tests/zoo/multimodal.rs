//! `multitask` (item 30) and `crossmodal` (item 29): the canvases and their boxes on real
//! digits, the caption templates and pairs, the tokeniser on both scripts, each network's
//! shapes, determinism and one Adam step, and each model end to end through the binary on the
//! embedded extract (train, eval, predict, sample).

use std::path::Path;

use burn::prelude::*;
use serde_json::Value;
use zoo_data::canvas::{CanvasSpec, make_canvases};
use zoo_data::captions::{self, CaptionTokenizer, Language, TEMPLATES};
use zoo_data::{ImageSet, Split, SplitMix64, embedded};
use zoo_models::{CrossModalConfig, MultiTaskConfig};
use zoo_train::crossmodal::{CrossModalRecipe, bce_with_logits};
use zoo_train::generative::image_batch;
use zoo_train::image_training::{ImageRecipe, ImageTrainer};
use zoo_train::loader::ImageBatch;
use zoo_train::multitask::MultiTaskRecipe;
use zoo_train::recipes::Recipe;

use crate::common::{assert_clean_error, fixture, floats, real_batch, rng_lock, stderr, stdout, zoo};

fn digits(n: usize) -> ImageSet {
    embedded::mnist_extract(Split::Train).expect("embedded extract").subset(0..n)
}

const SPEC: CanvasSpec = CanvasSpec { side: 64, min_size: 14, max_size: 48, distractors: 0, seed: 5 };

#[test]
fn canvases_are_seeded_and_their_boxes_hold_all_the_ink_tightly() {
    let set = make_canvases(&digits(300), &SPEC, 0).unwrap();
    assert!(set == make_canvases(&digits(300), &SPEC, 0).unwrap(), "the same seed makes the same canvases");
    assert!(set.images != make_canvases(&digits(300), &CanvasSpec { seed: 6, ..SPEC }, 0).unwrap().images);
    assert_eq!((set.rows, set.cols, set.len()), (64, 64, 300));
    let mut sides = Vec::new();
    for i in 0..set.len() {
        let [x0, y0, x1, y1] = set.boxes[i].map(usize::from);
        let image = set.image(i);
        let ink = |x: usize, y: usize| image[y * 64 + x] > 0;
        for y in 0..64 {
            for x in 0..64 {
                let inside = (x0..x1).contains(&x) && (y0..y1).contains(&y);
                assert!(inside || !ink(x, y), "canvas {i}: ink at ({x}, {y}) outside {:?}", set.boxes[i]);
            }
        }
        // Tight: the box's first and last rows and columns each have ink.
        assert!((x0..x1).any(|x| ink(x, y0)) && (x0..x1).any(|x| ink(x, y1 - 1)), "canvas {i}: rows");
        assert!((y0..y1).any(|y| ink(x0, y)) && (y0..y1).any(|y| ink(x1 - 1, y)), "canvas {i}: columns");
        sides.push((x1 - x0).max(y1 - y0));
    }
    // The frame is 14-48 px and MNIST's ink fills about 20/28 of it (a "1" less wide).
    let (smallest, largest) = (*sides.iter().min().unwrap(), *sides.iter().max().unwrap());
    assert!((8..=14).contains(&smallest), "smallest digit {smallest} px");
    assert!((30..=48).contains(&largest), "largest digit {largest} px");
}

#[test]
fn distractors_stay_out_of_the_box() {
    let plain = make_canvases(&digits(100), &SPEC, 1).unwrap();
    let busy = make_canvases(&digits(100), &CanvasSpec { distractors: 3, ..SPEC }, 1).unwrap();
    assert!(plain.boxes == busy.boxes, "distractors do not move the boxes");
    let mut outside_ink = 0;
    for i in 0..100 {
        let [x0, y0, x1, y1] = plain.boxes[i].map(usize::from);
        for y in 0..64 {
            for x in 0..64 {
                let (a, b) = (plain.image(i)[y * 64 + x], busy.image(i)[y * 64 + x]);
                if (x0..x1).contains(&x) && (y0..y1).contains(&y) {
                    assert_eq!(a, b, "canvas {i}: a distractor inside the box at ({x}, {y})");
                } else if b > 0 {
                    outside_ink += 1;
                }
            }
        }
    }
    assert!(outside_ink > 100 * 10, "distractors drawn: {outside_ink} pixels");
}

#[test]
fn every_template_names_every_digit_in_its_language() {
    for template in TEMPLATES {
        let captions: Vec<String> = (0..10).map(|d| template.caption(d)).collect();
        for (d, caption) in captions.iter().enumerate() {
            let names = caption.contains(&d.to_string())
                || caption.contains(["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"][d])
                || caption
                    .contains(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"][d]);
            assert!(names, "{caption:?} does not name {d}");
            assert!(!caption.contains('{'), "{caption:?} kept a placeholder");
        }
        let mut distinct = captions.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), 10, "{:?}", template.text);
    }
    for language in Language::ALL {
        assert!(captions::templates(language, false).len() >= 3, "{language}: seen templates");
        assert!(!captions::templates(language, true).is_empty(), "{language}: held-out templates");
    }
}

#[test]
fn training_pairs_never_use_held_out_phrasings_and_half_of_them_match() {
    let held_out: Vec<String> =
        TEMPLATES.iter().filter(|t| t.held_out).flat_map(|t| (0..10).map(|d| t.caption(d))).collect();
    let mut rng = SplitMix64::new(3);
    let (mut matching, mut english, n) = (0, 0, 20_000);
    for i in 0..n {
        let digit = (i % 10) as u8;
        let pair = captions::training_pair(i, digit, &mut rng);
        assert!(!pair.held_out && !held_out.contains(&pair.caption), "{:?}", pair.caption);
        assert_eq!(pair.matches, pair.named == digit);
        matching += usize::from(pair.matches);
        english += usize::from(pair.language == Language::English);
    }
    for (what, count) in [("matching", matching), ("English", english)] {
        let share = count as f64 / n as f64;
        assert!((share - 0.5).abs() < 0.02, "{what}: {share}");
    }
    let labels: Vec<u8> = (0..5000).map(|i| (i % 10) as u8).collect();
    let test = captions::test_pairs(&labels, 0);
    assert_eq!(test.len(), 4 * 5000);
    assert_eq!(test, captions::test_pairs(&labels, 0), "test pairs are fixed by their seed");
    let share = test.iter().filter(|p| p.matches).count() as f64 / test.len() as f64;
    assert!((share - 0.5).abs() < 0.02, "test pairs matching: {share}");
    for language in Language::ALL {
        for held in [false, true] {
            let n = test.iter().filter(|p| p.language == language && p.held_out == held).count();
            assert_eq!(n, 5000, "{language} held out {held}");
        }
    }
}

#[test]
fn the_tokeniser_round_trips_chinese_and_english() {
    let tokenizer = CaptionTokenizer::for_training();
    for template in TEMPLATES.iter().filter(|t| !t.held_out) {
        for d in 0..10 {
            let caption = template.caption(d);
            let ids = tokenizer.encode(&caption);
            assert!(!ids.contains(&CaptionTokenizer::UNKNOWN), "{caption:?}");
            assert_eq!(tokenizer.decode(&ids), caption);
        }
    }
    assert_eq!(tokenizer.encode("数字七").len(), 3, "one token per Chinese character");
    assert_eq!(tokenizer.encode("the digit 7").len(), 3, "one token per English word");
    // A space between Latin-script tokens only.
    assert_eq!(tokenizer.decode(&tokenizer.encode("someone 写 7 seven")), "<unk>写7 seven");
    assert_eq!(CaptionTokenizer::from_text(&tokenizer.to_text()), tokenizer);
    let padded = tokenizer.encode_padded("数字七", 5);
    assert_eq!(&padded[..2], &[CaptionTokenizer::PAD; 2]);
    assert_eq!(tokenizer.decode(&padded), "数字七");
}

/// A batch of `n` canvases with their boxes (as shares of the side).
fn canvas_batch(n: usize, device: &Device) -> ImageBatch {
    let set = make_canvases(&digits(n), &SPEC, 0).unwrap();
    let boxes: Vec<f32> = set.boxes.iter().flat_map(|b| b.map(|v| f32::from(v) / 64.0)).collect();
    let labels: Vec<i64> = set.labels.iter().map(|&l| i64::from(l)).collect();
    ImageBatch {
        images: image_batch(&set, n, device),
        targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        boxes: Some(Tensor::from_data(TensorData::new(boxes, [n, 4]), device)),
    }
}

#[test]
fn multitask_shapes_determinism_and_one_step() {
    let _rng = rng_lock();
    let device = Device::flex();
    let batch = canvas_batch(16, &device);
    let output = MultiTaskConfig::new().init(&device).forward(batch.images.clone());
    assert_eq!(output.logits.dims(), [16, 10]);
    assert_eq!(output.boxes.dims(), [16, 4]);
    let boxes = floats(output.boxes);
    assert!(boxes.iter().all(|v| (0.0..=1.0).contains(v)), "boxes are shares of the side");
    let error = MultiTaskConfig::new().with_stages(vec![8; 8]).check().unwrap_err();
    assert!(error.starts_with("model.stages"), "{error}");

    let recipe = MultiTaskRecipe::default_recipe();
    let run = |recipe: &MultiTaskRecipe| {
        let mut trainer = recipe.trainer(&device);
        let batch = canvas_batch(32, &trainer.train_device());
        let before = trainer.valid_batch(canvas_batch(32, &device));
        for _ in 0..3 {
            trainer.train_batch(batch.clone(), Some(&1e-3.into()));
        }
        (before, trainer.valid_batch(canvas_batch(32, &device)))
    };
    let (before, after) = run(&recipe);
    assert!(run(&recipe) == (before.clone(), after.clone()), "the same seed trains the same");
    let value = |metrics: &[(&str, f64)], name: &str| metrics.iter().find(|m| m.0 == name).unwrap().1;
    // Validation figures use batch norm's running statistics, which three steps barely move;
    // the losses still fall on the batch trained on.
    let mut trainer = recipe.trainer(&device);
    let batch = canvas_batch(32, &trainer.train_device());
    let first = trainer.train_batch(batch.clone(), Some(&1e-3.into()));
    for _ in 0..4 {
        trainer.train_batch(batch.clone(), Some(&1e-3.into()));
    }
    let last = trainer.train_batch(batch, Some(&1e-3.into()));
    for name in ["Class Loss", "Box Loss"] {
        assert!(value(&last, name) < value(&first, name), "{name}: {} -> {}", value(&first, name), value(&last, name));
    }
    assert!(value(&before, "Mean IoU") >= 0.0 && value(&after, "Mean IoU") <= 1.0);
}

#[test]
fn crossmodal_shapes_determinism_and_one_step() {
    let _rng = rng_lock();
    let device = Device::flex();
    let (images, _) = real_batch(8, &device);
    let tokenizer = CaptionTokenizer::for_training();
    let texts = ["数字七", "the digit 7", "a handwritten seven", "手写的3"];
    let ids: Vec<i64> = texts.iter().flat_map(|t| tokenizer.encode_padded(t, 12)).map(i64::from).collect();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [4, 12]), &device);
    device.seed(1);
    let model = CrossModalConfig::new().with_vocab(tokenizer.vocab_size()).init(&device);
    let four = images.clone().narrow(0, 0, 4);
    let logits = model.forward(four.clone(), tokens.clone());
    assert_eq!(logits.dims(), [4]);
    // The split joint layer scores every pair as the concatenated one does each pair.
    let all = floats(model.pair_logits(model.image_projection(four), model.text_projection(tokens.clone())));
    assert_eq!(all.len(), 16);
    for (i, l) in floats(logits).into_iter().enumerate() {
        assert!((all[i * 4 + i] - l).abs() < 1e-4, "pair {i}: {} vs {l}", all[i * 4 + i]);
    }
    let recipe = CrossModalRecipe::default_recipe();
    let logits_of = |t: &zoo_train::crossmodal::CrossModalTrainer| {
        floats(t.model.valid().forward(images.clone().narrow(0, 0, 4), tokens.clone()))
    };
    assert!(logits_of(&recipe.trainer(&device)) == logits_of(&recipe.trainer(&device)), "the seed fixes the weights");

    // One Adam step on a real batch of pairs (real digits, captions drawn as training draws
    // them) lowers the loss on those pairs.
    let train_device = device.clone().autodiff();
    device.seed(3);
    let mut model = recipe.model.init(&train_device);
    let (images, targets) = real_batch(64, &train_device);
    let digits: Vec<u8> =
        targets.into_data().convert::<i64>().try_into_vec::<i64>().unwrap().iter().map(|&d| d as u8).collect();
    let mut rng = SplitMix64::new(9);
    let pairs: Vec<_> = digits.iter().enumerate().map(|(i, &d)| captions::training_pair(i, d, &mut rng)).collect();
    let ids: Vec<i64> = pairs.iter().flat_map(|p| tokenizer.encode_padded(&p.caption, 12)).map(i64::from).collect();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [64, 12]), &train_device);
    let labels: Vec<f32> = pairs.iter().map(|p| f32::from(u8::from(p.matches))).collect();
    let labels = Tensor::<1>::from_data(TensorData::new(labels, [64]), &train_device);
    let loss = |m: &zoo_models::CrossModal| bce_with_logits(m.forward(images.clone(), tokens.clone()), labels.clone());
    let before = loss(&model);
    let before_value = f64::from(before.clone().into_scalar::<f32>());
    let mut optimizer: burn::optim::ModuleOptimizer = burn::optim::AdamConfig::new().init();
    let grads = burn::optim::GradientsParams::from_grads(before.backward(), &model);
    let rate: burn::optim::lr_scheduler::module_lr_scheduler::ModuleLearningRate = 1e-3.into();
    model = optimizer.step(rate, model, grads);
    let after = f64::from(loss(&model).into_scalar::<f32>());
    assert!(after < before_value, "{before_value} -> {after}");
}

fn png_size(path: &Path) -> (u32, u32) {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8().dimensions()
}

fn run_ok(args: &[&str]) -> String {
    let out = zoo(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn multitask_trains_evaluates_predicts_and_samples_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("mt");
    let run_s = run.to_str().unwrap();
    run_ok(&["train", "multitask", "--device", "cpu", "--epochs", "1", "--limit", "256", "--run-dir", run_s]);
    for file in ["model.bpk", "metrics.csv", "curves.png", "samples/epoch-001.png"] {
        assert!(run.join(file).is_file(), "{file}");
    }
    let header = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    // Memory (resident MB) is every family's, where /proc says it.
    let memory: &[&str] = if cfg!(target_os = "linux") { &["Memory MB"] } else { &[] };
    for metric in ["Class Loss", "Box Loss", "Mean IoU", "IoU > 0.5"].iter().chain(memory) {
        assert!(header.contains(metric), "metrics.csv has {metric}");
    }
    // 16 canvases of 64 px drawn 3x, 8 to a row, 4 px gaps.
    assert_eq!(png_size(&run.join("samples/epoch-001.png")), (8 * 196 + 4, 2 * 196 + 4));
    let said = run_ok(&["eval", "multitask", "--run", run_s, "--device", "cpu"]);
    assert!(said.contains("mean IoU"), "{said}");
    let eval: Value = serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    let iou = eval["mean_iou"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&iou), "{iou}");
    assert_eq!(eval["canvases"].as_u64(), Some(embedded::mnist_extract(Split::Test).unwrap().len() as u64));

    let boxed = tmp.path().join("boxed.png");
    let digit = fixture("digit-7.png");
    let said = run_ok(&[
        "predict",
        "multitask",
        "--run",
        run_s,
        digit.to_str().unwrap(),
        "--out",
        boxed.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(said.contains(" at x ") && said.contains("wrote"), "{said}");
    let (w, h) = image::image_dimensions(&digit).unwrap();
    let scale = (256 / w.max(h)).max(1);
    assert_eq!(png_size(&boxed), (w * scale + 8, h * scale + 8));
    let two = zoo(&[
        "predict",
        "multitask",
        "--run",
        run_s,
        digit.to_str().unwrap(),
        digit.to_str().unwrap(),
        "--out",
        boxed.to_str().unwrap(),
    ]);
    assert_clean_error(&two, 2, "--out draws one picture");

    let grid = tmp.path().join("grid.png");
    run_ok(&["sample", "multitask", "--run", run_s, "--n", "12", "--out", grid.to_str().unwrap(), "--device", "cpu"]);
    assert_eq!(png_size(&grid), (8 * 196 + 4, 2 * 196 + 4));
    let wrong = zoo(&["predict", "multitask", "--run", run_s, digit.to_str().unwrap(), "--text", "seven"]);
    assert_clean_error(&wrong, 2, "--text does not apply to `zoo predict multitask`");
}

#[test]
fn crossmodal_trains_evaluates_and_ranks_captions_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("cm");
    let run_s = run.to_str().unwrap();
    run_ok(&["train", "crossmodal", "--device", "cpu", "--epochs", "1", "--limit", "512", "--run-dir", run_s]);
    let vocab = std::fs::read_to_string(run.join("tokenizer.txt")).unwrap();
    assert!(vocab.lines().any(|l| l == "七") && vocab.lines().any(|l| l == "seven"), "{vocab}");
    let said = run_ok(&["eval", "crossmodal", "--run", run_s, "--device", "cpu"]);
    assert!(said.contains("match accuracy") && said.contains("held out"), "{said}");
    let eval: Value = serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    assert_eq!(eval["cells"].as_array().unwrap().len(), 4, "two languages, seen and held out");
    assert_eq!(eval["templates"].as_array().unwrap().len(), TEMPLATES.len());

    let digit = fixture("digit-7.png");
    let said = run_ok(&[
        "predict",
        "crossmodal",
        "--run",
        run_s,
        digit.to_str().unwrap(),
        "--text",
        "数字七",
        "--text",
        "the digit 3",
        "--device",
        "cpu",
    ]);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 2, "{said}");
    assert!(lines.iter().all(|l| l.contains(" %  ")), "{said}");
    let none = zoo(&["predict", "crossmodal", "--run", run_s, digit.to_str().unwrap()]);
    assert_clean_error(&none, 2, "needs a caption");
}
