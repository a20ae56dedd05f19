//! batch emulation (vendors/batch.txt, VENDOR-APIS.md §2) under `/batch/{version}`: catalogs
//! (`catalogs.rs`: create, list, view, update, remove, and the indexing state of edits) and
//! item edits with the documented item rules, checked against the catalog's fields, the
//! 200-item limit and the token-bucket rate limits. Errors use batch's `Error` schema,
//! `{"error_message": "...", "error_code": "..."}`.

mod catalogs;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use catops_spec::VendorKind;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Map, Value};

use crate::emulated::Emulated;
use crate::error::Fail;
use crate::ratelimit::{self, TokenBucket};
use crate::{RateLimits, Shared, MAX_BODY_BYTES};
use catops_spec::batch::{
    validate_item, ITEMS_PER_SECOND, MAX_ITEMS_PER_REQUEST, REQUESTS_PER_SECOND,
};

/// This vendor's row in the sandbox's registry.
pub const EMULATED: Emulated = Emulated {
    kind: VendorKind::Batch,
    prefix: "/batch/{version}",
    tables: &[SCHEMA, DEMO_FIELDS],
    seed,
    clear,
    router,
    error_body,
};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS batch_catalogs (
    name TEXT PRIMARY KEY,
    created TEXT,
    updated TEXT
);
CREATE TABLE IF NOT EXISTS batch_fields (
    catalog TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    PRIMARY KEY (catalog, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batch_indexing (
    token TEXT PRIMARY KEY,
    catalog TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_items (
    catalog TEXT NOT NULL,
    id TEXT NOT NULL,
    attributes TEXT NOT NULL,
    PRIMARY KEY (catalog, id)
) WITHOUT ROWID;
";

/// `demo`'s fields: those of examples/movies.csv and of the edit-items page's examples, plus a
/// few that imports of products use. A state file from before fields were stored has `demo`
/// without any (a catalog always has one at least), so this runs on every open too.
pub const DEMO_FIELDS: &str = "
INSERT INTO batch_fields (catalog, position, name, type)
SELECT 'demo', column1, column2, column3 FROM (VALUES
    (0, 'title', 'string'), (1, 'synopsis', 'string'), (2, 'description', 'string'),
    (3, 'brand', 'string'), (4, 'genres', 'array'), (5, 'cast', 'array'), (6, 'tags', 'array'),
    (7, 'rating', 'float'), (8, 'price', 'float'), (9, 'level_progress', 'float'),
    (10, 'age', 'integer'), (11, 'rank', 'integer'), (12, 'is_premium', 'bool'),
    (13, 'poster', 'url'), (14, 'image', 'url'), (15, 'product_image', 'url'),
    (16, 'released', 'date'), (17, 'since', 'date'))
WHERE EXISTS(SELECT 1 FROM batch_catalogs WHERE name = 'demo')
  AND NOT EXISTS(SELECT 1 FROM batch_fields WHERE catalog = 'demo');
";

/// SPEC §8: the sandbox starts with an empty batch catalog `demo`.
pub const DEMO_CATALOG: &str = "demo";

const PROJECT_HEADER: &str = "X-Batch-Project";
/// Idle projects' buckets are full, the same as new ones; past this many, forget them.
const MAX_TRACKED_PROJECTS: usize = 1024;

pub fn seed(tx: &Transaction) -> rusqlite::Result<()> {
    let now = crate::time::rfc3339_ms(crate::time::unix_ms_now());
    tx.execute(
        "INSERT INTO batch_catalogs (name, created, updated) VALUES (?1, ?2, ?2)",
        params![DEMO_CATALOG, now],
    )?;
    tx.execute_batch(DEMO_FIELDS)
}

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DELETE FROM batch_items; DELETE FROM batch_fields; DELETE FROM batch_indexing;
         DELETE FROM batch_catalogs;",
    )
}

/// The router's state: the shared sandbox plus batch's rate-limit buckets (None when off).
struct Batch {
    shared: Arc<Shared>,
    limits: Option<Mutex<HashMap<String, ProjectBuckets>>>,
}

/// vendors/batch.txt, Rate Limiting: one bucket of requests and one of items, per project.
struct ProjectBuckets {
    requests: TokenBucket,
    items: TokenBucket,
}

impl ProjectBuckets {
    fn full(now: Instant) -> ProjectBuckets {
        ProjectBuckets {
            requests: TokenBucket::full(REQUESTS_PER_SECOND, REQUESTS_PER_SECOND, now),
            items: TokenBucket::full(ITEMS_PER_SECOND, ITEMS_PER_SECOND, now),
        }
    }

    fn is_idle(&mut self, now: Instant) -> bool {
        self.requests.is_full(now) && self.items.is_full(now)
    }
}

impl Batch {
    /// Takes one request and `items` items from the project's buckets, or refuses with 429.
    fn admit(&self, project: &str, items: usize) -> Result<(), Fail> {
        let Some(limits) = &self.limits else {
            return Ok(());
        };
        let now = Instant::now();
        let mut limits = limits.lock().unwrap_or_else(PoisonError::into_inner);
        if limits.len() >= MAX_TRACKED_PROJECTS {
            limits.retain(|_, buckets| !buckets.is_idle(now));
        }
        let buckets = limits
            .entry(project.to_string())
            .or_insert_with(|| ProjectBuckets::full(now));
        ratelimit::acquire(
            &mut [
                (&mut buckets.requests, 1.0),
                (&mut buckets.items, items as f64),
            ],
            now,
        )
        .map_err(|wait| {
            fail(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Too Many Requests",
            )
            .with_retry_after(ratelimit::retry_after_secs(wait))
        })
    }
}

/// batch's `Error` schema: `error_message` and `error_code`, both required.
pub fn error_body(fail: &Fail) -> Value {
    json!({"error_message": fail.message, "error_code": fail.code.unwrap_or("ERROR")})
}

pub fn router(shared: Arc<Shared>) -> Router {
    let limits = match shared.rate_limits {
        RateLimits::On => Some(Mutex::new(HashMap::new())),
        RateLimits::Off => None,
    };
    let state = Arc::new(Batch { shared, limits });
    Router::new()
        .route("/catalogs/create", post(catalogs::create))
        .route("/catalogs/list", get(catalogs::list))
        .route("/catalogs/view", get(catalogs::view))
        .route("/catalogs/update", post(catalogs::update))
        .route("/catalogs/remove", post(catalogs::remove))
        .route("/catalogs/items/edit", post(edit_items))
        // Not a batch API: lets tests and users' CI see what arrived.
        .route("/_sandbox/catalogs/{name}/items", get(list_items))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_keys))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn fail(status: StatusCode, code: &'static str, message: impl Into<String>) -> Fail {
    Fail::coded(status, code, message)
}

