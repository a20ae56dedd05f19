//! `bulk upsert --upload`: a CSV file handed over through the signed-URL flow
//! (developer.clevertap.com/docs/pre-signed-url-api, /docs/mark-a-signed-url-api): get the
//! upload URL(s), PUT the file (in parts from 100 MB), mark the upload complete. clevertap
//! processes the file afterwards, so the answer is a job id, not accepted rows.

use std::path::Path;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::products::DEFAULT_ID_FIELD;
use crate::error::Failure;
use crate::http::{ApiError, FilePart, Http};
use crate::vendors::{FileUpload, FileUploads, Uploaded};
use catops_spec::clevertap::upload::{parts, CSV_CONTENT_TYPE, MAX_FILE_NAME_CHARS, PART_BYTES};

const SIGNED_URL_PATH: &str = "/v2/catalogs/signedurl";
const COMPLETE_PATH: &str = "/v2/catalogs/signedurl/complete";

impl FileUploads for super::Client {
    fn upload_file<'a>(
        &'a self,
        upload: &'a FileUpload,
    ) -> BoxFuture<'a, anyhow::Result<Uploaded>> {
        Box::pin(hand_over(&self.http, upload))
    }
}

/// What is checked before any request: a regular CSV file with the id column, a numeric
/// catalog, someone to record as `completedBy`.
struct Checked {
    catalog: u64,
    file_name: String,
    size: u64,
    by: String,
}

fn check(upload: &FileUpload) -> anyhow::Result<Checked> {
    let path = &upload.path;
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|err| Failure::usage(format!("cannot read {shown}: {err}")))?;
    if !meta.is_file() {
        return Err(Failure::usage(format!(
            "--upload sends a regular file, and {shown} is not one (stdin and pipes cannot be measured and sent in parts)"
        ))
        .hint("without --upload, catops streams any input through the bulk endpoint")
        .into());
    }
    let catalog = upload.catalog.parse::<u64>().map_err(|_| {
        Failure::usage(format!(
            "clevertap catalog ids are numbers, got --catalog '{}'",
            upload.catalog
        ))
    })?;
    let id_field = upload.id_field.as_deref().unwrap_or(DEFAULT_ID_FIELD);
    check_header(path, id_field)?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if file_name.chars().count() > MAX_FILE_NAME_CHARS {
        return crate::error::usage(format!(
            "clevertap takes file names of at most {MAX_FILE_NAME_CHARS} characters"
        ));
    }
    let Some(by) = upload.by.clone().filter(|by| !by.is_empty()) else {
        return Err(
            Failure::usage("clevertap records who completes an upload (completedBy)")
                .hint("pass --by EMAIL, or set user_email in the profile")
                .into(),
        );
    };
    Ok(Checked {
        catalog,
        file_name,
        size: meta.len(),
        by,
    })
}

/// SPEC §4: a CSV header without the id column is a usage error before any request.
fn check_header(path: &Path, id_field: &str) -> anyhow::Result<()> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|err| Failure::usage(format!("cannot read {}: {err}", path.display())))?;
    let header = reader
        .headers()
        .map_err(|err| Failure::usage(format!("{}: {err}", path.display())))?;
    if header.iter().any(|column| column == id_field) {
        Ok(())
    } else {
        crate::error::usage(format!(
            "{}: the CSV header has no '{id_field}' column, which every row needs",
            path.display()
        ))
    }
}

/// The reply of `GET /v2/catalogs/signedurl`: `uploadId` and `signedUrl` are the names the
/// complete page uses; the rest of the shape is undocumented. catops takes one URL as
/// `signedUrl`, or one per part as `signedUrls` (strings, or objects with `signedUrl`/`url`
/// and an optional `partNumber`), and nothing else.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedUrls {
    upload_id: String,
    signed_url: Option<String>,
    #[serde(default)]
    signed_urls: Vec<PartUrl>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PartUrl {
    Plain(String),
    Numbered {
        #[serde(rename = "partNumber")]
        part_number: Option<u64>,
        #[serde(alias = "url")]
        #[serde(rename = "signedUrl")]
        signed_url: String,
    },
}

/// mark-a-signed-url-api: `{status: "PROCESSING", jobId, estimatedCompletionTime}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Completed {
    status: String,
    job_id: Value,
    estimated_completion_time: Option<String>,
}

