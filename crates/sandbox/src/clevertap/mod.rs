//! clevertap emulation (vendors/clevertap.txt) under `/clevertap`: catalogs list (with its
//! filters) and get here, their lifecycle in `catalogs`. Auth is two headers, `X-CleverTap-Token` and `X-Account-Id`; errors use
//! clevertap's `{"status": "fail", "code": "<ERROR CODE>", "error": "<message>"}` body with
//! the documented error codes. Products are in `products`.

mod products;
mod upload;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, put};
use axum::{Json, Router};
use catops_spec::VendorKind;
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::{json, Value};

mod catalogs;

use crate::emulated::Emulated;
use crate::error::Fail;
use crate::Shared;

fn fail(status: StatusCode, code: &'static str, message: impl Into<String>) -> Fail {
    Fail::coded(status, code, message)
}

/// This vendor's row in the sandbox's registry.
pub const EMULATED: Emulated = Emulated {
    kind: VendorKind::Clevertap,
    prefix: "/clevertap",
    tables: &[SCHEMA, products::SCHEMA, upload::SCHEMA],
    seed,
    clear,
    router,
    error_body,
};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clevertap_catalogs (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
";

const TOKEN_HEADER: &str = "X-CleverTap-Token";
const ACCOUNT_HEADER: &str = "X-Account-Id";

/// SPEC §8: catalog 123 is vendors/clevertap.txt's example response, as printed there
/// (the doc's e-mail addresses included); 124 is a second one to list.
fn demo_catalogs() -> [Value; 2] {
    [
        json!({
            "id": 123,
            "catalogName": "electronics_catalog",
            "catalogSchema": [
                {"name": "brand", "type": "string", "filterable": true},
                {"name": "price", "type": "number", "filterable": true}
            ],
            "fieldMappings": {"manufacturer": "brand", "cost": "price"},
            "description": "Product catalog for electronics store",
            "totalProducts": 1500,
            "status": "ACTIVE",
            "createdAt": 1699564800,
            "createdBy": "catalog.admin@example.com",
            "updatedBy": "catalog.editor@example.com",
            "isActive": true,
            "attributeCount": 4,
            "totalColumns": 7
        }),
        json!({
            "id": 124,
            "catalogName": "apparel_catalog",
            "catalogSchema": [
                {"name": "size", "type": "string", "filterable": true},
                {"name": "color", "type": "string", "filterable": true},
                {"name": "price", "type": "number", "filterable": true}
            ],
            "fieldMappings": {"colour": "color", "cost": "price"},
            "description": "Product catalog for apparel store",
            "totalProducts": 820,
            "status": "ACTIVE",
            "createdAt": 1702252800,
            "createdBy": "apparel-admin@example.com",
            "updatedBy": "catalog-ops@example.com",
            "isActive": true,
            "attributeCount": 5,
            "totalColumns": 8
        }),
    ]
}

pub fn seed(tx: &Transaction) -> rusqlite::Result<()> {
    for catalog in demo_catalogs() {
        tx.execute(
            "INSERT INTO clevertap_catalogs (id, body) VALUES (?1, ?2)",
            params![catalog["id"].as_i64(), catalog.to_string()],
        )?;
    }
    Ok(())
}

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    products::clear(tx)?;
    upload::clear(tx)?;
    tx.execute_batch("DELETE FROM clevertap_catalogs;")
}

/// clevertap names its errors by code (the body's shape is undocumented; this is the sandbox's).
pub fn error_body(fail: &Fail) -> Value {
    json!({"status": "fail", "code": fail.code.unwrap_or("INTERNAL_ERROR"), "error": fail.message})
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v2/catalogs", get(list_catalogs).post(catalogs::create))
        .route("/v2/catalogs/{id}", get(get_catalog).put(catalogs::update))
        .route("/v2/catalogs/delete/{id}", put(catalogs::delete))
        .route(
            "/v2/catalogs/{id}/schema/attributes/{attribute}/filterable",
            patch(catalogs::filterable),
        )
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_headers,
        ))
        .with_state(shared.clone())
        .merge(products::router(shared.clone()))
        .merge(upload::router(shared))
}

/// vendors/clevertap.txt "Headers": the token must be the sandbox's (AUTHENTICATION_FAILED:
/// "missing or invalid"); the account id must be there, any value (SPEC §8), else
/// AUTHORIZATION_FAILED.
async fn require_headers(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let token = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    if token != Some(shared.token.as_str()) {
        return fail(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_FAILED",
            "The provided token is missing or invalid.",
        )
        .into_response();
    }
    if !headers.contains_key(ACCOUNT_HEADER) {
        return fail(
            StatusCode::FORBIDDEN,
            "AUTHORIZATION_FAILED",
            "The caller does not have permission to access this catalog: X-Account-Id is missing.",
        )
        .into_response();
    }
    next.run(request).await
}

/// list-catalogs-api: `page` zero-based (default 0), `size` default 20, at most 100.
const DEFAULT_PAGE_SIZE: u64 = 20;
const MAX_PAGE_SIZE: u64 = 100;

