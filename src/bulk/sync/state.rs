//! The sync state: one SQLite file per profile and catalog holding, for each key the vendor
//! accepted, the hash of the item as accepted (and, where absent attributes must be sent as
//! null, their names). Nothing is held in memory: the reader looks keys up, the outcome writer
//! records accepted items, and keys not seen in the input are found by a query, each on a
//! connection of its own (WAL, so they do not block each other).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::super::chunk::Mark;
use crate::error::{exit, Failure};

/// Bumped when the tables or the canonical form change: an older state is refused.
const FORMAT_VERSION: &str = "1";

/// Statements per transaction: enough that commits cost little, few enough that a long read
/// never holds back the WAL.
const PER_TRANSACTION: usize = 2000;

/// Whose catalog a state describes; a state is used only by the same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub profile: String,
    pub vendor: String,
    /// As configured: `embedded` for the built-in sandbox, whatever its port.
    pub base_url: String,
    pub catalog: String,
}

impl Identity {
    fn fields(&self) -> [(&'static str, &str); 5] {
        [
            ("format", FORMAT_VERSION),
            ("profile", &self.profile),
            ("vendor", &self.vendor),
            ("base_url", &self.base_url),
            ("catalog", &self.catalog),
        ]
    }
}

/// What the state holds for one key (and, looked up apart, the attribute names it was
/// accepted with where they matter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub hash: u64,
    /// The hash of the item's bytes as catops wrote them, when it sent them: a row written the
    /// same way again is unchanged without being put in canonical form (the common case).
    pub raw: Option<u64>,
}

fn failure(path: &Path, err: impl std::fmt::Display) -> Failure {
    Failure::new(
        exit::FAILURE,
        format!("the sync state {}: {err}", path.display()),
    )
}

/// A connection to the state file, tuned for many small statements.
fn connect(path: &Path) -> Result<Connection, Failure> {
    let conn = Connection::open(path).map_err(|err| failure(path, err))?;
    conn.busy_timeout(Duration::from_secs(30))
        .and_then(|()| {
            conn.execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = FILE;",
            )
        })
        .map_err(|err| failure(path, err))?;
    Ok(conn)
}

fn create_parent(path: &Path) -> Result<(), Failure> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|err| failure(path, err)),
        None => Ok(()),
    }
}

/// Held for a whole sync run: two syncs of one catalog at once would each send what the other
/// is about to record, and one's `--delete-missing` would read the other's half-written state.
/// The OS releases it when the process ends, however it ends.
pub struct Held {
    _lock: std::fs::File,
}

/// Takes `<state>.lock`: exclusively for a sync, shared for a dry run (which only reads).
pub fn hold(path: &Path, read_only: bool) -> Result<Held, Failure> {
    create_parent(path)?;
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|err| failure(&lock, err))?;
    let taken = match read_only {
        true => file.try_lock_shared(),
        false => file.try_lock(),
    };
    match taken {
        Ok(()) => Ok(Held { _lock: file }),
        // As a journal in use is: a usage error (exit 2), the run not started.
        Err(std::fs::TryLockError::WouldBlock) => Err(Failure::usage(format!(
            "another `bulk sync` of this catalog is running (it holds {})",
            lock.display()
        ))
        .hint("a catalog takes one sync at a time: wait for it to finish")),
        Err(std::fs::TryLockError::Error(err)) => Err(failure(&lock, err)),
    }
}

/// Creates the state (and its directory) or checks that it is this identity's.
pub fn open(path: &Path, identity: &Identity) -> Result<u64, Failure> {
    create_parent(path)?;
    let mut conn = connect(path)?;
    let tx = conn.transaction().map_err(|err| failure(path, err))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, hash INTEGER NOT NULL, raw INTEGER, fields TEXT, seq INTEGER NOT NULL) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS items_seq ON items (seq, key, hash, raw);",
    )
    .map_err(|err| failure(path, err))?;
    let mut differences = Vec::new();
    for (name, value) in identity.fields() {
        let held: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|err| failure(path, err))?;
        match held {
            None => {
                tx.execute(
                    "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                    [name, value],
                )
                .map_err(|err| failure(path, err))?;
            }
            Some(held) if held != value => {
                differences.push(format!("{name} '{held}' (this run: '{value}')"));
            }
            Some(_) => {}
        }
    }
    if !differences.is_empty() {
        return Err(Failure::usage(format!(
            "the sync state {} is not this catalog's: it records {}",
            path.display(),
            differences.join(", ")
        ))
        .hint("give this catalog a --state of its own; deleting a state makes the next sync send everything"));
    }
    let count: i64 = tx
        .query_row("SELECT COUNT(*) FROM items", [], |row| row.get(0))
        .map_err(|err| failure(path, err))?;
    tx.commit().map_err(|err| failure(path, err))?;
    Ok(count.max(0) as u64)
}

