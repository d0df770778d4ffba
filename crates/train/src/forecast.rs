//! `lstm` forecasting (item 9) on real series: windows of 50 past values predict the next one;
//! the split is chronological, the normaliser sees the training part only, and `zoo eval`
//! compares one-step and multi-step forecasts with persistence and seasonal naive computed on
//! the same test part.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use zoo_data::series::{self, Errors, Normalizer, Series, TimeSplit};
use zoo_models::{CharLstm, CharLstmConfig, LstmForecaster, LstmForecasterConfig};

use crate::checkpoint::{ModelCheckpoints, read_module, write_module};
use crate::dashboard::{Dashboard, MetricSpec};
use crate::error::{Result, ZooError, io_error};
use crate::fit::FitConfig;
use crate::image::TrainRequest;
use crate::language::{LanguageRecipe, LanguageSettings};
use crate::loader::shuffle;
use crate::metrics_log::read_metrics;
use crate::plot::{line_chart, training_curves};
use crate::recipes::{Recipe, recipe_or_default};
use crate::render::format_duration;
use crate::run::{RunDir, timestamp_iso};

/// What the forecaster learns from and how it is judged; `config.json` under `forecast`.
#[derive(Config, Debug)]
pub struct ForecastSettings {
    /// A built-in series (`births`, `co2`, `sunspots`) or the path of a CSV whose last column
    /// holds the values.
    #[config(default = "String::from(\"births\")")]
    pub series: String,
    /// Past values the LSTM reads (the article: 50).
    #[config(default = 50)]
    pub window: usize,
    /// Steps of the multi-step forecast (0: one season of the series).
    #[config(default = 0)]
    pub horizon: usize,
    /// Oldest share of the series for training.
    #[config(default = 0.7)]
    pub train_fraction: f64,
    /// The next share for validation; the newest rest is the test.
    #[config(default = 0.15)]
    pub valid_fraction: f64,
    /// Predict the change from the last value instead of the value itself: a series whose test
    /// part climbs beyond anything seen in training (CO2) stays within the network's reach.
    #[config(default = true)]
    pub predict_change: bool,
}

/// What the `lstm` recipe trains.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum LstmTask {
    /// Item 9: forecast a series from a window of its past (`model`, `forecast`).
    Forecast,
    /// A character language model of a text (`char_model`, `language`).
    Language,
}

/// Recipe of `lstm` (item 9, and a character language model): what `config.json` holds.
#[derive(Config, Debug)]
pub struct LstmRecipe {
    /// `Forecast` or `Language`; each uses its own model and data sections below.
    #[config(default = "LstmTask::Forecast")]
    pub task: LstmTask,
    /// The forecaster (task Forecast).
    pub model: LstmForecasterConfig,
    /// The character model (task Language); `vocab` is set from the text when training starts.
    pub char_model: CharLstmConfig,
    /// Adam's moments, epsilon and gradient clipping (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    pub forecast: ForecastSettings,
    pub language: LanguageSettings,
    pub fit: FitConfig,
}

impl Recipe for LstmRecipe {
    const NAME: &'static str = "lstm";

    fn default_recipe() -> Self {
        let fit = FitConfig::new().with_epochs(40).with_batch_size(32);
        Self::new(
            LstmForecasterConfig::new(),
            CharLstmConfig::new(0),
            AdamConfig::new().with_epsilon(1e-7),
            ForecastSettings::new(),
            LanguageSettings::new(),
            fit,
        )
    }
}

impl LanguageRecipe for LstmRecipe {
    type Model = CharLstm;

    fn language(&self) -> &LanguageSettings {
        &self.language
    }
    fn language_mut(&mut self) -> &mut LanguageSettings {
        &mut self.language
    }
    fn fit(&self) -> &FitConfig {
        &self.fit
    }
    fn fit_mut(&mut self) -> &mut FitConfig {
        &mut self.fit
    }
    fn optimizer(&self) -> &AdamConfig {
        &self.optimizer
    }
    fn set_vocab(&mut self, vocab: usize) {
        self.char_model.vocab = vocab;
    }
    fn init_language_model(&self, device: &Device) -> CharLstm {
        self.char_model.init(device)
    }
}

/// The prepared series: values, split, normaliser fitted on the training part.
pub struct Prepared {
    pub series: Series,
    pub split: TimeSplit,
    pub normalizer: Normalizer,
    pub window: usize,
    pub horizon: usize,
    pub predict_change: bool,
}

