//! What a crash or a damaged run folder leaves: `kill -9` at random moments of a real run,
//! resumed each time, ends with every epoch in `metrics.csv` once and weights that load; a
//! damaged newest checkpoint gives way to the one before it, and says so.
//! (`benches/kill.sh` runs the long version over every family.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{assert_clean_error, stderr, zoo};

/// `zoo train mlp` in the background: a new run into `run`, or a resume of it to `epochs`.
fn spawn_mlp(run: &Path, epochs: usize, resume: bool) -> std::process::Child {
    let run = run.to_str().unwrap();
    let epochs = epochs.to_string();
    let mut args = vec!["train", "mlp", "--device", "cpu", "--epochs", &epochs];
    if resume {
        args.extend(["--resume", run]);
    } else {
        args.extend(["--run-dir", run]);
    }
    Command::new(env!("CARGO_BIN_EXE_zoo"))
        .args(&args)
        .env_remove("ZOO_DEVICE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the zoo binary runs")
}

/// How many rows of `split`'s `metric` each epoch has in the run's `metrics.csv`.
fn rows_per_epoch(run: &Path, split: &str, metric: &str) -> Vec<(usize, usize)> {
    let rows = zoo_train::metrics_log::read_metrics(&run.join("metrics.csv")).unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for row in rows.iter().filter(|r| r.split == split && r.metric == metric) {
        *counts.entry(row.epoch).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

#[test]
fn a_run_killed_at_random_moments_resumes_to_its_end_with_each_epoch_once() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("killed");
    // 10 epochs of the embedded extract's 12,000 images: about 2.5 s on 2 cores.
    let epochs = 10;
    let mut state = 0x5EED_u64;
    let (mut kills, mut finished) = (0, false);
    for _ in 0..6 {
        // A new run until one has a checkpoint to resume from.
        let resume = run.join("checkpoint").is_dir()
            && std::fs::read_dir(run.join("checkpoint"))
                .unwrap()
                .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("progress-"));
        if !resume && run.exists() {
            std::fs::remove_dir_all(&run).unwrap();
        }
        let mut child = spawn_mlp(&run, epochs, resume);
        state = zoo_data::rng::splitmix_step(state);
        // 0.1 to 1.3 s: start-up, a step, validation or a checkpoint write.
        std::thread::sleep(Duration::from_millis(100 + state % 1200));
        if child.try_wait().unwrap().is_some() {
            finished = true;
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    if !finished {
        let out = zoo(&["train", "mlp", "--resume", run.to_str().unwrap(), "--device", "cpu"]);
        assert!(out.status.success(), "after {kills} kills: {}", stderr(&out));
    }
    assert!(kills > 0, "no kill landed: the run is too short to test anything");
    let once: Vec<(usize, usize)> = (1..=epochs).map(|e| (e, 1)).collect();
    for split in ["train", "valid"] {
        assert_eq!(rows_per_epoch(&run, split, "Loss"), once, "{split} rows after {kills} kills");
    }
    let out = zoo(&["eval", "mlp", "--run", run.to_str().unwrap(), "--device", "cpu"]);
    assert!(out.status.success(), "eval after {kills} kills: {}", stderr(&out));
    // A resume clears what interrupted writes left.
    for dir in [run.clone(), run.join("checkpoint")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.contains(".tmp-"), "{name} left behind");
        }
    }
}

#[test]
fn a_damaged_newest_checkpoint_gives_way_to_the_one_before() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("damaged");
    let run_s = run.to_str().unwrap();
    let train = zoo(&["train", "mlp", "--device", "cpu", "--limit", "1000", "--epochs", "3", "--run-dir", run_s]);
    assert!(train.status.success(), "{}", stderr(&train));

    // Cut the newest checkpoint's weights short: the resume takes epoch 2's and says why.
    let newest = run.join("checkpoint/model-3.bpk");
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    let resumed = zoo(&["train", "mlp", "--resume", run_s, "--epochs", "4", "--device", "cpu"]);
    let err = stderr(&resumed);
    assert!(resumed.status.success(), "{err}");
    assert!(
        err.contains("damaged checkpoint passed over") && err.contains("model-3.bpk") && err.contains("epoch 2"),
        "{err}"
    );
    let once: Vec<(usize, usize)> = (1..=4).map(|e| (e, 1)).collect();
    assert_eq!(rows_per_epoch(&run, "valid", "Loss"), once, "epoch 3 trained again, its rows once");

    // The same number of bytes with one flipped: the CRC tells.
    let newest = run.join("checkpoint/optim-4.bpk");
    let mut bytes = std::fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&newest, &bytes).unwrap();
    std::fs::remove_file(run.join("checkpoint/progress-3.json")).unwrap();
    let resumed = zoo(&["train", "mlp", "--resume", run_s, "--epochs", "5", "--device", "cpu"]);
    let err = stderr(&resumed);
    assert_eq!(resumed.status.code(), Some(2), "{err}");
    assert!(err.contains("optim-4.bpk: its contents changed") && err.contains("no usable checkpoint"), "{err}");

    // Damaged final weights: eval names the file and exits 1, without a panic.
    let weights = run.join("model.bpk");
    std::fs::write(&weights, b"not weights").unwrap();
    let eval = zoo(&["eval", "mlp", "--run", run_s, "--device", "cpu"]);
    assert_clean_error(&eval, 1, "model.bpk");
}

