//! burn-train's dashboard for training loops that are not burn-train's `Learner`: the
//! alternating GAN updates, the RL agents. Written once; a loop registers its metrics, then
//! reports splits, values and progress. On a terminal it is burn-train's TUI, otherwise zoo's
//! [`PlainRenderer`]; either way the epoch means go to the run's `metrics.csv`, the same file
//! the supervised recipes write, so the curves and `zoo eval` read every run alike.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::train::Interrupter;
use burn::train::metric::{
    MetricAttributes, MetricDefinition, MetricEntry, MetricId, NumericAttributes, NumericEntry, SerializedEntry,
};
use burn::train::renderer::tui::TuiMetricsRendererWrapper;
use burn::train::renderer::{MetricState, MetricsRenderer};

use crate::metrics_log::{RunningMean, append_rows};
use crate::render::PlainRenderer;
use crate::tensorboard::EventWriter;

/// A metric a loop reports.
#[derive(Clone, Copy, Debug)]
pub struct MetricSpec {
    pub name: &'static str,
    pub higher_is_better: bool,
}

impl MetricSpec {
    pub const fn lower(name: &'static str) -> Self {
        Self { name, higher_is_better: false }
    }

    pub const fn higher(name: &'static str) -> Self {
        Self { name, higher_is_better: true }
    }
}

pub struct Dashboard {
    renderer: Box<dyn MetricsRenderer>,
    interrupter: Interrupter,
    ids: HashMap<&'static str, MetricId>,
    /// (split, metric) -> mean over the running epoch.
    means: BTreeMap<(String, String), RunningMean>,
    csv: PathBuf,
    /// The run's TensorBoard event file, opened at its first write.
    events: Option<EventWriter>,
    split: String,
    /// The running epoch, and the units of the running split.
    epoch: usize,
    split_items: usize,
    /// The training split's latest value of each metric and progress reports so far: every
    /// [`STEP_SCALARS_EVERY`] reports they go to TensorBoard as `train_step/<metric>`.
    latest: BTreeMap<&'static str, f64>,
    reports: u64,
}

/// TensorBoard gets the training metrics' latest values every this many progress reports (one
/// a batch or step), at the number of units (samples, steps) trained so far.
pub const STEP_SCALARS_EVERY: u64 = 50;

impl Dashboard {
    /// Opens the dashboard for `total_epochs` epochs starting at `starting_epoch`; progress is
    /// counted in `unit` (`samples`, `steps`).
    pub fn new(
        label: &str,
        unit: &str,
        metrics: &[MetricSpec],
        csv: &Path,
        total_epochs: usize,
        starting_epoch: usize,
    ) -> Self {
        let interrupter = Interrupter::new();
        let tui = std::io::stdout().is_terminal();
        // Log lines go to the run's zoo.log, and not over the dashboard's screen.
        crate::logging::start_run_log(&csv.with_file_name("zoo.log"), tui);
        let mut renderer: Box<dyn MetricsRenderer> = if tui {
            Box::new(TuiMetricsRendererWrapper::new(interrupter.clone(), None))
        } else {
            Box::new(PlainRenderer::new().with_unit(unit))
        };
        let mut ids = HashMap::new();
        for spec in metrics {
            let id = MetricId::new(Arc::new(spec.name.to_string()));
            renderer.register_metric(MetricDefinition {
                metric_id: id.clone(),
                name: Arc::new(spec.name.to_string()),
                description: None,
                attributes: MetricAttributes::Numeric(NumericAttributes {
                    unit: None,
                    higher_is_better: spec.higher_is_better,
                }),
            });
            ids.insert(spec.name, id);
        }
        renderer.start(total_epochs, starting_epoch, None, Some(label));
        Self {
            renderer,
            interrupter,
            ids,
            means: BTreeMap::new(),
            csv: csv.to_path_buf(),
            events: None,
            split: "train".to_string(),
            epoch: starting_epoch,
            split_items: 0,
            latest: BTreeMap::new(),
            reports: 0,
        }
    }

    /// Begins the `train` or `valid` part of an epoch, of `items` units.
    pub fn start_split(&mut self, split: &str, items: usize) {
        self.split = split.to_string();
        self.split_items = items;
        self.renderer.start_split(split, items);
    }

