//! A scratch folder of this fuzzing process, for the readers that take a path.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("zoo-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch folder");
        dir
    })
}
