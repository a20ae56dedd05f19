//! rastro's catalogs: list (paged by limit and offset), create, get, update (partial) and
//! delete.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::body::{parse_body, query_number};
use super::store::{count_items, render_item};
use crate::changes::{record_change, Changes};
use crate::error::{unprocessable, Fail};
use crate::time::{rfc3339_ms, unix_ms_now};
use crate::Shared;

/// docs.rastro.ai/catalogs/reference: the catalog list is paged by `limit` (1–100, default
/// 10) and `offset`, and answers `{catalogs, total_count, page, page_size}`.
const DEFAULT_CATALOGS_LIMIT: u64 = 10;
const MAX_CATALOGS_LIMIT: u64 = 100;
const FIELD_TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];

pub async fn list(
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
            let mut stmt = tx.prepare(&format!(
                "{CATALOG_SELECT} ORDER BY c.rowid LIMIT ?1 OFFSET ?2"
            ))?;
            let rows = stmt.query_map(params![limit as i64, offset as i64], catalog_json)?;
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

/// A catalog as the reference shows it, with its settings (the sandbox stores them but
/// neither evolves schemas nor refuses unknown fields).
const CATALOG_SELECT: &str = "SELECT c.id, c.name, c.description, c.created_at,
        COALESCE((SELECT n.items FROM rastro_item_counts n WHERE n.catalog_id = c.id), 0),
        COALESCE(s.auto_evolve_schema, 0), COALESCE(s.strict_mode, 0), s.catalog_md
    FROM rastro_catalogs c LEFT JOIN rastro_catalog_settings s ON s.catalog_id = c.id";

fn catalog_json(row: &rusqlite::Row) -> rusqlite::Result<Value> {
    let mut catalog = json!({
        "id": row.get::<_, String>(0)?,
        "name": row.get::<_, String>(1)?,
        "description": row.get::<_, Option<String>>(2)?,
        "auto_evolve_schema": row.get::<_, bool>(5)?,
        "strict_mode": row.get::<_, bool>(6)?,
        "item_count": row.get::<_, i64>(4)?,
        "current_schema_version": 1,
        "created_at": row.get::<_, Option<String>>(3)?,
    });
    if let Some(md) = row.get::<_, Option<String>>(7)? {
        catalog["catalog_md"] = Value::String(md);
    }
    Ok(catalog)
}

fn find_catalog(conn: &Connection, catalog: &str) -> Result<Value, Fail> {
    conn.query_row(
        &format!("{CATALOG_SELECT} WHERE c.id = ?1"),
        [catalog],
        catalog_json,
    )
    .optional()?
    .ok_or_else(|| not_found(catalog))
}

fn not_found(catalog: &str) -> Fail {
    Fail::new(
        StatusCode::NOT_FOUND,
        format!("Catalog {catalog} not found"),
    )
}

/// `GET /public/catalogs/{id}`: the same shape as a list entry.
pub async fn get(
    State(shared): State<Arc<Shared>>,
    Path(catalog): Path<String>,
) -> Result<Response, Fail> {
    let body = shared
        .db
        .call(move |conn| find_catalog(conn, &catalog))
        .await??;
    Ok(Json(body).into_response())
}

/// `PUT /public/catalogs/{id}`: a partial update of the documented keys. A key the reference
/// does not list is refused (422), so a misspelt setting is not taken as done.
pub async fn update(
    State(shared): State<Arc<Shared>>,
    Path(catalog): Path<String>,
    body: Bytes,
) -> Result<Response, Fail> {
    let Value::Object(changes) = parse_body(&body)? else {
        return Err(unprocessable("the body must be a JSON object"));
    };
    let change = CatalogChange::read(changes)?;
    let body = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction()?;
            find_catalog(&tx, &catalog)?;
            change.apply(&tx, &catalog)?;
            let updated = find_catalog(&tx, &catalog)?;
            tx.commit()?;
            Ok(updated)
        })
        .await??;
    Ok(Json(body).into_response())
}

/// The keys `PUT /public/catalogs/{id}` takes, each checked.
#[derive(Default)]
struct CatalogChange {
    name: Option<String>,
    description: Option<Option<String>>,
    auto_evolve_schema: Option<bool>,
    strict_mode: Option<bool>,
    catalog_md: Option<String>,
}

