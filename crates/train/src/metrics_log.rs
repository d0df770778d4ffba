//! `metrics.csv`: one row per epoch, split and metric with the epoch's mean, the file that the
//! curves PNG, `zoo eval` and people read. burn-train's own per-batch logs stay beside it.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

pub const HEADER: &str = "epoch,split,metric,value";

/// The mean of a metric over the batches of a split so far, from burn-train's entries: batch
/// values weighted by their item counts, or the epoch's final value once burn-train sends it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunningMean {
    sum: f64,
    count: usize,
    last: Option<f64>,
}

impl RunningMean {
    pub fn add(&mut self, entry: &NumericEntry) {
        match *entry {
            NumericEntry::Value(v) => {
                self.sum += v;
                self.count += 1;
            }
            NumericEntry::Aggregated { aggregated_value, count } => {
                self.sum += aggregated_value * count as f64;
                self.count += count;
            }
            NumericEntry::Final(v) => self.last = Some(v),
        }
    }

    /// The final value when there is one, else the weighted mean; `None` before any entry.
    pub fn value(&self) -> Option<f64> {
        self.last.or((self.count > 0).then(|| self.sum / self.count as f64))
    }
}

/// Accumulates the numeric metrics of the running epoch and appends their means on each
/// epoch summary.
pub struct EpochCsvLogger {
    path: PathBuf,
    names: HashMap<MetricId, String>,
    /// (split, metric) -> its mean over the epoch so far.
    running: HashMap<(String, String), RunningMean>,
}

impl EpochCsvLogger {
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf(), names: HashMap::new(), running: HashMap::new() }
    }

    fn append(&self, rows: &[String]) -> std::io::Result<()> {
        append_rows(&self.path, rows)
    }
}

impl MetricLogger for EpochCsvLogger {
    fn log(&mut self, update: MetricsUpdate, _epoch: usize, split: &Split) {
        for numeric in update.entries_numeric {
            let Some(name) = self.names.get(&numeric.entry.metric_id) else { continue };
            let Some(entry) = numeric.numeric_entry else { continue };
            self.running.entry((split.to_string(), name.clone())).or_default().add(&entry);
        }
    }

    fn read_numeric(&mut self, _: &str, _: usize, _: &Split) -> Result<Vec<NumericEntry>, String> {
        // burn-train asks each logger in turn; the file logger registered first answers.
        Err("epoch means only".to_string())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        let split = summary.split.to_string();
        let mut rows: Vec<String> = self
            .running
            .iter()
            .filter(|((s, _), _)| *s == split)
            .filter_map(|((_, metric), mean)| {
                Some(format!("{},{split},{metric},{}", summary.epoch_number, mean.value()?))
            })
            .collect();
        rows.sort();
        self.running.retain(|(s, _), _| *s != split);
        if let Err(e) = self.append(&rows) {
            log::warn!("could not append to {}: {e}", self.path.display());
        }
    }
}

/// Appends rows to `metrics.csv` (writing the header first when the file is new) in one write,
/// synced: a crash loses at most the epoch in flight.
pub fn append_rows(path: &Path, rows: &[String]) -> std::io::Result<()> {
    append_csv(path, HEADER, rows)
}

/// Appends rows to a CSV file, writing `header` first when the file is new; one synced write.
pub fn append_csv(path: &Path, header: &str, rows: &[String]) -> std::io::Result<()> {
    let is_new = !path.exists();
    let mut text = String::new();
    if is_new {
        text.push_str(header);
        text.push('\n');
    }
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetric {
    pub epoch: usize,
    pub split: String,
    pub metric: String,
    pub value: f64,
}

/// Reads `metrics.csv`; rows that do not parse are skipped (a crash can cut the last line).
pub fn read_metrics(path: &Path) -> std::io::Result<Vec<EpochMetric>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.splitn(4, ',');
            Some(EpochMetric {
                epoch: fields.next()?.parse().ok()?,
                split: fields.next()?.to_string(),
                metric: fields.next()?.to_string(),
                value: fields.next()?.parse().ok()?,
            })
        })
        .collect())
}
