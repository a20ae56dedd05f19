//! The asset APIs: create (`assets upsert`), delete and unlink (bulk endpoints), and the
//! grouped listing (`assets list`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{channel_of, error_text, read_data, store_of, Client};
use crate::http::{ApiError, Http};
use crate::vendors::{key_text, BulkEndpoint, BulkReply, BulkRequest, Page};
use catops_spec::catalogix::{validate_item, validate_removal, Removal, MAX_ITEMS_PER_REQUEST};

/// `POST /assets?store_uuid=..&channel=..`: create or update asset links.
pub struct AssetsUpsert {
    http: Arc<Http>,
    store_uuid: String,
    channel: String,
    asset_type: String,
}

const ASSETS_PATH: &str = "/assets";

/// `AssetUpsertResponse.data` (create-assets).
#[derive(Deserialize)]
struct UpsertCounts {
    created: u64,
    updated: u64,
    #[serde(flatten)]
    failures: Failures,
}

/// What every asset write reports of its failures: `failed` items, described in `error_info`.
#[derive(Deserialize)]
struct Failures {
    failed: u64,
    #[serde(default)]
    error_info: Vec<Value>,
}

impl AssetsUpsert {
    pub fn new(http: Arc<Http>, request: &BulkRequest) -> anyhow::Result<Self> {
        Ok(AssetsUpsert {
            http,
            store_uuid: store_of(request)?,
            channel: channel_of(request),
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
        let data: UpsertCounts = read_data(
            &self.http,
            &Method::POST,
            ASSETS_PATH,
            &reply.body,
            "created/updated/failed",
        )?;
        let (refused, unattributed_failures) = pinned_failures(&data.failures);
        Ok(BulkReply {
            created: Some(data.created),
            updated: Some(data.updated),
            refused,
            unattributed_failures,
            indexing_token: None,
        })
    }
}

/// `failed` is the vendor's count of failed items. `error_info` entries are untyped: the
/// documented example is `[{}]` on success, so an entry only means a failure when `failed`
/// says so; one naming its item by `index` pins the failure to that row (the sandbox does), and
/// the reason is in `details`/`reason` (the keys the Get Assets page documents).
fn pinned_failures(failures: &Failures) -> (Vec<(usize, String)>, u64) {
    let mut refused = Vec::new();
    if failures.failed > 0 {
        for info in &failures.error_info {
            if let Some(index) = info.get("index").and_then(Value::as_u64) {
                refused.push((index as usize, error_text(info)));
            }
        }
    }
    let unattributed = failures.failed.saturating_sub(refused.len() as u64);
    (refused, unattributed)
}

/// `DELETE /asset` (delete-asset) or `POST /assets/unlink` (unlink-assets): items name a
/// parent code and/or asset ids; the store and channel go in each item, as documented.
pub struct AssetsRemoval {
    http: Arc<Http>,
    removal: Removal,
    store_uuid: String,
    channel: String,
    /// delete-asset's path is `/asset` on docs.streamoid.com and `/assets` on its mintlify
    /// mirror: `/asset` first, and `/assets` from the first 404 or 405 on.
    plural_delete_path: AtomicBool,
}

const UNLINK_PATH: &str = "/assets/unlink";

impl AssetsRemoval {
    pub fn new(http: Arc<Http>, request: &BulkRequest, removal: Removal) -> anyhow::Result<Self> {
        Ok(AssetsRemoval {
            http,
            removal,
            store_uuid: store_of(request)?,
            channel: channel_of(request),
            plural_delete_path: AtomicBool::new(false),
        })
    }

    /// The reply's count key: what the summary cannot show, but the reply must have.
    fn count_key(&self) -> &'static str {
        match self.removal {
            Removal::Delete => "deleted_count",
            Removal::Unlink => "unlinked",
        }
    }

    async fn remove(&self, body: bytes::Bytes) -> Result<BulkReply, ApiError> {
        let (method, mut path) = match self.removal {
            Removal::Delete if self.plural_delete_path.load(Ordering::Relaxed) => {
                (Method::DELETE, ASSETS_PATH)
            }
            Removal::Delete => (Method::DELETE, "/asset"),
            Removal::Unlink => (Method::POST, UNLINK_PATH),
        };
        // Removing what is gone leaves the same state, so a lost answer may be retried.
        let mut reply = self
            .http
            .send(method.clone(), path, &[], Some(body.clone()), true)
            .await;
        if let Err(err) = &reply {
            let wrong_path = matches!(err.status().map(|s| s.as_u16()), Some(404 | 405));
            if self.removal == Removal::Delete && path == "/asset" && wrong_path {
                path = ASSETS_PATH;
                reply = self
                    .http
                    .send(method.clone(), path, &[], Some(body), true)
                    .await;
                if reply.is_ok() {
                    self.plural_delete_path.store(true, Ordering::Relaxed);
                }
            }
        }
        let reply = reply?;
        let data: Map<String, Value> =
            read_data(&self.http, &method, path, &reply.body, self.count_key())?;
        if !data.get(self.count_key()).is_some_and(Value::is_u64) {
            let missing = format!("missing field `{}`", self.count_key());
            return Err(self.http.unexpected(&method, path, &reply.body, missing));
        }
        let failures: Failures = serde_json::from_value(Value::Object(data)).map_err(|err| {
            let text = err.to_string();
            let text = text.split(" at line ").next().unwrap_or(&text).to_string();
            self.http.unexpected(&method, path, &reply.body, text)
        })?;
        let (refused, unattributed_failures) = pinned_failures(&failures);
        Ok(BulkReply {
            created: None,
            updated: None,
            refused,
            unattributed_failures,
            indexing_token: None,
        })
    }
}

impl BulkEndpoint for AssetsRemoval {
    fn http(&self) -> &Http {
        &self.http
    }

