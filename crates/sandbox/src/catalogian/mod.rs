//! catalogian emulation (vendors/catalogian.txt) under `/catalogian`: sources, their delta
//! events and the events' rows. The demo source `src_demo` follows rastro's `cat_demo`: the
//! rastro handlers (and enrichment) call [`record_change`] inside their own transaction, so an
//! event exists exactly when the change it describes does. Errors use the documented
//! `{"error": "Human-readable message"}` body; every reply carries the documented rate-limit
//! headers (`budget`).

mod budget;
mod snapshots;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::{json, Value};

use catops_spec::VendorKind;
use catops_spec::SANDBOX_READONLY_TOKEN;

use crate::changes;
use crate::emulated::Emulated;
use crate::error::{bad_request, Fail};
use crate::time::{parse_iso8601_ms, rfc3339_ms, unix_ms_now};
use crate::{rastro, stable_hash, RateLimits, Shared};
use budget::Budgets;

/// This vendor's row in the sandbox's registry.
pub const EMULATED: Emulated = Emulated {
    kind: VendorKind::Catalogian,
    prefix: "/catalogian",
    tables: &[SCHEMA],
    seed,
    clear,
    router,
    error_body,
};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS catalogian_sources (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    key_field TEXT NOT NULL,
    format TEXT NOT NULL,
    url TEXT NOT NULL,
    follows_catalog TEXT,
    last_checked_ms INTEGER NOT NULL,
    check_interval_minutes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS catalogian_sources_follows ON catalogian_sources (follows_catalog);
CREATE TABLE IF NOT EXISTS catalogian_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id TEXT NOT NULL,
    detected_ms INTEGER NOT NULL,
    new_count INTEGER NOT NULL,
    changed_count INTEGER NOT NULL,
    deleted_count INTEGER NOT NULL,
    unchanged_count INTEGER NOT NULL,
    total_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS catalogian_events_source ON catalogian_events (source_id, seq);
-- Keyed by its place in the event alone (no rowid: a second copy of the key for each of
-- possibly millions of rows). `after_item`: see crate::changes.
CREATE TABLE IF NOT EXISTS catalogian_rows (
    event_seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    key TEXT NOT NULL,
    change_type TEXT NOT NULL,
    before TEXT,
    after TEXT,
    after_item INTEGER,
    PRIMARY KEY (event_seq, n)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS catalogian_rows_type ON catalogian_rows (event_seq, change_type, n);
CREATE TABLE IF NOT EXISTS catalogian_snapshots (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    total_rows INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS catalogian_snapshots_source ON catalogian_snapshots (source_id, seq);
";

/// SPEC §8: the demo source, slug `demo-feed`, following rastro's `cat_demo`.
pub const DEMO_SOURCE: &str = "src_demo";
const DEMO_SLUG: &str = "demo-feed";
/// vendors/catalogian.txt, "Source-scoped keys": `cat_src_...` keys see only their source.
pub const DEMO_SOURCE_KEY: &str = "cat_src_demo";

/// vendors/catalogian.txt, "Get delta events": limit default 50, max 200; keysLimit default
/// 100, max 1000.
const DEFAULT_EVENTS_LIMIT: u64 = 50;
const MAX_EVENTS_LIMIT: u64 = 200;
const DEFAULT_KEYS_LIMIT: u64 = 100;
const MAX_KEYS_LIMIT: u64 = 1000;
/// catalogian.com/docs/pagination: delta rows "default 50, max 200".
const DEFAULT_ROWS_LIMIT: u64 = 50;
const MAX_ROWS_LIMIT: u64 = 200;
const CHANGE_TYPES: [&str; 3] = ["new", "changed", "deleted"];

pub fn seed(tx: &Transaction) -> rusqlite::Result<()> {
    let now = unix_ms_now();
    tx.execute(
        "INSERT INTO catalogian_sources (id, slug, name, type, status, key_field, format, url,
             follows_catalog, last_checked_ms, check_interval_minutes)
         VALUES (?1, ?2, 'Demo catalog feed', 'http', 'active', 'sku', 'json', ?3, ?4, ?5, 60)",
        params![
            DEMO_SOURCE,
            DEMO_SLUG,
            format!("sandbox://rastro/{}", rastro::DEMO_CATALOG),
            rastro::DEMO_CATALOG,
            now,
        ],
    )?;
    // The first check of the source: its catalog as seeded (rastro's rows come first).
    tx.execute(
        "INSERT INTO catalogian_snapshots (source_id, created_ms, total_rows)
         SELECT ?1, ?2, COUNT(*) FROM rastro_items WHERE catalog_id = ?3",
        params![DEMO_SOURCE, now, rastro::DEMO_CATALOG],
    )?;
    Ok(())
}

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DELETE FROM catalogian_rows; DELETE FROM catalogian_events;
         DELETE FROM catalogian_snapshots; DELETE FROM catalogian_sources;",
    )
}