async fn hand_over(http: &Http, upload: &FileUpload) -> anyhow::Result<Uploaded> {
    let checked = check(upload)?;
    let started = std::time::Instant::now();
    let count = parts(checked.size);
    let (upload_id, urls) = signed_urls(http, &checked, count).await?;
    for (index, url) in urls.iter().enumerate() {
        let offset = index as u64 * PART_BYTES;
        let len = if count == 1 {
            checked.size
        } else {
            PART_BYTES.min(checked.size - offset)
        };
        let part = FilePart {
            path: upload.path.clone(),
            offset,
            len,
        };
        http.put_signed(url, &part, CSV_CONTENT_TYPE).await?;
    }
    let body = json!({
        "uploadId": upload_id,
        "catalogId": checked.catalog,
        "fileName": checked.file_name,
        "fileSize": checked.size,
        "completedBy": checked.by,
    });
    // Not retried on a 5xx: a second completion of one upload could start a second job.
    let completed: Completed = http
        .send_json(Method::POST, COMPLETE_PATH, &body, false)
        .await?;
    let job_id = match &completed.job_id {
        Value::String(id) if !id.is_empty() => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => {
            let what = "a jobId that is neither text nor a number";
            return Err(http
                .unexpected(&Method::POST, COMPLETE_PATH, &[], what)
                .into());
        }
    };
    Ok(outcome(
        &checked,
        &upload_id,
        count,
        &job_id,
        &completed,
        started.elapsed(),
    ))
}

async fn signed_urls(
    http: &Http,
    checked: &Checked,
    count: u64,
) -> Result<(String, Vec<String>), ApiError> {
    let mut query = vec![
        ("catalogId", checked.catalog.to_string()),
        ("fileName", checked.file_name.clone()),
        ("contentType", CSV_CONTENT_TYPE.to_string()),
        ("multiPart", (count > 1).to_string()),
    ];
    if count > 1 {
        query.push(("totalParts", count.to_string()));
    }
    let reply = http
        .send(Method::GET, SIGNED_URL_PATH, &query, None, true)
        .await?;
    let signed: SignedUrls = http.decode(&Method::GET, SIGNED_URL_PATH, &reply.body)?;
    let upload_id = signed.upload_id.clone();
    let urls = in_part_order(signed);
    if urls.len() as u64 != count {
        let what = format!(
            "{} signed URLs for a file in {count} part(s) (signedUrl, or signedUrls one per part)",
            urls.len()
        );
        return Err(http.unexpected(&Method::GET, SIGNED_URL_PATH, &reply.body, what));
    }
    Ok((upload_id, urls))
}

/// The URLs of a reply, part 1 first: `signedUrls` in `partNumber` order (else as listed),
/// else the one `signedUrl`.
fn in_part_order(signed: SignedUrls) -> Vec<String> {
    let mut numbered: Vec<(u64, String)> = signed
        .signed_urls
        .into_iter()
        .enumerate()
        .map(|(index, url)| match url {
            PartUrl::Plain(url) => (index as u64 + 1, url),
            PartUrl::Numbered {
                part_number,
                signed_url,
            } => (part_number.unwrap_or(index as u64 + 1), signed_url),
        })
        .collect();
    numbered.sort_by_key(|(number, _)| *number);
    let mut urls: Vec<String> = numbered.into_iter().map(|(_, url)| url).collect();
    if urls.is_empty() {
        urls.extend(signed.signed_url);
    }
    urls
}

/// The summary: the file was handed over and a job will process it; no row is accepted yet.
fn outcome(
    checked: &Checked,
    upload_id: &str,
    parts: u64,
    job_id: &str,
    completed: &Completed,
    elapsed: std::time::Duration,
) -> Uploaded {
    let summary = json!({
        "handed_over": true,
        "accepted": Value::Null,
        "job_id": job_id,
        "job_status": completed.status,
        "estimated_completion_time": completed.estimated_completion_time,
        "upload_id": upload_id,
        "file": checked.file_name,
        "bytes": checked.size,
        "parts": parts,
        "requests": parts + 2,
        "elapsed_ms": elapsed.as_millis() as u64,
    });
    let human = format!(
        "catalog {}: {} ({} bytes, {parts} part{}) handed over as job {job_id} ({}): its rows are not accepted until clevertap has processed it",
        checked.catalog,
        checked.file_name,
        checked.size,
        if parts == 1 { "" } else { "s" },
        completed.status,
    );
    Uploaded { summary, human }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(reply: Value) -> Vec<String> {
        in_part_order(serde_json::from_value(reply).unwrap())
    }

    #[test]
    fn signed_urls_come_as_one_or_one_per_part_in_part_order() {
        assert_eq!(
            urls(json!({"uploadId": "u", "signedUrl": "https://a"})),
            ["https://a"]
        );
        assert_eq!(
            urls(json!({"uploadId": "u", "signedUrls": ["https://1", "https://2"]})),
            ["https://1", "https://2"]
        );
        let numbered = json!({"uploadId": "u", "signedUrls": [
            {"partNumber": 2, "signedUrl": "https://2"},
            {"partNumber": 1, "url": "https://1"},
        ]});
        assert_eq!(urls(numbered), ["https://1", "https://2"]);
        assert!(urls(json!({"uploadId": "u"})).is_empty());
        assert!(serde_json::from_value::<SignedUrls>(json!({"signedUrl": "https://a"})).is_err());
    }
}
