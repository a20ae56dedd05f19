//! clevertap's catalog lifecycle (developer.clevertap.com/docs: create-catalog-api,
//! update-catalog-api, delete-catalog-api, mark-attribute-as-filterable-api) and the list's
//! filters (list-catalogs-api). Each change records who made it: `createdBy`, `updatedBy`,
//! `deletedBy` are required.

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::{require_catalog, Client};
use crate::error::Failure;
use crate::http::ApiError;
use crate::vendors::{
    segment, CatalogAdmin, CatalogChanges, CatalogFilter, CatalogSpec, FieldSpec,
};

/// The types a clevertap schema field takes (create-catalog-api).
const FIELD_TYPES: &[&str] = &["string", "number", "boolean"];

/// `--sort` fields the list takes (`sortBy`).
const SORT_FIELDS: &[&str] = &["createdAt", "catalogName", "updatedAt"];

/// `--status` values the list takes.
const STATUSES: &[&str] = &["ACTIVE", "INACTIVE", "DELETED"];

/// list-catalogs-api's `status` and `sortBy` take a few values; anything else is the user's
/// typo, refused before a request.
pub fn check_filter(filter: &CatalogFilter) -> Result<(), String> {
    if let Some(status) = &filter.status {
        if !STATUSES.contains(&status.as_str()) {
            return Err(format!(
                "--status {status}: clevertap's are {}",
                STATUSES.join(", ")
            ));
        }
    }
    if let Some((field, _)) = &filter.sort {
        if !SORT_FIELDS.contains(&field.as_str()) {
            return Err(format!(
                "--sort {field}: clevertap sorts by {}",
                SORT_FIELDS.join(", ")
            ));
        }
    }
    Ok(())
}

fn who(by: Option<&str>, key: &str) -> anyhow::Result<String> {
    by.map(str::to_string).ok_or_else(|| {
        Failure::usage(format!("clevertap records who changes a catalog ({key}): give --by EMAIL"))
            .hint("or set user_email in the profile: catops profile add NAME --vendor clevertap --user-email you@example.com ...")
            .into()
    })
}

fn schema(fields: &[FieldSpec]) -> anyhow::Result<Vec<Value>> {
    fields
        .iter()
        .map(|field| {
            if !FIELD_TYPES.contains(&field.kind.as_str()) {
                return Err(Failure::usage(format!(
                    "field {}: clevertap types are {}, got '{}'",
                    field.name,
                    FIELD_TYPES.join(", "),
                    field.kind
                ))
                .into());
            }
            Ok(json!({"name": field.name, "type": field.kind, "filterable": field.filterable}))
        })
        .collect()
}

