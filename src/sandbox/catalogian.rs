//! catalogian emulation (vendors/catalogian.txt) under `/catalogian`: sources, their delta
//! events and the events' rows. The demo source `src_demo` follows rastro's `cat_demo`: the
//! rastro handlers (and enrichment) call [`record_change`] inside their own transaction, so an
//! event exists exactly when the change it describes does. Errors use the documented
//! `{"error": "Human-readable message"}` body.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::{json, Value};

use super::{enrich, rastro, stable_hash, unix_ms_now, Shared, SANDBOX_READONLY_TOKEN};

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
CREATE TABLE IF NOT EXISTS catalogian_rows (
    event_seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    key TEXT NOT NULL,
    change_type TEXT NOT NULL,
    before TEXT,
    after TEXT,
    PRIMARY KEY (event_seq, n)
);
CREATE INDEX IF NOT EXISTS catalogian_rows_type ON catalogian_rows (event_seq, change_type, n);
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
    tx.execute(
        "INSERT INTO catalogian_sources (id, slug, name, type, status, key_field, format, url,
             follows_catalog, last_checked_ms, check_interval_minutes)
         VALUES (?1, ?2, 'Demo catalog feed', 'http', 'active', 'sku', 'json', ?3, ?4, ?5, 60)",
        params![
            DEMO_SOURCE,
            DEMO_SLUG,
            format!("sandbox://rastro/{}", rastro::DEMO_CATALOG),
            rastro::DEMO_CATALOG,
            unix_ms_now(),
        ],
    )?;
    Ok(())
}

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DELETE FROM catalogian_rows; DELETE FROM catalogian_events; DELETE FROM catalogian_sources;",
    )
}

// ---- recording changes (called by the rastro emulation)

/// One item's change, the item shown as the API shows it (JSON with its id): `before` is None
/// for a new item, `after` None for a deleted one.
struct Change {
    key: String,
    before: Option<String>,
    after: Option<String>,
}

impl Change {
    fn change_type(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "new",
            (_, None) => "deleted",
            _ => "changed",
        }
    }
}

/// The changes one request makes to a catalog, merged per key: an item touched twice in one
/// request is one row, with its first `before` and its last `after`. When no source follows
/// the catalog it notes nothing, so other catalogs pay nothing for the feature.
pub struct Changes {
    catalog: String,
    tracking: bool,
    list: Vec<Change>,
    index: HashMap<String, usize>,
}

impl Changes {
    pub fn for_catalog(conn: &Connection, catalog: &str) -> rusqlite::Result<Changes> {
        let tracking = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM catalogian_sources WHERE follows_catalog = ?1)",
            [catalog],
            |row| row.get(0),
        )?;
        Ok(Changes {
            catalog: catalog.to_string(),
            tracking,
            list: Vec::new(),
            index: HashMap::new(),
        })
    }

    pub fn is_tracking(&self) -> bool {
        self.tracking
    }

    pub fn note(&mut self, key: &str, before: Option<String>, after: Option<String>) {
        if !self.tracking {
            return;
        }
        match self.index.get(key) {
            Some(&at) => self.list[at].after = after,
            None => {
                self.index.insert(key.to_string(), self.list.len());
                self.list.push(Change {
                    key: key.to_string(),
                    before,
                    after,
                });
            }
        }
    }
}

/// Writes one delta event (with its rows) for every source that follows the changed catalog,
/// in the caller's transaction. An item whose stored body ends up as it was is unchanged,
/// and a request that changes nothing makes no event.
pub fn record_change(tx: &Transaction, changes: Changes) -> rusqlite::Result<()> {
    if !changes.tracking {
        return Ok(());
    }
    let rows: Vec<Change> = changes
        .list
        .into_iter()
        .filter(|change| change.before != change.after)
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let count = |kind: &str| rows.iter().filter(|c| c.change_type() == kind).count() as i64;
    let (new, changed, deleted) = (count("new"), count("changed"), count("deleted"));
    let total: i64 = tx.query_row(
        "SELECT COUNT(*) FROM rastro_items WHERE catalog_id = ?1",
        [&changes.catalog],
        |row| row.get(0),
    )?;
    let sources: Vec<String> = {
        let mut stmt =
            tx.prepare_cached("SELECT id FROM catalogian_sources WHERE follows_catalog = ?1")?;
        let ids = stmt.query_map([&changes.catalog], |row| row.get(0))?;
        ids.collect::<Result<_, _>>()?
    };
    let now = unix_ms_now();
    for source in sources {
        // vendors/catalogian.txt filters by `since` on detectedAt: keep it strictly increasing
        // per source, even for two events in the same millisecond.
        let last: Option<i64> = tx.query_row(
            "SELECT MAX(detected_ms) FROM catalogian_events WHERE source_id = ?1",
            [&source],
            |row| row.get(0),
        )?;
        let detected = last.map_or(now, |last| now.max(last + 1));
        tx.execute(
            "INSERT INTO catalogian_events (source_id, detected_ms, new_count, changed_count,
                 deleted_count, unchanged_count, total_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                source,
                detected,
                new,
                changed,
                deleted,
                (total - new - changed).max(0),
                total
            ],
        )?;
        let seq = tx.last_insert_rowid();
        let mut insert = tx.prepare_cached(
            "INSERT INTO catalogian_rows (event_seq, n, key, change_type, before, after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (n, row) in rows.iter().enumerate() {
            insert.execute(params![
                seq,
                n as i64,
                row.key,
                row.change_type(),
                row.before,
                row.after
            ])?;
        }
        tx.execute(
            "UPDATE catalogian_sources SET last_checked_ms = ?1 WHERE id = ?2",
            params![detected, source],
        )?;
    }
    Ok(())
}

