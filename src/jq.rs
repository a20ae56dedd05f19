//! `--jq FILTER`: a jq program run in-process (jaq) over a command's JSON output, like
//! `gh --jq`. Strings print raw, other values as compact JSON, one result per line.

use std::io::Write;

use jaq_core::load::{Arena, Error as LoadError, File, Loader};
use jaq_core::{data, unwrap_valr, Compiler, Ctx, Vars};
use jaq_json::Val;
use serde_json::Value;

use crate::error::{exit, one_line, Failure};

/// A compiled filter; compiled once, before any request is made.
pub struct JqFilter {
    filter: jaq_core::Filter<data::JustLut<Val>>,
}

impl JqFilter {
    /// Parses and compiles `code`; a mistake is a usage error naming what is wrong.
    pub fn compile(code: &str) -> anyhow::Result<JqFilter> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let program = File { code, path: () };
        let modules = loader.load(&arena, program).map_err(|errors| {
            let reasons: Vec<String> = errors
                .into_iter()
                .flat_map(|(_, error)| match error {
                    LoadError::Io(list) => list.into_iter().map(|(_, why)| why).collect(),
                    LoadError::Lex(list) => list
                        .iter()
                        .map(|(expect, rest)| expected(code, expect.as_str(), rest))
                        .collect(),
                    LoadError::Parse(list) => list
                        .iter()
                        .map(|(expect, rest)| expected(code, expect.as_str(), rest))
                        .collect::<Vec<_>>(),
                })
                .collect();
            invalid(code, &reasons.join("; "))
        })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let reasons: Vec<String> = errors
                    .into_iter()
                    .flat_map(|(_, list)| list)
                    .map(|(name, undefined)| format!("undefined {} {name}", undefined.as_str()))
                    .collect();
                invalid(code, &reasons.join("; "))
            })?;
        Ok(JqFilter { filter })
    }

    /// Runs the filter on `input` and writes each result on its own line. A runtime error is
    /// exit 1: by then the command has run.
    pub fn write(&self, input: &Value, out: &mut impl Write) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(input)?;
        let input = jaq_json::read::parse_single(&bytes)
            .map_err(|err| anyhow::anyhow!("cannot hand the output to --jq: {err}"))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        for result in self.filter.id.run((ctx, input)).map(unwrap_valr) {
            // Not a usage error (exit 2 says nothing was sent): the filter runs on output, so
            // the command has done its work, requests included.
            let value = result.map_err(|err| {
                let message = elide_middle(&one_line(&err.to_string()), MAX_ERROR_CHARS);
                Failure::new(exit::FAILURE, format!("--jq: {message}")).hint(
                    "the command ran; only the filter failed on its output (run it with -o json to see what the filter gets)",
                )
            })?;
            let text = value.to_string();
            // Strings print raw, like `jq -r`; the rest as the JSON jaq wrote.
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::String(raw)) => writeln!(out, "{raw}")?,
                _ => writeln!(out, "{text}")?,
            }
        }
        Ok(())
    }
}

/// "expected X at column N": where the parser stopped, counted from 1.
fn expected(code: &str, what: &str, rest: &str) -> String {
    let column = code.len().saturating_sub(rest.len()) + 1;
    format!("expected {what} at column {column}")
}

fn invalid(code: &str, detail: &str) -> anyhow::Error {
    Failure::usage(format!(
        "--jq '{code}' is not a valid filter: {}",
        one_line(detail)
    ))
    .into()
}

/// jaq's errors quote the value they met, which can be a whole listing: keep the start and
/// the end (which says what was attempted).
const MAX_ERROR_CHARS: usize = 300;

fn elide_middle(text: &str, max: usize) -> String {
    let chars = text.chars().count();
    if chars <= max {
        return text.to_string();
    }
    let (head, tail) = (max * 2 / 3, max / 3);
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(chars - tail).collect();
    format!("{start} … ({} characters) … {end}", chars - head - tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_errors_keep_their_start_and_end() {
        let items: Vec<Value> = (0..500).map(|n| json!({"sku": format!("S{n}")})).collect();
        let filter = JqFilter::compile(".sku").unwrap();
        let err = filter
            .write(&Value::Array(items), &mut Vec::new())
            .unwrap_err();
        let message = err.to_string();
        assert!(message.chars().count() < 400, "{message}");
        assert!(message.starts_with("--jq: cannot index [{"), "{message}");
        assert!(message.ends_with("with \"sku\""), "{message}");
        assert_eq!(elide_middle("short", 10), "short");
    }

    fn run(code: &str, input: Value) -> String {
        let mut out = Vec::new();
        JqFilter::compile(code)
            .unwrap()
            .write(&input, &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_raw_and_values_compact() {
        let items = json!([{"sku": "A", "price": 1.5}, {"sku": "B", "price": 2}]);
        assert_eq!(run(".[].sku", items.clone()), "A\nB\n");
        assert_eq!(run("map(.price) | add", items.clone()), "3.5\n");
        assert_eq!(
            run(".[0]", items.clone()),
            "{\"sku\":\"A\",\"price\":1.5}\n"
        );
        assert_eq!(
            run("[.[] | select(.price > 1.6) | .sku]", items),
            "[\"B\"]\n"
        );
    }

    #[test]
    fn compile_mistakes_are_usage_errors_and_runtime_ones_failures() {
        let err = JqFilter::compile(".[").err().unwrap();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert_eq!(failure.code, exit::USAGE);
        assert!(
            failure.message.contains("not a valid filter"),
            "{}",
            failure.message
        );
        assert!(
            failure
                .message
                .contains("expected closing bracket at column 3"),
            "{}",
            failure.message
        );
        let undefined = JqFilter::compile("nosuchfunction(1)").err().unwrap();
        assert!(
            undefined
                .to_string()
                .contains("undefined filter nosuchfunction"),
            "{undefined}"
        );
        assert!(JqFilter::compile("nosuchfunction(1)").is_err());
        let mut out = Vec::new();
        let err = JqFilter::compile(".a.b")
            .unwrap()
            .write(&json!({"a": 5}), &mut out)
            .unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert_eq!(failure.code, exit::FAILURE, "the command ran: not exit 2");
        assert!(failure.hints[0].contains("the command ran"), "{failure:?}");
    }
}
