//! A renderer for logs and pipes: burn-train's own plain renderer prints a debug line per
//! batch and no metric values. This one prints a line every few seconds and one per split:
//! epoch, progress, samples per second, the running metrics and the time left.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};

use crate::metrics_log::RunningMean;
use burn::train::metric::{MetricDefinition, MetricId};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation, MetricsRendererTraining,
};

/// How often a progress line is printed within a split.
const LINE_EVERY: Duration = Duration::from_secs(5);

pub struct PlainRenderer {
    names: HashMap<MetricId, String>,
    /// Running mean of each metric in the current split.
    running: BTreeMap<String, RunningMean>,
    label: String,
    /// What the progress counts: `samples`, `steps`.
    unit: String,
    epoch: usize,
    total_epochs: usize,
    split: String,
    split_items: usize,
    split_done: usize,
    split_start: Instant,
    last_line: Instant,
    /// Items of one train and one valid pass, learnt during the first epoch.
    items_per_epoch: BTreeMap<String, usize>,
    /// Wall time and items of all the splits that finished, for the estimate of time left.
    finished_items: usize,
    finished_secs: f64,
}

impl Default for PlainRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl PlainRenderer {
    pub fn new() -> Self {
        Self {
            names: HashMap::new(),
            running: BTreeMap::new(),
            label: "training".to_string(),
            unit: "samples".to_string(),
            epoch: 1,
            total_epochs: 1,
            split: String::new(),
            split_items: 0,
            split_done: 0,
            split_start: Instant::now(),
            last_line: Instant::now(),
            items_per_epoch: BTreeMap::new(),
            finished_items: 0,
            finished_secs: 0.0,
        }
    }

    /// Counts progress in `unit` (`steps` for RL) instead of samples.
    pub fn with_unit(mut self, unit: &str) -> Self {
        self.unit = unit.to_string();
        self
    }

    fn record(&mut self, state: MetricState) {
        let MetricState::Numeric(entry, Some(value)) = state else { return };
        let Some(name) = self.names.get(&entry.metric_id) else { return };
        self.running.entry(name.clone()).or_default().add(&value);
    }

    /// Loss first, then accuracy, then the rest by name.
    fn metrics_text(&self) -> String {
        let rank = |name: &str| match name {
            "Loss" => 0,
            "Accuracy" => 1,
            _ => 2,
        };
        let mut metrics: Vec<(&String, f64)> =
            self.running.iter().filter_map(|(name, mean)| Some((name, mean.value()?))).collect();
        metrics.sort_by_key(|(name, _)| rank(name));
        metrics.iter().map(|(name, value)| format_metric(name, *value)).collect::<Vec<_>>().join("  ")
    }

    /// Seconds left in the run, from the throughput of the splits seen so far.
    fn seconds_left(&self) -> Option<f64> {
        let elapsed = self.split_start.elapsed().as_secs_f64();
        let items = self.finished_items + self.split_done;
        let secs = self.finished_secs + elapsed;
        if items == 0 || secs <= 0.0 {
            return None;
        }
        let per_epoch: usize = match self.items_per_epoch.get("valid") {
            Some(valid) => self.items_per_epoch.get("train").copied().unwrap_or(0) + valid,
            // The first epoch: validation not seen yet. It is a few percent of the items and
            // forward passes only, so leaving it out is closer than any guess at its length
            // (counting it as long as training had doubled the estimate).
            None => self.items_per_epoch.get("train").copied().unwrap_or(self.split_items),
        };
        let this_epoch_left = match self.split.as_str() {
            "train" => per_epoch.saturating_sub(self.split_done),
            _ => self.split_items.saturating_sub(self.split_done),
        };
        let later_epochs = self.total_epochs.saturating_sub(self.epoch) * per_epoch;
        Some((this_epoch_left + later_epochs) as f64 * secs / items as f64)
    }

    fn print_line(&mut self, finished: bool) {
        let elapsed = self.split_start.elapsed().as_secs_f64().max(1e-9);
        let rate = self.split_done as f64 / elapsed;
        let percent = 100.0 * self.split_done as f64 / self.split_items.max(1) as f64;
        let left = self.seconds_left().map(format_duration).unwrap_or_else(|| "?".into());
        let head = format!("{} epoch {}/{} {:<5}", self.label, self.epoch, self.total_epochs, self.split);
        let progress = if finished {
            format!("done in {}", format_duration(elapsed))
        } else {
            format!("{percent:3.0}% {}/{}", self.split_done, self.split_items)
        };
        // Slow units (steps of a large model) keep a decimal, so the rate never reads 0.
        let rate = if rate < 10.0 { format!("{rate:.1}") } else { format!("{rate:.0}") };
        println!("{head} {progress}  {rate} {}/s  {}  left {left}", self.unit, self.metrics_text());
        let _ = std::io::stdout().flush();
        self.last_line = Instant::now();
    }
}

/// `Accuracy 97.31 %`, `Loss 0.0845`, `Learning Rate 1.0e-3`, `CPU Usage 183 %`, `Memory MB
/// 525`.
fn format_metric(name: &str, value: f64) -> String {
    let lower = name.to_lowercase();
    if lower.contains("accuracy") || lower.starts_with("iou >") {
        format!("{name} {value:.2} %")
    } else if lower.ends_with(" mb") {
        format!("{name} {value:.0}")
    } else if lower.contains("cpu") || lower.contains("memory") {
        format!("{name} {value:.0} %")
    } else if lower.ends_with("/s") {
        format!("{name} {value:.0}")
    } else if lower.contains("learning rate") {
        format!("{name} {value:.1e}")
    } else {
        format!("{name} {value:.4}")
    }
}

/// `1:05:09` or `3:07`.
pub fn format_duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 { format!("{h}:{m:02}:{s:02}") } else { format!("{m}:{s:02}") }
}

impl MetricsRendererTraining for PlainRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.record(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.record(state);
    }
}

impl TrainingProgressLogger for PlainRenderer {
    fn start(&mut self, total_epochs: usize, starting_epoch: usize, _: Option<usize>, label: Option<&str>) {
        self.total_epochs = total_epochs;
        self.epoch = starting_epoch;
        if let Some(label) = label {
            self.label = label.to_string();
        }
        println!("{}: epochs {starting_epoch} to {total_epochs}", self.label);
    }

    fn update_epoch(&mut self, _epoch: usize) {}

    fn start_split(&mut self, split: &str, total_items: usize) {
        // A loop without validation (Q-learning) goes from train to train: a new epoch.
        if split == "train" && self.split == "train" && self.split_done > 0 {
            self.epoch += 1;
        }
        self.split = split.to_string();
        self.split_items = total_items;
        self.split_done = 0;
        self.split_start = Instant::now();
        self.last_line = Instant::now();
        self.running.clear();
        self.items_per_epoch.insert(self.split.clone(), total_items);
    }

    fn update_split(&mut self, items_processed: usize) {
        self.split_done = items_processed;
        if self.last_line.elapsed() >= LINE_EVERY {
            self.print_line(false);
        }
    }

    fn end_split(&mut self) {
        self.print_line(true);
        self.finished_items += self.split_done;
        self.finished_secs += self.split_start.elapsed().as_secs_f64();
        if self.split == "valid" {
            self.epoch += 1;
        }
    }

    fn end(&mut self) {}

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for PlainRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRendererEvaluation for PlainRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl MetricsRenderer for PlainRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name.to_string());
    }
}
