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
    // A fold without early exit, so the compiler checks many bytes per instruction.
    let escapes = text.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    let plain = !escapes;
    if plain {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
