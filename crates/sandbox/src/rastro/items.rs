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
    catalog_schema, catalog_unique_field, check_types, count_items, find_item, item_count,
    render_item, unique_key,
};
use crate::changes::{record_change, Changes};
use crate::error::{unprocessable, Fail};
use crate::paging::PageEnds;
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

    /// No search and no sort: the catalog in id order.
    fn is_plain(&self) -> bool {
        self.search.is_none() && self.sort.is_none()
    }

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
    let state = shared.clone();
    let body = shared
        .db
        .call(move |conn| -> Result<String, Fail> {
            enrich::catch_up(conn, &catalog)?;
            // One read transaction, so `total` and the page agree.
            let tx = conn.transaction()?;
            catalog_unique_field(&tx, &catalog)?;
            let mut out = String::with_capacity(64 + limit as usize * 256);
            out.push_str("{\"items\":[");
            let total = if filter.is_plain() {
                plain_page(&tx, &state.page_ends, &catalog, (offset, limit), &mut out)?
            } else {
                filtered_page(&tx, &filter, &catalog, (offset, limit), &mut out)?
            };
            out.push_str(&format!("],\"total\":{total},\"page\":{page}}}"));
            Ok(out)
        })
        .await??;
    Ok(json_response(body))
}

/// The page after a known item: a seek on the (catalog_id, id) index.
const PAGE_AFTER: &str = "SELECT id, body FROM rastro_items WHERE catalog_id = ?1 AND id > ?2
    ORDER BY id LIMIT ?3";
/// The page at an offset no page ended at: the rows before it are stepped over.
const PAGE_AT: &str = "SELECT id, body FROM rastro_items WHERE catalog_id = ?1
    ORDER BY id LIMIT ?2 OFFSET ?3";

/// A page in id order with no search: a seek after the previous page's last item when that
/// page was served here (or at offset 0), so reading a whole catalog is linear in its size.
/// The total is the kept count. Returns it.
fn plain_page(
    tx: &Transaction,
    page_ends: &PageEnds,
    catalog: &str,
    (offset, limit): (u64, u64),
    out: &mut String,
) -> Result<i64, Fail> {
    let (total, removed) = item_count(tx, catalog)?;
    let list = format!("rastro:{catalog}");
    // Items only ever join a catalog at its end (ids grow), so positions hold until one goes.
    let after = match offset {
        0 => Some(0),
        _ => page_ends.find(&list, offset, removed),
    };
    let mut stmt;
    let rows = match after {
        Some(after) => {
            stmt = tx.prepare_cached(PAGE_AFTER)?;
            stmt.query(params![catalog, after, limit as i64])?
        }
        None => {
            stmt = tx.prepare_cached(PAGE_AT)?;
            let skip = offset.min(i64::MAX as u64) as i64;
            stmt.query(params![catalog, limit as i64, skip])?
        }
    };
    let last = write_items(rows, out)?;
    if let Some((shown, last_id)) = last {
        page_ends.remember(&list, offset.saturating_add(shown), removed, last_id);
    }
    Ok(total)
}

/// A page with a search or a sort: counted and skipped to, as the filter needs.
fn filtered_page(
    tx: &Transaction,
    filter: &ItemFilter,
    catalog: &str,
    (offset, limit): (u64, u64),
    out: &mut String,
) -> Result<i64, Fail> {
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
    let rows = match filter.sort_path() {
        Some(sort_path) => stmt.query(params![
            catalog,
            limit as i64,
            offset,
            filter.search,
            sort_path
        ])?,
        None => stmt.query(params![catalog, limit as i64, offset, filter.search])?,
    };
    write_items(rows, out)?;
    Ok(total)
}

