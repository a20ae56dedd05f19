//! clevertap (vendors/clevertap.txt, developer.clevertap.com): catalogs, authenticated by two
//! headers; products in `products`.

pub mod products;
mod upload;

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

mod catalogs;

use super::pages::{self, RawPage};
use super::Probe;
use super::{
    segment, Advice, CatalogAdmin, CatalogFilter, CatalogPages, CatalogsPage, Operation, Page,
    Vendor, VendorKind,
};
use crate::config::Profile;
use crate::error::exit;
use crate::http::{ApiError, AuthHeader, Http};
use crate::secret::Secret;
use catops_spec::clevertap::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

const DEFAULT_REGION: &str = "in1";

pub struct Clevertap;

impl Vendor for Clevertap {
    fn kind(&self) -> VendorKind {
        VendorKind::Clevertap
    }

    fn default_base_url(&self, profile: &Profile) -> String {
        let region = profile.region.as_deref().unwrap_or(DEFAULT_REGION);
        format!("https://{region}.api.clevertap.com")
    }

    /// The v2 catalog pages authenticate with two headers instead of a bearer token, and mark
    /// `Content-Type: application/json` required on every request, GETs included.
    fn auth_headers(&self, profile: &Profile, token: &Secret) -> anyhow::Result<Vec<AuthHeader>> {
        let Some(account) = profile.account_id.as_deref() else {
            return crate::error::usage(
                "clevertap profiles need account_id (sent as X-Account-Id)",
            );
        };
        Ok(vec![
            AuthHeader::plain("X-Account-Id", account)?,
            AuthHeader::secret("X-CleverTap-Token", token.expose())?,
            AuthHeader::plain("Content-Type", "application/json")?,
        ])
    }

    fn operations(&self) -> &'static [Operation] {
        &[
            Operation::CatalogsList,
            Operation::CatalogsGet,
            Operation::CatalogsCreate,
            Operation::CatalogsUpdate,
            Operation::CatalogsDelete,
            Operation::CatalogsFilterable,
            Operation::BulkUpsert,
            Operation::BulkUpload,
        ]
    }

    fn bulk(
        &self,
        http: Arc<Http>,
        request: &super::BulkRequest,
    ) -> anyhow::Result<Box<dyn super::BulkEndpoint>> {
        products::bulk(http, request)
    }

    fn client(&self, http: Http) -> Box<dyn super::Client> {
        Box::new(Client { http })
    }

    /// GET /v2/catalogs, one catalog.
    fn probe(&self, _profile: &Profile) -> Probe {
        Probe {
            path: "/v2/catalogs",
            query: vec![("page", "0".to_string()), ("size", "1".to_string())],
        }
    }

    /// clevertap names its errors by code, and the code decides over the status; a refused
    /// account may lack the Catalogs feature (developer.clevertap.com/docs/product-catalog-api:
    /// "Catalog feature is not enabled for this account").
    fn advice(&self, err: &ApiError) -> Advice {
        let exit_code = match err.code() {
            Some("CATALOG_NOT_FOUND") => Some(exit::NOT_FOUND),
            Some("AUTHENTICATION_FAILED" | "AUTHORIZATION_FAILED") => Some(exit::AUTH),
            _ => None,
        };
        let refused = exit_code == Some(exit::AUTH)
            || matches!(err.status().map(|s| s.as_u16()), Some(401 | 403));
        Advice {
            exit_code,
            hint: refused.then_some(
                "check account_id, region and the passcode (`catops profile show`); an account without the Catalogs feature is refused too (\"Catalog feature is not enabled for this account\")",
            ),
        }
    }

    /// `GET /v2/catalogs` (list-catalogs-api): `content`, by zero-based `page` and `size`
    /// (default 20). The Spring-style `totalPages` and `totalElements` are read where sent;
    /// without them a page shorter than `size` is the last.
    fn raw_page(&self, query: &[(String, String)], mut reply: Value) -> Result<RawPage, String> {
        let (_, elements) = pages::take_array(&mut reply, &["content"])?;
        let index = pages::number(query, "page")?.unwrap_or(0);
        let size = pages::number(query, "size")?;
        let got = elements.len() as u64;
        let more = match pages::count(&reply, "totalPages")? {
            Some(total_pages) => got > 0 && index.saturating_add(1) < total_pages,
            None => {
                let offset = index.saturating_mul(size.unwrap_or(u64::from(DEFAULT_PAGE_SIZE)));
                pages::more(offset, got, size, pages::count(&reply, "totalElements")?)
            }
        };
        let next = more.then(|| pages::with_params(query, &[("page", (index + 1).to_string())]));
        Ok(RawPage { elements, next })
    }
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

    fn file_uploads(&self) -> Option<&dyn super::FileUploads> {
        Some(self)
    }
}

