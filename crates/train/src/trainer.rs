//! The one training loop of zoo. Every family (the image classifiers, the autoencoders and
//! VAEs, the GAN, the language models, the text classifier, the forecaster, DQN) implements
//! [`Training`]: what one epoch of training and one validation pass do, and which records make
//! its checkpoint. [`fit`] does the rest once for all of them: resume from a checkpoint, the
//! learning-rate schedule, burn-train's dashboard (or plain lines off a terminal), the stop key,
//! `metrics.csv`, one crash-safe checkpoint per epoch with one [`Progress`] record, the NaN/Inf
//! guard, early stopping, the curves and the closing line.
//!
//! Why not burn-train's `SupervisedTraining` (which the classifiers used before): it takes one
//! model, one optimiser and one `TrainStep`, while the GAN alternates two optimisers, DQN's
//! epochs are environment steps with a replay buffer to checkpoint, and the language models
//! carry recurrent state across batches; its checkpointer keeps neither RNG states nor a
//! replay buffer, so it cannot resume those runs exactly. One loop of zoo's own serves them all
//! alike, and keeps burn-train's dashboard (`crate::dashboard`) and metric types.
//!
//! A family with one network, one Adam and batches of images implements the smaller
//! [`ImageTrainer`](crate::image_training::ImageTrainer) instead and gets its loaders for free.

use std::time::Instant;

use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::checkpoint::EpochCheckpoints;
use crate::dashboard::{Dashboard, MetricSpec};
use crate::error::{Result, ResultExt, ZooError, catch_panic};
pub use crate::fit::EarlyStopping;
use crate::fit::FitConfig;
use crate::metrics_log::read_metrics;
use crate::plot::training_curves;
use crate::render::format_duration;
use crate::run::RunDir;

/// The name every schedule's value is reported under.
pub const LEARNING_RATE: &str = "Learning Rate";
/// The process's resident memory in MB, sampled during training (where the system says it).
pub const MEMORY: &str = "Memory MB";

/// The kB figure of the line starting `key` (`VmRSS:`, `MemTotal:`) in a `/proc` file such as
/// `/proc/self/status` or `/proc/meminfo`; None where there is no such file or line.
pub fn proc_kilobytes(file: &str, key: &str) -> Option<f64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The resident set of this process in MB (`VmRSS` of `/proc/self/status`); None where there
/// is no such file.
pub fn resident_megabytes() -> Option<f64> {
    Some(proc_kilobytes("/proc/self/status", "VmRSS:")? / 1024.0)
}

