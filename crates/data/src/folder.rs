//! A user's own pictures as a data set: a folder with one subfolder per class (its name is the
//! class's name) of PNG or JPEG files of any size. Each picture is prepared as `zoo predict`
//! prepares one (`image_prep`: greyscale, a light background inverted, the figure cropped,
//! scaled into 20 px and centred in 28x28, as MNIST's digits are), so a network trained on
//! MNIST sees the user's pictures as it saw its own. `train/` and `test/` subfolders, when the
//! folder has both, are the two splits.

use std::path::{Path, PathBuf};

use crate::idx::{ImageSet, Split};
use crate::image_prep::{ImageError, MNIST_SIDE, load_as_mnist};

/// What is wrong with a folder of pictures, each naming the path and the fix.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{}: cannot read the folder ({source}); check the --data path", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{}: no class folders; put each class's pictures (PNG or JPEG) in a subfolder named after the class",
        .path.display()
    )]
    NoClasses { path: PathBuf },
    #[error(
        "{}: only one class folder ({name}); a classifier needs pictures of at least two classes",
        .path.display()
    )]
    OneClass { path: PathBuf, name: String },
    #[error("{}: no pictures (PNG or JPEG files) in this class folder; add some or remove the folder", .path.display())]
    EmptyClass { path: PathBuf },
    #[error("{}: more than 256 class folders; zoo's labels are bytes", .path.display())]
    TooManyClasses { path: PathBuf },
    #[error("{}: no test split (a test/ subfolder beside train/); evaluate with --data a folder of test pictures", .path.display())]
    NoTestSplit { path: PathBuf },
    #[error("{0}")]
    Picture(#[from] ImageError),
}

/// True when `dir` looks like a folder of class subfolders rather than MNIST's IDX files.
pub fn is_image_folder(dir: &Path) -> bool {
    let (mut has_idx, mut has_folder) = (false, false);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        has_idx |= name.contains("-idx") || name.contains(".idx");
        has_folder |= entry.path().is_dir();
    }
    !has_idx && has_folder
}

/// The folder of `split`: `train/` or `test/` when the folder has both, else the folder itself
/// for training (and no test split).
fn split_dir(dir: &Path, split: Split) -> Result<PathBuf, FolderError> {
    let (train, test) = (dir.join("train"), dir.join("test"));
    match (train.is_dir() && test.is_dir(), split) {
        (true, Split::Train) => Ok(train),
        (true, Split::Test) => Ok(test),
        (false, Split::Train) => Ok(dir.to_path_buf()),
        (false, Split::Test) => Err(FolderError::NoTestSplit { path: dir.to_path_buf() }),
    }
}

/// The class names of a folder's `split`: its subfolders, sorted.
pub fn class_names(dir: &Path, split: Split) -> Result<Vec<String>, FolderError> {
    let dir = split_dir(dir, split)?;
    let read_error = |source| FolderError::Read { path: dir.clone(), source };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(read_error)?
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    match names.len() {
        0 => Err(FolderError::NoClasses { path: dir }),
        1 => Err(FolderError::OneClass { path: dir, name: names.remove(0) }),
        n if n > 256 => Err(FolderError::TooManyClasses { path: dir }),
        _ => Ok(names),
    }
}

/// Reads the pictures of `split` as 28x28 grey images labelled by their folder's position in
/// [`class_names`]; returns the set and the names. Files that are not PNG or JPEG by name are
/// left alone; a PNG or JPEG that cannot be read is an error naming it.
pub fn read_image_folder(dir: &Path, split: Split) -> Result<(ImageSet, Vec<String>), FolderError> {
    let names = class_names(dir, split)?;
    let root = split_dir(dir, split)?;
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for (label, name) in names.iter().enumerate() {
        let class_dir = root.join(name);
        let read_error = |source| FolderError::Read { path: class_dir.clone(), source };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&class_dir)
            .map_err(read_error)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_picture(p))
            .collect();
        if files.is_empty() {
            return Err(FolderError::EmptyClass { path: class_dir });
        }
        files.sort();
        for file in files {
            let pixels = load_as_mnist(&file)?;
            images.extend(pixels.iter().map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8));
            labels.push(label as u8);
        }
    }
    let mut set = ImageSet::new(images, labels, MNIST_SIDE, MNIST_SIDE)
        .map_err(|e| FolderError::Read { path: root.clone(), source: std::io::Error::other(e.to_string()) })?;
    set.num_classes = names.len();
    set.source = root.display().to_string();
    Ok((set, names))
}

fn is_picture(path: &Path) -> bool {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    path.is_file() && matches!(extension.as_deref(), Some("png" | "jpg" | "jpeg"))
}
