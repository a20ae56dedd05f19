//! The pager long tables go through on a terminal, as gh does: `$CATOPS_PAGER`, else
//! `$PAGER`, else `less -FRX` when it is installed. Never when stdout is not a terminal.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// The pager command, split on whitespace, or None for printing directly. An empty variable
/// counts as unset; `cat` is no pager at all.
pub fn choose(
    env: &dyn Fn(&str) -> Option<String>,
    stdout_tty: bool,
    less_found: bool,
) -> Option<Vec<String>> {
    if !stdout_tty {
        return None;
    }
    let named = ["CATOPS_PAGER", "PAGER"]
        .into_iter()
        .find_map(|name| env(name).filter(|v| !v.trim().is_empty()));
    let command: Vec<String> = match named {
        Some(command) => command.split_whitespace().map(str::to_string).collect(),
        None if less_found => vec!["less".into(), "-FRX".into()],
        None => return None,
    };
    (command.first().map(String::as_str) != Some("cat")).then_some(command)
}

/// Whether `program` is an executable file in a directory of `$PATH`.
pub fn on_path(program: &str) -> bool {
    in_path(program, std::env::var_os("PATH"))
}

fn in_path(program: &str, path: Option<OsString>) -> bool {
    let Some(path) = path else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file() || path.with_extension("exe").is_file()
}

/// Whether `text` needs a pager: more lines than the terminal shows, or a terminal that does
/// not say how tall it is (`less -F` then prints a short text and quits by itself).
pub fn long(text: &str, height: Option<usize>) -> bool {
    height.is_none_or(|height| text.lines().count() >= height)
}

/// Writes `text` through `command`, waiting for the pager to end; when it cannot be started,
/// straight to `out`. A reader who quits the pager early is not an error.
pub fn show(text: &str, command: &[String], out: &mut impl Write) -> io::Result<()> {
    let Some((program, args)) = command.split_first() else {
        return out.write_all(text.as_bytes());
    };
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(_) => return out.write_all(text.as_bytes()),
    };
    if let Some(mut stdin) = child.stdin.take() {
        match stdin.write_all(text.as_bytes()) {
            Err(err) if err.kind() != io::ErrorKind::BrokenPipe => return Err(err),
            _ => {}
        }
    }
    child.wait()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn words(command: &[&str]) -> Option<Vec<String>> {
        Some(command.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn catops_pager_then_pager_then_less() {
        let both = env_of(&[("CATOPS_PAGER", "most -s"), ("PAGER", "more")]);
        assert_eq!(choose(&both, true, true), words(&["most", "-s"]));
        let pager = env_of(&[("PAGER", "more")]);
        assert_eq!(choose(&pager, true, true), words(&["more"]));
        let none = env_of(&[]);
        assert_eq!(choose(&none, true, true), words(&["less", "-FRX"]));
        assert_eq!(choose(&none, true, false), None, "no less installed");
    }

    #[test]
    fn never_when_stdout_is_not_a_terminal() {
        let pager = env_of(&[("CATOPS_PAGER", "less")]);
        assert_eq!(choose(&pager, false, true), None);
        assert_eq!(choose(&env_of(&[]), false, true), None);
    }

    #[test]
    fn empty_variables_are_unset_and_cat_is_no_pager() {
        let empty = env_of(&[("CATOPS_PAGER", ""), ("PAGER", "more")]);
        assert_eq!(choose(&empty, true, true), words(&["more"]));
        let blank = env_of(&[("CATOPS_PAGER", " "), ("PAGER", "")]);
        assert_eq!(choose(&blank, true, true), words(&["less", "-FRX"]));
        let cat = env_of(&[("CATOPS_PAGER", "cat")]);
        assert_eq!(choose(&cat, true, true), None);
    }

    #[test]
    fn long_means_more_lines_than_the_terminal_shows() {
        assert!(!long("a\nb\n", Some(24)));
        assert!(long(&"row\n".repeat(30), Some(24)));
        assert!(
            long("a\n", None),
            "an unknown height leaves it to the pager"
        );
    }

    #[test]
    fn a_pager_that_cannot_start_prints_directly() {
        let mut out = Vec::new();
        let missing = vec!["/nonexistent/catops-test-pager".to_string()];
        show("table\n", &missing, &mut out).unwrap();
        assert_eq!(out, b"table\n");
    }

    #[cfg(unix)]
    #[test]
    fn the_pager_gets_the_text_and_quitting_early_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("paged");
        let cp = ["cp", "/dev/stdin", &copy.display().to_string()].map(str::to_string);
        let mut out = Vec::new();
        show("line 1\nline 2\n", &cp, &mut out).unwrap();
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), "line 1\nline 2\n");
        // `true` reads nothing and exits: the broken pipe is the reader's choice.
        show(&"x".repeat(1 << 20), &["true".to_string()], &mut out).unwrap();
        assert!(out.is_empty(), "nothing printed directly once a pager ran");
        assert!(in_path("sh", std::env::var_os("PATH")));
        assert!(!in_path("sh", None));
        assert!(!in_path("catops-no-such-program", std::env::var_os("PATH")));
    }
}
