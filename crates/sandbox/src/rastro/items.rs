//! rastro's items: list (paged), get, update (PUT replaces) and bulk upsert by the unique field.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, Transaction, TransactionBehavior};
use serde_json::{json, Map, Value};

use super::body::{json_response, parse_body, query_number};
use super::enrich;
use super::store::{
    catalog_schema, catalog_unique_field, check_types, find_item, render_item, unique_key,
};
use crate::changes::{record_change, Changes};
use crate::error::{unprocessable, Fail};
use crate::time::unix_ms_now;
use crate::Shared;

/// vendors/rastro.txt: bulk takes "max 1000" items, and list pages "max 1000".
const MAX_BULK_ITEMS: usize = 1000;
const MAX_PAGE_LIMIT: u64 = 1000;
const DEFAULT_PAGE_LIMIT: u64 = 100;

/// `search` and `sort_field`/`sort_order` as rastro's own client sends them. The sandbox
/// honours them (a filter a server ignored would give a silently wrong list): `search` is a
/// case-insensitive substring of any text or number field, `sort_field` orders by one field
/// (items without it last, then by id), `sort_order` is asc (the default) or desc.
struct ItemFilter {
    search: Option<String>,
    sort: Option<(String, bool)>,
}

impl ItemFilter {
    fn read(query: &HashMap<String, String>) -> Result<ItemFilter, Fail> {
        let search = query.get("search").filter(|s| !s.is_empty()).cloned();
        let descending = match query.get("sort_order").map(String::as_str) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(unprocessable(format!(
                    "sort_order must be asc or desc, got '{other}'"
                )))
            }
        };
        let sort = query
            .get("sort_field")
            .filter(|f| !f.is_empty())
            .map(|field| (field.clone(), descending));
        Ok(ItemFilter { search, sort })
    }

    /// The WHERE and ORDER BY of the page query; ?1 is the catalog, ?4 the search, ?5 the
    /// JSON path of the sort field.
    fn sql(&self) -> String {
        let mut sql = String::from("SELECT id, body FROM rastro_items WHERE catalog_id = ?1");
        sql.push_str(Self::SEARCH);
        match &self.sort {
            Some((_, descending)) => sql.push_str(&format!(
                " ORDER BY json_extract(body, ?5) IS NULL, json_extract(body, ?5) {}, id",
                if *descending { "DESC" } else { "ASC" }
            )),
            None => sql.push_str(" ORDER BY id"),
        }
        sql.push_str(" LIMIT ?2 OFFSET ?3");
        sql
    }

    const SEARCH: &'static str = " AND (?4 IS NULL OR EXISTS (SELECT 1 FROM json_each(body)
        WHERE json_each.type IN ('text', 'integer', 'real')
        AND instr(lower(json_each.value), lower(?4)) > 0))";

    fn sort_path(&self) -> Option<String> {
        self.sort
            .as_ref()
            .map(|(field, _)| format!("$.\"{}\"", field.replace('"', "\\\"")))
    }
}

pub async fn list(
    State(shared): State<Arc<Shared>>,
    Path(catalog): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Fail> {
    let page = query_number(&query, "page", 1, 1)?;
    let limit = query_number(&query, "limit", DEFAULT_PAGE_LIMIT, 1)?;
    if limit > MAX_PAGE_LIMIT {
        return Err(unprocessable(format!(
            "limit must be at most {MAX_PAGE_LIMIT}, got {limit}"
        )));
    }
    let filter = ItemFilter::read(&query)?;
    // The excerpt pages by `page`, rastro's own client by `offset`; an offset decides.
    let offset = match query.get("offset") {
        Some(_) => query_number(&query, "offset", 0, 0)?,
        None => (page - 1).saturating_mul(limit),
    };
    let page = offset / limit + 1;
    let body = shared
        .db
        .call(move |conn| -> Result<String, Fail> {
            enrich::catch_up(conn, &catalog)?;
            // One read transaction, so `total` and the page agree.
            let tx = conn.transaction()?;
            catalog_unique_field(&tx, &catalog)?;
            let total: i64 = tx.query_row(
                &format!(
                    "SELECT COUNT(*) FROM rastro_items WHERE catalog_id = ?1{}",
                    ItemFilter::SEARCH.replace("?4", "?2")
                ),
                params![catalog, filter.search],
                |row| row.get(0),
            )?;
            let offset = offset.min(i64::MAX as u64) as i64;
            let mut stmt = tx.prepare_cached(&filter.sql())?;
            let sort_path = filter.sort_path();
            let mut rows = if sort_path.is_some() {
                stmt.query(params![
                    catalog,
                    limit as i64,
                    offset,
                    filter.search,
                    sort_path
                ])?
            } else {
                stmt.query(params![catalog, limit as i64, offset, filter.search])?
            };
            let mut out = String::with_capacity(64 + limit as usize * 128);
            out.push_str("{\"items\":[");
            let mut first = true;
            while let Some(row) = rows.next()? {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&render_item(row.get(0)?, &row.get::<_, String>(1)?));
            }
            out.push_str(&format!("],\"total\":{total},\"page\":{page}}}"));
            Ok(out)
        })
        .await??;
    Ok(json_response(body))
}