// ---- the API

/// catalogian: `{"error": "Human-readable message"}`.
pub fn error_body(fail: &Fail) -> Value {
    json!({ "error": fail.message })
}

/// What the gate in front of every route needs: the keys, and each caller's budget.
struct Gate {
    shared: Arc<Shared>,
    budgets: Budgets,
}

pub fn router(shared: Arc<Shared>) -> Router {
    let gate = Arc::new(Gate {
        budgets: Budgets::new(shared.rate_limits == RateLimits::On),
        shared: shared.clone(),
    });
    Router::new()
        .route("/v1/sources", get(list_sources))
        .route("/v1/sources/{source}/delta", get(list_events))
        .route("/v1/sources/{source}/delta/latest", get(latest_event))
        .route("/v1/sources/{source}/delta/{event}/rows", get(list_rows))
        .route(
            "/v1/sources/{source}/snapshots",
            get(snapshots::list_snapshots),
        )
        .route(
            "/v1/sources/{source}/snapshot-rows",
            get(snapshots::list_snapshot_rows),
        )
        .route_layer(middleware::from_fn_with_state(gate, require_key))
        .with_state(shared)
}

/// What the request's API key may do (vendors/catalogian.txt, "Scopes").
#[derive(Clone, Debug)]
struct Key {
    /// Whose budget the request counts against.
    label: &'static str,
    /// The `read:rows` scope.
    rows: bool,
    /// A source-scoped key's source.
    source: Option<&'static str>,
}

fn key_for(shared: &Shared, bearer: &str) -> Option<Key> {
    if bearer == shared.token {
        Some(Key {
            label: "account",
            rows: true,
            source: None,
        })
    } else if bearer == SANDBOX_READONLY_TOKEN {
        Some(Key {
            label: "readonly",
            rows: false,
            source: None,
        })
    } else if bearer == DEMO_SOURCE_KEY {
        Some(Key {
            label: "source",
            rows: false,
            source: Some(DEMO_SOURCE),
        })
    } else {
        None
    }
}

/// Checks the key and counts the request against its caller's budget (a request without a
/// valid key counts against the per-IP one); every reply, refusals included, says what is left.
async fn require_key(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> Response {
    let key =
        crate::auth::bearer(request.headers()).and_then(|bearer| key_for(&gate.shared, bearer));
    let (caller, limit) = match &key {
        Some(key) => (key.label, budget::PER_KEY),
        None => ("ip", budget::PER_IP),
    };
    let verdict = gate.budgets.take(caller, limit, unix_ms_now());
    let mut response = match (verdict.and_then(|v| v.refusal()), key) {
        (Some(refusal), _) => refusal.into_response(),
        (None, None) => Fail::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized — missing or invalid API key",
        )
        .into_response(),
        (None, Some(key)) => {
            request.extensions_mut().insert(key);
            next.run(request).await
        }
    };
    if let Some(verdict) = verdict {
        verdict.add_headers(response.headers_mut());
    }
    response
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn query_params(query: Params) -> Result<HashMap<String, String>, Fail> {
    query
        .map(|Query(query)| query)
        .map_err(|err| bad_request(format!("invalid query string: {err}")))
}

/// A numeric parameter within `min..=max`, `default` when absent.
fn number(
    query: &HashMap<String, String>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, Fail> {
    let Some(raw) = query.get(name) else {
        return Ok(default);
    };
    match raw.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad_request(format!(
            "{name} must be an integer from {min} to {max}, got '{raw}'"
        ))),
    }
}

