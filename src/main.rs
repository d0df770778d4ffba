use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    zoo_train::cpu::tune();
    let cli = zoo::cli::Cli::parse();
    zoo_train::logging::install(if cli.quiet { -1 } else { cli.verbose.min(2) as i8 });
    match zoo::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code() as u8)
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`zoo train ... | head -1`) panics with
/// a backtrace; a command-line tool should end quietly instead, as `cat` does.
#[cfg(unix)]
fn quiet_on_closed_pipe() {
    const SIGPIPE: i32 = 13; // the same on Linux and macOS
    const SIG_DFL: usize = 0;
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    // SAFETY: restores the default disposition of one signal before any thread starts.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn quiet_on_closed_pipe() {}
