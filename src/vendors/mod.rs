//! The five vendors behind one seam: `VendorKind` holds each vendor's connection facts,
//! `Operation` says which vendor can run which command, and `Api` is what commands call.

pub mod batch;
pub mod catalogian;
pub mod catalogix;
pub mod clevertap;
pub mod rastro;

use std::fmt;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{Profile, Secret};
use crate::http::{ApiError, AuthHeader, Http};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum VendorKind {
    Rastro,
    Batch,
    Catalogix,
    Clevertap,
    Catalogian,
}

const ALL_VENDORS: [VendorKind; 5] = [
    VendorKind::Rastro,
    VendorKind::Batch,
    VendorKind::Catalogix,
    VendorKind::Clevertap,
    VendorKind::Catalogian,
];

impl VendorKind {
    pub fn name(self) -> &'static str {
        match self {
            VendorKind::Rastro => "rastro",
            VendorKind::Batch => "batch",
            VendorKind::Catalogix => "catalogix",
            VendorKind::Clevertap => "clevertap",
            VendorKind::Catalogian => "catalogian",
        }
    }

    /// The production base URL (SPEC §1), which paths from the vendor docs are appended to.
    pub fn default_base_url(self, profile: &Profile) -> String {
        match self {
            VendorKind::Rastro => rastro::DEFAULT_BASE_URL.to_string(),
            VendorKind::Batch => batch::default_base_url(profile),
            VendorKind::Catalogix => catalogix::DEFAULT_BASE_URL.to_string(),
            VendorKind::Clevertap => clevertap::default_base_url(profile),
            VendorKind::Catalogian => catalogian::DEFAULT_BASE_URL.to_string(),
        }
    }

    /// Where the built-in sandbox serves this vendor (SPEC §8).
    pub fn sandbox_prefix(self, profile: &Profile) -> String {
        match self {
            VendorKind::Rastro => "/rastro/api".to_string(),
            VendorKind::Batch => format!("/batch/{}", batch::api_version(profile)),
            VendorKind::Catalogix => "/catalogix/v1".to_string(),
            VendorKind::Clevertap => "/clevertap".to_string(),
            VendorKind::Catalogian => "/catalogian".to_string(),
        }
    }

    /// The headers that authenticate a request; the ones holding the token are marked secret.
    pub fn auth_headers(
        self,
        profile: &Profile,
        token: &Secret,
    ) -> anyhow::Result<Vec<AuthHeader>> {
        match self {
            VendorKind::Rastro | VendorKind::Catalogix | VendorKind::Catalogian => {
                Ok(vec![AuthHeader::bearer(token)?])
            }
            VendorKind::Batch => batch::auth_headers(profile, token),
            VendorKind::Clevertap => clevertap::auth_headers(profile, token),
        }
    }
}

impl fmt::Display for VendorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every command that talks to a vendor, and the vendors this build can run it for.
/// A command outside a vendor's list fails with exit 2 naming the vendors that can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    CatalogsList,
    CatalogsCreate,
    ItemsList,
    ItemsGet,
    ItemsUpdate,
    BulkUpsert,
    BulkRemove,
    AssetsUpsert,
    CatalogsGet,
    EnrichStart,
    EnrichStatus,
    EnrichCancel,
    DeltaSources,
    DeltaList,
    DeltaLatest,
    DeltaRows,
    DeltaWatch,
    Api,
}

impl Operation {
    pub fn command(self) -> &'static str {
        match self {
            Operation::CatalogsList => "catalogs list",
            Operation::CatalogsCreate => "catalogs create",
            Operation::ItemsList => "items list",
            Operation::ItemsGet => "items get",
            Operation::ItemsUpdate => "items update",
            Operation::BulkUpsert => "bulk upsert",
            Operation::BulkRemove => "bulk remove",
            Operation::AssetsUpsert => "assets upsert",
            Operation::CatalogsGet => "catalogs get",
            Operation::EnrichStart => "enrich start",
            Operation::EnrichStatus => "enrich status",
            Operation::EnrichCancel => "enrich cancel",
            Operation::DeltaSources => "delta sources",
            Operation::DeltaList => "delta list",
            Operation::DeltaLatest => "delta latest",
            Operation::DeltaRows => "delta rows",
            Operation::DeltaWatch => "delta watch",
            Operation::Api => "api",
        }
    }

    pub fn vendors(self) -> &'static [VendorKind] {
        match self {
            Operation::CatalogsList => &[VendorKind::Rastro, VendorKind::Clevertap],
            Operation::CatalogsGet => &[VendorKind::Clevertap],
            Operation::CatalogsCreate
            | Operation::ItemsList
            | Operation::ItemsGet
            | Operation::ItemsUpdate
            | Operation::EnrichStart
            | Operation::EnrichStatus
            | Operation::EnrichCancel => &[VendorKind::Rastro],
            Operation::DeltaSources
            | Operation::DeltaList
            | Operation::DeltaLatest
            | Operation::DeltaRows
            | Operation::DeltaWatch => &[VendorKind::Catalogian],
            Operation::Api => &ALL_VENDORS,
            Operation::BulkUpsert => &[VendorKind::Rastro, VendorKind::Batch],
            Operation::BulkRemove => &[VendorKind::Batch],
            Operation::AssetsUpsert => &[VendorKind::Catalogix],
        }
    }
}