/// A source row, as listed and as resolved from an `:id` (its id or its slug).
struct Source {
    id: String,
    follows: Option<String>,
    json: Value,
}

fn source_from_row(row: &rusqlite::Row) -> rusqlite::Result<Source> {
    let id: String = row.get(0)?;
    let json = json!({
        "id": id,
        "slug": row.get::<_, String>(1)?,
        "name": row.get::<_, String>(2)?,
        "type": row.get::<_, String>(3)?,
        "status": row.get::<_, String>(4)?,
        "keyField": row.get::<_, String>(5)?,
        "format": row.get::<_, String>(6)?,
        "url": row.get::<_, String>(7)?,
        "lastCheckedAt": rfc3339_ms(row.get(9)?),
        "checkIntervalMinutes": row.get::<_, i64>(10)?,
    });
    Ok(Source {
        id,
        follows: row.get(8)?,
        json,
    })
}

const SOURCE_COLUMNS: &str = "id, slug, name, type, status, key_field, format, url,
    follows_catalog, last_checked_ms, check_interval_minutes";

/// Finds a source by id or slug. A source-scoped key sees no other source, as if there were
/// none (vendors/catalogian.txt: the key "automatically resolves to its source").
fn resolve_source(conn: &Connection, key: &Key, wanted: &str) -> Result<Source, Fail> {
    let source = conn
        .query_row(
            &format!("SELECT {SOURCE_COLUMNS} FROM catalogian_sources WHERE id = ?1 OR slug = ?1"),
            [wanted],
            source_from_row,
        )
        .optional()?
        .filter(|source| key.source.is_none_or(|own| own == source.id));
    source.ok_or_else(|| {
        Fail::new(
            StatusCode::NOT_FOUND,
            format!("Not Found — source '{wanted}' doesn't exist"),
        )
    })
}

/// A followed catalog's running enrichment jobs are brought up to date first, so a feed
/// reader sees their writes without touching rastro (the source is "checked").
fn catch_up(conn: &mut Connection, source: &Source) -> Result<(), Fail> {
    if let Some(catalog) = &source.follows {
        rastro::enrich::catch_up(conn, catalog)?;
    }
    Ok(())
}

async fn list_sources(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Key>,
) -> Result<Response, Fail> {
    let sources = shared
        .db
        .call(move |conn| -> Result<Vec<Value>, Fail> {
            let mut stmt = conn.prepare(&format!(
                "SELECT {SOURCE_COLUMNS} FROM catalogian_sources ORDER BY rowid"
            ))?;
            let rows = stmt.query_map([], source_from_row)?;
            let mut out = Vec::new();
            for source in rows {
                let source = source?;
                if key.source.is_none_or(|own| own == source.id) {
                    out.push(source.json);
                }
            }
            Ok(out)
        })
        .await??;
    Ok(Json(sources).into_response())
}

