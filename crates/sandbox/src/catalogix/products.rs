//! The product APIs: insert (`POST /products`, insert-product-data) and retrieve
//! (`GET /products`, retrieve-product-data). Products are kept per store by their code
//! (`product_code`, else `parent_code`) with their free-form attributes; an insert merges the
//! given attributes into a product that exists.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Map, Value};

use catops_spec::catalogix::{
    product_code, validate_product, DEFAULT_PRODUCTS_PAGE, PRODUCT_STATUSES,
};

use super::{ensure_store, items_of, Params};
use crate::error::{bad_request, Fail};
use crate::Shared;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS catalogix_products (
    store_uuid TEXT NOT NULL,
    product_code TEXT NOT NULL,
    parent_code TEXT NOT NULL,
    status TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (store_uuid, product_code)
) WITHOUT ROWID;
";

/// The largest `limit` the sandbox takes: the docs give only the default (100).
const MAX_PRODUCTS_PAGE: u64 = 1000;

/// The product pages answer `status {code: 0, message: "success"}`, lowercase and without
/// `request_id`, as documented.
fn success(data: Value) -> Response {
    Json(json!({"status": {"code": 0, "message": "success"}, "data": data})).into_response()
}

#[derive(Default)]
struct Inserted {
    failed: Vec<Value>,
    successful: Vec<String>,
    existing: Vec<String>,
}

/// `POST /products?store_uuid=..` (header `apikey`): upserts each valid product.
pub async fn insert(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Bytes,
) -> Result<Response, Fail> {
    let (store, _) = Params::read(query)?.store_and_channel()?;
    let items = items_of(&shared, &body)?;
    let reply_store = store.clone();
    let inserted = shared
        .db
        .call(move |conn| -> Result<Inserted, Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_store(&tx, &store)?;
            let mut inserted = Inserted::default();
            for (index, item) in items.into_iter().enumerate() {
                insert_one(&tx, &store, index, item, &mut inserted)?;
            }
            tx.commit()?;
            Ok(inserted)
        })
        .await??;
    Ok(success(json!({
        "store_uuid": reply_store,
        "failed_products": inserted.failed,
        "successful_product_codes": inserted.successful,
        "existing_product_codes": inserted.existing,
    })))
}

fn insert_one(
    tx: &Transaction,
    store: &str,
    index: usize,
    item: Value,
    inserted: &mut Inserted,
) -> Result<(), Fail> {
    if let Err(why) = validate_product(&item) {
        // `metadata {product_code, errors: [field]}` is the documented entry; `index` and
        // `details` are the sandbox's own, so a client can tell which item failed and why.
        let field = ["parent_code", "product_code", "status"]
            .into_iter()
            .find(|field| why.starts_with(field))
            .unwrap_or("product");
        let code = product_code(&item).map(str::to_string);
        inserted.failed.push(json!({
            "index": index,
            "metadata": {"product_code": code, "errors": [field]},
            "details": why,
        }));
        return Ok(());
    }
    let Value::Object(fields) = item else {
        return Ok(());
    };
    let item = Value::Object(fields.clone());
    let code = product_code(&item).unwrap_or_default().to_string();
    let parent_code = item["parent_code"].as_str().unwrap_or_default().to_string();
    let stored: Option<(String, String)> = tx
        .prepare_cached(
            "SELECT status, data FROM catalogix_products WHERE store_uuid = ?1 AND product_code = ?2",
        )?
        .query_row(params![store, code], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let (mut data, old_status) = match &stored {
        Some((status, data)) => (
            serde_json::from_str::<Map<String, Value>>(data).unwrap_or_default(),
            status.as_str(),
        ),
        None => (Map::new(), "new"),
    };
    let status = fields
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or(old_status)
        .to_string();
    data.extend(fields);
    data.insert("product_code".into(), Value::String(code.clone()));
    data.insert("status".into(), Value::String(status.clone()));
    tx.prepare_cached(
        "INSERT INTO catalogix_products (store_uuid, product_code, parent_code, status, data)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (store_uuid, product_code)
         DO UPDATE SET parent_code = excluded.parent_code, status = excluded.status, data = excluded.data",
    )?
    .execute(params![store, code, parent_code, status, Value::Object(data).to_string()])?;
    if stored.is_some() {
        inserted.existing.push(code.clone());
    }
    inserted.successful.push(code);
    Ok(())
}

/// `GET /products?store_uuid=&sku_codes=&status=&offset=&limit=`: products by code, `limit`
/// (100 by default) from `offset`; `sku_codes` (repeated or comma-separated) match product or
/// parent codes. `ontology` is accepted and changes nothing here.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Fail> {
    let params = Params::read(query)?;
    let (store, _) = params.store_and_channel()?;
    let status = params.get("status").map(str::to_string);
    if let Some(status) = &status {
        if !PRODUCT_STATUSES.contains(&status.as_str()) {
            return Err(bad_request(format!(
                "status must be one of {}",
                PRODUCT_STATUSES.join(", ")
            )));
        }
    }
    let codes = params.all("sku_codes");
    let codes = (!codes.is_empty()).then(|| Value::from(codes).to_string());
    let offset = params
        .number("offset", 0, i64::MAX as u64)
        .map_err(bad_request)?;
    let limit = params
        .number("limit", u64::from(DEFAULT_PRODUCTS_PAGE), MAX_PRODUCTS_PAGE)
        .map_err(bad_request)?;
    let reply_store = store.clone();
    let products = shared
        .db
        .call(move |conn| -> Result<Vec<Value>, Fail> {
            let tx = conn.transaction()?;
            ensure_store(&tx, &store)?;
            let mut stmt = tx.prepare_cached(
                "SELECT product_code, data FROM catalogix_products
                 WHERE store_uuid = ?1 AND (?2 IS NULL OR status = ?2)
                   AND (?3 IS NULL OR product_code IN (SELECT value FROM json_each(?3))
                        OR parent_code IN (SELECT value FROM json_each(?3)))
                 ORDER BY product_code LIMIT ?4 OFFSET ?5",
            )?;
            let rows = stmt.query_map(
                params![store, status, codes, limit as i64, offset as i64],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )?;
            let mut products = Vec::new();
            for row in rows {
                let (code, data) = row?;
                products.push(json!({ code: product_view(&data) }));
            }
            Ok(products)
        })
        .await??;
    Ok(success(
        json!({"store_uuid": reply_store, "products": products}),
    ))
}

/// A stored product as retrieve-product-data shows it: its attributes, `product_code`,
/// `status`, and `assets {images, videos}` from its `Image URL n` / `Video URL n` attributes.
fn product_view(data: &str) -> Value {
    let data: Map<String, Value> = serde_json::from_str(data).unwrap_or_default();
    let urls = |prefix: &str| -> Vec<Value> {
        data.iter()
            .filter(|(key, value)| key.starts_with(prefix) && value.is_string())
            .map(|(_, value)| value.clone())
            .collect()
    };
    let assets = json!({"images": urls("Image URL"), "videos": urls("Video URL")});
    let mut view = data.clone();
    view.insert("assets".into(), assets);
    Value::Object(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_product_shows_its_image_and_video_urls_as_assets() {
        let view = product_view(
            r#"{"product_code":"CI001","status":"active","Image URL 1":"https://a/1","Video URL 1":"https://a/v"}"#,
        );
        assert_eq!(view["assets"]["images"], json!(["https://a/1"]));
        assert_eq!(view["assets"]["videos"], json!(["https://a/v"]));
        assert_eq!(view["status"], "active");
    }
}
