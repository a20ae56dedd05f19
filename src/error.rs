//! Exit codes (SPEC §6) and the errors that carry them to `main`.

use std::fmt;

/// SPEC §6: scripts branch on these, so they never change meaning. The whole table is here
/// even where no command of this build returns a code yet.
#[allow(dead_code)]
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const PARTIAL: u8 = 3;
    pub const AUTH: u8 = 4;
    pub const NOT_FOUND: u8 = 5;
    pub const INTERRUPTED: u8 = 130;

    /// SPEC §6, in `catops --help` and as each man page's EXIT STATUS section.
    pub const HELP: &str = "Exit status:
  0    success
  1    runtime or API failure
  2    usage or config error
  3    finished, but some rows were rejected or failed
  4    authentication or permission refused (401/403)
  5    not found (404)
  130  interrupted";
}

/// A failure the user can act on: one message line, its exit code, and hints.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub hints: Vec<String>,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// A usage or config error: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(exit::USAGE, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Folds whitespace and line breaks into single spaces: errors are one line (SPEC §6).
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Shorthand for `Err(Failure::usage(..).into())`.
pub fn usage<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(Failure::usage(message).into())
}