/// `GET /v1/sources/:id/delta`: events oldest first, after `since` and after the cursor.
async fn list_events(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Key>,
    Path(wanted): Path<String>,
    query: Params,
) -> Result<Response, Fail> {
    let query = query_params(query)?;
    let limit = number(&query, "limit", DEFAULT_EVENTS_LIMIT, 1, MAX_EVENTS_LIMIT)?;
    let keys_limit = number(&query, "keysLimit", DEFAULT_KEYS_LIMIT, 0, MAX_KEYS_LIMIT)?;
    let since = match query.get("since") {
        Some(raw) => parse_iso8601_ms(raw).ok_or_else(|| {
            bad_request(format!(
                "since must be an ISO 8601 timestamp such as 2026-03-08T20:00:00.000Z, got '{raw}'"
            ))
        })?,
        None => i64::MIN,
    };
    let cursor = query.get("cursor").cloned();
    let body = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let source = resolve_source(conn, &key, &wanted)?;
            catch_up(conn, &source)?;
            let scope = format!("events:{}", source.id);
            let after = match &cursor {
                Some(raw) => decode_cursor(&scope, raw)
                    .ok_or_else(|| bad_request(format!("invalid cursor '{raw}'")))?,
                None => 0,
            };
            let tx = conn.transaction()?;
            let mut seqs: Vec<i64> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT seq FROM catalogian_events
                     WHERE source_id = ?1 AND seq > ?2 AND detected_ms > ?3
                     ORDER BY seq LIMIT ?4",
                )?;
                let rows = stmt
                    .query_map(params![source.id, after, since, limit as i64 + 1], |row| {
                        row.get(0)
                    })?;
                rows.collect::<Result<_, _>>()?
            };
            let has_more = seqs.len() as u64 > limit;
            seqs.truncate(limit as usize);
            let next_cursor = match seqs.last() {
                Some(&last) if has_more => Value::String(encode_cursor(&scope, last)),
                _ => Value::Null,
            };
            let events = seqs
                .iter()
                .map(|&seq| event_json(&tx, seq, keys_limit))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!({
                "sourceId": source.id,
                "count": events.len(),
                "hasMore": has_more,
                "nextCursor": next_cursor,
                "events": events,
            }))
        })
        .await??;
    Ok(Json(body).into_response())
}

/// `GET /v1/sources/:id/delta/latest`: "a single event object, not an array".
async fn latest_event(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Key>,
    Path(wanted): Path<String>,
    query: Params,
) -> Result<Response, Fail> {
    let query = query_params(query)?;
    let keys_limit = number(&query, "keysLimit", DEFAULT_KEYS_LIMIT, 0, MAX_KEYS_LIMIT)?;
    let event = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let source = resolve_source(conn, &key, &wanted)?;
            catch_up(conn, &source)?;
            let tx = conn.transaction()?;
            let seq: Option<i64> = tx.query_row(
                "SELECT MAX(seq) FROM catalogian_events WHERE source_id = ?1",
                [&source.id],
                |row| row.get(0),
            )?;
            let seq = seq.ok_or_else(|| {
                Fail::new(
                    StatusCode::NOT_FOUND,
                    format!("Not Found — source '{wanted}' has no delta events yet"),
                )
            })?;
            Ok(event_json(&tx, seq, keys_limit)?)
        })
        .await??;
    Ok(Json(event).into_response())
}

/// `GET /v1/sources/:id/delta/:deltaEventId/rows`: before/after of each row, in the order
/// the change touched them. Needs `read:rows`.
async fn list_rows(
    State(shared): State<Arc<Shared>>,
    Extension(key): Extension<Key>,
    Path((wanted, event_id)): Path<(String, String)>,
    query: Params,
) -> Result<Response, Fail> {
    if !key.rows {
        return Err(Fail::new(
            StatusCode::FORBIDDEN,
            "Forbidden — API key lacks required scope read:rows",
        ));
    }
    let query = query_params(query)?;
    let limit = number(&query, "limit", DEFAULT_ROWS_LIMIT, 1, MAX_ROWS_LIMIT)?;
    let change_type = match query.get("changeType") {
        Some(kind) if CHANGE_TYPES.contains(&kind.as_str()) => Some(kind.clone()),
        Some(kind) => {
            return Err(bad_request(format!(
                "changeType must be one of new, changed, deleted, got '{kind}'"
            )))
        }
        None => None,
    };
    let cursor = query.get("cursor").cloned();
    let body = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let source = resolve_source(conn, &key, &wanted)?;
            let not_found = || {
                Fail::new(
                    StatusCode::NOT_FOUND,
                    format!("Not Found — delta event '{event_id}' doesn't exist"),
                )
            };
            let seq = parse_event_id(&event_id).ok_or_else(not_found)?;
            let tx = conn.transaction()?;
            tx.query_row(
                "SELECT 1 FROM catalogian_events WHERE seq = ?1 AND source_id = ?2",
                params![seq, source.id],
                |_| Ok(()),
            )
            .optional()?
            .ok_or_else(not_found)?;
            let scope = format!("rows:{event_id}");
            let after = match &cursor {
                Some(raw) => decode_cursor(&scope, raw)
                    .ok_or_else(|| bad_request(format!("invalid cursor '{raw}'")))?,
                None => -1,
            };
            let (rows, last, has_more) = rows_page(&tx, seq, after, change_type.as_deref(), limit)?;
            let next_cursor = if has_more {
                Value::String(encode_cursor(&scope, last))
            } else {
                Value::Null
            };
            Ok(json!({
                "eventId": event_id,
                "count": rows.len(),
                "hasMore": has_more,
                "nextCursor": next_cursor,
                "rows": rows,
            }))
        })
        .await??;
    Ok(Json(body).into_response())
}

