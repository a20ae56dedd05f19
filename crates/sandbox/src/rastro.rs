//! rastro emulation (vendors/rastro.txt) under `/rastro/api`: catalogs, items and bulk upsert,
//! with the documented limits, and enrichment (in `enrich`). Errors use a `{"detail": "..."}`
//! body. Handlers that touch a catalog's items first bring its enrichment jobs up to now, and
//! every change is handed to catalogian, whose demo source follows `cat_demo`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Map, Value};

use crate::changes::{record_change, Changes};
use crate::error::{unprocessable, Fail};
use crate::time::{rfc3339_ms, unix_ms_now};
use crate::{enrich, Shared, MAX_BODY_BYTES};

/// vendors/rastro.txt: bulk takes "max 1000" items, and list pages "max 1000".
const MAX_BULK_ITEMS: usize = 1000;
const MAX_PAGE_LIMIT: u64 = 1000;
const DEFAULT_PAGE_LIMIT: u64 = 100;
const FIELD_TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rastro_catalogs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    unique_id_field TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    description TEXT,
    created_at TEXT
);
CREATE TABLE IF NOT EXISTS rastro_items (
    id INTEGER PRIMARY KEY,
    catalog_id TEXT NOT NULL,
    unique_value TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS rastro_items_unique ON rastro_items (catalog_id, unique_value);
CREATE INDEX IF NOT EXISTS rastro_items_order ON rastro_items (catalog_id, id);
";

pub const DEMO_CATALOG: &str = "cat_demo";
/// When the demo catalog says it was created: 2026-01-01T00:00:00Z.
const DEMO_CREATED_MS: i64 = 1_767_225_600_000;

pub fn seed(tx: &Transaction) -> rusqlite::Result<()> {
    let schema = json!({"fields": [
        {"name": "sku", "type": "string"},
        {"name": "title", "type": "string"},
        {"name": "brand", "type": "string"},
        {"name": "category", "type": "string"},
        {"name": "price", "type": "number"},
    ]});
    tx.execute(
        "INSERT INTO rastro_catalogs (id, name, unique_id_field, schema_json, description, created_at)
         VALUES (?1, ?2, 'sku', ?3, ?4, ?5)",
        params![
            DEMO_CATALOG,
            "Demo products",
            schema.to_string(),
            "The sandbox's demo catalog",
            rfc3339_ms(DEMO_CREATED_MS)
        ],
    )?;
    let brands = ["Acme", "Northwind", "Globex", "Initech", "Umbrella"];
    let products = [
        ("Trail Running Shoe", "Footwear"),
        ("Merino Wool Socks", "Apparel"),
        ("Insulated Water Bottle", "Outdoor"),
        ("Canvas Backpack", "Bags"),
        ("LED Headlamp", "Outdoor"),
    ];
    for n in 0..25usize {
        let brand = brands[n % brands.len()];
        let (product, category) = products[(n / brands.len()) % products.len()];
        let sku = format!("DEMO-{:04}", n + 1);
        let cents = 999 + (n as i64) * 350;
        let item = json!({
            "sku": sku,
            "title": format!("{brand} {product}"),
            "brand": brand,
            "category": category,
            "price": cents as f64 / 100.0,
        });
        tx.execute(
            "INSERT INTO rastro_items (catalog_id, unique_value, body) VALUES (?1, ?2, ?3)",
            params![DEMO_CATALOG, sku, item.to_string()],
        )?;
    }
    Ok(())
}

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    enrich::clear(tx)?;
    tx.execute_batch("DELETE FROM rastro_items; DELETE FROM rastro_catalogs;")
}

/// rastro's errors are FastAPI's: `{"detail": "..."}` (its own client reads `detail`).
pub fn error_body(fail: &Fail) -> Value {
    json!({ "detail": fail.message })
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/public/catalogs", get(list_catalogs).post(create_catalog))
        .route("/public/catalogs/{catalog}/items", get(list_items))
        .route("/public/catalogs/{catalog}/items/bulk", post(bulk_upsert))
        .route(
            "/public/catalogs/{catalog}/items/{item}",
            get(get_item).put(update_item),
        )
        .merge(enrich::routes())
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_bearer,
        ))
        // SPEC §4 chunks reach 5 MiB; axum's default limit is 2 MB.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn require_bearer(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if !shared.is_authorized(request.headers()) {
        return Fail::new(StatusCode::UNAUTHORIZED, "Invalid or missing API key").into_response();
    }
    next.run(request).await
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(super) fn parse_body(body: &Bytes) -> Result<Value, Fail> {
    serde_json::from_slice(body).map_err(|err| unprocessable(format!("invalid JSON body: {err}")))
}

