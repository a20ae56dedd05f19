//! batch's catalog endpoints (doc.batch.com/developer/api/cep/catalogs/*): list pages by the
//! `next_from` cursor, view (with `indexing_state` for an edit's token), create, update and
//! remove. The writes answer `{}`, so create and update read the catalog back with view.

use std::any::Any;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::Failure;
use crate::http::{ApiError, Http};
use crate::vendors::pages::{self, RawPage};
use crate::vendors::{
    CatalogAdmin, CatalogChanges, CatalogPages, CatalogSpec, CatalogsPage, FieldSpec,
    IndexingState, Page,
};
use catops_spec::batch::{
    attribute_field, check_field_type, validate_attributes, validate_field, FIELD_TYPES,
    MAX_FIELDS, MAX_LIST_LIMIT,
};

const LIST_PATH: &str = "/catalogs/list";
const VIEW_PATH: &str = "/catalogs/view";
const CREATE_PATH: &str = "/catalogs/create";
const UPDATE_PATH: &str = "/catalogs/update";
const REMOVE_PATH: &str = "/catalogs/remove";

pub struct Client {
    http: Http,
}

impl Client {
    pub fn new(http: Http) -> Client {
        Client { http }
    }
}

impl super::super::Client for Client {
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
}

/// catalogs/list: `catalogs` and `has_more` always, `count` on the first page only, and
/// `next_from` to pass as `from` while `has_more`.
#[derive(Deserialize)]
struct CatalogList {
    catalogs: Vec<Value>,
    has_more: bool,
    count: Option<u64>,
    next_from: Option<String>,
}

impl CatalogPages for Client {
    fn table_columns(&self) -> &'static [&'static str] {
        &["name", "items", "size", "updated"]
    }

    fn catalogs_page(
        &self,
        from: Option<String>,
        size: u32,
    ) -> BoxFuture<'_, Result<CatalogsPage, ApiError>> {
        Box::pin(async move {
            let mut query = vec![("limit", size.clamp(1, MAX_LIST_LIMIT).to_string())];
            if let Some(from) = from {
                query.push(("from", from));
            }
            let reply = self
                .http
                .send(Method::GET, LIST_PATH, &query, None, true)
                .await?;
            let list: CatalogList = self.http.decode(&Method::GET, LIST_PATH, &reply.body)?;
            for catalog in &list.catalogs {
                require_catalog(&self.http, LIST_PATH, &reply.body, catalog)?;
            }
            let next =
                pages::next_cursor(list.has_more, list.next_from, NO_CURSOR).map_err(|why| {
                    self.http
                        .unexpected(&Method::GET, LIST_PATH, &reply.body, why)
                })?;
            Ok(CatalogsPage {
                page: Page {
                    records: list.catalogs,
                    total: list.count,
                },
                next,
            })
        })
    }
}

const NO_CURSOR: &str = "has_more without a next_from cursor";

/// `catops api --paginate`: catalogs/list is batch's one documented list, `catalogs` paged
/// by the `next_from` cursor (passed back as `from`) while `has_more`.
pub fn raw_page(query: &[(String, String)], mut reply: Value) -> Result<RawPage, String> {
    let (_, elements) = pages::take_array(&mut reply, &["catalogs"])?;
    let more = match reply.get("has_more") {
        Some(Value::Bool(more)) => *more,
        _ => return Err("missing field `has_more` (a boolean)".to_string()),
    };
    let cursor = reply
        .get("next_from")
        .and_then(Value::as_str)
        .map(str::to_string);
    let next = pages::next_cursor(more, cursor, NO_CURSOR)?
        .map(|from| pages::with_params(query, &[("from", from)]));
    Ok(RawPage { elements, next })
}

/// A catalog object names itself and its fields (view: name, fields, items, size, created,
/// updated are required; only what catops reads is held to).
fn require_catalog(http: &Http, path: &str, body: &[u8], catalog: &Value) -> Result<(), ApiError> {
    if catalog.get("name").is_some_and(Value::is_string) && catalog["fields"].is_array() {
        Ok(())
    } else {
        Err(http.unexpected(&Method::GET, path, body, "a catalog without name or fields"))
    }
}

