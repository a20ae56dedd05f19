//! Writing JSON fast: vendor items once per row, and CSV rows straight to JSON. Strings with nothing to escape (nearly all
//! product text) are copied in one go; serde_json escapes the rest, so the output is the
//! same as `serde_json::to_vec`.

use std::io::Write;

use serde_json::Value;

pub fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Straight into the buffer: `to_string` would allocate once per number.
        Value::Number(number) => {
            let _ = write!(out, "{number}");
        }
        Value::String(text) => write_str(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write(item, out);
            }
            out.push(b'}');
        }
    }
}

pub fn write_str(text: &str, out: &mut Vec<u8>) {
    if needs_escape(text.as_bytes()) {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    } else {
        write_plain(text.as_bytes(), out);
    }
}

fn needs_escape(bytes: &[u8]) -> bool {
    scan(bytes).needs_escape
}

/// What one pass over many strings' bytes (a whole CSV record) tells of all of them.
pub struct Scan {
    /// Some byte must be escaped in a JSON string.
    pub needs_escape: bool,
    /// Every byte is ASCII, so the bytes are UTF-8 without a check.
    pub ascii: bool,
}

pub fn scan(bytes: &[u8]) -> Scan {
    // A fold without early exit, so the compiler checks many bytes per instruction.
    let (escapes, all_bits) = bytes.iter().fold((false, 0u8), |(escapes, bits), &b| {
        (escapes | (b < 0x20) | (b == b'"') | (b == b'\\'), bits | b)
    });
    Scan {
        needs_escape: escapes,
        ascii: all_bits < 0x80,
    }
}

/// UTF-8 text that `scan` found nothing to escape in, as a JSON string.
pub fn write_plain(text: &[u8], out: &mut Vec<u8>) {
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text);
    out.push(b'"');
}

/// The bytes serde_json writes for the number `text` denotes, when they are `text` itself or
/// `text` less trailing zeros, so they can be copied instead of parsed and formatted: an
/// integer that fits an i64 without a leading zero, or a decimal of at most 15 significant
/// digits (each of those is its own shortest round trip) and at least 0.1 (smaller ones are
/// written with an exponent). `26.10` is written `26.1`, and `26.00` is written `26.0`.
pub fn number_as_written(text: &[u8], integer_only: bool) -> Option<&[u8]> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let (whole, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
        None => (digits, None),
    };
    let all_digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
    if whole.is_empty() || !all_digits(whole) || (whole.len() > 1 && whole[0] == b'0') {
        return None;
    }
    let Some(fraction) = fraction else {
        return (whole.len() <= 18 && text != b"-0").then_some(text);
    };
    if integer_only || fraction.is_empty() || !all_digits(fraction) {
        return None;
    }
    // A float keeps one digit after the point, even when it is a zero.
    let kept = fraction
        .iter()
        .rposition(|&b| b != b'0')
        .map_or(1, |last| last + 1);
    let fraction = &fraction[..kept];
    let significant = if whole == b"0" { 0 } else { whole.len() } + fraction.len();
    let at_least_a_tenth = whole != b"0" || fraction[0] != b'0';
    (significant <= 15 && at_least_a_tenth)
        .then(|| &text[..text.len() - digits.len() + whole.len() + 1 + kept])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_copied_as_written() {
        let written = |text: &str, integer_only| {
            number_as_written(text.as_bytes(), integer_only)
                .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
        };
        for (text, expected) in [
            ("0", "0"),
            ("7", "7"),
            ("-12", "-12"),
            ("26.16", "26.16"),
            ("-0.5", "-0.5"),
            ("0.1", "0.1"),
            ("123456789012.345", "123456789012.345"),
            ("999999999999999999", "999999999999999999"),
            ("26.10", "26.1"),
            ("26.00", "26.0"),
            ("-3.0", "-3.0"),
            ("1.500000000000000000000", "1.5"),
        ] {
            assert_eq!(written(text, false).as_deref(), Some(expected), "{text}");
        }
        for text in [
            "",
            "-",
            "-0",
            "01",
            "1.",
            ".5",
            "0.05",
            "0.0",
            "1e3",
            "+1",
            " 1",
            "1.2.3",
            "1234567890123.456",
            "9999999999999999999",
            "0x10",
            "NaN",
        ] {
            assert_eq!(written(text, false), None, "{text}");
        }
        assert_eq!(written("42", true).as_deref(), Some("42"));
        assert_eq!(written("4.2", true), None);
    }

    #[test]
    fn writes_what_serde_json_writes() {
        let value = json!({
            "sku": "A-1", "title": "Shoe \"Pro\" \\ 2\n", "price": 24.99, "qty": -3,
            "tags": ["a", "é", "\u{1}"], "on": true, "off": false, "none": null, "nested": {"k": [1.5e300]}
        });
        let mut out = Vec::new();
        write(&value, &mut out);
        assert_eq!(out, serde_json::to_vec(&value).unwrap());
    }
}
