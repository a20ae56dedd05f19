//! batch's catalog endpoints (doc.batch.com/developer/api/cep/catalogs: create, list, view,
//! update, remove), the catalogs' fields that item edits are checked against, and the
//! indexing state behind each edit's token.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Map, Value};

use super::{ensure_catalog, fail, invalid, json_object, Batch};
use crate::error::Fail;
use crate::time::{rfc3339_ms, unix_ms_now};
use catops_spec::batch::{
    attribute_field, check_field_type, validate_field, DEFAULT_LIST_LIMIT, MAX_CATALOGS,
    MAX_FIELDS, MAX_LIST_LIMIT,
};

/// How long an edit stays IN_PROGRESS before `view` says APPLIED: long enough for a test to
/// see both states, short enough not to slow an import's `--wait-indexed`.
pub const INDEXING_MS: i64 = 300;

/// One field of a catalog's schema, as stored and as `view` shows it.
pub struct Field {
    pub name: String,
    pub kind: String,
}

pub fn fields(tx: &Transaction, catalog: &str) -> rusqlite::Result<Vec<Field>> {
    let mut stmt = tx.prepare_cached(
        "SELECT name, type FROM batch_fields WHERE catalog = ?1 ORDER BY position, name",
    )?;
    let rows = stmt.query_map([catalog], |row| {
        Ok(Field {
            name: row.get(0)?,
            kind: row.get(1)?,
        })
    })?;
    rows.collect()
}

pub fn insert_fields(tx: &Transaction, catalog: &str, fields: &[Field]) -> rusqlite::Result<()> {
    let first: i64 = tx.query_row(
        "SELECT COALESCE(MAX(position) + 1, 0) FROM batch_fields WHERE catalog = ?1",
        [catalog],
        |row| row.get(0),
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO batch_fields (catalog, position, name, type) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (offset, field) in fields.iter().enumerate() {
        insert.execute(params![
            catalog,
            first + offset as i64,
            field.name,
            field.kind
        ])?;
    }
    Ok(())
}

/// edit-items: "All attributes provided in the request must already exist in the catalog
/// schema. Otherwise, the request will result in an error." The sandbox also holds each value
/// to its field's type, as a validating server would.
pub fn check_schema(catalog: &str, fields: &[Field], items: &[Value]) -> Result<(), Fail> {
    for (index, item) in items.iter().enumerate() {
        let Some(Value::Object(attributes)) = item.get("attributes") else {
            continue;
        };
        for (key, value) in attributes {
            let (name, _) = attribute_field(key);
            let why = match fields.iter().find(|f| f.name == name) {
                None => format!(
                    "Attribute '{name}' does not exist in the schema of catalog '{catalog}'"
                ),
                Some(field) => match check_field_type(key, value, &field.kind) {
                    Ok(()) => continue,
                    Err(why) => why,
                },
            };
            let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
            return Err(invalid(format!("items[{index}] (id '{id}'): {why}")));
        }
    }
    Ok(())
}

/// A new indexing token for an edit of `catalog`, IN_PROGRESS for `INDEXING_MS`.
pub fn issue_token(tx: &Transaction, catalog: &str) -> rusqlite::Result<String> {
    let token: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(64)
        .collect();
    let now = unix_ms_now();
    tx.execute(
        "INSERT INTO batch_indexing (token, catalog, applied_at) VALUES (?1, ?2, ?3)",
        params![token, catalog, now + INDEXING_MS],
    )?;
    touch(tx, catalog, now)?;
    Ok(token)
}

fn touch(tx: &Transaction, catalog: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE batch_catalogs SET updated = ?2 WHERE name = ?1",
        params![catalog, rfc3339_ms(now)],
    )?;
    Ok(())
}

/// The body's `name`, which every catalog endpoint requires.
fn catalog_name(body: &Map<String, Value>) -> Result<String, Fail> {
    match body.get("name") {
        Some(Value::String(name)) if !name.is_empty() => Ok(name.clone()),
        _ => Err(invalid("name is required: the name of the catalog")),
    }
}

