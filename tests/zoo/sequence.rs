//! Sequence models end to end through the binary: `rnn` on the MNIST extract, `lstm`
//! forecasting a shipped series and a user's CSV (train, resume, eval with its baselines).

use serde_json::Value;
use zoo_models::LstmForecasterConfig;
use burn::prelude::*;

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
    let out = zoo(&["train", "lstm", "--data", csv.to_str().unwrap(), "--epochs", "1", "--run-dir", mine.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(&csv, "t,value\n1,2\n2,x\n").unwrap();
    let bad = tmp.path().join("bad").display().to_string();
    assert_clean_error(&zoo(&["train", "lstm", "--data", csv.to_str().unwrap(), "--run-dir", &bad]), 1, "line 3");
    assert_clean_error(&zoo(&["train", "lstm", "--data", "no-such.csv", "--run-dir", &bad]), 2, "births, co2, sunspots");
    assert_clean_error(&zoo(&["train", "lstm", "--steps", "3", "--run-dir", &bad]), 2, "--steps does not apply to lstm");
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