/// One family's training, as [`fit`] drives it.
pub trait Training {
    /// The checkpoint's records, as file names (`model.bpk`, `optim.bpk`, `replay.bin`); an
    /// epoch's checkpoint is complete when each of them and its progress record exist.
    const PARTS: &'static [&'static str];
    /// What the training split's progress counts: `samples`, `steps`, `windows`.
    const UNIT: &'static str;

    /// The model's name: the dashboard's label and the `--resume` hint.
    fn name(&self) -> &str;
    /// Every metric it reports, train and valid (the learning rate is added by the loop when
    /// there is a schedule).
    fn metrics(&self) -> Vec<MetricSpec>;
    /// The metrics drawn in `curves.png`.
    fn curves(&self) -> Vec<&'static str>;
    /// The title of `curves.png`.
    fn title(&self, run: &RunDir) -> String {
        format!("{} on {}", self.name(), run.path().display())
    }
    /// Epochs of the whole run.
    fn epochs(&self) -> usize;
    /// The recipe's base learning rate, when it has one (the divergence message offers a
    /// tenth of it).
    fn learning_rate(&self) -> Option<f64> {
        None
    }
    /// The learning-rate schedule, stepped once per optimiser step through
    /// [`Reporter::learning_rate`], brought to where `epochs_done` epochs left it.
    fn scheduler(&self, _epochs_done: usize) -> Result<Option<ModuleLrScheduler>> {
        Ok(None)
    }
    /// Early stopping: the validation metric watched and how many epochs without improvement
    /// end the run (None, or a patience of 0: train every epoch).
    fn early_stopping(&self) -> Option<EarlyStopping> {
        None
    }
    /// The model's weights as the run folder keeps them (`model.bpk`): under early stopping
    /// the loop keeps the best epoch's as the run's model and the last epoch's as `last.bpk`
    /// (none: the family's `finish` writes its weights as it always does).
    fn weights(&self) -> Result<Vec<(&'static str, Vec<u8>)>> {
        Ok(Vec::new())
    }

    /// The bytes of each of [`PARTS`](Self::PARTS), in order.
    fn save(&self) -> Result<Vec<Vec<u8>>>;
    /// Loads the records [`save`](Self::save) wrote at the end of `epoch`.
    fn load(&mut self, parts: Vec<Vec<u8>>, epoch: usize) -> Result<()>;
    /// What a resumed run needs beyond the records (best score, RNG states), kept in the
    /// epoch's progress record.
    fn state(&self) -> Map<String, Value> {
        Map::new()
    }
    /// Restores [`state`](Self::state) of the checkpoint of `epoch`.
    fn restore(&mut self, _state: &Map<String, Value>, _epoch: usize) -> Result<()> {
        Ok(())
    }

    /// Units of epoch `epoch`'s training split.
    fn train_items(&self, epoch: usize) -> usize;
    /// Trains one epoch, reporting after each batch; returns early when
    /// [`Reporter::progress`] says to stop.
    fn train_epoch(&mut self, epoch: usize, report: &mut Reporter) -> Result<()>;
    /// Units of a validation pass (0: the family has no validation split, and the loop shows
    /// none).
    fn valid_items(&self) -> usize;
    /// The validation pass after epoch `epoch`.
    fn validate(&mut self, epoch: usize, report: &mut Reporter) -> Result<()>;
    /// True when the run has what it needs before its last epoch (a step limit reached): the
    /// loop then finishes after this epoch's checkpoint.
    fn finished_early(&self) -> bool {
        false
    }
    /// After validation, before the checkpoint: pictures, text samples, best weights, logs of
    /// the family's own. `seconds` is the run's training time so far.
    fn after_epoch(&mut self, _run: &RunDir, _epoch: usize, _seconds: f64) -> Result<()> {
        Ok(())
    }
    /// A finished run (`epochs` trained, fewer than [`epochs`](Self::epochs) when early
    /// stopping ended it): writes the final weights; returns what was trained (`12 epochs`,
    /// `700 steps (31 episodes)`) and what was written (`weights model.bpk`).
    fn finish(&mut self, run: &RunDir, epochs: usize) -> Result<(String, String)>;
}

/// `checkpoint/progress-E.json`: the epoch, the training time so far, and the family's own
/// state (flattened beside them, as each loop wrote it before there was one loop).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Progress {
    pub epoch: usize,
    pub seconds: f64,
    /// Early stopping's best value of its metric so far, and the epochs since it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping_best: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs_without_improvement: Option<usize>,
    /// The epoch of that best value, whose weights are `best-model.bpk` until the run ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping_best_epoch: Option<usize>,
    #[serde(flatten)]
    pub state: Map<String, Value>,
}

/// Field `key` of a progress record's family state (`model` names whose checkpoint it is).
pub fn state_field<T: serde::de::DeserializeOwned>(state: &Map<String, Value>, key: &str, model: &str) -> Result<T> {
    let value = state.get(key).cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| {
        ZooError::runtime(format!("a {model} checkpoint's progress record has no valid `{key}` ({e}); start a new run"))
    })
}

/// The latest complete and undamaged checkpoint of a run of `T`. A newer one that is damaged
/// (a part truncated, changed or missing, its progress record unreadable) is passed over with
/// a line on stderr saying which file and which epoch stands in.
pub fn latest_checkpoint<T: Training>(run: &RunDir) -> Option<usize> {
    let (latest, damaged) = EpochCheckpoints::new(&run.checkpoint_dir()).latest_intact(T::PARTS);
    for why in damaged {
        let instead = match latest {
            Some(epoch) => format!("using the checkpoint of epoch {epoch}, the one before"),
            None => "no older checkpoint is left".to_string(),
        };
        eprintln!("warning: damaged checkpoint passed over: {why}; {instead}");
    }
    latest
}

/// How a run of [`fit`] ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every epoch trained (or early stopping ended it); final weights written.
    Finished,
    /// The user pressed the stop key; the last finished epoch's checkpoint stands.
    Stopped,
}