/// Up to `limit` rows of event `seq` after row `after`, optionally of one change type; the
/// last row's number, and whether more follow.
fn rows_page(
    tx: &Transaction,
    seq: i64,
    after: i64,
    change_type: Option<&str>,
    limit: u64,
) -> rusqlite::Result<(Vec<Value>, i64, bool)> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT n, key, change_type, before, {} FROM catalogian_rows r
         WHERE event_seq = ?1 AND n > ?2 AND (?3 IS NULL OR change_type = ?3)
         ORDER BY n LIMIT ?4",
        changes::row_after_sql()
    ))?;
    let mut found = stmt.query(params![seq, after, change_type, limit as i64 + 1])?;
    let (mut rows, mut last) = (Vec::new(), after);
    while let Some(row) = found.next()? {
        if rows.len() as u64 == limit {
            return Ok((rows, last, true));
        }
        last = row.get(0)?;
        let item = |index: usize| -> rusqlite::Result<Value> {
            let text: Option<String> = row.get(index)?;
            Ok(text
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or(Value::Null))
        };
        rows.push(json!({
            "key": row.get::<_, String>(1)?,
            "changeType": row.get::<_, String>(2)?,
            "before": item(3)?,
            "after": item(4)?,
        }));
    }
    Ok((rows, last, false))
}

/// One event as the API shows it, each key list cut to `keys_limit` (the counts stay exact).
fn event_json(conn: &Connection, seq: i64, keys_limit: u64) -> rusqlite::Result<Value> {
    let mut event = conn.query_row(
        "SELECT detected_ms, new_count, changed_count, deleted_count, unchanged_count, total_count
         FROM catalogian_events WHERE seq = ?1",
        [seq],
        |row| {
            let (new, changed, deleted): (i64, i64, i64) = (row.get(1)?, row.get(2)?, row.get(3)?);
            Ok(json!({
                "id": event_id(seq),
                "detectedAt": rfc3339_ms(row.get(0)?),
                "newCount": new,
                "changedCount": changed,
                "deletedCount": deleted,
                "unchangedCount": row.get::<_, i64>(4)?,
                "totalCount": row.get::<_, i64>(5)?,
                "isNoChange": new + changed + deleted == 0,
            }))
        },
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT key FROM catalogian_rows WHERE event_seq = ?1 AND change_type = ?2
         ORDER BY n LIMIT ?3",
    )?;
    for (kind, field) in CHANGE_TYPES
        .iter()
        .zip(["newKeys", "changedKeys", "deletedKeys"])
    {
        let keys = stmt.query_map(params![seq, kind, keys_limit as i64], |row| {
            row.get::<_, String>(0)
        })?;
        event[field] = Value::from(keys.collect::<Result<Vec<_>, _>>()?);
    }
    Ok(event)
}

// ---- ids, cursors and timestamps

/// Event ids are `evt_` and the sequence number, zero-padded so they sort as they happened.
fn event_id(seq: i64) -> String {
    format!("evt_{seq:012}")
}

fn parse_event_id(raw: &str) -> Option<i64> {
    let seq: i64 = raw.strip_prefix("evt_")?.parse().ok()?;
    (event_id(seq) == raw).then_some(seq)
}