/// `GET /catalogs/view?name=[&indexing_token=]`.
pub async fn view(http: &Http, name: &str, token: Option<&str>) -> Result<Value, ApiError> {
    let mut query = vec![("name", name.to_string())];
    if let Some(token) = token {
        query.push(("indexing_token", token.to_string()));
    }
    let reply = http
        .send(Method::GET, VIEW_PATH, &query, None, true)
        .await?;
    let catalog: Value = http.decode(&Method::GET, VIEW_PATH, &reply.body)?;
    require_catalog(http, VIEW_PATH, &reply.body, &catalog)?;
    Ok(catalog)
}

/// The writes answer `{}` (201 for create, 202 for update and remove); anything but a JSON
/// object is not batch's answer.
async fn post(http: &Http, path: &str, body: &Value) -> Result<(), ApiError> {
    // Not repeated on a 5xx or a timeout: a create or an added field that did land would
    // make the repeat fail ("already exists"), hiding that the first one worked.
    http.send_json::<Map<String, Value>>(Method::POST, path, body, false)
        .await
        .map(drop)
}

impl CatalogAdmin for Client {
    fn catalog_get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(view(&self.http, id, None))
    }

    fn catalog_create<'a>(&'a self, spec: &'a CatalogSpec) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let body = create_body(spec)?;
            post(&self.http, CREATE_PATH, &body).await?;
            Ok(view(&self.http, &spec.name, None).await?)
        })
    }

    /// catalogs/update changes the fields only: `{name, fields: [{action, name, type}]}`.
    fn catalog_update<'a>(
        &'a self,
        id: &'a str,
        changes: &'a CatalogChanges,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            let body = update_body(id, changes)?;
            post(&self.http, UPDATE_PATH, &body).await?;
            Ok(view(&self.http, id, None).await?)
        })
    }

    fn catalog_delete<'a>(
        &'a self,
        id: &'a str,
        _by: Option<&'a str>,
    ) -> BoxFuture<'a, anyhow::Result<Value>> {
        Box::pin(async move {
            post(&self.http, REMOVE_PATH, &json!({ "name": id })).await?;
            Ok(json!({ "name": id, "deleted": true }))
        })
    }
}

/// `view` with the edit's token. The view page spells the state in progress IN_PROGRESS, the
/// edit page (and the seed) IN_PROCESS: both are taken. Anything else, or none, is not an
/// answer to the token.
pub async fn indexing_state(
    http: &Http,
    catalog: &str,
    token: &str,
) -> Result<IndexingState, ApiError> {
    let catalog = view(http, catalog, Some(token)).await?;
    match catalog.get("indexing_state").and_then(Value::as_str) {
        Some("APPLIED") => Ok(IndexingState::Applied),
        Some("IN_PROGRESS" | "IN_PROCESS") => Ok(IndexingState::InProgress),
        other => {
            let what = match other {
                Some(state) => format!("an unknown indexing_state '{state}'"),
                None => "no indexing_state for the indexing_token".to_string(),
            };
            let body = catalog.to_string();
            Err(http.unexpected(&Method::GET, VIEW_PATH, body.as_bytes(), what))
        }
    }
}

fn field_error(message: String) -> anyhow::Error {
    Failure::usage(message)
        .hint(format!(
            "batch field types: {}; names are [a-z0-9_]",
            FIELD_TYPES.join(", ")
        ))
        .into()
}

fn checked_field(field: &FieldSpec) -> anyhow::Result<Value> {
    validate_field(&field.name, &field.kind)
        .map_err(|why| field_error(format!("--field: {why}")))?;
    Ok(json!({"name": field.name, "type": field.kind}))
}

/// catalogs/create: `{name, fields}`, 1 to 25 fields. batch has no unique id field (items are
/// matched by `id`) and no description.
fn create_body(spec: &CatalogSpec) -> anyhow::Result<Value> {
    if spec.unique_id_field.is_some() || spec.description.is_some() {
        return Err(Failure::usage(
            "batch catalogs have a name and fields only (no --unique-id-field or --description)",
        )
        .hint("items are matched on their id: bulk upsert --id-field")
        .into());
    }
    if spec.fields.is_empty() || spec.fields.len() > MAX_FIELDS {
        return Err(field_error(format!(
            "a batch catalog has 1 to {MAX_FIELDS} fields, got {}: --field NAME:TYPE or --schema FILE",
            spec.fields.len()
        )));
    }
    let fields = spec
        .fields
        .iter()
        .map(checked_field)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(json!({"name": spec.name, "fields": fields}))
}

