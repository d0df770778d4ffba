//! `zoo worker` on loopback hosting this machine's CPU, and `zoo train --device remote:...`
//! through it: the same seeded run as on the local CPU, a wrong token refused, and a worker that
//! stops mid-run leaving a clear error and a run folder that resumes. WebSocket on 127.0.0.1 (no
//! relay, nothing leaves the machine). Built only with `--features remote` (CI's build has it).
#![cfg(feature = "remote")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{assert_clean_error, stderr, stdout};

const TOKEN: &str = "test-token-8f3a";

/// The zoo binary with `args`, presenting `token` as both sides read it, on no device chosen by
/// the environment.
fn zoo_command(args: &[&str], token: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_zoo"));
    command.args(args).env(zoo::worker::TOKEN_VARIABLE, token).env_remove("ZOO_DEVICE");
    command
}

/// A `zoo worker` hosting the CPU over WebSocket on a free loopback port; killed when dropped.
struct Worker {
    child: Child,
    url: String,
}

impl Worker {
    fn start() -> Self {
        let mut child = zoo_command(&["worker", "--device", "cpu", "--websocket", "--listen", "127.0.0.1:0"], TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("zoo worker starts");
        // The worker says where it listens before it serves.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("listening on ").map(|rest| rest.split(' ').next().unwrap().to_string()))
            .expect("the worker prints its address");
        // Keep reading its output so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }

    fn device(&self) -> String {
        format!("remote:{}", self.url)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `zoo train` with the token `token`, killed (and failed) after `limit`.
fn train(args: &[&str], token: &str, limit: Duration) -> Output {
    let child = zoo_command(args, token).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("zoo runs");
    let pid = child.id();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if started.elapsed() > limit {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("zoo {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    waiter.join().unwrap()
}

fn mlp_run<'a>(run: &'a str, device: &'a str, epochs: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "mlp",
        "--device",
        device,
        "--limit",
        "600",
        "--epochs",
        epochs,
        "--batch-size",
        "64",
        "--seed",
        "5",
        "--set",
        "model.dropout=0",
        "--run-dir",
        run,
    ]
}

fn metric_rows(run: &Path) -> Vec<(String, f64)> {
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    csv.lines()
        .skip(1)
        .filter(|line| line.contains(",Loss,") || line.contains(",Accuracy,"))
        .map(|line| {
            let (key, value) = line.rsplit_once(',').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

#[test]
fn a_run_through_a_worker_matches_the_local_run() {
    let worker = Worker::start();
    let temp = tempfile::tempdir().unwrap();
    let (local, remote) = (temp.path().join("local"), temp.path().join("remote"));
    let out = train(&mlp_run(local.to_str().unwrap(), "cpu", "2"), TOKEN, Duration::from_secs(120));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let device = worker.device();
    let out = train(&mlp_run(remote.to_str().unwrap(), &device, "2"), TOKEN, Duration::from_secs(300));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let (local_rows, remote_rows) = (metric_rows(&local), metric_rows(&remote));
    assert_eq!(local_rows.len(), 8, "{local_rows:?}");
    assert_eq!(
        local_rows.iter().map(|r| &r.0).collect::<Vec<_>>(),
        remote_rows.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    // The worker runs Burn's own CPU operations, the local run zoo's kernels for some of them:
    // the same figures up to rounding.
    for ((key, a), (_, b)) in local_rows.iter().zip(&remote_rows) {
        assert!((a - b).abs() <= 1e-3 * a.abs().max(1.0), "{key}: local {a}, through the worker {b}");
    }
    let info = std::fs::read_to_string(remote.join("run.json")).unwrap();
    assert!(info.contains(&device), "run.json names the worker: {info}");
}

/// Two workers (two machines, as far as zoo can tell) as the devices of one data-parallel run:
/// the shards' gradients meet on the laptop, and the run follows the one-device run.
#[test]
fn two_workers_train_one_run_data_parallel() {
    let (first, second) = (Worker::start(), Worker::start());
    let temp = tempfile::tempdir().unwrap();
    let (local, spread) = (temp.path().join("local"), temp.path().join("spread"));
    let out = train(&mlp_run(local.to_str().unwrap(), "cpu", "2"), TOKEN, Duration::from_secs(120));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let devices = format!("{},{}", first.device(), second.device());
    let mut args = mlp_run(spread.to_str().unwrap(), "cpu", "2");
    // `--devices LIST` in place of `--device cpu`.
    args[2] = "--devices";
    args[3] = &devices;
    let out = train(&args, TOKEN, Duration::from_secs(300));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    for ((key, a), (_, b)) in metric_rows(&local).iter().zip(&metric_rows(&spread)) {
        assert!((a - b).abs() <= 1e-3 * a.abs().max(1.0), "{key}: one device {a}, two workers {b}");
    }
}

#[test]
fn a_wrong_token_is_refused_clearly() {
    let worker = Worker::start();
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("run");
    let device = worker.device();
    let out = train(&mlp_run(run.to_str().unwrap(), &device, "1"), "not-the-token", Duration::from_secs(60));
    assert_clean_error(&out, 2, "refused the token");
    assert!(!run.exists(), "no run folder for a run that never started");

    let out = train(&mlp_run(run.to_str().unwrap(), "remote:ws://127.0.0.1:9", "1"), TOKEN, Duration::from_secs(60));
    assert_clean_error(&out, 2, "no worker answers there");
}

#[test]
fn a_worker_that_stops_mid_run_leaves_a_run_that_resumes() {
    let worker = Worker::start();
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("run");
    let run_s = run.to_str().unwrap().to_string();
    let device = worker.device();
    // Enough epochs that the worker is stopped while the run is still going.
    let args: Vec<String> = mlp_run(&run_s, &device, "40").into_iter().map(String::from).collect();
    let trainer = std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        train(&args, TOKEN, Duration::from_secs(300))
    });
    // Stop the worker once the first epoch's checkpoint is written.
    let started = Instant::now();
    while !run.join("checkpoint/progress-1.json").is_file() {
        assert!(started.elapsed() < Duration::from_secs(240), "no checkpoint after 4 minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(worker);
    let out = trainer.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}{err}", stdout(&out));
    assert!(err.contains("training failed in epoch") && err.contains("--resume"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // The run continues on the local CPU from its last checkpoint.
    let out = train(&["train", "mlp", "--resume", &run_s, "--device", "cpu"], TOKEN, Duration::from_secs(120));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(std::fs::read_to_string(run.join("metrics.csv")).unwrap().contains("40,valid,Accuracy,"));
}
