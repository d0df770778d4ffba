//! The catalogue of bad input: every kind zoo is known to meet, across its commands, with the
//! exit code (2: the user's to fix, 1: a damaged file or a failed run) and what its one-line
//! error names. Each row runs the real binary; none may panic or print more than one line.
//!
//! `{tmp}` is a scratch folder the test fills with bad files (below), `{run}` a tiny finished
//! `mlp` run, `{fixtures}` the shipped test fixtures.

use std::path::Path;

use crate::common::{assert_clean_error, fixture, stderr, zoo, zoo_in};

/// (kind of bad input, command line, exit code, a piece of the error's one line).
const CATALOGUE: &[(&str, &str, i32, &str)] = &[
    // --- data
    ("a data folder that does not exist", "train mlp --data {tmp}/nowhere", 2, "nowhere"),
    ("a data folder without MNIST files", "train mlp --data {tmp}/empty", 2, "train-images"),
    ("a file where a data folder goes", "train mlp --data {tmp}/series-text.csv", 2, "is a file, not a directory"),
    ("an IDX file with the wrong magic number", "train mlp --data {tmp}/idx-magic", 1, "magic"),
    ("an IDX file cut short", "train mlp --data {tmp}/idx-cut", 1, "truncated"),
    ("an IDX header claiming 2^31 images", "train mlp --data {tmp}/idx-huge", 1, "2147483647 images"),
    (
        "a series CSV with a value that is not a number",
        "train lstm --data {tmp}/series-text.csv",
        1,
        "line 3: column 2",
    ),
    ("a series file that does not exist", "train lstm --data {tmp}/nothere.csv", 2, "nothere.csv"),
    ("a series too short for its windows", "train lstm --data {tmp}/series-short.csv", 2, "cannot feed windows of 50"),
    (
        "a season longer than the test part",
        "train lstm --data {tmp}/series-long.csv --season 1000",
        2,
        "horizon of 1000",
    ),
    ("a JSONL line that is not JSON", "train attention --data {tmp}/docs-bad.jsonl", 1, "line 2: not JSON"),
    ("a CSV without the text field", "train attention --data {tmp}/docs-nofield.csv", 1, "has no field `text`"),
    (
        "a named text field the CSV lacks",
        "train attention --data {tmp}/docs-nofield.csv --text-field nope",
        1,
        "`nope`",
    ),
    ("an empty document file", "train attention --data {tmp}/empty.jsonl", 1, "no record"),
    ("a text too short for a language model", "train gpt --data {tmp}/empty.jsonl", 1, "fewer than 1,000 characters"),
    ("a text file that does not exist", "train char-lstm --data {tmp}/nothere.txt", 2, "nothere.txt"),
    // --- recipes and flags
    ("a config file that is not JSON", "train cnn --config {tmp}/bad.json", 2, "bad.json"),
    ("a config key the recipe lacks", "train cnn --config {tmp}/typo.json", 2, "fit.epoch"),
    ("a config value of the wrong type", "train mlp --config {tmp}/wrongtype.json", 2, "expected usize"),
    ("a config file that does not exist", "train mlp --config {tmp}/nothere.json", 2, "nothere.json"),
    ("--set without a value", "train mlp --set fit.epochs", 2, "give KEY=VALUE"),
    ("--set of an unknown key", "train mlp --set fit.epoch=3", 2, "unknown key `fit.epoch`"),
    ("--set of the wrong type", "train mlp --set fit.epochs=three", 2, "expected usize"),
    ("zero epochs", "train mlp --epochs 0", 2, "epochs must be at least 1"),
    ("a batch of zero", "train mlp --batch-size 0", 2, "batch size must be at least 1"),
    ("a learning rate that is not a number", "train mlp --lr NaN", 2, "learning rate NaN"),
    ("a validation share above 1", "train mlp --set fit.valid_fraction=1.5", 2, "fit.valid_fraction"),
    ("a class the data lacks", "train mlp --set fit.classes=[3,12]", 2, "fit.classes"),
    ("a single class to classify", "train mlp --set fit.classes=[3]", 2, "at least 2 classes"),
    (
        "a warm-up longer than the run",
        "train mlp --epochs 2 --set fit.schedule={\"WarmupCosine\":{\"warmup_epochs\":4}}",
        2,
        "warmup_epochs 4",
    ),
    (
        "SGD momentum of 1.5",
        "train mlp --set fit.optimizer={\"Sgd\":{\"momentum\":1.5,\"nesterov\":false}}",
        2,
        "momentum 1.5",
    ),
    ("accumulating zero batches", "train mlp --set fit.accumulate_batches=0", 2, "fit.accumulate_batches"),
    (
        "early stopping on a metric the model lacks",
        "train mlp --set fit.early_stopping={\"patience\":2,\"metric\":\"Banana\"}",
        2,
        "`Banana`",
    ),
    ("a flag the model does not take", "train mlp --steps 10", 2, "--steps does not apply"),
    ("epochs for a model counted in steps", "train dqn --epochs 3", 2, "--epochs does not apply"),
    ("an unknown device", "train mlp --device tpu", 2, "tpu"),
    ("a backend this build lacks", "train mlp --device cuda", 2, "--features cuda"),
    // --- run folders
    ("a new run into a folder holding one", "train mlp --run-dir {run}", 2, "already holds a run"),
    ("a run folder below a file", "train mlp --run-dir {tmp}/series-text.csv/run", 2, "cannot create the run folder"),
    ("a resume with recipe flags", "train mlp --resume {run} --batch-size 8", 2, "only --epochs"),
    ("a resume of a folder that is not a run", "train mlp --resume {tmp}/empty", 2, "no run.json"),
    ("a resume of a finished run", "train mlp --resume {run}", 2, "all 1 epochs are done"),
    ("a run folder that does not exist", "eval mlp --run {tmp}/no-run", 2, "no-run"),
    ("a run of another model", "eval cnn --run {run}", 2, "`mlp` run"),
    ("a damaged run.json", "eval mlp --run {tmp}/run-runjson", 1, "run.json: damaged"),
    ("a damaged config.json", "eval mlp --run {tmp}/run-config", 1, "config.json: damaged"),
    ("damaged final weights", "eval mlp --run {tmp}/run-weights", 1, "model.bpk: damaged weights"),
    ("a run without final weights or checkpoints", "eval mlp --run {tmp}/run-bare", 2, "no weights yet"),
    ("a backbone from a run of another kind", "train transfer --from {run}", 2, "--from takes a run folder"),
    ("a folder where weights go", "train cnn --init-from {run}", 2, "is a folder"),
    ("metrics of a folder that is not a run", "compare {tmp}/empty", 2, "no metrics.csv"),
    // --- pictures and commands
    ("a picture that is not one", "predict mlp --run {run} {fixtures}/not-an-image.png", 1, "not-an-image.png"),
    ("a picture that does not exist", "predict mlp --run {run} {tmp}/missing.png", 1, "missing.png"),
    ("a PNG cut short", "predict mlp --run {run} {tmp}/cut.png", 1, "unexpected end of file"),
    ("a PNG claiming 100,000 x 100,000 pixels", "predict mlp --run {run} {tmp}/huge.png", 1, "claims 100000 x 100000"),
    ("a JPEG with a broken marker", "predict mlp --run {run} {tmp}/fake.jpg", 1, "fake.jpg"),
    ("a command the model does not have", "predict gan --run {run} {tmp}/x.png", 2, "does not apply to gan"),
    ("sample of a classifier without --augmented", "sample mlp --run {run}", 2, "add --augmented"),
    ("a sampling temperature of 20", "sample char-lstm --run {run} --temperature 20", 2, "--temperature 20"),
    ("cross-validation with one fold", "cv mlp --folds 1", 2, "--folds 1"),
];

