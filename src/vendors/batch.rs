//! batch (vendors/batch.txt, doc.batch.com, VENDOR-APIS.md §2): catalogs (list by cursor,
//! view, create, update, remove) and item edits, authenticated by the REST key and the project
//! key. The item and field rules are in `catops_spec::batch`, shared with the sandbox.

mod catalogs;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::{Map, Value};

use super::Probe;
use super::{
    envelope_parts, json_string, key_text, BulkEndpoint, BulkReply, BulkRequest, Indexing,
    IndexingState, Operation, Vendor, VendorKind,
};
use crate::config::Profile;
use crate::error::Failure;
use crate::http::{ApiError, AuthHeader, Http};
use crate::secret::Secret;
use catops_spec::batch::{
    validate_item, DEFAULT_API_VERSION, ITEMS_PER_SECOND, MAX_ITEMS_PER_REQUEST,
    REQUESTS_PER_SECOND,
};

pub struct Batch;

impl Vendor for Batch {
    fn kind(&self) -> VendorKind {
        VendorKind::Batch
    }

    fn default_base_url(&self, profile: &Profile) -> String {
        format!("https://api.batch.com/{}", self.api_version(profile))
    }

    fn api_version<'a>(&self, profile: &'a Profile) -> &'a str {
        profile
            .api_version
            .as_deref()
            .unwrap_or(DEFAULT_API_VERSION)
    }

    /// Bearer REST key plus the project key header, which the docs mark required.
    fn auth_headers(&self, profile: &Profile, token: &Secret) -> anyhow::Result<Vec<AuthHeader>> {
        let Some(project) = profile.project_key.as_deref() else {
            return crate::error::usage(
                "batch profiles need project_key (sent as X-Batch-Project)",
            );
        };
        Ok(vec![
            AuthHeader::bearer(token)?,
            AuthHeader::plain("X-Batch-Project", project)?,
        ])
    }

    fn operations(&self) -> &'static [Operation] {
        &[
            Operation::CatalogsList,
            Operation::CatalogsGet,
            Operation::CatalogsCreate,
            Operation::CatalogsUpdate,
            Operation::CatalogsDelete,
            Operation::BulkUpsert,
            Operation::BulkRemove,
            Operation::ItemsDelete,
        ]
    }

    fn client(&self, http: Http) -> Box<dyn super::Client> {
        Box::new(catalogs::Client::new(http))
    }

    /// GET /catalogs/list (doc.batch.com catalogs list), one catalog.
    fn probe(&self, _profile: &Profile) -> Probe {
        Probe {
            path: "/catalogs/list",
            query: vec![("limit", "1".to_string())],
        }
    }

    fn bulk(
        &self,
        http: Arc<Http>,
        request: &BulkRequest,
    ) -> anyhow::Result<Box<dyn BulkEndpoint>> {
        Ok(Box::new(ItemsEdit::new(http, request)?))
    }

    fn raw_page(&self, query: &[(String, String)], reply: Value) -> Result<super::RawPage, String> {
        catalogs::raw_page(query, reply)
    }
}

/// `POST /catalogs/items/edit`: `add` for bulk upsert, `remove` for bulk remove.
pub struct ItemsEdit {
    http: Arc<Http>,
    catalog: String,
    id_field: String,
    remove: bool,
    prefix: Box<[u8]>,
    suffix: Box<[u8]>,
}

const EDIT_PATH: &str = "/catalogs/items/edit";

/// The documented 202 body of `/catalogs/items/edit`.
#[derive(serde::Deserialize)]
struct EditAccepted {
    indexing_token: String,
}

impl ItemsEdit {
    pub fn new(http: Arc<Http>, request: &BulkRequest) -> anyhow::Result<Self> {
        let Some(catalog) = request.catalog.clone() else {
            return Err(Failure::usage("batch needs the catalog name: --catalog NAME").into());
        };
        let (prefix, suffix) = envelope_parts(
            &format!("{{\"name\":{},\"items\":[", json_string(&catalog)),
            "]}",
        );
        Ok(ItemsEdit {
            http,
            catalog,
            id_field: request.id_field.clone().unwrap_or_else(|| "id".to_string()),
            remove: matches!(
                request.operation,
                Operation::BulkRemove | Operation::ItemsDelete
            ),
            prefix,
            suffix,
        })
    }
}

