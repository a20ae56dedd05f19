//! Typed values (SPEC §4): a cell is a string unless a type says otherwise; nothing is guessed,
//! so `00123` stays `"00123"`.

use std::fmt;
use std::str::FromStr;

use serde_json::{Number, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Json,
}

impl ValueType {
    pub const NAMES: &'static str = "string, number, integer, boolean, array, json";

    /// Converts `raw` to this type; `array_sep` splits arrays (their items stay strings).
    pub fn coerce(self, raw: &str, array_sep: &str) -> Result<Value, String> {
        match self {
            ValueType::String => Ok(Value::String(raw.to_string())),
            ValueType::Number => {
                let trimmed = raw.trim();
                let parsed: f64 = trimmed
                    .parse()
                    .map_err(|_| format!("'{raw}' is not a number"))?;
                if !parsed.is_finite() {
                    return Err(format!("'{raw}' is not a finite number"));
                }
                // Keep integers integral: 10 stays 10, not 10.0.
                if let Ok(int) = trimmed.parse::<i64>() {
                    return Ok(Value::Number(int.into()));
                }
                Number::from_f64(parsed)
                    .map(Value::Number)
                    .ok_or_else(|| format!("'{raw}' is not a number"))
            }
            ValueType::Integer => raw
                .trim()
                .parse::<i64>()
                .map(|int| Value::Number(int.into()))
                .map_err(|_| format!("'{raw}' is not an integer")),
            ValueType::Boolean => match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Value::Bool(true)),
                "false" | "0" | "no" => Ok(Value::Bool(false)),
                _ => Err(format!(
                    "'{raw}' is not a boolean (true/false, 1/0, yes/no)"
                )),
            },
            ValueType::Array => {
                if raw.is_empty() {
                    return Ok(Value::Array(Vec::new()));
                }
                Ok(Value::Array(
                    raw.split(array_sep)
                        .map(|item| Value::String(item.to_string()))
                        .collect(),
                ))
            }
            ValueType::Json => {
                serde_json::from_str(raw).map_err(|err| format!("'{raw}' is not valid JSON: {err}"))
            }
        }
    }
}

impl FromStr for ValueType {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "string" => Ok(ValueType::String),
            "number" => Ok(ValueType::Number),
            "integer" | "int" => Ok(ValueType::Integer),
            "boolean" | "bool" => Ok(ValueType::Boolean),
            "array" => Ok(ValueType::Array),
            "json" => Ok(ValueType::Json),
            other => Err(format!(
                "unknown type '{other}' (types: {})",
                ValueType::NAMES
            )),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ValueType::String => "string",
            ValueType::Number => "number",
            ValueType::Integer => "integer",
            ValueType::Boolean => "boolean",
            ValueType::Array => "array",
            ValueType::Json => "json",
        };
        f.write_str(name)
    }
}

/// Splits `NAME:TYPE` (a header hint or `--set` key) into the name and its type, if any.
pub fn split_type_hint(spec: &str) -> Result<(&str, Option<ValueType>), String> {
    match spec.rsplit_once(':') {
        Some((name, kind)) if !name.is_empty() => Ok((name, Some(kind.parse()?))),
        _ => Ok((spec, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nothing_is_guessed() {
        assert_eq!(
            ValueType::String.coerce("00123", "|").unwrap(),
            json!("00123")
        );
    }

    #[test]
    fn numbers_keep_their_kind() {
        assert_eq!(ValueType::Number.coerce("10", "|").unwrap(), json!(10));
        assert_eq!(
            ValueType::Number.coerce("24.99", "|").unwrap(),
            json!(24.99)
        );
        assert!(ValueType::Number.coerce("NaN", "|").is_err());
        assert!(ValueType::Number.coerce("12abc", "|").is_err());
        assert!(ValueType::Integer.coerce("1.5", "|").is_err());
    }

    #[test]
    fn arrays_booleans_and_json() {
        assert_eq!(
            ValueType::Array.coerce("a|b", "|").unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(ValueType::Array.coerce("", "|").unwrap(), json!([]));
        assert_eq!(ValueType::Boolean.coerce("Yes", "|").unwrap(), json!(true));
        assert!(ValueType::Boolean.coerce("maybe", "|").is_err());
        assert_eq!(
            ValueType::Json.coerce(r#"{"a":[1]}"#, "|").unwrap(),
            json!({"a": [1]})
        );
    }

    #[test]
    fn type_hints() {
        assert_eq!(
            split_type_hint("price:number").unwrap(),
            ("price", Some(ValueType::Number))
        );
        assert_eq!(split_type_hint("title").unwrap(), ("title", None));
        assert!(split_type_hint("price:money").is_err());
    }
}
