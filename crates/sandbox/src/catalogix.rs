//! catalogix emulation (vendors/catalogix.txt) under `/catalogix/v1`: the assets upsert with
//! its 100-item limit. A bad item does not sink the request: it is counted in `failed` and
//! described in `error_info` (`reason`/`details`, as the Get Assets page shows them). Errors use the documented `ErrorResponseModel`,
//! `{"status": "error", "detail": "..."}`, and 401 the `UnauthorizedError` body.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Map, Value};

use catops_spec::catalogix::{validate_item, DEFAULT_CHANNEL, MAX_ITEMS_PER_REQUEST};
use catops_spec::VendorKind;

use crate::emulated::Emulated;
use crate::error::{bad_request, Fail};
use crate::{Shared, MAX_BODY_BYTES};

/// This vendor's row in the sandbox's registry.
pub const EMULATED: Emulated = Emulated {
    kind: VendorKind::Catalogix,
    prefix: "/catalogix/v1",
    tables: &[SCHEMA],
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
    tx.execute_batch("DELETE FROM catalogix_assets; DELETE FROM catalogix_stores;")
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/assets", post(upsert_assets))
        // Not a catalogix API: lets tests and users' CI see what arrived.
        .route("/_sandbox/assets", get(list_assets))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_bearer,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

async fn require_bearer(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if !shared.is_authorized(request.headers()) {
        return Fail::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized – invalid or missing Bearer token",
        )
        .into_response();
    }
    next.run(request).await
}

/// create-assets: 401 and 500 carry a `status` object (`UnauthorizedError`,
/// `InternalServerError`); 400 and others the `ErrorResponseModel`.
pub fn error_body(fail: &Fail) -> Value {
    match fail.status.as_u16() {
        401 | 500 => json!({"status": {"code": -1, "message": fail.message}}),
        _ => json!({"status": "error", "detail": fail.message}),
    }
}

/// The query's `store_uuid` (required) and `channel` (default `SMP`).
fn store_and_channel(
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<(String, String), Fail> {
    let Query(mut query) =
        query.map_err(|err| bad_request(format!("invalid query string: {err}")))?;
    let store = query
        .remove("store_uuid")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_request("store_uuid is required"))?;
    let channel = query
        .remove("channel")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_CHANNEL.to_string());
    Ok((store, channel))
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

/// What one request did, in the documented `AssetUpsertResponse.data` shape.
#[derive(Default)]
struct Outcome {
    created: u64,
    updated: u64,
    error_info: Vec<Value>,
}

/// `POST /assets?store_uuid=..&channel=..`: upserts each valid item by (store, channel,
/// parent_code, asset_type), merging its asset map into the stored one.
async fn upsert_assets(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Bytes,
) -> Result<Response, Fail> {
    let (store, channel) = store_and_channel(query)?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|err| bad_request(format!("invalid JSON body: {err}")))?;
    let Value::Array(items) = body else {
        return Err(bad_request("the body must be a JSON array of asset items"));
    };
    shared.log_bulk("catalogix", items.len());
    // vendors/catalogix.txt: "413 Payload too large: The API accepts upto 100 data items at
    // a time."
    if items.len() > MAX_ITEMS_PER_REQUEST {
        return Err(Fail::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The API accepts upto 100 data items at a time",
        ));
    }
    let outcome = shared
        .db
        .call(move |conn| -> Result<Outcome, Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_store(&tx, &store)?;
            let outcome = upsert(&tx, &store, &channel, items)?;
            tx.commit()?;
            Ok(outcome)
        })
        .await??;
    let failed = outcome.error_info.len();
    Ok(Json(json!({
        "status": {"code": 0, "message": "SUCCESS", "request_id": request_id()},
        "data": {
            "created": outcome.created,
            "updated": outcome.updated,
            "failed": failed,
            "error_info": outcome.error_info,
        },
    }))
    .into_response())
}

