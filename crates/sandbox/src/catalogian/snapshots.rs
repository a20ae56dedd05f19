//! Snapshots (catalogian.com/docs/concepts, /docs/snapshot-comparison): "a point-in-time copy
//! of your source data", one per check of the source. The demo source is checked whenever its
//! catalog changes, so its snapshots are its state at seed time and after each delta event;
//! the change log writes them with the event (`crate::changes`).
//!
//! `GET /v1/sources/:id/snapshots` lists them newest first, as the documented example does,
//! `limit` 100 by default and at most 100. `GET /v1/sources/:id/snapshot-rows` browses "the
//! current snapshot" (the newest), `limit` 50 by default and at most 200, with `search` across
//! all fields and `field` restricting it to one. Both answer in the cursor envelope the
//! pagination page gives every list. The row shape is undocumented; the sandbox uses the
//! concepts page's `row_key`, `row_hash` and `row_data`, the values strings as in a feed file.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use super::{
    catch_up, decode_cursor, encode_cursor, number, query_params, resolve_source, Key, Params,
    Source,
};
use crate::error::{bad_request, Fail};
use crate::time::rfc3339_ms;
use crate::{stable_hash, Shared};
use catops_spec::catalogian::{
    DEFAULT_SNAPSHOTS_LIMIT, DEFAULT_SNAPSHOT_ROWS_LIMIT, MAX_SNAPSHOTS_LIMIT,
    MAX_SNAPSHOT_ROWS_LIMIT,
};

/// Snapshot ids are `snap_` and the sequence number, zero-padded like event ids.
fn snapshot_id(seq: i64) -> String {
    format!("snap_{seq:012}")
}

/// `GET /v1/sources/:id/snapshots`: newest first, after the cursor.
pub async fn list_snapshots(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Key>,
    Path(wanted): Path<String>,
    query: Params,
) -> Result<Response, Fail> {
    let query = query_params(query)?;
    let limit = number(
        &query,
        "limit",
        DEFAULT_SNAPSHOTS_LIMIT.into(),
        1,
        MAX_SNAPSHOTS_LIMIT.into(),
    )?;
    let cursor = query.get("cursor").cloned();
    let body = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let source = resolve_source(conn, &key, &wanted)?;
            catch_up(conn, &source)?;
            let scope = format!("snapshots:{}", source.id);
            let before = match &cursor {
                Some(raw) => decode_cursor(&scope, raw)
                    .ok_or_else(|| bad_request(format!("invalid cursor '{raw}'")))?,
                None => i64::MAX,
            };
            let mut stmt = conn.prepare_cached(
                "SELECT seq, created_ms, total_rows FROM catalogian_snapshots
                 WHERE source_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
            )?;
            let mut found = stmt
                .query_map(params![source.id, before, limit as i64 + 1], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get(1)?, row.get::<_, i64>(2)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let has_more = found.len() as u64 > limit;
            found.truncate(limit as usize);
            let next_cursor = match found.last() {
                Some(&(last, _, _)) if has_more => Value::String(encode_cursor(&scope, last)),
                _ => Value::Null,
            };
            let snapshots: Vec<Value> = found
                .into_iter()
                .map(|(seq, created, total)| {
                    json!({"id": snapshot_id(seq), "createdAt": rfc3339_ms(created), "totalRows": total})
                })
                .collect();
            Ok(json!({
                "sourceId": source.id,
                "count": snapshots.len(),
                "hasMore": has_more,
                "nextCursor": next_cursor,
                "snapshots": snapshots,
            }))
        })
        .await??;
    Ok(Json(body).into_response())
}

/// What `snapshot-rows` looks for: `search` in every field, or in `field` only.
struct Search {
    text: Option<String>,
    field: Option<String>,
}

impl Search {
    fn from_query(query: &HashMap<String, String>) -> Result<Search, Fail> {
        let text = query.get("search").map(|s| s.to_lowercase());
        let field = query.get("field").cloned();
        if field.is_some() && text.is_none() {
            return Err(bad_request(
                "field restricts search to one field: give search too",
            ));
        }
        Ok(Search { text, field })
    }

    /// Case-insensitive, anywhere in a value, as a search box would.
    fn matches(&self, row_data: &Map<String, Value>) -> bool {
        let Some(text) = &self.text else {
            return true;
        };
        let hit = |value: &Value| {
            value
                .as_str()
                .is_some_and(|v| v.to_lowercase().contains(text))
        };
        match &self.field {
            Some(field) => row_data.get(field).is_some_and(hit),
            None => row_data.values().any(hit),
        }
    }

    /// Cursors hold for one snapshot and one search.
    fn scope(&self, source: &str, snapshot: i64) -> String {
        format!(
            "snapshot-rows:{source}:{snapshot}:{}:{}",
            self.text.as_deref().unwrap_or_default(),
            self.field.as_deref().unwrap_or_default()
        )
    }
}

