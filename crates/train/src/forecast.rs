//! `lstm` forecasting (item 9) on real series: windows of 50 past values predict the next one;
//! the split is chronological, the normaliser sees the training part only, and `zoo eval`
//! compares one-step and multi-step forecasts with persistence and seasonal naive computed on
//! the same test part.

use std::path::Path;

use burn::module::Module;
use burn::nn::loss::{MseLoss, Reduction};
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use zoo_data::series::{self, Errors, Normalizer, Series, TimeSplit};
use zoo_models::{LstmForecaster, LstmForecasterConfig};

use crate::accumulate::HeldGradients;
use crate::checkpoint::{load_model_and_optimizer, module_bytes, optimizer_bytes, read_module, write_module};
use crate::dashboard::MetricSpec;
use crate::error::{Result, ResultExt, ZooError};
use crate::fit::FitConfig;
use crate::image::TrainRequest;
use crate::loader::shuffle;
use crate::plot::line_chart;
use crate::recipes::{Recipe, recipe_or_default};
use crate::run::{RunDir, timestamp_iso};
use crate::trainer::{self, EarlyStopping, FitReport, Reporter, Training, epochs_done};

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
    /// Steps per season, for the seasonal-naive baseline and the horizon (0: the series' own:
    /// a shipped series' cycle, or read from a CSV's date column; `--season N`).
    #[config(default = 0)]
    pub season: usize,
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

/// Recipe of `lstm` (item 9): what `config.json` holds.
#[derive(Config, Debug)]
pub struct LstmRecipe {
    /// The forecaster.
    pub model: LstmForecasterConfig,
    /// Adam's moments, epsilon and gradient clipping (the learning rate is `fit.learning_rate`).
    pub optimizer: AdamConfig,
    pub forecast: ForecastSettings,
    pub fit: FitConfig,
}

impl Recipe for LstmRecipe {
    const NAME: &'static str = "lstm";

    fn default_recipe() -> Self {
        let fit = FitConfig::new().with_epochs(40).with_batch_size(32);
        Self::new(LstmForecasterConfig::new(), AdamConfig::new().with_epsilon(1e-7), ForecastSettings::new(), fit)
    }
}

crate::fit_recipe!(LstmRecipe);

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
        let mut series = series::load(&settings.series)?;
        if settings.season > 0 {
            series.period = settings.season;
            series.season_reason = "given (--season or forecast.season)".into();
        }
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
        Ok(Self {
            series,
            split,
            normalizer,
            window: settings.window,
            horizon,
            predict_change: settings.predict_change,
        })
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
        if self.predict_change { last + output * self.normalizer.std } else { self.normalizer.invert(output) }
    }

    /// Target indices of a part whose whole window lies in the series (a window may reach
    /// back into earlier parts: those values are known when the forecast is made).
    pub fn part(&self, range: std::ops::Range<usize>) -> Vec<usize> {
        range.filter(|&t| t >= self.window).collect()
    }
}

/// One-step forecasts (in the series' units) for `targets`, in batches.
pub fn one_step(model: &LstmForecaster, data: &Prepared, targets: &[usize], device: &Device) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(targets.len());
    for chunk in targets.chunks(1024) {
        let predictions = crate::read::floats(model.forward(data.windows(chunk, device)))?;
        out.extend(
            predictions.into_iter().zip(chunk).map(|(p, &t)| data.to_value(f64::from(p), data.series.values[t - 1])),
        );
    }
    Ok(out)
}