fn upsert(
    tx: &Transaction,
    store: &str,
    channel: &str,
    items: Vec<Value>,
) -> Result<Outcome, Fail> {
    let mut find = tx.prepare_cached(
        "SELECT assets FROM catalogix_assets
         WHERE store_uuid = ?1 AND channel = ?2 AND parent_code = ?3 AND asset_type = ?4",
    )?;
    let mut save = tx.prepare_cached(
        "INSERT INTO catalogix_assets (store_uuid, channel, parent_code, asset_type, assets)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (store_uuid, channel, parent_code, asset_type)
         DO UPDATE SET assets = excluded.assets",
    )?;
    let mut outcome = Outcome::default();
    for (index, item) in items.into_iter().enumerate() {
        if let Err(why) = validate_item(&item) {
            let parent_code = match item.get("parent_code") {
                Some(Value::String(code)) => Value::String(code.clone()),
                _ => Value::Null,
            };
            // `reason` and `details` are the keys the Get Assets page documents; `index` and
            // `parent_code` are the sandbox's own, so a client can tell which item failed.
            outcome.error_info.push(json!({
                "index": index,
                "parent_code": parent_code,
                "reason": "invalid_request",
                "details": why,
            }));
            continue;
        }
        let text = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default();
        let (parent_code, asset_type) = (text("parent_code"), text("asset_type"));
        let stored: Option<String> = find
            .query_row(params![store, channel, parent_code, asset_type], |row| {
                row.get(0)
            })
            .optional()?;
        let mut assets: Map<String, Value> = match &stored {
            Some(text) => serde_json::from_str(text).unwrap_or_default(),
            None => Map::new(),
        };
        if let Some(Value::Object(new)) = item.get("assets") {
            assets.extend(new.clone());
        }
        save.execute(params![
            store,
            channel,
            parent_code,
            asset_type,
            Value::Object(assets).to_string()
        ])?;
        if stored.is_some() {
            outcome.updated += 1;
        } else {
            outcome.created += 1;
        }
    }
    Ok(outcome)
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

/// `GET /_sandbox/assets?store_uuid=..`: the store's assets, by parent_code then asset_type.
async fn list_assets(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, Fail> {
    let (store, _) = store_and_channel(query)?;
    let rows = shared
        .db
        .call(move |conn| -> Result<Vec<Value>, Fail> {
            let tx = conn.transaction()?;
            ensure_store(&tx, &store)?;
            let mut stmt = tx.prepare_cached(
                "SELECT parent_code, asset_type, channel, assets FROM catalogix_assets
                 WHERE store_uuid = ?1 ORDER BY parent_code, asset_type, channel",
            )?;
            let rows = stmt.query_map([&store], |row| {
                let assets: String = row.get(3)?;
                Ok(json!({
                    "parent_code": row.get::<_, String>(0)?,
                    "asset_type": row.get::<_, String>(1)?,
                    "channel": row.get::<_, String>(2)?,
                    "assets": serde_json::from_str::<Value>(&assets).unwrap_or(Value::Null),
                }))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await??;
    Ok(Json(rows).into_response())
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

    #[test]
    fn bad_items_are_reported_and_good_ones_upserted_with_merged_assets() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let tx = conn.transaction().unwrap();
        let image = |code: &str, name: &str, url: &str| json!({"parent_code": code, "asset_type": "image", "assets": {name: url}});
        let first = upsert(
            &tx,
            DEMO_STORE,
            "SMP",
            vec![
                image("P1", "Image URL 1", "https://cdn.example.com/1.jpg"),
                json!({"parent_code": "P2", "asset_type": "image", "assets": {"a": "no-url"}}),
                json!({"parent_code": 7, "assets": {}}),
            ],
        )
        .unwrap();
        assert_eq!((first.created, first.updated), (1, 0));
        assert_eq!(first.error_info.len(), 2);
        assert_eq!(first.error_info[0]["index"], 1);
        assert_eq!(first.error_info[0]["parent_code"], "P2");
        assert_eq!(first.error_info[1]["parent_code"], Value::Null);

        let second = upsert(
            &tx,
            DEMO_STORE,
            "SMP",
            vec![
                image("P1", "Image URL 2", "https://cdn.example.com/2.jpg"),
                image("P1", "Image URL 1", "https://cdn.example.com/1b.jpg"),
            ],
        )
        .unwrap();
        assert_eq!((second.created, second.updated), (0, 2));
        let assets: String = tx
            .query_row("SELECT assets FROM catalogix_assets", [], |row| row.get(0))
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&assets).unwrap(),
            json!({"Image URL 1": "https://cdn.example.com/1b.jpg",
                   "Image URL 2": "https://cdn.example.com/2.jpg"})
        );
    }
}
