//! rastro's catalogs: list (paged by limit and offset) and create.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::params;
use serde_json::{json, Value};

use super::body::{parse_body, query_number};
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
