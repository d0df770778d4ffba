//! Where a run's images come from: the MNIST extract embedded in the binary, or a folder of
//! IDX files the user names with `--data`.

use std::path::{Path, PathBuf};

use zoo_data::{ImageSet, Split, embedded, folder, idx};

use crate::error::{Result, ZooError};

#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    Embedded,
    Dir(PathBuf),
}

const EMBEDDED: &str = "embedded";

impl DataSource {
    /// `--data DIR` (made absolute so a run can be resumed from elsewhere) or the extract.
    pub fn from_arg(dir: Option<&Path>) -> Result<Self> {
        match dir {
            None => Ok(Self::Embedded),
            Some(dir) => {
                let absolute = std::fs::canonicalize(dir).map_err(|_| {
                    ZooError::usage(format!(
                        "{}: no such data folder; pass --data a folder with MNIST-format IDX files (`zoo data fetch mnist`) or one subfolder of pictures per class",
                        dir.display()
                    ))
                })?;
                Ok(Self::Dir(absolute))
            }
        }
    }

    /// The value kept in `run.json`.
    pub fn to_record(&self) -> String {
        match self {
            Self::Embedded => EMBEDDED.to_string(),
            Self::Dir(dir) => dir.display().to_string(),
        }
    }

    pub fn from_record(record: &str) -> Result<Self> {
        if record == EMBEDDED { Ok(Self::Embedded) } else { Self::from_arg(Some(Path::new(record))) }
    }

    /// The names of the classes when the data says them (a folder of class subfolders).
    pub fn class_names(&self) -> Result<Option<Vec<String>>> {
        match self {
            Self::Dir(dir) if folder::is_image_folder(dir) => Ok(Some(folder::class_names(dir, Split::Train)?)),
            _ => Ok(None),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Embedded => "the embedded MNIST extract".to_string(),
            Self::Dir(dir) => dir.display().to_string(),
        }
    }

    /// Loads one split and checks that its images are 28x28, as the image models need.
    pub fn load(&self, split: Split) -> Result<ImageSet> {
        let set = match self {
            Self::Embedded => embedded::mnist_extract(split)?,
            Self::Dir(dir) if folder::is_image_folder(dir) => folder::read_image_folder(dir, split)?.0,
            Self::Dir(dir) => idx::load_dir(dir, split)?,
        };
        let side = zoo_models::IMAGE_SIDE;
        idx::require_dims(&set, side, side)?;
        Ok(set)
    }
}