fn update_body(id: &str, changes: &CatalogChanges) -> anyhow::Result<Value> {
    if changes.name.is_some() || changes.description.is_some() || !changes.other.is_empty() {
        return Err(Failure::usage(
            "batch's catalog update changes fields only (no --name, --description or --json)",
        )
        .hint("add a field with --field +NAME:TYPE, remove one with --field -NAME")
        .into());
    }
    let mut fields = Vec::new();
    for field in &changes.add_fields {
        let mut added = checked_field(field)?;
        added["action"] = json!("add");
        fields.push(added);
    }
    for name in &changes.remove_fields {
        fields.push(json!({"action": "remove", "name": name}));
    }
    if fields.is_empty() {
        return Err(
            Failure::usage("nothing to change: give --field +NAME:TYPE or --field -NAME").into(),
        );
    }
    Ok(json!({"name": id, "fields": fields}))
}

/// The column check before an upsert: each attribute column must name a field of the
/// catalog, through the key its type needs (`url(x)`, `date(x)`). A column whose name breaks
/// batch's key rules is left to the row checks, which reject the rows that fill it and say
/// which rule it breaks.
pub async fn check_columns(http: &Http, catalog: &str, columns: &[&str]) -> anyhow::Result<()> {
    let writable: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| {
            let mut probe = Map::new();
            probe.insert(c.to_string(), Value::Null);
            validate_attributes(&probe).is_ok()
        })
        .collect();
    if writable.is_empty() {
        return Ok(());
    }
    let view = view(http, catalog, None).await?;
    let fields: Vec<(&str, &str)> = view["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .filter_map(|f| Some((f.get("name")?.as_str()?, f.get("type")?.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    let mut missing = Vec::new();
    let mut mistyped = Vec::new();
    for column in writable {
        let (name, _) = attribute_field(column);
        match fields.iter().find(|(field, _)| *field == name) {
            None => missing.push(column),
            Some((_, kind)) => {
                if let Err(why) = check_field_type(column, &Value::Null, kind) {
                    mistyped.push(format!("column {column}: {why}"));
                }
            }
        }
    }
    let listed: Vec<String> = fields.iter().map(|(n, t)| format!("{n}:{t}")).collect();
    if !missing.is_empty() {
        let adds: Vec<String> = missing
            .iter()
            .map(|column| match attribute_field(column) {
                (name, Some(kind)) => format!("--field +{name}:{kind}"),
                (name, None) => format!("--field +{name}:TYPE"),
            })
            .collect();
        return Err(Failure::usage(format!(
            "catalog {catalog} has no field for the column{} {} (its fields: {})",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            listed.join(", ")
        ))
        .hint(format!(
            "add the fields first: catops catalogs update {catalog} {} (TYPE: {}), or drop the columns",
            adds.join(" "),
            FIELD_TYPES.join(", ")
        ))
        .into());
    }
    if !mistyped.is_empty() {
        return Err(Failure::usage(mistyped.join("; ")).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(fields: &[(&str, &str)]) -> CatalogSpec {
        CatalogSpec {
            name: "MOVIES".into(),
            fields: fields
                .iter()
                .map(|(name, kind)| FieldSpec {
                    name: name.to_string(),
                    kind: kind.to_string(),
                    filterable: false,
                })
                .collect(),
            ..CatalogSpec::default()
        }
    }

    #[test]
    fn create_sends_name_and_fields_and_refuses_what_batch_lacks() {
        assert_eq!(
            create_body(&spec(&[("title", "string"), ("poster", "url")])).unwrap(),
            json!({"name": "MOVIES", "fields": [{"name": "title", "type": "string"}, {"name": "poster", "type": "url"}]})
        );
        let wrong_type = create_body(&spec(&[("price", "number")])).unwrap_err();
        assert!(
            wrong_type.to_string().contains("not one of"),
            "{wrong_type}"
        );
        assert!(create_body(&spec(&[])).is_err());
        let mut unique = spec(&[("title", "string")]);
        unique.unique_id_field = Some("sku".into());
        assert!(create_body(&unique).is_err());
    }

    #[test]
    fn update_sends_adds_then_removes() {
        let changes = CatalogChanges {
            add_fields: spec(&[("colour", "string")]).fields,
            remove_fields: vec!["rank".into()],
            ..CatalogChanges::default()
        };
        assert_eq!(
            update_body("MOVIES", &changes).unwrap(),
            json!({"name": "MOVIES", "fields": [
                {"name": "colour", "type": "string", "action": "add"},
                {"action": "remove", "name": "rank"}]})
        );
        assert!(update_body("MOVIES", &CatalogChanges::default()).is_err());
    }
}
