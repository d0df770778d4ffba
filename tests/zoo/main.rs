//! zoo's integration tests: one binary (one link) for all of them. Offline, on the CPU
//! (`Device::flex()`), from the embedded MNIST extract and the fixtures in `tests/fixtures`.

mod attention;
mod bad_inputs;
mod cli;
mod common;
mod determinism;
mod devices;
mod generative;
mod kernels;
mod models;
mod multimodal;
mod mutations;
mod parity;
mod primitives;
mod reliability;
mod rl;
mod sequence;
mod serve;
mod toolkit;
mod training_loop;
mod transfer;
mod weights;
mod wgpu;
mod worker;

#[global_allocator]
static ALLOCATOR: common::Tracking = common::Tracking;
