//! rastro (vendors/rastro.txt): catalogs and items.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Page;
use crate::http::{ApiError, Http};

pub const DEFAULT_BASE_URL: &str = "https://catalogapi.rastro.ai/api";
/// vendors/rastro.txt: "Items per page (max 1000)".
pub const MAX_PAGE_LIMIT: u32 = 1000;

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

/// Percent-encodes one path segment so an id with `/` or `?` cannot change the route.
fn segment(raw: &str) -> String {
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

#[cfg(test)]
mod tests {
    #[test]
    fn segment_escapes_route_characters() {
        assert_eq!(super::segment("cat_demo"), "cat_demo");
        assert_eq!(super::segment("a/b?c d"), "a%2Fb%3Fc%20d");
    }
}
