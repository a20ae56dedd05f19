//! The five vendors behind one seam. A vendor is one module implementing `Vendor` (how to
//! reach it, which commands it can run, what its errors mean, how its lists page) and, where it has them, a
//! `Client` for its commands and a `BulkEndpoint`; `VENDORS` lists them. A sixth vendor is a
//! module and a line there (and a row in the sandbox's registry): nothing else names them.

pub mod batch;
pub mod catalogian;
pub mod catalogix;
pub mod clevertap;
pub mod pages;
pub mod rastro;

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Profile;
use crate::error::Failure;
use crate::http::{ApiError, AuthHeader, Http};
use crate::secret::Secret;
pub use catops_spec::VendorKind;
pub use pages::RawPage;

/// Every vendor catops knows, the one list.
const VENDORS: [&dyn Vendor; 5] = [
    &rastro::Rastro,
    &batch::Batch,
    &catalogix::Catalogix,
    &clevertap::Clevertap,
    &catalogian::Catalogian,
];

/// A vendor's facts, and its way into the commands.
pub trait Vendor: Sync {
    fn kind(&self) -> VendorKind;

    /// The production base URL (SPEC §1), which paths from the vendor docs are appended to.
    fn default_base_url(&self, profile: &Profile) -> String;

    /// The API version in the base path, where there is one (batch's `{version}`).
    fn api_version<'a>(&self, _profile: &'a Profile) -> &'a str {
        ""
    }

    /// The headers that authenticate a request; the ones holding the token are marked secret.
    fn auth_headers(&self, _profile: &Profile, token: &Secret) -> anyhow::Result<Vec<AuthHeader>> {
        Ok(vec![AuthHeader::bearer(token)?])
    }

    /// The catalog a command works on when `--catalog` is not given (catalogix: the
    /// profile's store).
    fn default_catalog(&self, _profile: &Profile) -> Option<String> {
        None
    }

    /// The commands it can run; any other fails with exit 2 naming the vendors that can.
    fn operations(&self) -> &'static [Operation];

    /// Its client for the commands.
    fn client(&self, http: Http) -> Box<dyn Client>;

    /// The cheapest documented read, for `profile test`: it answers 2xx when the base URL and
    /// the token are right.
    fn probe(&self, profile: &Profile) -> Probe;

    /// Its bulk endpoint for `request`.
    fn bulk(
        &self,
        _http: Arc<Http>,
        request: &BulkRequest,
    ) -> anyhow::Result<Box<dyn BulkEndpoint>> {
        Err(Failure::usage(format!(
            "`{}` is not available for {}",
            request.operation.command(),
            self.kind()
        ))
        .into())
    }

    /// What this vendor's own error codes and statuses mean, where the status table alone
    /// would say less.
    fn advice(&self, _err: &ApiError) -> Advice {
        Advice::default()
    }

    /// `catops api --paginate`: the list in `reply` (the 2xx JSON answer to a GET sent with
    /// `query`) and the query of the page after it, by the vendor's documented paging. A
    /// reply without one of the vendor's lists is an error, saying why.
    fn raw_page(&self, query: &[(String, String)], reply: Value) -> Result<RawPage, String>;
}

/// One GET: a path below the base URL and its query.
pub struct Probe {
    pub path: &'static str,
    pub query: Vec<(&'static str, String)>,
}

/// A vendor's word on an error: the exit code its own error code calls for, and a hint.
#[derive(Default)]
pub struct Advice {
    pub exit_code: Option<u8>,
    pub hint: Option<&'static str>,
}

pub fn vendor(kind: VendorKind) -> &'static dyn Vendor {
    let found = VENDORS.iter().find(|vendor| vendor.kind() == kind);
    // Every kind is listed (a test holds it so).
    *found.unwrap_or(&VENDORS[0])
}

/// The exit code and hints for an API error: the vendor's word first, then the status table.
pub fn explain(err: &ApiError) -> (u8, Vec<String>) {
    let advice = vendor(err.vendor()).advice(err);
    let code = advice.exit_code.unwrap_or_else(|| err.exit_code());
    let hints = match advice.hint {
        Some(hint) => vec![hint.to_string()],
        None => err.hints(),
    };
    (code, hints)
}

