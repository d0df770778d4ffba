//! Weights records (`model.bpk`, the checkpoints' parts) and optimiser records.
#![no_main]
use std::sync::OnceLock;

use burn::optim::AdamConfig;
use burn::prelude::*;
use libfuzzer_sys::fuzz_target;
use zoo_models::{Mlp, MlpConfig};

fn model() -> &'static Mlp {
    static MODEL: OnceLock<Mlp> = OnceLock::new();
    MODEL.get_or_init(|| MlpConfig::new().with_hidden(16).init(&Device::flex()))
}

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("checkpoint/model-1.bpk");
    let _ = zoo_train::checkpoint::load_module(model().clone(), data.to_vec(), path);
    let _ = zoo_train::checkpoint::load_optimizer(AdamConfig::new().init(), data.to_vec());
});
