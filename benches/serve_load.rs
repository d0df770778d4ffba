//! Load test of `zoo serve` on loopback: classify requests (a PNG of a digit, decoded and
//! prepared by the server as `zoo predict` does) at a fixed concurrency against a trained
//! classifier run, once with request batching and once without. Prints throughput, p50 / p99
//! latency, errors and the server's resident memory after warm-up and at the end.
//!
//! Usage: cargo bench --bench serve_load -- RUN [--requests 10000] [--concurrency 32]
//! (RUN: a folder made by `zoo train cnn`; the zoo binary is the one built with the bench.)

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

impl Server {
    fn start(run: &str, batching: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zoo"))
            .args(["serve", "--run", run, "--addr", "127.0.0.1:0", "--device", "cpu"])
            .args(batching)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("zoo serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("serving on ").expect("the server says where it listens");
        Server { child, base: base.trim_end_matches('/').to_string() }
    }

    /// Resident memory in MB, from /proc (0 where there is none).
    fn rss_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }
}

struct Outcome {
    seconds: f64,
    latencies: Vec<Duration>,
    errors: usize,
}

/// `requests` POSTs of `body` to `url` from `concurrency` threads, each with its own
/// keep-alive connection.
fn hammer(url: &str, body: &[u8], requests: usize, concurrency: usize) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(requests)));
    let errors = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..concurrency {
            let (next, latencies, errors) = (next.clone(), latencies.clone(), errors.clone());
            scope.spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
                let mut mine = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let sent = Instant::now();
                    let ok = agent
                        .post(url)
                        .header("Content-Type", "image/png")
                        .send(body)
                        .map(|mut r| {
                            let mut text = String::new();
                            let read = r.body_mut().as_reader().read_to_string(&mut text).is_ok();
                            r.status() == 200 && read && text.contains("\"classes\"")
                        })
                        .unwrap_or(false);
                    mine.push(sent.elapsed());
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort();
    Outcome { seconds, latencies, errors: errors.load(Ordering::Relaxed) }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let value = |flag: &str, default: usize| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let Some(run) = args.iter().find(|a| !a.starts_with("--") && a.parse::<usize>().is_err()) else {
        eprintln!("usage: cargo bench --bench serve_load -- RUN [--requests 10000] [--concurrency 32]");
        std::process::exit(2);
    };
    let (requests, concurrency) = (value("--requests", 10_000), value("--concurrency", 32));
    let picture = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/digit-7.png")).unwrap();
    println!(
        "zoo serve, {requests} classify requests (a {} byte PNG) at concurrency {concurrency}, run {run}; {} ({} threads)",
        picture.len(),
        zoo::device::cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| batching | requests/s | p50 ms | p99 ms | errors | forward passes | server RSS after warm-up / end |");
    println!("|---|---|---|---|---|---|---|");
    for (name, batching) in [
        ("up to 32, waiting 2 ms (default)", &["--batch-size", "32", "--batch-wait-ms", "2"][..]),
        ("none (--batch-size 1)", &["--batch-size", "1", "--batch-wait-ms", "0"][..]),
    ] {
        let server = Server::start(run, batching);
        let url = format!("{}/api/runs/{}/classify", server.base, run_id(run));
        let warm = hammer(&url, &picture, 1000.min(requests), concurrency);
        assert_eq!(warm.errors, 0, "errors while warming up against {url}");
        let warm_rss = server.rss_mb();
        let passes_before = passes(&server);
        let outcome = hammer(&url, &picture, requests, concurrency);
        let passes = passes(&server) - passes_before;
        println!(
            "| {name} | {:.0} | {:.1} | {:.1} | {} | {passes} ({:.1} requests each) | {warm_rss:.0} / {:.0} MB |",
            requests as f64 / outcome.seconds,
            percentile(&outcome.latencies, 0.50),
            percentile(&outcome.latencies, 0.99),
            outcome.errors,
            requests as f64 / passes.max(1) as f64,
            server.rss_mb()
        );
    }
}

/// The server's id of a `--run` folder: its name.
fn run_id(run: &str) -> String {
    std::path::Path::new(run).file_name().map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned())
}

/// Forward passes of classify requests so far (`GET /api/stats`).
fn passes(server: &Server) -> u64 {
    let mut text = String::new();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    if let Ok(mut response) = agent.get(&format!("{}/api/stats", server.base)).call() {
        let _ = response.body_mut().as_reader().read_to_string(&mut text);
    }
    let stats: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    stats[0]["classify"]["passes"].as_u64().unwrap_or(0)
}