/// Every command that talks to a vendor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    CatalogsList,
    CatalogsGet,
    CatalogsCreate,
    CatalogsUpdate,
    CatalogsDelete,
    CatalogsFilterable,
    ItemsList,
    ItemsGet,
    ItemsUpdate,
    BulkUpsert,
    /// `bulk upsert --upload`: the whole file through the vendor's file-upload flow.
    BulkUpload,
    BulkRemove,
    /// `items delete`: named items through the bulk endpoint's removal.
    ItemsDelete,
    AssetsUpsert,
    AssetsList,
    AssetsDelete,
    AssetsUnlink,
    EnrichStart,
    EnrichStatus,
    EnrichCancel,
    DeltaSources,
    DeltaList,
    DeltaLatest,
    DeltaRows,
    DeltaWatch,
    DeltaSnapshots,
    DeltaSnapshotRows,
    Api,
    ProfileTest,
}

impl Operation {
    pub fn command(self) -> &'static str {
        match self {
            Operation::CatalogsList => "catalogs list",
            Operation::CatalogsGet => "catalogs get",
            Operation::CatalogsCreate => "catalogs create",
            Operation::CatalogsUpdate => "catalogs update",
            Operation::CatalogsDelete => "catalogs delete",
            Operation::CatalogsFilterable => "catalogs filterable",
            Operation::ItemsList => "items list",
            Operation::ItemsGet => "items get",
            Operation::ItemsUpdate => "items update",
            Operation::BulkUpsert => "bulk upsert",
            Operation::BulkUpload => "bulk upsert --upload",
            Operation::BulkRemove => "bulk remove",
            Operation::ItemsDelete => "items delete",
            Operation::AssetsUpsert => "assets upsert",
            Operation::AssetsList => "assets list",
            Operation::AssetsDelete => "assets delete",
            Operation::AssetsUnlink => "assets unlink",
            Operation::EnrichStart => "enrich start",
            Operation::EnrichStatus => "enrich status",
            Operation::EnrichCancel => "enrich cancel",
            Operation::DeltaSources => "delta sources",
            Operation::DeltaList => "delta list",
            Operation::DeltaLatest => "delta latest",
            Operation::DeltaRows => "delta rows",
            Operation::DeltaWatch => "delta watch",
            Operation::DeltaSnapshots => "delta snapshots",
            Operation::DeltaSnapshotRows => "delta snapshot-rows",
            Operation::Api => "api",
            Operation::ProfileTest => "profile test",
        }
    }

    /// The vendors that can run it.
    pub fn vendors(self) -> Vec<VendorKind> {
        VENDORS
            .iter()
            .filter(|vendor| {
                matches!(self, Operation::Api | Operation::ProfileTest)
                    || vendor.operations().contains(&self)
            })
            .map(|vendor| vendor.kind())
            .collect()
    }
}

/// One page of a paginated list.
pub struct Page {
    pub records: Vec<Value>,
    /// The total the vendor reports, when it does.
    pub total: Option<u64>,
}

/// A connected vendor client. Commands for one vendor take its own client (`Api::client`);
/// commands several vendors share go through the capability traits.
pub trait Client: Any + Send + Sync {
    fn http(&self) -> &Http;

    fn as_any(&self) -> &dyn Any;

    /// Pages of catalogs, where the vendor lists them.
    fn catalog_pages(&self) -> Option<&dyn CatalogPages> {
        None
    }

    /// Getting, creating, changing and deleting one catalog, where the vendor can.
    fn catalog_admin(&self) -> Option<&dyn CatalogAdmin> {
        None
    }

    /// A catalog's items, where the vendor lists them.
    fn item_pages(&self) -> Option<&dyn ItemPages> {
        None
    }

    /// Handing a whole file over through the vendor's upload flow, where it has one.
    fn file_uploads(&self) -> Option<&dyn FileUploads> {
        None
    }
}

/// `items list --search --sort`.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub search: Option<String>,
    /// A field, and true for descending.
    pub sort: Option<(String, bool)>,
}

impl ItemFilter {
    pub fn is_empty(&self) -> bool {
        self.search.is_none() && self.sort.is_none()
    }
}