/// Bad command lines clap refuses before zoo reads them: exit 2 and the value named (clap's
/// message spans a few lines: the error, the valid values, a pointer to --help).
const REFUSED_BY_THE_PARSER: &[(&str, &str, &str)] = &[
    ("an unknown model", "train transformer-xl", "transformer-xl"),
    ("an unknown dataset to fetch", "data fetch imagenet", "imagenet"),
    ("an unknown topic to explain", "explain nope", "nope"),
    ("a command without its run", "eval mlp", "--run"),
    ("a negative learning rate read as a flag", "train mlp --lr -1", "-1"),
];

/// The bad files and folders of `{tmp}`, and the tiny run `{run}`.
fn fill(tmp: &Path, run: &Path) {
    let write = |name: &str, bytes: &[u8]| {
        let path = tmp.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    std::fs::create_dir_all(tmp.join("empty")).unwrap();
    write("idx-magic/train-images-idx3-ubyte", &[0, 0, 8, 1, 0, 0, 0, 1]);
    write("idx-magic/train-labels-idx1-ubyte", &[0, 0, 8, 1, 0, 0, 0, 1, 3]);
    let mut cut = vec![0u8, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
    cut.extend(vec![0u8; 784]); // one image where the header promises two
    write("idx-cut/train-images-idx3-ubyte", &cut);
    write("idx-cut/train-labels-idx1-ubyte", &[0, 0, 8, 1, 0, 0, 0, 2, 3, 4]);
    let mut huge = vec![0u8, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28];
    huge.extend(vec![0u8; 784]);
    write("idx-huge/train-images-idx3-ubyte", &huge);
    write("idx-huge/train-labels-idx1-ubyte", &[0, 0, 8, 1, 0x7f, 0xff, 0xff, 0xff, 3]);
    let days: String = (1..=27).map(|d| format!("2000-02-{d:02},{d}\n")).collect();
    write("series-text.csv", format!("date,value\n2000-01-01,1\n2000-01-02,abc\n{days}").as_bytes());
    let values = |n: usize| -> String { (0..n).map(|i| format!("{}\n", i % 7)).collect() };
    write("series-short.csv", format!("value\n{}", values(10)).as_bytes());
    write("series-long.csv", format!("value\n{}", values(400)).as_bytes());
    write("docs-bad.jsonl", b"{\"text\": \"a b c\", \"label\": \"x\"}\n{\"text\": oops}\n");
    write("docs-nofield.csv", b"body,label\nhello there,x\nhi,y\n");
    write("empty.jsonl", b"\n");
    write("bad.json", b"{ not json");
    write("typo.json", br#"{"fit": {"epoch": 3}}"#);
    write("wrongtype.json", br#"{"fit": {"epochs": "three"}}"#);
    let png = std::fs::read(fixture("digit-7.png")).unwrap();
    write("cut.png", &png[..png.len() / 2]);
    write("huge.png", &huge_png());
    let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0];
    jpeg.extend([0u8; 100]);
    write("fake.jpg", &jpeg);

    let out = zoo(&[
        "train",
        "mlp",
        "--device",
        "cpu",
        "--limit",
        "300",
        "--epochs",
        "1",
        "--run-dir",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Copies of the run, each damaged in one file.
    let damaged = |name: &str, file: &str, bytes: Option<&[u8]>| {
        let copy = tmp.join(name);
        std::fs::create_dir_all(&copy).unwrap();
        for entry in std::fs::read_dir(run).unwrap() {
            let entry = entry.unwrap();
            if entry.path().is_file() {
                std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
            }
        }
        match bytes {
            Some(bytes) => std::fs::write(copy.join(file), bytes).unwrap(),
            None => std::fs::remove_file(copy.join(file)).unwrap(),
        }
    };
    damaged("run-runjson", "run.json", Some(b"{\"model\": "));
    damaged("run-config", "config.json", Some(b"nonsense"));
    let weights = std::fs::read(run.join("model.bpk")).unwrap();
    damaged("run-weights", "model.bpk", Some(&weights[..100]));
    damaged("run-bare", "model.bpk", None);
}

/// A PNG whose header claims 100,000 x 100,000 grey pixels (10 GB decoded).
fn huge_png() -> Vec<u8> {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in kind.iter().chain(data) {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        out.extend_from_slice(&(!crc).to_be_bytes());
        out
    };
    let mut header = 100_000u32.to_be_bytes().to_vec();
    header.extend(100_000u32.to_be_bytes());
    header.extend([8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &header));
    // A stored (uncompressed) zlib stream of a few zero bytes.
    png.extend(chunk(b"IDAT", &[0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0x00, 0x04, 0x00, 0x01]));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn every_kind_of_bad_input_gets_its_exit_code_and_one_line_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    fill(tmp.path(), &run);
    let fixtures = fixture("");
    let expand = |line: &str| -> Vec<String> {
        line.split_whitespace()
            .map(|word| {
                word.replace("{tmp}", tmp.path().to_str().unwrap())
                    .replace("{run}", run.to_str().unwrap())
                    .replace("{fixtures}", fixtures.to_str().unwrap().trim_end_matches('/'))
            })
            .collect()
    };
    assert!(CATALOGUE.len() + REFUSED_BY_THE_PARSER.len() >= 60, "the catalogue keeps every kind");
    for (kind, line, code, mentions) in CATALOGUE {
        if line.contains("--device cuda") && cfg!(feature = "cuda") {
            continue;
        }
        let mut args = expand(line);
        // Every command runs on the CPU; `--device` in a row is the bad input itself.
        if !line.contains("--device") && !line.starts_with("compare") && !line.starts_with("cv") {
            args.extend(["--device".to_string(), "cpu".to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // In the scratch folder: a row that wrongly succeeds leaves its run there.
        let out = zoo_in(tmp.path(), &args);
        let outcome = std::panic::catch_unwind(|| assert_clean_error(&out, *code, mentions));
        assert!(outcome.is_ok(), "catalogue row `{kind}` (zoo {line}) failed: {}", stderr(&out));
    }
    for (kind, line, mentions) in REFUSED_BY_THE_PARSER {
        let args = expand(line);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = zoo(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "`{kind}` (zoo {line}): {err}");
        assert!(err.contains(mentions) && !err.contains("panicked"), "`{kind}` (zoo {line}): {err}");
    }
}
