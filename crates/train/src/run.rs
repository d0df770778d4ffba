//! The run folder: everything a run leaves behind, and enough to rebuild it.
//!
//! ```text
//! runs/<model>/<UTC timestamp>/
//!   run.json          which model, data and device; written first
//!   config.json       the full recipe (model, optimiser, fit settings)
//!   checkpoint/       each record of the last two epochs (model-N.bpk, optim-N.bpk, ...) and
//!                     progress-N.json, written atomically (crate::trainer)
//!   metrics.csv       epoch means of every metric
//!   curves.png        loss and accuracy curves
//!   model.bpk         final weights (a generative model's pictures in samples/)
//!   eval.json         the last `zoo eval`
//! ```

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::checkpoint::atomic_write;
use crate::error::{Result, ResultExt, ZooError};

/// What `run.json` records.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    /// The recipe name (`mlp`, `cnn`, ...).
    pub model: String,
    /// `embedded` or the absolute path of the data folder.
    pub data: String,
    /// The `--device` the run was started with.
    pub device: String,
    /// UTC time of creation, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created: String,
    pub zoo_version: String,
    /// What the device is (`wgpu: NVIDIA H200 (GPU)`, `cpu: AMD EPYC, 2 threads`); absent in
    /// runs of older zoos.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
}

/// The chosen device in one line, as `--device` turned out here: recorded in the `run.json` of
/// runs this process starts. One device per process, chosen before any run starts.
static DEVICE_DESCRIPTION: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

pub fn set_device_description(description: String) {
    *DEVICE_DESCRIPTION.lock().unwrap_or_else(|p| p.into_inner()) = Some(description);
}

fn device_description() -> Option<String> {
    DEVICE_DESCRIPTION.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
    /// Held while this process trains the run (see [`RunLock`]).
    lock: Option<std::sync::Arc<RunLock>>,
}

/// The lock file of a run being trained.
pub const LOCK: &str = "zoo.lock";

