//! catops: parse, run, report. Everything else lives in the modules below.

mod bulk;
mod cli;
mod config;
mod error;
mod http;
mod input;
mod interrupt;
mod jq;
mod json_writer;
mod output;
#[cfg(test)]
mod proptests;
mod redact;
mod secret;
mod vendors;

use std::process::ExitCode;

use clap::Parser;

use crate::error::{exit, Failure};
use crate::http::ApiError;

/// `CATOPS_CONFIG=` and the like, as CI templates leave them, mean "not set" (clap would
/// otherwise read an empty value). Done first, while this is the only thread.
fn forget_empty_settings() {
    let empty: Vec<std::ffi::OsString> = std::env::vars_os()
        .filter(|(key, value)| key.to_string_lossy().starts_with("CATOPS_") && value.is_empty())
        .map(|(key, _)| key)
        .collect();
    for key in empty {
        std::env::remove_var(key);
    }
}

fn main() -> ExitCode {
    forget_empty_settings();
    cli::complete_if_asked();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return ExitCode::from(report_usage(&err)),
    };
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(err) => report(&err),
    };
    ExitCode::from(code)
}

/// clap's own errors, reshaped to SPEC §6: one `error:` line, then hints. Help and version
/// print as clap prints them.
fn report_usage(err: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return u8::try_from(err.exit_code()).unwrap_or(exit::USAGE);
    }
    let rendered = err.render().to_string();
    let mut message = String::new();
    let mut hints = Vec::new();
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(tip) = line.strip_prefix("tip: ") {
            hints.push(tip.to_string());
        } else if let Some(usage) = line.strip_prefix("Usage: ") {
            hints.push(format!("usage: {usage}"));
        } else if line.starts_with("For more information") {
            continue;
        } else if message.is_empty() {
            message = line.to_string();
        } else {
            // "the following required arguments were not provided:" lists them below.
            let separator = if message.ends_with(':') { " " } else { ", " };
            message.push_str(separator);
            message.push_str(line);
        }
    }
    eprintln!("{message}");
    for hint in hints {
        eprintln!("hint: {hint}");
    }
    exit::USAGE
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
            let (code, hints) = vendors::explain(api);
            eprintln!("error: {api}");
            for hint in hints {
                eprintln!("hint: {hint}");
            }
            return code;
        }
    }
    eprintln!("error: {err:#}");
    exit::FAILURE
}