/// `catops items list|get` across vendors.
pub trait ItemPages: Sync {
    /// Page `page` (from 1) of `catalog`'s items, `limit` to a page, filtered where the vendor
    /// filters (`check_filter` took the filter).
    fn items_page<'a>(
        &'a self,
        catalog: &'a str,
        page: u64,
        limit: u32,
        filter: &'a ItemFilter,
    ) -> BoxFuture<'a, Result<Page, ApiError>>;

    /// Why the list cannot take `filter`, if it cannot.
    fn check_filter(&self, filter: &ItemFilter) -> Result<(), String> {
        if filter.is_empty() {
            Ok(())
        } else {
            Err("this vendor's item list has no --search or --sort".to_string())
        }
    }

    /// One item, by the id the vendor knows it by.
    fn item<'a>(&'a self, catalog: &'a str, id: &'a str) -> BoxFuture<'a, anyhow::Result<Value>>;

    /// The page size `--all` uses unless `--limit` says otherwise.
    fn all_pages_limit(&self) -> u32;

    /// The fields a table of items shows by default (those the items have), fitting 80
    /// characters; `--columns` picks others.
    fn table_columns(&self) -> &'static [&'static str];
}

/// Where an accepted edit stands (`bulk upsert --wait-indexed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexingState {
    InProgress,
    Applied,
}

impl IndexingState {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexingState::InProgress => "IN_PROGRESS",
            IndexingState::Applied => "APPLIED",
        }
    }
}

/// Vendors that accept an edit with a token and apply it later (batch's `indexing_token`).
pub trait Indexing: Sync {
    fn indexing_state<'a>(
        &'a self,
        catalog: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<IndexingState, ApiError>>;
}

/// `catops bulk upsert FILE --upload`, as the user asked it.
#[derive(Debug, Clone)]
pub struct FileUpload {
    /// A regular file, CSV.
    pub path: std::path::PathBuf,
    pub catalog: String,
    /// The id column the file's header must have (`--id-field`, else the vendor's).
    pub id_field: Option<String>,
    /// Who completes the upload (`--by`, else the profile's `user_email`).
    pub by: Option<String>,
}

/// What an upload came to: the summary for stdout and a line for people.
pub struct Uploaded {
    pub summary: Value,
    pub human: String,
}

/// `bulk upsert --upload`: the file is handed over whole and processed by the vendor later,
/// so the answer is a job, not accepted rows.
pub trait FileUploads: Sync {
    fn upload_file<'a>(&'a self, upload: &'a FileUpload)
        -> BoxFuture<'a, anyhow::Result<Uploaded>>;
}

/// One page of catalogs, and where the next one starts when there is one.
pub struct CatalogsPage {
    pub page: Page,
    pub next: Option<String>,
}

/// `catops catalogs list` across vendors, whatever their paging (offsets, page numbers,
/// cursors): `from` is None for the first page, else a `next` this method returned.
pub trait CatalogPages: Sync {
    /// The fields a table of catalogs shows by default, fitting 80 characters.
    fn table_columns(&self) -> &'static [&'static str];

    fn catalogs_page(
        &self,
        from: Option<String>,
        size: u32,
    ) -> BoxFuture<'_, Result<CatalogsPage, ApiError>>;

    /// Why the list cannot take `filter` (`--status`, `--search`, `--sort`), if it cannot.
    fn check_filter(&self, filter: &CatalogFilter) -> Result<(), String> {
        if filter.is_empty() {
            Ok(())
        } else {
            Err("this vendor's catalog list has no --status, --search or --sort".to_string())
        }
    }

    /// A page with the filters applied, once `check_filter` took them.
    fn filtered_page<'a>(
        &'a self,
        _filter: &'a CatalogFilter,
        from: Option<String>,
        size: u32,
    ) -> BoxFuture<'a, Result<CatalogsPage, ApiError>> {
        self.catalogs_page(from, size)
    }
}

/// `catalogs list --status --search --sort`.
#[derive(Debug, Clone, Default)]
pub struct CatalogFilter {
    pub status: Option<String>,
    pub search: Option<String>,
    /// A field, and true for descending.
    pub sort: Option<(String, bool)>,
}

impl CatalogFilter {
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.search.is_none() && self.sort.is_none()
    }
}

/// The largest catalogs page that every vendor with a catalog list takes.
pub const MAX_CATALOGS_PAGE: u32 = 100;

/// A schema field as the commands take it (`NAME:TYPE`); each vendor checks the types it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub filterable: bool,
}

/// `catops catalogs create`, as the user asked it; the vendor says what it lacks.
#[derive(Debug, Clone, Default)]
pub struct CatalogSpec {
    pub name: String,
    pub unique_id_field: Option<String>,
    pub fields: Vec<FieldSpec>,
    pub description: Option<String>,
    /// Who asks (`--by`, else the profile's `user_email`), where the vendor records it.
    #[allow(dead_code)] // read by the vendors that record it (clevertap)
    pub by: Option<String>,
}

