//! catalogix (vendors/catalogix.txt, docs.streamoid.com): asset links (create, list, delete,
//! unlink) and products (insert, retrieve). The item rules are in `catops_spec::catalogix`,
//! shared with the sandbox.

mod assets;
mod products;

use std::any::Any;
use std::sync::Arc;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::pages::{self, RawPage};
use super::{Advice, BulkEndpoint, BulkRequest, ItemPages, Operation, Probe, Vendor, VendorKind};
use crate::config::Profile;
use crate::error::Failure;
use crate::http::{ApiError, AuthHeader, Http};
use crate::secret::Secret;
pub use assets::AssetsQuery;
use assets::{AssetsRemoval, AssetsUpsert};
use catops_spec::catalogix::Removal;
pub use catops_spec::catalogix::{ASSET_FORMATS, DEFAULT_CHANNEL, MAX_ASSET_GROUPS_PAGE};
use products::ProductsUpsert;

const DEFAULT_BASE_URL: &str = "https://api.catalogix.ai/v1";

pub struct Catalogix;

impl Vendor for Catalogix {
    fn kind(&self) -> VendorKind {
        VendorKind::Catalogix
    }

    fn default_base_url(&self, _profile: &Profile) -> String {
        DEFAULT_BASE_URL.to_string()
    }

    /// Bearer, as every page documents; insert-product-data documents only an `apikey`
    /// header, so the same token ("You can use the same token for all APIs") goes there too,
    /// marked secret like Authorization.
    fn auth_headers(&self, _profile: &Profile, token: &Secret) -> anyhow::Result<Vec<AuthHeader>> {
        Ok(vec![
            AuthHeader::bearer(token)?,
            AuthHeader::secret("apikey", token.expose())?,
        ])
    }

    fn default_catalog(&self, profile: &Profile) -> Option<String> {
        profile.store_uuid.clone()
    }

    fn operations(&self) -> &'static [Operation] {
        &[
            Operation::AssetsUpsert,
            Operation::AssetsList,
            Operation::AssetsDelete,
            Operation::AssetsUnlink,
            Operation::ItemsList,
            Operation::ItemsGet,
            Operation::BulkUpsert,
        ]
    }

    fn client(&self, http: Http) -> Box<dyn super::Client> {
        Box::new(Client { http })
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

    /// Every catalogix path is fixed, so a 404 is about the store (catalogix lists no
    /// catalogs to look it up with).
    fn advice(&self, err: &ApiError) -> Advice {
        let not_found = err.status().map(|s| s.as_u16()) == Some(404);
        Advice {
            exit_code: None,
            hint: not_found.then_some(
                "check the store: --store-uuid (assets), --catalog (products) or store_uuid in the profile",
            ),
        }
    }

    /// `GET /assets` (`data.assets`: groups keyed by parent code, and `total_groups`), `GET
    /// /products` (`data.products`) and `GET /search` (`data`, an array) page by `offset` and
    /// `limit`. A group is printed as `{parent_code: group}`, the shape products come in.
    fn raw_page(&self, query: &[(String, String)], reply: Value) -> Result<RawPage, String> {
        let (elements, total) = raw_list(reply)?;
        let next = pages::next_offset(query, elements.len(), total)?;
        Ok(RawPage { elements, next })
    }

    fn bulk(
        &self,
        http: Arc<Http>,
        request: &BulkRequest,
    ) -> anyhow::Result<Box<dyn BulkEndpoint>> {
        Ok(match request.operation {
            Operation::AssetsDelete => {
                Box::new(AssetsRemoval::new(http, request, Removal::Delete)?)
            }
            Operation::AssetsUnlink => {
                Box::new(AssetsRemoval::new(http, request, Removal::Unlink)?)
            }
            Operation::BulkUpsert => Box::new(ProductsUpsert::new(http, request)?),
            _ => Box::new(AssetsUpsert::new(http, request)?),
        })
    }
}