/// What a finished [`fit`] reports.
#[derive(Clone, Debug)]
pub struct FitReport {
    pub outcome: Outcome,
    /// The last epoch whose checkpoint was written.
    pub epochs: usize,
    pub seconds: f64,
}

/// What a family reports to during an epoch: values of its metrics, progress, and the learning
/// rate of each optimiser step.
pub struct Reporter<'a> {
    dashboard: &'a mut Dashboard,
    scheduler: Option<&'a mut ModuleLrScheduler>,
    training: bool,
    stop: bool,
    /// The first non-finite training loss: `(metric, value, optimiser step of the epoch)`.
    diverged: Option<(&'static str, f64, usize)>,
    /// Optimiser steps taken this epoch (learning rates handed out).
    steps: usize,
    /// When memory is next sampled (training only, then once a second); None: not at all.
    next_memory_sample: Option<Instant>,
}

impl Reporter<'_> {
    /// The learning rate of the next optimiser step: steps the run's schedule and shows it.
    ///
    /// # Panics
    /// When the family has no schedule ([`Training::scheduler`] gave None): a bug, not a
    /// user's mistake.
    pub fn learning_rate(&mut self) -> ModuleLearningRate {
        let scheduler = self.scheduler.as_mut().expect("Training::scheduler gave no schedule");
        let lr = scheduler.step();
        self.steps += 1;
        self.dashboard.value(LEARNING_RATE, lr.base(), 1);
        lr
    }

    /// [`learning_rate`](Self::learning_rate) when an optimiser step is `due` (see
    /// [`FitConfig::step_due`]); None while a step's batches are still being gathered.
    pub fn learning_rate_if(&mut self, due: bool) -> Option<ModuleLearningRate> {
        due.then(|| self.learning_rate())
    }

    /// One observation of `name`; the epoch's figure is the mean of them.
    pub fn value(&mut self, name: &'static str, value: f64) {
        self.value_over(name, value, 1);
    }

    /// The mean of `name` over a batch of `items`; the epoch's figure weighs each batch by its
    /// size, so a short last batch counts for what it holds.
    pub fn value_over(&mut self, name: &'static str, value: f64, items: usize) {
        // The NaN/Inf guard: a training loss that is not finite ends the run before its
        // weights overwrite the last good checkpoint.
        if self.training && !value.is_finite() && name.contains("Loss") && self.diverged.is_none() {
            self.diverged = Some((name, value, self.steps));
        }
        self.dashboard.value(name, value, items);
    }

    /// Units done so far in this split. False when the family must stop now: the user asked
    /// to, or the loss is no longer finite.
    pub fn progress(&mut self, done: usize) -> bool {
        if let Some(due) = self.next_memory_sample
            && Instant::now() >= due
            && let Some(megabytes) = resident_megabytes()
        {
            self.dashboard.value(MEMORY, megabytes, 1);
            self.next_memory_sample = Some(Instant::now() + std::time::Duration::from_secs(1));
        }
        self.dashboard.progress(done);
        self.stop |= self.dashboard.should_stop() || self.diverged.is_some();
        !self.stop
    }
}

/// The error of an epoch that failed on the way (a device lost: a GPU reset, a `zoo worker`
/// that stopped), saying which checkpoint a `--resume` continues from.
fn failed_in<T: Training>(
    epoch: usize,
    panic: &str,
    training: &T,
    run: &RunDir,
    checkpoints: &EpochCheckpoints,
) -> ZooError {
    let next = match checkpoints.latest(T::PARTS) {
        Some(e) => format!(
            "the checkpoint of epoch {e} is kept: continue with `zoo train {} --resume {}`",
            training.name(),
            run.path().display()
        ),
        None => "no epoch finished, so nothing to resume".to_string(),
    };
    // Burn reports a device that stopped answering as a failed read with advice for its own
    // API (`try_into_scalar`), which says nothing to a zoo user.
    let what = if panic.contains("Error while reading data") || panic.contains("Execution(") {
        "the device stopped answering while the step's results were read back (a zoo worker that stopped or lost its network, a GPU that was reset)"
    } else {
        panic
    };
    ZooError::runtime(format!("training failed in epoch {epoch}: {what}; {next}"))
}

