//! SPEC §4: a destructive command asks on a terminal and, where it cannot ask, refuses
//! without `--yes`.

use std::io::{BufRead, IsTerminal, Write};

use crate::error::Failure;

/// Asks `question`; true for yes. Without a terminal on both stdin and stderr, or when stdin
/// carries the input (`stdin_busy`), it cannot ask: a usage error saying `refusal`, with
/// `hint` (the command again with `--yes`).
pub fn confirm(
    question: &str,
    stdin_busy: bool,
    refusal: &str,
    hint: &str,
) -> anyhow::Result<bool> {
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !terminal || stdin_busy {
        return Err(Failure::usage(format!(
            "{refusal}: refusing without --yes when it cannot ask"
        ))
        .hint(hint)
        .into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}
