//! rastro's catalog enrichment (vendors/rastro.txt, "Catalog Enrichment"), part of the rastro
//! emulation under `/rastro/api`: start, status and cancel of jobs that fill the requested
//! fields of every item with deterministic values.
//!
//! A job has no thread of its own. It progresses with wall-clock time at a rate set by its
//! speed, and whoever next touches the catalog's items or jobs first [`advance`]s it to now,
//! writing the items processed since the last advance. Start time and progress live in
//! SQLite, so a job keeps going across processes (the embedded sandbox lives only as long as
//! each command) and its result does not depend on when anyone looked.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Map, Value};

use super::body::parse_body;
use super::store::{catalog_unique_field, render_item};
use crate::changes::{record_change, Changes};
use crate::error::{unprocessable, Fail};
use crate::time::unix_ms_now;
use crate::{stable_hash, Shared};

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rastro_enrich_jobs (
    id TEXT PRIMARY KEY,
    catalog_id TEXT NOT NULL,
    status TEXT NOT NULL,
    plan TEXT NOT NULL,
    items_per_second INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    total_items INTEGER NOT NULL,
    last_item_id INTEGER NOT NULL,
    cursor_item_id INTEGER NOT NULL,
    completed_items INTEGER NOT NULL,
    failed_items INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rastro_enrich_jobs_status ON rastro_enrich_jobs (catalog_id, status);
";

pub fn clear(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch("DELETE FROM rastro_enrich_jobs;")
}

/// vendors/rastro.txt: speed is "fast", "medium" (the default) or "slow". The sandbox's
/// rates, in items per second, are its own choice.
const SPEEDS: &[(&str, i64)] = &[("fast", 1000), ("medium", 200), ("slow", 50)];
const DEFAULT_SPEED: &str = "medium";
/// One item in this many fails, picked by a stable hash of its unique value.
const FAILURE_ONE_IN: u64 = 40;
const FIELD_TYPES: &[&str] = &["string", "number", "integer", "boolean", "array"];
const UNCATEGORIZED: &str = "Uncategorized";

/// The routes, behind rastro's bearer check (see `rastro::router`).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/public/catalogs/{catalog}/enrich", post(start))
        .route("/public/catalogs/{catalog}/enrich/{job}", get(status))
        .route(
            "/public/catalogs/{catalog}/enrich/{job}/cancel",
            post(cancel),
        )
}

/// What a job writes into each item: the validated request, stored with the job.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    /// output_schema's (name, type).
    fields: Vec<(String, String)>,
    /// With predict_taxonomy: the categories to pick from.
    categories: Option<Vec<String>>,
    /// With quality_prompt: a quality_score.
    quality: bool,
}

