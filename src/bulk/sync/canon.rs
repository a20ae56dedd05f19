//! The hash a sync compares: xxh3 of an item in one canonical JSON form (keys sorted at every
//! level, numbers written one way), so a row read from a file and the same item listed back by
//! the vendor hash alike whatever their key order or number spelling (`10`, `10.0`, `1e1`).

use std::io::Write;

use serde_json::{Number, Value};

/// Hashes `item` in its canonical form, written into `scratch` (reused, so rows cost no
/// allocation for it).
pub fn hash(item: &Value, scratch: &mut Vec<u8>) -> u64 {
    scratch.clear();
    write(item, scratch);
    xxhash_rust::xxh3::xxh3_64(scratch)
}

fn write(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => number(n, out),
        Value::String(s) => string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(key, out);
                out.push(b':');
                write(item, out);
            }
            out.push(b'}');
        }
    }
}

/// Integers as integers; a float with no fraction as the integer it is (within f64's exact
/// range); any other float in Rust's shortest round-trip form.
fn number(n: &Number, out: &mut Vec<u8>) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let _ = if let Some(i) = n.as_i64() {
        write!(out, "{i}")
    } else if let Some(u) = n.as_u64() {
        write!(out, "{u}")
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        if f.fract() == 0.0 && f.abs() < EXACT {
            write!(out, "{}", f as i64)
        } else {
            write!(out, "{f}")
        }
    };
}

fn string(s: &str, out: &mut Vec<u8>) {
    // Writing a str as JSON cannot fail into a Vec.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(value: Value) -> u64 {
        hash(&value, &mut Vec::new())
    }

    #[test]
    fn key_order_and_number_spelling_do_not_change_the_hash() {
        let a = h(json!({"sku": "A", "price": 10, "tags": ["x", "y"], "dims": {"w": 1.5, "h": 2}}));
        let b: Value = serde_json::from_str(
            r#"{"dims":{"h":2.0,"w":1.5},"tags":["x","y"],"price":1e1,"sku":"A"}"#,
        )
        .unwrap();
        assert_eq!(a, h(b));
    }

    #[test]
    fn any_change_of_content_changes_the_hash() {
        let base = h(json!({"sku": "A", "price": 10}));
        assert_ne!(base, h(json!({"sku": "A", "price": 11})));
        assert_ne!(base, h(json!({"sku": "A", "price": "10"})));
        assert_ne!(base, h(json!({"sku": "A", "price": 10, "extra": null})));
        assert_ne!(h(json!(["x", "y"])), h(json!(["y", "x"])));
    }

    #[test]
    fn the_canonical_form_is_sorted_compact_json() {
        let mut scratch = Vec::new();
        hash(
            &json!({"b": 1.25, "a": [true, null, "é\""], "c": 3.0}),
            &mut scratch,
        );
        assert_eq!(
            String::from_utf8(scratch).unwrap(),
            r#"{"a":[true,null,"é\""],"b":1.25,"c":3}"#
        );
        let escaped: Value =
            serde_json::from_str(r#"{"c":3,"a":[true,null,"\u00e9\""],"b":1.25}"#).unwrap();
        assert_eq!(
            h(escaped),
            h(json!({"b": 1.25, "a": [true, null, "é\""], "c": 3.0}))
        );
    }
}
