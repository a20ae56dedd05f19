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
    write_man_pages(cli, &man)?;
    Ok(exit::OK)
}

/// One man page per command, as clap_mangen renders them, but with the help's examples as an
/// EXAMPLES section kept line for line (not reflowed) and the exit codes as EXIT STATUS.
fn write_man_pages(cli: clap::Command, dir: &Path) -> anyhow::Result<()> {
    fn write(command: clap::Command, dir: &Path) -> anyhow::Result<()> {
        for sub in command
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .cloned()
        {
            write(sub, dir)?;
        }
        let examples = command
            .get_after_help()
            .map(|text| text.to_string())
            .filter(|text| text.starts_with("Examples:"));
        let man = clap_mangen::Man::new(command.clone());
        let mut page = Vec::new();
        man.render_title(&mut page)?;
        man.render_name_section(&mut page)?;
        man.render_synopsis_section(&mut page)?;
        man.render_description_section(&mut page)?;
        if command.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut page)?;
        }
        if command.has_subcommands() {
            man.render_subcommands_section(&mut page)?;
        }
        if let Some(examples) = examples {
            let lines = examples.lines().skip(1).map(|l| l.trim_start().to_string());
            no_fill_section(&mut page, "EXAMPLES", lines);
        }
        let status = crate::error::exit::HELP
            .lines()
            .skip(1)
            .map(|l| l.trim_start().to_string());
        no_fill_section(&mut page, "EXIT STATUS", status);
        man.render_version_section(&mut page)?;
        std::fs::write(dir.join(man.get_filename()), page)?;
        Ok(())
    }
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    write(cli, dir)
}

/// A roff section whose lines are printed as they are.
fn no_fill_section(page: &mut Vec<u8>, title: &str, lines: impl Iterator<Item = String>) {
    page.extend_from_slice(format!(".SH \"{title}\"\n.nf\n").as_bytes());
    for line in lines {
        let escaped = line.replace('\\', "\\e").replace('-', "\\-");
        let guarded = if escaped.starts_with('.') || escaped.starts_with('\'') {
            format!("\\&{escaped}")
        } else {
            escaped
        };
        page.extend_from_slice(guarded.as_bytes());
        page.push(b'\n');
    }
    page.extend_from_slice(b".fi\n");
}