    /// Reports a registered metric's mean over `items` in the current split; the epoch's
    /// figure weighs each report by its items.
    pub fn value(&mut self, name: &'static str, value: f64, items: usize) {
        let Some(id) = self.ids.get(name) else {
            debug_assert!(false, "metric {name} was not registered");
            return;
        };
        let entry = MetricEntry::new(id.clone(), SerializedEntry::new(format_value(value), value.to_string()));
        let state = MetricState::Numeric(entry, Some(NumericEntry::Value(value)));
        if self.split == "train" {
            self.latest.insert(name, value);
            self.renderer.update_train(state);
        } else {
            self.renderer.update_valid(state);
        }
        let entry = NumericEntry::Aggregated { aggregated_value: value, count: items };
        self.means.entry((self.split.clone(), name.to_string())).or_default().add(&entry);
    }

    /// The mean of `metric` in `split` over the running epoch so far.
    pub fn epoch_mean(&self, split: &str, metric: &str) -> Option<f64> {
        self.means.get(&(split.to_string(), metric.to_string()))?.value()
    }

    /// Units done so far in the current split.
    pub fn progress(&mut self, done: usize) {
        self.renderer.update_split(done);
        if self.split == "train" {
            self.reports += 1;
            if self.reports.is_multiple_of(STEP_SCALARS_EVERY) {
                // Units trained since the run began: the same step after a resume.
                let step = (self.epoch.saturating_sub(1) * self.split_items + done) as u64;
                let scalars: Vec<(String, f64)> =
                    self.latest.iter().map(|(name, v)| (format!("train_step/{name}"), *v)).collect();
                // A failed write loses a point of a curve, not the run; the epoch's rows in
                // metrics.csv are the record.
                if let Err(error) = self.event_writer().and_then(|events| events.scalars(step, &scalars)) {
                    log::warn!("TensorBoard step scalars not written: {error}");
                }
            }
        }
    }

    /// The run's event file, created at its first use.
    fn event_writer(&mut self) -> std::io::Result<&mut EventWriter> {
        if self.events.is_none() {
            let dir = self.csv.parent().unwrap_or(std::path::Path::new("."));
            self.events = Some(EventWriter::create(dir)?);
        }
        Ok(self.events.as_mut().expect("created above"))
    }

    pub fn end_split(&mut self) {
        self.renderer.end_split();
    }

    /// Closes epoch `epoch`: appends the means of every metric to `metrics.csv` (one write and
    /// sync, so a crash loses at most this epoch's row) and to the TensorBoard event file
    /// (`split/metric` at step `epoch`).
    pub fn end_epoch(&mut self, epoch: usize) -> std::io::Result<()> {
        self.renderer.update_epoch(epoch);
        let means: Vec<(String, String, f64)> = std::mem::take(&mut self.means)
            .into_iter()
            .filter_map(|((split, metric), mean)| Some((split, metric, mean.value()?)))
            .collect();
        let rows: Vec<String> =
            means.iter().map(|(split, metric, v)| format!("{epoch},{split},{metric},{v}")).collect();
        append_rows(&self.csv, &rows)?;
        self.epoch = epoch + 1;
        let scalars: Vec<(String, f64)> =
            means.into_iter().map(|(split, metric, v)| (format!("{split}/{metric}"), v)).collect();
        self.event_writer()?.scalars(epoch as u64, &scalars)
    }

    /// True once the user asked the TUI to stop.
    pub fn should_stop(&self) -> bool {
        self.interrupter.should_stop()
    }

    /// Closes the dashboard (the TUI gives the terminal back).
    pub fn finish(mut self) {
        self.renderer.end();
        let _ = self.renderer.on_train_end(None);
        crate::logging::end_run_log();
    }
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e5 {
        // Counts (epochs without improvement) read as counts.
        format!("{value:.0}")
    } else if value != 0.0 && (value.abs() < 1e-3 || value.abs() >= 1e5) {
        format!("{value:.3e}")
    } else {
        format!("{value:.4}")
    }
}
