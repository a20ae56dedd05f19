//! The asset APIs: create (`POST /assets`), list (`GET /assets`, grouped by parent code),
//! delete (`DELETE /asset`, also served at `/assets`) and unlink (`POST /assets/unlink`).
//! Assets are stored per (store, channel, parent_code, asset_type) as a map of name → URL; an
//! asset's id is derived from where it sits, so it stays the same while it exists.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Map, Value};

use catops_spec::catalogix::{
    validate_item, validate_removal, Removal, ASSET_FORMATS, DEFAULT_CHANNEL, MAX_ASSET_GROUPS_PAGE,
};

use super::{ensure_store, items_of, success, Params, INVALID_REQUEST};
use crate::error::Fail;
use crate::Shared;

/// What one create request did, in the documented `AssetUpsertResponse.data` shape.
#[derive(Default)]
struct Outcome {
    created: u64,
    updated: u64,
    error_info: Vec<Value>,
}

/// An `error_info` entry: `reason` and `details` are the keys the Get Assets page documents;
/// `index` and `parent_code` are the sandbox's own, so a client can tell which item failed.
fn error_entry(index: usize, item: &Value, reason: &str, details: String) -> Value {
    let parent_code = match item.get("parent_code") {
        Some(Value::String(code)) => Value::String(code.clone()),
        _ => Value::Null,
    };
    json!({"index": index, "parent_code": parent_code, "reason": reason, "details": details})
}

/// `POST /assets?store_uuid=..&channel=..`: upserts each valid item by (store, channel,
/// parent_code, asset_type), merging its asset map into the stored one.
pub async fn upsert(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Bytes,
) -> Result<Response, Fail> {
    let (store, channel) = Params::read(query)?.store_and_channel()?;
    let items = items_of(&shared, &body)?;
    let outcome = shared
        .db
        .call(move |conn| -> Result<Outcome, Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            ensure_store(&tx, &store)?;
            let outcome = upsert_items(&tx, &store, &channel, items)?;
            tx.commit()?;
            Ok(outcome)
        })
        .await??;
    Ok(success(json!({
        "created": outcome.created,
        "updated": outcome.updated,
        "failed": outcome.error_info.len(),
        "error_info": outcome.error_info,
    })))
}

fn upsert_items(
    tx: &Transaction,
    store: &str,
    channel: &str,
    items: Vec<Value>,
) -> Result<Outcome, Fail> {
    let mut outcome = Outcome::default();
    for (index, item) in items.into_iter().enumerate() {
        if let Err(why) = validate_item(&item) {
            let entry = error_entry(index, &item, INVALID_REQUEST, why);
            outcome.error_info.push(entry);
            continue;
        }
        let text = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default();
        let (parent_code, asset_type) = (text("parent_code"), text("asset_type"));
        let stored = find_group(tx, store, channel, parent_code, asset_type)?;
        let mut assets = stored.clone().unwrap_or_default();
        if let Some(Value::Object(new)) = item.get("assets") {
            assets.extend(new.clone());
        }
        save_group(tx, store, channel, parent_code, asset_type, &assets)?;
        if stored.is_some() {
            outcome.updated += 1;
        } else {
            outcome.created += 1;
        }
    }
    Ok(outcome)
}

fn find_group(
    tx: &Transaction,
    store: &str,
    channel: &str,
    parent_code: &str,
    asset_type: &str,
) -> Result<Option<Map<String, Value>>, Fail> {
    let mut find = tx.prepare_cached(
        "SELECT assets FROM catalogix_assets
         WHERE store_uuid = ?1 AND channel = ?2 AND parent_code = ?3 AND asset_type = ?4",
    )?;
    let stored: Option<String> = find
        .query_row(params![store, channel, parent_code, asset_type], |row| {
            row.get(0)
        })
        .optional()?;
    Ok(stored.map(|text| serde_json::from_str(&text).unwrap_or_default()))
}

/// Stores a group's assets; a group left without any is removed.
fn save_group(
    tx: &Transaction,
    store: &str,
    channel: &str,
    parent_code: &str,
    asset_type: &str,
    assets: &Map<String, Value>,
) -> Result<(), Fail> {
    if assets.is_empty() {
        tx.prepare_cached(
            "DELETE FROM catalogix_assets
             WHERE store_uuid = ?1 AND channel = ?2 AND parent_code = ?3 AND asset_type = ?4",
        )?
        .execute(params![store, channel, parent_code, asset_type])?;
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO catalogix_assets (store_uuid, channel, parent_code, asset_type, assets)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (store_uuid, channel, parent_code, asset_type)
         DO UPDATE SET assets = excluded.assets",
    )?
    .execute(params![
        store,
        channel,
        parent_code,
        asset_type,
        Value::Object(assets.clone()).to_string()
    ])?;
    Ok(())
}