/// Begins a transaction when none is open, and commits one that has done enough.
pub(super) struct Batched {
    pub(super) conn: Connection,
    path: PathBuf,
    statements: usize,
}

impl Batched {
    pub(super) fn open(path: &Path) -> Result<Batched, Failure> {
        Ok(Batched {
            conn: connect(path)?,
            path: path.to_path_buf(),
            statements: 0,
        })
    }

    pub(super) fn begin(&mut self) -> Result<(), Failure> {
        if self.statements == 0 {
            self.conn
                .execute_batch("BEGIN")
                .map_err(|err| failure(&self.path, err))?;
        }
        self.statements += 1;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), Failure> {
        if self.statements > 0 {
            self.statements = 0;
            self.conn
                .execute_batch("COMMIT")
                .map_err(|err| failure(&self.path, err))?;
        }
        Ok(())
    }

    pub(super) fn commit_if_full(&mut self) -> Result<(), Failure> {
        if self.statements >= PER_TRANSACTION {
            self.commit()?;
        }
        Ok(())
    }

    pub(super) fn error(&self, err: rusqlite::Error) -> Failure {
        failure(&self.path, err)
    }
}

/// The outcome writer's side: items the vendor accepted, made durable in batches.
pub struct Recorder(Batched);

impl Recorder {
    pub fn open(path: &Path) -> Result<Recorder, Failure> {
        Ok(Recorder(Batched::open(path)?))
    }

    /// `seq`: where the item is in the input (its row), the order the next run reads in.
    pub fn record(&mut self, item: Mark, seq: u64) -> Result<(), Failure> {
        self.0.begin()?;
        self.0
            .conn
            .prepare_cached(
                "INSERT INTO items (key, hash, raw, fields, seq) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key) DO UPDATE SET hash = excluded.hash, raw = excluded.raw,
                 fields = excluded.fields, seq = excluded.seq",
            )
            .and_then(|mut stmt| {
                let raw = item.raw.map(|raw| raw as i64);
                let seq = seq.min(i64::MAX as u64) as i64;
                stmt.execute(params![item.key, item.hash as i64, raw, item.fields, seq])
            })
            .map_err(|err| self.0.error(err))?;
        Ok(())
    }

    /// What is recorded so far becomes durable.
    pub fn commit(&mut self) -> Result<(), Failure> {
        self.0.commit()
    }

    /// Empties the state (before a remote baseline fills it again).
    pub fn clear(&mut self) -> Result<(), Failure> {
        self.0.commit()?;
        self.0
            .conn
            .execute("DELETE FROM items", [])
            .map_err(|err| self.0.error(err))?;
        Ok(())
    }
}

/// `--delete-missing`: the keys the input holds, then the state's keys it lacks, which go
/// once the vendor confirms their removal. The seen keys are in a temporary table of this
/// connection, on disk, not in memory.
pub struct Missing {
    db: Batched,
    /// The last key handed out by `next`.
    after: String,
}

impl Missing {
    pub fn open(path: &Path) -> Result<Missing, Failure> {
        let db = Batched::open(path)?;
        db.conn
            .execute_batch(
                "CREATE TEMP TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID;
                 CREATE TEMP TABLE doomed (key TEXT PRIMARY KEY) WITHOUT ROWID;",
            )
            .map_err(|err| db.error(err))?;
        Ok(Missing {
            db,
            after: String::new(),
        })
    }

    pub fn see(&mut self, key: &str) -> Result<(), Failure> {
        self.db.begin()?;
        self.db
            .conn
            .prepare_cached("INSERT OR IGNORE INTO temp.seen (key) VALUES (?1)")
            .and_then(|mut stmt| stmt.execute([key]))
            .map_err(|err| self.db.error(err))?;
        self.db.commit_if_full()
    }

    /// Once the input is read: how many of the state's keys it lacks.
    pub fn settle(&mut self) -> Result<u64, Failure> {
        self.db.commit()?;
        let conn = &self.db.conn;
        conn.execute_batch(
            "INSERT INTO temp.doomed (key)
               SELECT key FROM main.items WHERE key NOT IN (SELECT key FROM temp.seen);
             DELETE FROM temp.seen;",
        )
        .map_err(|err| self.db.error(err))?;
        let count: i64 = conn
            .query_row("SELECT COUNT(*) FROM temp.doomed", [], |row| row.get(0))
            .map_err(|err| self.db.error(err))?;
        Ok(count.max(0) as u64)
    }

