//! catalogix (vendors/catalogix.txt, docs.streamoid.com): asset links. The asset item rules
//! are in `catops_spec::catalogix`, shared with the sandbox.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Probe;
use super::{
    key_text, BulkEndpoint, BulkReply, BulkRequest, Operation, PlainClient, Vendor, VendorKind,
};
use crate::config::Profile;
use crate::error::Failure;
use crate::http::{ApiError, Http};
use catops_spec::catalogix::{validate_item, DEFAULT_CHANNEL, MAX_ITEMS_PER_REQUEST};

const DEFAULT_BASE_URL: &str = "https://api.catalogix.ai/v1";

pub struct Catalogix;

impl Vendor for Catalogix {
    fn kind(&self) -> VendorKind {
        VendorKind::Catalogix
    }

    fn default_base_url(&self, _profile: &Profile) -> String {
        DEFAULT_BASE_URL.to_string()
    }

    fn operations(&self) -> &'static [Operation] {
        &[Operation::AssetsUpsert]
    }

    fn client(&self, http: Http) -> Box<dyn super::Client> {
        Box::new(PlainClient(http))
    }

    /// GET /assets of the profile's store, one group.
    fn probe(&self, profile: &Profile) -> Probe {
        Probe {
            path: "/assets",
            query: vec![
                ("store_uuid", profile.store_uuid.clone().unwrap_or_default()),
                ("limit", "1".to_string()),
            ],
        }
    }

    fn bulk(
        &self,
        http: Arc<Http>,
        request: &BulkRequest,
    ) -> anyhow::Result<Box<dyn BulkEndpoint>> {
        Ok(Box::new(AssetsUpsert::new(http, request)?))
    }
}

/// `POST /assets?store_uuid=..&channel=..`: create or update asset links.
pub struct AssetsUpsert {
    http: Arc<Http>,
    store_uuid: String,
    channel: String,
    asset_type: String,
}

const ASSETS_PATH: &str = "/assets";

/// `AssetUpsertResponse` (create-assets): the `StandardStatus` and, on success, the counts.
#[derive(Deserialize)]
struct AssetsReply {
    status: StandardStatus,
    data: Option<AssetsCounts>,
}

/// "0 = success, -1 = error".
#[derive(Deserialize)]
struct StandardStatus {
    code: i64,
    message: Option<String>,
}

#[derive(Deserialize)]
struct AssetsCounts {
    created: u64,
    updated: u64,
    failed: u64,
    #[serde(default)]
    error_info: Vec<Value>,
}

impl AssetsUpsert {
    pub fn new(http: Arc<Http>, request: &BulkRequest) -> anyhow::Result<Self> {
        let Some(store_uuid) = request.store_uuid.clone() else {
            return Err(Failure::usage("catalogix needs a store: --store-uuid U")
                .hint("or set store_uuid in the profile")
                .into());
        };
        Ok(AssetsUpsert {
            http,
            store_uuid,
            channel: request
                .channel
                .clone()
                .unwrap_or_else(|| DEFAULT_CHANNEL.to_string()),
            asset_type: request.asset_type.clone(),
        })
    }
}

impl BulkEndpoint for AssetsUpsert {
    fn http(&self) -> &Http {
        &self.http
    }

    fn max_items(&self) -> usize {
        MAX_ITEMS_PER_REQUEST
    }

    fn key_field(&self) -> Option<&str> {
        None
    }

    /// Asset links are kept per parent code and asset type.
    fn item_key(&self, item: &Value) -> Option<String> {
        Some(format!(
            "{}\u{0}{}",
            key_text(item.get("parent_code")?)?,
            key_text(item.get("asset_type")?)?
        ))
    }

    fn destination(&self) -> String {
        format!("{} ({})", self.store_uuid, self.channel)
    }

    fn envelope(&self) -> (&[u8], &[u8]) {
        (b"[", b"]")
    }