/// `catops catalogs update`: only what the user named changes.
#[derive(Debug, Clone, Default)]
pub struct CatalogChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub add_fields: Vec<FieldSpec>,
    pub remove_fields: Vec<String>,
    /// Other keys of the vendor's catalog object, as given with `--json`.
    pub other: Map<String, Value>,
    #[allow(dead_code)] // read by the vendors that record it (clevertap)
    pub by: Option<String>,
}

/// `catops catalogs get|create|update|delete` across vendors. A vendor implements what it
/// documents; its `operations` list keeps the rest from being called.
pub trait CatalogAdmin: Sync {
    fn catalog_get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Value, ApiError>>;

    fn catalog_create<'a>(
        &'a self,
        _spec: &'a CatalogSpec,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async { not_available(Operation::CatalogsCreate) })
    }

    fn catalog_update<'a>(
        &'a self,
        _id: &'a str,
        _changes: &'a CatalogChanges,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async { not_available(Operation::CatalogsUpdate) })
    }

    fn catalog_delete<'a>(
        &'a self,
        _id: &'a str,
        _by: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async { not_available(Operation::CatalogsDelete) })
    }
}

fn not_available<T>(operation: Operation) -> anyhow::Result<T> {
    Err(Failure::usage(format!(
        "`{}` is not available for this vendor",
        operation.command()
    ))
    .into())
}

/// What commands call: the selected profile's vendor, connected.
pub struct Api {
    client: Box<dyn Client>,
}

impl Api {
    pub fn connect(kind: VendorKind, http: Http) -> Api {
        Api {
            client: vendor(kind).client(http),
        }
    }

    pub fn http(&self) -> &Http {
        self.client.http()
    }

    /// The vendor's own client. `Context::api` checked the vendor can run the command, so a
    /// wrong one only guards against a wrong `operations` list.
    pub fn client<T: Client>(&self) -> anyhow::Result<&T> {
        self.client.as_any().downcast_ref::<T>().ok_or_else(|| {
            Failure::usage(format!(
                "this command is not available for {}",
                self.http().vendor()
            ))
            .into()
        })
    }

    pub fn catalog_admin(&self) -> anyhow::Result<&dyn CatalogAdmin> {
        self.client.catalog_admin().ok_or_else(|| {
            Failure::usage(format!("{} has no catalog commands", self.http().vendor())).into()
        })
    }

    pub fn item_pages(&self) -> anyhow::Result<&dyn ItemPages> {
        self.client.item_pages().ok_or_else(|| {
            Failure::usage(format!("{} lists no items", self.http().vendor())).into()
        })
    }

    pub fn file_uploads(&self) -> anyhow::Result<&dyn FileUploads> {
        self.client.file_uploads().ok_or_else(|| {
            Failure::usage(format!("{} has no file upload", self.http().vendor())).into()
        })
    }

    pub fn catalog_pages(&self) -> anyhow::Result<&dyn CatalogPages> {
        self.client.catalog_pages().ok_or_else(|| {
            Failure::usage(format!("{} lists no catalogs", self.http().vendor())).into()
        })
    }
}

/// What a bulk command asks of the vendor, from its flags and the profile.
#[derive(Clone, Debug)]
pub struct BulkRequest {
    pub operation: Operation,
    pub catalog: Option<String>,
    /// rastro: the field items are matched on (`--unique-field`, else the profile's). The
    /// endpoint calls it its key field, like batch's id column.
    pub unique_field: Option<String>,
    /// The column holding the item id (`--id-field`), the key field of batch (default `id`)
    /// and clevertap (default `identity`).
    pub id_field: Option<String>,
    pub store_uuid: Option<String>,
    pub channel: Option<String>,
    pub asset_type: String,
}

impl BulkRequest {
    /// A request with only the operation and the destination set.
    pub fn new(operation: Operation, catalog: Option<String>) -> BulkRequest {
        BulkRequest {
            operation,
            catalog,
            unique_field: None,
            id_field: None,
            store_uuid: None,
            channel: None,
            asset_type: String::new(),
        }
    }
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
pub trait BulkEndpoint: Send + Sync {
    fn http(&self) -> &Http;

