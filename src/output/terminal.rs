//! What the screen a table is printed on allows: its width and height, whether it can show
//! box-drawing characters, and whether long tables may be paged. Read once from the terminal
//! and the environment; the decisions are pure functions of what was read, so they are tested
//! without a terminal.

use std::io::{self, IsTerminal};

/// Where no terminal says otherwise (output piped, a zero-size pty) and `COLUMNS` is unset.
pub const DEFAULT_WIDTH: usize = 80;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Screen {
    /// Columns a table may take.
    pub width: usize,
    /// Lines a terminal shows, when stdout is one that says.
    pub height: Option<usize>,
    /// Plain ASCII borders and `...`: `TERM=dumb` or a locale that is not UTF-8.
    pub ascii: bool,
    /// Whether long tables may go through a pager: tables, on a terminal. Which pager is
    /// found only when a table is long, not at start-up.
    pub pages: bool,
}

impl Default for Screen {
    fn default() -> Self {
        Screen {
            width: DEFAULT_WIDTH,
            height: None,
            ascii: false,
            pages: false,
        }
    }
}

impl Screen {
    /// The screen stdout is, from the terminal and `COLUMNS`, `TERM` and the locale variables.
    /// `tables` false (another format) never pages.
    pub fn detect(tables: bool) -> Screen {
        let env = |name: &str| std::env::var(name).ok();
        let stdout = io::stdout();
        let tty = stdout.is_terminal();
        let size = terminal_size::terminal_size_of(&stdout);
        let (tty_width, tty_height) = match size {
            Some((terminal_size::Width(w), terminal_size::Height(h))) => (Some(w), Some(h)),
            None => (None, None),
        };
        Screen {
            width: width(tty_width, env("COLUMNS").as_deref()),
            height: tty_height.filter(|&h| h > 0).map(usize::from),
            ascii: ascii(&env),
            pages: tables && tty,
        }
    }

    /// What cuts a cell short: `…`, or `...` where only ASCII shows.
    pub fn ellipsis(&self) -> &'static str {
        if self.ascii {
            "..."
        } else {
            "…"
        }
    }
}

/// The terminal's width, else `COLUMNS`, else 80. A size of 0 (a pty nobody sized, as under
/// `script` or some CI runners) says nothing, so it falls through instead of giving
/// one-character columns.
pub fn width(tty: Option<u16>, columns: Option<&str>) -> usize {
    tty.filter(|&w| w > 0)
        .map(usize::from)
        .or_else(|| {
            columns
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|&w| w > 0)
        })
        .unwrap_or(DEFAULT_WIDTH)
}

/// ASCII only for `TERM=dumb`, or when the locale that decides the character set (the first
/// set of LC_ALL, LC_CTYPE, LANG, as POSIX orders them) is not UTF-8. No locale at all is the
/// POSIX "C" locale: ASCII.
pub fn ascii(env: &dyn Fn(&str) -> Option<String>) -> bool {
    if env("TERM").as_deref() == Some("dumb") {
        return true;
    }
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .into_iter()
        .find_map(|name| env(name).filter(|v| !v.is_empty()));
    match locale {
        Some(locale) => {
            let lower = locale.to_ascii_lowercase();
            !(lower.contains("utf-8") || lower.contains("utf8"))
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn width_from_the_terminal_else_columns_else_80() {
        assert_eq!(width(Some(120), Some("100")), 120);
        assert_eq!(width(None, Some("100")), 100);
        assert_eq!(width(None, Some(" 72 ")), 72);
        assert_eq!(width(None, None), 80);
        // A zero-size terminal says nothing: COLUMNS, else 80, never 0.
        assert_eq!(width(Some(0), Some("132")), 132);
        assert_eq!(width(Some(0), None), 80);
        assert_eq!(width(None, Some("0")), 80);
        assert_eq!(width(None, Some("wide")), 80);
        assert_eq!(width(None, Some("")), 80);
    }

    #[test]
    fn ascii_for_a_dumb_terminal_or_a_locale_that_is_not_utf8() {
        let utf8 = [("LANG", "en_US.UTF-8")];
        assert!(!ascii(&env_of(&utf8)));
        assert!(!ascii(&env_of(&[("LANG", "C.utf8")])));
        assert!(ascii(&env_of(&[("LANG", "en_US.UTF-8"), ("TERM", "dumb")])));
        assert!(!ascii(&env_of(&[
            ("LANG", "en_US.UTF-8"),
            ("TERM", "xterm")
        ])));
        assert!(ascii(&env_of(&[("LANG", "C")])));
        assert!(ascii(&env_of(&[])), "no locale is the C locale");
        // LC_ALL overrides LC_CTYPE, which overrides LANG; an empty one is unset.
        assert!(ascii(&env_of(&[("LC_ALL", "C"), ("LANG", "en_US.UTF-8")])));
        assert!(!ascii(&env_of(&[("LC_ALL", "en_US.UTF-8"), ("LANG", "C")])));
        assert!(ascii(&env_of(&[
            ("LC_CTYPE", "POSIX"),
            ("LANG", "en_US.UTF-8")
        ])));
        assert!(!ascii(&env_of(&[("LC_ALL", ""), ("LANG", "de_DE.UTF-8")])));
    }
}
