//! `metrics.csv`: one row per epoch, split and metric with the epoch's mean, the file that the
//! curves PNG, `zoo eval` and people read.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use burn::train::metric::NumericEntry;

pub const HEADER: &str = "epoch,split,metric,value";

/// The mean of a metric over the batches of a split so far (burn-train's entry types): batch
/// values weighted by their item counts, or a final value when one is given.
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
    Ok(text.lines().skip(1).filter_map(parse_row).collect())
}

fn parse_row(line: &str) -> Option<EpochMetric> {
    let mut fields = line.splitn(4, ',');
    Some(EpochMetric {
        epoch: fields.next()?.parse().ok()?,
        split: fields.next()?.to_string(),
        metric: fields.next()?.to_string(),
        value: fields.next()?.parse().ok()?,
    })
}

/// Before a run resumes after `epoch`: keeps the rows of epochs up to `epoch` and drops the
/// rest (epochs trained again, whose rows a crash left behind, and a line a crash cut short),
/// rewriting the file atomically when anything goes. Returns how many lines went.
pub fn keep_epochs_up_to(path: &Path, epoch: usize) -> std::io::Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut kept = format!("{HEADER}\n");
    let mut dropped = 0;
    for line in text.lines().skip(1) {
        if parse_row(line).is_some_and(|row| row.epoch <= epoch) {
            kept.push_str(line);
            kept.push('\n');
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 || !text.starts_with(HEADER) {
        crate::checkpoint::atomic_write(path, kept.as_bytes())?;
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resume_keeps_the_rows_of_its_epochs_and_drops_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let text = format!("{HEADER}\n1,train,Loss,0.5\n2,train,Loss,0.4\n3,train,Loss,0.3\n3,valid,Accur");
        std::fs::write(&path, text).unwrap();
        assert_eq!(keep_epochs_up_to(&path, 2).unwrap(), 2);
        let rows = read_metrics(&path).unwrap();
        assert_eq!(rows.iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![1, 2]);
        // Appending after the rewrite starts on a fresh line.
        append_rows(&path, &["3,train,Loss,0.2".to_string()]).unwrap();
        assert_eq!(read_metrics(&path).unwrap().len(), 3);
        assert_eq!(keep_epochs_up_to(&path, 3).unwrap(), 0, "nothing to drop");
        assert_eq!(keep_epochs_up_to(&dir.path().join("none.csv"), 1).unwrap(), 0);
    }
}