    /// The next `limit` keys to delete, in key order.
    pub fn next(&mut self, limit: usize) -> Result<Vec<String>, Failure> {
        let keys = self
            .db
            .conn
            .prepare_cached("SELECT key FROM temp.doomed WHERE key > ?1 ORDER BY key LIMIT ?2")
            .and_then(|mut stmt| {
                stmt.query_map(params![self.after, limit as i64], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(|err| self.db.error(err))?;
        if let Some(last) = keys.last() {
            self.after.clone_from(last);
        }
        Ok(keys)
    }

    /// Keys the vendor removed leave the state.
    pub fn forget(&mut self, keys: &[String]) -> Result<(), Failure> {
        for key in keys {
            self.db.begin()?;
            self.db
                .conn
                .prepare_cached("DELETE FROM main.items WHERE key = ?1")
                .and_then(|mut stmt| stmt.execute([key]))
                .map_err(|err| self.db.error(err))?;
        }
        self.db.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::super::lookup::Lookup;
    use super::*;

    fn mark<'a>(key: &'a str, hash: u64, fields: Option<&'a str>) -> Mark<'a> {
        Mark {
            key,
            hash,
            raw: Some(hash.wrapping_add(1)),
            fields,
        }
    }

    fn identity() -> Identity {
        Identity {
            profile: "shop".into(),
            vendor: "batch".into(),
            base_url: "embedded".into(),
            catalog: "demo".into(),
        }
    }

    #[test]
    fn accepted_items_are_found_again_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("state.sqlite3");
        assert_eq!(open(&path, &identity()).unwrap(), 0);
        let mut recorder = Recorder::open(&path).unwrap();
        recorder
            .record(mark("A", u64::MAX, Some("title")), 1)
            .unwrap();
        recorder.record(mark("B", 7, None), 2).unwrap();
        recorder.record(mark("A", 5, None), 3).unwrap();
        recorder.commit().unwrap();
        let mut lookup = Lookup::open(&path).unwrap();
        assert_eq!(
            lookup.get("A").unwrap(),
            Some(Stored {
                hash: 5,
                raw: Some(6),
            })
        );
        assert_eq!(lookup.get("C").unwrap(), None);
        assert_eq!(lookup.fields("A").unwrap(), None);
        assert_eq!(lookup.fields("C").unwrap(), None);
        assert_eq!(open(&path, &identity()).unwrap(), 2);
        recorder
            .record(mark("C", u64::MAX, Some("a\nb")), 4)
            .unwrap();
        recorder.commit().unwrap();
        let mut fresh = Lookup::open(&path).unwrap();
        assert_eq!(fresh.get("C").unwrap().unwrap().hash, u64::MAX);
        assert_eq!(fresh.fields("C").unwrap().as_deref(), Some("a\nb"));
    }

    #[test]
    fn a_state_of_another_catalog_or_profile_is_refused_naming_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite3");
        open(&path, &identity()).unwrap();
        let other = Identity {
            catalog: "other".into(),
            profile: "ci".into(),
            ..identity()
        };
        let err = open(&path, &other).unwrap_err();
        assert_eq!(err.code, exit::USAGE);
        assert!(err.message.contains("catalog 'demo'"), "{}", err.message);
        assert!(err.message.contains("profile 'shop'"), "{}", err.message);
        assert!(!err.message.contains("vendor"), "{}", err.message);
    }

    #[test]
    fn keys_the_input_lacks_are_found_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite3");
        open(&path, &identity()).unwrap();
        let mut recorder = Recorder::open(&path).unwrap();
        for key in ["a", "b", "c", "d", "e"] {
            recorder.record(mark(key, 1, None), 0).unwrap();
        }
        recorder.commit().unwrap();
        let mut missing = Missing::open(&path).unwrap();
        for key in ["b", "d", "x", "b"] {
            missing.see(key).unwrap();
        }
        assert_eq!(missing.settle().unwrap(), 3);
        let first = missing.next(2).unwrap();
        assert_eq!(first, ["a", "c"]);
        missing.forget(&first).unwrap();
        assert_eq!(missing.next(2).unwrap(), ["e"]);
        assert!(missing.next(2).unwrap().is_empty());
        assert_eq!(open(&path, &identity()).unwrap(), 3);
    }
}
