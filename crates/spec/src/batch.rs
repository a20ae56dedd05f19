//! batch (doc.batch.com, Catalogs API): the documented limits and item rules, which the
//! client's validator and the sandbox's emulation both enforce.

use serde_json::{Map, Value};

/// The server URL's `{version}` variable defaults to 2.11 (edit-items OpenAPI).
pub const DEFAULT_API_VERSION: &str = "2.11";
/// edit-items: "within the limit of 200 items".
pub const MAX_ITEMS_PER_REQUEST: usize = 200;
/// edit-items, Rate Limiting: token buckets of 5 requests/s and 1000 items/s.
pub const REQUESTS_PER_SECOND: f64 = 5.0;
pub const ITEMS_PER_SECOND: f64 = 1000.0;

/// catalogs/create and update: a catalog has 1 to 25 fields, a project at most 5 catalogs.
pub const MAX_FIELDS: usize = 25;
pub const MAX_CATALOGS: usize = 5;
/// catalogs/list: `limit` is 1 to 100, 10 when left out.
pub const MAX_LIST_LIMIT: u32 = 100;
pub const DEFAULT_LIST_LIMIT: u32 = 10;
/// The field object's `type` enum (catalogs/create).
pub const FIELD_TYPES: [&str; 7] = ["array", "bool", "date", "float", "integer", "string", "url"];
/// The field object's `name`: pattern `[a-z0-9_]+`, maxLength 250 (catalogs/create). The item
/// pages cap attribute keys at 30; a longer field could never be written, but the catalog
/// pages allow it.
const MAX_FIELD_NAME_CHARS: usize = 250;

/// Checks a field as catalogs/create and update take it: the name's pattern and the type.
pub fn validate_field(name: &str, kind: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_FIELD_NAME_CHARS
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(format!(
            "field name '{name}' must match [a-z0-9_]+ (1 to {MAX_FIELD_NAME_CHARS} characters)"
        ));
    }
    if !FIELD_TYPES.contains(&kind) {
        return Err(format!(
            "field {name}: type '{kind}' is not one of {}",
            FIELD_TYPES.join(", ")
        ));
    }
    Ok(())
}

/// The field an attribute key writes and the type its wrapper says: `url(poster)` →
/// (`poster`, Some("url")), `date(d)` → (`d`, Some("date")), `title` → (`title`, None).
pub fn attribute_field(key: &str) -> (&str, Option<&'static str>) {
    if let Some(name) = wrapped(key, "url") {
        (name, Some("url"))
    } else if let Some(name) = wrapped(key, "date") {
        (name, Some("date"))
    } else {
        (key, None)
    }
}

const MAX_KEY_CHARS: usize = 30;
const MAX_STRING_CHARS: usize = 10_000;
const MAX_ARRAY_ITEMS: usize = 15;
const MAX_ARRAY_STRING_CHARS: usize = 64;
const MAX_URL_CHARS: usize = 2048;

/// Checks one element of `items` against the documented rules; the error names the rule.
pub fn validate_item(item: &Value) -> Result<(), String> {
    let Value::Object(item) = item else {
        return Err("an item must be a JSON object".into());
    };
    match item.get("id") {
        Some(Value::String(id)) if !id.is_empty() => {}
        Some(Value::String(_)) | None | Some(Value::Null) => return Err("id is missing".into()),
        Some(_) => return Err("id must be a string".into()),
    }
    match item.get("action").and_then(Value::as_str) {
        Some("add") => {}
        Some("remove") => return Ok(()),
        Some(other) => return Err(format!("action must be add or remove, not '{other}'")),
        None => return Err("action is missing (add or remove)".into()),
    }
    for key in item.keys() {
        if !matches!(key.as_str(), "id" | "action" | "attributes") {
            return Err(format!(
                "unexpected item key '{key}' (attributes go under \"attributes\")"
            ));
        }
    }
    match item.get("attributes") {
        None => Ok(()),
        Some(Value::Object(attributes)) => validate_attributes(attributes),
        Some(_) => Err("attributes must be an object".into()),
    }
}

pub fn validate_attributes(attributes: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in attributes {
        validate_attribute(key, value).map_err(|why| format!("attribute {key}: {why}"))?;
    }
    Ok(())
}

