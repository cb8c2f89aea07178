//! The `pqlsync` binary: parse arguments, run the library, map the outcome to an exit code
//! (0 ok, 1 some records failed, 2 fatal).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = pqlsync::cli::Cli::parse();
    match pqlsync::run_cli(cli) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}
