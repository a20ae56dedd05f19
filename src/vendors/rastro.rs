//! rastro (vendors/rastro.txt, docs.rastro.ai, rastro's own client): catalogs, items, bulk
//! upsert and enrichment.

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::pages::{self, RawPage};
use super::Probe;
use super::{
    envelope_parts, json_string, key_text, segment, BulkEndpoint, BulkReply, BulkRequest,
    CatalogAdmin, CatalogChanges, CatalogPages, CatalogSpec, CatalogsPage, ItemFilter, ItemPages,
    Operation, Page, Vendor, VendorKind,
};
use crate::config::Profile;
use crate::error::Failure;
use crate::http::{ApiError, Http};
use catops_spec::rastro::{DEFAULT_CATALOGS_LIMIT, MAX_BULK_ITEMS, MAX_CATALOGS_LIMIT};
pub use catops_spec::rastro::{DEFAULT_ITEMS_LIMIT, MAX_ITEMS_LIMIT};

const DEFAULT_BASE_URL: &str = "https://catalogapi.rastro.ai/api";

pub struct Rastro;

impl Vendor for Rastro {
    fn kind(&self) -> VendorKind {
        VendorKind::Rastro
    }

    fn default_base_url(&self, _profile: &Profile) -> String {
        DEFAULT_BASE_URL.to_string()
    }

    fn operations(&self) -> &'static [Operation] {
        &[
            Operation::CatalogsList,
            Operation::CatalogsGet,
            Operation::CatalogsCreate,
            Operation::CatalogsUpdate,
            Operation::CatalogsDelete,
            Operation::ItemsList,
            Operation::ItemsGet,
            Operation::ItemsUpdate,
            Operation::BulkUpsert,
            Operation::EnrichStart,
            Operation::EnrichStatus,
            Operation::EnrichCancel,
        ]
    }

    fn client(&self, http: Http) -> Box<dyn super::Client> {
        Box::new(Client { http })
    }

    /// GET /public/catalogs, one catalog.
    fn probe(&self, _profile: &Profile) -> Probe {
        Probe {
            path: "/public/catalogs",
            query: vec![("limit", "1".to_string())],
        }
    }

    fn bulk(
        &self,
        http: Arc<Http>,
        request: &BulkRequest,
    ) -> anyhow::Result<Box<dyn BulkEndpoint>> {
        Ok(Box::new(BulkUpsert::new(http, request)?))
    }

    /// `GET /public/catalogs` lists `catalogs` with `total_count`, paged by `limit`/`offset`
    /// (docs.rastro.ai/catalogs/reference); `GET …/items` lists `items` with `total`, paged by
    /// `page`/`limit` in the docs and `limit`/`offset` in rastro's client. The next page sets
    /// `offset`, and `page` too when the request had one, so either reading finds it.
    fn raw_page(&self, query: &[(String, String)], mut reply: Value) -> Result<RawPage, String> {
        let (key, elements) = pages::take_array(&mut reply, &["catalogs", "items"])?;
        let (total_key, default_limit) = match key {
            "catalogs" => ("total_count", DEFAULT_CATALOGS_LIMIT),
            _ => ("total", DEFAULT_ITEMS_LIMIT),
        };
        let total = pages::count(&reply, total_key)?;
        let limit = pages::number(query, "limit")?;
        let page = pages::number(query, "page")?;
        let offset = match (pages::number(query, "offset")?, page) {
            (Some(offset), _) => offset,
            (None, Some(page)) => page
                .saturating_sub(1)
                .saturating_mul(limit.unwrap_or(u64::from(default_limit))),
            (None, None) => 0,
        };
        let got = elements.len() as u64;
        let mut set = vec![("offset", offset.saturating_add(got).to_string())];
        set.extend(page.map(|page| ("page", page.saturating_add(1).to_string())));
        let next = pages::more(offset, got, limit, total).then(|| pages::with_params(query, &set));
        Ok(RawPage { elements, next })
    }
}