// ---- the API

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/sources", get(list_sources))
        .route("/v1/sources/{source}/delta", get(list_events))
        .route("/v1/sources/{source}/delta/latest", get(latest_event))
        .route("/v1/sources/{source}/delta/{event}/rows", get(list_rows))
        .route_layer(middleware::from_fn_with_state(shared.clone(), require_key))
        .with_state(shared)
}

/// An error response in catalogian's shape.
#[derive(Debug)]
struct Fail(StatusCode, String);

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(err: rusqlite::Error) -> Self {
        Fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("database error: {err}"),
        )
    }
}

impl From<anyhow::Error> for Fail {
    fn from(err: anyhow::Error) -> Self {
        Fail(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
    }
}

fn bad_request(message: impl Into<String>) -> Fail {
    Fail(StatusCode::BAD_REQUEST, message.into())
}

/// What the request's API key may do (vendors/catalogian.txt, "Scopes").
#[derive(Clone, Debug)]
struct Key {
    /// The `read:rows` scope.
    rows: bool,
    /// A source-scoped key's source.
    source: Option<&'static str>,
}

fn key_for(shared: &Shared, bearer: &str) -> Option<Key> {
    if bearer == shared.token {
        Some(Key {
            rows: true,
            source: None,
        })
    } else if bearer == SANDBOX_READONLY_TOKEN {
        Some(Key {
            rows: false,
            source: None,
        })
    } else if bearer == DEMO_SOURCE_KEY {
        Some(Key {
            rows: false,
            source: Some(DEMO_SOURCE),
        })
    } else {
        None
    }
}

async fn require_key(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let key = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|bearer| key_for(&shared, bearer));
    let Some(key) = key else {
        return Fail(
            StatusCode::UNAUTHORIZED,
            "Unauthorized — missing or invalid API key".into(),
        )
        .into_response();
    };
    request.extensions_mut().insert(key);
    next.run(request).await
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
        Fail(
            StatusCode::NOT_FOUND,
            format!("Not Found — source '{wanted}' doesn't exist"),
        )
    })
}