/// The elements of a list reply in the `{status, data}` envelope, and the total where it
/// says one; a reply whose `status.code` is -1 was refused, whatever its HTTP status.
fn raw_list(reply: Value) -> Result<(Vec<Value>, Option<u64>), String> {
    if reply.pointer("/status/code").and_then(Value::as_i64) == Some(-1) {
        let message = crate::http::vendor_message(reply.to_string().as_bytes());
        return Err(format!("refused: {}", message.unwrap_or_default()));
    }
    let Value::Object(mut envelope) = reply else {
        return Err("the reply is not the documented {status, data} envelope".to_string());
    };
    match envelope.remove("data") {
        Some(Value::Array(found)) => Ok((found, None)),
        Some(Value::Object(mut data)) => match (data.remove("assets"), data.remove("products")) {
            (Some(Value::Object(groups)), _) => {
                let total = pages::count(&Value::Object(data), "total_groups")?;
                let groups = groups
                    .into_iter()
                    .map(|(code, group)| Value::Object(Map::from_iter([(code, group)])))
                    .collect();
                Ok((groups, total))
            }
            (_, Some(Value::Array(products))) => Ok((products, None)),
            _ => Err(NO_LIST.to_string()),
        },
        _ => Err(NO_LIST.to_string()),
    }
}

const NO_LIST: &str = "missing field `data.assets`, `data.products` or `data` (an array)";

/// The store an asset request goes to, from `--store-uuid` or the profile.
fn store_of(request: &BulkRequest) -> anyhow::Result<String> {
    request.store_uuid.clone().ok_or_else(|| {
        Failure::usage("catalogix needs a store: --store-uuid U")
            .hint("or set store_uuid in the profile")
            .into()
    })
}

fn channel_of(request: &BulkRequest) -> String {
    request
        .channel
        .clone()
        .unwrap_or_else(|| DEFAULT_CHANNEL.to_string())
}

pub struct Client {
    http: Http,
}

impl super::Client for Client {
    fn http(&self) -> &Http {
        &self.http
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn item_pages(&self) -> Option<&dyn ItemPages> {
        Some(self)
    }
}

/// "0 = success, -1 = error".
#[derive(Deserialize)]
struct StandardStatus {
    code: i64,
    message: Option<String>,
}

/// `{status: StandardStatus, data}`, the envelope of every catalogix reply.
#[derive(Deserialize)]
struct Envelope {
    status: StandardStatus,
    data: Option<Value>,
}

/// The `data` of a reply, read as `T`. A `status.code` other than 0 is a refusal, whatever
/// the HTTP status claims; a success without the `data` the docs promise (`what`) is an error.
fn read_data<T: DeserializeOwned>(
    http: &Http,
    method: &Method,
    path: &str,
    body: &[u8],
    what: &str,
) -> Result<T, ApiError> {
    let reply: Envelope = http.decode(method, path, body)?;
    if reply.status.code != 0 {
        let message = crate::http::vendor_message(body)
            .or(reply.status.message)
            .unwrap_or_else(|| format!("status.code is {}", reply.status.code));
        return Err(http.refused(method, path, message));
    }
    let Some(data) = reply.data else {
        return Err(http.unexpected(
            method,
            path,
            body,
            format!("status.code 0 without data ({what})"),
        ));
    };
    serde_json::from_value(data).map_err(|err| {
        let text = err.to_string();
        let text = text.split(" at line ").next().unwrap_or(&text).to_string();
        http.unexpected(method, path, body, format!("data: {text}"))
    })
}

/// The text of an untyped `error_info` entry: `details`/`reason` (the keys the Get Assets
/// page documents), else any message it has.
fn error_text(info: &Value) -> String {
    let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_string);
    match (text("details"), text("reason")) {
        (Some(details), Some(reason)) => format!("{details} ({reason})"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => text("error")
            .or_else(|| text("message"))
            .unwrap_or_else(|| info.to_string()),
    }
}