pub async fn get(
    State(shared): State<Arc<Shared>>,
    Path((catalog, item)): Path<(String, String)>,
) -> Result<Response, Fail> {
    let body = shared
        .db
        .call(move |conn| -> Result<String, Fail> {
            catalog_unique_field(conn, &catalog)?;
            enrich::catch_up(conn, &catalog)?;
            let (id, body) = find_item(conn, &catalog, &item)?;
            Ok(render_item(id, &body))
        })
        .await??;
    Ok(json_response(body))
}

/// PUT replaces the item's fields with the body. The excerpt says PUT changes only the
/// fields given; rastro's own client says the backend replaces the whole item and can drop
/// fields. The sandbox takes the stricter reading, so a client that sends only some fields
/// loses the others here too, as it would there.
pub async fn update(
    State(shared): State<Arc<Shared>>,
    Path((catalog, item)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Fail> {
    let Value::Object(mut changes) = parse_body(&body)? else {
        return Err(unprocessable("the body must be a JSON object of fields"));
    };
    changes.shift_remove("id");

    let body = shared
        .db
        .call(move |conn| -> Result<String, Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let unique_field = catalog_unique_field(&tx, &catalog)?;
            enrich::advance(&tx, &catalog, unix_ms_now())?;
            let (id, stored) = find_item(&tx, &catalog, &item)?;
            let old_key = tx.query_row(
                "SELECT unique_value FROM rastro_items WHERE id = ?1",
                [id],
                |row| row.get::<_, String>(0),
            )?;
            let fields = changes;
            let key = unique_key(fields.get(&unique_field)).ok_or_else(|| {
                unprocessable(format!(
                    "{unique_field} is required: PUT replaces the whole item, and the item keeps a non-empty string or number in it"
                ))
            })?;
            let body = Value::Object(fields).to_string();
            let updated = tx.execute(
                "UPDATE rastro_items SET unique_value = ?1, body = ?2 WHERE id = ?3",
                params![key, body, id],
            );
            if let Err(rusqlite::Error::SqliteFailure(err, _)) = &updated {
                if err.code == rusqlite::ErrorCode::ConstraintViolation {
                    return Err(Fail::new(StatusCode::CONFLICT,
                        format!("another item already has {unique_field} = {key}"),
                    ));
                }
            }
            updated?;
            let mut changes = Changes::for_catalog(&tx, &catalog)?;
            let (before, after) = (render_item(id, &stored), render_item(id, &body));
            if key == old_key {
                changes.note(&key, Some(before), Some(after.clone()));
            } else {
                // catalogian keys rows by the unique field: a new key is a row that went
                // away and one that appeared.
                changes.note(&old_key, Some(before), None);
                changes.note(&key, None, Some(after.clone()));
            }
            record_change(&tx, changes)?;
            tx.commit()?;
            Ok(after)
        })
        .await??;
    Ok(json_response(body))
}

/// POST bulk: upsert by `unique_field`; an item without it counts as failed.
pub async fn bulk_upsert(
    State(shared): State<Arc<Shared>>,
    Path(catalog): Path<String>,
    body: Bytes,
) -> Result<Response, Fail> {
    let Value::Object(mut body) = parse_body(&body)? else {
        return Err(unprocessable("the body must be a JSON object"));
    };
    let Some(Value::Array(items)) = body.remove("items") else {
        return Err(unprocessable("items is required and must be an array"));
    };
    shared.log_bulk("rastro", items.len());
    if items.len() > MAX_BULK_ITEMS {
        return Err(Fail::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "at most {MAX_BULK_ITEMS} items per request, got {}",
                items.len()
            ),
        ));
    }
    let Some(Value::String(unique_field)) = body.remove("unique_field") else {
        return Err(unprocessable(
            "unique_field is required and must be a string",
        ));
    };
    let counts = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let catalog_field = catalog_unique_field(&tx, &catalog)?;
            enrich::advance(&tx, &catalog, unix_ms_now())?;
            if catalog_field != unique_field {
                return Err(unprocessable(format!(
                    "unique_field '{unique_field}' does not match the catalog's unique_id_field '{catalog_field}'"
                )));
            }
            check_item_types(&tx, &catalog, &unique_field, &items)?;
            let counts = upsert(&tx, &catalog, &unique_field, items)?;
            tx.commit()?;
            Ok(json!({ "created": counts.created, "updated": counts.updated, "failed": counts.failed }))
        })
        .await??;
    Ok(Json(counts).into_response())
}

