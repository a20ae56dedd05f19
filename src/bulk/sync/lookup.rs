//! The reader's look-ups in the state. A feed usually comes in the same order every time, and
//! the state remembers each key's row (`seq`), so the state is read ahead in that order, a
//! window of rows at a time, and a row that is the window's next costs no query. A row that
//! is not (new, moved, or after rows the feed dropped) is looked up by key; one found ahead of
//! the window moves the window there. An input in another order is found out at its first
//! rows, and looked up key by key from then on.

use std::collections::VecDeque;
use std::path::Path;

use rusqlite::{params, OptionalExtension};

use super::state::{Batched, Stored};
use crate::error::Failure;

/// Rows read ahead by one query.
const WINDOW: usize = 256;
/// A window that served fewer rows than this before the input left it is no guide: the input
/// is not in the state's order.
const GUIDING_HITS: usize = 16;

struct Entry {
    key: String,
    stored: Stored,
    seq: i64,
}

pub struct Lookup {
    db: Batched,
    window: VecDeque<Entry>,
    /// Where the next window starts: after this (seq, key).
    after: (i64, String),
    exhausted: bool,
    sequential: bool,
    /// Rows the window served since it last moved.
    hits: usize,
}

impl Lookup {
    pub fn open(path: &Path) -> Result<Lookup, Failure> {
        Ok(Lookup {
            db: Batched::open(path)?,
            window: VecDeque::with_capacity(WINDOW),
            after: (i64::MIN, String::new()),
            exhausted: false,
            sequential: true,
            // The first move is taken on trust: the input may begin with new rows.
            hits: GUIDING_HITS,
        })
    }

    /// What the state holds for `key`.
    pub fn get(&mut self, key: &str) -> Result<Option<Stored>, Failure> {
        if self.sequential {
            if self.window.is_empty() && !self.exhausted {
                self.refill()?;
            }
            if self.window.front().is_some_and(|front| front.key == key) {
                self.hits += 1;
                return Ok(self.window.pop_front().map(|entry| entry.stored));
            }
        }
        let found = self.point(key)?;
        if let (true, Some((_, seq))) = (self.sequential, &found) {
            self.follow(*seq, key);
        }
        Ok(found.map(|(stored, _)| stored))
    }

