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
        let examples = examples_section(&command);
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
        if !examples.is_empty() {
            // The help's two-space margin goes; a continued line keeps its deeper indent.
            let lines = examples
                .into_iter()
                .map(|l| l.strip_prefix("  ").unwrap_or(&l).to_string());
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

/// The lines under the "Examples:" heading of a command's help, up to the next heading (the
/// exit codes of `catops --help`): the examples and the notes written below them.
fn examples_section(command: &clap::Command) -> Vec<String> {
    let Some(text) = command.get_after_help().map(|text| text.to_string()) else {
        return Vec::new();
    };
    let mut lines = text
        .lines()
        .skip_while(|line| *line != "Examples:")
        .skip(1)
        .take_while(|line| line.starts_with(' ') || !line.ends_with(':'))
        .map(str::to_string)
        .collect::<Vec<_>>();
    while lines.last().is_some_and(|line| line.trim().is_empty()) {
        lines.pop();
    }
    lines
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `max_term_width` of `Cli`.
    const HELP_WIDTH: usize = 100;

    /// The example commands of a help text: its indented lines, a trailing ` \\` joining the
    /// next line.
    fn example_commands(section: &[String]) -> Vec<String> {
        let mut commands: Vec<String> = Vec::new();
        let mut continued = false;
        for line in section.iter().filter(|line| line.starts_with("  ")) {
            let text = line.trim();
            let (text, more) = match text.strip_suffix('\\') {
                Some(head) => (head.trim_end(), true),
                None => (text, false),
            };
            match (continued, commands.last_mut()) {
                (true, Some(last)) => {
                    last.push(' ');
                    last.push_str(text);
                }
                _ => commands.push(text.to_string()),
            }
            continued = more;
        }
        commands
    }

    /// The words of the `catops` invocation in a shell line: from `catops` (or `<(catops`,
    /// `$(catops`) up to a pipe, a redirection, another command or the closing parenthesis.
    fn catops_words(line: &str) -> Option<Vec<String>> {
        let words = shlex::split(line)?;
        let start = words
            .iter()
            .position(|word| word.rsplit('(').next() == Some("catops"))?;
        let nested = words[start] != "catops";
        let ends = ["|", "||", "&&", ";", ">", ">>", "2>", "<"];
        let mut command = vec!["catops".to_string()];
        for word in &words[start + 1..] {
            if ends.contains(&word.as_str()) {
                break;
            }
            match word.strip_suffix(')').filter(|_| nested) {
                Some(last) => {
                    command.push(last.to_string());
                    break;
                }
                None => command.push(word.clone()),
            }
        }
        Some(command)
    }

    /// Every command (groups too) as its words below `catops`, with its help.
    fn every_command() -> Vec<(Vec<String>, clap::Command)> {
        let mut cli = crate::cli::Cli::command().disable_help_subcommand(true);
        cli.build();
        let mut all = Vec::new();
        let mut pending = vec![(Vec::new(), cli)];
        while let Some((path, command)) = pending.pop() {
            for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
                let mut words = path.clone();
                words.push(sub.get_name().to_string());
                pending.push((words, sub.clone()));
            }
            all.push((path, command));
        }
        all
    }

    #[test]
    fn every_command_has_examples_of_itself_that_parse() {
        let mut missing = Vec::new();
        for (path, command) in every_command() {
            let name = format!("catops {}", path.join(" "));
            let section = examples_section(&command);
            for line in &section {
                // Help is wrapped at 100 columns: a longer example would break mid-command.
                assert!(
                    line.chars().count() <= HELP_WIDTH,
                    "{name}: longer than {HELP_WIDTH} columns, continue it with ` \\`: {line}"
                );
            }
            let examples = example_commands(&section);
            if examples.is_empty() {
                missing.push(name);
                continue;
            }
            for example in &examples {
                let words = catops_words(example)
                    .unwrap_or_else(|| panic!("{name}: no catops command in `{example}`"));
                let subcommand: Vec<&String> = words.iter().filter(|w| path.contains(w)).collect();
                assert!(
                    path.iter().all(|p| subcommand.contains(&p)),
                    "{name}: the example `{example}` is of another command"
                );
                if let Err(err) = crate::cli::Cli::command().try_get_matches_from(&words) {
                    // --help/--version "fail" with a display: they are fine examples.
                    use clap::error::ErrorKind;
                    assert!(
                        matches!(
                            err.kind(),
                            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
                        ),
                        "{name}: `{example}` does not parse: {err}"
                    );
                }
            }
        }
        assert!(missing.is_empty(), "no examples in: {}", missing.join(", "));
    }

    #[test]
    fn example_lines_are_read_as_the_shell_would() {
        let section: Vec<String> = [
            "  catops -p sandbox enrich start --catalog cat_demo --prompt 'A b' \\",
            "      --field color --wait",
            "  zcat feed.gz | catops -p shop bulk upsert - --catalog c > summary.json",
            "  source <(catops completions bash)",
            "",
            "A note below.",
        ]
        .map(String::from)
        .to_vec();
        let commands = example_commands(&section);
        assert_eq!(commands.len(), 3);
        assert_eq!(
            catops_words(&commands[0]).unwrap().join(" "),
            "catops -p sandbox enrich start --catalog cat_demo --prompt A b --field color --wait"
        );
        assert_eq!(
            catops_words(&commands[1]).unwrap().join(" "),
            "catops -p shop bulk upsert - --catalog c"
        );
        assert_eq!(
            catops_words(&commands[2]).unwrap().join(" "),
            "catops completions bash"
        );
    }
}
