//! Training recipes of zoo and everything a run needs around burn-train: data loaders, the
//! run folder, crash-safe checkpoints, a plain-text renderer, metric logs and plots; and the
//! loops that are not burn-train's (RL), on the same dashboard.

pub mod average;
pub mod checkpoint;
pub mod cpu;
pub mod classifier;
pub mod dashboard;
pub mod error;
pub mod fit;
pub mod forecast;
pub mod generative;
pub mod image;
pub mod language;
pub mod loader;
pub mod metrics_log;
pub mod plot;
pub mod recipes;
pub mod render;
pub mod rl;
pub mod run;
pub mod source;
pub mod textclass;

pub use error::{Result, ZooError};
