//! Crash-safe files: every run file and checkpoint is written to a temporary file in the same
//! folder, synced, then renamed over the final name, so a crash leaves the old file or the new
//! one, never half of one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::Bytes;
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};

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
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// burn-train checkpointer writing `<dir>/<name>-<epoch>.bpk` atomically; a drop-in for
/// burn's `FileCheckpointer`, which writes in place.
pub struct AtomicCheckpointer {
    directory: PathBuf,
    name: &'static str,
}

impl AtomicCheckpointer {
    pub fn new(directory: &Path, name: &'static str) -> Self {
        Self { directory: directory.to_path_buf(), name }
    }

    fn path(&self, epoch: usize) -> PathBuf {
        checkpoint_path(&self.directory, self.name, epoch)
    }
}

/// Where burn-train and zoo keep the checkpoint `name` (`model`, `optim`, `scheduler`) of an epoch.
pub fn checkpoint_path(directory: &Path, name: &str, epoch: usize) -> PathBuf {
    directory.join(format!("{name}-{epoch}.bpk"))
}

impl<R: Checkpoint> Checkpointer<R> for AtomicCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let bytes = record
            .checkpoint_into_bytes()
            .map_err(CheckpointerError::Record)?;
        atomic_write(&self.path(epoch), &bytes).map_err(CheckpointerError::IOError)
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let bytes = fs::read(self.path(epoch)).map_err(CheckpointerError::IOError)?;
        R::checkpoint_from_bytes(Bytes::from_bytes_vec(bytes)).map_err(CheckpointerError::Record)
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        match fs::remove_file(self.path(epoch)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(CheckpointerError::IOError(e)),
            _ => Ok(()),
        }
    }
}

/// The three records burn-train needs to resume.
pub const CHECKPOINT_PARTS: [&str; 3] = ["model", "optim", "scheduler"];

/// The latest epoch whose model, optimiser and scheduler checkpoints are all present.
pub fn latest_complete_checkpoint(directory: &Path) -> Option<usize> {
    let entries = fs::read_dir(directory).ok()?;
    entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            let epoch = name.strip_prefix("model-")?.strip_suffix(".bpk")?.parse().ok()?;
            Some(epoch)
        })
        .filter(|&epoch| {
            CHECKPOINT_PARTS
                .iter()
                .all(|part| checkpoint_path(directory, part, epoch).is_file())
        })
        .max()
}
