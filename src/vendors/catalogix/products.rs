//! The product APIs: `bulk upsert` over insert-product-data (`POST /products`) and
//! `items list|get` over retrieve-product-data (`GET /products`).

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{read_data, Client};
use crate::error::{exit, Failure};
use crate::http::{ApiError, Http};
use crate::vendors::{BulkEndpoint, BulkReply, BulkRequest, ItemFilter, ItemPages, Page};
use catops_spec::catalogix::{
    product_code, validate_product, DEFAULT_PRODUCTS_PAGE, MAX_ITEMS_PER_REQUEST,
};

const PRODUCTS_PATH: &str = "/products";

/// `POST /products?store_uuid=..`: insert or update products (`SkuDataModel` items).
pub struct ProductsUpsert {
    http: Arc<Http>,
    store_uuid: String,
}

/// insert-product-data's `data`.
#[derive(Deserialize)]
struct Inserted {
    failed_products: Vec<Value>,
    successful_product_codes: Vec<String>,
    #[serde(default)]
    existing_product_codes: Vec<String>,
}

impl ProductsUpsert {
    pub fn new(http: Arc<Http>, request: &BulkRequest) -> anyhow::Result<Self> {
        // `--catalog`, else the profile's store (filled in as the default catalog).
        let Some(store_uuid) = request.catalog.clone() else {
            return crate::error::usage("catalogix products need a store: --catalog STORE_UUID");
        };
        Ok(ProductsUpsert { http, store_uuid })
    }

    async fn insert(&self, body: bytes::Bytes) -> Result<BulkReply, ApiError> {
        let query = [("store_uuid", self.store_uuid.clone())];
        // Products are keyed by their code, so a repeated insert changes nothing.
        let reply = self
            .http
            .send(
                Method::POST,
                PRODUCTS_PATH,
                &query,
                Some(body.clone()),
                true,
            )
            .await?;
        let data: Inserted = read_data(
            &self.http,
            &Method::POST,
            PRODUCTS_PATH,
            &reply.body,
            "failed_products/successful_product_codes",
        )?;
        // The chunk's codes, by index, from the body sent (the reply names products by code).
        let sent: Vec<Value> = serde_json::from_slice(&body).unwrap_or_default();
        let codes: Vec<Option<&str>> = sent.iter().map(product_code).collect();
        Ok(read_inserted(&data, &codes))
    }
}

/// Pins each failed product to its row: by `index` where the reply has one (the sandbox's),
/// else by its `metadata.product_code`. A product listed as failed is rejected even when it
/// is also listed as successful (the documented example lists CI001 in both): its fields did
/// not all take. A failure that names no row of the chunk, or a row the reply does not list
/// at all, is found by splitting the chunk.
fn read_inserted(data: &Inserted, codes: &[Option<&str>]) -> BulkReply {
    let mut refused: Vec<(usize, String)> = Vec::new();
    let mut unattributed = 0;
    for failure in &data.failed_products {
        let metadata = failure.get("metadata");
        let code = metadata
            .and_then(|m| m.get("product_code"))
            .and_then(Value::as_str);
        let index = failure
            .get("index")
            .and_then(Value::as_u64)
            .map(|i| i as usize)
            .filter(|i| *i < codes.len())
            .or_else(|| {
                (0..codes.len()).find(|i| {
                    code.is_some() && codes[*i] == code && !refused.iter().any(|(r, _)| r == i)
                })
            });
        let Some(index) = index else {
            unattributed += 1;
            continue;
        };
        refused.push((index, failure_reason(failure)));
    }
    let successful: HashSet<&str> = data
        .successful_product_codes
        .iter()
        .map(String::as_str)
        .collect();
    let existing: HashSet<&str> = data
        .existing_product_codes
        .iter()
        .map(String::as_str)
        .collect();
    let (mut created, mut updated) = (0, 0);
    for (index, code) in codes.iter().enumerate() {
        if refused.iter().any(|(i, _)| *i == index) {
            continue;
        }
        match code {
            Some(code) if existing.contains(code) && successful.contains(code) => updated += 1,
            Some(code) if successful.contains(code) => created += 1,
            _ => unattributed += 1,
        }
    }
    BulkReply {
        created: Some(created),
        updated: Some(updated),
        refused,
        unattributed_failures: unattributed,
        indexing_token: None,
    }
}

/// `details` where the reply has them (the sandbox's), else the fields the docs list in
/// `metadata.errors`.
fn failure_reason(failure: &Value) -> String {
    if let Some(details) = failure.get("details").and_then(Value::as_str) {
        return details.to_string();
    }
    let fields: Vec<String> = failure
        .get("metadata")
        .and_then(|m| m.get("errors"))
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if fields.is_empty() {
        "the vendor reported this product as failed".to_string()
    } else {
        format!("invalid fields: {}", fields.join(", "))
    }
}

impl BulkEndpoint for ProductsUpsert {
    fn http(&self) -> &Http {
        &self.http
    }

    fn destination(&self) -> String {
        self.store_uuid.clone()
    }

    fn max_items(&self) -> usize {
        MAX_ITEMS_PER_REQUEST
    }

    fn key_field(&self) -> Option<&str> {
        Some("parent_code")
    }

    fn item(&self, fields: Map<String, Value>) -> Result<Value, (String, Value)> {
        let item = Value::Object(fields);
        match validate_product(&item) {
            Ok(()) => Ok(item),
            Err(reason) => Err((reason, item)),
        }
    }

    fn item_key(&self, item: &Value) -> Option<String> {
        product_code(item).map(str::to_string)
    }