/// `zoo train lstm`: `--data` names a built-in series or a CSV file.
pub fn train(request: &TrainRequest) -> Result<FitReport> {
    let (run, recipe, start) = match &request.resume {
        Some(dir) => {
            let (run, _) = RunDir::open_to_train(dir, LstmRecipe::NAME)?;
            let mut recipe: LstmRecipe = run.read_recipe()?;
            let latest = trainer::latest_checkpoint::<ForecastTraining>(&run);
            let epoch = request.resume_epoch(&run, latest, &mut recipe.fit)?;
            run.write_json("config.json", &recipe)?;
            (run, recipe, Some(epoch))
        }
        None => {
            if request.overrides.limit.is_some() {
                return Err(ZooError::usage(
                    "--limit does not apply to lstm: it trains on every window of the series' training part",
                ));
            }
            let mut recipe: LstmRecipe = recipe_or_default(request.config_file.as_deref(), &request.sets)?;
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
            let run =
                RunDir::start(request.run_dir.as_deref(), &recipe, &recipe.forecast.series, &request.device_name)?;
            (run, recipe, None)
        }
    };
    let data = Prepared::new(&recipe.forecast)?;
    println!(
        "zoo train lstm: {} ({} values of a {}), training on {}, validating on {}; run folder {}",
        data.series.source,
        data.series.values.len(),
        data.series.step,
        data.split.train.len(),
        data.split.valid.len(),
        run.path().display()
    );
    let mut training = ForecastTraining::new(recipe, data, &request.device);
    trainer::fit(&run, &mut training, start)
}

/// The forecaster in training: shuffled windows of the training part, validated by one-step
/// RMSE on the validation part.
pub struct ForecastTraining {
    recipe: LstmRecipe,
    data: Prepared,
    model: LstmForecaster,
    optimizer: ModuleOptimizer,
    /// Gradients gathered for the next optimiser step (`fit.accumulate_batches`).
    held: HeldGradients,
    train_targets: Vec<usize>,
    valid_targets: Vec<usize>,
    device: Device,
    train_device: Device,
}

impl ForecastTraining {
    fn new(recipe: LstmRecipe, data: Prepared, device: &Device) -> Self {
        device.seed(recipe.fit.seed);
        let train_device = device.clone().autodiff();
        Self {
            model: recipe.model.init(&train_device),
            optimizer: recipe.fit.build_optimizer(&recipe.optimizer, 0.0),
            held: HeldGradients::default(),
            train_targets: data.part(data.split.train.clone()),
            valid_targets: data.part(data.split.valid.clone()),
            recipe,
            data,
            device: device.clone(),
            train_device,
        }
    }
}

