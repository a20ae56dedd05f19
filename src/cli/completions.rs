//! Shell completions and man pages, generated from the clap definitions (help text is written
//! once). Completion is dynamic: the shell script asks `catops` itself for candidates, so
//! profile names complete from the user's config file.

use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use clap_complete::env::Shells;

use crate::error::{exit, Failure};

/// The variable the registration scripts set when they call back into `catops`.
const COMPLETE_VAR: &str = "COMPLETE";
const BIN: &str = "catops";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
}

impl Shell {
    fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Powershell => "powershell",
            Shell::Elvish => "elvish",
        }
    }

    /// Where each shell looks for a completion file by convention.
    fn file_name(self) -> &'static str {
        match self {
            Shell::Bash => "catops.bash",
            Shell::Zsh => "_catops",
            Shell::Fish => "catops.fish",
            Shell::Powershell => "_catops.ps1",
            Shell::Elvish => "catops.elv",
        }
    }
}

/// Answers a completion request from a shell script (`COMPLETE=bash catops -- ...`) and exits;
/// returns at once otherwise, so it costs nothing on a normal run. `cli` builds the command
/// line being completed.
pub fn complete_if_asked(cli: fn() -> clap::Command) {
    clap_complete::CompleteEnv::with_factory(cli)
        .var(COMPLETE_VAR)
        .bin(BIN)
        .completer(BIN)
        .complete();
}

/// The script a shell sources to complete `catops`.
pub fn registration(shell: Shell) -> anyhow::Result<Vec<u8>> {
    let shells = Shells::builtins();
    let completer = shells
        .completer(shell.name())
        .ok_or_else(|| Failure::usage(format!("no completion support for {}", shell.name())))?;
    let mut script = Vec::new();
    completer.write_registration(COMPLETE_VAR, BIN, BIN, BIN, &mut script)?;
    Ok(script)
}

/// `catops completions SHELL`: prints the script.
pub fn print(shell: Shell) -> anyhow::Result<u8> {
    let script = registration(shell)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(exit::OK)
}

/// `catops generate-docs --out DIR` (hidden): writes DIR/completions and DIR/man, the files
/// committed in the repository.
pub fn generate_docs(cli: clap::Command, out: &Path) -> anyhow::Result<u8> {
    let completions = out.join("completions");
    let man = out.join("man");
    for dir in [&completions, &man] {
        std::fs::create_dir_all(dir)
            .map_err(|err| Failure::usage(format!("cannot create {}: {err}", dir.display())))?;
    }
    for shell in Shell::value_variants() {
        std::fs::write(completions.join(shell.file_name()), registration(*shell)?)?;
    }
    clap_mangen::generate_to(cli, &man)?;
    Ok(exit::OK)
}