impl Prepared {
    pub fn new(settings: &ForecastSettings) -> Result<Self> {
        let series = series::load(&settings.series)?;
        let split = TimeSplit::new(series.values.len(), settings.train_fraction, settings.valid_fraction);
        let needed = settings.window + 2;
        if split.train.len() < needed || split.valid.is_empty() || split.test.is_empty() {
            return Err(ZooError::usage(format!(
                "{}: {} values split {}/{}/{} cannot feed windows of {}; use a longer series or a smaller forecast.window",
                series.source,
                series.values.len(),
                split.train.len(),
                split.valid.len(),
                split.test.len(),
                settings.window
            )));
        }
        let normalizer = Normalizer::fit(&series.values[split.train.clone()]);
        let horizon = if settings.horizon > 0 { settings.horizon } else { series.period.max(2) };
        if horizon > split.test.len() {
            return Err(ZooError::usage(format!(
                "{}: a multi-step horizon of {horizon} is longer than the {} test steps; lower forecast.horizon",
                series.source,
                split.test.len()
            )));
        }
        Ok(Self { series, split, normalizer, window: settings.window, horizon, predict_change: settings.predict_change })
    }

    /// Normalised windows ending just before each target index, as a `[n, window]` batch.
    pub fn windows(&self, targets: &[usize], device: &Device) -> Tensor<2> {
        let mut flat = Vec::with_capacity(targets.len() * self.window);
        for &t in targets {
            flat.extend(self.series.values[t - self.window..t].iter().map(|&v| self.normalizer.apply(v) as f32));
        }
        Tensor::from_data(TensorData::new(flat, [targets.len(), self.window]), device)
    }

    /// What the network learns to output for each target index: the normalised value, or its
    /// normalised change from the value before.
    pub fn targets(&self, targets: &[usize], device: &Device) -> Tensor<1> {
        let values: Vec<f32> = targets
            .iter()
            .map(|&t| {
                let v = self.normalizer.apply(self.series.values[t]);
                let base = if self.predict_change { self.normalizer.apply(self.series.values[t - 1]) } else { 0.0 };
                (v - base) as f32
            })
            .collect();
        Tensor::from_data(TensorData::new(values, [targets.len()]), device)
    }

    /// A network output back in the series' units, given the last known value.
    pub fn to_value(&self, output: f64, last: f64) -> f64 {
        if self.predict_change {
            last + output * self.normalizer.std
        } else {
            self.normalizer.invert(output)
        }
    }

    /// Target indices of a part whose whole window lies in the series (a window may reach
    /// back into earlier parts: those values are known when the forecast is made).
    pub fn part(&self, range: std::ops::Range<usize>) -> Vec<usize> {
        range.filter(|&t| t >= self.window).collect()
    }
}

