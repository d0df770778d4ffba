//! zoo's log: warnings and notes from zoo, Burn and the GPU stack (`log` and `tracing` records
//! alike) on stderr, filtered by `RUST_LOG` or by `-v` / `-q`. While burn-train's terminal
//! dashboard holds the screen, a line on stderr would draw over it, so during a run the lines
//! go to the run's own `zoo.log` instead (and to both when there is no dashboard).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Where the lines go now: the run's log file, and whether stderr is given up to the dashboard.
static SINK: Mutex<Sink> = Mutex::new(Sink { file: None, screen_taken: false });

struct Sink {
    file: Option<File>,
    screen_taken: bool,
}

/// Installs the logger: `RUST_LOG` when set, else `warn` (`verbosity` 1: `info`, 2 or more:
/// `debug`; -1: errors only). Called once, before any command runs.
pub fn install(verbosity: i8) {
    let default = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = if verbosity == 0 {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default))
    } else {
        EnvFilter::new(default)
    };
    // A second install (tests calling `zoo::run` twice) keeps the first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Lines)
        .with_target(true)
        .with_ansi(false)
        .try_init();
    log::debug!("zoo {}: {:?}", env!("CARGO_PKG_VERSION"), std::env::args().skip(1).collect::<Vec<_>>());
}

/// A training run's log lines also go to `path` (`<run>/zoo.log`); `screen_taken`: the
/// dashboard holds the terminal, so they go there only. Ended by [`end_run_log`].
pub fn start_run_log(path: &Path, screen_taken: bool) {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path).ok();
    let mut sink = SINK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *sink = Sink { file, screen_taken };
}

/// Gives stderr back after a run.
pub fn end_run_log() {
    let mut sink = SINK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    *sink = Sink { file: None, screen_taken: false };
}

/// The writer of every line: the run's file when there is one, stderr unless the dashboard
/// holds the screen.
#[derive(Clone, Copy)]
struct Lines;

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut sink = SINK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(file) = sink.file.as_mut() {
            let _ = file.write_all(buf);
        }
        if !sink.screen_taken {
            let _ = std::io::stderr().write_all(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Lines {
        Lines
    }
}
