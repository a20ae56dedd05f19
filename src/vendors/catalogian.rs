//! catalogian (vendors/catalogian.txt, catalogian.com/docs): sources and their delta feed.

use std::any::Any;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::pages::{self, RawPage};
use super::Probe;
use super::{segment, Advice, Operation, Vendor, VendorKind};
use crate::config::Profile;
use crate::http::{ApiError, Http};
pub use catops_spec::catalogian::{
    MAX_EVENTS_LIMIT, MAX_KEYS_LIMIT, MAX_ROWS_LIMIT, MAX_SNAPSHOTS_LIMIT, MAX_SNAPSHOT_ROWS_LIMIT,
};

const DEFAULT_BASE_URL: &str = "https://api.catalogian.com";

pub struct Catalogian;

impl Vendor for Catalogian {
    fn kind(&self) -> VendorKind {
        VendorKind::Catalogian
    }

    fn default_base_url(&self, _profile: &Profile) -> String {
        DEFAULT_BASE_URL.to_string()
    }

    fn operations(&self) -> &'static [Operation] {
        &[
            Operation::DeltaSources,
            Operation::DeltaList,
            Operation::DeltaLatest,
            Operation::DeltaRows,
            Operation::DeltaWatch,
            Operation::DeltaSnapshots,
            Operation::DeltaSnapshotRows,
        ]
    }

    fn client(&self, http: Http) -> Box<dyn super::Client> {
        Box::new(Client { http })
    }

    /// GET /v1/sources: the sources the key sees.
    fn probe(&self, _profile: &Profile) -> Probe {
        Probe {
            path: "/v1/sources",
            query: Vec::new(),
        }
    }

    /// `GET /v1/sources` answers a bare array, not paginated; the other lists are the cursor
    /// envelope (catalogian.com/docs/pagination): `events`, `rows` or `snapshots`, and the
    /// next page by `cursor` = `nextCursor` while `hasMore`.
    fn raw_page(&self, query: &[(String, String)], mut reply: Value) -> Result<RawPage, String> {
        if let Value::Array(sources) = reply {
            return Ok(RawPage::whole(sources));
        }
        let page = read_cursor(&mut reply, &["events", "rows", "snapshots"])?;
        let next = pages::next_cursor(
            page.has_more,
            page.next_cursor,
            "hasMore without a nextCursor",
        )?
        .map(|cursor| pages::with_params(query, &[("cursor", cursor)]));
        Ok(RawPage {
            elements: page.records,
            next,
        })
    }

    /// A 403 means the key lacks a scope (catalogian.com/docs/api).
    fn advice(&self, err: &ApiError) -> Advice {
        Advice {
            exit_code: None,
            hint: (err.status().map(|s| s.as_u16()) == Some(403)).then_some(
                "the key lacks a scope: `delta rows` needs read:rows; create a key with read:rows under Source Settings → API Keys",
            ),
        }
    }
}

