//! clevertap (vendors/clevertap.txt): catalogs get and list, authenticated by two headers.

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::{segment, Page};
use crate::config::{Profile, Secret};
use crate::http::{ApiError, AuthHeader, Http};

pub const DEFAULT_REGION: &str = "in1";
/// list-catalogs-api: `size` "default 20, max 100".
pub const MAX_PAGE_SIZE: u32 = 100;

pub fn default_base_url(profile: &Profile) -> String {
    let region = profile.region.as_deref().unwrap_or(DEFAULT_REGION);
    format!("https://{region}.api.clevertap.com")
}

/// clevertap authenticates with two headers instead of a bearer token, and the docs mark
/// `Content-Type: application/json` required on every request, GETs included.
pub fn auth_headers(profile: &Profile, token: &Secret) -> anyhow::Result<Vec<AuthHeader>> {
    let Some(account) = profile.account_id.as_deref() else {
        return crate::error::usage("clevertap profiles need account_id (sent as X-Account-Id)");
    };
    Ok(vec![
        AuthHeader::plain("X-Account-Id", account)?,
        AuthHeader::secret("X-CleverTap-Token", token.expose())?,
        AuthHeader::plain("Content-Type", "application/json")?,
    ])
}

pub struct Clevertap {
    http: Http,
}

impl Clevertap {
    pub fn new(http: Http) -> Self {
        Clevertap { http }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub async fn catalogs_get(&self, id: &str) -> Result<Value, ApiError> {
        let path = format!("/v2/catalogs/{}", segment(id));
        let reply = self.http.send(Method::GET, &path, &[], None, true).await?;
        let catalog: Value = self.http.decode(&Method::GET, &path, &reply.body)?;
        require_catalog(&self.http, &Method::GET, &path, &reply.body, &catalog)?;
        Ok(catalog)
    }

    /// One page of `GET /v2/catalogs` (zero-based `page`, `size` at most 100): the catalogs
    /// are `content`, and the Spring-style `totalElements`, where the server sends it, is the
    /// total (developer.clevertap.com/docs/list-catalogs-api).
    pub async fn catalogs_page(&self, page: u64, size: u32) -> Result<Page, ApiError> {
        let query = [("page", page.to_string()), ("size", size.to_string())];
        let reply = self
            .http
            .send(Method::GET, LIST_PATH, &query, None, true)
            .await?;
        let list: CatalogList = self.http.decode(&Method::GET, LIST_PATH, &reply.body)?;
        for catalog in &list.content {
            require_catalog(&self.http, &Method::GET, LIST_PATH, &reply.body, catalog)?;
        }
        Ok(Page {
            records: list.content,
            total: list.total_elements,
        })
    }
}

const LIST_PATH: &str = "/v2/catalogs";

/// The documented envelope of the list; `totalElements` is likely but not shown on the page.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatalogList {
    content: Vec<Value>,
    total_elements: Option<u64>,
}

/// A catalog object has at least its `id` and `catalogName` (get-catalog-api).
fn require_catalog(
    http: &Http,
    method: &Method,
    path: &str,
    body: &[u8],
    catalog: &Value,
) -> Result<(), ApiError> {
    let has = |key: &str| catalog.get(key).is_some_and(|v| !v.is_null());
    if has("id") && has("catalogName") {
        Ok(())
    } else {
        Err(http.unexpected(method, path, body, "a catalog without id or catalogName"))
    }
}
