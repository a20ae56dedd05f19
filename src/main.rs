//! catops: parse, run, report. Everything else lives in the modules below.

mod cli;
mod config;
mod context;
mod error;
mod http;
mod input;
mod output;
mod sandbox;
mod vendors;

use std::process::ExitCode;

use clap::Parser;

use crate::error::{exit, Failure};
use crate::http::ApiError;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(err) => report(&err),
    };
    ExitCode::from(code)
}

/// Prints one `error:` line and any hints on stderr, and returns the exit code for the error.
fn report(err: &anyhow::Error) -> u8 {
    // `catops ... | head` closes the pipe early; that is the reader's choice, not a failure.
    if err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return exit::OK;
    }
    for cause in err.chain() {
        if let Some(failure) = cause.downcast_ref::<Failure>() {
            eprintln!("error: {failure}");
            for hint in &failure.hints {
                eprintln!("hint: {hint}");
            }
            return failure.code;
        }
        if let Some(api) = cause.downcast_ref::<ApiError>() {
            eprintln!("error: {api}");
            for hint in api.hints() {
                eprintln!("hint: {hint}");
            }
            return api.exit_code();
        }
    }
    eprintln!("error: {err:#}");
    exit::FAILURE
}