/// One page of a cursor-paginated list.
pub struct CursorPage {
    pub records: Vec<Value>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// The documented cursor envelope (catalogian.com/docs/pagination): the records under
/// `events` or `rows`, and `hasMore`/`nextCursor`. A reply without its array is an error, not
/// an empty page.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaReply {
    events: Vec<Value>,
    next_cursor: Option<String>,
    has_more: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowsReply {
    rows: Vec<Value>,
    next_cursor: Option<String>,
    has_more: bool,
}

/// Filters of `GET /v1/sources/:id/snapshot-rows`: `search` across all fields, or in `field`
/// only.
#[derive(Default, Clone)]
pub struct SnapshotRowsQuery {
    pub search: Option<String>,
    pub field: Option<String>,
    pub limit: Option<u32>,
}

/// Filters of `GET /v1/sources/:id/delta`.
#[derive(Default, Clone)]
pub struct DeltaQuery {
    pub since: Option<String>,
    pub limit: Option<u32>,
    pub keys_limit: Option<u32>,
    pub cursor: Option<String>,
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
}

impl Client {
    /// `GET /v1/sources`: a bare array of sources, each with its `id`.
    pub async fn sources(&self) -> Result<Vec<Value>, ApiError> {
        let path = "/v1/sources";
        let reply = self.http.send(Method::GET, path, &[], None, true).await?;
        let sources: Vec<Value> = self.http.decode(&Method::GET, path, &reply.body)?;
        if sources
            .iter()
            .any(|s| !s.get("id").is_some_and(Value::is_string))
        {
            return Err(self.http.unexpected(
                &Method::GET,
                path,
                &reply.body,
                "a source without an id",
            ));
        }
        Ok(sources)
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

    /// `GET …/delta/latest`: "a single event object, not an array". Whether it is wrapped
    /// in the list envelope is not documented, so an `event` wrapper is taken too.
    pub async fn latest(&self, source: &str) -> Result<Value, ApiError> {
        let path = format!("/v1/sources/{}/delta/latest", segment(source));
        let reply = self.http.send(Method::GET, &path, &[], None, true).await?;
        let mut event: Value = self.http.decode(&Method::GET, &path, &reply.body)?;
        if event.get("id").is_none() {
            if let Some(inner) = event.get_mut("event").map(Value::take) {
                event = inner;
            }
        }
        if !(event.get("id").is_some_and(Value::is_string) && event.get("detectedAt").is_some()) {
            return Err(self.http.unexpected(
                &Method::GET,
                &path,
                &reply.body,
                "an event without id or detectedAt",
            ));
        }
        Ok(event)
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

    /// `GET /v1/sources/:id/snapshots`, newest first. The documented example has neither
    /// `hasMore` nor `nextCursor`, the pagination page says every list has both: either is read.
    pub async fn snapshots_page(
        &self,
        source: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<CursorPage, ApiError> {
        let path = format!("/v1/sources/{}/snapshots", segment(source));
        let mut params = Vec::new();
        if let Some(limit) = limit {
            params.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = cursor {
            params.push(("cursor", cursor.to_string()));
        }
        let page = self.cursor_page(&path, &params, "snapshots").await?;
        if let Some(bad) = page.records.iter().find(|s| !s["id"].is_string()) {
            let body = bad.to_string();
            return Err(self.http.unexpected(
                &Method::GET,
                &path,
                body.as_bytes(),
                "a snapshot without an id",
            ));
        }
        Ok(page)
    }

    /// `GET /v1/sources/:id/snapshot-rows`: the current snapshot's rows. Their shape is not
    /// documented, so any object is a row; the envelope is the documented cursor one.
    pub async fn snapshot_rows_page(
        &self,
        source: &str,
        query: &SnapshotRowsQuery,
        cursor: Option<&str>,
    ) -> Result<CursorPage, ApiError> {
        let path = format!("/v1/sources/{}/snapshot-rows", segment(source));
        let mut params = Vec::new();
        if let Some(search) = &query.search {
            params.push(("search", search.clone()));
        }
        if let Some(field) = &query.field {
            params.push(("field", field.clone()));
        }
        if let Some(limit) = query.limit {
            params.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = cursor {
            params.push(("cursor", cursor.to_string()));
        }
        let page = self.cursor_page(&path, &params, "rows").await?;
        if let Some(bad) = page.records.iter().find(|row| !row.is_object()) {
            let body = bad.to_string();
            return Err(self.http.unexpected(
                &Method::GET,
                &path,
                body.as_bytes(),
                "a row that is not an object",
            ));
        }
        Ok(page)
    }

    /// A page of the cursor envelope (catalogian.com/docs/pagination), its records under
    /// `key`.
    async fn cursor_page(
        &self,
        path: &str,
        params: &[(&str, String)],
        key: &'static str,
    ) -> Result<CursorPage, ApiError> {
        let reply = self
            .http
            .send(Method::GET, path, params, None, true)
            .await?;
        let mut envelope: Value = self.http.decode(&Method::GET, path, &reply.body)?;
        read_cursor(&mut envelope, &[key])
            .map_err(|why| self.http.unexpected(&Method::GET, path, &reply.body, why))
    }
}

/// The cursor envelope, its records under the first of `keys` it has: required, as an array.
/// `hasMore` and `nextCursor` may be absent; without `hasMore`, a non-empty `nextCursor`
/// means more.
fn read_cursor(envelope: &mut Value, keys: &[&'static str]) -> Result<CursorPage, String> {
    let (_, records) = pages::take_array(envelope, keys)?;
    let next_cursor = match envelope.get("nextCursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(cursor)) => Some(cursor.clone()).filter(|c| !c.is_empty()),
        Some(_) => return Err("`nextCursor` is not a string".into()),
    };
    let has_more = match envelope.get("hasMore") {
        None | Some(Value::Null) => next_cursor.is_some(),
        Some(Value::Bool(more)) => *more,
        Some(_) => return Err("`hasMore` is not a boolean".into()),
    };
    Ok(CursorPage {
        records,
        next_cursor,
        has_more,
    })
}
