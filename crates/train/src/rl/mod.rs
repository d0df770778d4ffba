//! Reinforcement learning: tabular Q-learning on the chain (item 4) and DQN on CartPole
//! (item 5). Both train in their own loops (see `dqn.rs` for why not burn-train's
//! `RLTraining`) and report to the shared [`Dashboard`](crate::dashboard::Dashboard).

pub mod dqn;
pub mod play;
pub mod qlearning;
pub mod replay;

use std::path::PathBuf;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use crate::error::ZooError;
use crate::run::timestamp_iso;

/// What `zoo train qlearning|dqn` was asked to do.
#[derive(Clone, Debug)]
pub struct RlTrainRequest {
    pub config_file: Option<PathBuf>,
    /// `--set KEY=VALUE`: recipe fields laid over the config file.
    pub sets: Vec<String>,
    /// Environment steps of the whole run (`--steps`).
    pub steps: Option<usize>,
    /// Episodes of the whole run (`--episodes`, Q-learning only).
    pub episodes: Option<usize>,
    pub seed: Option<u64>,
    pub learning_rate: Option<f64>,
    pub batch_size: Option<usize>,
    pub run_dir: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    /// The device of a network; `None` for the tabular learner.
    pub device: Option<Device>,
    pub device_name: String,
}

/// Mean, spread and extremes of the greedy policy's returns, as `zoo eval` prints them and
/// `eval.json` keeps them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReturnStats {
    pub model: String,
    pub environment: String,
    pub episodes: usize,
    pub mean: f64,
    /// Population standard deviation, as CleanRL and SB3 report it.
    pub std: f64,
    pub min: f64,
    pub max: f64,
    /// Seed of the evaluation environment's resets.
    pub seed: u64,
    pub returns: Vec<f64>,
    pub evaluated: String,
}

impl ReturnStats {
    pub fn new(model: &str, environment: &str, seed: u64, returns: Vec<f64>) -> Self {
        let n = returns.len().max(1) as f64;
        let mean = returns.iter().sum::<f64>() / n;
        let std = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
        Self {
            model: model.to_string(),
            environment: environment.to_string(),
            episodes: returns.len(),
            mean,
            std,
            min: returns.iter().copied().fold(f64::INFINITY, f64::min),
            max: returns.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            seed,
            returns,
            evaluated: timestamp_iso(),
        }
    }
}

/// Refuses a flag that means nothing to an RL recipe, naming the one to use.
pub(crate) fn refuse(flag: &str, model: &str, instead: &str) -> ZooError {
    ZooError::usage(format!("{flag} does not apply to {model}; {instead}"))
}
