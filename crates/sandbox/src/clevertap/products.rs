//! clevertap products under `/clevertap`: `POST /v2/catalogs/{id}/products/bulk`
//! (create-products-bulk-api) with the documented 500 KB body and field limits, stored in
//! SQLite. The products pages name the credentials `X-CleverTap-Account-Id` +
//! `X-CleverTap-Passcode` where the v2 catalog pages say `X-Account-Id` + `X-CleverTap-Token`:
//! both pairs are taken here.
//!
//! Where the docs are silent, the sandbox's choices: the reply is CleverTap's documented
//! bulk-write reply (the Upload API's `{status, processed, unprocessed}`), each unprocessed
//! entry `{status: "fail", code, error, record, index}` (`index`, the product's place in the
//! request, is the sandbox's own); a product whose identity exists replaces it (so the
//! endpoint upserts); custom attributes must be in the catalog's schema, with its type.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Map, Value};

use crate::error::Fail;
use crate::{Shared, MAX_BODY_BYTES};
use catops_spec::clevertap::products::{validate_product, MAX_BULK_BODY_BYTES};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clevertap_products (
    catalog_id INTEGER NOT NULL,
    identity TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (catalog_id, identity)
) WITHOUT ROWID;
";

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch("DELETE FROM clevertap_products;")
}

fn fail(status: StatusCode, code: &'static str, message: impl Into<String>) -> Fail {
    Fail::coded(status, code, message)
}

/// The products routes, with their own check of the credentials.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        // `{id}`, as the catalog routes name the same segment (one router, one name).
        .route("/v2/catalogs/{id}/products/bulk", post(create_bulk))
        // Not a clevertap API: lets tests and users' CI see what arrived.
        .route("/_sandbox/catalogs/{id}/products", get(list_products))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_either_pair,
        ))
        // Read whole, so a body over 500 KB gets clevertap's 413 rather than axum's.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// Either documented pair: the passcode (or token) must be the sandbox's, and an account id
/// header must be there, any value (SPEC §8).
async fn require_either_pair(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let secret = ["X-CleverTap-Passcode", "X-CleverTap-Token"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok());
    if secret != Some(shared.token.as_str()) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_FAILED",
            "The provided passcode is missing or invalid.",
        )
        .into_response();
    }
    if !["X-CleverTap-Account-Id", "X-Account-Id"]
        .iter()
        .any(|name| headers.contains_key(*name))
    {
        return fail(
            StatusCode::FORBIDDEN,
            "AUTHORIZATION_FAILED",
            "The caller does not have permission to access this catalog: X-CleverTap-Account-Id is missing.",
        )
        .into_response();
    }
    next.run(request).await
}

/// catalogId is a Number (create-products-bulk-api "Path Parameter").
fn catalog_id(raw: &str) -> Result<i64, Fail> {
    raw.parse::<i64>()
        .ok()
        .filter(|_| raw.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            fail(
                StatusCode::BAD_REQUEST,
                "INVALID_PARAMETER",
                format!("catalogId must be a number, got '{raw}'"),
            )
        })
}

fn invalid(message: impl Into<String>) -> Fail {
    fail(StatusCode::BAD_REQUEST, "CATALOG_INVALID_REQUEST", message)
}

/// `POST /v2/catalogs/{id}/products/bulk`: the body as a whole is checked first (size,
/// shape, catalog), then each product on its own: the good ones are stored, the bad ones
/// reported, as "Invalid products may fail individually in bulk requests" (catalog-products-api).
async fn create_bulk(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<Response, Fail> {
    let id = catalog_id(&raw)?;
    if body.len() > MAX_BULK_BODY_BYTES {
        shared.log_bulk_body("clevertap", 0, body.len());
        return Err(fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!(
                "The request body is {} bytes; the bulk API accepts up to 500 KB per request.",
                body.len()
            ),
        ));
    }
    let parsed: Value = serde_json::from_slice(&body)
        .map_err(|err| invalid(format!("The body is not valid JSON: {err}")))?;
    let Some(Value::Array(products)) = parsed.get("products").cloned() else {
        return Err(invalid("products is required and must be an array"));
    };
    shared.log_bulk_body("clevertap", products.len(), body.len());
    if products.is_empty() {
        return Err(invalid("products must hold at least one product"));
    }
    let (processed, unprocessed) = shared
        .db
        .call(move |conn| -> Result<(u64, Vec<Value>), Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let schema = catalog_schema(&tx, id)?;
            let outcome = store(&tx, id, &schema, products)?;
            tx.commit()?;
            Ok(outcome)
        })
        .await??;
    let status = match (processed, unprocessed.is_empty()) {
        (_, true) => "success",
        (0, false) => "fail",
        _ => "partial",
    };
    Ok(Json(json!({
        "status": status,
        "processed": processed,
        "unprocessed": unprocessed,
    }))
    .into_response())
}

