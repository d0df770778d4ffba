//! End to end through the binary: tiny runs on the embedded extract, then eval, predict and
//! resume on the result; and every kind of bad input gets a one-line error and exit code.

use std::path::Path;

use clap::CommandFactory;

use crate::common::{assert_clean_error, fixture, stderr, stdout, zoo};

#[test]
fn cli_definition_is_valid() {
    zoo::cli::Cli::command().debug_assert();
}

/// A few hundred optimiser steps on the first 3,000 images of the extract: seconds.
fn train_tiny(model: &str, run: &Path, epochs: &str) {
    let run = run.to_str().unwrap();
    let out = zoo(&[
        "train",
        model,
        "--device",
        "cpu",
        "--limit",
        "3000",
        "--epochs",
        epochs,
        "--batch-size",
        "32",
        "--run-dir",
        run,
    ]);
    assert!(out.status.success(), "train failed: {}{}", stdout(&out), stderr(&out));
}

#[test]
fn mlp_train_eval_predict_resume() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("run");
    train_tiny("mlp", &run, "1");
    for file in ["run.json", "config.json", "metrics.csv", "curves.png", "model.bpk"] {
        assert!(run.join(file).is_file(), "run folder lacks {file}");
    }
    assert!(run.join("checkpoint/model-1.bpk").is_file());
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"]["num_classes"], 10, "classes read from the labels");
    assert_eq!(config["fit"]["limit"], 3000);

    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.contains("1,train,Loss,") && csv.contains("1,valid,Accuracy,"), "{csv}");
    let png = std::fs::read(run.join("curves.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    let run_s = run.to_str().unwrap();
    let out = zoo(&["eval", "mlp", "--run", run_s, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("test set of 2000 images"), "{text}");
    let accuracy: f64 = text
        .split("accuracy ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("eval prints the accuracy");
    // 2,700 training images, one epoch: far better than the 10 % of chance.
    assert!(accuracy > 70.0, "accuracy {accuracy}");
    assert!(text.contains("confusion matrix"));
    // Ten classes: the top-5 accuracy too, at least the top-1's.
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    let top5 = eval["top5_accuracy"].as_f64().expect("top-5 accuracy in eval.json");
    assert!(top5 >= accuracy - 0.01 && top5 <= 100.0 && text.contains("top-5 "), "{top5} {text}");

    let seven = fixture("digit-7.png");
    let out = zoo(&["predict", "mlp", "--run", run_s, "--device", "cpu", seven.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    assert_eq!(line.lines().count(), 1);
    assert_eq!(line.matches('%').count(), 3, "top 3 classes: {line}");

    // Continue for a second epoch from the checkpoint of the first, on the device the run was
    // started on (cpu) although no --device is given and this build may default to wgpu.
    let out = zoo(&["train", "mlp", "--resume", run_s, "--epochs", "2"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("resuming on device cpu"), "{}", stderr(&out));
    assert!(run.join("checkpoint/model-2.bpk").is_file(), "epoch 2 checkpoint");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(csv.contains("2,valid,Loss,"), "{csv}");
    // Nothing left to do: a clear refusal.
    let out = zoo(&["train", "mlp", "--resume", run_s, "--device", "cpu"]);
    assert_clean_error(&out, 2, "all 2 epochs are done");
}

#[test]
fn cnn_trains_and_predicts_the_fixture() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("cnn");
    train_tiny("cnn", &run, "2");
    let run_s = run.to_str().unwrap();
    let out = zoo(&["eval", "cnn", "--run", run_s, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let files = [fixture("digit-7.png"), fixture("digit-2.png")];
    let mut args = vec!["predict", "cnn", "--run", run_s, "--device", "cpu"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let out = zoo(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let top = |line: &str| line.split(": ").nth(1).and_then(|s| s.split_whitespace().next()).map(str::to_string);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(top(lines[0]).as_deref(), Some("7"), "{text}");
    assert_eq!(top(lines[1]).as_deref(), Some("2"), "{text}");
}

/// An `mlp` run folder with its `run.json` and `config.json` (`config`) and nothing else.
fn hand_made_mlp_run(run: &Path, config: &str) {
    std::fs::create_dir_all(run).unwrap();
    std::fs::write(
        run.join("run.json"),
        r#"{"model":"mlp","data":"embedded","device":"cpu","created":"x","zoo_version":"0"}"#,
    )
    .unwrap();
    std::fs::write(run.join("config.json"), config).unwrap();
}

#[test]
fn resume_without_checkpoint_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("empty-run");
    hand_made_mlp_run(&run, &stdout(&zoo(&["config", "mlp"])));
    let out = zoo(&["train", "mlp", "--resume", run.to_str().unwrap(), "--device", "cpu"]);
    assert_clean_error(&out, 2, "no usable checkpoint");
}

/// A run folder made before fields were added to its recipe still rebuilds (they take their
/// defaults, which are "off"); a config that is not JSON, or has a key no recipe has, is a
/// one-line error naming the file.
#[test]
fn a_config_from_an_older_zoo_still_loads_and_a_damaged_one_is_named() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("old-run");
    let run_s = run.to_str().unwrap();
    let out = zoo(&["train", "mlp", "--device", "cpu", "--limit", "600", "--epochs", "1", "--run-dir", run_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    config.as_object_mut().unwrap().remove("regularization").expect("the mlp recipe has regularization");
    for field in ["max_rotation", "max_scale", "min_crop", "early_stopping"] {
        config["fit"].as_object_mut().unwrap().remove(field).expect(field);
    }
    std::fs::write(run.join("config.json"), config.to_string()).unwrap();
    let out = zoo(&["eval", "mlp", "--run", run_s, "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    config["fit"]["max_shfit"] = 2.into();
    std::fs::write(run.join("config.json"), config.to_string()).unwrap();
    let out = zoo(&["eval", "mlp", "--run", run_s, "--device", "cpu"]);
    assert_clean_error(&out, 1, "config.json: damaged (unknown key `fit.max_shfit`");
    std::fs::write(run.join("config.json"), "{ not json").unwrap();
    let out = zoo(&["eval", "mlp", "--run", run_s, "--device", "cpu"]);
    assert_clean_error(&out, 1, "config.json: damaged");
}

#[test]
fn list_and_config_print_every_model() {
    let out = zoo(&["list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for model in ["mlp", "cnn", "rnn", "lstm", "autoencoder", "vae", "gan", "qlearning", "dqn", "attention"] {
        assert!(text.lines().any(|l| l.starts_with(model)), "{model} listed: {text}");
        let out = zoo(&["config", model]);
        assert!(out.status.success(), "{model}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("config is JSON");
        assert!(json.is_object() && !json.as_object().unwrap().is_empty(), "{model}");
    }
    let out = zoo(&["config", "cnn"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("config is JSON");
    assert_eq!(json["model"]["conv1_channels"], 32);
    assert!(json["fit"]["epochs"].as_u64().unwrap() > 0);
}

#[test]
fn fetch_reports_a_corrupt_download_and_leaves_nothing() {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    // A loopback server that answers every request with the same wrong bytes, then stops.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        for stream in listener.incoming().take(1) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let body = b"definitely not MNIST";
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    let temp = tempfile::tempdir().unwrap();
    let dest = temp.path().join("mnist");
    let mirror = format!("http://127.0.0.1:{port}/");
    let out = zoo(&["data", "fetch", "mnist", "--dir", dest.to_str().unwrap(), "--mirror", &mirror]);
    server.join().unwrap();
    assert_clean_error(&out, 1, "train-images-idx3-ubyte.gz");
    assert!(stderr(&out).contains("sha256"), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(&dest).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(left.is_empty(), "nothing half-written: {left:?}");

    // Nothing listening: the offline message says where to put the files.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mirror = format!("http://127.0.0.1:{closed}/");
    let out = zoo(&["data", "fetch", "mnist", "--dir", dest.to_str().unwrap(), "--mirror", &mirror]);
    assert_clean_error(&out, 1, dest.to_str().unwrap());
}

#[test]
fn completions_for_every_shell_and_the_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = zoo(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains("resnet") && script.contains("init-from"), "{shell} completes models and flags");
    }
    let out = zoo(&["man"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with(".ie") && stdout(&out).contains(".TH zoo 1"));
    let temp = tempfile::tempdir().unwrap();
    let out = zoo(&["man", "--dir", temp.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(temp.path().join("zoo.1").is_file() && temp.path().join("zoo-train.1").is_file());
}

#[test]
fn set_overrides_any_recipe_field_and_refuses_what_is_not_one() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("run");
    let out = zoo(&[
        "train",
        "mlp",
        "--set",
        "fit.epochs=1",
        "--set",
        "model.hidden=16",
        "--set",
        "fit.classes=[3, 8]",
        "--limit",
        "400",
        "--device",
        "cpu",
        "--run-dir",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        (config["model"]["hidden"].as_u64(), config["fit"]["classes"].clone()),
        (Some(16), serde_json::json!([3, 8]))
    );
    assert_clean_error(&zoo(&["train", "mlp", "--set", "fit.epoch=1"]), 2, "unknown key `fit.epoch` for recipe mlp");
    assert_clean_error(&zoo(&["train", "mlp", "--set", "fit.epochs=one"]), 2, "--set fit.epochs=one: invalid type");
    assert_clean_error(&zoo(&["train", "mlp", "--set", "fit.epochs"]), 2, "give KEY=VALUE");
    // A string needs no quotes; the enum's variant is checked.
    assert_clean_error(
        &zoo(&["train", "transfer", "--set", "model.fine_tuning=Wole"]),
        2,
        "--set model.fine_tuning=Wole",
    );
}

#[test]
fn the_log_honours_rust_log_and_the_verbosity_flags() {
    let run = |args: &[&str], rust_log: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_zoo"));
        command.args(args).env_remove("ZOO_DEVICE").env_remove("RUST_LOG");
        if let Some(level) = rust_log {
            command.env("RUST_LOG", level);
        }
        stderr(&command.output().unwrap())
    };
    assert!(
        run(&["list"], Some("debug")).contains("DEBUG zoo_train::logging: zoo "),
        "RUST_LOG=debug shows debug lines"
    );
    assert!(run(&["-vv", "list"], None).contains("DEBUG"), "-vv shows debug lines");
    assert!(!run(&["list"], None).contains("DEBUG"), "the default shows warnings only");
    assert!(!run(&["-q", "list"], Some("debug")).contains("DEBUG"), "-q wins over RUST_LOG");
}

/// A run being trained is locked: a second `--resume` is refused naming the process; after a
/// kill -9 the lock is stale and the run resumes.
#[cfg(target_os = "linux")]
#[test]
fn a_run_in_training_is_locked_and_a_killed_ones_lock_is_stale() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("locked");
    let run_s = run.to_str().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zoo"))
        .args(["train", "cnn", "--device", "cpu", "--epochs", "50", "--limit", "2000", "--run-dir", run_s])
        .env_remove("ZOO_DEVICE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for its first checkpoint (at most a minute).
    let started = std::time::Instant::now();
    while !run.join("checkpoint/progress-1.json").is_file() && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(run.join("zoo.lock").is_file(), "the training holds the lock");
    let second = zoo(&["train", "cnn", "--resume", run_s, "--device", "cpu"]);
    assert_clean_error(&second, 2, &format!("in use by zoo process {}", child.id()));
    child.kill().unwrap(); // SIGKILL: no cleanup
    child.wait().unwrap();
    assert!(run.join("zoo.lock").is_file(), "a killed process leaves its lock");
    // One epoch more than the last complete checkpoint.
    let done = std::fs::read_dir(run.join("checkpoint"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("progress-")?.strip_suffix(".json")?.parse().ok())
        .max()
        .unwrap_or(0usize);
    let epochs = (done + 1).to_string();
    let resumed = zoo(&["train", "cnn", "--resume", run_s, "--epochs", &epochs, "--device", "cpu"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(!run.join("zoo.lock").exists(), "released at the end");
    assert!(run.join("model.bpk").is_file());
}
