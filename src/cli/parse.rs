//! Flag values several commands share: ids that become one path segment, `FIELD[:asc|desc]`,
//! and `--json JSON|@FILE|@-` objects.

use std::io::Read;

use serde_json::Value;

use crate::error::{usage, Failure};

/// An id becomes one URL path segment; `.` and `..` would be folded away by URL rules and
/// change the route, so they are refused like an empty id.
pub fn resource_id(raw: &str) -> Result<String, String> {
    match raw {
        "" => Err("the id is empty".to_string()),
        "." | ".." => Err(format!("'{raw}' is not an id")),
        _ => Ok(raw.to_string()),
    }
}

/// `FIELD[:asc|desc]`: the field, and true for descending.
pub fn parse_sort(raw: &str) -> Result<(String, bool), String> {
    let (field, order) = raw.rsplit_once(':').unwrap_or((raw, "asc"));
    match (field.is_empty(), order) {
        (false, "asc") => Ok((field.to_string(), false)),
        (false, "desc") => Ok((field.to_string(), true)),
        _ => Err(format!(
            "expected FIELD, FIELD:asc or FIELD:desc, got '{raw}'"
        )),
    }
}

/// `--json '{...}'`, `--json @file.json` or `--json @-`.
pub fn parse_json_fields(arg: &str) -> anyhow::Result<Value> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|err| Failure::usage(format!("cannot read stdin: {err}")))?;
            (text, "stdin".to_string())
        }
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|err| Failure::usage(format!("cannot read {path}: {err}")))?,
            path.to_string(),
        ),
        None => (arg.to_string(), "--json".to_string()),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => usage(format!("{origin}: expected a JSON object of fields")),
        Err(err) => usage(format!("{origin}: invalid JSON: {err}")),
    }
}