/// 404 CATALOG_NOT_FOUND unless catalog `id` exists.
pub fn catalog_exists(tx: &Transaction, id: i64) -> Result<(), Fail> {
    catalog_schema(tx, id).map(|_| ())
}

/// The catalog's attributes and their types (`catalogSchema[]` of `{name, type}`).
fn catalog_schema(tx: &Transaction, id: i64) -> Result<Map<String, Value>, Fail> {
    let body: String = tx
        .query_row(
            "SELECT body FROM clevertap_catalogs WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                "CATALOG_NOT_FOUND",
                format!("No catalog exists for the specified id {id}."),
            )
        })?;
    let catalog: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut schema = Map::new();
    for field in catalog["catalogSchema"].as_array().into_iter().flatten() {
        if let (Some(name), Some(kind)) = (field["name"].as_str(), field.get("type")) {
            schema.insert(name.to_string(), kind.clone());
        }
    }
    Ok(schema)
}

/// Stores each valid product (replacing one with its identity) and reports the others.
fn store(
    tx: &Transaction,
    id: i64,
    schema: &Map<String, Value>,
    products: Vec<Value>,
) -> Result<(u64, Vec<Value>), Fail> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO clevertap_products (catalog_id, identity, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (catalog_id, identity) DO UPDATE SET body = excluded.body",
    )?;
    let mut processed = 0;
    let mut unprocessed = Vec::new();
    for (index, product) in products.into_iter().enumerate() {
        match validate_product(&product).and_then(|()| check_attributes(&product, schema)) {
            Ok(()) => {
                let identity = product["identity"].as_str().unwrap_or_default();
                upsert.execute(params![id, identity, product.to_string()])?;
                processed += 1;
            }
            Err(error) => unprocessed.push(json!({
                "status": "fail",
                "code": "INVALID_PRODUCT",
                "error": error,
                "record": product,
                "index": index,
            })),
        }
    }
    Ok((processed, unprocessed))
}

/// catalog-products-api: "Custom attributes must match schema data types".
fn check_attributes(product: &Value, schema: &Map<String, Value>) -> Result<(), String> {
    let Some(Value::Object(attributes)) = product.get("attributes") else {
        return Ok(());
    };
    for (name, value) in attributes {
        let Some(kind) = schema.get(name).and_then(Value::as_str) else {
            return Err(format!("attribute '{name}' is not in the catalog schema"));
        };
        let fits = match kind {
            "string" => value.is_string(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !(fits || value.is_null()) {
            return Err(format!("attribute '{name}' must be a {kind}, got {value}"));
        }
    }
    Ok(())
}

/// `GET /_sandbox/catalogs/{id}/products`: every stored product of the catalog, by identity.
async fn list_products(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
) -> Result<Response, Fail> {
    let id = catalog_id(&raw)?;
    let body = shared
        .db
        .call(move |conn| -> Result<String, Fail> {
            let tx = conn.transaction()?;
            catalog_schema(&tx, id)?;
            let mut stmt = tx.prepare_cached(
                "SELECT body FROM clevertap_products WHERE catalog_id = ?1 ORDER BY identity",
            )?;
            let rows = stmt.query_map([id], |row| row.get::<_, String>(0))?;
            // Stored products are JSON text already: joined, not parsed again.
            let mut bodies = Vec::new();
            for body in rows {
                bodies.push(body?);
            }
            Ok(format!("[{}]", bodies.join(",")))
        })
        .await??;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_checked_against_the_catalog_schema() {
        let schema: Map<String, Value> = serde_json::from_value(json!({
            "brand": "string", "price": "number", "active": "boolean"
        }))
        .unwrap();
        let product =
            |attributes: Value| json!({"identity": "P", "name": "N", "attributes": attributes});
        let ok = product(json!({"brand": "A", "price": 1.5, "active": true, "price2": null}));
        assert!(check_attributes(&ok, &schema)
            .unwrap_err()
            .contains("'price2' is not in the catalog schema"));
        assert_eq!(
            check_attributes(&product(json!({"brand": "A", "price": null})), &schema),
            Ok(())
        );
        assert!(check_attributes(&product(json!({"price": "9"})), &schema)
            .unwrap_err()
            .contains("must be a number"));
    }
}