/// `{name, type}` objects, checked against the field rules (`action` allowed for update).
fn parse_field(value: &Value, needs_type: bool) -> Result<(String, Option<String>), Fail> {
    let name = value.get("name").and_then(Value::as_str);
    let kind = value.get("type").and_then(Value::as_str);
    let Some(name) = name else {
        return Err(invalid("each field needs a name"));
    };
    match kind {
        Some(kind) => validate_field(name, kind).map_err(invalid)?,
        None if needs_type => return Err(invalid(format!("field {name} needs a type"))),
        None => {}
    }
    Ok((name.to_string(), kind.map(str::to_string)))
}

fn empty_reply(status: StatusCode) -> Response {
    (status, Json(json!({}))).into_response()
}

/// `POST /catalogs/create`: `{name, fields}` → 201 `{}`. The sandbox requires 1 to 25 fields
/// (the page's limit; whether `fields` may be left out is undocumented) and allows 5 catalogs.
pub async fn create(State(batch): State<Arc<Batch>>, body: Bytes) -> Result<Response, Fail> {
    let body = json_object(&body)?;
    let name = catalog_name(&body)?;
    let Some(Value::Array(raw)) = body.get("fields") else {
        return Err(invalid("fields is required: 1 to 25 {name, type} objects"));
    };
    let mut new_fields: Vec<Field> = Vec::new();
    for value in raw {
        let (name, kind) = parse_field(value, true)?;
        if new_fields.iter().any(|f| f.name == name) {
            return Err(invalid(format!("field {name} is named twice")));
        }
        new_fields.push(Field {
            name,
            kind: kind.unwrap_or_default(),
        });
    }
    if new_fields.is_empty() || new_fields.len() > MAX_FIELDS {
        return Err(invalid(format!(
            "a catalog has 1 to {MAX_FIELDS} fields, got {}",
            new_fields.len()
        )));
    }
    batch
        .shared
        .db
        .call(move |conn| -> Result<(), Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let count: i64 =
                tx.query_row("SELECT COUNT(*) FROM batch_catalogs", [], |row| row.get(0))?;
            if ensure_catalog(&tx, &name).is_ok() {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "CATALOG_ALREADY_EXISTS",
                    format!("Catalog '{name}' already exists"),
                ));
            }
            if count as usize >= MAX_CATALOGS {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "TOO_MANY_CATALOGS",
                    format!("A project has at most {MAX_CATALOGS} catalogs"),
                ));
            }
            let now = rfc3339_ms(unix_ms_now());
            tx.execute(
                "INSERT INTO batch_catalogs (name, created, updated) VALUES (?1, ?2, ?2)",
                params![name, now],
            )?;
            insert_fields(&tx, &name, &new_fields)?;
            tx.commit()?;
            Ok(())
        })
        .await??;
    Ok(empty_reply(StatusCode::CREATED))
}

/// `GET /catalogs/list?from=&limit=`: catalogs by name, `limit` 1 to 100 (10 by default);
/// `count` on the first page only, `next_from` (an opaque cursor) while `has_more`.
pub async fn list(
    State(batch): State<Arc<Batch>>,
    Query(mut query): Query<HashMap<String, String>>,
) -> Result<Response, Fail> {
    let limit = match query.get("limit").map(String::as_str) {
        None => DEFAULT_LIST_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
            .ok_or_else(|| invalid(format!("limit must be 1 to {MAX_LIST_LIMIT}, not '{raw}'")))?,
    };
    let after = match query.remove("from").as_deref() {
        None => None,
        Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
            invalid(format!("from '{cursor}' is not a cursor this API returned"))
        })?),
    };
    let body = batch
        .shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction()?;
            let names: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT name FROM batch_catalogs WHERE name > ?1 ORDER BY name LIMIT ?2",
                )?;
                let rows = stmt.query_map(
                    params![after.clone().unwrap_or_default(), i64::from(limit) + 1],
                    |row| row.get(0),
                )?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let has_more = names.len() > limit as usize;
            let mut catalogs = Vec::new();
            for name in names.iter().take(limit as usize) {
                catalogs.push(catalog_object(&tx, name)?);
            }
            let mut body = json!({"catalogs": catalogs, "has_more": has_more});
            if after.is_none() {
                let count: i64 =
                    tx.query_row("SELECT COUNT(*) FROM batch_catalogs", [], |row| row.get(0))?;
                body["count"] = json!(count);
            }
            if has_more {
                body["next_from"] = json!(encode_cursor(&names[limit as usize - 1]));
            }
            Ok(body)
        })
        .await??;
    Ok(Json(body).into_response())
}