/// Like a validating API server, one item of the wrong type refuses the whole request.
fn check_item_types(
    tx: &Transaction,
    catalog: &str,
    unique_field: &str,
    items: &[Value],
) -> Result<(), Fail> {
    let schema = catalog_schema(tx, catalog)?;
    for (index, item) in items.iter().enumerate() {
        if let Value::Object(fields) = item {
            check_types(&schema, fields).map_err(|why| {
                let key = unique_key(fields.get(unique_field)).unwrap_or_default();
                unprocessable(format!("items[{index}] ({unique_field} {key}): {why}"))
            })?;
        }
    }
    Ok(())
}

#[derive(Default)]
struct UpsertCounts {
    created: u64,
    updated: u64,
    failed: u64,
}

/// Inserts new items and merges the fields of known ones, noting each change for the feed.
fn upsert(
    tx: &Transaction,
    catalog: &str,
    unique_field: &str,
    items: Vec<Value>,
) -> Result<UpsertCounts, Fail> {
    let mut counts = UpsertCounts::default();
    let mut changes = Changes::for_catalog(tx, catalog)?;
    let mut find = tx.prepare_cached(
        "SELECT id, body FROM rastro_items WHERE catalog_id = ?1 AND unique_value = ?2",
    )?;
    // New items are the common case: try the insert first and look the item up only when it
    // is already there (one index probe instead of two).
    let mut insert = tx.prepare_cached(
        "INSERT INTO rastro_items (catalog_id, unique_value, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (catalog_id, unique_value) DO NOTHING",
    )?;
    let mut update = tx.prepare_cached("UPDATE rastro_items SET body = ?1 WHERE id = ?2")?;
    for item in items {
        let Value::Object(mut fields) = item else {
            counts.failed += 1;
            continue;
        };
        let Some(key) = unique_key(fields.get(unique_field)) else {
            counts.failed += 1;
            continue;
        };
        fields.shift_remove("id");
        let body = serde_json::to_string(&fields).unwrap_or_default();
        if insert.execute(params![catalog, key, body])? == 1 {
            if changes.is_tracking() {
                changes.note(&key, None, Some(render_item(tx.last_insert_rowid(), &body)));
            }
            counts.created += 1;
            continue;
        }
        // The insert met this item, so it is there.
        let (id, stored): (i64, String) =
            find.query_row(params![catalog, key], |row| Ok((row.get(0)?, row.get(1)?)))?;
        let mut merged: Map<String, Value> = serde_json::from_str(&stored).unwrap_or_default();
        merged.extend(fields);
        let body = Value::Object(merged).to_string();
        // The vendor counts a re-sent item as updated; the feed sees that it did not change.
        if body != stored {
            update.execute(params![body, id])?;
            if changes.is_tracking() {
                let (before, after) = (render_item(id, &stored), render_item(id, &body));
                changes.note(&key, Some(before), Some(after));
            }
        }
        counts.updated += 1;
    }
    drop((find, insert, update));
    record_change(tx, changes)?;
    Ok(counts)
}
