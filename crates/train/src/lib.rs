//! Training recipes of zoo and everything a run needs: the one training loop ([`trainer`]) that
//! every family plugs its steps into, data loaders, the run folder, crash-safe checkpoints,
//! burn-train's dashboard, metric logs and plots.

pub mod accumulate;
pub mod augment;
pub mod average;
pub mod checkpoint;
pub mod classifier;
pub mod compare;
pub mod cpu;
pub mod crossmodal;
pub mod cv;
pub mod dashboard;
pub mod error;
pub mod fit;
pub mod forecast;
pub mod generative;
pub mod image;
pub mod image_training;
pub mod inference;
pub mod language;
pub mod loader;
pub mod logging;
pub mod metrics_log;
pub mod multitask;
pub mod parallel;
pub mod plot;
pub mod read;
pub mod recipes;
pub mod regularize;
pub mod render;
pub mod rl;
pub mod run;
pub mod source;
pub mod tensorboard;
pub mod textclass;
pub mod topk;
pub mod trainer;
pub mod transfer;
pub mod weights;

pub use error::{Result, ZooError};