impl CatalogChange {
    fn read(changes: serde_json::Map<String, Value>) -> Result<CatalogChange, Fail> {
        let mut change = CatalogChange::default();
        for (key, value) in changes {
            let wrong = |what: &str| unprocessable(format!("{key} must be {what}, got {value}"));
            match key.as_str() {
                "name" => match value.as_str().map(str::trim) {
                    Some(name) if (1..=100).contains(&name.chars().count()) => {
                        change.name = Some(name.to_string())
                    }
                    _ => return Err(wrong("a string of 1 to 100 characters")),
                },
                "description" => match &value {
                    Value::String(text) => change.description = Some(Some(text.clone())),
                    Value::Null => change.description = Some(None),
                    _ => return Err(wrong("a string or null")),
                },
                "auto_evolve_schema" => {
                    change.auto_evolve_schema = Some(value.as_bool().ok_or_else(|| wrong("true or false"))?)
                }
                "strict_mode" => {
                    change.strict_mode = Some(value.as_bool().ok_or_else(|| wrong("true or false"))?)
                }
                "catalog_md" => {
                    change.catalog_md = Some(value.as_str().ok_or_else(|| wrong("a string"))?.to_string())
                }
                _ => {
                    return Err(unprocessable(format!(
                        "{key} cannot be changed here (name, description, auto_evolve_schema, strict_mode, catalog_md)"
                    )))
                }
            }
        }
        Ok(change)
    }

    fn apply(&self, tx: &rusqlite::Transaction, catalog: &str) -> rusqlite::Result<()> {
        if let Some(name) = &self.name {
            tx.execute(
                "UPDATE rastro_catalogs SET name = ?1 WHERE id = ?2",
                params![name, catalog],
            )?;
        }
        if let Some(description) = &self.description {
            tx.execute(
                "UPDATE rastro_catalogs SET description = ?1 WHERE id = ?2",
                params![description, catalog],
            )?;
        }
        tx.execute(
            "INSERT INTO rastro_catalog_settings (catalog_id) VALUES (?1)
             ON CONFLICT (catalog_id) DO NOTHING",
            [catalog],
        )?;
        tx.execute(
            "UPDATE rastro_catalog_settings SET
                 auto_evolve_schema = COALESCE(?2, auto_evolve_schema),
                 strict_mode = COALESCE(?3, strict_mode),
                 catalog_md = COALESCE(?4, catalog_md)
             WHERE catalog_id = ?1",
            params![
                catalog,
                self.auto_evolve_schema,
                self.strict_mode,
                self.catalog_md
            ],
        )?;
        Ok(())
    }
}

/// `DELETE /public/catalogs/{id}`: the items, the schema and the settings go; the change log
/// sees every item of a followed catalog deleted.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(catalog): Path<String>,
) -> Result<Response, Fail> {
    let body = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            find_catalog(&tx, &catalog)?;
            let mut changes = Changes::for_catalog(&tx, &catalog)?;
            if changes.is_tracking() {
                let mut stmt = tx.prepare(
                    "SELECT id, unique_value, body FROM rastro_items WHERE catalog_id = ?1",
                )?;
                let mut rows = stmt.query([&catalog])?;
                while let Some(row) = rows.next()? {
                    let (id, key, body): (i64, String, String) =
                        (row.get(0)?, row.get(1)?, row.get(2)?);
                    changes.note(id, &key, Some(render_item(id, &body)), None);
                }
            }
            let gone = tx.execute("DELETE FROM rastro_items WHERE catalog_id = ?1", [&catalog])?;
            count_items(&tx, &catalog, 0, gone as i64)?;
            tx.execute(
                "DELETE FROM rastro_enrich_jobs WHERE catalog_id = ?1",
                [&catalog],
            )?;
            tx.execute(
                "DELETE FROM rastro_catalog_settings WHERE catalog_id = ?1",
                [&catalog],
            )?;
            tx.execute("DELETE FROM rastro_catalogs WHERE id = ?1", [&catalog])?;
            record_change(&tx, changes)?;
            tx.commit()?;
            Ok(json!({ "message": format!("Catalog {catalog} deleted successfully") }))
        })
        .await??;
    Ok(Json(body).into_response())
}

pub async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, Fail> {
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
