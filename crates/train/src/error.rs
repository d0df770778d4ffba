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