/// `GET /v2/catalogs?page=&size=`: the documented `content`, with the Spring-style page facts
/// the page's cut-off example most likely continues with (`page`, `size`, `totalElements`,
/// `totalPages`). Catalogs come by id.
async fn list_catalogs(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Fail> {
    let number = |key: &str, default: u64, min: u64, max: u64| -> Result<u64, Fail> {
        match query.get(key) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    fail(
                        StatusCode::BAD_REQUEST,
                        "CATALOG_INVALID_REQUEST",
                        format!("{key} must be an integer from {min} to {max}, got '{raw}'"),
                    )
                }),
        }
    };
    let page = number("page", 0, 0, i64::MAX as u64 / MAX_PAGE_SIZE)?;
    let size = number("size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)?;
    let filter = ListFilter::read(&query)?;
    let (catalogs, total) = shared
        .db
        .call(move |conn| -> Result<(Vec<Value>, u64), Fail> {
            let tx = conn.transaction()?;
            let total: i64 = tx.query_row(
                &format!(
                    "SELECT COUNT(*) FROM clevertap_catalogs {}",
                    ListFilter::WHERE
                ),
                params![filter.status, filter.search],
                |row| row.get(0),
            )?;
            let mut stmt = tx.prepare(&format!(
                "SELECT body FROM clevertap_catalogs {} {} LIMIT ?3 OFFSET ?4",
                ListFilter::WHERE,
                filter.order_by()
            ))?;
            let offset = (page * size) as i64;
            let rows = stmt.query_map(
                params![filter.status, filter.search, size as i64, offset],
                |row| row.get::<_, String>(0),
            )?;
            let mut catalogs = Vec::new();
            for body in rows {
                catalogs.push(serde_json::from_str(&body?).unwrap_or(Value::Null));
            }
            Ok((catalogs, total as u64))
        })
        .await??;
    Ok(Json(json!({
        "content": catalogs,
        "page": page,
        "size": size,
        "totalElements": total,
        "totalPages": total.div_ceil(size),
    }))
    .into_response())
}

/// list-catalogs-api's filters: `status`, `search` (a part of the name, any case), `sortBy`
/// (createdAt, catalogName, updatedAt) and `sortOrder` (ASC, DESC; DESC by default). Without
/// `sortBy` catalogs come by id.
struct ListFilter {
    status: Option<String>,
    search: Option<String>,
    sort: Option<(&'static str, bool)>,
}

impl ListFilter {
    const WHERE: &'static str = "WHERE (?1 IS NULL OR json_extract(body, '$.status') = ?1)
        AND (?2 IS NULL OR instr(lower(json_extract(body, '$.catalogName')), lower(?2)) > 0)";

    fn read(query: &HashMap<String, String>) -> Result<ListFilter, Fail> {
        let invalid =
            |message: String| fail(StatusCode::BAD_REQUEST, "CATALOG_INVALID_REQUEST", message);
        let status = match query.get("status").map(String::as_str) {
            None => None,
            Some(s @ ("ACTIVE" | "INACTIVE" | "DELETED")) => Some(s.to_string()),
            Some(other) => {
                return Err(invalid(format!(
                    "status must be ACTIVE, INACTIVE or DELETED, got '{other}'"
                )))
            }
        };
        let descending = match query.get("sortOrder").map(String::as_str) {
            None | Some("DESC") => true,
            Some("ASC") => false,
            Some(other) => {
                return Err(invalid(format!(
                    "sortOrder must be ASC or DESC, got '{other}'"
                )))
            }
        };
        let sort = match query.get("sortBy").map(String::as_str) {
            None => None,
            Some("createdAt") => Some(("json_extract(body, '$.createdAt')", descending)),
            Some("updatedAt") => Some((
                "COALESCE(json_extract(body, '$.updatedAt'), json_extract(body, '$.createdAt'))",
                descending,
            )),
            Some("catalogName") => Some(("json_extract(body, '$.catalogName')", descending)),
            Some(other) => {
                return Err(invalid(format!(
                    "sortBy must be createdAt, catalogName or updatedAt, got '{other}'"
                )))
            }
        };
        Ok(ListFilter {
            status,
            search: query.get("search").filter(|s| !s.is_empty()).cloned(),
            sort,
        })
    }

    fn order_by(&self) -> String {
        match self.sort {
            Some((key, descending)) => {
                format!(
                    "ORDER BY {key} {}, id",
                    if descending { "DESC" } else { "ASC" }
                )
            }
            None => "ORDER BY id".to_string(),
        }
    }
}

/// `GET /v2/catalogs/{id}`: the catalog object itself. The id is a Number (vendors/
/// clevertap.txt "Path Parameter"), so anything else is a bad parameter, not a missing catalog.
async fn get_catalog(
    State(shared): State<Arc<Shared>>,
    Path(raw): Path<String>,
) -> Result<Response, Fail> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            format!("id must be a number, got '{raw}'"),
        ));
    }
    let not_found = || {
        fail(
            StatusCode::NOT_FOUND,
            "CATALOG_NOT_FOUND",
            format!("No catalog exists for the specified id {raw}."),
        )
    };
    // Digits too many for an i64 cannot name a stored catalog.
    let id: i64 = raw.parse().map_err(|_| not_found())?;
    let body = shared
        .db
        .call(move |conn| -> Result<Option<String>, Fail> {
            Ok(conn
                .query_row(
                    "SELECT body FROM clevertap_catalogs WHERE id = ?1",
                    [id],
                    |row| row.get(0),
                )
                .optional()?)
        })
        .await??
        .ok_or_else(not_found)?;
    let catalog: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    Ok(Json(catalog).into_response())
}