impl CatalogPages for Client {
    fn table_columns(&self) -> &'static [&'static str] {
        &["id", "catalogName", "status", "totalProducts", "createdAt"]
    }

    fn catalogs_page(
        &self,
        from: Option<String>,
        size: u32,
    ) -> BoxFuture<'_, Result<CatalogsPage, ApiError>> {
        Box::pin(self.filtered(None, from, size))
    }

    fn check_filter(&self, filter: &CatalogFilter) -> Result<(), String> {
        catalogs::check_filter(filter)
    }

    fn filtered_page<'a>(
        &'a self,
        filter: &'a CatalogFilter,
        from: Option<String>,
        size: u32,
    ) -> BoxFuture<'a, Result<CatalogsPage, ApiError>> {
        Box::pin(self.filtered(Some(filter), from, size))
    }
}

impl Client {
    /// Page `from` (zero-based page numbers) of the list, filtered.
    async fn filtered(
        &self,
        filter: Option<&CatalogFilter>,
        from: Option<String>,
        size: u32,
    ) -> Result<CatalogsPage, ApiError> {
        let size = size.min(MAX_PAGE_SIZE);
        let index = from.and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
        let page = self.catalogs_at(index, size, filter).await?;
        let offset = index * u64::from(size);
        let more = pages::more(
            offset,
            page.records.len() as u64,
            Some(u64::from(size)),
            page.total,
        );
        Ok(CatalogsPage {
            next: more.then(|| (index + 1).to_string()),
            page,
        })
    }
}

impl Client {
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
    pub async fn catalogs_at(
        &self,
        page: u64,
        size: u32,
        filter: Option<&CatalogFilter>,
    ) -> Result<Page, ApiError> {
        let mut query = vec![("page", page.to_string()), ("size", size.to_string())];
        if let Some(filter) = filter {
            query.extend(filter.status.clone().map(|s| ("status", s)));
            query.extend(filter.search.clone().map(|s| ("search", s)));
            if let Some((field, descending)) = &filter.sort {
                query.push(("sortBy", field.clone()));
                let order = if *descending { "DESC" } else { "ASC" };
                query.push(("sortOrder", order.to_string()));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn error_codes_decide_and_a_refused_account_hears_of_the_catalogs_feature() {
        let err = |status: u16, code: Option<&str>| ApiError::Status {
            vendor: VendorKind::Clevertap,
            method: Method::GET,
            path: "/v2/catalogs/9".into(),
            status: StatusCode::from_u16(status).unwrap(),
            message: "m".into(),
            code: code.map(str::to_string),
            retried: crate::http::Retried {
                times: 0,
                idempotent: true,
            },
        };
        let advice = Clevertap.advice(&err(400, Some("CATALOG_NOT_FOUND")));
        assert_eq!(advice.exit_code, Some(exit::NOT_FOUND));
        let advice = Clevertap.advice(&err(403, None));
        assert!(advice
            .hint
            .unwrap()
            .contains("Catalog feature is not enabled"));
        assert!(Clevertap.advice(&err(500, None)).hint.is_none());
    }
}