fn invalid(message: impl Into<String>) -> Fail {
    fail(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", message)
}

/// A POST body, which every endpoint takes as one JSON object.
fn json_object(body: &Bytes) -> Result<Map<String, Value>, Fail> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(body)) => Ok(body),
        Ok(_) => Err(invalid("The body must be a JSON object")),
        Err(err) => Err(fail(
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            format!("The body is not valid JSON: {err}"),
        )),
    }
}

/// vendors/batch.txt: the REST API Key as a Bearer token, and the required `X-Batch-Project`
/// header (SPEC §8: any value is accepted).
async fn require_keys(State(batch): State<Arc<Batch>>, request: Request, next: Next) -> Response {
    if !batch.shared.is_authorized(request.headers()) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_INVALID",
            "The Rest API Key is not valid for this project",
        )
        .into_response();
    }
    if !request.headers().contains_key(PROJECT_HEADER) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "MISSING_PROJECT_KEY",
            "Missing X-Batch-Project header",
        )
        .into_response();
    }
    next.run(request).await
}

fn project_key(headers: &HeaderMap) -> String {
    headers
        .get(PROJECT_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default()
}

fn ensure_catalog(conn: &Connection, name: &str) -> Result<(), Fail> {
    conn.query_row(
        "SELECT 1 FROM batch_catalogs WHERE name = ?1",
        [name],
        |_| Ok(()),
    )
    .optional()?
    .ok_or_else(|| {
        fail(
            StatusCode::NOT_FOUND,
            "CATALOG_NOT_FOUND",
            format!("Catalog '{name}' not found"),
        )
    })
}

/// `POST /catalogs/items/edit`: all items are checked before any is applied, and one bad item
/// rejects the request, so a 202 means every item was taken.
async fn edit_items(
    State(batch): State<Arc<Batch>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Fail> {
    let mut body = json_object(&body)?;
    let Some(Value::Array(items)) = body.remove("items") else {
        return Err(invalid("items is required and must be an array"));
    };
    // vendors/batch.txt: every item counts against the items/s limit, whatever it holds,
    // and a request that later fails validation has still been counted.
    batch.shared.log_bulk("batch", items.len());
    batch.admit(&project_key(&headers), items.len())?;
    let name = match body.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => return Err(invalid("name is required: the name of the catalog")),
    };
    if items.is_empty() || items.len() > MAX_ITEMS_PER_REQUEST {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "INVALID_ITEMS_COUNT",
            format!(
                "items must hold 1 to {MAX_ITEMS_PER_REQUEST} items, got {}",
                items.len()
            ),
        ));
    }
    for (index, item) in items.iter().enumerate() {
        if let Err(why) = validate_item(item) {
            let id = match item.get("id") {
                Some(Value::String(id)) => format!(" (id '{id}')"),
                _ => String::new(),
            };
            return Err(invalid(format!("items[{index}]{id}: {why}")));
        }
    }
    let token = batch
        .shared
        .db
        .call(move |conn| -> Result<String, Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_catalog(&tx, &name)?;
            catalogs::check_schema(&name, &catalogs::fields(&tx, &name)?, &items)?;
            apply(&tx, &name, items)?;
            // Applied at once, but `view` says IN_PROGRESS for a moment, as batch may.
            let token = catalogs::issue_token(&tx, &name)?;
            tx.commit()?;
            Ok(token)
        })
        .await??;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "indexing_token": token })),
    )
        .into_response())
}