/// What a create or update answers. The pages do not show it: a catalog object (what the
/// filterable page returns) is read as one; an object with an `id` is taken as it is.
fn read_reply(
    client: &Client,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Result<Value, ApiError> {
    let reply: Value = client.http.decode(method, path, body)?;
    if reply.get("id").is_some_and(|id| !id.is_null()) {
        return Ok(reply);
    }
    Err(client
        .http
        .unexpected(method, path, body, "an answer without the catalog's id"))
}

impl CatalogAdmin for Client {
    fn catalog_get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(self.catalogs_get(id))
    }

    fn catalog_create<'a>(&'a self, spec: &'a CatalogSpec) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            if spec.fields.is_empty() {
                return Err(Failure::usage(
                    "clevertap needs a schema: --field NAME:TYPE or --schema FILE",
                )
                .into());
            }
            let mut body = json!({
                "catalogName": spec.name,
                "catalogSchema": schema(&spec.fields)?,
                "createdBy": who(spec.by.as_deref(), "createdBy")?,
            });
            if let Some(description) = &spec.description {
                body["description"] = json!(description);
            }
            let path = "/v2/catalogs";
            let bytes = body.to_string().into_bytes();
            // Not idempotent: a retried create after a lost answer would make a second one.
            let reply = self
                .http
                .send(Method::POST, path, &[], Some(bytes.into()), false)
                .await?;
            Ok(read_reply(self, &Method::POST, path, &reply.body)?)
        })
    }

    /// update-catalog-api is a full update: what is not sent is lost, so the catalog is read,
    /// the changes merged in, and the whole of it sent back.
    fn catalog_update<'a>(
        &'a self,
        id: &'a str,
        changes: &'a CatalogChanges,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let current = self.catalogs_get(id).await?;
            let body = merged(&current, changes)?;
            let path = format!("/v2/catalogs/{}", segment(id));
            let bytes = Value::Object(body).to_string().into_bytes();
            let reply = self
                .http
                .send(Method::PUT, &path, &[], Some(bytes.into()), true)
                .await?;
            Ok(read_reply(self, &Method::PUT, &path, &reply.body)?)
        })
    }

    /// delete-catalog-api: `PUT /v2/catalogs/delete/{id}?deletedBy=` (a PUT, not a DELETE),
    /// answering `{message}`.
    fn catalog_delete<'a>(
        &'a self,
        id: &'a str,
        by: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let deleted_by = who(by, "deletedBy")?;
            let path = format!("/v2/catalogs/delete/{}", segment(id));
            let query = [("deletedBy", deleted_by)];
            let reply = self
                .http
                .send(Method::PUT, &path, &query, None, true)
                .await?;
            let answer: Value = self.http.decode(&Method::PUT, &path, &reply.body)?;
            if answer.get("message").is_some_and(Value::is_string) {
                return Ok(answer);
            }
            Err(self
                .http
                .unexpected(
                    &Method::PUT,
                    &path,
                    &reply.body,
                    "an answer without a message",
                )
                .into())
        })
    }
}

/// The whole catalog as update-catalog-api takes it, with the changes applied.
fn merged(current: &Value, changes: &CatalogChanges) -> anyhow::Result<Map<String, Value>> {
    let mut body = Map::new();
    for key in [
        "catalogName",
        "description",
        "status",
        "catalogSchema",
        "recurringSyncConfig",
    ] {
        if let Some(value) = current.get(key).filter(|v| !v.is_null()) {
            body.insert(key.to_string(), value.clone());
        }
    }
    if let Some(name) = &changes.name {
        body.insert("catalogName".into(), json!(name));
    }
    if let Some(description) = &changes.description {
        body.insert("description".into(), json!(description));
    }
    let mut fields: Vec<Value> = body
        .get("catalogSchema")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for name in &changes.remove_fields {
        let before = fields.len();
        fields.retain(|field| field["name"] != json!(name));
        if fields.len() == before {
            return Err(Failure::usage(format!(
                "--field -{name}: the catalog has no field {name}"
            ))
            .into());
        }
    }
    for field in schema(&changes.add_fields)? {
        if fields.iter().any(|f| f["name"] == field["name"]) {
            return Err(Failure::usage(format!(
                "--field +{}: the catalog has that field already",
                field["name"]
            ))
            .into());
        }
        fields.push(field);
    }
    body.insert("catalogSchema".into(), Value::Array(fields));
    body.extend(changes.other.clone());
    body.insert(
        "updatedBy".into(),
        json!(who(changes.by.as_deref(), "updatedBy")?),
    );
    Ok(body)
}

impl Client {
    /// mark-attribute-as-filterable-api: answers the updated catalog.
    pub async fn set_filterable(
        &self,
        id: &str,
        attribute: &str,
        filterable: bool,
        by: Option<&str>,
    ) -> anyhow::Result<Value> {
        let path = format!(
            "/v2/catalogs/{}/schema/attributes/{}/filterable",
            segment(id),
            segment(attribute)
        );
        let query = [
            ("filterable", filterable.to_string()),
            ("updatedBy", who(by, "updatedBy")?),
        ];
        let reply = self
            .http
            .send(Method::PATCH, &path, &query, None, true)
            .await?;
        let catalog: Value = self.http.decode(&Method::PATCH, &path, &reply.body)?;
        require_catalog(&self.http, &Method::PATCH, &path, &reply.body, &catalog)?;
        Ok(catalog)
    }
}
