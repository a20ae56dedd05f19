//! catalogix (vendors/catalogix.txt): connection facts and the asset item rules, which both the
//! bulk validator and the sandbox's emulation enforce.

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{BulkReply, BulkRequest};
use crate::error::Failure;
use crate::http::{ApiError, Http};

pub const DEFAULT_BASE_URL: &str = "https://api.catalogix.ai/v1";
/// vendors/catalogix.txt: "413 Payload too large: The API accepts upto 100 data items at a time."
pub const MAX_ITEMS_PER_REQUEST: usize = 100;
/// The `channel` query parameter's documented default.
pub const DEFAULT_CHANNEL: &str = "SMP";

/// `POST /assets?store_uuid=..&channel=..`: create or update asset links.
pub struct AssetsUpsert {
    http: Arc<Http>,
    store_uuid: String,
    channel: String,
    asset_type: String,
}

const ASSETS_PATH: &str = "/assets";

#[derive(Deserialize)]
struct AssetsReply {
    data: Option<AssetsCounts>,
}

#[derive(Deserialize)]
struct AssetsCounts {
    created: Option<u64>,
    updated: Option<u64>,
    failed: Option<u64>,
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

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub fn destination(&self) -> String {
        format!("{} ({})", self.store_uuid, self.channel)
    }

    pub fn envelope(&self) -> (&[u8], &[u8]) {
        (b"[", b"]")
    }

    /// A record with an `assets` object passes through; a flat one (a CSV row) becomes
    /// `parent_code`, `asset_type`, `product_uuid` and every other column as an asset URL.
    pub fn item(&self, mut fields: Map<String, Value>) -> Result<Value, (String, Value)> {
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

    pub async fn send(&self, body: bytes::Bytes) -> Result<BulkReply, ApiError> {
        let query = [
            ("store_uuid", self.store_uuid.clone()),
            ("channel", self.channel.clone()),
        ];
        // Asset links are keyed by product and name, so a repeated upsert changes nothing.
        let reply = self
            .http
            .send(Method::POST, ASSETS_PATH, &query, Some(body), true)
            .await?;
        let reply: AssetsReply = self.http.decode(&Method::POST, ASSETS_PATH, &reply.body)?;
        let Some(data) = reply.data else {
            return Ok(BulkReply::default());
        };
        // error_info entries name the item by its index where the server gives one.
        let mut refused = Vec::new();
        let mut unattributed = 0;
        for info in &data.error_info {
            let reason = info
                .get("error")
                .or_else(|| info.get("message"))
                .and_then(Value::as_str)
                .map_or_else(|| info.to_string(), str::to_string);
            match info.get("index").and_then(Value::as_u64) {
                Some(index) => refused.push((index as usize, reason)),
                None => unattributed += 1,
            }
        }
        let failed = data.failed.unwrap_or(0);
        Ok(BulkReply {
            created: data.created,
            updated: data.updated,
            unattributed_failures: failed
                .saturating_sub(refused.len() as u64)
                .max(unattributed),
            refused,
        })
    }
}

/// Checks one `AssetUpsertItem`: `parent_code`, `asset_type` and `assets` are required, and
/// every asset is a URL.
pub fn validate_item(item: &Value) -> Result<(), String> {
    let Value::Object(item) = item else {
        return Err("an asset item must be a JSON object".into());
    };
    for key in item.keys() {
        if !matches!(
            key.as_str(),
            "parent_code" | "asset_type" | "product_uuid" | "assets"
        ) {
            return Err(format!("unexpected key '{key}'"));
        }
    }
    for required in ["parent_code", "asset_type"] {
        match item.get(required) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(format!("{required} is missing"))
            }
            Some(_) => return Err(format!("{required} must be a string")),
        }
    }
    if let Some(uuid) = item.get("product_uuid") {
        if !uuid.is_string() {
            return Err("product_uuid must be a string".into());
        }
    }
    let assets = match item.get("assets") {
        Some(Value::Object(assets)) if !assets.is_empty() => assets,
        Some(Value::Object(_)) | None | Some(Value::Null) => {
            return Err("assets is missing: give at least one asset URL".into())
        }
        Some(_) => return Err("assets must be an object of name → URL".into()),
    };
    for (name, url) in assets {
        let Value::String(url) = url else {
            return Err(format!("asset '{name}' must be a URL string"));
        };
        if !is_web_url(url) {
            return Err(format!("asset '{name}': '{url}' is not an http(s) URL"));
        }
    }
    Ok(())
}

fn is_web_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !url.chars().any(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_example_is_valid() {
        let item = json!({"parent_code": "SKU001", "asset_type": "image",
                          "assets": {"Image URL 1": "https://cdn.example.com/img1.jpg"}});
        assert_eq!(validate_item(&item), Ok(()));
    }

    #[test]
    fn required_fields_and_urls() {
        let missing = json!({"asset_type": "image", "assets": {"a": "https://x/y"}});
        assert!(validate_item(&missing)
            .unwrap_err()
            .contains("parent_code is missing"));
        let no_assets = json!({"parent_code": "P", "asset_type": "image", "assets": {}});
        assert!(validate_item(&no_assets)
            .unwrap_err()
            .contains("assets is missing"));
        let bad_url =
            json!({"parent_code": "P", "asset_type": "image", "assets": {"a": "img1.jpg"}});
        assert!(validate_item(&bad_url)
            .unwrap_err()
            .contains("not an http(s) URL"));
        let not_string = json!({"parent_code": "P", "asset_type": "image", "assets": {"a": 1}});
        assert!(validate_item(&not_string).is_err());
        let extra = json!({"parent_code": "P", "asset_type": "image", "assets": {"a": "https://x"}, "b": 1});
        assert!(validate_item(&extra)
            .unwrap_err()
            .contains("unexpected key"));
    }
}
