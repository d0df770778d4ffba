//! Imported weights (`--init-from`): safetensors and PyTorch `.pth` files.
#![no_main]
use std::sync::OnceLock;

use burn::prelude::*;
use libfuzzer_sys::fuzz_target;
use zoo_models::{Cnn, CnnConfig};

#[path = "scratch.rs"]
mod scratch;

fn model() -> &'static Cnn {
    static MODEL: OnceLock<Cnn> = OnceLock::new();
    MODEL.get_or_init(|| {
        CnnConfig::new().with_conv1_channels(8).with_conv2_channels(16).with_hidden(32).init(&Device::flex())
    })
}

fuzz_target!(|data: &[u8]| {
    for name in ["weights.safetensors", "weights.pth"] {
        let path = scratch::scratch().join(name);
        std::fs::write(&path, data).unwrap();
        let _ = zoo_train::weights::import(model().clone(), &path);
    }
});