/// A followed catalog's running enrichment jobs are brought up to date first, so a feed
/// reader sees their writes without touching rastro (the source is "checked").
fn catch_up(conn: &mut Connection, source: &Source) -> Result<(), Fail> {
    if let Some(catalog) = &source.follows {
        enrich::catch_up(conn, catalog)?;
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
                Fail(
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
        return Err(Fail(
            StatusCode::FORBIDDEN,
            "Forbidden — API key lacks required scope read:rows".into(),
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
                Fail(
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
            let mut rows = Vec::new();
            let mut last = after;
            let mut has_more = false;
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT n, key, change_type, before, after FROM catalogian_rows
                     WHERE event_seq = ?1 AND n > ?2 AND (?3 IS NULL OR change_type = ?3)
                     ORDER BY n LIMIT ?4",
                )?;
                let mut found = stmt.query(params![seq, after, change_type, limit as i64 + 1])?;
                while let Some(row) = found.next()? {
                    if rows.len() as u64 == limit {
                        has_more = true;
                        break;
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
            }
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

/// vendors/catalogian.txt shows times as `2026-03-08T20:00:00.000Z`.
pub(super) fn rfc3339_ms(ms: i64) -> String {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        day_secs / 3600,
        day_secs % 3600 / 60,
        day_secs % 60
    )
}

/// `since` as unix ms: `YYYY-MM-DD`, optionally `THH:MM[:SS[.fff]]` and a zone (`Z` or
/// `±HH[:MM]`; none means UTC). Fractions below a millisecond are dropped.
fn parse_iso8601_ms(raw: &str) -> Option<i64> {
    let bytes = raw.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = bytes.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    let mut at = 10;
    if matches!(bytes.get(at), Some(b'T' | b't' | b' ')) {
        let (hour, minute) = (digits(at + 1, 2)?, digits(at + 4, 2)?);
        if bytes.get(at + 3) != Some(&b':') || hour > 23 || minute > 59 {
            return None;
        }
        ms += (hour * 3600 + minute * 60) * 1000;
        at += 6;
        if bytes.get(at) == Some(&b':') {
            let second = digits(at + 1, 2)?;
            if second > 60 {
                return None;
            }
            ms += second * 1000;
            at += 3;
            if matches!(bytes.get(at), Some(b'.' | b',')) {
                let start = at + 1;
                at = start;
                while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                    at += 1;
                }
                if at == start {
                    return None;
                }
                let mut fraction: i64 = 0;
                for position in 0..3 {
                    let digit = bytes
                        .get(start + position)
                        .filter(|_| start + position < at);
                    fraction = fraction * 10 + digit.map_or(0, |d| i64::from(d - b'0'));
                }
                ms += fraction;
            }
        }
        match bytes.get(at) {
            None => {}
            Some(b'Z' | b'z') => at += 1,
            Some(&sign @ (b'+' | b'-')) => {
                let hours = digits(at + 1, 2)?;
                at += 3;
                let minutes = match bytes.get(at) {
                    Some(b':') => {
                        at += 3;
                        digits(at - 2, 2)?
                    }
                    Some(_) => {
                        at += 2;
                        digits(at - 2, 2)?
                    }
                    None => 0,
                };
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let offset = (hours * 60 + minutes) * 60_000;
                ms -= if sign == b'+' { offset } else { -offset };
            }
            Some(_) => return None,
        }
    }
    (at == bytes.len()).then_some(ms)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_with_milliseconds_and_parse_back() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_773_000_000_123), "2026-03-08T20:00:00.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for ms in [0, 1, 951_782_400_000, 1_773_000_000_123, 4_102_444_799_999] {
            assert_eq!(parse_iso8601_ms(&rfc3339_ms(ms)), Some(ms), "{ms}");
        }
    }

    #[test]
    fn since_takes_the_usual_iso_8601_forms() {
        let at = 1_773_000_000_000;
        for raw in [
            "2026-03-08T20:00:00.000Z",
            "2026-03-08T20:00:00Z",
            "2026-03-08T20:00Z",
            "2026-03-08 20:00:00",
            "2026-03-08T21:00:00+01:00",
            "2026-03-08T21:30:00+0130",
            "2026-03-08T18:00:00-02",
            "2026-03-08T20:00:00.0004Z",
        ] {
            assert_eq!(parse_iso8601_ms(raw), Some(at), "{raw}");
        }
        assert_eq!(parse_iso8601_ms("2026-03-08T20:00:00.5Z"), Some(at + 500));
        assert_eq!(parse_iso8601_ms("2026-03-08"), Some(at - 20 * 3_600_000));
        for raw in [
            "",
            "yesterday",
            "2026-02-30",
            "2026-13-01T00:00:00Z",
            "2026-03-08T24:00:00Z",
            "2026-03-08T20:00:00.Z",
            "2026-03-08T20:00:00Zjunk",
            "1773000000",
        ] {
            assert_eq!(parse_iso8601_ms(raw), None, "{raw}");
        }
    }

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
        changes.note("A", Some("{\"a\":1}".into()), Some("{\"a\":2}".into()));
        changes.note("A", None, Some("{\"a\":1}".into()));
        record_change(&tx, changes).unwrap();
        let events: i64 = tx
            .query_row("SELECT COUNT(*) FROM catalogian_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 0, "A ended as it began");

        let mut changes = Changes::for_catalog(&tx, rastro::DEMO_CATALOG).unwrap();
        changes.note("N", None, Some("{\"n\":1}".into()));
        changes.note("N", Some("{\"n\":1}".into()), Some("{\"n\":2}".into()));
        changes.note("C", Some("{\"c\":1}".into()), Some("{\"c\":2}".into()));
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
        other.note("X", None, Some("{}".into()));
        record_change(&tx, other).unwrap();
        let events: i64 = tx
            .query_row("SELECT COUNT(*) FROM catalogian_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 1);
    }
}