impl Plan {
    fn to_json(&self) -> String {
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|(name, kind)| json!({"name": name, "type": kind}))
            .collect();
        json!({"fields": fields, "categories": self.categories, "quality": self.quality})
            .to_string()
    }

    fn from_json(text: &str) -> Plan {
        let stored: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let strings = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        Plan {
            fields: stored["fields"]
                .as_array()
                .map(|fields| {
                    fields
                        .iter()
                        .filter_map(|f| {
                            Some((
                                f["name"].as_str()?.to_string(),
                                f["type"].as_str()?.to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default(),
            categories: (!stored["categories"].is_null()).then(|| strings(&stored["categories"])),
            quality: stored["quality"].as_bool().unwrap_or(false),
        }
    }

    /// The fields one item gets, or None when the item fails.
    fn values_for(&self, key: &str) -> Option<Vec<(String, Value)>> {
        if fails(key) {
            return None;
        }
        let mut values: Vec<(String, Value)> = self
            .fields
            .iter()
            .map(|(name, kind)| (name.clone(), derived_value(name, kind, key)))
            .collect();
        if let Some(categories) = &self.categories {
            values.push((
                "predicted_category".into(),
                Value::String(pick_category(categories, key)),
            ));
        }
        if self.quality {
            values.push(("quality_score".into(), Value::from(quality_score(key))));
        }
        Some(values)
    }
}

/// Checks a start request (vendors/rastro.txt "Request Parameters"); the message is the 422's.
fn validate(body: &Value) -> Result<(Plan, i64), String> {
    let Value::Object(body) = body else {
        return Err("the body must be a JSON object".into());
    };
    let present = |key: &str| body.get(key).filter(|v| !v.is_null());
    match present("prompt") {
        Some(Value::String(prompt)) if !prompt.trim().is_empty() => {}
        _ => return Err("prompt is required and must be a non-empty string".into()),
    }
    let schema = match present("output_schema") {
        Some(Value::Array(schema)) if !schema.is_empty() => schema,
        _ => return Err(
            "output_schema is required and must be a non-empty array of {name, type, description}"
                .into(),
        ),
    };
    let mut fields = Vec::new();
    for (index, field) in schema.iter().enumerate() {
        let name = field
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = field
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.trim().is_empty() {
            return Err(format!(
                "output_schema[{index}].name must be a non-empty string"
            ));
        }
        // The item's own id is not a field the API lets anyone write.
        if name == "id" {
            return Err(format!(
                "output_schema[{index}]: id is the item's identifier, not a field to enrich"
            ));
        }
        if !FIELD_TYPES.contains(&kind) {
            return Err(format!(
                "output_schema[{index}] ({name}): type must be one of {}, got '{kind}'",
                FIELD_TYPES.join(", ")
            ));
        }
        fields.push((name.to_string(), kind.to_string()));
    }
    let per_second = match present("speed") {
        None => rate_of(DEFAULT_SPEED),
        Some(Value::String(speed)) => rate_of(speed),
        Some(_) => None,
    }
    .ok_or("speed must be one of \"fast\", \"medium\", \"slow\"")?;
    match present("allowed_domains") {
        None => {}
        Some(Value::Array(domains)) if domains.iter().all(Value::is_string) => {}
        Some(_) => return Err("allowed_domains must be an array of strings".into()),
    }
    for flag in ["web_search", "predict_taxonomy"] {
        if present(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(format!("{flag} must be a boolean"));
        }
    }
    let quality = match present("quality_prompt") {
        None => false,
        Some(Value::String(prompt)) => !prompt.trim().is_empty(),
        Some(_) => return Err("quality_prompt must be a string".into()),
    };
    let categories = (present("predict_taxonomy") == Some(&Value::Bool(true)))
        .then(|| taxonomy_categories(present("taxonomy")));
    Ok((
        Plan {
            fields,
            categories,
            quality,
        },
        per_second,
    ))
}

fn rate_of(speed: &str) -> Option<i64> {
    SPEEDS
        .iter()
        .find(|(name, _)| *name == speed)
        .map(|(_, rate)| *rate)
}

/// The taxonomy's categories: an array's strings, or an object's keys (a category tree).
fn taxonomy_categories(taxonomy: Option<&Value>) -> Vec<String> {
    match taxonomy {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::Object(tree)) => tree.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The value of one output field for one item: the same for the same (field, unique value).
fn derived_value(field: &str, kind: &str, key: &str) -> Value {
    let hash = stable_hash(&[field, key]);
    match kind {
        "number" => Value::from((hash % 100_000) as f64 / 100.0),
        "integer" => Value::from(hash % 1000),
        "boolean" => Value::Bool(hash % 2 == 1),
        "array" => json!([format!("{field}-a"), format!("{field}-b")]),
        _ => Value::String(format!("{field} for {key}")),
    }
}

fn fails(key: &str) -> bool {
    stable_hash(&["enrich-failure", key]).is_multiple_of(FAILURE_ONE_IN)
}

fn pick_category(categories: &[String], key: &str) -> String {
    if categories.is_empty() {
        return UNCATEGORIZED.into();
    }
    let index = stable_hash(&["predicted_category", key]) % categories.len() as u64;
    categories[index as usize].clone()
}

fn quality_score(key: &str) -> u64 {
    stable_hash(&["quality_score", key]) % 101
}

/// How many of `total` items a job at `per_second` has processed `elapsed_ms` after its start.
fn due(elapsed_ms: i64, per_second: i64, total: i64) -> i64 {
    (elapsed_ms.max(0).saturating_mul(per_second) / 1000).min(total)
}

/// A job row.
struct Job {
    id: String,
    status: String,
    plan: String,
    per_second: i64,
    started_ms: i64,
    total: i64,
    last_item_id: i64,
    cursor: i64,
    completed: i64,
    failed: i64,
}

const JOB_COLUMNS: &str = "id, status, plan, items_per_second, started_ms, total_items,
    last_item_id, cursor_item_id, completed_items, failed_items";

fn job_from_row(row: &rusqlite::Row) -> rusqlite::Result<Job> {
    Ok(Job {
        id: row.get(0)?,
        status: row.get(1)?,
        plan: row.get(2)?,
        per_second: row.get(3)?,
        started_ms: row.get(4)?,
        total: row.get(5)?,
        last_item_id: row.get(6)?,
        cursor: row.get(7)?,
        completed: row.get(8)?,
        failed: row.get(9)?,
    })
}

impl Job {
    /// vendors/rastro.txt's status response.
    fn to_json(&self) -> Value {
        json!({
            "job_id": self.id,
            "status": self.status,
            "total_items": self.total,
            "completed_items": self.completed,
            "failed_items": self.failed,
        })
    }
}

/// Brings the catalog's running jobs up to `now_ms`, in the caller's transaction: items are
/// processed in item-id order, and the items changed make one catalogian delta event.
pub fn advance(tx: &Transaction, catalog: &str, now_ms: i64) -> rusqlite::Result<()> {
    let jobs: Vec<Job> = {
        let mut stmt = tx.prepare_cached(&format!(
            "SELECT {JOB_COLUMNS} FROM rastro_enrich_jobs
             WHERE catalog_id = ?1 AND status = 'running' ORDER BY rowid"
        ))?;
        let rows = stmt.query_map([catalog], job_from_row)?;
        rows.collect::<Result<_, _>>()?
    };
    if jobs.is_empty() {
        return Ok(());
    }
    let mut changes = Changes::for_catalog(tx, catalog)?;
    let mut next_items = tx.prepare_cached(
        "SELECT id, unique_value, body FROM rastro_items
         WHERE catalog_id = ?1 AND id > ?2 AND id <= ?3 ORDER BY id LIMIT ?4",
    )?;
    let mut write = tx.prepare_cached("UPDATE rastro_items SET body = ?1 WHERE id = ?2")?;
    let mut save = tx.prepare_cached(
        "UPDATE rastro_enrich_jobs
         SET status = ?1, cursor_item_id = ?2, completed_items = ?3, failed_items = ?4
         WHERE id = ?5",
    )?;
    for mut job in jobs {
        let todo =
            due(now_ms - job.started_ms, job.per_second, job.total) - (job.completed + job.failed);
        if todo <= 0 {
            continue;
        }
        let plan = Plan::from_json(&job.plan);
        let items: Vec<(i64, String, String)> = next_items
            .query_map(
                params![catalog, job.cursor, job.last_item_id, todo],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?
            .collect::<Result<_, _>>()?;
        let exhausted = (items.len() as i64) < todo;
        for (id, key, stored) in items {
            job.cursor = id;
            let Some(values) = plan.values_for(&key) else {
                job.failed += 1;
                continue;
            };
            job.completed += 1;
            let mut fields: Map<String, Value> = serde_json::from_str(&stored).unwrap_or_default();
            fields.extend(values);
            let body = Value::Object(fields).to_string();
            if body != stored {
                write.execute(params![body, id])?;
                if changes.is_tracking() {
                    changes.note(
                        id,
                        &key,
                        Some(render_item(id, &stored)),
                        Some(render_item(id, &body)),
                    );
                }
            }
        }
        // Fewer items than due: the job has run out of items, whatever its count said.
        if exhausted || job.completed + job.failed >= job.total {
            job.status = "completed".into();
        }
        save.execute(params![
            job.status,
            job.cursor,
            job.completed,
            job.failed,
            job.id
        ])?;
    }
    record_change(tx, changes)
}

/// [`advance`] in a transaction of its own, for requests that only read. The write lock is
/// taken only while a job of the catalog is running.
pub fn catch_up(conn: &mut Connection, catalog: &str) -> rusqlite::Result<()> {
    let running: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM rastro_enrich_jobs WHERE catalog_id = ?1 AND status = 'running')",
        [catalog],
        |row| row.get(0),
    )?;
    if !running {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    advance(&tx, catalog, unix_ms_now())?;
    tx.commit()
}

/// `POST /public/catalogs/{id}/enrich`.
async fn start(
    State(shared): State<Arc<Shared>>,
    Path(catalog): Path<String>,
    body: Bytes,
) -> Result<Response, Fail> {
    let body = parse_body(&body)?;
    let (plan, per_second) = validate(&body).map_err(unprocessable)?;
    let id = format!("job_{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
    let job = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let unique_field = catalog_unique_field(&tx, &catalog)?;
            // Writing the unique field would move the item to another key behind the
            // catalog's back.
            if plan.fields.iter().any(|(name, _)| *name == unique_field) {
                return Err(unprocessable(format!(
                    "output_schema names {unique_field}, the catalog's unique_id_field, which enrichment cannot overwrite"
                )));
            }
            let now = unix_ms_now();
            advance(&tx, &catalog, now)?;
            let (total, last_item_id): (i64, i64) = tx.query_row(
                "SELECT COALESCE((SELECT items FROM rastro_item_counts WHERE catalog_id = ?1), 0),
                     COALESCE(MAX(id), 0) FROM rastro_items WHERE catalog_id = ?1",
                [&catalog],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let status = if total == 0 { "completed" } else { "running" };
            tx.execute(
                "INSERT INTO rastro_enrich_jobs (id, catalog_id, status, plan, items_per_second,
                     started_ms, total_items, last_item_id, cursor_item_id, completed_items,
                     failed_items)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 0, 0)",
                params![id, catalog, status, plan.to_json(), per_second, now, total, last_item_id],
            )?;
            tx.commit()?;
            Ok(json!({"job_id": id, "status": status, "total_items": total}))
        })
        .await??;
    Ok(Json(job).into_response())
}

/// `GET /public/catalogs/{id}/enrich/{job}`.
async fn status(
    State(shared): State<Arc<Shared>>,
    Path((catalog, job)): Path<(String, String)>,
) -> Result<Response, Fail> {
    let job = shared
        .db
        .call(move |conn| with_job(conn, &catalog, &job, false))
        .await??;
    Ok(Json(job).into_response())
}

/// `POST /public/catalogs/{id}/enrich/{job}/cancel`: "Items enriched before cancellation keep
/// their data." A job that has already finished is returned as it is.
async fn cancel(
    State(shared): State<Arc<Shared>>,
    Path((catalog, job)): Path<(String, String)>,
) -> Result<Response, Fail> {
    let job = shared
        .db
        .call(move |conn| with_job(conn, &catalog, &job, true))
        .await??;
    Ok(Json(job).into_response())
}

/// Advances the catalog's jobs to now, cancels `job` if asked and it still runs, and returns
/// the job.
fn with_job(conn: &mut Connection, catalog: &str, job: &str, cancel: bool) -> Result<Value, Fail> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    catalog_unique_field(&tx, catalog)?;
    let find = |tx: &Transaction| -> Result<Job, Fail> {
        tx.query_row(
            &format!(
                "SELECT {JOB_COLUMNS} FROM rastro_enrich_jobs WHERE id = ?1 AND catalog_id = ?2"
            ),
            params![job, catalog],
            job_from_row,
        )
        .optional()?
        .ok_or_else(|| {
            Fail::new(
                StatusCode::NOT_FOUND,
                format!("Enrichment job {job} not found in catalog {catalog}"),
            )
        })
    };
    find(&tx)?;
    advance(&tx, catalog, unix_ms_now())?;
    if cancel {
        tx.execute(
            "UPDATE rastro_enrich_jobs SET status = 'cancelled' WHERE id = ?1 AND status = 'running'",
            [job],
        )?;
    }
    let found = find(&tx)?;
    tx.commit()?;
    Ok(found.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_deterministic_and_typed() {
        assert_eq!(
            derived_value("weight", "string", "A1"),
            json!("weight for A1")
        );
        assert_eq!(
            derived_value("tags", "array", "A1"),
            json!(["tags-a", "tags-b"])
        );
        for kind in ["number", "integer", "boolean"] {
            assert_eq!(
                derived_value("x", kind, "A1"),
                derived_value("x", kind, "A1")
            );
        }
        let number = derived_value("price", "number", "A1").as_f64().unwrap();
        assert!((0.0..1000.0).contains(&number));
        assert_eq!((number * 100.0).round() / 100.0, number, "two decimals");
        assert!(derived_value("n", "integer", "A1").as_u64().unwrap() < 1000);
        assert!(derived_value("b", "boolean", "A1").is_boolean());
        let keys: Vec<String> = (0..200).map(|n| format!("K{n}")).collect();
        let distinct: std::collections::HashSet<String> = keys
            .iter()
            .map(|k| derived_value("n", "integer", k).to_string())
            .collect();
        assert!(distinct.len() > 150, "integers spread over the keys");
        let trues = keys
            .iter()
            .filter(|k| derived_value("b", "boolean", k) == json!(true))
            .count();
        assert!((60..140).contains(&trues), "{trues} of 200 true");
    }

    #[test]
    fn about_one_item_in_forty_fails() {
        let failing = (0..4000).filter(|n| fails(&format!("SKU-{n:05}"))).count();
        assert!((60..140).contains(&failing), "{failing} of 4000 fail");
        assert_eq!(fails("SKU-00001"), fails("SKU-00001"));
    }

    #[test]
    fn categories_come_from_the_taxonomy() {
        let list = taxonomy_categories(Some(&json!(["Shoes", "Bags", 3])));
        assert_eq!(list, ["Shoes", "Bags"]);
        let tree = taxonomy_categories(Some(&json!({"Outdoor": {"Lamps": {}}, "Apparel": []})));
        assert_eq!(tree, ["Outdoor", "Apparel"]);
        assert!(taxonomy_categories(None).is_empty());
        assert!(["Shoes", "Bags"].contains(&pick_category(&list, "A1").as_str()));
        assert_eq!(pick_category(&[], "A1"), "Uncategorized");
        assert!(quality_score("A1") <= 100);
    }

    #[test]
    fn progress_follows_the_clock_and_stops_at_the_total() {
        assert_eq!(due(0, 200, 25), 0);
        assert_eq!(due(-5, 200, 25), 0);
        assert_eq!(due(4, 200, 25), 0);
        assert_eq!(due(5, 200, 25), 1);
        assert_eq!(due(100, 200, 25), 20);
        assert_eq!(due(1000, 50, 100), 50);
        assert_eq!(due(60_000, 1000, 25), 25);
        assert_eq!(due(i64::MAX, 1000, 25), 25);
    }

    #[test]
    fn requests_are_validated_and_planned() {
        let ok = json!({"prompt": "p", "output_schema": [{"name": "w", "type": "string"}]});
        let (plan, rate) = validate(&ok).unwrap();
        assert_eq!(rate, 200);
        assert_eq!(plan.fields, [("w".to_string(), "string".to_string())]);
        assert_eq!(plan.categories, None);
        assert!(!plan.quality);

        let full = json!({"prompt": "p", "output_schema": [{"name": "w", "type": "integer"}],
            "speed": "fast", "allowed_domains": ["a.com"], "web_search": false,
            "taxonomy": ["X", "Y"], "predict_taxonomy": true, "quality_prompt": "q"});
        let (plan, rate) = validate(&full).unwrap();
        assert_eq!(rate, 1000);
        assert_eq!(
            plan.categories.as_deref(),
            Some(&["X".to_string(), "Y".to_string()][..])
        );
        assert!(plan.quality);
        assert_eq!(Plan::from_json(&plan.to_json()), plan);
        let values = plan
            .values_for("never-fails-key-1")
            .or_else(|| plan.values_for("k2"));
        let names: Vec<String> = values.unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["w", "predicted_category", "quality_score"]);

        for bad in [
            json!([]),
            json!({"output_schema": [{"name": "w", "type": "string"}]}),
            json!({"prompt": " ", "output_schema": [{"name": "w", "type": "string"}]}),
            json!({"prompt": "p"}),
            json!({"prompt": "p", "output_schema": []}),
            json!({"prompt": "p", "output_schema": [{"name": "", "type": "string"}]}),
            json!({"prompt": "p", "output_schema": [{"name": "w", "type": "date"}]}),
            json!({"prompt": "p", "output_schema": [{"name": "id", "type": "string"}]}),
            json!({"prompt": "p", "output_schema": [{"name": "w", "type": "string"}], "speed": "warp"}),
            json!({"prompt": "p", "output_schema": [{"name": "w", "type": "string"}], "allowed_domains": "a.com"}),
            json!({"prompt": "p", "output_schema": [{"name": "w", "type": "string"}], "web_search": "no"}),
            json!({"prompt": "p", "output_schema": [{"name": "w", "type": "string"}], "predict_taxonomy": 1}),
        ] {
            assert!(validate(&bad).is_err(), "{bad}");
        }
    }
}
