//! rastro (vendors/rastro.txt): catalogs and items.

use std::sync::Arc;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{envelope_parts, json_string, segment, BulkReply, BulkRequest, Page};
use crate::error::Failure;
use crate::http::{ApiError, Http};

pub const DEFAULT_BASE_URL: &str = "https://catalogapi.rastro.ai/api";
/// vendors/rastro.txt: "Items per page (max 1000)".
pub const MAX_PAGE_LIMIT: u32 = 1000;
/// vendors/rastro.txt: "Create or update up to 1000 items at once."
pub const MAX_BULK_ITEMS: usize = 1000;

/// The body of `POST /public/catalogs`.
#[derive(Debug, Serialize)]
pub struct NewCatalog {
    pub name: String,
    pub unique_id_field: String,
    pub schema_definition: SchemaDefinition,
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

#[derive(Deserialize)]
struct CatalogList {
    catalogs: Vec<Value>,
}

#[derive(Deserialize)]
struct ItemPage {
    items: Vec<Value>,
    total: Option<u64>,
}

pub struct Rastro {
    http: Http,
}

impl Rastro {
    pub fn new(http: Http) -> Self {
        Rastro { http }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub async fn catalogs_list(&self) -> Result<Vec<Value>, ApiError> {
        let list: CatalogList = self.http.get_json("/public/catalogs", &[]).await?;
        Ok(list.catalogs)
    }

    pub async fn catalogs_create(&self, request: &NewCatalog) -> Result<Value, ApiError> {
        let body = serde_json::to_value(request).unwrap_or(Value::Null);
        // Not idempotent: a retried create after a lost response would make a second catalog.
        self.http
            .send_json(Method::POST, "/public/catalogs", &body, false)
            .await
    }

    pub async fn items_page(
        &self,
        catalog: &str,
        page: u64,
        limit: Option<u32>,
    ) -> Result<Page, ApiError> {
        let path = format!("/public/catalogs/{}/items", segment(catalog));
        let mut query = vec![("page", page.to_string())];
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        let page: ItemPage = self.http.get_json(&path, &query).await?;
        Ok(Page {
            records: page.items,
            total: page.total,
        })
    }

    pub async fn items_get(&self, catalog: &str, item: &str) -> Result<Value, ApiError> {
        let path = format!(
            "/public/catalogs/{}/items/{}",
            segment(catalog),
            segment(item)
        );
        self.http.get_json(&path, &[]).await
    }

    pub async fn items_update(
        &self,
        catalog: &str,
        item: &str,
        fields: &Value,
    ) -> Result<Value, ApiError> {
        let path = format!(
            "/public/catalogs/{}/items/{}",
            segment(catalog),
            segment(item)
        );
        self.http.send_json(Method::PUT, &path, fields, true).await
    }
}

impl Rastro {
    /// `POST /public/catalogs/{id}/enrich` with the documented parameters in `request`.
    pub async fn enrich_start(&self, catalog: &str, request: &Value) -> Result<Value, ApiError> {
        let path = format!("/public/catalogs/{}/enrich", segment(catalog));
        // Not idempotent: a repeated start would run a second job.
        self.http
            .send_json(Method::POST, &path, request, false)
            .await
    }

    pub async fn enrich_status(&self, catalog: &str, job: &str) -> Result<Value, ApiError> {
        let path = format!(
            "/public/catalogs/{}/enrich/{}",
            segment(catalog),
            segment(job)
        );
        self.http.get_json(&path, &[]).await
    }

    pub async fn enrich_cancel(&self, catalog: &str, job: &str) -> Result<Value, ApiError> {
        let path = format!(
            "/public/catalogs/{}/enrich/{}/cancel",
            segment(catalog),
            segment(job)
        );
        // Cancelling twice leaves the job cancelled, so a retry is harmless.
        let reply = self.http.send(Method::POST, &path, &[], None, true).await?;
        self.http.decode(&Method::POST, &path, &reply.body)
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

#[derive(Deserialize)]
struct BulkCounts {
    created: Option<u64>,
    updated: Option<u64>,
    failed: Option<u64>,
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

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub fn destination(&self) -> String {
        self.catalog.clone()
    }

    pub fn unique_field(&self) -> &str {
        &self.unique_field
    }

    pub fn envelope(&self) -> (&[u8], &[u8]) {
        (&self.prefix, &self.suffix)
    }

    /// Items go as they are; the unique field must hold a value to match on.
    pub fn item(&self, fields: Map<String, Value>) -> Result<Value, (String, Value)> {
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

    pub async fn send(&self, body: bytes::Bytes) -> Result<BulkReply, ApiError> {
        // An upsert by unique field is safe to repeat, so 5xx and timeouts are retried too.
        let reply = self
            .http
            .send(Method::POST, &self.path, &[], Some(body), true)
            .await?;
        let counts: BulkCounts = self.http.decode(&Method::POST, &self.path, &reply.body)?;
        Ok(BulkReply {
            created: counts.created,
            updated: counts.updated,
            refused: Vec::new(),
            unattributed_failures: counts.failed.unwrap_or(0),
        })
    }
}