/// The cursor is the last name listed, hex-encoded: opaque to clients, as batch's is.
fn encode_cursor(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Option<String> {
    if cursor.is_empty() || !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// The documented catalog object: name, fields, items, size (bytes), created, updated.
fn catalog_object(tx: &Transaction, name: &str) -> Result<Value, Fail> {
    let (created, updated): (Option<String>, Option<String>) = tx.query_row(
        "SELECT created, updated FROM batch_catalogs WHERE name = ?1",
        [name],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let (items, size): (i64, i64) = tx.query_row(
        "SELECT COUNT(*), COALESCE(SUM(LENGTH(id) + LENGTH(attributes)), 0)
         FROM batch_items WHERE catalog = ?1",
        [name],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let fields: Vec<Value> = fields(tx, name)?
        .into_iter()
        .map(|f| json!({"name": f.name, "type": f.kind}))
        .collect();
    // Catalogs from state files older than these columns were made at the epoch.
    let epoch = || rfc3339_ms(0);
    Ok(json!({
        "name": name,
        "fields": fields,
        "items": items,
        "size": size,
        "created": created.unwrap_or_else(epoch),
        "updated": updated.unwrap_or_else(epoch),
    }))
}

/// `GET /catalogs/view?name=&indexing_token=`: the catalog, plus `indexing_state` when a token
/// is given: IN_PROGRESS, then APPLIED (the view page's spelling; the edit page's IN_PROCESS
/// is the other one clients must accept).
pub async fn view(
    State(batch): State<Arc<Batch>>,
    Query(mut query): Query<HashMap<String, String>>,
) -> Result<Response, Fail> {
    let Some(name) = query.remove("name").filter(|n| !n.is_empty()) else {
        return Err(invalid("name is required: the name of the catalog"));
    };
    let token = query.remove("indexing_token");
    let body = batch
        .shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction()?;
            ensure_catalog(&tx, &name)?;
            let mut catalog = catalog_object(&tx, &name)?;
            if let Some(token) = token {
                let applied_at: i64 = tx
                    .query_row(
                        "SELECT applied_at FROM batch_indexing WHERE token = ?1 AND catalog = ?2",
                        [&token, &name],
                        |row| row.get(0),
                    )
                    .optional()?
                    .ok_or_else(|| {
                        invalid(format!("indexing_token is not a token of catalog '{name}'"))
                    })?;
                let state = if unix_ms_now() >= applied_at {
                    "APPLIED"
                } else {
                    "IN_PROGRESS"
                };
                catalog["indexing_state"] = json!(state);
            }
            Ok(catalog)
        })
        .await??;
    Ok(Json(body).into_response())
}

/// `POST /catalogs/update`: `{name, fields: [{action: add|remove, name, type}]}` → 202 `{}`.
/// Every change is checked before any applies; a removed field's values leave the items.
pub async fn update(State(batch): State<Arc<Batch>>, body: Bytes) -> Result<Response, Fail> {
    let body = json_object(&body)?;
    let name = catalog_name(&body)?;
    let Some(Value::Array(raw)) = body.get("fields") else {
        return Err(invalid(
            "fields is required: {action: add|remove, name, type} objects",
        ));
    };
    let mut changes: Vec<(bool, Field)> = Vec::new();
    for value in raw {
        let add = match value.get("action").and_then(Value::as_str) {
            Some("add") => true,
            Some("remove") => false,
            _ => return Err(invalid("each field needs an action: add or remove")),
        };
        let (field, kind) = parse_field(value, add)?;
        changes.push((
            add,
            Field {
                name: field,
                kind: kind.unwrap_or_default(),
            },
        ));
    }
    batch
        .shared
        .db
        .call(move |conn| -> Result<(), Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_catalog(&tx, &name)?;
            apply_changes(&tx, &name, changes)?;
            touch(&tx, &name, unix_ms_now())?;
            tx.commit()?;
            Ok(())
        })
        .await??;
    Ok(empty_reply(StatusCode::ACCEPTED))
}

fn apply_changes(tx: &Transaction, catalog: &str, changes: Vec<(bool, Field)>) -> Result<(), Fail> {
    let mut names: Vec<String> = fields(tx, catalog)?.into_iter().map(|f| f.name).collect();
    let mut added = Vec::new();
    for (add, field) in changes {
        let present = names.contains(&field.name);
        if add && present {
            return Err(invalid(format!("field {} already exists", field.name)));
        }
        if !add && !present {
            return Err(invalid(format!("field {} does not exist", field.name)));
        }
        if add {
            names.push(field.name.clone());
            added.push(field);
        } else {
            names.retain(|n| n != &field.name);
            tx.execute(
                "DELETE FROM batch_fields WHERE catalog = ?1 AND name = ?2",
                params![catalog, field.name],
            )?;
            // The field's values go with it, whichever key wrote them.
            tx.execute(
                "UPDATE batch_items SET attributes = json_remove(attributes, ?2, ?3, ?4)
                 WHERE catalog = ?1",
                params![
                    catalog,
                    format!("$.\"{}\"", field.name),
                    format!("$.\"url({})\"", field.name),
                    format!("$.\"date({})\"", field.name)
                ],
            )?;
        }
    }
    if names.is_empty() || names.len() > MAX_FIELDS {
        return Err(invalid(format!(
            "a catalog has 1 to {MAX_FIELDS} fields, this change leaves {}",
            names.len()
        )));
    }
    insert_fields(tx, catalog, &added)?;
    Ok(())
}

/// `POST /catalogs/remove`: `{name}` → 202 `{}`; the items and tokens go with it.
pub async fn remove(State(batch): State<Arc<Batch>>, body: Bytes) -> Result<Response, Fail> {
    let body = json_object(&body)?;
    let name = catalog_name(&body)?;
    batch
        .shared
        .db
        .call(move |conn| -> Result<(), Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_catalog(&tx, &name)?;
            for table in ["batch_items", "batch_fields", "batch_indexing"] {
                tx.execute(&format!("DELETE FROM {table} WHERE catalog = ?1"), [&name])?;
            }
            tx.execute("DELETE FROM batch_catalogs WHERE name = ?1", [&name])?;
            tx.commit()?;
            Ok(())
        })
        .await??;
    Ok(empty_reply(StatusCode::ACCEPTED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(
            decode_cursor(&encode_cursor("MOVIES")),
            Some("MOVIES".into())
        );
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor("abc"), None);
        assert_eq!(decode_cursor(""), None);
    }

    #[test]
    fn the_schema_check_names_the_missing_field_and_a_wrong_wrapper() {
        let fields = vec![
            Field {
                name: "title".into(),
                kind: "string".into(),
            },
            Field {
                name: "poster".into(),
                kind: "url".into(),
            },
        ];
        let items =
            |attributes: Value| vec![json!({"id": "1", "action": "add", "attributes": attributes})];
        assert!(check_schema(
            "M",
            &fields,
            &items(json!({"title": "A", "url(poster)": "https://x/y"}))
        )
        .is_ok());
        let missing = check_schema("M", &fields, &items(json!({"colour": "red"}))).unwrap_err();
        assert_eq!(
            missing.message,
            "items[0] (id '1'): Attribute 'colour' does not exist in the schema of catalog 'M'"
        );
        let bare =
            check_schema("M", &fields, &items(json!({"poster": "https://x/y"}))).unwrap_err();
        assert!(
            bare.message.contains("write it as url(poster)"),
            "{}",
            bare.message
        );
        let typed = check_schema("M", &fields, &items(json!({"title": 5}))).unwrap_err();
        assert!(
            typed.message.contains("of type string"),
            "{}",
            typed.message
        );
    }
}
