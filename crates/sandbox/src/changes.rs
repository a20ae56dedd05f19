//! The change log: what each write to a rastro catalog changed, item by item, written as a
//! catalogian delta event for every source that follows the catalog. rastro's items, its
//! enrichment jobs and catalogian's feed all use it, and none of them uses another through it.
//!
//! A row's `after` is most often the item as it still is (every new item of an import), so
//! the row points at the item (`after_item`) instead of holding a copy, which would double the
//! memory a followed catalog takes. Every write to a followed catalog's items comes here, so
//! when an item changes or goes, its `before` (the version those rows point at) is written
//! into the rows still pointing at it.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::time::unix_ms_now;

/// One item's change, the item shown as the API shows it (JSON with its id): `before` is None
/// for a new item, `after` None for a deleted one.
struct Change {
    item: i64,
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

    /// Item `item` (its id), under `key`, went from `before` to `after`; `after` must be the
    /// item as the request leaves it.
    pub fn note(&mut self, item: i64, key: &str, before: Option<String>, after: Option<String>) {
        if !self.tracking {
            return;
        }
        match self.index.get(key) {
            Some(&at) => self.list[at].after = after,
            None => {
                self.index.insert(key.to_string(), self.list.len());
                self.list.push(Change {
                    item,
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
    // The kept count (counting the catalog's rows made every write slower as it grew), read
    // here, not through rastro's store, which imports this module: no cycles (tests/layout.rs).
    let total: i64 = tx.query_row(
        "SELECT COALESCE((SELECT items FROM rastro_item_counts WHERE catalog_id = ?1), 0)",
        [&changes.catalog],
        |row| row.get(0),
    )?;
    let sources: Vec<String> = {
        let mut stmt =
            tx.prepare_cached("SELECT id FROM catalogian_sources WHERE follows_catalog = ?1")?;
        let ids = stmt.query_map([&changes.catalog], |row| row.get(0))?;
        ids.collect::<Result<_, _>>()?
    };
    keep_earlier_afters(tx, &rows)?;
    let now = unix_ms_now();
    for source in sources {
        // vendors/catalogian.txt filters by `since` on detectedAt: keep it strictly increasing
        // per source, even for two events in the same millisecond.
        // The newest event has the latest time; MAX() would read them all.
        let last: Option<i64> = tx
            .query_row(
                "SELECT detected_ms FROM catalogian_events WHERE source_id = ?1
                 ORDER BY seq DESC LIMIT 1",
                [&source],
                |row| row.get(0),
            )
            .optional()?;
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
            "INSERT INTO catalogian_rows (event_seq, n, key, change_type, before, after_item)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (n, row) in rows.iter().enumerate() {
            insert.execute(params![
                seq,
                n as i64,
                row.key,
                row.change_type(),
                row.before,
                row.after.as_ref().map(|_| row.item)
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

/// How the API shows an item, in SQL, from its id and stored body (compact JSON, as every
/// writer stores it): what `rastro`'s `render_item` does.
pub fn shown_sql(id: &str, body: &str) -> String {
    format!(
        "'{{\"id\":\"item_' || {id} || '\"' || \
         CASE WHEN {body} = '{{}}' THEN '}}' ELSE ',' || substr({body}, 2) END"
    )
}

/// The index [`keep_earlier_afters`] finds rows by; run once `after_item` exists.
pub const SCHEMA: &str = "CREATE INDEX IF NOT EXISTS catalogian_rows_live
    ON catalogian_rows (after_item) WHERE after_item IS NOT NULL;";

/// Earlier rows that point at an item this request changed or deleted get their own copy of
/// it: the version they point at is this change's `before`.
fn keep_earlier_afters(tx: &Transaction, rows: &[Change]) -> rusqlite::Result<()> {
    let mut keep = tx.prepare_cached(
        "UPDATE catalogian_rows SET after = ?1, after_item = NULL WHERE after_item = ?2",
    )?;
    for row in rows {
        if let Some(before) = &row.before {
            keep.execute(params![before, row.item])?;
        }
    }
    Ok(())
}

/// A change row's `after` (the row aliased `r`): its own copy, or the item it points at.
pub fn row_after_sql() -> String {
    format!(
        "COALESCE(r.after, (SELECT {} FROM rastro_items i WHERE i.id = r.after_item))",
        shown_sql("i.id", "i.body")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{catalogian, rastro};

    /// rastro's and catalogian's tables with the change log's index; the demo source follows
    /// cat_demo.
    fn state() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(rastro::SCHEMA).unwrap();
        conn.execute_batch(catalogian::SCHEMA).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        let tx = conn.transaction().unwrap();
        catalogian::seed(&tx).unwrap();
        tx.commit().unwrap();
        conn
    }

    fn shown(id: i64, body: &str) -> String {
        rastro::store::render_item(id, body)
    }

    /// The one row of event `seq`: its after as catalogian reads it, and whether the row
    /// holds a copy.
    fn row_after(conn: &Connection, seq: i64) -> (Option<String>, bool) {
        conn.query_row(
            &format!(
                "SELECT {}, r.after IS NOT NULL FROM catalogian_rows r WHERE event_seq = ?1",
                row_after_sql()
            ),
            [seq],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap()
    }

    /// Writes item `key` of cat_demo as rastro's handlers do, from `before` to `after` (bodies;
    /// None: absent), noting the change; the item's id and the event's seq.
    fn write(
        conn: &mut Connection,
        key: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> (i64, i64) {
        let tx = conn.transaction().unwrap();
        let found: Option<i64> = tx
            .query_row(
                "SELECT id FROM rastro_items WHERE unique_value = ?1",
                [key],
                |row| row.get(0),
            )
            .optional()
            .unwrap();
        let id = match (found, after) {
            (None, Some(body)) => {
                tx.execute(
                    "INSERT INTO rastro_items (catalog_id, unique_value, body) VALUES ('cat_demo', ?1, ?2)",
                    [key, body],
                )
                .unwrap();
                rastro::store::count_items(&tx, "cat_demo", 1, 0).unwrap();
                tx.last_insert_rowid()
            }
            (Some(id), Some(body)) => {
                tx.execute(
                    "UPDATE rastro_items SET body = ?1 WHERE id = ?2",
                    params![body, id],
                )
                .unwrap();
                id
            }
            (Some(id), None) => {
                tx.execute("DELETE FROM rastro_items WHERE id = ?1", [id])
                    .unwrap();
                rastro::store::count_items(&tx, "cat_demo", 0, 1).unwrap();
                id
            }
            (None, None) => unreachable!(),
        };
        let mut changes = Changes::for_catalog(&tx, "cat_demo").unwrap();
        changes.note(
            id,
            key,
            before.map(|b| shown(id, b)),
            after.map(|a| shown(id, a)),
        );
        record_change(&tx, changes).unwrap();
        tx.commit().unwrap();
        let seq = conn
            .query_row("SELECT MAX(seq) FROM catalogian_events", [], |row| {
                row.get(0)
            })
            .unwrap();
        (id, seq)
    }

    #[test]
    fn a_row_points_at_its_unchanged_item_and_keeps_it_once_it_changes_or_goes() {
        let mut conn = state();
        let (v1, v2) = (r#"{"sku":"A","v":1}"#, r#"{"sku":"A","v":2}"#);
        let (id, first) = write(&mut conn, "A", None, Some(v1));
        assert_eq!(
            row_after(&conn, first),
            (Some(shown(id, v1)), false),
            "no copy"
        );

        let (_, second) = write(&mut conn, "A", Some(v1), Some(v2));
        assert_eq!(row_after(&conn, first), (Some(shown(id, v1)), true));
        assert_eq!(row_after(&conn, second), (Some(shown(id, v2)), false));

        let (other, third) = write(&mut conn, "B", None, Some("{}"));
        let (_, fourth) = write(&mut conn, "A", Some(v2), None);
        assert_eq!(row_after(&conn, second), (Some(shown(id, v2)), true));
        assert_eq!(row_after(&conn, fourth), (None, false));
        assert_eq!(
            row_after(&conn, third),
            (Some(format!("{{\"id\":\"item_{other}\"}}")), false)
        );
    }

    #[test]
    fn the_total_is_the_kept_count_and_times_keep_increasing() {
        let mut conn = state();
        let (_, first) = write(&mut conn, "A", None, Some(r#"{"sku":"A"}"#));
        let (_, second) = write(&mut conn, "B", None, Some(r#"{"sku":"B"}"#));
        let (_, third) = write(&mut conn, "A", Some(r#"{"sku":"A"}"#), None);
        let event = |seq: i64| -> (i64, i64) {
            conn.query_row(
                "SELECT detected_ms, total_count FROM catalogian_events WHERE seq = ?1",
                [seq],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap()
        };
        let ((t1, total1), (t2, total2), (t3, total3)) =
            (event(first), event(second), event(third));
        assert_eq!((total1, total2, total3), (1, 2, 1));
        assert!(t1 < t2 && t2 < t3, "{t1}, {t2}, {t3}");
    }
}
