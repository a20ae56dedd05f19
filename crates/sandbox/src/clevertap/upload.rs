//! clevertap's signed-URL file upload under `/clevertap` (pre-signed-url-api,
//! mark-a-signed-url-api): `GET /v2/catalogs/signedurl` hands out upload URLs that the
//! sandbox serves itself, `PUT /_upload/{uploadId}/{part}?signature=` takes the bytes (only
//! their count is kept), and `POST /v2/catalogs/signedurl/complete` creates a PROCESSING job.
//!
//! Where the docs are silent, the sandbox's choices: one URL is `signedUrl`, parts are
//! `signedUrls: [{partNumber, signedUrl}]`; a URL is good for one upload and part; completing
//! needs every part uploaded and `fileSize` equal to the bytes received; an upload completes
//! once (409 after); the job stays PROCESSING (`GET /_sandbox/uploads/{uploadId}` shows it).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::StreamExt;
use rusqlite::{params, OptionalExtension, Transaction};
use serde_json::{json, Value};

use crate::error::Fail;
use crate::Shared;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS clevertap_uploads (
    upload_id TEXT PRIMARY KEY,
    catalog_id INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    parts INTEGER NOT NULL,
    signature TEXT NOT NULL,
    job TEXT
);
CREATE TABLE IF NOT EXISTS clevertap_upload_parts (
    upload_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part)
) WITHOUT ROWID;
";

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch("DELETE FROM clevertap_upload_parts; DELETE FROM clevertap_uploads;")
}

/// pre-signed-url-api: `totalParts` has no documented maximum; object stores take 10,000.
const MAX_PARTS: u64 = 10_000;
/// How long the sandbox's jobs say they take.
const JOB_ESTIMATE_MS: i64 = 5 * 60 * 1000;

fn fail(status: StatusCode, code: &'static str, message: impl Into<String>) -> Fail {
    Fail::coded(status, code, message)
}

fn invalid(message: impl Into<String>) -> Fail {
    fail(StatusCode::BAD_REQUEST, "CATALOG_INVALID_REQUEST", message)
}

pub fn router(shared: Arc<Shared>) -> Router {
    // The v2 catalog pages' headers, as the catalog routes check them.
    let v2 = Router::new()
        .route("/v2/catalogs/signedurl", get(signed_url))
        .route("/v2/catalogs/signedurl/complete", post(complete))
        // Not a clevertap API: what an upload received, and its job.
        .route("/_sandbox/uploads/{upload_id}", get(inspect))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            super::require_headers,
        ));
    // A signed URL is its own credential: no headers, the signature in the query.
    let signed = Router::new()
        .route("/_upload/{upload_id}/{part}", put(receive_part))
        .layer(DefaultBodyLimit::disable());
    v2.merge(signed).with_state(shared)
}