/// One-step forecasts (in the series' units) for `targets`, in batches.
pub fn one_step(model: &LstmForecaster, data: &Prepared, targets: &[usize], device: &Device) -> Vec<f64> {
    let mut out = Vec::with_capacity(targets.len());
    for chunk in targets.chunks(1024) {
        let predictions = model.forward(data.windows(chunk, device)).into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
        out.extend(predictions.into_iter().zip(chunk).map(|(p, &t)| data.to_value(f64::from(p), data.series.values[t - 1])));
    }
    out
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Progress {
    epoch: usize,
    seconds: f64,
}


/// `zoo train lstm`: `--data` names a built-in series or a CSV file.
pub fn train(request: &TrainRequest) -> Result<()> {
    let (run, recipe, start) = match &request.resume {
        Some(dir) => {
            let (run, _) = RunDir::open(dir, LstmRecipe::NAME)?;
            let mut recipe: LstmRecipe = run.read_json("config.json")?;
            let latest = ModelCheckpoints::new(&run.checkpoint_dir()).latest();
            let epoch = request.resume_epoch(&run, latest, &mut recipe.fit)?;
            run.write_json("config.json", &recipe)?;
            (run, recipe, Some(epoch))
        }
        None => {
            let mut recipe: LstmRecipe = recipe_or_default(request.config_file.as_deref())?;
            request.overrides.apply(&mut recipe.fit);
            if let Some(data) = &request.data {
                recipe.forecast.series = data.display().to_string();
            }
            recipe.fit.validate().map_err(ZooError::usage)?;
            // A CSV is recorded by its absolute path, so the run can be evaluated from anywhere.
            if series::builtin(&recipe.forecast.series).is_none() {
                let path = Path::new(&recipe.forecast.series);
                if let Ok(absolute) = std::fs::canonicalize(path) {
                    recipe.forecast.series = absolute.display().to_string();
                }
            }
            Prepared::new(&recipe.forecast)?;
            let run = RunDir::start(request.run_dir.as_deref(), &recipe, &recipe.forecast.series, &request.device_name)?;
            (run, recipe, None)
        }
    };
    fit(&run, &recipe, &request.device, start)
}

fn fit(run: &RunDir, recipe: &LstmRecipe, device: &Device, resume_from: Option<usize>) -> Result<()> {
    let data = Prepared::new(&recipe.forecast)?;
    let fit = &recipe.fit;
    device.seed(fit.seed);
    let train_device = device.clone().autodiff();
    let mut model = recipe.model.init(&train_device);
    let mut optimizer = recipe.optimizer.init();
    let checkpoints = ModelCheckpoints::new(&run.checkpoint_dir());
    let mut seconds_before = 0.0;
    let train_targets = data.part(data.split.train.clone());
    let valid_targets = data.part(data.split.valid.clone());
    let steps_per_epoch = train_targets.len().div_ceil(fit.batch_size);
    let start = resume_from.unwrap_or(0);
    let mut scheduler = fit.scheduler_after(steps_per_epoch, start).map_err(ZooError::usage)?;
    if let Some(epoch) = resume_from {
        let progress: Progress;
        (model, optimizer, progress) = checkpoints.load(epoch, model, optimizer)?;
        seconds_before = progress.seconds;
    }
    println!(
        "zoo train lstm: {} ({} values of a {}), training on {}, validating on {}; run folder {}",
        data.series.source,
        data.series.values.len(),
        data.series.step,
        data.split.train.len(),
        data.split.valid.len(),
        run.path().display()
    );
    let metrics = [MetricSpec::lower("Loss"), MetricSpec::lower("RMSE"), MetricSpec::lower("Learning Rate")];
    let mut dashboard = Dashboard::new(LstmRecipe::NAME, "windows", &metrics, &run.file("metrics.csv"), fit.epochs, start + 1);
    let started = Instant::now();
    let mse = MseLoss::new();
    let mut stopped = false;
    for epoch in start + 1..=fit.epochs {
        let mut order = train_targets.clone();
        shuffle(&mut order, fit.seed.wrapping_add(epoch as u64));
        dashboard.start_split("train", order.len());
        for (i, batch) in order.chunks(fit.batch_size).enumerate() {
            let lr = scheduler.step();
            let predicted = model.forward(data.windows(batch, &train_device));
            let loss = mse.forward(predicted, data.targets(batch, &train_device), Reduction::Mean);
            dashboard.value("Loss", f64::from(loss.clone().into_scalar::<f32>()));
            dashboard.value("Learning Rate", lr.base());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
            dashboard.progress(((i + 1) * fit.batch_size).min(order.len()));
            if dashboard.should_stop() {
                stopped = true;
                break;
            }
        }
        dashboard.end_split();
        if stopped {
            break;
        }
        dashboard.start_split("valid", valid_targets.len());
        let plain = model.valid();
        let predicted = one_step(&plain, &data, &valid_targets, device);
        let truth: Vec<f64> = valid_targets.iter().map(|&t| data.series.values[t]).collect();
        let e = series::errors(&predicted, &truth);
        let normalised_mse = (e.rmse / data.normalizer.std).powi(2);
        dashboard.value("Loss", normalised_mse);
        dashboard.value("RMSE", e.rmse);
        dashboard.progress(valid_targets.len());
        dashboard.end_split();
        let progress = Progress { epoch, seconds: seconds_before + started.elapsed().as_secs_f64() };
        checkpoints.save(epoch, &model, &optimizer, &progress)?;
        dashboard.end_epoch(epoch).map_err(|e| io_error(&run.file("metrics.csv"), e))?;
    }
    dashboard.finish();
    let seconds = seconds_before + started.elapsed().as_secs_f64();
    let rows = read_metrics(&run.file("metrics.csv")).unwrap_or_default();
    training_curves(&run.file("curves.png"), &format!("lstm on {}", data.series.name), &rows, &["Loss", "RMSE"])
        .map_err(|e| io_error(&run.file("curves.png"), e))?;
    if stopped {
        let hint = checkpoints.stopped_hint("lstm", run.path());
        println!("stopped after {}; {hint}", format_duration(seconds));
    } else {
        write_module(&model.valid(), &run.file("model.bpk"))?;
        println!(
            "trained lstm for {} epochs in {}; run folder {} (weights model.bpk, curves curves.png)",
            fit.epochs,
            format_duration(seconds),
            run.path().display()
        );
    }
    Ok(())
}

/// Errors of one way of forecasting, one-step and multi-step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MethodErrors {
    pub method: String,
    pub one_step_rmse: f64,
    pub one_step_mae: f64,
    pub multi_step_rmse: f64,
    pub multi_step_mae: f64,
}