impl BulkEndpoint for ItemsEdit {
    fn http(&self) -> &Http {
        &self.http
    }

    fn destination(&self) -> String {
        self.catalog.clone()
    }

    fn max_items(&self) -> usize {
        MAX_ITEMS_PER_REQUEST
    }

    /// edit-items, Rate Limiting: 5 requests/s and 1000 items/s.
    fn default_rates(&self) -> (Option<f64>, Option<f64>) {
        (Some(REQUESTS_PER_SECOND), Some(ITEMS_PER_SECOND))
    }

    fn key_field(&self) -> Option<&str> {
        Some(&self.id_field)
    }

    fn item_key(&self, item: &Value) -> Option<String> {
        key_text(item.get("id")?)
    }

    fn reports_indexing_token(&self) -> bool {
        true
    }

    /// edit-items: "Attributes that are omitted from the request will be ignored and left
    /// unchanged"; "Setting a string to null completely removes this attribute".
    fn merged_fields(&self) -> Option<&'static str> {
        Some("attributes")
    }

    fn indexing(&self) -> Option<&dyn Indexing> {
        Some(self)
    }

    /// Upserts only: a remove names ids, which need no field.
    fn check_columns<'a>(&'a self, columns: &'a [String]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            if self.remove {
                return Ok(());
            }
            let attributes: Vec<&str> = columns
                .iter()
                .map(String::as_str)
                .filter(|c| *c != self.id_field)
                .collect();
            catalogs::check_columns(&self.http, &self.catalog, &attributes).await
        })
    }

    fn envelope(&self) -> (&[u8], &[u8]) {
        (&self.prefix, &self.suffix)
    }

    /// SPEC §4: a flat record becomes `{"action":"add","id":..,"attributes":{..}}`; a record
    /// already in that shape passes through. For remove only the id matters.
    fn item(&self, mut fields: Map<String, Value>) -> Result<Value, (String, Value)> {
        let shaped = fields.contains_key("action")
            && fields.contains_key("id")
            && fields
                .keys()
                .all(|k| matches!(k.as_str(), "action" | "id" | "attributes"));
        let item = if shaped && !self.remove {
            Value::Object(fields)
        } else {
            let id_key = if shaped { "id" } else { self.id_field.as_str() };
            let id = match fields.get(id_key) {
                Some(Value::String(id)) if !id.is_empty() => id.clone(),
                // A JSON number id is what the user meant as the id's text.
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(_)) | Some(Value::Null) | None => {
                    let reason = format!("the id field {id_key} is missing");
                    return Err((reason, Value::Object(fields)));
                }
                Some(_) => {
                    let reason = format!("the id field {id_key} must be a string");
                    return Err((reason, Value::Object(fields)));
                }
            };
            fields.shift_remove(id_key);
            if self.remove {
                serde_json::json!({"action": "remove", "id": id})
            } else {
                serde_json::json!({"action": "add", "id": id, "attributes": Value::Object(fields)})
            }
        };
        match validate_item(&item) {
            Ok(()) => Ok(item),
            Err(reason) => Err((reason, item)),
        }
    }

    /// batch answers 202 with an indexing token (edit-items: "you will receive an HTTP 202
    /// confirmation and a token"); a refused chunk is a 400 for the whole chunk. A 2xx
    /// without the token is not batch's answer, so it accepts nothing.
    fn send(&self, body: bytes::Bytes) -> BoxFuture<'_, Result<BulkReply, ApiError>> {
        Box::pin(self.edit(body))
    }
}

impl Indexing for ItemsEdit {
    fn indexing_state<'a>(
        &'a self,
        catalog: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<IndexingState, ApiError>> {
        Box::pin(catalogs::indexing_state(&self.http, catalog, token))
    }
}

impl ItemsEdit {
    async fn edit(&self, body: bytes::Bytes) -> Result<BulkReply, ApiError> {
        // Adds and removes by id are safe to repeat.
        let reply = self
            .http
            .send(Method::POST, EDIT_PATH, &[], Some(body), true)
            .await?;
        let accepted: EditAccepted = self.http.decode(&Method::POST, EDIT_PATH, &reply.body)?;
        Ok(BulkReply {
            indexing_token: Some(accepted.indexing_token),
            ..BulkReply::default()
        })
    }
}