/// The body of `POST /public/catalogs`.
#[derive(Debug, Serialize)]
pub struct NewCatalog {
    pub name: String,
    pub unique_id_field: String,
    pub schema_definition: SchemaDefinition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SchemaDefinition {
    pub fields: Vec<SchemaField>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemaField {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /public/catalogs`: the excerpt shows only `catalogs`; the current reference pages it
/// with `limit`/`offset` and adds `total_count` (docs.rastro.ai/catalogs/reference).
#[derive(Deserialize)]
struct CatalogList {
    catalogs: Vec<Value>,
    total_count: Option<u64>,
}

/// `GET …/items`: `items` and `total` in the excerpt and in rastro's own client.
#[derive(Deserialize)]
struct ItemPage {
    items: Vec<Value>,
    total: Option<u64>,
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

    fn catalog_pages(&self) -> Option<&dyn CatalogPages> {
        Some(self)
    }

    fn catalog_admin(&self) -> Option<&dyn CatalogAdmin> {
        Some(self)
    }

    fn item_pages(&self) -> Option<&dyn ItemPages> {
        Some(self)
    }
}

impl ItemPages for Client {
    fn items_page<'a>(
        &'a self,
        catalog: &'a str,
        page: u64,
        limit: u32,
        filter: &'a ItemFilter,
    ) -> BoxFuture<'a, Result<Page, ApiError>> {
        Box::pin(Client::items_page(self, catalog, page, limit, filter))
    }

    fn check_filter(&self, _filter: &ItemFilter) -> Result<(), String> {
        Ok(())
    }

    fn item<'a>(&'a self, catalog: &'a str, id: &'a str) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move { Ok(self.items_get(catalog, id).await?) })
    }

    fn all_pages_limit(&self) -> u32 {
        MAX_ITEMS_LIMIT
    }

    fn table_columns(&self) -> &'static [&'static str] {
        &["id", "sku", "title", "price"]
    }
}

impl CatalogPages for Client {
    fn table_columns(&self) -> &'static [&'static str] {
        &["id", "name", "item_count", "created_at"]
    }

    fn catalogs_page(
        &self,
        from: Option<String>,
        size: u32,
    ) -> BoxFuture<'_, Result<CatalogsPage, ApiError>> {
        let size = size.min(MAX_CATALOGS_LIMIT);
        Box::pin(async move {
            let offset = from.and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
            let page = self.catalogs_at(offset, size).await?;
            let got = page.records.len() as u64;
            let more = pages::more(offset, got, Some(u64::from(size)), page.total);
            Ok(CatalogsPage {
                next: more.then(|| (offset + got).to_string()),
                page,
            })
        })
    }
}

impl CatalogAdmin for Client {
    fn catalog_get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(async move {
            let path = format!("/public/catalogs/{}", segment(id));
            let reply = self.http.send(Method::GET, &path, &[], None, true).await?;
            let catalog: Value = self.http.decode(&Method::GET, &path, &reply.body)?;
            require_id(&self.http, &path, &reply.body, &catalog, "the catalog")?;
            Ok(catalog)
        })
    }

    fn catalog_create<'a>(&'a self, spec: &'a CatalogSpec) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move { Ok(self.catalogs_create(&NewCatalog::from_spec(spec)?).await?) })
    }

    /// docs.rastro.ai: PUT changes only the keys sent (name, description, auto_evolve_schema,
    /// strict_mode, catalog_md); the schema is not changed this way.
    fn catalog_update<'a>(
        &'a self,
        id: &'a str,
        changes: &'a CatalogChanges,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            if !changes.add_fields.is_empty() || !changes.remove_fields.is_empty() {
                return Err(Failure::usage(
                    "rastro's catalog update does not change the schema (--field)",
                )
                .hint("rastro evolves a schema itself when auto_evolve_schema is on: --json '{\"auto_evolve_schema\":true}'")
                .into());
            }
            let mut body = changes.other.clone();
            if let Some(name) = &changes.name {
                body.insert("name".into(), Value::String(name.clone()));
            }
            if let Some(description) = &changes.description {
                body.insert("description".into(), Value::String(description.clone()));
            }
            if body.is_empty() {
                return Err(Failure::usage(
                    "nothing to change: give --name, --description or --json",
                )
                .into());
            }
            let path = format!("/public/catalogs/{}", segment(id));
            let updated: Value = self
                .http
                .send_json(Method::PUT, &path, &Value::Object(body), true)
                .await?;
            let text = updated.to_string();
            require_id(&self.http, &path, text.as_bytes(), &updated, "the catalog")?;
            Ok(updated)
        })
    }

    fn catalog_delete<'a>(
        &'a self,
        id: &'a str,
        _by: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let path = format!("/public/catalogs/{}", segment(id));
            let reply = self
                .http
                .send(Method::DELETE, &path, &[], None, true)
                .await?;
            // The reference answers `{message}`; rastro's own client takes 204 as done too.
            if reply.body.is_empty() {
                return Ok(serde_json::json!({ "message": format!("Catalog {id} deleted") }));
            }
            Ok(self
                .http
                .decode::<Value>(&Method::DELETE, &path, &reply.body)?)
        })
    }
}

impl NewCatalog {
    fn from_spec(spec: &CatalogSpec) -> anyhow::Result<NewCatalog> {
        let Some(unique_id_field) = spec.unique_id_field.clone() else {
            return Err(Failure::usage(
                "rastro needs --unique-id-field: the field items are matched on",
            )
            .into());
        };
        if spec.fields.is_empty() {
            return Err(Failure::usage(
                "rastro needs a schema: --field NAME:TYPE or --schema FILE",
            )
            .into());
        }
        if !spec.fields.iter().any(|f| f.name == unique_id_field) {
            let names: Vec<&str> = spec.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(Failure::usage(format!(
                "--unique-id-field {unique_id_field} is not among the schema's fields ({})",
                names.join(", ")
            ))
            .into());
        }
        let fields = spec
            .fields
            .iter()
            .map(|f| SchemaField {
                name: f.name.clone(),
                kind: f.kind.clone(),
            })
            .collect();
        Ok(NewCatalog {
            name: spec.name.clone(),
            unique_id_field,
            schema_definition: SchemaDefinition { fields },
            description: spec.description.clone(),
        })
    }
}

impl Client {
    /// One page of the catalogs: `limit` at most 100, from `offset`.
    pub async fn catalogs_at(&self, offset: u64, limit: u32) -> Result<Page, ApiError> {
        let path = "/public/catalogs";
        let query = [("limit", limit.to_string()), ("offset", offset.to_string())];
        let reply = self
            .http
            .send(Method::GET, path, &query, None, true)
            .await?;
        let list: CatalogList = self.http.decode(&Method::GET, path, &reply.body)?;
        for catalog in &list.catalogs {
            require_id(&self.http, path, &reply.body, catalog, "a catalog")?;
        }
        Ok(Page {
            records: list.catalogs,
            total: list.total_count,
        })
    }

    pub async fn catalogs_create(&self, request: &NewCatalog) -> Result<Value, ApiError> {
        let path = "/public/catalogs";
        let body = serde_json::to_value(request).unwrap_or(Value::Null);
        // Not idempotent: a retried create after a lost response would make a second catalog.
        let created: Value = self
            .http
            .send_json(Method::POST, path, &body, false)
            .await?;
        let reply = created.to_string();
        require_id(
            &self.http,
            path,
            reply.as_bytes(),
            &created,
            "the new catalog",
        )?;
        Ok(created)
    }

    /// One page of items. The excerpt pages by `page`, rastro's own client by `offset`; both
    /// are sent, so a server honouring either returns the same page.
    pub async fn items_page(
        &self,
        catalog: &str,
        page: u64,
        limit: u32,
        filter: &ItemFilter,
    ) -> Result<Page, ApiError> {
        let path = format!("/public/catalogs/{}/items", segment(catalog));
        let offset = (page - 1).saturating_mul(u64::from(limit));
        let mut query = vec![
            ("page", page.to_string()),
            ("limit", limit.to_string()),
            ("offset", offset.to_string()),
        ];
        // As rastro's own client sends them: `search`, `sort_field`, `sort_order`.
        query.extend(filter.search.clone().map(|s| ("search", s)));
        if let Some((field, descending)) = &filter.sort {
            query.push(("sort_field", field.clone()));
            let order = if *descending { "desc" } else { "asc" };
            query.push(("sort_order", order.to_string()));
        }
        let reply = self
            .http
            .send(Method::GET, &path, &query, None, true)
            .await?;
        let page: ItemPage = self.http.decode(&Method::GET, &path, &reply.body)?;
        let mut records = Vec::with_capacity(page.items.len());
        for item in page.items {
            require_id(&self.http, &path, &reply.body, &item, "an item")?;
            records.push(flat_item(item));
        }
        Ok(Page {
            records,
            total: page.total,
        })
    }

    /// One item, flat (`id` and its fields) whichever shape the server sends.
    pub async fn items_get(&self, catalog: &str, item: &str) -> Result<Value, ApiError> {
        let path = item_path(catalog, item);
        let reply = self.http.send(Method::GET, &path, &[], None, true).await?;
        let found: Value = self.http.decode(&Method::GET, &path, &reply.body)?;
        require_id(&self.http, &path, &reply.body, &found, "the item")?;
        Ok(flat_item(found))
    }

    /// PUT the item's fields. The excerpt says PUT changes only the fields given; rastro's
    /// own client says the backend replaces the whole item. Callers send the whole item
    /// unless the user asked for `--partial`.
    pub async fn items_put(
        &self,
        catalog: &str,
        item: &str,
        fields: &Value,
    ) -> Result<Value, ApiError> {
        let path = item_path(catalog, item);
        let body = serde_json::to_vec(fields).unwrap_or_default();
        let reply = self
            .http
            .send(Method::PUT, &path, &[], Some(body.into()), true)
            .await?;
        let updated: Value = self.http.decode(&Method::PUT, &path, &reply.body)?;
        require_id(&self.http, &path, &reply.body, &updated, "the updated item")?;
        Ok(flat_item(updated))
    }
}

fn item_path(catalog: &str, item: &str) -> String {
    format!(
        "/public/catalogs/{}/items/{}",
        segment(catalog),
        segment(item)
    )
}

/// Every catalog and item the docs show is an object with an `id`.
fn require_id(
    http: &Http,
    path: &str,
    body: &[u8],
    record: &Value,
    what: &str,
) -> Result<(), ApiError> {
    match record.get("id") {
        Some(Value::String(_) | Value::Number(_)) => Ok(()),
        _ => Err(http.unexpected(&Method::GET, path, body, format!("{what} without an id"))),
    }
}

/// Items come flat (`{id, sku, …}`, the excerpt) or as `{id, data: {…}, metadata: {…}}`
/// (the newer quickstart and rastro's own client). Both print as the flat form, so
/// `--columns`, `--jq` and CSV output work the same whichever the server sends.
pub fn flat_item(item: Value) -> Value {
    let Value::Object(mut map) = item else {
        return item;
    };
    let nested = map.get("data").is_some_and(Value::is_object)
        && map.contains_key("id")
        && map
            .keys()
            .all(|key| matches!(key.as_str(), "id" | "data" | "metadata"));
    if !nested {
        return Value::Object(map);
    }
    let mut flat = Map::new();
    if let Some(id) = map.shift_remove("id") {
        flat.insert("id".to_string(), id);
    }
    if let Some(Value::Object(data)) = map.shift_remove("data") {
        for (key, value) in data {
            flat.entry(key).or_insert(value);
        }
    }
    Value::Object(flat)
}

impl Client {
    /// `POST /public/catalogs/{id}/enrich` with the documented parameters in `request`.
    pub async fn enrich_start(&self, catalog: &str, request: &Value) -> Result<Value, ApiError> {
        let path = format!("/public/catalogs/{}/enrich", segment(catalog));
        // Not idempotent: a repeated start would run a second job.
        let body = serde_json::to_vec(request).unwrap_or_default();
        let reply = self
            .http
            .send(Method::POST, &path, &[], Some(body.into()), false)
            .await?;
        self.job(&Method::POST, &path, &reply.body)
    }

    pub async fn enrich_status(&self, catalog: &str, job: &str) -> Result<Value, ApiError> {
        let path = format!(
            "/public/catalogs/{}/enrich/{}",
            segment(catalog),
            segment(job)
        );
        let reply = self.http.send(Method::GET, &path, &[], None, true).await?;
        self.job(&Method::GET, &path, &reply.body)
    }

    pub async fn enrich_cancel(&self, catalog: &str, job: &str) -> Result<Value, ApiError> {
        let path = format!(
            "/public/catalogs/{}/enrich/{}/cancel",
            segment(catalog),
            segment(job)
        );
        // Cancelling twice leaves the job cancelled, so a retry is harmless.
        let reply = self.http.send(Method::POST, &path, &[], None, true).await?;
        self.job(&Method::POST, &path, &reply.body)
    }

    /// A job reply: the docs' examples all carry `job_id`, `status` and `total_items`.
    fn job(&self, method: &Method, path: &str, body: &[u8]) -> Result<Value, ApiError> {
        let job: Value = self.http.decode(method, path, body)?;
        let fits = job.get("job_id").is_some_and(Value::is_string)
            && job.get("status").is_some_and(Value::is_string);
        if fits {
            Ok(job)
        } else {
            Err(self
                .http
                .unexpected(method, path, body, "a job without job_id or status"))
        }
    }
}

/// `POST /public/catalogs/{id}/items/bulk`: upsert by the unique field.
pub struct BulkUpsert {
    http: Arc<Http>,
    catalog: String,
    path: String,
    unique_field: String,
    prefix: Box<[u8]>,
    suffix: Box<[u8]>,
}

/// The bulk reply, in either documented shape: the excerpt's `{created, updated, failed}`,
/// or the current docs' `{success, items_processed, items_created, items_failed,
/// schema_evolved}` (docs.rastro.ai/catalogs/bulk).
#[derive(Deserialize)]
#[serde(untagged)]
enum BulkCounts {
    Excerpt {
        created: u64,
        updated: u64,
        failed: u64,
    },
    Current {
        success: bool,
        items_processed: u64,
        items_created: u64,
        items_failed: u64,
    },
}

impl BulkUpsert {
    pub fn new(http: Arc<Http>, request: &BulkRequest) -> anyhow::Result<Self> {
        let catalog = request.catalog.clone().unwrap_or_default();
        let Some(unique_field) = request.unique_field.clone() else {
            return Err(
                Failure::usage("rastro upserts match items on a unique field")
                    .hint("pass --unique-field F, or set unique_field in the profile")
                    .into(),
            );
        };
        let (prefix, suffix) = envelope_parts(
            "{\"items\":[",
            &format!("],\"unique_field\":{}}}", json_string(&unique_field)),
        );
        Ok(BulkUpsert {
            http,
            path: format!("/public/catalogs/{}/items/bulk", segment(&catalog)),
            catalog,
            unique_field,
            prefix,
            suffix,
        })
    }
}

impl BulkEndpoint for BulkUpsert {
    fn http(&self) -> &Http {
        &self.http
    }

    fn destination(&self) -> String {
        self.catalog.clone()
    }

    fn max_items(&self) -> usize {
        MAX_BULK_ITEMS
    }

    fn key_field(&self) -> Option<&str> {
        Some(&self.unique_field)
    }

    fn sends_records_as_items(&self) -> bool {
        true
    }

    fn item_key(&self, item: &Value) -> Option<String> {
        key_text(item.get(&self.unique_field)?)
    }

    /// VENDOR-APIS.md: an item lists as flat `{id, sku, …}` (old docs) or as `{id, data: {…},
    /// metadata: {…}}` (newer docs); `id` is rastro's own, which a bulk item does not carry.
    fn listed_as_item(&self, listed: Value) -> Option<Value> {
        let Value::Object(mut fields) = listed else {
            return None;
        };
        let wrapped = matches!(fields.get("data"), Some(Value::Object(_)))
            && fields
                .keys()
                .all(|k| matches!(k.as_str(), "id" | "data" | "metadata"));
        if wrapped {
            return fields.shift_remove("data");
        }
        if self.unique_field != "id" {
            fields.shift_remove("id");
        }
        Some(Value::Object(fields))
    }

    fn envelope(&self) -> (&[u8], &[u8]) {
        (&self.prefix, &self.suffix)
    }

    /// Items go as they are; the unique field must hold a value to match on.
    fn item(&self, fields: Map<String, Value>) -> Result<Value, (String, Value)> {
        let problem = match fields.get(&self.unique_field) {
            Some(Value::String(s)) if !s.is_empty() => None,
            Some(Value::Number(_)) => None,
            Some(Value::String(_)) | Some(Value::Null) | None => {
                Some(format!("the unique field {} is missing", self.unique_field))
            }
            Some(_) => Some(format!(
                "the unique field {} must be a string or a number",
                self.unique_field
            )),
        };
        match problem {
            Some(reason) => Err((reason, Value::Object(fields))),
            None => Ok(Value::Object(fields)),
        }
    }

    fn send(&self, body: bytes::Bytes) -> BoxFuture<'_, Result<BulkReply, ApiError>> {
        Box::pin(self.upsert(body))
    }
}

impl BulkUpsert {
    async fn upsert(&self, body: bytes::Bytes) -> Result<BulkReply, ApiError> {
        // An upsert by unique field is safe to repeat, so 5xx and timeouts are retried too.
        let reply = self
            .http
            .send(Method::POST, &self.path, &[], Some(body), true)
            .await?;
        let counts: BulkCounts = serde_json::from_slice(&reply.body).map_err(|_| {
            self.http.unexpected(
                &Method::POST,
                &self.path,
                &reply.body,
                "expected created/updated/failed or success/items_processed/items_created/items_failed",
            )
        })?;
        let (created, updated, failed) = match counts {
            BulkCounts::Excerpt {
                created,
                updated,
                failed,
            } => (created, updated, failed),
            BulkCounts::Current {
                success,
                items_processed,
                items_created,
                items_failed,
            } => {
                if !success && items_failed == 0 {
                    return Err(self.http.unexpected(
                        &Method::POST,
                        &self.path,
                        &reply.body,
                        "success is false but no item is counted as failed",
                    ));
                }
                let updated = items_processed.saturating_sub(items_created + items_failed);
                (items_created, updated, items_failed)
            }
        };
        Ok(BulkReply {
            created: Some(created),
            updated: Some(updated),
            refused: Vec::new(),
            unattributed_failures: failed,
            indexing_token: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_items_print_flat() {
        let nested = json!({"id": "i1", "data": {"sku": "A1", "price": 2}, "metadata": {"v": 1}});
        assert_eq!(
            flat_item(nested),
            json!({"id": "i1", "sku": "A1", "price": 2})
        );
        let flat = json!({"id": "i1", "sku": "A1", "data": {"x": 1}});
        assert_eq!(
            flat_item(flat.clone()),
            flat,
            "a flat item with a data field stays"
        );
    }

    #[test]
    fn both_bulk_reply_shapes_are_read() {
        let excerpt: BulkCounts =
            serde_json::from_value(json!({"created": 10, "updated": 5, "failed": 0})).unwrap();
        assert!(matches!(excerpt, BulkCounts::Excerpt { created: 10, .. }));
        let current: BulkCounts = serde_json::from_value(json!({"success": true,
            "items_processed": 15, "items_created": 10, "items_failed": 0,
            "schema_evolved": false}))
        .unwrap();
        assert!(matches!(
            current,
            BulkCounts::Current {
                items_processed: 15,
                ..
            }
        ));
        assert!(serde_json::from_value::<BulkCounts>(json!({"status": "queued"})).is_err());
    }
}