/// Writes each (id, body) row as an item, comma-separated; how many, and the last id.
fn write_items(mut rows: rusqlite::Rows, out: &mut String) -> rusqlite::Result<Option<(u64, i64)>> {
    let mut last = None;
    let mut shown = 0;
    while let Some(row) = rows.next()? {
        if shown > 0 {
            out.push(',');
        }
        let id: i64 = row.get(0)?;
        out.push_str(&render_item(id, row.get_ref(1)?.as_str()?));
        shown += 1;
        last = Some((shown, id));
    }
    Ok(last)
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
                changes.note(id, &key, Some(before), Some(after.clone()));
            } else {
                // catalogian keys rows by the unique field: a new key is a row that went
                // away and one that appeared.
                changes.note(id, &old_key, Some(before), None);
                changes.note(id, &key, None, Some(after.clone()));
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
                let id = tx.last_insert_rowid();
                changes.note(id, &key, None, Some(render_item(id, &body)));
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
                changes.note(id, &key, Some(before), Some(after));
            }
        }
        counts.updated += 1;
    }
    drop((find, insert, update));
    if counts.created > 0 {
        count_items(tx, catalog, counts.created as i64, 0)?;
    }
    record_change(tx, changes)?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, StatementStatus};

    const ITEMS: u64 = 20_000;
    const LIMIT: u64 = 500;

    /// Catalog `c` with ITEMS items, and another catalog's items between them, so ids are not
    /// positions.
    fn catalog() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::rastro::SCHEMA).unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO rastro_items (catalog_id, unique_value, body) VALUES (?1, ?2, ?3)",
                )
                .unwrap();
            for n in 0..ITEMS {
                let body = format!("{{\"n\":{n}}}");
                insert.execute(params!["c", n.to_string(), body]).unwrap();
                if n % 3 == 0 {
                    insert.execute(params!["o", n.to_string(), "{}"]).unwrap();
                }
            }
        }
        count_items(&tx, "c", ITEMS as i64, 0).unwrap();
        tx.commit().unwrap();
        conn
    }

    /// The VM steps `sql` took since last asked.
    fn steps(tx: &Transaction, sql: &str) -> i32 {
        tx.prepare_cached(sql)
            .unwrap()
            .reset_status(StatementStatus::VmStep)
    }

    fn page(tx: &Transaction, ends: &PageEnds, offset: u64) -> (i64, Vec<u64>) {
        let mut out = String::from("[");
        let total = plain_page(tx, ends, "c", (offset, LIMIT), &mut out).unwrap();
        out.push(']');
        let items: Vec<Value> = serde_json::from_str(&out).unwrap();
        let numbers = items
            .iter()
            .map(|item| item["n"].as_u64().unwrap())
            .collect();
        (total, numbers)
    }

    #[test]
    fn reading_a_catalog_page_by_page_never_steps_over_the_rows_before_a_page() {
        let mut conn = catalog();
        let tx = conn.transaction().unwrap();
        let ends = PageEnds::default();
        let mut seen = Vec::new();
        let mut work = Vec::new();
        for offset in (0..ITEMS).step_by(LIMIT as usize) {
            let (total, numbers) = page(&tx, &ends, offset);
            assert_eq!(total, ITEMS as i64);
            seen.extend(numbers);
            work.push(steps(&tx, PAGE_AFTER));
            assert_eq!(steps(&tx, PAGE_AT), 0, "the page at {offset} skipped rows");
        }
        assert_eq!(seen, (0..ITEMS).collect::<Vec<_>>());
        let (first, last) = (work[0], work[work.len() - 1]);
        assert!(
            last <= first * 2,
            "the last page took {last} steps, the first {first}"
        );

        // Out of order, an offset is stepped to: the check above can tell the two apart.
        let (_, numbers) = page(&tx, &PageEnds::default(), ITEMS - LIMIT);
        assert_eq!(numbers, (ITEMS - LIMIT..ITEMS).collect::<Vec<_>>());
        let skipping = steps(&tx, PAGE_AT);
        assert!(skipping > first * 10, "{skipping} steps against {first}");
    }

    #[test]
    fn a_remembered_page_end_is_dropped_once_an_item_went_away() {
        let mut conn = catalog();
        let tx = conn.transaction().unwrap();
        let ends = PageEnds::default();
        page(&tx, &ends, 0);
        tx.execute(
            "DELETE FROM rastro_items WHERE catalog_id = 'c' AND body = '{\"n\":3}'",
            [],
        )
        .unwrap();
        count_items(&tx, "c", 0, 1).unwrap();
        let (total, numbers) = page(&tx, &ends, LIMIT);
        assert_eq!(total, ITEMS as i64 - 1);
        assert_eq!(
            numbers[0],
            LIMIT + 1,
            "item 3 went, so every later one moved up"
        );
        assert!(steps(&tx, PAGE_AT) > 0);
    }
}