/// An asset's id: 32 hex digits (like the documented `e263183310aa0093381bf48a6d8540aa`),
/// derived from where the asset sits, so listing twice gives the same ids.
pub fn asset_id(
    store: &str,
    channel: &str,
    parent_code: &str,
    asset_type: &str,
    name: &str,
) -> String {
    let fnv = |seed: u64| {
        let mut hash = seed;
        for part in [store, channel, parent_code, asset_type, name] {
            for byte in part.bytes().chain([0u8]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

/// `GET /assets?store_uuid=&channel=&asset_format=&offset=&limit=`: the groups of one channel
/// and format, by parent code, `limit` (at most 50) from `offset`.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Fail> {
    let params = Params::read(query)?;
    let invalid = |details: String| {
        Fail::coded(
            axum::http::StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            details,
        )
    };
    let store = params
        .get("store_uuid")
        .ok_or_else(|| invalid("store_uuid is required".into()))?
        .to_string();
    let channel = params.get("channel").unwrap_or(DEFAULT_CHANNEL).to_string();
    let format = params.get("asset_format").unwrap_or("image").to_string();
    if !ASSET_FORMATS.contains(&format.as_str()) {
        return Err(invalid(format!(
            "asset_format must be one of {}",
            ASSET_FORMATS.join(", ")
        )));
    }
    let offset = params
        .number("offset", 0, i64::MAX as u64)
        .map_err(invalid)?;
    let limit = params
        .number(
            "limit",
            u64::from(MAX_ASSET_GROUPS_PAGE),
            u64::from(MAX_ASSET_GROUPS_PAGE),
        )
        .map_err(invalid)?;
    let data = shared
        .db
        .call(move |conn| -> Result<Value, Fail> {
            let tx = conn.transaction()?;
            ensure_store(&tx, &store)?;
            groups_page(&tx, &store, &channel, &format, offset, limit)
        })
        .await??;
    Ok(success(data))
}

fn groups_page(
    tx: &Transaction,
    store: &str,
    channel: &str,
    format: &str,
    offset: u64,
    limit: u64,
) -> Result<Value, Fail> {
    let total: i64 = tx.query_row(
        "SELECT COUNT(*) FROM catalogix_assets
         WHERE store_uuid = ?1 AND channel = ?2 AND asset_type = ?3",
        params![store, channel, format],
        |row| row.get(0),
    )?;
    let mut stmt = tx.prepare_cached(
        "SELECT parent_code, assets FROM catalogix_assets
         WHERE store_uuid = ?1 AND channel = ?2 AND asset_type = ?3
         ORDER BY parent_code LIMIT ?4 OFFSET ?5",
    )?;
    let rows = stmt.query_map(
        params![store, channel, format, limit as i64, offset as i64],
        |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
    )?;
    let mut groups = Map::new();
    for row in rows {
        let (parent_code, assets) = row?;
        let assets: Map<String, Value> = serde_json::from_str(&assets).unwrap_or_default();
        let listed: Vec<Value> = assets
            .into_iter()
            .map(|(name, url)| {
                let id = asset_id(store, channel, &parent_code, format, &name);
                json!({ name: url, "asset_id": id })
            })
            .collect();
        groups.insert(
            parent_code,
            json!({"channel": channel, "asset_type": format, "store_uuid": store, "assets": listed}),
        );
    }
    Ok(json!({
        "total_groups": total,
        "returned_groups": groups.len(),
        "assets": groups,
    }))
}

/// `DELETE /asset` (and `/assets`): `data {deleted_count, failed, error_info}`.
pub async fn delete(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, Fail> {
    remove(shared, body, Removal::Delete).await
}

/// `POST /assets/unlink`: `data {unlinked, failed, error_info}`.
pub async fn unlink(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, Fail> {
    remove(shared, body, Removal::Unlink).await
}

async fn remove(shared: Arc<Shared>, body: Bytes, removal: Removal) -> Result<Response, Fail> {
    let items = items_of(&shared, &body)?;
    let (removed, error_info) = shared
        .db
        .call(move |conn| -> Result<(u64, Vec<Value>), Fail> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut removed = 0;
            let mut error_info = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let (count, failure) = remove_item(&tx, item, removal)?;
                removed += count;
                if let Some((reason, details)) = failure {
                    error_info.push(error_entry(index, item, reason, details));
                }
            }
            tx.commit()?;
            Ok((removed, error_info))
        })
        .await??;
    let count_key = match removal {
        Removal::Delete => "deleted_count",
        Removal::Unlink => "unlinked",
    };
    Ok(success(json!({
        count_key: removed,
        "failed": error_info.len(),
        "error_info": error_info,
    })))
}

/// What one removal item did: the assets removed, and why it failed, if it did.
type Removed = (u64, Option<(&'static str, String)>);

/// Removes what one item names. Asset ids that are not there fail the item (a typo must not
/// pass as done), after the others are removed and counted.
fn remove_item(tx: &Transaction, item: &Value, removal: Removal) -> Result<Removed, Fail> {
    if let Err(why) = validate_removal(item, removal) {
        return Ok((0, Some((INVALID_REQUEST, why))));
    }
    let text = |key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let store = text("store_uuid").unwrap_or_default();
    if ensure_store(tx, store).is_err() {
        return Ok((0, Some(("not_found", format!("Store {store} not found")))));
    }
    let channel = text("channel").unwrap_or(DEFAULT_CHANNEL);
    let parent_code = text("parent_code");
    let ids: Vec<String> = match item.get("asset_id") {
        Some(Value::Array(ids)) => ids
            .iter()
            .filter_map(|id| id.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(id)) if !id.is_empty() => vec![id.clone()],
        _ => Vec::new(),
    };
    let mut stmt = tx.prepare_cached(
        "SELECT parent_code, asset_type, assets FROM catalogix_assets
         WHERE store_uuid = ?1 AND channel = ?2 AND (?3 IS NULL OR parent_code = ?3)
         ORDER BY parent_code, asset_type",
    )?;
    let groups = stmt
        .query_map(params![store, channel, parent_code], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut removed = 0;
    let mut found = Vec::new();
    for (code, asset_type, assets) in groups {
        let mut assets: Map<String, Value> = serde_json::from_str(&assets).unwrap_or_default();
        let before = assets.len();
        assets.retain(|name, _| {
            let id = asset_id(store, channel, &code, &asset_type, name);
            let goes = ids.is_empty() || ids.contains(&id);
            if goes {
                found.push(id);
            }
            !goes
        });
        if assets.len() != before {
            removed += (before - assets.len()) as u64;
            save_group(tx, store, channel, &code, &asset_type, &assets)?;
        }
    }
    let missing: Vec<&str> = ids
        .iter()
        .filter(|id| !found.contains(id))
        .map(String::as_str)
        .collect();
    let failure = if !missing.is_empty() {
        Some((
            "not_found",
            format!("asset ids not found: {}", missing.join(", ")),
        ))
    } else if removed == 0 {
        let what = parent_code.unwrap_or("the item");
        Some((
            "not_found",
            format!("no assets for {what} in channel {channel}"),
        ))
    } else {
        None
    };
    Ok((removed, failure))
}

/// `GET /_sandbox/assets?store_uuid=..`: the store's assets, by parent_code then asset_type.
pub async fn dump(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Fail> {
    let (store, _) = Params::read(query)?.store_and_channel()?;
    let rows = shared
        .db
        .call(move |conn| -> Result<Vec<Value>, Fail> {
            let tx = conn.transaction()?;
            ensure_store(&tx, &store)?;
            let mut stmt = tx.prepare_cached(
                "SELECT parent_code, asset_type, channel, assets FROM catalogix_assets
                 WHERE store_uuid = ?1 ORDER BY parent_code, asset_type, channel",
            )?;
            let rows = stmt.query_map([&store], |row| {
                let assets: String = row.get(3)?;
                Ok(json!({
                    "parent_code": row.get::<_, String>(0)?,
                    "asset_type": row.get::<_, String>(1)?,
                    "channel": row.get::<_, String>(2)?,
                    "assets": serde_json::from_str::<Value>(&assets).unwrap_or(Value::Null),
                }))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await??;
    Ok(Json(rows).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogix::{DEMO_STORE, SCHEMA};
    use rusqlite::Connection;

    #[test]
    fn bad_items_are_reported_and_good_ones_upserted_with_merged_assets() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let tx = conn.transaction().unwrap();
        let image = |code: &str, name: &str, url: &str| json!({"parent_code": code, "asset_type": "image", "assets": {name: url}});
        let first = upsert_items(
            &tx,
            DEMO_STORE,
            "SMP",
            vec![
                image("P1", "Image URL 1", "https://cdn.example.com/1.jpg"),
                json!({"parent_code": "P2", "asset_type": "image", "assets": {"a": "no-url"}}),
                json!({"parent_code": 7, "assets": {}}),
            ],
        )
        .unwrap();
        assert_eq!((first.created, first.updated), (1, 0));
        assert_eq!(first.error_info.len(), 2);
        assert_eq!(first.error_info[0]["index"], 1);
        assert_eq!(first.error_info[0]["parent_code"], "P2");
        assert_eq!(first.error_info[1]["parent_code"], Value::Null);

        let second = upsert_items(
            &tx,
            DEMO_STORE,
            "SMP",
            vec![
                image("P1", "Image URL 2", "https://cdn.example.com/2.jpg"),
                image("P1", "Image URL 1", "https://cdn.example.com/1b.jpg"),
            ],
        )
        .unwrap();
        assert_eq!((second.created, second.updated), (0, 2));
        let assets: String = tx
            .query_row("SELECT assets FROM catalogix_assets", [], |row| row.get(0))
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&assets).unwrap(),
            json!({"Image URL 1": "https://cdn.example.com/1b.jpg",
                   "Image URL 2": "https://cdn.example.com/2.jpg"})
        );
    }

    #[test]
    fn asset_ids_are_stable_and_distinct() {
        let id = asset_id("s", "SMP", "P1", "image", "Image URL 1");
        assert_eq!(id.len(), 32);
        assert_eq!(id, asset_id("s", "SMP", "P1", "image", "Image URL 1"));
        assert_ne!(id, asset_id("s", "SMP", "P1", "image", "Image URL 2"));
        assert_ne!(id, asset_id("s", "SMP", "P1", "video", "Image URL 1"));
    }
}
