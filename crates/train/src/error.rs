//! One error type for every command, split by whose mistake it is: a usage error (a path,
//! name or value the user gave; exit code 2) or a runtime error (bad file contents, I/O,
//! training failure; exit code 1). Every message is one line that names the file or value
//! and says what to do.

use zoo_data::{CorpusError, FetchError, FolderError, IdxError, ImageError, SeriesError};

#[derive(Debug, thiserror::Error)]
pub enum ZooError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Runtime(String),
}

impl ZooError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Self::Runtime(message.into())
    }

    /// The process exit code: 2 for usage errors, 1 for the rest.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) => 2,
            Self::Runtime(_) => 1,
        }
    }
}

impl From<IdxError> for ZooError {
    fn from(error: IdxError) -> Self {
        if error.is_usage() { Self::Usage(error.to_string()) } else { Self::Runtime(error.to_string()) }
    }
}

impl From<FolderError> for ZooError {
    fn from(error: FolderError) -> Self {
        match error {
            FolderError::Picture(_) | FolderError::Read { .. } => Self::Runtime(error.to_string()),
            _ => Self::Usage(error.to_string()),
        }
    }
}

impl From<ImageError> for ZooError {
    fn from(error: ImageError) -> Self {
        Self::Runtime(error.to_string())
    }
}

impl From<SeriesError> for ZooError {
    fn from(error: SeriesError) -> Self {
        if error.is_usage() { Self::Usage(error.to_string()) } else { Self::Runtime(error.to_string()) }
    }
}

impl From<CorpusError> for ZooError {
    fn from(error: CorpusError) -> Self {
        if error.is_usage() { Self::Usage(error.to_string()) } else { Self::Runtime(error.to_string()) }
    }
}

impl From<FetchError> for ZooError {
    fn from(error: FetchError) -> Self {
        Self::Runtime(error.to_string())
    }
}

pub type Result<T, E = ZooError> = std::result::Result<T, E>;

/// Adds the file name to an I/O error: "`path`: what went wrong".
pub fn io_error(path: &std::path::Path, error: std::io::Error) -> ZooError {
    use std::io::ErrorKind;
    let fix = match error.kind() {
        ErrorKind::StorageFull => {
            "; the disk is full: free some space and run the command again (a run keeps its last complete checkpoint; `zoo train MODEL --resume RUN` continues it)"
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            "; check its permissions, or use a folder you can write to (--run-dir)"
        }
        _ => "",
    };
    ZooError::runtime(format!("{}: {error}{fix}", path.display()))
}

/// Names the file in an I/O error: `fs::read(&path).with_path(&path)?`.
pub trait ResultExt<T> {
    fn with_path(self, path: &std::path::Path) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, std::io::Error> {
    fn with_path(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|e| io_error(path, e))
    }
}

/// Runs `work`, turning a panic into its message instead of a crash, with the panic hook
/// silenced meanwhile (so the message is not also printed). For calls into Burn that panic on
/// input they cannot use (a record whose tensors have other shapes than the model's) and for
/// probing a GPU driver; not for zoo's own code, which returns errors.
pub fn catch_panic<T>(work: impl FnOnce() -> T) -> std::result::Result<T, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    std::panic::set_hook(hook);
    outcome.map_err(|payload| {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        // Burn's messages span lines; the first that says something is enough.
        message
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("==="))
            .unwrap_or("unknown panic")
            .to_string()
    })
}

/// Runs `work` with the process's standard error sent to `/dev/null` (Unix; elsewhere as is).
/// For probing a GPU driver, whose libraries print their own complaints (Mesa's "XDG_RUNTIME_DIR
/// is invalid") that say nothing to a zoo user and would break zoo's one-line errors; the
/// probe's outcome is reported by zoo instead.
pub fn without_stderr<T>(work: impl FnOnce() -> T) -> T {
    #[cfg(unix)]
    {
        // SAFETY: plain descriptor calls on the process's own table: the standard error is
        // duplicated, pointed at /dev/null, and restored from the duplicate afterwards.
        unsafe {
            let saved = libc::dup(2);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if saved < 0 || null < 0 {
                for fd in [saved, null] {
                    if fd >= 0 {
                        libc::close(fd);
                    }
                }
                return work();
            }
            libc::dup2(null, 2);
            libc::close(null);
            let outcome = work();
            libc::dup2(saved, 2);
            libc::close(saved);
            outcome
        }
    }
    #[cfg(not(unix))]
    work()
}
