//! The sandbox's SQLite state: one connection behind a mutex, used from blocking threads.
//! Each emulated vendor's registry row brings its tables, its demo data and how to clear them.

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::registry::VENDORS;
use crate::StateLocation;

/// How long a command waits for another process holding the embedded state file.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

const MEMORY_PAGE_SIZE: i64 = 16 << 10;

const META_SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS sandbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub fn open(location: &StateLocation) -> anyhow::Result<Db> {
        let mut conn = match location {
            StateLocation::Memory => {
                let conn = Connection::open_in_memory()?;
                // Every page of an in-memory database is a heap block of its own: at 16 KiB a
                // million rastro items took 368 MB of memory, at the default 4 KiB 428 MB.
                conn.pragma_update(None, "page_size", MEMORY_PAGE_SIZE)?;
                conn
            }
            StateLocation::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                let conn = Connection::open(path)
                    .with_context(|| format!("cannot open sandbox state {}", path.display()))?;
                // Several catops processes may share the embedded state file at once.
                conn.busy_timeout(BUSY_TIMEOUT)?;
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn
            }
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(META_SCHEMA)?;
        for vendor in &VENDORS {
            for table in vendor.tables {
                tx.execute_batch(table)?;
            }
        }
        add_missing_columns(&tx)?;
        // The change log's index is on a column added above.
        tx.execute_batch(crate::changes::SCHEMA)?;
        seed_missing(&tx)?;
        tx.commit()?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Clears every vendor's tables and puts the demo data back.
    pub fn reset(&self) -> anyhow::Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        reset(&mut conn)
    }

    /// `reset`, on a blocking thread, for a running server.
    pub async fn reset_async(&self) -> anyhow::Result<()> {
        self.call(reset).await?
    }

    /// Runs `work` on a blocking thread with the connection; SQLite calls must not stall the
    /// async workers.
    pub async fn call<R, F>(&self, work: F) -> anyhow::Result<R>
    where
        F: FnOnce(&mut Connection) -> R + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut conn)
        })
        .await
        .map_err(|err| anyhow::anyhow!("sandbox worker failed: {err}"))
    }
}

/// Columns added to tables after the first state files were written: `CREATE TABLE IF NOT
/// EXISTS` keeps an old table as it was, so they are added here.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("rastro_catalogs", "description", "TEXT"),
    ("rastro_catalogs", "created_at", "TEXT"),
    ("batch_catalogs", "created", "TEXT"),
    ("batch_catalogs", "updated", "TEXT"),
    ("catalogian_rows", "after_item", "INTEGER"),
];

fn add_missing_columns(tx: &Transaction) -> rusqlite::Result<()> {
    for (table, column, kind) in ADDED_COLUMNS {
        let present: bool = tx.query_row(
            &format!("SELECT EXISTS(SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1)"),
            [column],
            |row| row.get(0),
        )?;
        if !present {
            tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    Ok(())
}

/// Every vendor's data back to the seeded start.
fn reset(conn: &mut Connection) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for vendor in &VENDORS {
        (vendor.clear)(&tx)?;
    }
    tx.execute("DELETE FROM sandbox_meta", [])?;
    seed_missing(&tx)?;
    tx.commit()?;
    // Rows inserted into pages freed by the delete land all over the database, and later
    // imports ran up to 25% slower; a rebuilt, compact database is as fast as a new one. Best
    // effort: another process using the same state file keeps it from running, and the reset
    // itself is done.
    let _ = conn.execute_batch("VACUUM");
    Ok(())
}

/// Seeds each vendor once per state file. The mark is per vendor so that a state file made
/// before a vendor was emulated gets that vendor's demo data without losing the others' state.
fn seed_missing(tx: &Transaction) -> rusqlite::Result<()> {
    // State files from before per-vendor marks carry one 'seeded' key, set when only rastro
    // was emulated.
    tx.execute(
        "UPDATE sandbox_meta SET key = 'seeded:rastro' WHERE key = 'seeded'",
        [],
    )?;
    for vendor in &VENDORS {
        let key = format!("seeded:{}", vendor.kind);
        let seeded: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM sandbox_meta WHERE key = ?1)",
            [&key],
            |row| row.get(0),
        )?;
        if !seeded {
            (vendor.seed)(tx)?;
            tx.execute(
                "INSERT INTO sandbox_meta (key, value) VALUES (?1, '1')",
                [&key],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(db: &Db, sql: &'static str) -> i64 {
        let conn = db.conn.lock().unwrap();
        conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    #[test]
    fn a_state_file_from_before_a_vendor_was_emulated_gets_its_demo_data_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sandbox.sqlite3");
        {
            // What earlier versions wrote: rastro only, and one 'seeded' mark.
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute_batch(META_SCHEMA).unwrap();
            tx.execute_batch(crate::rastro::SCHEMA).unwrap();
            crate::rastro::seed(&tx).unwrap();
            // Nor did they count items.
            tx.execute_batch("DROP TABLE rastro_item_counts").unwrap();
            tx.execute("INSERT INTO sandbox_meta VALUES ('seeded', '1')", [])
                .unwrap();
            tx.commit().unwrap();
        }
        for _ in 0..2 {
            let db = Db::open(&StateLocation::File(path.clone())).unwrap();
            assert_eq!(count(&db, "SELECT COUNT(*) FROM rastro_items"), 25);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM batch_catalogs"), 1);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM catalogix_stores"), 1);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM clevertap_catalogs"), 2);
            assert_eq!(count(&db, "SELECT COUNT(*) FROM catalogian_sources"), 1);
        }
        let db = Db::open(&StateLocation::File(path)).unwrap();
        assert_eq!(
            count(
                &db,
                "SELECT items FROM rastro_item_counts WHERE catalog_id = 'cat_demo'"
            ),
            25
        );
        db.reset().unwrap();
        assert_eq!(count(&db, "SELECT COUNT(*) FROM rastro_items"), 25);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM batch_catalogs"), 1);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM catalogian_sources"), 1);
    }
}
