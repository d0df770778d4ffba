//! Sequence models end to end through the binary: `rnn` on the MNIST extract, `lstm`
//! forecasting a shipped series and a user's CSV (train, resume, eval with its baselines);
//! the character language models and the attention classifier: the models against their
//! equations, one-step loss decrease, and train, eval, sample and predict through the binary.

use burn::prelude::*;
use serde_json::Value;
use zoo_models::{CharLstmConfig, CharTransformerConfig, LstmForecasterConfig, TextClassifierConfig};

use crate::common::{assert_clean_error, rng_lock, stderr, stdout, zoo};

#[test]
fn lstm_forecaster_shapes_determinism_and_one_step() {
    let _rng = rng_lock();
    let device = Device::flex();
    let windows = Tensor::<2>::random([4, 50], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
    device.seed(3);
    let a = LstmForecasterConfig::new().init(&device).forward(windows.clone());
    assert_eq!(a.dims(), [4]);
    device.seed(3);
    let b = LstmForecasterConfig::new().init(&device).forward(windows.clone());
    assert_eq!(a.into_data(), b.into_data());
    // One Adam step lowers the squared error on a fixed batch.
    let train = device.clone().autodiff();
    let model = LstmForecasterConfig::new().init(&train);
    let x = Tensor::<2>::from_data(windows.into_data(), &train);
    let y = Tensor::<1>::ones([4], &train);
    let loss = |m: &zoo_models::LstmForecaster| (m.forward(x.clone()) - y.clone()).powi_scalar(2).mean();
    let before = loss(&model);
    let grads = burn::optim::GradientsParams::from_grads(before.backward(), &model);
    let before: f32 = loss(&model).into_scalar();
    let model = burn::optim::AdamConfig::new().init().step(1e-2, model, grads);
    let after: f32 = loss(&model).into_scalar();
    assert!(after < before, "{before} -> {after}");
}

#[test]
fn lstm_forecasts_a_series_and_beats_persistence_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("sun");
    let r = run.to_str().unwrap();
    let out = zoo(&["train", "lstm", "--data", "sunspots", "--epochs", "2", "--run-dir", r, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = zoo(&["train", "lstm", "--resume", r, "--epochs", "3", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = zoo(&["eval", "lstm", "--run", r, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("persistence") && text.contains("seasonal naive"), "{text}");
    let eval: Value = serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    let methods = eval["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 3);
    assert!(methods.iter().all(|m| m["one_step_rmse"].as_f64().unwrap().is_finite()));
    assert_eq!(eval["horizon"], 11, "one solar cycle");
    assert!(image::open(run.join("forecast.png")).is_ok());

    // A user's CSV, and the errors a user can make.
    let csv = tmp.path().join("mine.csv");
    let rows: String = (0..300).map(|i| format!("{i},{}\n", (f64::from(i) * 0.3).sin() * 10.0 + 50.0)).collect();
    std::fs::write(&csv, format!("t,value\n{rows}")).unwrap();
    let mine = tmp.path().join("mine");
    let out = zoo(&[
        "train",
        "lstm",
        "--data",
        csv.to_str().unwrap(),
        "--epochs",
        "1",
        "--run-dir",
        mine.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(&csv, "t,value\n1,2\n2,x\n").unwrap();
    let bad = tmp.path().join("bad").display().to_string();
    assert_clean_error(&zoo(&["train", "lstm", "--data", csv.to_str().unwrap(), "--run-dir", &bad]), 1, "line 3");
    assert_clean_error(
        &zoo(&["train", "lstm", "--data", "no-such.csv", "--run-dir", &bad]),
        2,
        "births, co2, sunspots",
    );
    assert_clean_error(
        &zoo(&["train", "lstm", "--steps", "3", "--run-dir", &bad]),
        2,
        "--steps does not apply to `zoo train lstm`",
    );
}

#[test]
fn rnn_trains_and_evaluates_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("rnn");
    let r = run.to_str().unwrap();
    let out = zoo(&["train", "rnn", "--epochs", "1", "--limit", "6000", "--run-dir", r, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = zoo(&["eval", "rnn", "--run", r, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let eval: Value = serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    // 5,400 images, one epoch: far above the 10 % of chance.
    assert!(eval["accuracy"].as_f64().unwrap() > 40.0, "{eval}");
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap().into_iter().map(f64::from).collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The LSTM equations written out for one layer and one sequence, from the fused layer's
/// weights: gates `[i, f, g, o] = E[id] + h W_h`, `c = σ(f) c + σ(i) tanh(g)`,
/// `h = σ(o) tanh(c)`, logits `h W_o + b_o`.
#[test]
fn char_lstm_matches_the_lstm_equations() {
    let _rng = rng_lock();
    let device = Device::flex();
    device.seed(5);
    let (vocab, hidden) = (6, 3);
    let model = CharLstmConfig::new(vocab).with_hidden(hidden).with_layers(1).with_dropout(0.0).init(&device);
    let ids = [3u32, 1, 5, 0, 2];
    let input = Tensor::<2, Int>::from_data(
        TensorData::new(ids.iter().map(|&i| i64::from(i)).collect::<Vec<_>>(), [1, 5]),
        &device,
    );
    let logits = values(model.forward(input));
    let embedding = values(model.embedding.weight.val()); // [vocab, hidden] (embedding width 0: hidden)
    let w_x = values(model.inputs[0].weight.val()); // [hidden, 4 hidden]
    let b_x = values(model.inputs[0].bias.as_ref().unwrap().val());
    let w_h = values(model.layers[0].recurrent.weight.val()); // [hidden, 4 hidden]
    let w_o = values(model.output.weight.val()); // [hidden, vocab]
    let b_o = values(model.output.bias.as_ref().unwrap().val());
    let (mut h, mut c) = (vec![0.0; hidden], vec![0.0; hidden]);
    for (t, &id) in ids.iter().enumerate() {
        let gates: Vec<f64> = (0..4 * hidden)
            .map(|g| {
                let x = (0..hidden).map(|k| embedding[id as usize * hidden + k] * w_x[k * 4 * hidden + g]).sum::<f64>();
                b_x[g] + x + (0..hidden).map(|k| h[k] * w_h[k * 4 * hidden + g]).sum::<f64>()
            })
            .collect();
        for k in 0..hidden {
            let (i, f, g, o) = (gates[k], gates[hidden + k], gates[2 * hidden + k], gates[3 * hidden + k]);
            c[k] = sigmoid(f) * c[k] + sigmoid(i) * g.tanh();
            h[k] = sigmoid(o) * c[k].tanh();
        }
        for v in 0..vocab {
            let expected = b_o[v] + (0..hidden).map(|k| h[k] * w_o[k * vocab + v]).sum::<f64>();
            let got = logits[t * vocab + v];
            assert!((got - expected).abs() < 1e-5, "step {t}, char {v}: {got} vs {expected}");
        }
    }
}

/// A real batch of Moby Dick: `[batch, len]` inputs and the `[batch * len]` next characters.
fn moby_batch(batch: usize, len: usize, device: &Device) -> (Tensor<2, Int>, Tensor<1, Int>, usize) {
    let (text, _) = zoo_data::corpus::load_text("moby-dick").unwrap();
    let tokenizer = zoo_data::CharTokenizer::fit(&text);
    let ids: Vec<i64> =
        tokenizer.encode(&text[10_000..10_000 + batch * (len + 1) * 2]).into_iter().map(i64::from).collect();
    let mut inputs = Vec::new();
    let mut targets = Vec::new();
    for b in 0..batch {
        let start = b * (len + 1);
        inputs.extend_from_slice(&ids[start..start + len]);
        targets.extend_from_slice(&ids[start + 1..start + len + 1]);
    }
    (
        Tensor::from_data(TensorData::new(inputs, [batch, len]), device),
        Tensor::from_data(TensorData::new(targets, [batch * len]), device),
        tokenizer.vocab_size(),
    )
}

/// Shapes, seeded determinism and one Adam step lowering the loss on a real batch, for any
/// character model.
fn check_char_model<M: Module>(init: impl Fn(usize, &Device) -> M, logits: impl Fn(&M, Tensor<2, Int>) -> Tensor<3>) {
    let _rng = rng_lock();
    let device = Device::flex();
    let (inputs, targets, vocab) = moby_batch(4, 24, &device);
    device.seed(9);
    let a = logits(&init(vocab, &device), inputs.clone());
    assert_eq!(a.dims(), [4, 24, vocab]);
    device.seed(9);
    let b = logits(&init(vocab, &device), inputs.clone());
    assert_eq!(a.into_data(), b.into_data(), "same seed, same logits");
    let train = device.clone().autodiff();
    let model = init(vocab, &train);
    let x = Tensor::<2, Int>::from_data(inputs.into_data(), &train);
    let y = Tensor::<1, Int>::from_data(targets.into_data(), &train);
    let ce = burn::nn::loss::CrossEntropyLossConfig::new().init(&train);
    let loss = |m: &M| ce.forward(logits(m, x.clone()).reshape([4 * 24, vocab]), y.clone());
    let before = loss(&model);
    let before_value: f32 = before.clone().into_scalar();
    assert!((f64::from(before_value) - (vocab as f64).ln()).abs() < 0.5, "near ln(vocab) at the start: {before_value}");
    let grads = burn::optim::GradientsParams::from_grads(before.backward(), &model);
    let model = burn::optim::AdamConfig::new().init().step(3e-3, model, grads);
    let after: f32 = loss(&model).into_scalar();
    assert!(after < before_value, "{before_value} -> {after}");
}

#[test]
fn char_lstm_shapes_determinism_and_one_step() {
    check_char_model(
        |vocab, device| CharLstmConfig::new(vocab).with_hidden(32).with_layers(2).with_dropout(0.0).init(device),
        |m, x| m.forward(x),
    );
}

#[test]
fn char_transformer_shapes_determinism_and_one_step() {
    check_char_model(
        |vocab, device| {
            CharTransformerConfig::new(vocab)
                .with_context(32)
                .with_d_model(32)
                .with_heads(4)
                .with_layers(2)
                .with_dropout(0.0)
                .init(device)
        },
        |m, x| m.forward(x),
    );
}

#[test]
fn char_transformer_never_looks_ahead() {
    let _rng = rng_lock();
    let device = Device::flex();
    device.seed(4);
    let model = CharTransformerConfig::new(10)
        .with_context(8)
        .with_d_model(16)
        .with_heads(2)
        .with_layers(2)
        .with_dropout(0.0)
        .init(&device);
    let ids = |last: i64| Tensor::<2, Int>::from_data(TensorData::new(vec![1, 2, 3, 4, 5, last], [1, 6]), &device);
    let a = values(model.forward(ids(6)));
    let b = values(model.forward(ids(9)));
    // The first five positions' logits ignore the sixth character; the sixth's do not.
    assert!(a[..50].iter().zip(&b[..50]).all(|(x, y)| (x - y).abs() < 1e-6));
    assert!(a[50..].iter().zip(&b[50..]).any(|(x, y)| (x - y).abs() > 1e-4));
}

#[test]
fn text_classifier_shapes_pooling_weights_and_one_step() {
    let _rng = rng_lock();
    let device = Device::flex();
    let config = TextClassifierConfig::new(50, 3)
        .with_max_len(12)
        .with_d_model(16)
        .with_heads(2)
        .with_layers(1)
        .with_dropout(0.0);
    let sequences = vec![vec![2u32, 5, 7, 9, 11, 3], vec![4u32, 8, 15]];
    let (ids, padding) = zoo_train::textclass::batch(&sequences, &device);
    device.seed(2);
    let model = config.init(&device);
    let (logits, weights) = model.forward(ids.clone(), padding.clone());
    assert_eq!(logits.dims(), [2, 3]);
    assert_eq!(weights.dims(), [2, 6]);
    let w = values(weights);
    assert!((w[..6].iter().sum::<f64>() - 1.0).abs() < 1e-5 && (w[6..].iter().sum::<f64>() - 1.0).abs() < 1e-5);
    assert!(w[9..].iter().all(|&x| x.abs() < 1e-6), "padding gets no weight: {w:?}");
    device.seed(2);
    let again = config.init(&device).forward(ids.clone(), padding.clone()).0;
    assert_eq!(logits.into_data(), again.into_data());

    let train = device.clone().autodiff();
    let model = config.init(&train);
    let (ids, padding) = zoo_train::textclass::batch(&sequences, &train);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64, 0], [2]), &train);
    let ce = burn::nn::loss::CrossEntropyLossConfig::new().init(&train);
    let loss = |m: &zoo_models::TextClassifier| ce.forward(m.forward(ids.clone(), padding.clone()).0, labels.clone());
    let before = loss(&model);
    let grads = burn::optim::GradientsParams::from_grads(before.backward(), &model);
    let before: f32 = loss(&model).into_scalar();
    let model = burn::optim::AdamConfig::new().init().step(1e-2, model, grads);
    let after: f32 = loss(&model).into_scalar();
    assert!(after < before, "{before} -> {after}");
}

#[test]
fn sampling_draws_from_the_tempered_softmax() {
    let mut rng = zoo_data::SplitMix64::new(1);
    let logits = [0.0f32, (3.0f32).ln(), 0.0];
    assert_eq!(zoo_train::language::draw(&logits, 0.0, &mut rng), 1, "temperature 0 takes the most likely");
    let mut counts = [0usize; 3];
    for _ in 0..20_000 {
        counts[zoo_train::language::draw(&logits, 1.0, &mut rng) as usize] += 1;
    }
    // Probabilities 0.2, 0.6, 0.2.
    assert!((counts[1] as f64 / 20_000.0 - 0.6).abs() < 0.02, "{counts:?}");
    assert!((counts[0] as f64 / 20_000.0 - 0.2).abs() < 0.02, "{counts:?}");
}

/// Both character models through the binary on Moby Dick: train, resume, eval, sample.
#[test]
fn language_models_train_resume_eval_and_sample_through_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    // The GPT's recipe file is in the old form (a `task` key, from when it was `attention`
    // with task Language): it still loads.
    for (model, net, task) in [
        ("char-lstm", r#"{"hidden": 32, "layers": 1, "embedding": 16}"#, ""),
        ("gpt", r#"{"d_model": 32, "heads": 2, "layers": 1, "context": 32}"#, r#""task": "Language", "#),
    ] {
        let config = tmp.path().join(format!("{model}.json"));
        std::fs::write(
            &config,
            format!(r#"{{{task}"char_model": {net}, "language": {{"context": 32, "steps_per_epoch": 3, "valid_chars": 400}}, "fit": {{"epochs": 1, "batch_size": 4}}}}"#),
        )
        .unwrap();
        let run = tmp.path().join(model);
        let r = run.to_str().unwrap();
        let out = zoo(&["train", model, "--config", config.to_str().unwrap(), "--run-dir", r, "--device", "cpu"]);
        assert!(out.status.success(), "{model}: {}", stderr(&out));
        assert!(run.join("samples/epoch-001.txt").is_file() && run.join("vocab.txt").is_file());
        let out = zoo(&["train", model, "--resume", r, "--epochs", "2", "--device", "cpu"]);
        assert!(out.status.success(), "{model}: {}", stderr(&out));
        let out = zoo(&["eval", model, "--run", r, "--device", "cpu"]);
        assert!(out.status.success(), "{model}: {}", stderr(&out));
        let eval: Value = serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
        let nats = eval["nats_per_char"].as_f64().unwrap();
        assert!(nats > 0.5 && nats < 4.6, "{model}: {nats}");
        assert!(eval["valid_chars"].as_u64().unwrap() > 100_000, "the whole held-out tenth");
        // Next-character accuracy: the five best guesses hold the top one, and more.
        let (top1, top5) = (eval["accuracy"].as_f64().unwrap(), eval["top5_accuracy"].as_f64().unwrap());
        assert!(top1 > 0.0 && top5 > top1 && top5 <= 100.0, "{model}: {top1} {top5}");
        // Perplexity is the exponential of the epoch's loss, train and valid.
        let metrics = zoo_train::metrics_log::read_metrics(&run.join("metrics.csv")).unwrap();
        let figure = |split: &str, name: &str| {
            metrics.iter().find(|m| m.epoch == 2 && m.split == split && m.metric == name).map(|m| m.value).unwrap()
        };
        for split in ["train", "valid"] {
            let (loss, perplexity) = (figure(split, "Loss"), figure(split, "Perplexity"));
            assert!((perplexity - loss.exp()).abs() < 1e-6 * perplexity, "{model} {split}: {loss} -> {perplexity}");
        }
        assert!(figure("valid", "Top-5 Accuracy") > figure("valid", "Accuracy"), "{model}");
        let out_file = tmp.path().join(format!("{model}.txt"));
        let out = zoo(&[
            "sample",
            model,
            "--run",
            r,
            "--prompt",
            "Call me",
            "--len",
            "120",
            "--temperature",
            "0.8",
            "--out",
            out_file.to_str().unwrap(),
            "--device",
            "cpu",
        ]);
        assert!(out.status.success(), "{model}: {}", stderr(&out));
        let text = std::fs::read_to_string(&out_file).unwrap();
        assert!(text.starts_with("Call me"));
        assert_eq!(text.chars().count(), "Call me".len() + 120, "{text}");
        assert!(stdout(&out).starts_with("Call me"));
        assert_clean_error(&zoo(&["sample", model, "--run", r, "--n", "4"]), 2, "--len");
    }
    // A forecaster cannot be sampled; a language model refuses --limit; an old language
    // recipe given to `lstm` names the model it is for now.
    let forecast = tmp.path().join("forecast");
    let out = zoo(&[
        "train",
        "lstm",
        "--data",
        "sunspots",
        "--epochs",
        "1",
        "--run-dir",
        forecast.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean_error(&zoo(&["sample", "lstm", "--run", forecast.to_str().unwrap()]), 2, "char-lstm");
    assert_clean_error(&zoo(&["train", "char-lstm", "--limit", "10"]), 2, "--limit");
    let legacy = tmp.path().join("legacy.json");
    std::fs::write(&legacy, r#"{"task": "Language", "char_model": {"hidden": 8}}"#).unwrap();
    assert_clean_error(&zoo(&["train", "lstm", "--config", legacy.to_str().unwrap()]), 2, "zoo train char-lstm");
}

/// The classifier on a user's JSONL file through the binary: train with named fields, eval
/// with both baselines, predict with the most attended words.
#[test]
fn attention_classifier_trains_on_a_users_file_evaluates_and_predicts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("reviews.jsonl");
    let good = ["a fine bright happy day", "good kind lovely warm smile", "happy joyful fine great cheer"];
    let bad = ["a dark cold sad night", "grim bleak awful gloomy rain", "sad dreary cold bitter wind"];
    let mut lines = String::new();
    for i in 0..60 {
        let (words, label) = if i % 2 == 0 { (good[i % 3], "pos") } else { (bad[i % 3], "neg") };
        lines.push_str(&format!("{{\"body\": \"{words} number {i}\", \"mood\": \"{label}\"}}\n"));
    }
    std::fs::write(&data, lines).unwrap();
    let run = tmp.path().join("mood");
    let r = run.to_str().unwrap();
    let d = data.to_str().unwrap();
    let out = zoo(&[
        "train",
        "attention",
        "--data",
        d,
        "--text-field",
        "body",
        "--label-field",
        "mood",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--lr",
        "0.003",
        "--run-dir",
        r,
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config: Value = serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["classify"]["labels"], serde_json::json!(["neg", "pos"]));
    let out = zoo(&["eval", "attention", "--run", r, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("bag-of-words") && text.contains("majority class"), "{text}");
    let eval: Value = serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    let methods = eval["methods"].as_array().unwrap();
    assert_eq!(methods.len(), 3);
    assert!(methods[1]["test_accuracy"].as_f64().unwrap() > 0.9, "words this separable: {text}");
    // Precision, recall and F1 per class, and the macro F1 that averages them.
    let per_class = eval["per_class"].as_array().unwrap();
    assert_eq!(per_class.len(), 2);
    let mean = per_class.iter().map(|c| c["f1"].as_f64().unwrap()).sum::<f64>() / 2.0;
    assert!((eval["macro_f1"].as_f64().unwrap() - mean).abs() < 1e-9, "{eval}");
    assert!(text.contains("macro F1") && text.contains("precision") && text.contains("AUROC"), "{text}");
    // With two classes, each one's AUROC against the other is the same ranking.
    let aurocs: Vec<f64> = per_class.iter().map(|c| c["auroc"].as_f64().unwrap()).collect();
    assert!(aurocs.iter().all(|a| (0.0..=1.0).contains(a)), "{aurocs:?}");
    assert!((aurocs[0] - aurocs[1]).abs() < 1e-9, "{aurocs:?}");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.contains(",valid,Macro F1,"), "{csv}");
    let out = zoo(&["predict", "attention", "--run", r, "a happy bright day", "cold and bleak", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("pos") && text.contains("neg") && text.matches("most attended").count() == 2, "{text}");
    assert_clean_error(
        &zoo(&[
            "train",
            "attention",
            "--data",
            d,
            "--text-field",
            "nope",
            "--run-dir",
            tmp.path().join("x").to_str().unwrap(),
        ]),
        1,
        "--text-field",
    );

    // The bundled task: the addresses split by address, Democratic vs Republican.
    let sotu = tmp.path().join("sotu");
    let out = zoo(&[
        "train",
        "attention",
        "--limit",
        "64",
        "--epochs",
        "1",
        "--run-dir",
        sotu.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Democratic vs Republican"), "{}", stdout(&out));
    let config: Value = serde_json::from_str(&std::fs::read_to_string(sotu.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["classifier"]["num_classes"], 2);
    assert_clean_error(&zoo(&["train", "cnn", "--text-field", "body"]), 2, "--text-field");
}

/// The held-out score does not depend on how windows are batched, and every character is
/// scored once: the GPT's windows of 16 overlap by half (each scores the characters after the
/// previous one's), the LSTM carries its state through the text, so cutting it into windows
/// changes nothing.
#[test]
fn held_out_score_counts_every_character_once() {
    let _rng = rng_lock();
    let device = Device::flex();
    device.seed(6);
    let gpt = CharTransformerConfig::new(12)
        .with_context(16)
        .with_d_model(16)
        .with_heads(2)
        .with_layers(1)
        .with_dropout(0.0)
        .init(&device);
    let ids: Vec<u32> = (0..53u32).map(|i| (i * 7 + i / 3) % 12).collect();
    let one = zoo_train::language::nats_per_char(&gpt, &ids, 16, 1, &device).unwrap();
    let many = zoo_train::language::nats_per_char(&gpt, &ids, 16, 7, &device).unwrap();
    assert!((one - many).abs() < 1e-5, "{one} vs {many}");
    // By hand: (window start, length, first scored position) for 52 targets.
    let ce = |logits: Tensor<2>, y: Vec<i64>| -> Vec<f64> {
        let logp = burn::tensor::activation::log_softmax(logits, 1);
        y.iter()
            .enumerate()
            .map(|(i, &t)| -f64::from(logp.clone().slice([i..i + 1, t as usize..t as usize + 1]).into_scalar::<f32>()))
            .collect()
    };
    let mut total = 0.0;
    for (start, len, from) in [(0, 16, 0), (8, 16, 8), (16, 16, 8), (24, 16, 8), (32, 16, 8), (40, 12, 8)] {
        let x: Vec<i64> = ids[start..start + len].iter().map(|&i| i64::from(i)).collect();
        let y: Vec<i64> = ids[start + 1..start + len + 1].iter().map(|&i| i64::from(i)).collect();
        let logits = gpt.forward(Tensor::from_data(TensorData::new(x, [1, len]), &device)).reshape([len, 12]);
        total += ce(logits, y)[from..].iter().sum::<f64>();
    }
    assert!((one - total / 52.0).abs() < 1e-5, "{one} vs {}", total / 52.0);

    let lstm = CharLstmConfig::new(12).with_hidden(8).with_layers(2).with_dropout(0.0).init(&device);
    let x: Vec<i64> = ids[..52].iter().map(|&i| i64::from(i)).collect();
    let y: Vec<i64> = ids[1..].iter().map(|&i| i64::from(i)).collect();
    let whole = ce(lstm.forward(Tensor::from_data(TensorData::new(x, [1, 52]), &device)).reshape([52, 12]), y);
    let whole = whole.iter().sum::<f64>() / 52.0;
    for context in [5, 16, 100] {
        let windowed = zoo_train::language::nats_per_char(&lstm, &ids, context, 1, &device).unwrap();
        assert!((windowed - whole).abs() < 1e-5, "context {context}: {windowed} vs {whole}");
    }
}
