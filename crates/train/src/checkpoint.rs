//! Crash-safe files: every run file and checkpoint is written to a temporary file in the same
//! folder, synced, then renamed over the final name and the folder synced, so a crash leaves
//! the old file or the new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;

use crate::error::{Result, ResultExt, ZooError};

/// Writes `bytes` to `path` atomically (temporary file + fsync + rename).
pub fn atomic_write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        zoo_data::fetch::sync_parent_dir(path);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// The checkpoints of the training loop (`crate::trainer`): per epoch, one file per record
/// (`online.bpk` is written as `online-<epoch>.bpk`), then `progress-<epoch>.json`, whose
/// presence marks the epoch's checkpoint complete and which records each record's length and
/// CRC-32C, so a record damaged after it was written (a truncated copy, a bad disk) is told
/// from a good one. The two newest epochs are kept: when the newest is damaged, the one
/// before stands in.
pub struct EpochCheckpoints {
    directory: PathBuf,
}

impl EpochCheckpoints {
    pub fn new(directory: &Path) -> Self {
        Self { directory: directory.to_path_buf() }
    }

    /// `name` (`stem.ext`) of `epoch`: `stem-epoch.ext`.
    pub fn path(&self, name: &str, epoch: usize) -> PathBuf {
        let (stem, ext) = name.rsplit_once('.').unwrap_or((name, "bin"));
        self.directory.join(format!("{stem}-{epoch}.{ext}"))
    }

    /// Writes every part, then the progress record with the parts' sums, each atomically;
    /// drops epoch - 2.
    pub fn save<P: serde::Serialize>(&self, epoch: usize, parts: &[(&str, Vec<u8>)], progress: &P) -> Result<()> {
        let mut sums = serde_json::Map::new();
        for (name, bytes) in parts {
            let path = self.path(name, epoch);
            atomic_write(&path, bytes).with_path(&path)?;
            let sum = PartSum { bytes: bytes.len() as u64, crc32c: crate::tensorboard::crc32c(bytes) };
            sums.insert((*name).to_string(), serde_json::to_value(sum).expect("two numbers"));
        }
        let path = self.path("progress.json", epoch);
        let mut record = serde_json::to_value(progress).map_err(|e| ZooError::runtime(e.to_string()))?;
        if let Some(fields) = record.as_object_mut() {
            fields.insert(PART_SUMS.to_string(), serde_json::Value::Object(sums));
        }
        let text = serde_json::to_string_pretty(&record).map_err(|e| ZooError::runtime(e.to_string()))?;
        atomic_write(&path, text.as_bytes()).with_path(&path)?;
        if epoch >= 2 {
            for (name, _) in parts {
                let _ = fs::remove_file(self.path(name, epoch - 2));
            }
            let _ = fs::remove_file(self.path("progress.json", epoch - 2));
        }
        Ok(())
    }

    /// The latest epoch with a progress record and every part in `names` (present; see
    /// [`latest_intact`](Self::latest_intact) for a check of their contents).
    pub fn latest(&self, names: &[&str]) -> Option<usize> {
        self.epochs_with_progress()
            .into_iter()
            .filter(|&epoch| names.iter().all(|n| self.path(n, epoch).is_file()))
            .max()
    }

    /// Epochs with a progress record, newest first.
    fn epochs_with_progress(&self) -> Vec<usize> {
        let Ok(entries) = fs::read_dir(&self.directory) else { return Vec::new() };
        let mut epochs: Vec<usize> = entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_prefix("progress-")?.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        epochs.sort_unstable_by(|a, b| b.cmp(a));
        epochs
    }

    /// The newest epoch whose progress record parses and whose parts in `names` are all there
    /// with the length and CRC-32C the record gives; and, for each newer one, why it was passed
    /// over (`"checkpoint/model-5.bpk: 812 bytes where 40960 were written"`).
    pub fn latest_intact(&self, names: &[&str]) -> (Option<usize>, Vec<String>) {
        let mut damaged = Vec::new();
        for epoch in self.epochs_with_progress() {
            match self.check(epoch, names) {
                Ok(()) => return (Some(epoch), damaged),
                Err(why) => damaged.push(why),
            }
        }
        (None, damaged)
    }

    /// Whether the checkpoint of `epoch` is whole: why not, naming the file.
    pub fn check(&self, epoch: usize, names: &[&str]) -> std::result::Result<(), String> {
        let progress = self.path("progress.json", epoch);
        let record: serde_json::Value = fs::read_to_string(&progress)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
            .map_err(|e| format!("{}: unreadable ({e})", progress.display()))?;
        // Checkpoints from before the sums were recorded are checked for presence only.
        let sums = record.get(PART_SUMS);
        for name in names {
            let path = self.path(name, epoch);
            let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let Some(sum) = sums.and_then(|s| s.get(*name)) else { continue };
            let sum: PartSum =
                serde_json::from_value(sum.clone()).map_err(|e| format!("{}: unreadable ({e})", progress.display()))?;
            if bytes.len() as u64 != sum.bytes {
                return Err(format!("{}: {} bytes where {} were written", path.display(), bytes.len(), sum.bytes));
            }
            if crate::tensorboard::crc32c(&bytes) != sum.crc32c {
                return Err(format!("{}: its contents changed after it was written (CRC-32C differs)", path.display()));
            }
        }
        Ok(())
    }