impl Training for ForecastTraining {
    const PARTS: &'static [&'static str] = &["model.bpk", "optim.bpk"];
    const UNIT: &'static str = "windows";

    fn name(&self) -> &str {
        LstmRecipe::NAME
    }
    fn metrics(&self) -> Vec<MetricSpec> {
        vec![MetricSpec::lower("Loss"), MetricSpec::lower("RMSE"), MetricSpec::lower(trainer::LEARNING_RATE)]
    }
    fn curves(&self) -> Vec<&'static str> {
        vec!["Loss", "RMSE"]
    }
    fn title(&self, _run: &RunDir) -> String {
        format!("lstm on {}", self.data.series.name)
    }
    fn epochs(&self) -> usize {
        self.recipe.fit.epochs
    }
    fn learning_rate(&self) -> Option<f64> {
        Some(self.recipe.fit.learning_rate)
    }
    fn early_stopping(&self) -> Option<EarlyStopping> {
        Some(self.recipe.fit.early_stopping.clone()).filter(EarlyStopping::is_on)
    }
    fn weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(vec![("model.bpk", module_bytes(&self.model.valid())?)])
    }
    fn scheduler(&self, epochs_done: usize) -> Result<Option<ModuleLrScheduler>> {
        trainer::schedule(&self.recipe.fit, self.train_targets.len().div_ceil(self.recipe.fit.batch_size), epochs_done)
    }
    fn save(&self) -> Result<Vec<Vec<u8>>> {
        Ok(vec![module_bytes(&self.model)?, optimizer_bytes(&self.optimizer)?])
    }
    fn load(&mut self, parts: Vec<Vec<u8>>, _epoch: usize) -> Result<()> {
        (self.model, self.optimizer) = load_model_and_optimizer(
            parts,
            self.recipe.model.init(&self.train_device),
            self.recipe.fit.build_optimizer(&self.recipe.optimizer, 0.0),
        )?;
        Ok(())
    }
    fn train_items(&self, _epoch: usize) -> usize {
        self.train_targets.len()
    }

    fn train_epoch(&mut self, epoch: usize, report: &mut Reporter) -> Result<()> {
        let fit = &self.recipe.fit;
        let mut order = self.train_targets.clone();
        shuffle(&mut order, fit.seed.wrapping_add(epoch as u64));
        let mse = MseLoss::new();
        let batches = order.len().div_ceil(fit.batch_size);
        for (i, batch) in order.chunks(fit.batch_size).enumerate() {
            let lr = report.learning_rate_if(fit.step_due(i, batches));
            let predicted = self.model.forward(self.data.windows(batch, &self.train_device));
            let loss = mse.forward(predicted, self.data.targets(batch, &self.train_device), Reduction::Mean);
            report.value_over("Loss", f64::from(loss.clone().into_scalar::<f32>()), batch.len());
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self.held.step(&mut self.optimizer, self.model.clone(), grads, lr.as_ref());
            if !report.progress(((i + 1) * fit.batch_size).min(order.len())) {
                break;
            }
        }
        Ok(())
    }

    fn valid_items(&self) -> usize {
        self.valid_targets.len()
    }

    fn validate(&mut self, _epoch: usize, report: &mut Reporter) -> Result<()> {
        let predicted = one_step(&self.model.valid(), &self.data, &self.valid_targets, &self.device)?;
        let truth: Vec<f64> = self.valid_targets.iter().map(|&t| self.data.series.values[t]).collect();
        let e = series::errors(&predicted, &truth);
        report.value("Loss", (e.rmse / self.data.normalizer.std).powi(2));
        report.value("RMSE", e.rmse);
        report.progress(self.valid_targets.len());
        Ok(())
    }

    fn finish(&mut self, run: &RunDir, epochs: usize) -> Result<(String, String)> {
        write_module(&self.model.valid(), &run.file("model.bpk"))?;
        Ok((epochs_done(epochs), "weights model.bpk".into()))
    }
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
    /// Why the season is what it is.
    #[serde(default)]
    pub season_reason: String,
    /// LSTM, persistence, seasonal naive.
    pub methods: Vec<MethodErrors>,
    pub evaluated: String,
}

pub fn eval(run_dir: &Path, device: &Device) -> Result<ForecastEval> {
    let (run, _) = RunDir::open(run_dir, LstmRecipe::NAME)?;
    let recipe: LstmRecipe = run.read_recipe()?;
    let data = Prepared::new(&recipe.forecast)?;
    let model = read_module(recipe.model.init(device), &run.file("model.bpk"))?;
    let values = &data.series.values;
    let period = data.series.period.max(1);
    let test = data.part(data.split.test.clone());
    let truth: Vec<f64> = test.iter().map(|&t| values[t]).collect();

    // One step ahead, from the true past.
    let lstm_one = one_step(&model, &data, &test, device)?;
    let (persist_one, seasonal_one) = series::baselines(values, test[0]..test[test.len() - 1] + 1, 1, period);

    // Multi-step: from origins every `horizon` steps, the LSTM feeds its own forecasts back;
    // the baselines use only what was known at the origin.
    let h = data.horizon;
    let (mut lstm_multi, mut persist_multi, mut seasonal_multi, mut truth_multi) = (vec![], vec![], vec![], vec![]);
    let mut origin = test[0];
    while origin + h <= values.len() {
        let mut window: Vec<f64> = values[origin - data.window..origin].to_vec();
        for step in 0..h {
            let input: Vec<f32> =
                window[window.len() - data.window..].iter().map(|&v| data.normalizer.apply(v) as f32).collect();
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
        MethodErrors {
            method: name.into(),
            one_step_rmse: a.rmse,
            one_step_mae: a.mae,
            multi_step_rmse: b.rmse,
            multi_step_mae: b.mae,
        }
    };
    let report = ForecastEval {
        series: data.series.source.clone(),
        test_steps: test.len(),
        horizon: h,
        period,
        season_reason: data.series.season_reason.clone(),
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
    .with_path(&picture)?;
    Ok(report)
}