/// Trains `training` from the checkpoint of `resume_from` (or from scratch) to its last epoch.
pub fn fit<T: Training>(run: &RunDir, training: &mut T, resume_from: Option<usize>) -> Result<FitReport> {
    let checkpoints = EpochCheckpoints::new(&run.checkpoint_dir());
    let (mut best, mut since_best, mut best_epoch) = (None::<f64>, 0usize, None::<usize>);
    let (start, seconds_before) = match resume_from {
        Some(epoch) => {
            let parts = T::PARTS.iter().map(|p| checkpoints.read(p, epoch)).collect::<Result<Vec<_>>>()?;
            training.load(parts, epoch)?;
            let progress: Progress = checkpoints.read_progress(epoch)?;
            training.restore(&progress.state, epoch)?;
            // Rows of epochs after the checkpoint (a crash between the rows and the checkpoint,
            // or a fallback past a damaged checkpoint) go: those epochs are trained again.
            let csv = run.file("metrics.csv");
            crate::metrics_log::keep_epochs_up_to(&csv, epoch).with_path(&csv)?;
            (best, since_best, best_epoch) = (
                progress.early_stopping_best,
                progress.epochs_without_improvement.unwrap_or(0),
                progress.early_stopping_best_epoch,
            );
            (epoch, progress.seconds)
        }
        None => (0, 0.0),
    };
    let epochs = training.epochs();
    let mut scheduler = training.scheduler(start)?;
    let mut metrics = training.metrics();
    if scheduler.is_some() && !metrics.iter().any(|m| m.name == LEARNING_RATE) {
        metrics.push(MetricSpec::lower(LEARNING_RATE));
    }
    // Memory on the dashboard and in metrics.csv, for every family.
    let memory = resident_megabytes().is_some();
    if memory {
        metrics.push(MetricSpec::lower(MEMORY));
    }
    let early = watched_metric(training, &metrics)?;
    if early.is_some() {
        metrics.push(MetricSpec::lower(EPOCHS_WITHOUT_IMPROVEMENT));
    }
    let csv = run.file("metrics.csv");
    let mut dashboard = Dashboard::new(training.name(), T::UNIT, &metrics, &csv, epochs, start + 1);
    let started = Instant::now();
    let mut stopped = false;
    let mut stopped_early = None;
    let mut diverged = None;
    let mut last_epoch = start;
    for epoch in start + 1..=epochs {
        dashboard.start_split("train", training.train_items(epoch));
        let mut report = Reporter {
            dashboard: &mut dashboard,
            scheduler: scheduler.as_mut(),
            training: true,
            stop: false,
            diverged: None,
            steps: 0,
            // The first sample at the first progress report.
            next_memory_sample: memory.then(Instant::now),
        };
        let result = catch_panic(|| training.train_epoch(epoch, &mut report))
            .unwrap_or_else(|panic| Err(failed_in(epoch, &panic, &*training, run, &checkpoints)));
        let (stop, nan) = (report.stop, report.diverged);
        dashboard.end_split();
        result?;
        if let Some(nan) = nan {
            diverged = Some((epoch, nan));
            break;
        }
        if stop {
            stopped = true;
            break;
        }
        let mut stop_early = false;
        let mut new_best = false;
        if training.valid_items() > 0 {
            dashboard.start_split("valid", training.valid_items());
            let mut report = Reporter {
                dashboard: &mut dashboard,
                scheduler: None,
                training: false,
                stop: false,
                diverged: None,
                steps: 0,
                next_memory_sample: None,
            };
            let result = catch_panic(|| training.validate(epoch, &mut report))
                .unwrap_or_else(|panic| Err(failed_in(epoch, &panic, &*training, run, &checkpoints)));
            if let Some((rule, watched)) = &early
                && let Some(value) = dashboard.epoch_mean("valid", watched.name)
            {
                // Better by more than min_delta in the metric's own direction.
                let gain = |b: f64| if watched.higher_is_better { value - b } else { b - value };
                if best.is_none_or(|b| gain(b) > rule.min_delta) {
                    (best, since_best, best_epoch, new_best) = (Some(value), 0, Some(epoch), true);
                } else {
                    since_best += 1;
                    stop_early = since_best >= rule.patience;
                }
                dashboard.value(EPOCHS_WITHOUT_IMPROVEMENT, since_best as f64, 1);
            }
            dashboard.end_split();
            result?;
        }
        if new_best {
            // Before the checkpoint: a crash in between retrains this epoch and rewrites them.
            let best_weights = training.weights()?.into_iter().map(|(name, bytes)| (best_name(name), bytes));
            write_files(run, best_weights.collect())?;
        }
        let seconds = seconds_before + started.elapsed().as_secs_f64();
        training.after_epoch(run, epoch, seconds)?;
        let parts: Vec<(&str, Vec<u8>)> = T::PARTS.iter().copied().zip(training.save()?).collect();
        let progress = Progress {
            epoch,
            seconds,
            early_stopping_best: best,
            epochs_without_improvement: early.as_ref().map(|_| since_best),
            early_stopping_best_epoch: best_epoch,
            state: training.state(),
        };
        // The epoch's rows before its checkpoint: a crash between the two retrains the epoch,
        // and the resume drops the rows, so metrics.csv holds each epoch once.
        dashboard.end_epoch(epoch).with_path(&csv)?;
        checkpoints.save(epoch, &parts, &progress)?;
        last_epoch = epoch;
        if training.finished_early() {
            break;
        }
        if stop_early {
            stopped_early = Some(epoch);
            break;
        }
    }
    dashboard.finish();
    if let (Some(epoch), Some((rule, _))) = (stopped_early, &early) {
        println!(
            "early stopping after epoch {epoch}: valid {} has not improved by more than {} for {} epochs",
            rule.metric, rule.min_delta, rule.patience
        );
    }
    let seconds = seconds_before + started.elapsed().as_secs_f64();

    // A run stopped before its first epoch ended has no metrics yet: empty curves.
    let rows = if csv.is_file() { read_metrics(&csv).with_path(&csv)? } else { Vec::new() };
    let picture = run.file("curves.png");
    training_curves(&picture, &training.title(run), &rows, &training.curves()).with_path(&picture)?;
    if let Some((epoch, (metric, value, step))) = diverged {
        // A tenth of the rate the run had: a rate that diverged is rarely off by less.
        let lower = format_rate(training.learning_rate().unwrap_or(1e-3) / 10.0);
        let at = if step > 0 { format!("epoch {epoch}, optimiser step {step}") } else { format!("epoch {epoch}") };
        let next = match checkpoints.latest(T::PARTS) {
            Some(e) => format!(
                "the checkpoint of epoch {e} is kept; continue from it at a lower rate: `zoo train {} --resume {} --lr {lower}`",
                training.name(),
                run.path().display()
            ),
            None => format!("no epoch finished; start again at a lower rate (--lr {lower})"),
        };
        return Err(ZooError::runtime(format!("training diverged: the {metric} became {value} in {at}; {next}")));
    }
    let outcome = if stopped {
        if checkpoints.latest(T::PARTS).is_none() {
            println!("stopped after {}, before the first epoch ended: nothing to resume", format_duration(seconds));
        } else {
            println!(
                "stopped after {}; continue with `zoo train {} --resume {}` (from the last finished epoch)",
                format_duration(seconds),
                training.name(),
                run.path().display()
            );
        }
        Outcome::Stopped
    } else {
        let (what, mut written) = training.finish(run, last_epoch)?;
        if let (Some((rule, _)), Some(best_epoch)) = (&early, best_epoch) {
            written = keep_best_weights(run, training, best_epoch, &rule.metric, best.unwrap_or(f64::NAN), written)?;
        }
        println!(
            "trained {} for {what} in {}; run folder {} ({written}, curves curves.png)",
            training.name(),
            format_duration(seconds),
            run.path().display()
        );
        Outcome::Finished
    };
    Ok(FitReport { outcome, epochs: last_epoch, seconds })
}