    pub fn read(&self, name: &str, epoch: usize) -> Result<Vec<u8>> {
        let path = self.path(name, epoch);
        fs::read(&path).with_path(&path)
    }

    pub fn read_progress<P: serde::de::DeserializeOwned>(&self, epoch: usize) -> Result<P> {
        let path = self.path("progress.json", epoch);
        let text = fs::read_to_string(&path).with_path(&path)?;
        let damaged =
            |e: serde_json::Error| ZooError::runtime(format!("{}: damaged ({e}); start a new run", path.display()));
        let mut record: serde_json::Value = serde_json::from_str(&text).map_err(damaged)?;
        if let Some(fields) = record.as_object_mut() {
            fields.remove(PART_SUMS);
        }
        serde_json::from_value(record).map_err(damaged)
    }
}

/// The key of `progress-<epoch>.json` under which each part's sum is kept.
const PART_SUMS: &str = "checkpoint_parts";

/// A checkpoint part's length and CRC-32C as written.
#[derive(serde::Serialize, serde::Deserialize)]
struct PartSum {
    bytes: u64,
    crc32c: u32,
}

/// A module's weights as bytes (the format of `model.bpk` and the checkpoints).
pub fn module_bytes<M: Module>(module: &M) -> Result<Vec<u8>> {
    let bytes = module
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| ZooError::runtime(format!("cannot serialise the weights: {e}")))?;
    Ok(bytes.to_vec())
}

/// Writes a module's weights atomically.
pub fn write_module<M: Module>(module: &M, path: &Path) -> Result<()> {
    atomic_write(path, &module_bytes(module)?).with_path(path)
}

/// Loads weights written by [`module_bytes`] into `module`; `what` names the file in errors.
pub fn load_module<M: Module>(module: M, bytes: Vec<u8>, what: &Path) -> Result<M> {
    let damaged = |e: burn::store::RecordError| {
        ZooError::runtime(format!("{}: damaged weights ({e}); retrain or use another run", what.display()))
    };
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(damaged)?;
    crate::error::catch_panic(|| module.try_load_record(record))
        .map_err(|why| {
            ZooError::runtime(format!(
                "{}: weights that do not fit this model ({why}); retrain or use another run",
                what.display()
            ))
        })?
        .map_err(damaged)
}

/// Reads a weights file into `module`; a missing file is the user's to fix.
pub fn read_module<M: Module>(module: M, path: &Path) -> Result<M> {
    if !path.is_file() {
        return Err(ZooError::usage(format!(
            "{}: no weights yet; train the run to its end or continue it with --resume",
            path.display()
        )));
    }
    let bytes = fs::read(path).with_path(path)?;
    load_module(module, bytes, path)
}

pub fn optimizer_bytes(optimizer: &ModuleOptimizer) -> Result<Vec<u8>> {
    let bytes =
        optimizer.into_bytes().map_err(|e| ZooError::runtime(format!("cannot serialise the optimiser: {e}")))?;
    Ok(bytes.to_vec())
}

/// Loads an optimiser's state. Burn puts it on the default device; each parameter's state
/// moves to that parameter's device at the first step.
pub fn load_optimizer(optimizer: ModuleOptimizer, bytes: Vec<u8>) -> Result<ModuleOptimizer> {
    // A record that parses but holds state of other shapes than the model's (another run's,
    // or damaged in a way its checksum missed) makes Burn's Adam panic: an error instead.
    crate::error::catch_panic(|| optimizer.from_bytes(Bytes::from_bytes_vec(bytes)))
        .map_err(|why| {
            ZooError::runtime(format!(
                "optimiser checkpoint that does not fit this model ({why}); start a new run or resume the run it came from"
            ))
        })?
        .map_err(|e| ZooError::runtime(format!("damaged optimiser checkpoint ({e}); start a new run")))
}

/// The two records of a checkpoint of one model and one Adam (`model.bpk`, `optim.bpk`),
/// loaded into `fresh` and `optimizer` (a new one of the recipe's settings).
pub fn load_model_and_optimizer<M: Module>(
    parts: Vec<Vec<u8>>,
    fresh: M,
    optimizer: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer)> {
    let [model, optim]: [Vec<u8>; 2] = parts
        .try_into()
        .map_err(|_| ZooError::runtime("a checkpoint of one model has two records, model.bpk and optim.bpk"))?;
    let model = load_module(fresh, model, Path::new("checkpoint/model.bpk"))?;
    Ok((model, load_optimizer(optimizer, optim)?))
}
