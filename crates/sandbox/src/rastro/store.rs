//! rastro's items as the sandbox stores them: the body of fields keyed by the catalog's
//! unique field, shown with `id` first; catalog schemas and their type checks.

use axum::http::StatusCode;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::error::Fail;

/// Stored bodies are the item's fields; the API shows them with `id` first.
pub fn render_item(id: i64, body: &str) -> String {
    let fields = body.trim().strip_prefix('{').unwrap_or("}");
    if fields.trim_start().starts_with('}') {
        format!("{{\"id\":\"item_{id}\"}}")
    } else {
        format!("{{\"id\":\"item_{id}\",{fields}")
    }
}

pub fn parse_item_id(raw: &str) -> Option<i64> {
    raw.strip_prefix("item_")?.parse().ok()
}

/// The key an item is matched on: strings as they are, numbers and booleans as JSON text.
pub fn unique_key(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The schema's fields as (name, type).
pub fn catalog_schema(conn: &Connection, catalog: &str) -> Result<Vec<(String, String)>, Fail> {
    let text: String = conn.query_row(
        "SELECT schema_json FROM rastro_catalogs WHERE id = ?1",
        [catalog],
        |row| row.get(0),
    )?;
    let schema: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let fields = schema["fields"].as_array().cloned().unwrap_or_default();
    Ok(fields
        .iter()
        .filter_map(|f| {
            Some((
                f["name"].as_str()?.to_string(),
                f["type"].as_str()?.to_string(),
            ))
        })
        .collect())
}

/// Fields the schema names must hold its type; other fields and nulls are free.
pub fn check_types(schema: &[(String, String)], fields: &Map<String, Value>) -> Result<(), String> {
    for (name, kind) in schema {
        let Some(value) = fields.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let fits = match kind.as_str() {
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !fits {
            return Err(format!("field {name} must be of type {kind}, got {value}"));
        }
    }
    Ok(())
}

pub fn catalog_unique_field(conn: &Connection, catalog: &str) -> Result<String, Fail> {
    conn.query_row(
        "SELECT unique_id_field FROM rastro_catalogs WHERE id = ?1",
        [catalog],
        |row| row.get(0),
    )
    .optional()?
    .ok_or_else(|| {
        Fail::new(
            StatusCode::NOT_FOUND,
            format!("Catalog {catalog} not found"),
        )
    })
}

/// The catalog's item count and how many items it has ever lost (see `rastro_item_counts`).
pub fn item_count(conn: &Connection, catalog: &str) -> rusqlite::Result<(i64, i64)> {
    let counted = conn
        .prepare_cached("SELECT items, removed FROM rastro_item_counts WHERE catalog_id = ?1")?
        .query_row([catalog], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(counted.unwrap_or((0, 0)))
}

/// Notes that `joined` items joined the catalog and `left` left it (see `rastro_item_counts`).
pub fn count_items(
    conn: &Connection,
    catalog: &str,
    joined: i64,
    left: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO rastro_item_counts (catalog_id, items, removed) VALUES (?1, ?2 - ?3, ?3)
         ON CONFLICT (catalog_id) DO UPDATE SET items = items + ?2 - ?3, removed = removed + ?3",
    )?
    .execute(params![catalog, joined, left])?;
    Ok(())
}

pub fn find_item(conn: &Connection, catalog: &str, item: &str) -> Result<(i64, String), Fail> {
    let not_found = || {
        Fail::new(
            StatusCode::NOT_FOUND,
            format!("Item {item} not found in catalog {catalog}"),
        )
    };
    let id = parse_item_id(item).ok_or_else(not_found)?;
    conn.query_row(
        "SELECT id, body FROM rastro_items WHERE id = ?1 AND catalog_id = ?2",
        params![id, catalog],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()?
    .ok_or_else(not_found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_render_with_id_first() {
        assert_eq!(
            render_item(7, r#"{"sku":"A1"}"#),
            r#"{"id":"item_7","sku":"A1"}"#
        );
        assert_eq!(render_item(7, "{}"), r#"{"id":"item_7"}"#);
        let parsed: Value = serde_json::from_str(&render_item(3, r#"{"a":{"b":1}}"#)).unwrap();
        assert_eq!(parsed, json!({"id": "item_3", "a": {"b": 1}}));
    }

    #[test]
    fn the_change_log_shows_an_item_as_rastro_does() {
        let conn = Connection::open_in_memory().unwrap();
        let sql = format!("SELECT {}", crate::changes::shown_sql("?1", "?2"));
        for body in ["{}", r#"{"a":1}"#, r#"{"a":{"b":"x,}{"},"ü":[1,2]}"#] {
            let shown: String = conn
                .query_row(&sql, params![42, body], |row| row.get(0))
                .unwrap();
            assert_eq!(shown, render_item(42, body), "{body}");
        }
    }

    #[test]
    fn unique_keys() {
        assert_eq!(unique_key(Some(&json!("A1"))).as_deref(), Some("A1"));
        assert_eq!(unique_key(Some(&json!(12))).as_deref(), Some("12"));
        assert_eq!(unique_key(Some(&json!(""))), None);
        assert_eq!(unique_key(Some(&json!(null))), None);
        assert_eq!(unique_key(None), None);
    }
}