/// The largest catalogs page that every vendor with a catalog list takes.
pub const MAX_CATALOGS_PAGE: u32 = if rastro::MAX_CATALOGS_LIMIT < clevertap::MAX_PAGE_SIZE {
    rastro::MAX_CATALOGS_LIMIT
} else {
    clevertap::MAX_PAGE_SIZE
};

/// One page of a paginated list.
pub struct Page {
    pub records: Vec<Value>,
    /// The total the vendor reports, when it does.
    pub total: Option<u64>,
}

/// The seam commands call: one variant per vendor client. `Context::api` builds it only for a
/// vendor that `Operation::vendors` lists, and commands ask for the client they need.
pub enum Api {
    Rastro(rastro::Rastro),
    Clevertap(clevertap::Clevertap),
    Catalogian(catalogian::Catalogian),
    /// Vendors whose only commands are bulk ones, reached here by `catops api`.
    Raw(Http),
}

impl Api {
    pub fn connect(kind: VendorKind, http: Http) -> Api {
        match kind {
            VendorKind::Rastro => Api::Rastro(rastro::Rastro::new(http)),
            VendorKind::Clevertap => Api::Clevertap(clevertap::Clevertap::new(http)),
            VendorKind::Catalogian => Api::Catalogian(catalogian::Catalogian::new(http)),
            VendorKind::Batch | VendorKind::Catalogix => Api::Raw(http),
        }
    }

    pub fn http(&self) -> &Http {
        match self {
            Api::Rastro(client) => client.http(),
            Api::Clevertap(client) => client.http(),
            Api::Catalogian(client) => client.http(),
            Api::Raw(http) => http,
        }
    }

    pub fn rastro(&self) -> anyhow::Result<&rastro::Rastro> {
        match self {
            Api::Rastro(client) => Ok(client),
            other => Err(other.mismatch("rastro")),
        }
    }

    pub fn catalogian(&self) -> anyhow::Result<&catalogian::Catalogian> {
        match self {
            Api::Catalogian(client) => Ok(client),
            other => Err(other.mismatch("catalogian")),
        }
    }

    pub fn clevertap(&self) -> anyhow::Result<&clevertap::Clevertap> {
        match self {
            Api::Clevertap(client) => Ok(client),
            other => Err(other.mismatch("clevertap")),
        }
    }

    /// `Context::api` checks vendors first, so this only guards against a wrong table entry.
    fn mismatch(&self, wanted: &str) -> anyhow::Error {
        crate::error::Failure::usage(format!(
            "this command needs a {wanted} profile, not {}",
            self.http().vendor()
        ))
        .into()
    }

    /// Page `index` (from 0) of the catalogs, `size` to a page (at most `MAX_CATALOGS_PAGE`).
    pub async fn catalogs_page(&self, index: u64, size: u32) -> anyhow::Result<Page> {
        Ok(match self {
            Api::Clevertap(client) => client.catalogs_page(index, size).await?,
            other => {
                let offset = index.saturating_mul(u64::from(size));
                other.rastro()?.catalogs_page(offset, size).await?
            }
        })
    }
}

/// What a bulk command asks of the vendor, from its flags and the profile.
#[derive(Clone, Debug)]
pub struct BulkRequest {
    pub operation: Operation,
    pub catalog: Option<String>,
    pub unique_field: Option<String>,
    pub id_field: String,
    pub store_uuid: Option<String>,
    pub channel: Option<String>,
    pub asset_type: String,
}

/// What the vendor said about one chunk.
#[derive(Debug, Default)]
pub struct BulkReply {
    /// Rows created and updated, where the vendor reports them.
    pub created: Option<u64>,
    pub updated: Option<u64>,
    /// Rows the vendor refused, by their index in the chunk, with its reason.
    pub refused: Vec<(usize, String)>,
    /// Rows the vendor says failed without saying which.
    pub unattributed_failures: u64,
    /// batch: the token that tells, through `view`, when this edit is applied.
    pub indexing_token: Option<String>,
}

/// One vendor's bulk endpoint: how a record becomes the vendor's item, how items are wrapped
/// into a request body, and what the reply means.
pub enum BulkTarget {
    Rastro(rastro::BulkUpsert),
    Batch(batch::ItemsEdit),
    Catalogix(catalogix::AssetsUpsert),
}