/// `GET /v2/catalogs/signedurl?catalogId=&fileName=&contentType=&multiPart=&totalParts=`.
async fn signed_url(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Fail> {
    let text = |key: &str| query.get(key).filter(|v| !v.is_empty()).cloned();
    let catalog: i64 = text("catalogId")
        .and_then(|raw| raw.parse().ok())
        .ok_or_else(|| invalid("catalogId is required and must be a number"))?;
    let file_name = text("fileName").ok_or_else(|| invalid("fileName is required"))?;
    if file_name.chars().count() > 500 {
        return Err(invalid("fileName must be at most 500 characters"));
    }
    match text("contentType").as_deref() {
        Some("text/csv" | "text/xml" | "application/xml") => {}
        _ => {
            return Err(invalid(
                "contentType must be text/csv, text/xml or application/xml",
            ))
        }
    }
    let parts = match text("multiPart").as_deref() {
        Some("false") => 1,
        Some("true") => text("totalParts")
            .and_then(|raw| raw.parse::<u64>().ok())
            .filter(|n| (1..=MAX_PARTS).contains(n))
            .ok_or_else(|| invalid("totalParts is required with multiPart=true: 1 to 10000"))?,
        _ => return Err(invalid("multiPart is required: true or false")),
    };
    let upload_id = format!("upl_{:016x}", fastrand::u64(..));
    let signature = format!("{:032x}", fastrand::u128(..));
    let (id, name, sig) = (upload_id.clone(), file_name.clone(), signature.clone());
    shared
        .db
        .call(move |conn| -> Result<(), Fail> {
            let tx = conn.transaction()?;
            super::products::catalog_exists(&tx, catalog)?;
            tx.execute(
                "INSERT INTO clevertap_uploads (upload_id, catalog_id, file_name, parts, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, catalog, name, parts as i64, sig],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await??;
    // The URL points back at this server, as the client reached it.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let url = |part: u64| {
        format!("http://{host}/clevertap/_upload/{upload_id}/{part}?signature={signature}")
    };
    let reply = if parts == 1 {
        json!({"uploadId": upload_id, "signedUrl": url(1)})
    } else {
        let urls: Vec<Value> = (1..=parts)
            .map(|n| json!({"partNumber": n, "signedUrl": url(n)}))
            .collect();
        json!({"uploadId": upload_id, "signedUrls": urls})
    };
    Ok(Json(reply).into_response())
}

/// `PUT /_upload/{uploadId}/{part}?signature=`: counts the bytes (a part sent again replaces
/// its count), answering as an object store does, 200 with an ETag.
async fn receive_part(
    State(shared): State<Arc<Shared>>,
    Path((upload_id, part)): Path<(String, u64)>,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
) -> Result<Response, Fail> {
    let forbidden = || {
        fail(
            StatusCode::FORBIDDEN,
            "SIGNATURE_DOES_NOT_MATCH",
            "The request signature does not match this upload and part.",
        )
    };
    let signature = query.get("signature").cloned().ok_or_else(forbidden)?;
    let id = upload_id.clone();
    let parts: Option<(i64, String)> = shared
        .db
        .call(move |conn| -> Result<_, Fail> {
            Ok(conn
                .query_row(
                    "SELECT parts, signature FROM clevertap_uploads WHERE upload_id = ?1 AND job IS NULL",
                    [id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?)
        })
        .await??;
    match parts {
        Some((parts, expected)) if expected == signature && (1..=parts as u64).contains(&part) => {}
        _ => return Err(forbidden()),
    }
    let mut bytes = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| invalid(format!("the upload broke off: {err}")))?;
        bytes += chunk.len() as u64;
    }
    shared
        .db
        .call(move |conn| -> Result<(), Fail> {
            conn.execute(
                "INSERT INTO clevertap_upload_parts (upload_id, part, bytes) VALUES (?1, ?2, ?3)
                 ON CONFLICT (upload_id, part) DO UPDATE SET bytes = excluded.bytes",
                params![upload_id, part as i64, bytes as i64],
            )?;
            Ok(())
        })
        .await??;
    let etag = format!("\"{:032x}\"", fastrand::u128(..));
    Ok((StatusCode::OK, [(header::ETAG, etag)]).into_response())
}

/// `POST /v2/catalogs/signedurl/complete` with `{uploadId, catalogId, fileName, fileSize,
/// completedBy}`, all required: `{status: "PROCESSING", jobId, estimatedCompletionTime}`.
async fn complete(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Result<Response, Fail> {
    let body: Value = serde_json::from_slice(&body)
        .map_err(|err| invalid(format!("The body is not valid JSON: {err}")))?;
    let text = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let number = |key: &str| body.get(key).and_then(Value::as_i64);
    let (Some(upload_id), Some(catalog), Some(file_name), Some(size), Some(by)) = (
        text("uploadId"),
        number("catalogId"),
        text("fileName"),
        number("fileSize"),
        text("completedBy"),
    ) else {
        return Err(invalid(
            "uploadId, catalogId, fileName, fileSize and completedBy are all required",
        ));
    };
    let (upload_id, file_name, by) = (upload_id.to_string(), file_name.to_string(), by.to_string());
    let now = crate::time::unix_ms_now();
    let job = json!({
        "status": "PROCESSING",
        "jobId": format!("job_{:016x}", fastrand::u64(..)),
        "estimatedCompletionTime": crate::time::rfc3339_ms(now + JOB_ESTIMATE_MS),
        "completedBy": by,
        "fileSize": size,
    });
    let stored = job.clone();
    shared
        .db
        .call(move |conn| -> Result<(), Fail> {
            let tx = conn.transaction()?;
            check_complete(&tx, &upload_id, catalog, &file_name, size)?;
            tx.execute(
                "UPDATE clevertap_uploads SET job = ?2 WHERE upload_id = ?1",
                params![upload_id, stored.to_string()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await??;
    Ok(Json(json!({
        "status": job["status"],
        "jobId": job["jobId"],
        "estimatedCompletionTime": job["estimatedCompletionTime"],
    }))
    .into_response())
}

/// The upload is known, not completed yet, of this catalog and file, with every part in and
/// `fileSize` the bytes received.
fn check_complete(
    tx: &Transaction,
    upload_id: &str,
    catalog: i64,
    file_name: &str,
    size: i64,
) -> Result<(), Fail> {
    let found: Option<(i64, String, i64, Option<String>)> = tx
        .query_row(
            "SELECT catalog_id, file_name, parts, job FROM clevertap_uploads WHERE upload_id = ?1",
            [upload_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?;
    let Some((their_catalog, their_name, parts, job)) = found else {
        return Err(fail(
            StatusCode::NOT_FOUND,
            "UPLOAD_NOT_FOUND",
            format!("No upload {upload_id}"),
        ));
    };
    if job.is_some() {
        return Err(fail(
            StatusCode::CONFLICT,
            "UPLOAD_ALREADY_COMPLETED",
            format!("Upload {upload_id} is already complete"),
        ));
    }
    if their_catalog != catalog || their_name != file_name {
        return Err(invalid(format!(
            "upload {upload_id} is for catalog {their_catalog}, file {their_name}"
        )));
    }
    let (received, bytes): (i64, i64) = tx.query_row(
        "SELECT COUNT(*), COALESCE(SUM(bytes), 0) FROM clevertap_upload_parts WHERE upload_id = ?1",
        [upload_id],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if received != parts {
        return Err(invalid(format!(
            "{received} of {parts} parts were uploaded"
        )));
    }
    if bytes != size {
        return Err(invalid(format!(
            "fileSize is {size}, but {bytes} bytes were uploaded"
        )));
    }
    Ok(())
}

/// `GET /_sandbox/uploads/{uploadId}`: the upload, the bytes of each part, and its job.
async fn inspect(
    State(shared): State<Arc<Shared>>,
    Path(upload_id): Path<String>,
) -> Result<Response, Fail> {
    let reply = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction()?;
            let found: Option<(i64, String, i64, Option<String>)> = tx
                .query_row(
                    "SELECT catalog_id, file_name, parts, job FROM clevertap_uploads WHERE upload_id = ?1",
                    [&upload_id],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .optional()?;
            let Some((catalog, file_name, parts, job)) = found else {
                return Err(fail(StatusCode::NOT_FOUND, "UPLOAD_NOT_FOUND", format!("No upload {upload_id}")));
            };
            let mut stmt = tx.prepare(
                "SELECT bytes FROM clevertap_upload_parts WHERE upload_id = ?1 ORDER BY part",
            )?;
            let sizes = stmt
                .query_map([&upload_id], |row| row.get::<_, i64>(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            let job: Value = job
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or(Value::Null);
            Ok(json!({"uploadId": upload_id, "catalogId": catalog, "fileName": file_name,
                "totalParts": parts, "partBytes": sizes, "job": job}))
        })
        .await??;
    Ok(Json(reply).into_response())
}