    fn max_items(&self) -> usize {
        MAX_ITEMS_PER_REQUEST
    }

    /// Unlink needs a parent code; delete takes rows of asset ids alone too.
    fn key_field(&self) -> Option<&str> {
        match self.removal {
            Removal::Delete => None,
            Removal::Unlink => Some("parent_code"),
        }
    }

    fn item_key(&self, item: &Value) -> Option<String> {
        let parent = item
            .get("parent_code")
            .and_then(key_text)
            .unwrap_or_default();
        let ids = match item.get("asset_id") {
            Some(Value::Array(ids)) => ids.iter().filter_map(key_text).collect::<Vec<_>>(),
            Some(id) => key_text(id).into_iter().collect(),
            None => Vec::new(),
        };
        Some(format!("{parent}\u{0}{}", ids.join("\u{0}")))
    }

    fn destination(&self) -> String {
        format!("{} ({})", self.store_uuid, self.channel)
    }

    fn envelope(&self) -> (&[u8], &[u8]) {
        (b"[", b"]")
    }

    /// A row's `parent_code` and `asset_id` (delete takes a list: a single id becomes one),
    /// with the store and channel of the command unless the row names its own channel.
    fn item(&self, mut fields: Map<String, Value>) -> Result<Value, (String, Value)> {
        fields
            .entry("store_uuid")
            .or_insert_with(|| Value::String(self.store_uuid.clone()));
        fields
            .entry("channel")
            .or_insert_with(|| Value::String(self.channel.clone()));
        if self.removal == Removal::Delete {
            if let Some(Value::String(id)) = fields.get("asset_id") {
                let id = Value::String(id.clone());
                fields.insert("asset_id".to_string(), Value::Array(vec![id]));
            }
        }
        let item = Value::Object(fields);
        match validate_removal(&item, self.removal) {
            Ok(()) => Ok(item),
            Err(reason) => Err((reason, item)),
        }
    }

    fn send(&self, body: bytes::Bytes) -> BoxFuture<'_, Result<BulkReply, ApiError>> {
        Box::pin(self.remove(body))
    }
}

/// What `assets list` asks for.
pub struct AssetsQuery<'a> {
    pub store_uuid: &'a str,
    pub channel: &'a str,
    pub format: &'a str,
}

/// get-assets' `data`: the groups of this page, keyed by parent code, and the total.
#[derive(Deserialize)]
struct AssetGroups {
    total_groups: u64,
    #[allow(dead_code)] // read so that a reply without it is refused, as the docs promise it
    returned_groups: u64,
    assets: Map<String, Value>,
}

impl Client {
    /// One page of asset groups (`limit` at most 50, from `offset`), each printed as one
    /// record: `parent_code` and the group's `channel`, `asset_type`, `store_uuid`, `assets`.
    pub async fn assets_page(
        &self,
        query: &AssetsQuery<'_>,
        offset: u64,
        limit: u32,
    ) -> Result<Page, ApiError> {
        let params = [
            ("store_uuid", query.store_uuid.to_string()),
            ("channel", query.channel.to_string()),
            ("asset_format", query.format.to_string()),
            ("offset", offset.to_string()),
            ("limit", limit.to_string()),
        ];
        let reply = self
            .http
            .send(Method::GET, ASSETS_PATH, &params, None, true)
            .await?;
        let data: AssetGroups = read_data(
            &self.http,
            &Method::GET,
            ASSETS_PATH,
            &reply.body,
            "total_groups/returned_groups/assets",
        )?;
        let mut records = Vec::with_capacity(data.assets.len());
        for (parent_code, group) in data.assets {
            let Value::Object(group) = group else {
                let what = format!("asset group {parent_code} is not an object");
                return Err(self
                    .http
                    .unexpected(&Method::GET, ASSETS_PATH, &reply.body, what));
            };
            let mut record = Map::new();
            record.insert("parent_code".to_string(), Value::String(parent_code));
            record.extend(group);
            records.push(Value::Object(record));
        }
        Ok(Page {
            records,
            total: Some(data.total_groups),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failures(data: Value) -> (Vec<(usize, String)>, u64) {
        pinned_failures(&serde_json::from_value(data).unwrap())
    }

    #[test]
    fn empty_error_info_entries_are_not_failures() {
        // create-assets', delete-asset's and unlink-assets' documented examples:
        // `failed: 0, error_info: [{}]`.
        let counts: UpsertCounts = serde_json::from_value(
            json!({"created": 1, "updated": 0, "failed": 0, "error_info": [{}]}),
        )
        .unwrap();
        assert_eq!((counts.created, counts.updated), (1, 0));
        let (refused, unattributed) = pinned_failures(&counts.failures);
        assert!(refused.is_empty());
        assert_eq!(unattributed, 0);
    }

    #[test]
    fn failures_are_pinned_by_index_or_left_to_splitting() {
        let (refused, unattributed) = failures(json!({"failed": 2, "error_info": [
            {"index": 2, "reason": "invalid_request", "details": "bad URL"},
            {"reason": "invalid_request", "details": "no index"},
        ]}));
        assert_eq!(refused, vec![(2, "bad URL (invalid_request)".to_string())]);
        assert_eq!(unattributed, 1);
    }
}