/// A learning rate as a flag takes it: `0.0001`, `1e-7`.
fn format_rate(rate: f64) -> String {
    if rate >= 1e-4 { format!("{}", (rate * 1e6).round() / 1e6) } else { format!("{rate:e}") }
}

/// The metric early stopping reports each epoch: epochs since the watched metric last improved.
pub const EPOCHS_WITHOUT_IMPROVEMENT: &str = "Epochs Without Improvement";

/// The family's early-stopping rule when it is on, with the metric it watches; a metric the
/// family does not report (or one it has no validation split for) is the user's mistake.
fn watched_metric<T: Training>(training: &T, metrics: &[MetricSpec]) -> Result<Option<(EarlyStopping, MetricSpec)>> {
    let Some(rule) = training.early_stopping().filter(EarlyStopping::is_on) else { return Ok(None) };
    if training.valid_items() == 0 {
        return Err(ZooError::usage(format!(
            "{} has no validation split to watch; set fit.early_stopping.patience to 0",
            training.name()
        )));
    }
    let known = || metrics.iter().filter(|m| m.name != LEARNING_RATE).map(|m| m.name).collect::<Vec<_>>().join(", ");
    match metrics.iter().find(|m| m.name == rule.metric) {
        Some(spec) => Ok(Some((rule, *spec))),
        None => Err(ZooError::usage(format!(
            "fit.early_stopping.metric `{}` is not a metric of {}; it reports {}",
            rule.metric,
            training.name(),
            known()
        ))),
    }
}