/// What `zoo eval lstm` reports and `eval.json` keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForecastEval {
    pub series: String,
    pub test_steps: usize,
    /// Steps of the multi-step forecast.
    pub horizon: usize,
    pub period: usize,
    /// LSTM, persistence, seasonal naive.
    pub methods: Vec<MethodErrors>,
    pub evaluated: String,
}

pub fn eval(run_dir: &Path, device: &Device) -> Result<ForecastEval> {
    let (run, _) = RunDir::open(run_dir, LstmRecipe::NAME)?;
    let recipe: LstmRecipe = run.read_json("config.json")?;
    let data = Prepared::new(&recipe.forecast)?;
    let model = read_module(recipe.model.init(device), &run.file("model.bpk"))?;
    let values = &data.series.values;
    let period = data.series.period.max(1);
    let test = data.part(data.split.test.clone());
    let truth: Vec<f64> = test.iter().map(|&t| values[t]).collect();

    // One step ahead, from the true past.
    let lstm_one = one_step(&model, &data, &test, device);
    let (persist_one, seasonal_one) = series::baselines(values, test[0]..test[test.len() - 1] + 1, 1, period);

    // Multi-step: from origins every `horizon` steps, the LSTM feeds its own forecasts back;
    // the baselines use only what was known at the origin.
    let h = data.horizon;
    let (mut lstm_multi, mut persist_multi, mut seasonal_multi, mut truth_multi) = (vec![], vec![], vec![], vec![]);
    let mut origin = test[0];
    while origin + h <= values.len() {
        let mut window: Vec<f64> = values[origin - data.window..origin].to_vec();
        for step in 0..h {
            let input: Vec<f32> = window[window.len() - data.window..].iter().map(|&v| data.normalizer.apply(v) as f32).collect();
            let x = Tensor::<2>::from_data(TensorData::new(input, [1, data.window]), device);
            let last = *window.last().expect("a window of past values");
            let p = data.to_value(f64::from(model.forward(x).into_scalar::<f32>()), last);
            window.push(p);
            let t = origin + step;
            lstm_multi.push(p);
            persist_multi.push(values[origin - 1]);
            seasonal_multi.push(values[t - (step / period + 1) * period]);
            truth_multi.push(values[t]);
        }
        origin += h;
    }
    let method = |name: &str, one: &[f64], multi: &[f64]| {
        let (a, b): (Errors, Errors) = (series::errors(one, &truth), series::errors(multi, &truth_multi));
        MethodErrors { method: name.into(), one_step_rmse: a.rmse, one_step_mae: a.mae, multi_step_rmse: b.rmse, multi_step_mae: b.mae }
    };
    let report = ForecastEval {
        series: data.series.source.clone(),
        test_steps: test.len(),
        horizon: h,
        period,
        methods: vec![
            method("lstm", &lstm_one, &lstm_multi),
            method("persistence", &persist_one, &persist_multi),
            method("seasonal naive", &seasonal_one, &seasonal_multi),
        ],
        evaluated: timestamp_iso(),
    };
    run.write_json("eval.json", &report)?;
    // The picture: the test part's truth, the LSTM's one-step forecast and seasonal naive.
    // Eight seasons (eight weeks of days) show the pattern without crowding.
    let shown = test.len().min((8 * period).clamp(60, 400));
    let picture = run.file("forecast.png");
    line_chart(
        &picture,
        &format!("lstm on {}: one step ahead, first {shown} test {}s", data.series.name, data.series.step),
        &data.series.step,
        &[("truth", &truth[..shown]), ("lstm", &lstm_one[..shown]), ("seasonal naive", &seasonal_one[..shown])],
    )
    .map_err(|e| io_error(&picture, e))?;
    Ok(report)
}