/// A cursor is the last position returned plus a check over (scope, position), so a cursor
/// from another source, event or a typo is refused instead of silently skipping data. The
/// vendor calls it opaque; clients must not build one.
fn encode_cursor(scope: &str, position: i64) -> String {
    format!("{position:016x}{:08x}", cursor_check(scope, position))
}

fn decode_cursor(scope: &str, raw: &str) -> Option<i64> {
    if raw.len() != 24 || !raw.is_ascii() {
        return None;
    }
    let position = u64::from_str_radix(&raw[..16], 16).ok()? as i64;
    let check = u32::from_str_radix(&raw[16..], 16).ok()?;
    (check == cursor_check(scope, position)).then_some(position)
}

fn cursor_check(scope: &str, position: i64) -> u32 {
    (stable_hash(&["cursor", scope, &position.to_string()]) >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::{record_change, Changes};

    #[test]
    fn cursors_round_trip_only_in_their_own_scope() {
        let cursor = encode_cursor("events:src_demo", 42);
        assert_eq!(decode_cursor("events:src_demo", &cursor), Some(42));
        assert_eq!(decode_cursor("events:src_other", &cursor), None);
        assert_eq!(decode_cursor("rows:evt_000000000001", &cursor), None);
        let mut tampered = cursor.clone();
        tampered.replace_range(15..16, "0");
        assert_eq!(decode_cursor("events:src_demo", &tampered), None);
        for junk in ["", "42", "zzzzzzzzzzzzzzzzzzzzzzzz", "é"] {
            assert_eq!(decode_cursor("events:src_demo", junk), None, "{junk}");
        }
    }

    #[test]
    fn event_ids_are_zero_padded_and_parsed_strictly() {
        assert_eq!(event_id(7), "evt_000000000007");
        assert_eq!(parse_event_id("evt_000000000007"), Some(7));
        assert_eq!(parse_event_id("evt_7"), None);
        assert_eq!(parse_event_id("evt_00000000000x"), None);
        assert_eq!(parse_event_id("000000000007"), None);
    }

    fn demo_db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(rastro::SCHEMA).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let tx = conn.transaction().unwrap();
        rastro::seed(&tx).unwrap();
        seed(&tx).unwrap();
        tx.commit().unwrap();
        conn
    }

    #[test]
    fn changes_merge_per_key_and_unchanged_items_make_no_event() {
        let mut conn = demo_db();
        let tx = conn.transaction().unwrap();
        let mut changes = Changes::for_catalog(&tx, rastro::DEMO_CATALOG).unwrap();
        assert!(changes.is_tracking());
        changes.note(1, "A", Some("{\"a\":1}".into()), Some("{\"a\":2}".into()));
        changes.note(1, "A", None, Some("{\"a\":1}".into()));
        record_change(&tx, changes).unwrap();
        let events: i64 = tx
            .query_row("SELECT COUNT(*) FROM catalogian_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 0, "A ended as it began");

        let mut changes = Changes::for_catalog(&tx, rastro::DEMO_CATALOG).unwrap();
        changes.note(2, "N", None, Some("{\"n\":1}".into()));
        changes.note(2, "N", Some("{\"n\":1}".into()), Some("{\"n\":2}".into()));
        changes.note(3, "C", Some("{\"c\":1}".into()), Some("{\"c\":2}".into()));
        record_change(&tx, changes).unwrap();
        let seq: i64 = tx
            .query_row("SELECT MAX(seq) FROM catalogian_events", [], |r| r.get(0))
            .unwrap();
        let event = event_json(&tx, seq, 100).unwrap();
        assert_eq!(event["newKeys"], json!(["N"]));
        assert_eq!(event["changedKeys"], json!(["C"]));
        assert_eq!(event["totalCount"], 25);
        assert_eq!(event["unchangedCount"], 23);

        let mut other = Changes::for_catalog(&tx, "cat_other").unwrap();
        assert!(!other.is_tracking());
        other.note(4, "X", None, Some("{}".into()));
        record_change(&tx, other).unwrap();
        let events: i64 = tx
            .query_row("SELECT COUNT(*) FROM catalogian_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 1);
    }
}
