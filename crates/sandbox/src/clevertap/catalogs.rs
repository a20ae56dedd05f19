//! clevertap's catalog lifecycle (developer.clevertap.com/docs: create-catalog-api,
//! update-catalog-api, delete-catalog-api, mark-attribute-as-filterable-api). The pages show
//! no reply for create and update: the sandbox answers the catalog object (201 and 200), as
//! the filterable page does. Update is a full update: what the body leaves out is gone.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Map, Value};

use super::fail;
use crate::error::Fail;
use crate::time::unix_ms_now;
use crate::Shared;

const FIELD_TYPES: &[&str] = &["string", "number", "boolean"];
const STATUSES: &[&str] = &["ACTIVE", "INACTIVE"];

fn invalid(message: impl Into<String>) -> Fail {
    fail(StatusCode::BAD_REQUEST, "CATALOG_INVALID_REQUEST", message)
}

fn not_found(id: i64) -> Fail {
    fail(
        StatusCode::NOT_FOUND,
        "CATALOG_NOT_FOUND",
        format!("No catalog exists for the specified id {id}."),
    )
}

fn parse_id(raw: &str) -> Result<i64, Fail> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        fail(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            format!("id must be a number, got '{raw}'"),
        )
    })
}

fn object(body: &Bytes) -> Result<Map<String, Value>, Fail> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("the body must be a JSON object")),
        Err(err) => Err(invalid(format!("invalid JSON body: {err}"))),
    }
}

/// An e-mail address as the `*By` fields take it.
fn email(value: Option<&Value>, key: &str) -> Result<String, Fail> {
    match value.and_then(Value::as_str) {
        Some(text) if text.contains('@') => Ok(text.to_string()),
        _ => Err(invalid(format!(
            "{key} is required and must be an e-mail address"
        ))),
    }
}

/// `catalogSchema`: a non-empty array of `{name, type, filterable}`.
fn schema(value: Option<&Value>) -> Result<Vec<Value>, Fail> {
    let Some(fields) = value.and_then(Value::as_array).filter(|f| !f.is_empty()) else {
        return Err(invalid(
            "catalogSchema is required and must be a non-empty array",
        ));
    };
    let mut checked = Vec::new();
    for field in fields {
        let name = field
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = field
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.is_empty() || !FIELD_TYPES.contains(&kind) {
            return Err(invalid(format!(
                "every catalogSchema field needs a name and a type ({}), got {field}",
                FIELD_TYPES.join(", ")
            )));
        }
        let filterable = match field.get("filterable") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(invalid(format!(
                    "filterable must be true or false, got {other}"
                )))
            }
        };
        checked.push(json!({"name": name, "type": kind, "filterable": filterable}));
    }
    Ok(checked)
}

fn load(conn: &Connection, id: i64) -> Result<Value, Fail> {
    let body: String = conn
        .query_row(
            "SELECT body FROM clevertap_catalogs WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?
        .ok_or_else(|| not_found(id))?;
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn store(conn: &Connection, id: i64, catalog: &Value) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO clevertap_catalogs (id, body) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET body = excluded.body",
        params![id, catalog.to_string()],
    )?;
    Ok(())
}

fn name_taken(conn: &Connection, name: &str, other_than: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM clevertap_catalogs
          WHERE json_extract(body, '$.catalogName') = ?1 AND id != ?2)",
        params![name, other_than],
        |row| row.get(0),
    )
}

fn now_secs() -> i64 {
    unix_ms_now() / 1000
}

/// `POST /v2/catalogs`: `catalogName` (unique), `catalogSchema` and `createdBy` required.
pub async fn create(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, Fail> {
    let body = object(&body)?;
    let name = match body.get("catalogName").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => name.to_string(),
        _ => return Err(invalid("catalogName is required")),
    };
    let fields = schema(body.get("catalogSchema"))?;
    let by = email(body.get("createdBy"), "createdBy")?;
    let catalog = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction()?;
            if name_taken(&tx, &name, 0)? {
                return Err(fail(
                    StatusCode::CONFLICT,
                    "CATALOG_INVALID_REQUEST",
                    format!("a catalog named {name} already exists"),
                ));
            }
            let id: i64 = tx.query_row(
                "SELECT COALESCE(MAX(id), 1000) + 1 FROM clevertap_catalogs",
                [],
                |row| row.get(0),
            )?;
            let count = fields.len();
            let catalog = json!({
                "id": id,
                "catalogName": name,
                "catalogSchema": fields,
                "fieldMappings": body.get("fieldMappings").cloned().unwrap_or(json!({})),
                "description": body.get("description").cloned().unwrap_or(Value::Null),
                "totalProducts": 0,
                "status": "ACTIVE",
                "createdAt": now_secs(),
                "createdBy": by,
                "updatedBy": by,
                "isActive": true,
                "attributeCount": count,
                "totalColumns": count,
            });
            store(&tx, id, &catalog)?;
            tx.commit()?;
            Ok(catalog)
        })
        .await??;
    Ok((StatusCode::CREATED, Json(catalog)).into_response())
}