    /// A record with an `assets` object passes through; a flat one (a CSV row) becomes
    /// `parent_code`, `asset_type`, `product_uuid` and every other column as an asset URL.
    fn item(&self, mut fields: Map<String, Value>) -> Result<Value, (String, Value)> {
        if !fields.contains_key("assets") {
            let mut item = Map::new();
            for key in ["parent_code", "asset_type", "product_uuid"] {
                if let Some(value) = fields.shift_remove(key) {
                    item.insert(key.to_string(), value);
                }
            }
            item.insert("assets".to_string(), Value::Object(fields));
            fields = item;
        }
        fields
            .entry("asset_type")
            .or_insert_with(|| Value::String(self.asset_type.clone()));
        let item = Value::Object(fields);
        match validate_item(&item) {
            Ok(()) => Ok(item),
            Err(reason) => Err((reason, item)),
        }
    }

    fn send(&self, body: bytes::Bytes) -> BoxFuture<'_, Result<BulkReply, ApiError>> {
        Box::pin(self.upsert(body))
    }
}

impl AssetsUpsert {
    async fn upsert(&self, body: bytes::Bytes) -> Result<BulkReply, ApiError> {
        let query = [
            ("store_uuid", self.store_uuid.clone()),
            ("channel", self.channel.clone()),
        ];
        // Asset links are keyed by product and name, so a repeated upsert changes nothing.
        let reply = self
            .http
            .send(Method::POST, ASSETS_PATH, &query, Some(body), true)
            .await?;
        let body = reply.body;
        let reply: AssetsReply = self.http.decode(&Method::POST, ASSETS_PATH, &body)?;
        if reply.status.code != 0 {
            // A 200 whose status says -1 is a refusal, whatever the HTTP status claims.
            let message = crate::http::vendor_message(&body)
                .or(reply.status.message)
                .unwrap_or_else(|| "status.code is -1".to_string());
            return Err(self.http.refused(&Method::POST, ASSETS_PATH, message));
        }
        let Some(data) = reply.data else {
            return Err(self.http.unexpected(
                &Method::POST,
                ASSETS_PATH,
                &body,
                "status.code 0 without data (created/updated/failed)",
            ));
        };
        Ok(read_counts(data))
    }
}

/// `failed` is the vendor's count of failed items. `error_info` entries are untyped: the
/// documented example is `[{}]` on success, so an entry only means a failure when `failed`
/// says so; one naming its item by `index` pins the failure to that row (the sandbox does), and
/// the reason is in `details`/`reason` (the keys the Get Assets page documents).
fn read_counts(data: AssetsCounts) -> BulkReply {
    let mut refused = Vec::new();
    if data.failed > 0 {
        for info in &data.error_info {
            let Some(index) = info.get("index").and_then(Value::as_u64) else {
                continue;
            };
            let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_string);
            let reason = match (text("details"), text("reason")) {
                (Some(details), Some(reason)) => format!("{details} ({reason})"),
                (Some(one), None) | (None, Some(one)) => one,
                (None, None) => text("error")
                    .or_else(|| text("message"))
                    .unwrap_or_else(|| info.to_string()),
            };
            refused.push((index as usize, reason));
        }
    }
    BulkReply {
        created: Some(data.created),
        updated: Some(data.updated),
        unattributed_failures: data.failed.saturating_sub(refused.len() as u64),
        refused,
        indexing_token: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn counts(reply: Value) -> BulkReply {
        read_counts(serde_json::from_value(reply).unwrap())
    }

    #[test]
    fn empty_error_info_entries_are_not_failures() {
        // create-assets' documented example: one created, `error_info: [{}]`.
        let reply = counts(json!({"created": 1, "updated": 0, "failed": 0, "error_info": [{}]}));
        assert_eq!((reply.created, reply.updated), (Some(1), Some(0)));
        assert_eq!(reply.unattributed_failures, 0);
        assert!(reply.refused.is_empty());
    }

    #[test]
    fn failures_are_pinned_by_index_or_left_to_splitting() {
        let reply = counts(
            json!({"created": 1, "updated": 0, "failed": 2, "error_info": [
                {"index": 2, "reason": "invalid_request", "details": "bad URL"},
                {"reason": "invalid_request", "details": "no index"},
            ]}),
        );
        assert_eq!(
            reply.refused,
            vec![(2, "bad URL (invalid_request)".to_string())]
        );
        assert_eq!(reply.unattributed_failures, 1);
    }
}