    fn envelope(&self) -> (&[u8], &[u8]) {
        (b"[", b"]")
    }

    fn send(&self, body: bytes::Bytes) -> BoxFuture<'_, Result<BulkReply, ApiError>> {
        Box::pin(self.insert(body))
    }
}

/// retrieve-product-data's `data`: `products` is a list of one-key objects, code → product.
#[derive(Deserialize)]
struct Products {
    products: Vec<Value>,
}

impl Client {
    async fn products(
        &self,
        store: &str,
        extra: &[(&str, String)],
    ) -> Result<Vec<Value>, ApiError> {
        let mut query = vec![("store_uuid", store.to_string())];
        query.extend_from_slice(extra);
        let reply = self
            .http
            .send(Method::GET, PRODUCTS_PATH, &query, None, true)
            .await?;
        let data: Products = read_data(
            &self.http,
            &Method::GET,
            PRODUCTS_PATH,
            &reply.body,
            "store_uuid/products",
        )?;
        let mut records = Vec::with_capacity(data.products.len());
        for entry in data.products {
            match flat_product(entry) {
                Some(product) => records.push(product),
                None => {
                    let what = "a product that is not {<code>: {...}}";
                    return Err(self.http.unexpected(
                        &Method::GET,
                        PRODUCTS_PATH,
                        &reply.body,
                        what,
                    ));
                }
            }
        }
        Ok(records)
    }
}

/// `{"CI001": {...}}` printed as the product itself, `product_code` first, so `--columns`,
/// `--jq` and CSV see one flat record per product.
fn flat_product(entry: Value) -> Option<Value> {
    let Value::Object(entry) = entry else {
        return None;
    };
    if entry.len() != 1 {
        return None;
    }
    let (code, product) = entry.into_iter().next()?;
    let Value::Object(product) = product else {
        return None;
    };
    let mut flat = Map::new();
    let code = product
        .get("product_code")
        .cloned()
        .unwrap_or(Value::String(code));
    flat.insert("product_code".to_string(), code);
    for (key, value) in product {
        flat.entry(key).or_insert(value);
    }
    Some(Value::Object(flat))
}

impl ItemPages for Client {
    /// `offset`/`limit` paging; the reply has no total, so a short page is the last.
    fn items_page<'a>(
        &'a self,
        catalog: &'a str,
        page: u64,
        limit: u32,
        _filter: &'a ItemFilter,
    ) -> BoxFuture<'a, Result<Page, ApiError>> {
        Box::pin(async move {
            let offset = (page - 1).saturating_mul(u64::from(limit));
            let query = [("offset", offset.to_string()), ("limit", limit.to_string())];
            let records = self.products(catalog, &query).await?;
            Ok(Page {
                records,
                total: None,
            })
        })
    }

    /// `sku_codes=ID`: the product whose code is ID (the filter also matches style codes).
    fn item<'a>(&'a self, catalog: &'a str, id: &'a str) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let found = self
                .products(catalog, &[("sku_codes", id.to_string())])
                .await?;
            found
                .into_iter()
                .find(|p| p.get("product_code").and_then(Value::as_str) == Some(id))
                .ok_or_else(|| {
                    Failure::new(
                        exit::NOT_FOUND,
                        format!(
                            "catalogix: GET {PRODUCTS_PATH}: no product {id} in store {catalog}"
                        ),
                    )
                    .hint("`catops items list` shows the store's products")
                    .into()
                })
        })
    }

    fn all_pages_limit(&self) -> u32 {
        DEFAULT_PRODUCTS_PAGE
    }

    /// The documented list's fields (`Category` is in its example and the insert docs'), and
    /// `parent_code`, which every inserted product has.
    fn table_columns(&self) -> &'static [&'static str] {
        &["product_code", "parent_code", "status", "Category"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inserted(reply: Value) -> Inserted {
        serde_json::from_value(reply).unwrap()
    }

    #[test]
    fn the_documented_example_rejects_the_product_it_lists_as_failed() {
        let data = inserted(json!({
            "store_uuid": "67762d4ce590324df813bd8c",
            "failed_products": [{"metadata": {"product_code": "CI001", "errors": ["Category"]}}],
            "successful_product_codes": ["CI001"],
            "existing_product_codes": ["CI001"]
        }));
        let reply = read_inserted(&data, &[Some("CI001")]);
        assert_eq!(
            reply.refused,
            vec![(0, "invalid fields: Category".to_string())]
        );
        assert_eq!((reply.created, reply.updated), (Some(0), Some(0)));
        assert_eq!(reply.unattributed_failures, 0);
    }

    #[test]
    fn created_updated_and_unlisted_products() {
        let data = inserted(json!({
            "failed_products": [{"metadata": {"product_code": "NOPE", "errors": []}}],
            "successful_product_codes": ["A", "B"],
            "existing_product_codes": ["B"]
        }));
        let reply = read_inserted(&data, &[Some("A"), Some("B"), Some("C")]);
        assert_eq!((reply.created, reply.updated), (Some(1), Some(1)));
        assert!(reply.refused.is_empty());
        // NOPE names no row, and C is listed nowhere: both are left to splitting.
        assert_eq!(reply.unattributed_failures, 2);
    }

    #[test]
    fn products_print_flat_with_their_code() {
        let flat = flat_product(json!({"CI001": {"status": "active"}})).unwrap();
        assert_eq!(flat, json!({"product_code": "CI001", "status": "active"}));
        assert!(flat_product(json!({"a": {}, "b": {}})).is_none());
        assert!(flat_product(json!({"a": 1})).is_none());
    }
}
