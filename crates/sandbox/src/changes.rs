//! The change log: what each write to a rastro catalog changed, item by item, written as a
//! catalogian delta event for every source that follows the catalog. rastro's items, its
//! enrichment jobs and catalogian's feed all use it, and none of them uses another through it.

use std::collections::HashMap;

use rusqlite::{params, Connection, Transaction};

use crate::time::unix_ms_now;

/// One item's change, the item shown as the API shows it (JSON with its id): `before` is None
/// for a new item, `after` None for a deleted one.
struct Change {
    key: String,
    before: Option<String>,
    after: Option<String>,
}

impl Change {
    fn change_type(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "new",
            (_, None) => "deleted",
            _ => "changed",
        }
    }
}

/// The changes one request makes to a catalog, merged per key: an item touched twice in one
/// request is one row, with its first `before` and its last `after`. When no source follows
/// the catalog it notes nothing, so other catalogs pay nothing for the feature.
pub struct Changes {
    catalog: String,
    tracking: bool,
    list: Vec<Change>,
    index: HashMap<String, usize>,
}

impl Changes {
    pub fn for_catalog(conn: &Connection, catalog: &str) -> rusqlite::Result<Changes> {
        let tracking = conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM catalogian_sources WHERE follows_catalog = ?1)",
            [catalog],
            |row| row.get(0),
        )?;
        Ok(Changes {
            catalog: catalog.to_string(),
            tracking,
            list: Vec::new(),
            index: HashMap::new(),
        })
    }

    pub fn is_tracking(&self) -> bool {
        self.tracking
    }

    pub fn note(&mut self, key: &str, before: Option<String>, after: Option<String>) {
        if !self.tracking {
            return;
        }
        match self.index.get(key) {
            Some(&at) => self.list[at].after = after,
            None => {
                self.index.insert(key.to_string(), self.list.len());
                self.list.push(Change {
                    key: key.to_string(),
                    before,
                    after,
                });
            }
        }
    }
}

/// Writes one delta event (with its rows) for every source that follows the changed catalog,
/// in the caller's transaction. An item whose stored body ends up as it was is unchanged,
/// and a request that changes nothing makes no event.
pub fn record_change(tx: &Transaction, changes: Changes) -> rusqlite::Result<()> {
    if !changes.tracking {
        return Ok(());
    }
    let rows: Vec<Change> = changes
        .list
        .into_iter()
        .filter(|change| change.before != change.after)
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let count = |kind: &str| rows.iter().filter(|c| c.change_type() == kind).count() as i64;
    let (new, changed, deleted) = (count("new"), count("changed"), count("deleted"));
    let total: i64 = tx.query_row(
        "SELECT COUNT(*) FROM rastro_items WHERE catalog_id = ?1",
        [&changes.catalog],
        |row| row.get(0),
    )?;
    let sources: Vec<String> = {
        let mut stmt =
            tx.prepare_cached("SELECT id FROM catalogian_sources WHERE follows_catalog = ?1")?;
        let ids = stmt.query_map([&changes.catalog], |row| row.get(0))?;
        ids.collect::<Result<_, _>>()?
    };
    let now = unix_ms_now();
    for source in sources {
        // vendors/catalogian.txt filters by `since` on detectedAt: keep it strictly increasing
        // per source, even for two events in the same millisecond.
        let last: Option<i64> = tx.query_row(
            "SELECT MAX(detected_ms) FROM catalogian_events WHERE source_id = ?1",
            [&source],
            |row| row.get(0),
        )?;
        let detected = last.map_or(now, |last| now.max(last + 1));
        tx.execute(
            "INSERT INTO catalogian_events (source_id, detected_ms, new_count, changed_count,
                 deleted_count, unchanged_count, total_count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                source,
                detected,
                new,
                changed,
                deleted,
                (total - new - changed).max(0),
                total
            ],
        )?;
        let seq = tx.last_insert_rowid();
        let mut insert = tx.prepare_cached(
            "INSERT INTO catalogian_rows (event_seq, n, key, change_type, before, after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (n, row) in rows.iter().enumerate() {
            insert.execute(params![
                seq,
                n as i64,
                row.key,
                row.change_type(),
                row.before,
                row.after
            ])?;
        }
        // The check that found the change also took a snapshot: the source as it is now.
        tx.execute(
            "INSERT INTO catalogian_snapshots (source_id, created_ms, total_rows)
             VALUES (?1, ?2, ?3)",
            params![source, detected, total],
        )?;
        tx.execute(
            "UPDATE catalogian_sources SET last_checked_ms = ?1 WHERE id = ?2",
            params![detected, source],
        )?;
    }
    Ok(())
}