    /// The attribute names `key` was accepted with, where they were kept.
    pub fn fields(&mut self, key: &str) -> Result<Option<String>, Failure> {
        self.db.begin()?;
        let fields = self
            .db
            .conn
            .prepare_cached("SELECT fields FROM items WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
            .map_err(|err| self.db.error(err))?;
        self.db.commit_if_full()?;
        Ok(fields.flatten())
    }

    /// A row found by key at `seq`: ahead of the window's front, the rows before it were not
    /// in the input; past the window's end, the window moves there (unless it served too few
    /// rows to be a guide); behind the front, the window stays.
    fn follow(&mut self, seq: i64, key: &str) {
        let at = (seq, key);
        let before_front = self
            .window
            .front()
            .is_none_or(|front| at < (front.seq, front.key.as_str()));
        let past_back = self
            .window
            .back()
            .is_none_or(|back| at > (back.seq, back.key.as_str()));
        if before_front && !self.window.is_empty() {
            return;
        }
        if !past_back {
            while self
                .window
                .front()
                .is_some_and(|front| (front.seq, front.key.as_str()) <= at)
            {
                self.window.pop_front();
            }
            self.hits += 1;
            return;
        }
        if self.hits < GUIDING_HITS {
            self.sequential = false;
            self.window = VecDeque::new();
            return;
        }
        self.window.clear();
        self.after = (seq, key.to_string());
        self.exhausted = false;
        self.hits = 0;
    }

    fn refill(&mut self) -> Result<(), Failure> {
        self.db.begin()?;
        let (seq, key) = &self.after;
        let window = &mut self.window;
        self.db
            .conn
            .prepare_cached(
                "SELECT key, hash, raw, seq FROM items WHERE (seq, key) > (?1, ?2)
                 ORDER BY seq, key LIMIT ?3",
            )
            .and_then(|mut stmt| {
                let mut rows = stmt.query(params![seq, key, WINDOW as i64])?;
                while let Some(row) = rows.next()? {
                    window.push_back(Entry {
                        key: row.get(0)?,
                        stored: Stored {
                            hash: row.get::<_, i64>(1)? as u64,
                            raw: row.get::<_, Option<i64>>(2)?.map(|raw| raw as u64),
                        },
                        seq: row.get(3)?,
                    });
                }
                Ok(())
            })
            .map_err(|err| self.db.error(err))?;
        self.exhausted = self.window.len() < WINDOW;
        if let Some(last) = self.window.back() {
            self.after = (last.seq, last.key.clone());
        }
        self.db.commit_if_full()
    }

    fn point(&mut self, key: &str) -> Result<Option<(Stored, i64)>, Failure> {
        self.db.begin()?;
        let found = self
            .db
            .conn
            .prepare_cached("SELECT hash, raw, seq FROM items WHERE key = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([key], |row| {
                    let stored = Stored {
                        hash: row.get::<_, i64>(0)? as u64,
                        raw: row.get::<_, Option<i64>>(1)?.map(|raw| raw as u64),
                    };
                    Ok((stored, row.get(2)?))
                })
                .optional()
            })
            .map_err(|err| self.db.error(err))?;
        self.db.commit_if_full()?;
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::{open, Identity, Recorder};
    use super::*;
    use crate::bulk::chunk::Mark;

    /// A state of `keys` accepted in that order, each hashed as its position.
    fn state(keys: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite3");
        let identity = Identity {
            profile: "p".into(),
            vendor: "rastro".into(),
            base_url: "embedded".into(),
            catalog: "c".into(),
        };
        open(&path, &identity).unwrap();
        let mut recorder = Recorder::open(&path).unwrap();
        for (seq, key) in keys.iter().enumerate() {
            let mark = Mark {
                key,
                hash: seq as u64,
                raw: None,
                fields: None,
            };
            recorder.record(mark, seq as u64).unwrap();
        }
        recorder.commit().unwrap();
        (dir, path)
    }

    fn hashes(lookup: &mut Lookup, keys: &[String]) -> Vec<Option<u64>> {
        keys.iter()
            .map(|key| lookup.get(key).unwrap().map(|stored| stored.hash))
            .collect()
    }

    #[test]
    fn every_key_is_found_whatever_the_input_order() {
        let keys: Vec<String> = (0..1000).map(|n| format!("k{n}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (_dir, path) = state(&refs);
        let expected = |input: &[String]| -> Vec<Option<u64>> {
            input
                .iter()
                .map(|key| keys.iter().position(|k| k == key).map(|n| n as u64))
                .collect()
        };
        // The same order; with rows dropped, added and moved; reversed; shuffled.
        let same = keys.clone();
        let mut edited: Vec<String> = keys.clone();
        edited.drain(100..400);
        edited.insert(5, "new".into());
        let moved = edited.remove(700);
        edited.insert(20, moved);
        let reversed: Vec<String> = keys.iter().rev().cloned().collect();
        let mut shuffled = keys.clone();
        let mut rng = fastrand::Rng::with_seed(7);
        rng.shuffle(&mut shuffled);
        for input in [same, edited, reversed, shuffled] {
            let mut lookup = Lookup::open(&path).unwrap();
            assert_eq!(hashes(&mut lookup, &input), expected(&input));
        }
    }

    #[test]
    fn an_input_in_the_states_order_is_served_by_the_window() {
        let keys: Vec<String> = (0..1000).map(|n| format!("k{n:04}")).collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (_dir, path) = state(&refs);
        let mut lookup = Lookup::open(&path).unwrap();
        let mut input = keys.clone();
        input.drain(300..600);
        hashes(&mut lookup, &input);
        assert!(lookup.sequential);
        let mut shuffled = keys.clone();
        fastrand::Rng::with_seed(3).shuffle(&mut shuffled);
        let mut lookup = Lookup::open(&path).unwrap();
        hashes(&mut lookup, &shuffled);
        assert!(!lookup.sequential, "a shuffled input gives up the window");
    }
}