fn validate_attribute(key: &str, value: &Value) -> Result<(), String> {
    if let Some(name) = wrapped(key, "url") {
        check_name(name)?;
        return match value {
            Value::Null => Ok(()),
            Value::String(url) => check_url(url),
            _ => Err("a url(..) value must be a string URL".into()),
        };
    }
    if let Some(name) = wrapped(key, "date") {
        check_name(name)?;
        return match value {
            Value::Null => Ok(()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
            Value::String(date) if is_rfc3339(date) => Ok(()),
            Value::String(date) if !date.is_empty() && date.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
                "a Unix timestamp must be a JSON number, not the string \"{date}\": type the column, e.g. {key}:integer"
            )),
            _ => Err("a date(..) value must be a Unix timestamp in seconds or an RFC 3339 date such as 2012-08-12T22:30:05Z".into()),
        };
    }
    check_name(key)?;
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
        Value::String(s) => match s.chars().count() {
            0 => Err("a string cannot be empty (use null to remove the attribute)".into()),
            n if n > MAX_STRING_CHARS => Err(format!(
                "a string has at most {MAX_STRING_CHARS} characters, this one {n}"
            )),
            _ => Ok(()),
        },
        Value::Array(items) => {
            if items.len() > MAX_ARRAY_ITEMS {
                return Err(format!(
                    "an array has at most {MAX_ARRAY_ITEMS} strings, this one {}",
                    items.len()
                ));
            }
            for item in items {
                let Value::String(s) = item else {
                    return Err("arrays may only hold strings".into());
                };
                let n = s.chars().count();
                if n > MAX_ARRAY_STRING_CHARS {
                    return Err(format!(
                        "a string in an array has at most {MAX_ARRAY_STRING_CHARS} characters, '{}…' has {n}",
                        s.chars().take(20).collect::<String>()
                    ));
                }
            }
            Ok(())
        }
        Value::Object(_) => Err("objects are not a supported attribute type".into()),
    }
}

/// Checks one attribute against the catalog field it writes, of type `kind`: a url or date
/// field is written only through its `url(..)`/`date(..)` key, and values have the field's type
/// (null removes any attribute).
pub fn check_field_type(key: &str, value: &Value, kind: &str) -> Result<(), String> {
    let (name, wrapper) = attribute_field(key);
    let wants = match kind {
        "url" | "date" => Some(kind),
        _ => None,
    };
    if wrapper != wants {
        return Err(match wants {
            Some(w) => format!("field {name} is a {kind} field: write it as {w}({name})"),
            None => format!(
                "field {name} is a {kind} field, not a {}",
                wrapper.unwrap_or("")
            ),
        });
    }
    let fits = match (kind, value) {
        (_, Value::Null) | ("url" | "date", _) => true,
        ("array", Value::Array(_)) | ("bool", Value::Bool(_)) | ("string", Value::String(_)) => {
            true
        }
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        ("float", Value::Number(_)) => true,
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "field {name} is of type {kind}, the value {value} is not"
        ))
    }
}

/// `url(name)` → `name`.
fn wrapped<'a>(key: &'a str, function: &str) -> Option<&'a str> {
    key.strip_prefix(function)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

/// "Key names should be made of letters, numbers or underscores ([a-z0-9_]). They cannot be
/// longer than 30 characters and cannot contain uppercase characters."
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > MAX_KEY_CHARS {
        return Err(format!(
            "names have at most {MAX_KEY_CHARS} characters, this one {}",
            name.len()
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("names may only hold a-z, 0-9 and _".into());
    }
    Ok(())
}

/// "A scheme is compulsory" and "`://` is compulsory after the scheme", at most 2048 chars.
fn check_url(url: &str) -> Result<(), String> {
    let n = url.chars().count();
    if n > MAX_URL_CHARS {
        return Err(format!(
            "a URL has at most {MAX_URL_CHARS} characters, this one {n}"
        ));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("'{url}' is not a URL: it needs a scheme and ://"));
    };
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(format!("'{url}' is not a valid URL"));
    }
    Ok(())
}

/// RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let number = |range: std::ops::Range<usize>| -> u32 {
        text.get(range).and_then(|s| s.parse().ok()).unwrap_or(99)
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let (month, day, hour, minute, second) = (
        number(5..7),
        number(8..10),
        number(11..13),
        number(14..16),
        number(17..19),
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits_len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits_len == 0 {
            return false;
        }
        rest = &fraction[digits_len..];
    }
    match rest.as_bytes() {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn add(attributes: Value) -> Result<(), String> {
        validate_item(&json!({"action": "add", "id": "1", "attributes": attributes}))
    }

    #[test]
    fn the_documented_example_is_valid() {
        assert_eq!(
            add(json!({
                "title": "Squid Game",
                "cast": ["Lee Jung-jae", "Park Hae-soo"],
                "age": 25, "level_progress": 25.5, "is_premium": false, "gone": null,
                "date(promo_starts)": 1451642400, "date(promo_ends)": "2012-08-12T22:30:05Z",
                "url(product_image)": "https://batchstore/product/4729/image.png",
                "url(product_deeplink)": "myapp://path/to/content",
            })),
            Ok(())
        );
        assert_eq!(
            validate_item(&json!({"action": "remove", "id": "2"})),
            Ok(())
        );
    }

    #[test]
    fn key_names() {
        assert!(add(json!({"Title": "x"}))
            .unwrap_err()
            .contains("a-z, 0-9 and _"));
        assert!(add(json!({"a-b": "x"})).is_err());
        assert!(add(json!({"a".repeat(31): "x"}))
            .unwrap_err()
            .contains("at most 30"));
        assert!(add(json!({"a".repeat(30): "x"})).is_ok());
        assert!(add(json!({"url(Bad)": "https://x"})).is_err());
    }

    #[test]
    fn strings_and_arrays() {
        assert!(add(json!({"s": ""}))
            .unwrap_err()
            .contains("cannot be empty"));
        assert!(add(json!({"s": "é".repeat(10_000)})).is_ok());
        assert!(add(json!({"s": "x".repeat(10_001)})).is_err());
        assert!(add(json!({"a": vec!["x"; 15]})).is_ok());
        assert!(add(json!({"a": vec!["x"; 16]}))
            .unwrap_err()
            .contains("at most 15"));
        assert!(add(json!({"a": ["x".repeat(65)]}))
            .unwrap_err()
            .contains("at most 64"));
        assert!(add(json!({"a": [1]}))
            .unwrap_err()
            .contains("only hold strings"));
        assert!(add(json!({"o": {"x": 1}})).is_err());
    }

    #[test]
    fn urls_and_dates() {
        assert!(add(json!({"url(u)": "cdn.example.com/a.png"}))
            .unwrap_err()
            .contains("scheme"));
        assert!(add(json!({"url(u)": "https://"})).is_err());
        assert!(add(json!({"url(u)": format!("https://{}", "x".repeat(2048))})).is_err());
        assert!(add(json!({"url(u)": 5})).is_err());
        assert!(add(json!({"date(d)": "2012-08-12"})).is_err());
        assert!(add(json!({"date(d)": "2012-13-12T22:30:05Z"})).is_err());
        assert!(add(json!({"date(d)": "2012-08-12T22:30:05.123+02:00"})).is_ok());
        assert!(add(json!({"date(d)": 1.5})).is_err());
    }

    #[test]
    fn fields_and_the_keys_that_write_them() {
        assert!(validate_field("release_year", "integer").is_ok());
        assert!(validate_field("Title", "string")
            .unwrap_err()
            .contains("[a-z0-9_]+"));
        assert!(validate_field(&"a".repeat(251), "string").is_err());
        assert!(validate_field("price", "number")
            .unwrap_err()
            .contains("not one of"));
        assert_eq!(attribute_field("url(poster)"), ("poster", Some("url")));
        assert_eq!(attribute_field("title"), ("title", None));
        assert!(check_field_type("url(poster)", &json!("https://x/y"), "url").is_ok());
        assert!(check_field_type("poster", &json!("https://x/y"), "url")
            .unwrap_err()
            .contains("url(poster)"));
        assert!(check_field_type("date(d)", &json!(1), "string").is_err());
        assert!(check_field_type("rank", &json!(1.5), "integer").is_err());
        assert!(check_field_type("rank", &Value::Null, "integer").is_ok());
        assert!(check_field_type("rating", &json!(7), "float").is_ok());
        assert!(check_field_type("tags", &json!("a"), "array").is_err());
    }

    #[test]
    fn ids_and_actions() {
        assert!(validate_item(&json!({"action": "add"}))
            .unwrap_err()
            .contains("id is missing"));
        assert!(validate_item(&json!({"action": "add", "id": 5}))
            .unwrap_err()
            .contains("string"));
        assert!(validate_item(&json!({"action": "upsert", "id": "1"})).is_err());
        assert!(validate_item(&json!({"id": "1"}))
            .unwrap_err()
            .contains("action is missing"));
        assert!(validate_item(&json!({"action": "add", "id": "1", "title": "x"})).is_err());
    }
}