/// The name of the best epoch's copy of a weights file while the run goes on.
fn best_name(name: &str) -> String {
    format!("best-{name}")
}

/// The name a finished early-stopped run gives its last epoch's weights: `model.bpk` becomes
/// `last.bpk`, any other file `last-<name>`.
fn last_name(name: &str) -> String {
    if name == "model.bpk" { "last.bpk".to_string() } else { format!("last-{name}") }
}

/// Early stopping's end of a finished run: the last epoch's weights (just written by `finish`)
/// move to `last.bpk`, the best epoch's become the model. Returns `written` extended to say so.
fn keep_best_weights<T: Training>(
    run: &RunDir,
    training: &T,
    best_epoch: usize,
    metric: &str,
    best: f64,
    written: String,
) -> Result<String> {
    let names: Vec<&str> = training.weights()?.into_iter().map(|(name, _)| name).collect();
    if names.is_empty() {
        return Ok(written);
    }
    for name in &names {
        let (path, last, best_copy) = (run.file(name), run.file(&last_name(name)), run.file(&best_name(name)));
        std::fs::rename(&path, &last).with_path(&last)?;
        std::fs::rename(&best_copy, &path).with_path(&best_copy)?;
    }
    let lasts: Vec<String> = names.iter().map(|n| last_name(n)).collect();
    Ok(format!(
        "{written}: {} of epoch {best_epoch} (best valid {metric} {best:.4}), {} of the last epoch",
        names.join(", "),
        lasts.join(", ")
    ))
}

/// A fit setting's learning-rate schedule for epochs of `batches_per_epoch` batches (the
/// optimiser steps of which [`FitConfig::optimiser_steps`] counts), brought to where
/// `epochs_done` epochs left it.
pub fn schedule(fit: &FitConfig, batches_per_epoch: usize, epochs_done: usize) -> Result<Option<ModuleLrScheduler>> {
    schedule_groups(fit, batches_per_epoch, epochs_done, &[])
}

/// [`schedule`] with parameter groups that learn at a share of the rate: `(group, share)`.
pub fn schedule_groups(
    fit: &FitConfig,
    batches_per_epoch: usize,
    epochs_done: usize,
    groups: &[(burn::module::ParamGroup, f64)],
) -> Result<Option<ModuleLrScheduler>> {
    let steps = fit.optimiser_steps(batches_per_epoch);
    fit.scheduler_after(steps, epochs_done, groups).map(Some).map_err(ZooError::usage)
}

/// `epochs` epochs, as the closing line says it.
pub fn epochs_done(epochs: usize) -> String {
    if epochs == 1 { "1 epoch".to_string() } else { format!("{epochs} epochs") }
}

/// Writes each `(file name, bytes)` into the run folder atomically; returns the names.
pub fn write_files<N: AsRef<str>>(run: &RunDir, files: Vec<(N, Vec<u8>)>) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = run.file(name.as_ref());
        crate::checkpoint::atomic_write(&path, &bytes).with_path(&path)?;
        written.push(name.as_ref().to_string());
    }
    Ok(written)
}