impl BulkTarget {
    /// `None` when `request.operation` is not one the vendor can do (`Context` checks first).
    pub fn new(kind: VendorKind, http: Arc<Http>, request: &BulkRequest) -> anyhow::Result<Self> {
        Ok(match kind {
            VendorKind::Rastro => BulkTarget::Rastro(rastro::BulkUpsert::new(http, request)?),
            VendorKind::Batch => BulkTarget::Batch(batch::ItemsEdit::new(http, request)?),
            VendorKind::Catalogix => {
                BulkTarget::Catalogix(catalogix::AssetsUpsert::new(http, request)?)
            }
            other => {
                return Err(crate::error::Failure::usage(format!(
                    "`{}` is not available for {other}",
                    request.operation.command()
                ))
                .into())
            }
        })
    }

    pub fn http(&self) -> &Http {
        match self {
            BulkTarget::Rastro(t) => t.http(),
            BulkTarget::Batch(t) => t.http(),
            BulkTarget::Catalogix(t) => t.http(),
        }
    }

    /// What the summary names as the destination, e.g. `cat_demo`.
    pub fn destination(&self) -> String {
        match self {
            BulkTarget::Rastro(t) => t.destination(),
            BulkTarget::Batch(t) => t.destination(),
            BulkTarget::Catalogix(t) => t.destination(),
        }
    }

    /// The vendor's documented item limit per request.
    pub fn max_items(&self) -> usize {
        match self {
            BulkTarget::Rastro(_) => rastro::MAX_BULK_ITEMS,
            BulkTarget::Batch(_) => batch::MAX_ITEMS_PER_REQUEST,
            BulkTarget::Catalogix(_) => catalogix::MAX_ITEMS_PER_REQUEST,
        }
    }

    /// Documented rate limits: requests/s and items/s (SPEC §4: batch only).
    pub fn default_rates(&self) -> (Option<f64>, Option<f64>) {
        match self {
            BulkTarget::Batch(_) => (
                Some(batch::REQUESTS_PER_SECOND),
                Some(batch::ITEMS_PER_SECOND),
            ),
            _ => (None, None),
        }
    }

    /// The vendor's item for one input record, checked against its documented rules. A refused
    /// record comes back with the reason, as far as it was mapped, for the rejects file.
    pub fn item(&self, fields: Map<String, Value>) -> Result<Value, (String, Value)> {
        match self {
            BulkTarget::Rastro(t) => t.item(fields),
            BulkTarget::Batch(t) => t.item(fields),
            BulkTarget::Catalogix(t) => t.item(fields),
        }
    }

    /// The unique field, when the vendor's item is the record itself (rastro): then a CSV row
    /// can be written straight to JSON, checking only that the field is there.
    pub fn records_are_items(&self) -> Option<&str> {
        match self {
            BulkTarget::Rastro(t) => Some(t.unique_field()),
            _ => None,
        }
    }

    /// The key the vendor matches `item` on, as text: a later row with the same key must not
    /// overtake an earlier one (rastro's unique field, batch's id, catalogix's parent code and
    /// asset type).
    pub fn item_key(&self, item: &Value) -> Option<String> {
        let text = |value: &Value| match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        match self {
            BulkTarget::Rastro(t) => text(item.get(t.unique_field())?),
            BulkTarget::Batch(_) => text(item.get("id")?),
            BulkTarget::Catalogix(_) => Some(format!(
                "{}\u{0}{}",
                text(item.get("parent_code")?)?,
                text(item.get("asset_type")?)?
            )),
        }
    }

    /// The field every flat record must have (rastro's unique field, batch's id field).
    pub fn key_field(&self) -> Option<&str> {
        match self {
            BulkTarget::Rastro(t) => Some(t.unique_field()),
            BulkTarget::Batch(t) => Some(t.id_field()),
            BulkTarget::Catalogix(_) => None,
        }
    }

    /// The bytes before and after the comma-joined items of a request body.
    pub fn envelope(&self) -> (&[u8], &[u8]) {
        match self {
            BulkTarget::Rastro(t) => t.envelope(),
            BulkTarget::Batch(t) => t.envelope(),
            BulkTarget::Catalogix(t) => t.envelope(),
        }
    }

    pub async fn send(&self, body: bytes::Bytes) -> Result<BulkReply, ApiError> {
        match self {
            BulkTarget::Rastro(t) => t.send(body).await,
            BulkTarget::Batch(t) => t.send(body).await,
            BulkTarget::Catalogix(t) => t.send(body).await,
        }
    }
}

/// Builds `prefix` + items joined by commas + `suffix` (the body of one bulk request).
pub fn envelope_parts(prefix: &str, suffix: &str) -> (Box<[u8]>, Box<[u8]>) {
    (
        prefix.as_bytes().to_vec().into_boxed_slice(),
        suffix.as_bytes().to_vec().into_boxed_slice(),
    )
}

/// Percent-encodes one path segment so an id with `/` or `?` cannot change the route.
pub fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// A JSON string literal, for building envelopes.
pub fn json_string(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn segment_escapes_route_characters() {
        assert_eq!(super::segment("cat_demo"), "cat_demo");
        assert_eq!(super::segment("a/b?c d"), "a%2Fb%3Fc%20d");
    }
}