/// `GET /v1/sources/:id/snapshot-rows`: the newest snapshot's rows in the feed's order.
pub async fn list_snapshot_rows(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Key>,
    Path(wanted): Path<String>,
    query: Params,
) -> Result<Response, Fail> {
    let query = query_params(query)?;
    let limit = number(
        &query,
        "limit",
        DEFAULT_SNAPSHOT_ROWS_LIMIT.into(),
        1,
        MAX_SNAPSHOT_ROWS_LIMIT.into(),
    )?;
    let search = Search::from_query(&query)?;
    let cursor = query.get("cursor").cloned();
    let body = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let source = resolve_source(conn, &key, &wanted)?;
            catch_up(conn, &source)?;
            let snapshot = current_snapshot(conn, &source, &wanted)?;
            let scope = search.scope(&source.id, snapshot);
            let after = match &cursor {
                Some(raw) => decode_cursor(&scope, raw).ok_or_else(|| {
                    bad_request(format!(
                        "invalid cursor '{raw}': a cursor holds for one snapshot and one search; start again without it"
                    ))
                })?,
                None => i64::MIN,
            };
            let (rows, last, has_more) = rows_page(conn, &source, &search, after, limit)?;
            let next_cursor = if has_more {
                Value::String(encode_cursor(&scope, last))
            } else {
                Value::Null
            };
            Ok(json!({
                "sourceId": source.id,
                "snapshotId": snapshot_id(snapshot),
                "count": rows.len(),
                "hasMore": has_more,
                "nextCursor": next_cursor,
                "rows": rows,
            }))
        })
        .await??;
    Ok(Json(body).into_response())
}

fn current_snapshot(conn: &Connection, source: &Source, wanted: &str) -> Result<i64, Fail> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT MAX(seq) FROM catalogian_snapshots WHERE source_id = ?1",
            [&source.id],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    seq.ok_or_else(|| {
        Fail::new(
            StatusCode::NOT_FOUND,
            format!("Not Found — source '{wanted}' has no snapshot yet"),
        )
    })
}

/// Up to `limit` matching rows after item `after`; the last item read, and whether more match.
/// The newest snapshot is the followed catalog as it is now: every change to it writes an
/// event and a snapshot in the same transaction.
fn rows_page(
    conn: &Connection,
    source: &Source,
    search: &Search,
    after: i64,
    limit: u64,
) -> Result<(Vec<Value>, i64, bool), Fail> {
    let Some(catalog) = &source.follows else {
        return Ok((Vec::new(), after, false));
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, unique_value, body FROM rastro_items
         WHERE catalog_id = ?1 AND id > ?2 ORDER BY id",
    )?;
    let mut found = stmt.query(params![catalog, after])?;
    let (mut rows, mut last) = (Vec::new(), after);
    while let Some(row) = found.next()? {
        let id: i64 = row.get(0)?;
        let body: String = row.get(2)?;
        let row_data = feed_row(id, &body);
        if !search.matches(&row_data) {
            continue;
        }
        if rows.len() as u64 == limit {
            return Ok((rows, last, true));
        }
        last = id;
        let hash = stable_hash(&[&Value::Object(row_data.clone()).to_string()]);
        rows.push(json!({
            "row_key": row.get::<_, String>(1)?,
            "row_hash": format!("{hash:016x}"),
            "row_data": row_data,
        }));
    }
    Ok((rows, last, false))
}

/// An item as a line of a feed file: its id, then every field, each value a string (JSON text
/// for arrays and objects, empty for null).
fn feed_row(id: i64, body: &str) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("id".into(), Value::String(format!("item_{id}")));
    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) {
        for (name, value) in fields {
            let text = match value {
                Value::String(text) => text,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            row.insert(name, Value::String(text));
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_rows_hold_strings_only() {
        let row = feed_row(
            3,
            r#"{"sku":"A-1","price":12.5,"tags":["x"],"gone":null,"ok":true}"#,
        );
        assert_eq!(
            Value::Object(row),
            json!({"id": "item_3", "sku": "A-1", "price": "12.5", "tags": "[\"x\"]", "gone": "", "ok": "true"})
        );
    }

    #[test]
    fn search_is_case_insensitive_and_field_restricts_it() {
        let row = feed_row(1, r#"{"title":"Trail Shoe","brand":"Acme"}"#);
        let search = |text: Option<&str>, field: Option<&str>| Search {
            text: text.map(str::to_lowercase),
            field: field.map(str::to_string),
        };
        assert!(search(None, None).matches(&row));
        assert!(search(Some("SHOE"), None).matches(&row));
        assert!(search(Some("acme"), Some("brand")).matches(&row));
        assert!(!search(Some("acme"), Some("title")).matches(&row));
        assert!(!search(Some("acme"), Some("missing")).matches(&row));
        assert!(!search(Some("boot"), None).matches(&row));
    }
}
