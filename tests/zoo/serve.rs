//! `zoo serve` end to end: tiny runs of every model that answers requests, the server started
//! on a loopback port, every endpoint's answers and errors through a real HTTP client.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use image::ImageEncoder;
use serde_json::{Value, json};

use crate::common::{assert_clean_error, fixture, stderr, zoo};

/// The tiny runs the server loads: (folder, model, train arguments), the arguments as
/// determinism.rs trains them (seconds each).
const RUNS: &[(&str, &str, &str)] = &[
    ("cnn", "cnn", "--limit 3000 --epochs 2 --batch-size 32"),
    ("vae", "vae", "--limit 300 --epochs 1"),
    ("gan", "gan", "--limit 128 --epochs 1 --batch-size 64 --set average=null"),
    ("attention", "attention", "--limit 60 --epochs 1"),
    (
        "char-lstm",
        "char-lstm",
        "--epochs 1 --batch-size 8 --set language.steps_per_epoch=3 --set language.valid_chars=2000",
    ),
    ("dqn", "dqn", "--steps 300"),
    ("multitask", "multitask", "--limit 128 --epochs 1"),
    ("lstm", "lstm", "--epochs 1"),
];

/// A folder of trained runs, made once for every test here.
fn runs() -> &'static Path {
    static RUNS_DIR: OnceLock<PathBuf> = OnceLock::new();
    RUNS_DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        for (folder, model, args) in RUNS {
            let run = dir.join(folder);
            let mut command = vec!["train", model, "--device", "cpu", "--run-dir", run.to_str().unwrap()];
            command.extend(args.split_whitespace());
            let out = zoo(&command);
            assert!(out.status.success(), "{model}: {}", stderr(&out));
        }
        // Listed but unable to answer: a damaged run.json, and a run with no weights yet.
        std::fs::create_dir_all(dir.join("damaged")).unwrap();
        std::fs::write(dir.join("damaged/run.json"), "{ not json").unwrap();
        let empty = dir.join("untrained");
        std::fs::create_dir_all(&empty).unwrap();
        std::fs::copy(dir.join("cnn/run.json"), empty.join("run.json")).unwrap();
        std::fs::copy(dir.join("cnn/config.json"), empty.join("config.json")).unwrap();
        dir
    })
}

