//! What every paged listing shares: the check that each page moves on, and the note that a
//! listing stopped before the end.

use std::collections::HashSet;

use serde_json::Value;

use crate::error::Failure;

/// Guards `--all` against a server that ignores the paging parameters: it would send the first
/// page for ever, and catops would print it again and again.
#[derive(Default)]
pub struct Advance {
    previous: HashSet<String>,
    pages: u64,
}

impl Advance {
    /// Fails when `records` begin with a record of the page before.
    pub fn check(&mut self, vendor: &str, records: &[Value]) -> anyhow::Result<()> {
        self.pages += 1;
        if let Some(first) = records.first() {
            if self.previous.contains(&record_key(first)) {
                return Err(Failure::new(
                    crate::error::exit::FAILURE,
                    format!(
                        "{vendor}: page {} repeats the page before it: the server ignores the paging parameters, so catops stops instead of printing duplicates",
                        self.pages
                    ),
                )
                .hint("list without --all, or report the server's paging to the vendor")
                .into());
            }
        }
        self.previous = records.iter().map(record_key).collect();
        Ok(())
    }
}

fn record_key(record: &Value) -> String {
    match record.get("id") {
        Some(id) => id.to_string(),
        None => record.to_string(),
    }
}

/// `3025` → `3,025`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_repeated_page_is_an_error_and_a_new_one_is_not() {
        let mut advance = Advance::default();
        let first = [json!({"id": "a"}), json!({"id": "b"})];
        advance.check("rastro", &first).unwrap();
        advance.check("rastro", &[json!({"id": "c"})]).unwrap();
        let err = advance.check("rastro", &[json!({"id": "c"})]).unwrap_err();
        assert!(err.to_string().contains("page 3 repeats"), "{err}");
        advance.check("rastro", &[]).unwrap();
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(3025), "3,025");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