/// Stored bodies are the item's fields; the API shows them with `id` first.
pub(super) fn render_item(id: i64, body: &str) -> String {
    let fields = body.trim().strip_prefix('{').unwrap_or("}");
    if fields.trim_start().starts_with('}') {
        format!("{{\"id\":\"item_{id}\"}}")
    } else {
        format!("{{\"id\":\"item_{id}\",{fields}")
    }
}

fn parse_item_id(raw: &str) -> Option<i64> {
    raw.strip_prefix("item_")?.parse().ok()
}

/// The key an item is matched on: strings as they are, numbers and booleans as JSON text.
fn unique_key(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The schema's fields as (name, type).
fn catalog_schema(conn: &Connection, catalog: &str) -> Result<Vec<(String, String)>, Fail> {
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
fn check_types(schema: &[(String, String)], fields: &Map<String, Value>) -> Result<(), String> {
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

pub(super) fn catalog_unique_field(conn: &Connection, catalog: &str) -> Result<String, Fail> {
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

/// docs.rastro.ai/catalogs/reference: the catalog list is paged by `limit` (1–100, default
/// 10) and `offset`, and answers `{catalogs, total_count, page, page_size}`.
const DEFAULT_CATALOGS_LIMIT: u64 = 10;
const MAX_CATALOGS_LIMIT: u64 = 100;

async fn list_catalogs(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Fail> {
    let limit = query_number(&query, "limit", DEFAULT_CATALOGS_LIMIT, 1)?;
    if limit > MAX_CATALOGS_LIMIT {
        return Err(unprocessable(format!(
            "limit must be at most {MAX_CATALOGS_LIMIT}, got {limit}"
        )));
    }
    let offset = query_number(&query, "offset", 0, 0)?;
    let body = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction()?;
            let total: i64 =
                tx.query_row("SELECT COUNT(*) FROM rastro_catalogs", [], |row| row.get(0))?;
            let mut stmt = tx.prepare(
                "SELECT c.id, c.name, c.description, c.created_at,
                        (SELECT COUNT(*) FROM rastro_items i WHERE i.catalog_id = c.id)
                 FROM rastro_catalogs c ORDER BY c.rowid LIMIT ?1 OFFSET ?2",
            )?;
            let rows = stmt.query_map(params![limit as i64, offset as i64], |row| {
                Ok(json!({
                    "id": row.get::<_, String>(0)?,
                    "name": row.get::<_, String>(1)?,
                    "description": row.get::<_, Option<String>>(2)?,
                    // The sandbox neither evolves schemas nor refuses unknown fields.
                    "auto_evolve_schema": false,
                    "strict_mode": false,
                    "item_count": row.get::<_, i64>(4)?,
                    "current_schema_version": 1,
                    "created_at": row.get::<_, Option<String>>(3)?,
                }))
            })?;
            let catalogs: Vec<Value> = rows.collect::<Result<_, _>>()?;
            Ok(json!({
                "catalogs": catalogs,
                "total_count": total,
                "page": offset / limit + 1,
                "page_size": limit,
            }))
        })
        .await??;
    Ok(Json(body).into_response())
}

/// A non-negative integer query parameter, at least `min`.
fn query_number(
    query: &HashMap<String, String>,
    key: &str,
    default: u64,
    min: u64,
) -> Result<u64, Fail> {
    match query.get(key) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= min && *n <= i64::MAX as u64)
            .ok_or_else(|| unprocessable(format!("{key} must be an integer ≥ {min}, got '{raw}'"))),
    }
}

async fn create_catalog(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, Fail> {
    let body = parse_body(&body)?;
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                unprocessable(format!("{key} is required and must be a non-empty string"))
            })
    };
    let name = text("name")?;
    let unique_id_field = text("unique_id_field")?;
    let fields = body
        .get("schema_definition")
        .and_then(|s| s.get("fields"))
        .and_then(Value::as_array)
        .filter(|fields| !fields.is_empty())
        .ok_or_else(|| {
            unprocessable("schema_definition.fields is required and must be a non-empty array")
        })?;
    let mut names = Vec::new();
    for field in fields {
        let name = field
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = field
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.is_empty() {
            return Err(unprocessable("every schema field needs a name"));
        }
        if !FIELD_TYPES.contains(&kind) {
            return Err(unprocessable(format!(
                "field {name}: unknown type '{kind}' (types: {})",
                FIELD_TYPES.join(", ")
            )));
        }
        names.push(name);
    }
    if !names.contains(&unique_id_field.as_str()) {
        return Err(unprocessable(format!(
            "unique_id_field '{unique_id_field}' is not a field of schema_definition"
        )));
    }
    let id = format!("cat_{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
    let schema = json!({ "fields": fields }).to_string();
    let response = json!({ "id": id, "name": name, "unique_id_field": unique_id_field });
    shared
        .db
        .call(move |conn| -> Result<(), Fail> {
            conn.execute(
                "INSERT INTO rastro_catalogs (id, name, unique_id_field, schema_json, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, name, unique_id_field, schema, rfc3339_ms(unix_ms_now())],
            )?;
            Ok(())
        })
        .await??;
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

async fn list_items(
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
                "SELECT COUNT(*) FROM rastro_items WHERE catalog_id = ?1",
                [&catalog],
                |row| row.get(0),
            )?;
            let offset = offset.min(i64::MAX as u64) as i64;
            let mut stmt = tx.prepare_cached(
                "SELECT id, body FROM rastro_items WHERE catalog_id = ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
            )?;
            let mut rows = stmt.query(params![catalog, limit as i64, offset])?;
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

async fn get_item(
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

fn find_item(conn: &Connection, catalog: &str, item: &str) -> Result<(i64, String), Fail> {
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

/// PUT replaces the item's fields with the body. The excerpt says PUT changes only the
/// fields given; rastro's own client says the backend replaces the whole item and can drop
/// fields. The sandbox takes the stricter reading, so a client that sends only some fields
/// loses the others here too, as it would there.
async fn update_item(
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
async fn bulk_upsert(
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
            // Like a validating API server, one item of the wrong type refuses the request.
            let schema = catalog_schema(&tx, &catalog)?;
            for (index, item) in items.iter().enumerate() {
                if let Value::Object(fields) = item {
                    check_types(&schema, fields).map_err(|why| {
                        let key = unique_key(fields.get(&unique_field)).unwrap_or_default();
                        unprocessable(format!("items[{index}] ({unique_field} {key}): {why}"))
                    })?;
                }
            }
            let (mut created, mut updated, mut failed) = (0u64, 0u64, 0u64);
            let mut changes = Changes::for_catalog(&tx, &catalog)?;
            {
                let mut find = tx.prepare_cached(
                    "SELECT id, body FROM rastro_items WHERE catalog_id = ?1 AND unique_value = ?2",
                )?;
                // New items are the common case: try the insert first and look the item up only
                // when it is already there (one index probe instead of two).
                let mut insert = tx.prepare_cached(
                    "INSERT INTO rastro_items (catalog_id, unique_value, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (catalog_id, unique_value) DO NOTHING",
                )?;
                let mut update = tx.prepare_cached("UPDATE rastro_items SET body = ?1 WHERE id = ?2")?;
                for item in items {
                    let Value::Object(mut fields) = item else {
                        failed += 1;
                        continue;
                    };
                    let Some(key) = unique_key(fields.get(&unique_field)) else {
                        failed += 1;
                        continue;
                    };
                    fields.shift_remove("id");
                    let body = serde_json::to_string(&fields).unwrap_or_default();
                    if insert.execute(params![catalog, key, body])? == 1 {
                        if changes.is_tracking() {
                            let id = tx.last_insert_rowid();
                            changes.note(&key, None, Some(render_item(id, &body)));
                        }
                        created += 1;
                        continue;
                    }
                    // The insert met this item, so it is there.
                    let (id, stored): (i64, String) =
                        find.query_row(params![catalog, key], |row| Ok((row.get(0)?, row.get(1)?)))?;
                    let mut merged: Map<String, Value> =
                        serde_json::from_str(&stored).unwrap_or_default();
                    merged.extend(fields);
                    let body = Value::Object(merged).to_string();
                    // The vendor counts a re-sent item as updated; the feed sees that it did
                    // not change.
                    if body != stored {
                        update.execute(params![body, id])?;
                        if changes.is_tracking() {
                            changes.note(
                                &key,
                                Some(render_item(id, &stored)),
                                Some(render_item(id, &body)),
                            );
                        }
                    }
                    updated += 1;
                }
            }
            record_change(&tx, changes)?;
            tx.commit()?;
            Ok(json!({ "created": created, "updated": updated, "failed": failed }))
        })
        .await??;
    Ok(Json(counts).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn unique_keys() {
        assert_eq!(unique_key(Some(&json!("A1"))).as_deref(), Some("A1"));
        assert_eq!(unique_key(Some(&json!(12))).as_deref(), Some("12"));
        assert_eq!(unique_key(Some(&json!(""))), None);
        assert_eq!(unique_key(Some(&json!(null))), None);
        assert_eq!(unique_key(None), None);
    }
}
