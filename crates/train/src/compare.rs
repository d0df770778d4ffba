//! `zoo compare RUN...`: several runs side by side, as a table of their figures and one
//! picture of their curves (the overfitting and depth experiments of the README are made so).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Result, ResultExt, ZooError};
use crate::metrics_log::{EpochMetric, read_metrics};
use crate::plot::runs_panels;

/// One run's figures as the table shows them.
#[derive(Clone, Debug)]
pub struct RunFigures {
    pub label: String,
    pub epochs: usize,
    /// The metric in the last epoch, train and valid.
    pub last_train: Option<f64>,
    pub last_valid: Option<f64>,
    /// Accuracy of `zoo eval` on the test set (`eval.json`) and on the training images
    /// (`eval-train.json`), in percent.
    pub test_accuracy: Option<f64>,
    pub train_accuracy: Option<f64>,
}

/// Reads each run's `metrics.csv` (and its evaluations), draws `metric` of all of them into
/// `out`, and returns their figures.
pub fn compare(runs: &[PathBuf], metric: &str, out: &Path) -> Result<Vec<RunFigures>> {
    let mut curves = Vec::new();
    let mut figures = Vec::new();
    for run in runs {
        let csv = run.join("metrics.csv");
        if !csv.is_file() {
            return Err(ZooError::usage(format!(
                "{}: no metrics.csv; pass folders made by `zoo train` that finished an epoch",
                run.display()
            )));
        }
        let rows = read_metrics(&csv).with_path(&csv)?;
        if !rows.iter().any(|r| r.metric == metric) {
            let mut known: Vec<&str> = rows.iter().map(|r| r.metric.as_str()).collect();
            known.sort_unstable();
            known.dedup();
            return Err(ZooError::usage(format!(
                "{}: no metric `{metric}` in metrics.csv; it has {} (--metric)",
                csv.display(),
                known.join(", ")
            )));
        }
        let label = run.file_name().map_or_else(|| run.display().to_string(), |n| n.to_string_lossy().into_owned());
        let epochs = rows.iter().map(|r| r.epoch).max().unwrap_or(0);
        let last = |split: &str| last_value(&rows, epochs, split, metric);
        figures.push(RunFigures {
            label: label.clone(),
            epochs,
            last_train: last("train"),
            last_valid: last("valid"),
            test_accuracy: accuracy_in(&run.join("eval.json")),
            train_accuracy: accuracy_in(&run.join("eval-train.json")),
        });
        curves.push((label, rows));
    }
    runs_panels(out, &format!("{metric}: train (blue) and valid (red)"), &curves, metric).with_path(out)?;
    Ok(figures)
}

fn last_value(rows: &[EpochMetric], epoch: usize, split: &str, metric: &str) -> Option<f64> {
    rows.iter().rev().find(|r| r.epoch == epoch && r.split == split && r.metric == metric).map(|r| r.value)
}

/// The `accuracy` of an evaluation file, when there is one.
fn accuracy_in(path: &Path) -> Option<f64> {
    let value: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    value.get("accuracy")?.as_f64()
}

/// The figures as a text table.
pub fn table(figures: &[RunFigures], metric: &str) -> String {
    let width = figures.iter().map(|f| f.label.len()).max().unwrap_or(3).max(3);
    let cell = |v: Option<f64>, percent: bool| match (v, percent) {
        (Some(v), true) => format!("{v:.2}%"),
        (Some(v), false) => format!("{v:.4}"),
        (None, _) => "-".to_string(),
    };
    let mut lines = vec![format!(
        "{:<width$} {:>6} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "run",
        "epochs",
        format!("train {metric}"),
        format!("valid {metric}"),
        "train acc",
        "test acc",
        "gap"
    )];
    for f in figures {
        let gap = f.train_accuracy.zip(f.test_accuracy).map(|(train, test)| train - test);
        lines.push(format!(
            "{:<width$} {:>6} {:>12} {:>12} {:>10} {:>10} {:>8}",
            f.label,
            f.epochs,
            cell(f.last_train, false),
            cell(f.last_valid, false),
            cell(f.train_accuracy, true),
            cell(f.test_accuracy, true),
            gap.map_or("-".to_string(), |g| format!("{g:.2}")),
        ));
    }
    lines.join("\n")
}
