//! A run folder's `run.json`, as `eval`, `sample`, `predict` and `--resume` open it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use zoo_train::run::RunDir;

#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    let run = scratch::scratch().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("run.json"), data).unwrap();
    let _ = RunDir::open(&run, "mlp");
});
