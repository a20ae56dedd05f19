//! The request `catops api` sends, from its flags as `gh api` reads them: `-f key=value`
//! string fields and `-F key=value` typed ones become a JSON object body, or the query of a
//! GET; `-d` is a body of its own; `-H KEY:VALUE` adds headers.

use std::io::Read;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::error::{usage, Failure};

/// A field's value where a query parameter needs text: a string as it is, other JSON as
/// written, null as nothing.
fn query_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `-f`/`-F` in the order gh applies them (raw fields first); a later field of the same name
/// replaces an earlier one.
pub fn fields(raw: &[String], typed: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut fields = Map::new();
    let mut stdin_read = false;
    for (flag, given) in raw
        .iter()
        .map(|f| ("-f", f))
        .chain(typed.iter().map(|f| ("-F", f)))
    {
        let Some((key, value)) = given.split_once('=') else {
            return usage(format!(
                "{flag} takes KEY=VALUE; '{key}' has no =",
                key = given
            ));
        };
        if key.is_empty() {
            return usage(format!("{flag} {given}: the key is empty"));
        }
        if key.contains('[') {
            return Err(Failure::usage(format!(
                "{flag} {key}: nested keys (a[b], a[]) are not supported"
            ))
            .hint("give the whole body with -d JSON or -d @FILE")
            .into());
        }
        let value = if flag == "-f" {
            Value::String(value.to_string())
        } else {
            typed_value(key, value, &mut stdin_read)?
        };
        fields.insert(key.to_string(), value);
    }
    Ok(fields)
}

/// `-F`: true, false, null and integers are JSON values; `@FILE` is the file's text (`@-`
/// stdin, once); anything else a string.
fn typed_value(key: &str, value: &str, stdin_read: &mut bool) -> anyhow::Result<Value> {
    if let Some(path) = value.strip_prefix('@') {
        let bytes = if path == "-" {
            if std::mem::replace(stdin_read, true) {
                return usage(format!("-F {key}=@-: stdin was read by an earlier field"));
            }
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|err| Failure::usage(format!("-F {key}: cannot read stdin: {err}")))?;
            bytes
        } else {
            std::fs::read(path)
                .map_err(|err| Failure::usage(format!("-F {key}: cannot read {path}: {err}")))?
        };
        return String::from_utf8(bytes).map(Value::String).map_err(|_| {
            Failure::usage(format!("-F {key}=@{path}: the file is not UTF-8 text")).into()
        });
    }
    Ok(match value {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => match value.parse::<i64>() {
            Ok(number) => Value::from(number),
            Err(_) => Value::String(value.to_string()),
        },
    })
}

/// Where fields go: the query of a GET (or HEAD, which has no body), else a JSON object body.
pub fn place_fields(
    method: &Method,
    fields: Map<String, Value>,
    query: &mut Vec<(String, String)>,
) -> Option<Vec<u8>> {
    if fields.is_empty() {
        return None;
    }
    if matches!(*method, Method::GET | Method::HEAD) {
        query.extend(fields.iter().map(|(k, v)| (k.clone(), query_text(v))));
        return None;
    }
    Some(Value::Object(fields).to_string().into_bytes())
}

/// `-H 'Key: value'`, split at the first colon, the value's leading blanks dropped. The error
/// never quotes the value: it may hold a credential.
pub fn headers(given: &[String]) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for header in given {
        let Some((name, value)) = header.split_once(':') else {
            return usage("-H takes KEY:VALUE, and one has no colon");
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| Failure::usage(format!("-H '{}': not a header name", name.trim())))?;
        let mut value = HeaderValue::from_str(value.trim_start()).map_err(|_| {
            Failure::usage(format!(
                "-H {name}: the value must be printable text without line breaks"
            ))
        })?;
        // -vv logs request headers: mask the ones that look like credentials.
        let lower = name.as_str();
        if [
            "auth",
            "token",
            "key",
            "secret",
            "pass",
            "cookie",
            "signature",
        ]
        .iter()
        .any(|word| lower.contains(word))
        {
            value.set_sensitive(true);
        }
        headers.append(name, value);
    }
    Ok(headers)
}

/// `-d '{"a":1}'`, `-d @body.json` or `-d @-`; the body must be JSON.
pub fn read_body(data: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = match data.strip_prefix('@') {
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|err| Failure::usage(format!("cannot read stdin: {err}")))?;
            bytes
        }
        Some(path) => std::fs::read(path)
            .map_err(|err| Failure::usage(format!("cannot read {path}: {err}")))?,
        None => data.as_bytes().to_vec(),
    };
    if let Err(err) = serde_json::from_slice::<Value>(&bytes) {
        return usage(format!("-d: the body is not valid JSON: {err}"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn typed_fields_are_json_values_and_raw_ones_strings() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("desc.txt");
        std::fs::write(&file, "line one\n").unwrap();
        let at_file = format!("desc=@{}", file.display());
        let got = fields(
            &strings(&["n=5", "t=true", "name=x"]),
            &strings(&[
                "count=5",
                "on=true",
                "off=false",
                "none=null",
                "price=1.5",
                "word=hi",
                &at_file,
                "name=y",
            ]),
        )
        .unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"n": "5", "t": "true", "name": "y", "count": 5, "on": true, "off": false,
                   "none": null, "price": "1.5", "word": "hi", "desc": "line one\n"})
        );
    }

    #[test]
    fn malformed_fields_and_headers_are_usage_errors() {
        for (raw, typed) in [
            (vec!["novalue"], vec![]),
            (vec![], vec!["=x"]),
            (vec!["a[b]=1"], vec![]),
        ] {
            let err = fields(&strings(&raw), &strings(&typed)).unwrap_err();
            assert_eq!(err.downcast_ref::<Failure>().unwrap().code, 2, "{err}");
        }
        for bad in ["no-colon-secret", "bad name: x", ": x", "X-A: line\nbreak"] {
            let err = headers(&strings(&[bad])).unwrap_err();
            assert_eq!(err.downcast_ref::<Failure>().unwrap().code, 2, "{bad}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
        let ok = headers(&strings(&["X-Trace:  abc", "X-Api-Key:k", "X-Trace: def"])).unwrap();
        assert_eq!(ok.get_all("x-trace").iter().count(), 2);
        assert_eq!(ok["x-trace"], "abc");
        assert!(ok["x-api-key"].is_sensitive());
        assert!(!ok["x-trace"].is_sensitive());
    }

    #[test]
    fn fields_of_a_get_go_to_the_query_and_others_to_a_json_body() {
        let fields = || {
            let mut map = Map::new();
            map.insert("q".into(), json!("a b"));
            map.insert("limit".into(), json!(5));
            map.insert("none".into(), Value::Null);
            map
        };
        let mut query = vec![("x".to_string(), "1".to_string())];
        assert_eq!(place_fields(&Method::GET, fields(), &mut query), None);
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("x", "1"), ("q", "a b"), ("limit", "5"), ("none", "")]
        );
        let mut query = Vec::new();
        let body = place_fields(&Method::POST, fields(), &mut query).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"q": "a b", "limit": 5, "none": null})
        );
        assert!(query.is_empty());
        assert_eq!(place_fields(&Method::POST, Map::new(), &mut query), None);
    }
}