/// A `zoo serve` process on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zoo"))
        .args(["serve", "--runs", runs().to_str().unwrap(), "--addr", "127.0.0.1:0", "--device", "cpu"])
        .args(extra)
        .env_remove("ZOO_DEVICE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("zoo serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("serving on ").unwrap_or_else(|| panic!("first line: {line:?}"));
    Server { child, base: base.trim_end_matches('/').to_string() }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// Status and body of a request.
fn call(server: &Server, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let url = format!("{}{path}", server.base);
    let agent = agent();
    let response = if method == "GET" {
        agent.get(&url).call()
    } else {
        agent.post(&url).header("Content-Type", content_type).send(body)
    };
    let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let mut bytes = Vec::new();
    response.body_mut().as_reader().read_to_end(&mut bytes).unwrap();
    (response.status().as_u16(), bytes)
}

fn get(server: &Server, path: &str) -> (u16, Value) {
    let (status, body) = call(server, "GET", path, "", b"");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn post(server: &Server, path: &str, body: Value) -> (u16, Value) {
    let (status, body) = call(server, "POST", path, "application/json", body.to_string().as_bytes());
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Asserts a JSON error with `status` whose message mentions `mentions`.
fn assert_error((status, body): (u16, Value), expected: u16, mentions: &str) {
    assert_eq!(status, expected, "{body}");
    let message = body["error"].as_str().unwrap_or_else(|| panic!("a JSON error: {body}"));
    assert!(message.contains(mentions), "{message:?} should mention {mentions:?}");
}

fn top_label(answer: &Value) -> String {
    answer["classes"][0]["label"].as_str().unwrap().to_string()
}

#[test]
fn serve_lists_the_runs_and_answers_each_kind_of_model() {
    let server = start(&[]);
    let (status, runs) = get(&server, "/api/runs");
    assert_eq!(status, 200);
    let by_id = |id: &str| runs.as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap();
    assert_eq!(runs.as_array().unwrap().len(), RUNS.len() + 2, "{runs}");
    assert_eq!(by_id("cnn")["status"], "finished");
    assert_eq!(by_id("cnn")["capabilities"], json!(["classify"]));
    assert_eq!(by_id("vae")["capabilities"], json!(["decode", "sample"]));
    assert_eq!(by_id("lstm")["capabilities"], json!([]), "the forecaster is listed, not served");
    assert!(by_id("cnn")["headline"]["name"].as_str().unwrap().contains("Accuracy"));
    assert_eq!(by_id("damaged")["status"], "damaged");
    assert!(by_id("untrained")["problem"].as_str().unwrap().contains("no weights yet"), "{}", by_id("untrained"));

    // A run's page data: curves, recipe, pictures; a picture by its listed name only.
    let (status, detail) = get(&server, "/api/runs/cnn");
    assert_eq!(status, 200);
    assert!(detail["metrics"].as_array().unwrap().iter().any(|r| r["split"] == "valid" && r["epoch"] == 2));
    assert_eq!(detail["config"]["fit"]["epochs"], 2);
    let (status, metrics) = get(&server, "/api/runs/cnn/metrics");
    assert_eq!((status, &metrics), (200, &detail["metrics"]));
    let pictures = detail["pictures"].as_array().unwrap();
    assert!(pictures.contains(&json!("curves.png")), "{pictures:?}");
    let (status, png) = call(&server, "GET", "/api/runs/cnn/files/curves.png", "", b"");
    assert_eq!((status, &png[1..4]), (200, &b"PNG"[..]));
    assert_error(get(&server, "/api/runs/cnn/files/run.json"), 404, "no picture");
    assert_error(get(&server, "/api/runs/cnn/files/..%2F..%2Fetc%2Fpasswd"), 404, "no picture");
    assert_error(get(&server, "/api/runs/nope"), 404, "no run `nope`");
    assert_error(get(&server, "/api/nothing"), 404, "no such API endpoint");

    // Classify: a PNG as `zoo predict` reads it, and the same picture already prepared.
    let seven = std::fs::read(fixture("digit-7.png")).unwrap();
    let (status, body) = call(&server, "POST", "/api/runs/cnn/classify", "image/png", &seven);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(top_label(&answer), "7", "{answer}");
    assert_eq!(answer["classes"].as_array().unwrap().len(), 10);
    let total: f64 = answer["classes"].as_array().unwrap().iter().map(|c| c["probability"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4, "{total}");
    let pixels = answer["input"]["pixels"].clone();
    let (status, again) = post(&server, "/api/runs/cnn/classify", json!({ "pixels": pixels }));
    assert_eq!(status, 200);
    assert_eq!(again["classes"], answer["classes"], "a prepared picture is classified the same");
    let two = std::fs::read(fixture("digit-2.png")).unwrap();
    let (_, body) = call(&server, "POST", "/api/runs/cnn/classify", "image/png", &two);
    assert_eq!(top_label(&serde_json::from_slice(&body).unwrap()), "2");

    // VAE: decoding depends on the point; sampling on the seed only.
    let (status, decoded) = post(&server, "/api/runs/vae/decode", json!({"points": [[0.0, 0.0], [2.0, -2.0]]}));
    assert_eq!(status, 200, "{decoded}");
    let images = decoded["images"].as_array().unwrap();
    assert_eq!((images.len(), images[0].as_array().unwrap().len()), (2, 784));
    assert_ne!(images[0], images[1]);
    let sample =
        |run: &str, seed: u64| post(&server, &format!("/api/runs/{run}/sample"), json!({"n": 4, "seed": seed}));
    for run in ["vae", "gan"] {
        let (status, first) = sample(run, 1);
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["images"].as_array().unwrap().len(), 4);
        assert!(first["images"][0].as_array().unwrap().iter().all(|v| (0.0..=1.0).contains(&v.as_f64().unwrap())));
        assert_eq!(sample(run, 1).1, first, "{run}: the same seed draws the same pictures");
        assert_ne!(sample(run, 2).1, first, "{run}: another seed draws others");
    }

    // Text classifier: probabilities and a weight for every word read, summing to 1.
    let (status, text) =
        post(&server, "/api/runs/attention/classify-text", json!({"text": "the economy and our taxes"}));
    assert_eq!(status, 200, "{text}");
    let words = text["words"].as_array().unwrap();
    assert_eq!(words.len(), 5);
    let weights: f64 = words.iter().map(|w| w["weight"].as_f64().unwrap()).sum();
    assert!((weights - 1.0).abs() < 1e-3, "{weights}");
    assert_eq!(text["classes"].as_array().unwrap().len(), 2);

    // Language model: the continuation streamed as text, the same for the same seed.
    let generate = |seed: u64| {
        let body = json!({"prompt": "Call me", "len": 40, "temperature": 0.8, "seed": seed}).to_string();
        call(&server, "POST", "/api/runs/char-lstm/generate", "application/json", body.as_bytes())
    };
    let (status, text) = generate(5);
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(text.clone()).unwrap().chars().count(), 40);
    assert_eq!(generate(5).1, text);

    // DQN: one episode, every state, ending as CartPole ends.
    let (status, episode) = post(&server, "/api/runs/dqn/episode", json!({"seed": 3}));
    assert_eq!(status, 200, "{episode}");
    let steps = episode["actions"].as_array().unwrap().len();
    assert_eq!(episode["states"].as_array().unwrap().len(), steps + 1);
    assert_eq!(episode["total_return"].as_f64().unwrap(), steps as f64);

    // Multi-task: a class and a box inside the picture.
    let (status, body) = call(&server, "POST", "/api/runs/multitask/locate", "image/png", &seven);
    let found: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 200, "{found}");
    let corners: Vec<f64> = found["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let (width, height) = (found["width"].as_f64().unwrap(), found["height"].as_f64().unwrap());
    assert!(corners[0] <= corners[2] && corners[1] <= corners[3] && corners[2] <= width && corners[3] <= height);

    // Batching leaves its trace: every classify request above was answered.
    let (_, stats) = get(&server, "/api/stats");
    let cnn = stats.as_array().unwrap().iter().find(|r| r["id"] == "cnn").unwrap();
    assert_eq!(cnn["classify"]["requests"], 3);
}

#[test]
fn serve_refuses_bad_requests_with_json_errors() {
    let server = start(&["--max-body", "200000"]);
    let not_png = std::fs::read(fixture("not-an-image.png")).unwrap();
    let error = |(status, body): (u16, Vec<u8>)| (status, serde_json::from_slice(&body).unwrap_or(Value::Null));
    let classify =
        |content_type: &str, body: &[u8]| error(call(&server, "POST", "/api/runs/cnn/classify", content_type, body));
    assert_error(classify("image/png", &not_png), 400, "not a PNG or JPEG");
    assert_error(classify("image/png", b""), 400, "empty body");
    assert_error(classify("application/json", b"{\"pixels\": [1, 2"), 400, "not the JSON");
    assert_error(classify("application/json", b"{\"pixels\": [0.5]}"), 400, "784 values");
    assert_error(classify("application/json", b"{\"picture\": []}"), 400, "unknown field");
    assert_error(classify("image/png", &vec![0u8; 300_000]), 413, "--max-body");
    // A small PNG whose header claims 100,000 x 100,000 pixels: refused before decoding.
    let mut huge = Vec::new();
    image::codecs::png::PngEncoder::new(&mut huge).write_image(&[0u8; 4], 2, 2, image::ExtendedColorType::L8).unwrap();
    huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    // The header chunk's CRC (over its type and data) made right again.
    let mut crc = flate2::Crc::new();
    crc.update(&huge[12..29]);
    huge[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    assert_error(classify("image/png", &huge), 400, "100000 x 100000 pixels");
    // A blank picture has no digit in it.
    let mut blank = Vec::new();
    image::codecs::png::PngEncoder::new(&mut blank)
        .write_image(&[255u8; 64], 8, 8, image::ExtendedColorType::L8)
        .unwrap();
    assert_error(classify("image/png", &blank), 400, "no ink");

    assert_error(post(&server, "/api/runs/vae/classify", json!({})), 400, "does not answer \"classify\"");
    assert_error(post(&server, "/api/runs/untrained/classify", json!({})), 400, "no weights yet");
    assert_error(post(&server, "/api/runs/nope/classify", json!({})), 404, "no run `nope`");
    assert_error(post(&server, "/api/runs/vae/decode", json!({"points": [[0.0, 0.0, 0.0]]})), 400, "2 coordinates");
    assert_error(post(&server, "/api/runs/vae/decode", json!({"points": [[0.0], [0.0, 1.0]]})), 400, "same number");
    assert_error(post(&server, "/api/runs/gan/sample", json!({"n": 0})), 400, "1 to 256");
    assert_error(post(&server, "/api/runs/gan/sample", json!({"n": 4, "digit": 3})), 400, "not class-conditional");
    assert_error(post(&server, "/api/runs/gan/sample", json!({"digit": 12})), 400, "0 to 9");
    assert_error(post(&server, "/api/runs/attention/classify-text", json!({"text": "  "})), 400, "no words");
    assert_error(post(&server, "/api/runs/char-lstm/generate", json!({"len": 0})), 400, "1 to 5000");
    assert_error(post(&server, "/api/runs/char-lstm/generate", json!({"temperature": -1})), 400, "temperature");
    assert_error(post(&server, "/api/runs/dqn/episode", json!({"seed": "x"})), 400, "not the JSON");

    // The page and its files are served; the page asks only for what the binary holds.
    let (status, page) = call(&server, "GET", "/", "", b"");
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, 200);
    for file in ["/app.js", "/style.css"] {
        assert!(page.contains(file), "{file}");
        assert_eq!(call(&server, "GET", file, "", b"").0, 200);
    }
    assert!(!page.contains("http://") && !page.contains("https://"), "no CDN");
}

#[test]
fn serve_refuses_a_bad_command_line() {
    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("missing");
    assert_clean_error(&zoo(&["serve", "--runs", missing.to_str().unwrap()]), 2, "no such folder");
    assert_clean_error(&crate::common::zoo_in(temp.path(), &["serve"]), 2, "no runs/ folder here");
    assert_clean_error(&zoo(&["serve", "--run", temp.path().to_str().unwrap()]), 2, "no run.json");
    assert_clean_error(&zoo(&["serve", "--runs", temp.path().to_str().unwrap(), "--addr", "localhost"]), 2, "--addr");
    assert_clean_error(
        &zoo(&["serve", "--runs", temp.path().to_str().unwrap(), "--batch-size", "0"]),
        2,
        "--batch-size",
    );
}

/// The page in Debian's headless Chromium, driven by `tests/browser/serve.mjs` (playwright-core):
/// the runs view lists the runs, strokes of a 7 drawn on the canvas are classified 7, a click on
/// the VAE's plane changes the picture, the GAN draws new samples, the text classifier shades
/// words, the language model streams, the agent plays, two runs share a chart, and nothing is
/// logged to the console as an error. Needs node, /usr/bin/chromium and `npm ci --prefix
/// tests/browser`; skipped without them unless ZOO_REQUIRE_BROWSER=1 (CI sets it).
#[test]
fn the_page_works_in_headless_chromium() {
    let browser_dir = Path::new(&crate::common::manifest_dir()).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = Path::new(&chromium).is_file()
        && browser_dir.join("node_modules/playwright-core").is_dir()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ready {
        assert!(
            std::env::var("ZOO_REQUIRE_BROWSER").is_err(),
            "ZOO_REQUIRE_BROWSER is set but node, {chromium} or tests/browser/node_modules is missing"
        );
        eprintln!(
            "skipped: no Chromium or playwright-core here (apt-get install chromium; npm ci --prefix tests/browser)"
        );
        return;
    }
    let server = start(&[]);
    let shots = std::env::var("ZOO_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| tempfile::tempdir().unwrap().keep().join("screenshots"));
    let out = Command::new("node")
        .arg(browser_dir.join("serve.mjs"))
        .arg(&server.base)
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said} (screenshots in {})", shots.display());
    assert!(said.contains("browser checks passed"), "{said}");
}
