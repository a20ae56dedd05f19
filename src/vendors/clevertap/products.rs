//! clevertap products: `bulk upsert` through `POST /v2/catalogs/{catalogId}/products/bulk`
//! (developer.clevertap.com/docs/create-products-bulk-api), at most 500 KB a body. The
//! product rules are in `catops_spec::clevertap::products`, shared with the sandbox.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::Failure;
use crate::http::{ApiError, Http};
use crate::vendors::{key_text, segment, BulkEndpoint, BulkReply, BulkRequest};
use catops_spec::clevertap::products::{
    validate_product, MAX_BULK_BODY_BYTES, MAX_ITEMS_PER_REQUEST,
};

/// The products pages name the two credentials `X-CleverTap-Account-Id` and
/// `X-CleverTap-Passcode`, where the v2 catalog pages say `X-Account-Id` and
/// `X-CleverTap-Token`: the same values, sent under the names this endpoint's page documents.
const PRODUCTS_HEADERS: [(&str, &str); 2] = [
    ("X-Account-Id", "X-CleverTap-Account-Id"),
    ("X-CleverTap-Token", "X-CleverTap-Passcode"),
];

/// The id column when `--id-field` does not name one: the product's own key.
pub const DEFAULT_ID_FIELD: &str = "identity";

/// The keys of a product on the bulk page; anything else in a record is a custom attribute.
const PRODUCT_KEYS: [&str; 4] = ["identity", "name", "imageUrl", "attributes"];

pub fn bulk(http: Arc<Http>, request: &BulkRequest) -> anyhow::Result<Box<dyn BulkEndpoint>> {
    Ok(Box::new(ProductsBulk::new(&http, request)?))
}

/// `POST /v2/catalogs/{catalogId}/products/bulk` with `{"products": [...]}`.
pub struct ProductsBulk {
    http: Http,
    catalog: String,
    path: String,
    id_field: String,
}

impl ProductsBulk {
    pub fn new(http: &Http, request: &BulkRequest) -> anyhow::Result<Self> {
        let catalog = request.catalog.clone().unwrap_or_default();
        // create-products-bulk-api: catalogId is a Number.
        if catalog.is_empty() || !catalog.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Failure::usage(format!(
                "clevertap catalog ids are numbers, got --catalog '{catalog}'"
            ))
            .hint("`catops catalogs list` shows them")
            .into());
        }
        Ok(ProductsBulk {
            http: http.with_auth_renamed(&PRODUCTS_HEADERS),
            path: format!("/v2/catalogs/{}/products/bulk", segment(&catalog)),
            catalog,
            id_field: request
                .id_field
                .clone()
                .unwrap_or_else(|| DEFAULT_ID_FIELD.to_string()),
        })
    }
}

impl BulkEndpoint for ProductsBulk {
    fn http(&self) -> &Http {
        &self.http
    }

    fn destination(&self) -> String {
        format!("catalog {}", self.catalog)
    }

    fn max_items(&self) -> usize {
        MAX_ITEMS_PER_REQUEST
    }

    fn max_body_bytes(&self) -> Option<usize> {
        Some(MAX_BULK_BODY_BYTES)
    }

    fn key_field(&self) -> Option<&str> {
        Some(&self.id_field)
    }

    fn item_key(&self, item: &Value) -> Option<String> {
        key_text(item.get("identity")?)
    }

    fn envelope(&self) -> (&[u8], &[u8]) {
        (b"{\"products\":[", b"]}")
    }

    fn item(&self, fields: Map<String, Value>) -> Result<Value, (String, Value)> {
        let product = to_product(fields, &self.id_field)?;
        match validate_product(&product) {
            Ok(()) => Ok(product),
            Err(reason) => Err((reason, product)),
        }
    }

    fn send(&self, body: bytes::Bytes) -> BoxFuture<'_, Result<BulkReply, ApiError>> {
        Box::pin(self.create(body))
    }
}

/// A record as a product: the id column becomes `identity`; `name` and `imageUrl` are the
/// documented fixed fields; every other column (and the entries of an `attributes` object, so
/// a record already in the product's shape passes through) goes under `attributes`, where the
/// bulk page puts custom attributes. Numbers in the text fields are the text the user meant.
fn to_product(mut fields: Map<String, Value>, id_field: &str) -> Result<Value, (String, Value)> {
    let mut product = Map::new();
    match fields.shift_remove(id_field).map(as_text) {
        Some(Value::String(id)) if !id.is_empty() => {
            product.insert("identity".into(), Value::String(id));
        }
        Some(Value::String(_)) | Some(Value::Null) | None => {
            let reason = format!("the id field {id_field} is missing");
            return Err((reason, Value::Object(fields)));
        }
        Some(other) => {
            fields.insert(id_field.to_string(), other);
            let reason = format!("the id field {id_field} must be a string");
            return Err((reason, Value::Object(fields)));
        }
    }
    for key in ["name", "imageUrl"] {
        if let Some(value) = fields.shift_remove(key) {
            product.insert(key.into(), as_text(value));
        }
    }
    let mut attributes = match fields.shift_remove("attributes") {
        Some(Value::Object(given)) => given,
        Some(other) => {
            product.insert("attributes".into(), other);
            return Err((
                "attributes must be an object".into(),
                Value::Object(product),
            ));
        }
        None => Map::new(),
    };
    attributes.extend(fields);
    if !attributes.is_empty() {
        product.insert("attributes".into(), Value::Object(attributes));
    }
    debug_assert!(product.keys().all(|k| PRODUCT_KEYS.contains(&k.as_str())));
    Ok(Value::Object(product))
}

fn as_text(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    }
}

