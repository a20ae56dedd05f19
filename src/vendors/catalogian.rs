//! catalogian (vendors/catalogian.txt): sources and their delta feed.

use serde::Deserialize;
use serde_json::Value;

use super::segment;
use crate::http::{ApiError, Http};

pub const DEFAULT_BASE_URL: &str = "https://api.catalogian.com";
/// vendors/catalogian.txt: delta `limit` "default 50, max 200", `keysLimit` "default 100, max 1000".
pub const MAX_DELTA_LIMIT: u32 = 200;
pub const MAX_KEYS_LIMIT: u32 = 1000;
/// Rows pages: the docs give no maximum; this one keeps a page's memory bounded.
pub const MAX_ROWS_LIMIT: u32 = 1000;

/// One page of a cursor-paginated list.
pub struct CursorPage {
    pub records: Vec<Value>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaReply {
    #[serde(default)]
    events: Vec<Value>,
    next_cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowsReply {
    #[serde(default)]
    rows: Vec<Value>,
    next_cursor: Option<String>,
    #[serde(default)]
    has_more: bool,
}

/// Filters of `GET /v1/sources/:id/delta`.
#[derive(Default, Clone)]
pub struct DeltaQuery {
    pub since: Option<String>,
    pub limit: Option<u32>,
    pub keys_limit: Option<u32>,
    pub cursor: Option<String>,
}

pub struct Catalogian {
    http: Http,
}

impl Catalogian {
    pub fn new(http: Http) -> Self {
        Catalogian { http }
    }

    pub fn http(&self) -> &Http {
        &self.http
    }

    pub async fn sources(&self) -> Result<Vec<Value>, ApiError> {
        self.http.get_json("/v1/sources", &[]).await
    }

    pub async fn delta_page(
        &self,
        source: &str,
        query: &DeltaQuery,
    ) -> Result<CursorPage, ApiError> {
        let path = format!("/v1/sources/{}/delta", segment(source));
        let mut params = Vec::new();
        if let Some(since) = &query.since {
            params.push(("since", since.clone()));
        }
        if let Some(limit) = query.limit {
            params.push(("limit", limit.to_string()));
        }
        if let Some(keys) = query.keys_limit {
            params.push(("keysLimit", keys.to_string()));
        }
        if let Some(cursor) = &query.cursor {
            params.push(("cursor", cursor.clone()));
        }
        let reply: DeltaReply = self.http.get_json(&path, &params).await?;
        Ok(CursorPage {
            records: reply.events,
            next_cursor: reply.next_cursor,
            has_more: reply.has_more,
        })
    }

    pub async fn latest(&self, source: &str) -> Result<Value, ApiError> {
        let path = format!("/v1/sources/{}/delta/latest", segment(source));
        self.http.get_json(&path, &[]).await
    }

    pub async fn rows_page(
        &self,
        source: &str,
        event: &str,
        change_type: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<CursorPage, ApiError> {
        let path = format!(
            "/v1/sources/{}/delta/{}/rows",
            segment(source),
            segment(event)
        );
        let mut params = Vec::new();
        if let Some(change_type) = change_type {
            params.push(("changeType", change_type.to_string()));
        }
        if let Some(limit) = limit {
            params.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = cursor {
            params.push(("cursor", cursor.to_string()));
        }
        let reply: RowsReply = self.http.get_json(&path, &params).await?;
        Ok(CursorPage {
            records: reply.rows,
            next_cursor: reply.next_cursor,
            has_more: reply.has_more,
        })
    }
}