/// `zoo.lock` in a run folder, holding the training process's id: a second `zoo train` into the
/// folder, or a `--resume` while it trains, is refused naming that process. A lock whose process
/// is gone (killed with -9, the machine restarted) is stale and taken over.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    fn acquire(dir: &Path) -> Result<Self> {
        let path = dir.join(LOCK);
        let pid = std::process::id();
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    use std::io::Write;
                    file.write_all(pid.to_string().as_bytes()).with_path(&path)?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(other) if other != pid && zoo_is_running(other) => {
                            return Err(ZooError::usage(format!(
                                "{}: in use by zoo process {other}, which is training this run ({}); wait for it to end or stop it first",
                                dir.display(),
                                path.display()
                            )));
                        }
                        // Stale (its process is gone) or unreadable: take it over.
                        _ => std::fs::remove_file(&path).with_path(&path)?,
                    }
                }
                Err(e) => return Err(e).with_path(&path),
            }
        }
        Err(ZooError::runtime(format!("{}: could not take the run's lock; try again", path.display())))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Only our own: a lock taken over after ours went stale is not ours to remove.
        let ours = std::fs::read_to_string(&self.path).ok().and_then(|t| t.trim().parse::<u32>().ok());
        if ours == Some(std::process::id()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The zoo process training the run in `dir` now, if one is (its lock is held and not stale).
pub fn training_process(dir: &Path) -> Option<u32> {
    let holder = std::fs::read_to_string(dir.join(LOCK)).ok()?.trim().parse::<u32>().ok()?;
    (holder != std::process::id() && zoo_is_running(holder)).then_some(holder)
}

/// Whether process `pid` is alive and a zoo (the same executable name as this one), as far as
/// the system tells; where it cannot tell (no /proc), a lock is taken as held.
fn zoo_is_running(pid: u32) -> bool {
    let proc_dir = Path::new("/proc");
    if !proc_dir.is_dir() {
        return true;
    }
    let Ok(name) = std::fs::read_to_string(proc_dir.join(pid.to_string()).join("comm")) else {
        return false;
    };
    let ours = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
    name.trim() == ours.trim()
}

impl RunDir {
    /// Creates a new run folder: `explicit` if given (it must not hold a run already), else
    /// `runs/<model>/<timestamp>`.
    pub fn create(explicit: Option<&Path>, model: &str) -> Result<Self> {
        let path = match explicit {
            Some(dir) => {
                if dir.join("run.json").exists() {
                    return Err(ZooError::usage(format!(
                        "{}: already holds a run; pick another --run-dir, or continue it with --resume {}",
                        dir.display(),
                        dir.display()
                    )));
                }
                dir.to_path_buf()
            }
            None => {
                let base = Path::new("runs").join(model);
                let stamp = timestamp_for_path();
                let mut path = base.join(&stamp);
                let mut n = 2;
                while path.exists() {
                    path = base.join(format!("{stamp}-{n}"));
                    n += 1;
                }
                path
            }
        };
        std::fs::create_dir_all(&path).map_err(|e| {
            ZooError::usage(format!("{}: cannot create the run folder ({e}); pick another --run-dir", path.display()))
        })?;
        let lock = Some(std::sync::Arc::new(RunLock::acquire(&path)?));
        Ok(Self { path, lock })
    }

    /// Creates the folder of a new run of `R` and writes `run.json` (model, `data`, device)
    /// and `config.json` (the full recipe): every recipe starts a run this way.
    pub fn start<R: crate::recipes::Recipe>(
        explicit: Option<&Path>,
        recipe: &R,
        data: &str,
        device: &str,
    ) -> Result<Self> {
        let run = Self::create(explicit, R::NAME)?;
        let info = RunInfo {
            model: R::NAME.to_string(),
            data: data.to_string(),
            device: device.to_string(),
            created: timestamp_iso(),
            zoo_version: env!("CARGO_PKG_VERSION").to_string(),
            adapter: device_description(),
        };
        if let Some(adapter) = &info.adapter {
            println!("device {adapter}");
        }
        run.write_json("run.json", &info)?;
        run.write_json("config.json", recipe)?;
        Ok(run)
    }

    /// What `run.json` of the run folder `path` says, whatever its model.
    pub fn read_info(path: &Path) -> Result<RunInfo> {
        let run = Self { path: path.to_path_buf(), lock: None };
        let mut info: RunInfo = run.read_json("run.json")?;
        info.model = run.current_name(&info.model);
        Ok(info)
    }

    /// Opens an existing run folder of `model`.
    pub fn open(path: &Path, model: &str) -> Result<(Self, RunInfo)> {
        if !path.is_dir() {
            return Err(ZooError::usage(format!(
                "{}: no such run folder; pass --run a folder made by `zoo train {model}` (they are under runs/{model}/)",
                path.display()
            )));
        }
        let run = Self { path: path.to_path_buf(), lock: None };
        let info_path = run.file("run.json");
        if !info_path.is_file() {
            return Err(ZooError::usage(format!(
                "{}: not a zoo run folder (no run.json); pass --run a folder made by `zoo train {model}`",
                path.display()
            )));
        }
        let mut info: RunInfo = run.read_json("run.json")?;
        info.model = run.current_name(&info.model);
        if info.model != model {
            return Err(ZooError::usage(format!(
                "{}: is a `{}` run, not `{model}`; use `zoo ... {} --run {}`",
                path.display(),
                info.model,
                info.model,
                path.display()
            )));
        }
        Ok((run, info))
    }

    /// Opens an existing run folder of `model` to train it further (`--resume`): takes its
    /// lock for as long as the returned folder (or a clone) lives.
    pub fn open_to_train(path: &Path, model: &str) -> Result<(Self, RunInfo)> {
        let (mut run, info) = Self::open(path, model)?;
        run.lock = Some(std::sync::Arc::new(RunLock::acquire(path)?));
        // With the lock held no other zoo writes here: a temporary file is what a killed
        // run's interrupted write left (`crate::checkpoint::atomic_write`), never a part.
        for dir in [run.path.clone(), run.checkpoint_dir()] {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.contains(".tmp-") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok((run, info))
    }

    /// The model of a run as zoo names it now: runs of `lstm` and `attention` whose recipe's
    /// `task` was Language, from before the language models had names of their own, are
    /// `char-lstm` and `gpt` runs (their `config.json` loads as those recipes).
    fn current_name(&self, recorded: &str) -> String {
        let task = || -> Option<String> {
            let config: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(self.file("config.json")).ok()?).ok()?;
            config.get("task")?.as_str().map(str::to_string)
        };
        match recorded {
            "lstm" | "attention" if task().as_deref() == Some("Language") => {
                if recorded == "lstm" { "char-lstm" } else { "gpt" }.to_string()
            }
            _ => recorded.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        self.path.join("checkpoint")
    }

    /// Writes `value` as pretty JSON to `name` in the run folder, atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let path = self.file(name);
        let text =
            serde_json::to_string_pretty(value).map_err(|e| ZooError::runtime(format!("{}: {e}", path.display())))?;
        atomic_write(&path, text.as_bytes()).with_path(&path)
    }

    /// Writes a text file (a vocabulary, say) into the run folder, atomically.
    pub fn write_text(&self, name: &str, text: &str) -> Result<()> {
        let path = self.file(name);
        atomic_write(&path, text.as_bytes()).with_path(&path)
    }

    /// Reads a text file of the run folder.
    pub fn read_text(&self, name: &str) -> Result<String> {
        let path = self.file(name);
        std::fs::read_to_string(&path).with_path(&path)
    }

    /// The run's recipe (`config.json`), fields added to zoo since the run was made taking
    /// their defaults.
    pub fn read_recipe<R: crate::recipes::Recipe>(&self) -> Result<R> {
        crate::recipes::read_run_recipe(&self.file("config.json"))
    }

    pub fn read_json<T: DeserializeOwned>(&self, name: &str) -> Result<T> {
        let path = self.file(name);
        let text = std::fs::read_to_string(&path).with_path(&path)?;
        serde_json::from_str(&text).map_err(|e| {
            // A well-formed file that lacks a field was written by an older zoo, whose model
            // had a different shape: say so rather than call it damaged.
            let cause = if e.is_data() && e.to_string().starts_with("missing field") {
                "written by an older zoo"
            } else {
                "damaged"
            };
            ZooError::runtime(format!("{}: {cause} ({e}); the run cannot be rebuilt, train a new one", path.display()))
        })
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn utc_parts() -> (i64, u32, u32, u64, u64, u64) {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// `2026-11-30T14:05:09Z`
pub fn timestamp_iso() -> String {
    let (y, m, d, hh, mm, ss) = utc_parts();
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// `20261130-140509`, for folder names.
fn timestamp_for_path() -> String {
    let (y, m, d, hh, mm, ss) = utc_parts();
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_787), (2026, 11, 30));
    }
}