/// The reply of products/bulk is not shown on its page; it says only that invalid products
/// "may fail individually in bulk requests". catops reads CleverTap's documented bulk-write
/// reply (the Upload API's `{status, processed, unprocessed: [{status, code, error, record}]}`),
/// and nothing else: any other body is an error, never "accepted".
#[derive(Deserialize)]
struct BulkWritten {
    status: String,
    processed: u64,
    #[serde(default)]
    unprocessed: Vec<Value>,
    error: Option<String>,
}

/// Of the body sent, only each product's identity, to pin failures to rows.
#[derive(Deserialize)]
struct Sent {
    products: Vec<SentProduct>,
}

#[derive(Deserialize)]
struct SentProduct {
    identity: Value,
}

impl ProductsBulk {
    async fn create(&self, body: bytes::Bytes) -> Result<BulkReply, ApiError> {
        let post = Method::POST;
        let sent: Sent = serde_json::from_slice(&body).map_err(|err| {
            self.http.unexpected(
                &post,
                &self.path,
                &[],
                format!("catops built a bad body: {err}"),
            )
        })?;
        // Products are keyed by identity: sending one again leaves the same product.
        let reply = self
            .http
            .send(post.clone(), &self.path, &[], Some(body), true)
            .await?;
        let written: BulkWritten = self.http.decode(&post, &self.path, &reply.body)?;
        if !matches!(written.status.as_str(), "success" | "partial" | "fail") {
            let what = format!(
                "status '{}' (expected success, partial or fail)",
                written.status
            );
            return Err(self.http.unexpected(&post, &self.path, &reply.body, what));
        }
        if written.status == "fail" && written.unprocessed.is_empty() {
            let message = written.error.unwrap_or_else(|| "status fail".to_string());
            return Err(self.http.refused(&post, &self.path, message));
        }
        let answered = written.processed + written.unprocessed.len() as u64;
        if answered != sent.products.len() as u64 {
            let what = format!(
                "the reply accounts for {answered} products (processed + unprocessed), the request sent {}",
                sent.products.len()
            );
            return Err(self.http.unexpected(&post, &self.path, &reply.body, what));
        }
        Ok(attribute(&sent.products, &written.unprocessed))
    }
}

/// Pins each unprocessed entry to a row: by `index` where the entry has one, else by the
/// identity of its `record` (or its own `identity`); what names no row is found by halving.
fn attribute(sent: &[SentProduct], unprocessed: &[Value]) -> BulkReply {
    let mut refused: Vec<(usize, String)> = Vec::new();
    let mut unattributed = 0;
    for entry in unprocessed {
        let taken = |i: &usize| refused.iter().any(|(r, _)| r == i);
        let by_index = entry
            .get("index")
            .and_then(Value::as_u64)
            .map(|i| i as usize)
            .filter(|i| *i < sent.len() && !taken(i));
        let identity = entry
            .get("record")
            .and_then(|r| r.get("identity"))
            .or_else(|| entry.get("identity"));
        let by_identity = || {
            let identity = identity?;
            (0..sent.len()).find(|i| &sent[*i].identity == identity && !taken(i))
        };
        match by_index.or_else(by_identity) {
            Some(index) => refused.push((index, reason(entry))),
            None => unattributed += 1,
        }
    }
    BulkReply {
        created: None,
        updated: None,
        refused,
        unattributed_failures: unattributed,
        indexing_token: None,
    }
}

/// The entry's `error` (the Upload API's key), else `message`/`reason`, with its `code`.
fn reason(entry: &Value) -> String {
    let text = ["error", "message", "reason"]
        .iter()
        .find_map(|k| entry.get(*k).and_then(Value::as_str))
        .unwrap_or("the vendor did not process this product");
    match entry.get("code").filter(|c| !c.is_null()) {
        Some(Value::String(code)) => format!("{text} ({code})"),
        Some(code) => format!("{text} ({code})"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn columns_map_to_fixed_fields_and_attributes() {
        let row = record(
            json!({"sku": "P-1", "name": "Shoe", "imageUrl": "https://x/1.png",
            "brand": "Acme", "price": 9.5}),
        );
        assert_eq!(
            to_product(row, "sku").unwrap(),
            json!({"identity": "P-1", "name": "Shoe", "imageUrl": "https://x/1.png",
                "attributes": {"brand": "Acme", "price": 9.5}})
        );
        let shaped = json!({"identity": 7, "name": "N", "attributes": {"a": 1}});
        assert_eq!(
            to_product(record(shaped), "identity").unwrap(),
            json!({"identity": "7", "name": "N", "attributes": {"a": 1}})
        );
        let (why, _) = to_product(record(json!({"name": "N"})), "identity").unwrap_err();
        assert_eq!(why, "the id field identity is missing");
    }

    #[test]
    fn unprocessed_entries_name_their_rows_by_index_or_identity() {
        let sent: Vec<SentProduct> = ["a", "b", "b", "c"]
            .iter()
            .map(|id| SentProduct {
                identity: json!(id),
            })
            .collect();
        let reply = attribute(
            &sent,
            &[
                json!({"status": "fail", "code": 509, "error": "bad price", "record": {"identity": "b"}}),
                json!({"identity": "b", "message": "again"}),
                json!({"index": 3, "error": "x", "code": "INVALID"}),
                json!({"error": "who?"}),
            ],
        );
        assert_eq!(
            reply.refused,
            vec![
                (1, "bad price (509)".to_string()),
                (2, "again".to_string()),
                (3, "x (INVALID)".to_string())
            ]
        );
        assert_eq!(reply.unattributed_failures, 1);
    }
}
