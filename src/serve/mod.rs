//! `zoo serve`: a local web application to try trained runs and browse every run's curves.
//!
//! Each run that answers requests gets one worker thread that loads its model once and keeps it;
//! requests reach it through a channel, and classify requests that arrive together are answered
//! by one forward pass ([`worker`]). The HTTP side ([`api`]) is axum on a tokio runtime; the
//! page's files are compiled into the binary (`assets/serve/`), so it works offline.

pub mod api;
pub mod catalog;
pub mod worker;

use std::net::SocketAddr;
use std::time::Duration;

use zoo_train::{Result, ZooError};

use crate::cli::ServeArgs;

/// What the server was asked to do, after the command line was read.
#[derive(Clone, Debug)]
pub struct Settings {
    pub batch_size: usize,
    pub batch_wait: Duration,
    pub max_body: usize,
    pub timeout: Duration,
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let addr: SocketAddr = args.addr.parse().map_err(|_| {
        ZooError::usage(format!("--addr {}: not an address with a port; give e.g. 127.0.0.1:8080", args.addr))
    })?;
    if args.batch_size == 0 {
        return Err(ZooError::usage("--batch-size must be at least 1"));
    }
    let (device, device_name) = crate::commands::pick_device(&args.device)?;
    let settings = Settings {
        batch_size: args.batch_size,
        batch_wait: Duration::from_millis(args.batch_wait_ms),
        max_body: args.max_body,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let folders = if args.runs.is_empty() && args.run.is_empty() {
        let default = std::path::PathBuf::from("runs");
        if !default.is_dir() {
            return Err(ZooError::usage(
                "no runs/ folder here: train a model first (`zoo train cnn`), or pass --runs DIR or --run RUN",
            ));
        }
        vec![default]
    } else {
        args.runs
    };
    let catalog = catalog::Catalog::open(&folders, &args.run, &device, &settings)?;
    let loaded = catalog.runs.iter().filter(|r| r.worker.is_some()).count();
    eprintln!(
        "{} runs listed, {loaded} loaded on device {device_name} (classify requests batched up to {} per pass, waiting {} ms)",
        catalog.runs.len(),
        settings.batch_size,
        args.batch_wait_ms
    );
    for run in &catalog.runs {
        if let Some(problem) = &run.problem {
            eprintln!("  {}: {problem}", run.path.display());
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ZooError::runtime(format!("starting the server's runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| ZooError::usage(format!("--addr {addr}: cannot listen there ({e}); choose another port")))?;
        let local = listener.local_addr().map_err(|e| ZooError::runtime(e.to_string()))?;
        // The line a script or a test waits for.
        println!("serving on http://{local}/");
        api::run(listener, std::sync::Arc::new(catalog), settings).await
    })
}