/// Applies validated items in order. `add` merges into the stored attributes ("Attributes that
/// are omitted from the request will be ignored and left unchanged"), and null removes one
/// ("Setting a string to null completely removes this attribute from the item").
fn apply(tx: &Transaction, catalog: &str, items: Vec<Value>) -> Result<(), Fail> {
    let mut find =
        tx.prepare_cached("SELECT attributes FROM batch_items WHERE catalog = ?1 AND id = ?2")?;
    let mut upsert = tx.prepare_cached(
        "INSERT INTO batch_items (catalog, id, attributes) VALUES (?1, ?2, ?3)
         ON CONFLICT (catalog, id) DO UPDATE SET attributes = excluded.attributes",
    )?;
    let mut remove = tx.prepare_cached("DELETE FROM batch_items WHERE catalog = ?1 AND id = ?2")?;
    for item in items {
        let Value::Object(mut item) = item else {
            continue;
        };
        let Some(Value::String(id)) = item.remove("id") else {
            continue;
        };
        if item.get("action").and_then(Value::as_str) == Some("remove") {
            // Removing an item that is not there is not an error: the end state is the same.
            remove.execute(params![catalog, id])?;
            continue;
        }
        let stored: Option<String> = find
            .query_row(params![catalog, id], |row| row.get(0))
            .optional()?;
        let mut attributes: Map<String, Value> = stored
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        if let Some(Value::Object(changes)) = item.remove("attributes") {
            for (key, value) in changes {
                if value.is_null() {
                    attributes.shift_remove(&key);
                } else {
                    attributes.insert(key, value);
                }
            }
        }
        upsert.execute(params![catalog, id, Value::Object(attributes).to_string()])?;
    }
    Ok(())
}

