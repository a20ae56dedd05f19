//! catalogix emulation (vendors/catalogix.txt, docs.streamoid.com) under `/catalogix/v1`: the
//! asset APIs (create, list, delete, unlink; `assets`) and the product APIs (insert, retrieve;
//! `products`), each write taking at most 100 items. A bad item does not sink the request: it
//! is counted in `failed` and described in `error_info` (`reason`/`details`, as the Get Assets
//! page shows them). Errors use the documented `ErrorResponseModel`,
//! `{"status": "error", "detail": "..."}`, 401 and 500 the `UnauthorizedError` body, and a
//! request GET /assets refuses the Get Assets page's own error shape.

mod assets;
mod products;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rusqlite::{Connection, OptionalExtension, Transaction};
use serde_json::{json, Value};

use catops_spec::catalogix::{DEFAULT_CHANNEL, MAX_ITEMS_PER_REQUEST};
use catops_spec::VendorKind;

use crate::emulated::Emulated;
use crate::error::{bad_request, Fail};
use crate::{Shared, MAX_BODY_BYTES};

/// This vendor's row in the sandbox's registry.
pub const EMULATED: Emulated = Emulated {
    kind: VendorKind::Catalogix,
    prefix: "/catalogix/v1",
    tables: &[SCHEMA, products::SCHEMA],
    seed,
    clear,
    router,
    error_body,
};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS catalogix_stores (
    uuid TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS catalogix_assets (
    store_uuid TEXT NOT NULL,
    channel TEXT NOT NULL,
    parent_code TEXT NOT NULL,
    asset_type TEXT NOT NULL,
    assets TEXT NOT NULL,
    PRIMARY KEY (store_uuid, channel, parent_code, asset_type)
) WITHOUT ROWID;
";

/// SPEC §8: the sandbox starts with the catalogix store `store_demo`.
pub const DEMO_STORE: &str = "store_demo";

pub fn seed(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO catalogix_stores (uuid) VALUES (?1)",
        [DEMO_STORE],
    )?;
    Ok(())
}

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "DELETE FROM catalogix_assets; DELETE FROM catalogix_products; DELETE FROM catalogix_stores;",
    )
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/assets",
            post(assets::upsert)
                .get(assets::list)
                // delete-asset: `/asset` on docs.streamoid.com, `/assets` on the mintlify
                // mirror; both are served.
                .delete(assets::delete),
        )
        .route("/asset", delete(assets::delete))
        .route("/assets/unlink", post(assets::unlink))
        .route("/products", get(products::list).post(products::insert))
        // Not a catalogix API: lets tests and users' CI see what arrived.
        .route("/_sandbox/assets", get(assets::dump))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// Every page documents `Authorization: Bearer`, except insert-product-data, which documents
/// only an `apikey` header: that route wants the token there.
async fn require_token(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let products_insert =
        request.method() == Method::POST && request.uri().path().ends_with("/products");
    let authorized = if products_insert {
        let key = request
            .headers()
            .get("apikey")
            .and_then(|v| v.to_str().ok());
        key == Some(shared.token.as_str())
    } else {
        shared.is_authorized(request.headers())
    };
    if !authorized {
        let message = if products_insert {
            "Unauthorized – invalid or missing apikey header"
        } else {
            "Unauthorized – invalid or missing Bearer token"
        };
        return Fail::new(StatusCode::UNAUTHORIZED, message).into_response();
    }
    next.run(request).await
}

/// The error code of a failure that get-assets answers in its own shape.
const INVALID_REQUEST: &str = "invalid_request";

/// create-assets: 401 and 500 carry a `status` object (`UnauthorizedError`,
/// `InternalServerError`); 400 and others the `ErrorResponseModel`. get-assets shows its
/// validation errors as a `status` object with `data.error_info[{reason, details}]`.
pub fn error_body(fail: &Fail) -> Value {
    match (fail.status.as_u16(), fail.code) {
        (_, Some(INVALID_REQUEST)) => json!({
            "status": {"code": -1, "message": "ERROR", "request_id": request_id()},
            "data": {"error_info": [{"reason": INVALID_REQUEST, "details": fail.message}]},
        }),
        (401 | 500, _) => json!({"status": {"code": -1, "message": fail.message}}),
        _ => json!({"status": "error", "detail": fail.message}),
    }
}

/// A query string as its pairs, repeated keys kept (`sku_codes` is a list).
struct Params(Vec<(String, String)>);

impl Params {
    fn read(query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> Result<Self, Fail> {
        let Query(pairs) =
            query.map_err(|err| bad_request(format!("invalid query string: {err}")))?;
        Ok(Params(pairs))
    }

    /// The first non-empty value of `key`.
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, comma-separated ones split.
    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// `store_uuid` (required everywhere) and `channel` (default `SMP`).
    fn store_and_channel(&self) -> Result<(String, String), Fail> {
        let store = self
            .get("store_uuid")
            .ok_or_else(|| bad_request("store_uuid is required"))?;
        let channel = self.get("channel").unwrap_or(DEFAULT_CHANNEL);
        Ok((store.to_string(), channel.to_string()))
    }

    /// A non-negative integer parameter, `default` when absent, within `max`.
    fn number(&self, key: &str, default: u64, max: u64) -> Result<u64, String> {
        let Some(raw) = self.get(key) else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            Ok(_) => Err(format!("{key} must be at most {max}")),
            Err(_) => Err(format!("{key} must be a non-negative integer, not '{raw}'")),
        }
    }
}

/// A write's body: a JSON array of at most 100 items (the errors page: "413 Payload too
/// large: The API accepts upto 100 data items at a time").
fn items_of(shared: &Shared, body: &Bytes) -> Result<Vec<Value>, Fail> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|err| bad_request(format!("invalid JSON body: {err}")))?;
    let Value::Array(items) = body else {
        return Err(bad_request("the body must be a JSON array of items"));
    };
    shared.log_bulk("catalogix", items.len());
    if items.len() > MAX_ITEMS_PER_REQUEST {
        return Err(Fail::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The API accepts upto 100 data items at a time",
        ));
    }
    Ok(items)
}

/// The documented success envelope: `StandardStatus` code 0 around `data`.
fn success(data: Value) -> Response {
    Json(json!({
        "status": {"code": 0, "message": "SUCCESS", "request_id": request_id()},
        "data": data,
    }))
    .into_response()
}

fn ensure_store(conn: &Connection, store: &str) -> Result<(), Fail> {
    conn.query_row(
        "SELECT 1 FROM catalogix_stores WHERE uuid = ?1",
        [store],
        |_| Ok(()),
    )
    .optional()?
    .ok_or_else(|| Fail::new(StatusCode::NOT_FOUND, format!("Store {store} not found")))
}

/// A random id in the UUID form of the documented example, for `status.request_id`.
fn request_id() -> String {
    let hex = format!("{:032x}", fastrand::u128(..));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_ne!(id, request_id());
    }
}