#[test]
fn a_diverged_run_keeps_its_last_good_checkpoint_and_resumes_at_a_lower_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("diverged");
    let run_s = run.to_str().unwrap();
    // One calm epoch of SGD with heavy momentum, then the rate raised to 1: the forecaster's
    // loss overflows in epoch 2.
    let sgd = r#"fit.optimizer={"Sgd": {"momentum": 0.99, "nesterov": false}}"#;
    let calm =
        zoo(&["train", "lstm", "--device", "cpu", "--epochs", "1", "--lr", "0.001", "--set", sgd, "--run-dir", run_s]);
    assert!(calm.status.success(), "{}", stderr(&calm));
    let wild = zoo(&["train", "lstm", "--resume", run_s, "--epochs", "3", "--lr", "1", "--device", "cpu"]);
    assert_clean_error(&wild, 1, "training diverged: the Loss became");
    let err = stderr(&wild);
    assert!(err.contains("in epoch 2, optimiser step"), "{err}");
    assert!(err.contains(&format!("`zoo train lstm --resume {run_s} --lr 0.1`")), "{err}");
    assert!(run.join("checkpoint/progress-1.json").is_file(), "the last good checkpoint stays");
    assert!(!run.join("checkpoint/progress-2.json").exists(), "no checkpoint of the diverged epoch");

    let lower = zoo(&["train", "lstm", "--resume", run_s, "--epochs", "3", "--lr", "0.001", "--device", "cpu"]);
    assert!(lower.status.success(), "{}", stderr(&lower));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["fit"]["learning_rate"], 0.001, "config.json records the rate the run went on with");
    assert_eq!(rows_per_epoch(&run, "train", "Loss"), vec![(1, 1), (2, 1), (3, 1)]);
}

/// A small tmpfs mounted at a folder for as long as it lives (root only).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", at.to_str().unwrap()])
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Self(at.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let options = format!("remount,size={size}");
        let status = Command::new("mount").args(["-o", &options, self.0.to_str().unwrap()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_stops_the_run_with_its_last_checkpoint_intact() {
    let tmp = tempfile::tempdir().unwrap();
    // 2 MiB: the mlp's first checkpoint (1.2 MB) fits, the second does not.
    let Some(disk) = SmallDisk::mount(&tmp.path().join("disk"), "2m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)");
        return;
    };
    let run = disk.0.join("run");
    let run_s = run.to_str().unwrap();
    let full = zoo(&["train", "mlp", "--device", "cpu", "--limit", "1000", "--epochs", "3", "--run-dir", run_s]);
    assert_clean_error(&full, 1, "the disk is full");
    let err = stderr(&full);
    assert!(err.contains("checkpoint/") && err.contains("No space left on device"), "{err}");
    assert!(run.join("checkpoint/progress-1.json").is_file(), "epoch 1's checkpoint stays");
    let leftovers: Vec<String> = std::fs::read_dir(run.join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "a failed write removes its temporary file: {leftovers:?}");

    // Space freed: the run continues from epoch 1, with no damaged checkpoint to pass over.
    disk.resize("16m");
    let resumed = zoo(&["train", "mlp", "--resume", run_s, "--device", "cpu"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(!stderr(&resumed).contains("damaged"), "{}", stderr(&resumed));
    assert_eq!(rows_per_epoch(&run, "valid", "Loss"), vec![(1, 1), (2, 1), (3, 1)]);
}

/// Records that parse but do not fit (found by fuzzing the checkpoint reader: an optimiser
/// record whose state has another rank made Burn's Adam panic) are errors that say so.
#[test]
fn records_that_do_not_fit_the_model_are_errors_not_panics() {
    use burn::optim::AdamConfig;
    use burn::prelude::*;
    use zoo_models::MlpConfig;
    use zoo_train::checkpoint::{load_module, load_optimizer, module_bytes};

    let bytes = std::fs::read(crate::common::fixture("optim-wrong-rank.bpk")).unwrap();
    let error = load_optimizer(AdamConfig::new().init(), bytes).err().expect("an error, not a loaded optimiser");
    assert!(error.to_string().contains("does not fit this model"), "{error}");
    assert_eq!(error.exit_code(), 1);

    let device = Device::flex();
    let small = module_bytes(&MlpConfig::new().with_hidden(16).init(&device)).unwrap();
    let error = load_module(MlpConfig::new().with_hidden(32).init(&device), small, Path::new("model.bpk"))
        .expect_err("16 hidden units do not load into 32");
    assert!(error.to_string().starts_with("model.bpk: "), "{error}");
    assert_eq!(error.to_string().lines().count(), 1, "{error}");
}
