use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = zoo::cli::Cli::parse();
    match zoo::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code() as u8)
        }
    }
}