/// `GET /_sandbox/catalogs/{name}/items`: every item of the catalog, ordered by id.
async fn list_items(
    State(batch): State<Arc<Batch>>,
    Path((_version, name)): Path<(String, String)>,
) -> Result<Response, Fail> {
    let body = batch
        .shared
        .db
        .call(move |conn| -> Result<String, Fail> {
            let tx = conn.transaction()?;
            ensure_catalog(&tx, &name)?;
            let mut stmt = tx.prepare_cached(
                "SELECT id, attributes FROM batch_items WHERE catalog = ?1 ORDER BY id",
            )?;
            let mut rows = stmt.query([&name])?;
            // Stored attributes are JSON text already; splice them in rather than re-parse.
            let mut out = String::from("[");
            while let Some(row) = rows.next()? {
                if out.len() > 1 {
                    out.push(',');
                }
                let id = Value::String(row.get(0)?);
                let attributes: String = row.get(1)?;
                out.push_str(&format!("{{\"id\":{id},\"attributes\":{attributes}}}"));
            }
            out.push(']');
            Ok(out)
        })
        .await??;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(tx: &Transaction, id: &str) -> Option<Value> {
        tx.query_row(
            "SELECT attributes FROM batch_items WHERE catalog = 'demo' AND id = ?1",
            [id],
            |row| row.get::<_, String>(0),
        )
        .optional()
        .unwrap()
        .map(|text| serde_json::from_str(&text).unwrap())
    }

    #[test]
    fn adds_merge_attributes_null_removes_one_and_remove_deletes_the_item() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let tx = conn.transaction().unwrap();
        seed(&tx).unwrap();
        apply(
            &tx,
            DEMO_CATALOG,
            vec![
                json!({"action": "add", "id": "1", "attributes": {"title": "A", "age": 3}}),
                json!({"action": "add", "id": "2"}),
                json!({"action": "add", "id": "1", "attributes": {"age": null, "is_new": true}}),
                json!({"action": "remove", "id": "2"}),
                json!({"action": "remove", "id": "never-there"}),
            ],
        )
        .unwrap();
        assert_eq!(
            stored(&tx, "1"),
            Some(json!({"title": "A", "is_new": true}))
        );
        assert_eq!(stored(&tx, "2"), None);
        assert_eq!(stored(&tx, "never-there"), None);
    }

    #[test]
    fn a_state_file_from_before_fields_were_stored_gets_demos_fields_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sandbox.sqlite3");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE sandbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 CREATE TABLE batch_catalogs (name TEXT PRIMARY KEY);
                 INSERT INTO batch_catalogs VALUES ('demo');
                 INSERT INTO sandbox_meta VALUES ('seeded:batch', '1');",
            )
            .unwrap();
        for _ in 0..2 {
            drop(crate::Db::open(&crate::StateLocation::File(path.clone())).unwrap());
            let conn = Connection::open(&path).unwrap();
            let fields: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM batch_fields WHERE catalog = 'demo'",
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(fields, 18);
            let created: Option<String> = conn
                .query_row("SELECT created FROM batch_catalogs", [], |r| r.get(0))
                .unwrap();
            assert_eq!(created, None, "the column is there, empty for the old row");
        }
    }

    #[test]
    fn a_project_is_refused_once_its_request_bucket_is_empty() {
        let batch = Batch {
            shared: Shared::open(super::super::SandboxOptions {
                token: "t".into(),
                rate_limits: RateLimits::On,
                ..super::super::SandboxOptions::in_memory()
            })
            .unwrap(),
            limits: Some(Mutex::new(HashMap::new())),
        };
        for _ in 0..REQUESTS_PER_SECOND as usize {
            assert!(batch.admit("p1", 1).is_ok());
        }
        let refused = batch.admit("p1", 1).err().unwrap();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.retry_after, Some(1));
        assert!(batch.admit("p2", 1).is_ok(), "buckets are per project");
    }
}