    /// What the summary names as the destination, e.g. `cat_demo`.
    fn destination(&self) -> String;

    /// The vendor's documented item limit per request.
    fn max_items(&self) -> usize;

    /// The vendor's documented body limit per request, where it is below SPEC §4's 5 MiB
    /// (clevertap's products/bulk: 500 KB): chunks close before it, and a row over it alone
    /// is rejected.
    fn max_body_bytes(&self) -> Option<usize> {
        None
    }

    /// Documented rate limits: requests/s and items/s.
    fn default_rates(&self) -> (Option<f64>, Option<f64>) {
        (None, None)
    }

    /// The field every flat record must have (rastro's unique field, batch's id field).
    fn key_field(&self) -> Option<&str>;

    /// Whether the vendor's item is the record itself (rastro): then a CSV row can be
    /// written straight to JSON, checking only that its key field is there.
    fn sends_records_as_items(&self) -> bool {
        false
    }

    /// The vendor's item for one input record, checked against its documented rules. A refused
    /// record comes back with the reason, as far as it was mapped, for the rejects file.
    fn item(&self, fields: Map<String, Value>) -> Result<Value, (String, Value)>;

    /// The key the vendor matches `item` on, as text: a later row with the same key must not
    /// overtake an earlier one.
    fn item_key(&self, item: &Value) -> Option<String>;

    /// The bytes before and after the comma-joined items of a request body.
    fn envelope(&self) -> (&[u8], &[u8]);

    /// A request body of the items `{"id": <id>}` maps to, for an endpoint that removes
    /// (`items delete`, `bulk sync --delete-missing`); an id the vendor's rules refuse comes
    /// back with the reason.
    fn removal_body(&self, ids: &[String]) -> Result<Vec<u8>, (String, String)> {
        let (prefix, suffix) = self.envelope();
        let mut body = prefix.to_vec();
        for (n, id) in ids.iter().enumerate() {
            let mut fields = Map::new();
            fields.insert("id".to_string(), Value::String(id.clone()));
            let item = self
                .item(fields)
                .map_err(|(reason, _)| (id.clone(), reason))?;
            if n > 0 {
                body.push(b',');
            }
            crate::json_writer::write(&item, &mut body);
        }
        body.extend_from_slice(suffix);
        Ok(body)
    }

    fn send(&self, body: bytes::Bytes) -> BoxFuture<'_, Result<BulkReply, ApiError>>;

    /// batch: the summary names the last indexing token.
    fn reports_indexing_token(&self) -> bool {
        false
    }

    /// Checks a CSV header's columns against the destination before any row is read (batch:
    /// the catalog's fields), so a column it lacks is one usage error, not a rejected row per
    /// row. Read-only, so a dry run does it too.
    fn check_columns<'a>(&'a self, _columns: &'a [String]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Where the vendor applies edits later than it accepts them: how to tell when.
    fn indexing(&self) -> Option<&dyn Indexing> {
        None
    }

    /// `bulk sync --baseline remote`: an item as the vendor's item list gives it, in the form
    /// this endpoint sends (so both hash alike); None where the list cannot give that.
    fn listed_as_item(&self, _listed: Value) -> Option<Value> {
        None
    }

    /// `bulk sync`: the object of the item whose keys the vendor merges, so that one gone
    /// from a row must be sent as null to leave the vendor's copy (batch's `attributes`).
    fn merged_fields(&self) -> Option<&'static str> {
        None
    }
}

/// A field's value as the text a key is made of.
pub fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
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
    use super::*;

    #[test]
    fn every_vendor_is_listed_once_and_found_by_kind() {
        for kind in VendorKind::ALL {
            assert_eq!(
                VENDORS.iter().filter(|v| v.kind() == kind).count(),
                1,
                "{kind}"
            );
            assert_eq!(vendor(kind).kind(), kind);
        }
    }

    #[test]
    fn operations_know_their_vendors() {
        assert_eq!(Operation::BulkRemove.vendors(), [VendorKind::Batch]);
        assert_eq!(Operation::Api.vendors().len(), 5);
        assert!(Operation::CatalogsList
            .vendors()
            .contains(&VendorKind::Clevertap));
    }

    #[test]
    fn segment_escapes_route_characters() {
        assert_eq!(segment("cat_demo"), "cat_demo");
        assert_eq!(segment("a/b?c d"), "a%2Fb%3Fc%20d");
    }
}