/// `PUT /v2/catalogs/{id}`: a full update; `updatedBy` required.
pub async fn update(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<Response, Fail> {
    let id = parse_id(&raw)?;
    let body = object(&body)?;
    let by = email(body.get("updatedBy"), "updatedBy")?;
    let name = match body.get("catalogName").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => name.to_string(),
        _ => {
            return Err(invalid(
                "catalogName is required: a full update sends every field",
            ))
        }
    };
    let fields = schema(body.get("catalogSchema"))?;
    let status = match body.get("status").and_then(Value::as_str) {
        None => "ACTIVE",
        Some(status) if STATUSES.contains(&status) => status,
        Some(other) => {
            return Err(invalid(format!(
                "status must be ACTIVE or INACTIVE, got {other}"
            )))
        }
    }
    .to_string();
    let catalog = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction()?;
            let mut catalog = load(&tx, id)?;
            if name_taken(&tx, &name, id)? {
                return Err(fail(
                    StatusCode::CONFLICT,
                    "CATALOG_INVALID_REQUEST",
                    format!("a catalog named {name} already exists"),
                ));
            }
            catalog["attributeCount"] = json!(fields.len());
            catalog["catalogName"] = json!(name);
            catalog["catalogSchema"] = Value::Array(fields);
            catalog["description"] = body.get("description").cloned().unwrap_or(Value::Null);
            catalog["isActive"] = json!(status == "ACTIVE");
            catalog["status"] = json!(status);
            catalog["updatedBy"] = json!(by);
            catalog["updatedAt"] = json!(now_secs());
            store(&tx, id, &catalog)?;
            tx.commit()?;
            Ok(catalog)
        })
        .await??;
    Ok(Json(catalog).into_response())
}

/// `PUT /v2/catalogs/delete/{id}?deletedBy=`: a hard delete.
pub async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Fail> {
    let id = parse_id(&raw)?;
    email(
        query
            .get("deletedBy")
            .map(|s| Value::String(s.clone()))
            .as_ref(),
        "deletedBy",
    )?;
    shared
        .db
        .call(move |conn| -> Result<(), Fail> {
            let removed = conn.execute("DELETE FROM clevertap_catalogs WHERE id = ?1", [id])?;
            if removed == 0 {
                return Err(not_found(id));
            }
            Ok(())
        })
        .await??;
    Ok(Json(json!({"message": format!("Catalog - {id} deleted successfully")})).into_response())
}

/// `PATCH /v2/catalogs/{id}/schema/attributes/{name}/filterable?filterable=&updatedBy=`.
pub async fn filterable(
    State(shared): State<Arc<Shared>>,
    Path((raw, attribute)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Fail> {
    let id = parse_id(&raw)?;
    let on = match query.get("filterable").map(String::as_str) {
        Some("true") => true,
        Some("false") => false,
        _ => return Err(invalid("filterable is required: true or false")),
    };
    let by = email(
        query
            .get("updatedBy")
            .map(|s| Value::String(s.clone()))
            .as_ref(),
        "updatedBy",
    )?;
    let catalog = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction()?;
            let mut catalog = load(&tx, id)?;
            let field = catalog["catalogSchema"]
                .as_array_mut()
                .and_then(|fields| fields.iter_mut().find(|f| f["name"] == json!(attribute)))
                .ok_or_else(|| invalid(format!("the catalog has no attribute {attribute}")))?;
            field["filterable"] = json!(on);
            catalog["updatedBy"] = json!(by);
            catalog["updatedAt"] = json!(now_secs());
            store(&tx, id, &catalog)?;
            tx.commit()?;
            Ok(catalog)
        })
        .await??;
    Ok(Json(catalog).into_response())
}
