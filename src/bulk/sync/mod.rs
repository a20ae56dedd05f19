//! `bulk sync` (issue 17): the bulk pipeline sending only what changed since the last run. A
//! state (`state`) holds, for each key the vendor accepted, the hash of the item as accepted
//! (`canon`). The pipeline meets sync at three narrow points: the reader asks the `Filter`
//! whether a row goes (unchanged rows are counted, not sent), chunks carry each row's mark
//! (key, hash), and the outcome writer hands the marks of accepted rows to a `Recorder`.
//! Around the pipeline: a remote baseline (`baseline`), the keys the input lacks and their
//! deletion (`missing`).

mod baseline;
pub mod canon;
mod lookup;
mod missing;
mod state;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::chunk::{Chunker, Mark};
use crate::error::Failure;
pub use baseline::baseline;
use lookup::Lookup;
pub use missing::{count_missing, delete_missing, Deletions, MaxDelete};
pub use state::{hold as hold_state, open as open_state, Identity, Missing, Recorder};

/// Where the state of `identity`'s catalog lives unless `--state` says: under the data dir.
pub fn default_state(identity: &Identity) -> Option<PathBuf> {
    super::paths::sync_state(&identity.profile, &identity.catalog, &identity.base_url)
}

/// A sync run, as the pipeline sees it.
pub struct Plan {
    pub state: PathBuf,
    /// `--full`: every row is sent, and the state rebuilt from what is accepted.
    pub full: bool,
    /// The object of the vendor's item whose keys, once accepted, are sent as null when a later
    /// row lacks them (batch's `attributes`: "setting a string to null removes this attribute").
    pub fields_of: Option<&'static str>,
    pub counts: Arc<Counts>,
}

/// What the filter and the deletions counted, for the summary.
#[derive(Default)]
pub struct Counts {
    pub new: AtomicU64,
    pub changed: AtomicU64,
    pub deleted: AtomicU64,
    /// `--delete-missing`: how many keys the input lacks, and on a dry run which.
    pub to_delete: Mutex<Option<(u64, Vec<String>)>>,
}

impl Plan {
    /// The reader's side: opened on the reader's own connection.
    pub fn filter(&self) -> Result<Filter, Failure> {
        Ok(Filter {
            lookup: Lookup::open(&self.state)?,
            full: self.full,
            fields_of: self.fields_of,
            counts: self.counts.clone(),
            scratch: Vec::new(),
            names: String::new(),
        })
    }

    /// The outcome writer's side.
    pub fn recorder(&self) -> Result<Recorder, Failure> {
        Recorder::open(&self.state)
    }

    /// The summary gains `unchanged` and `deleted`; a dry run's, what would be sent and
    /// deleted.
    pub fn summarize(&self, summary: &mut Value, unchanged: u64) {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let to_delete = self
            .counts
            .to_delete
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        summary["unchanged"] = json!(unchanged);
        if summary["dry_run"] == true {
            summary["new"] = json!(get(&self.counts.new));
            summary["changed"] = json!(get(&self.counts.changed));
            let (count, keys) = to_delete.unwrap_or_default();
            summary["to_delete"] = json!(count);
            summary["keys_to_delete"] = json!(keys);
        } else {
            summary["deleted"] = json!(get(&self.counts.deleted));
        }
    }
}

/// Decides, row by row in the reader, whether a row goes: it does when its key is new, or its
/// item hashes otherwise than the state's (always, with `--full`).
pub struct Filter {
    lookup: Lookup,
    full: bool,
    fields_of: Option<&'static str>,
    counts: Arc<Counts>,
    scratch: Vec<u8>,
    names: String,
}

impl Filter {
    /// Whether the item just written into `chunker` is to be sent; if so it is marked (and,
    /// where attributes the state knows are gone from it, rewritten with them as null).
    pub fn keep(&mut self, key: &[u8], chunker: &mut Chunker) -> Result<bool, Failure> {
        let key = String::from_utf8_lossy(key);
        let raw = xxhash_rust::xxh3::xxh3_64(chunker.item());
        let stored = self.lookup.get(&key)?;
        if !self.full && stored.as_ref().is_some_and(|s| s.raw == Some(raw)) {
            return Ok(false);
        }
        let item: Value = serde_json::from_slice(chunker.item()).unwrap_or(Value::Null);
        let hash = canon::hash(&item, &mut self.scratch);
        match &stored {
            Some(stored) if stored.hash == hash && !self.full => return Ok(false),
            Some(_) => self.counts.changed.fetch_add(1, Ordering::Relaxed),
            None => self.counts.new.fetch_add(1, Ordering::Relaxed),
        };
        let fields = match self.fields_of {
            Some(object) => {
                self.names = field_names(&item, object);
                Some(self.names.as_str())
            }
            None => None,
        };
        if let (Some(object), Some(_)) = (self.fields_of, &stored) {
            let old = self.lookup.fields(&key)?.unwrap_or_default();
            if let Some(rewritten) = with_nulls(item, object, &old) {
                chunker.discard_item();
                crate::json_writer::write(&rewritten, chunker.start_item());
            }
        }
        chunker.mark_item(Mark {
            key: &key,
            hash,
            raw: Some(raw),
            fields,
        });
        Ok(true)
    }
}

/// The keys of `item[object]`, sorted, one a line.
fn field_names(item: &Value, object: &str) -> String {
    let mut names: Vec<&str> = item
        .get(object)
        .and_then(Value::as_object)
        .map(|map| map.keys().map(String::as_str).collect())
        .unwrap_or_default();
    names.sort_unstable();
    names.join("\n")
}

/// `item` with every name of `old` that `item[object]` lacks set to null, when there is one.
fn with_nulls(mut item: Value, object: &str, old: &str) -> Option<Value> {
    let map = item.get_mut(object)?.as_object_mut()?;
    let mut gone = false;
    for name in old.split('\n').filter(|name| !name.is_empty()) {
        if !map.contains_key(name) {
            map.insert(name.to_string(), Value::Null);
            gone = true;
        }
    }
    gone.then_some(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::chunk::MAX_BODY_BYTES;

    fn plan(dir: &std::path::Path, full: bool) -> Plan {
        let state = dir.join("state.sqlite3");
        let identity = Identity {
            profile: "p".into(),
            vendor: "rastro".into(),
            base_url: "embedded".into(),
            catalog: "c".into(),
        };
        open_state(&state, &identity).unwrap();
        Plan {
            state,
            full,
            fields_of: None,
            counts: Arc::new(Counts::default()),
        }
    }

    /// Writes `item` as the reader would and asks the filter; the chunk's marks on `finish`.
    fn offer(filter: &mut Filter, chunker: &mut Chunker, key: &str, item: &str) -> bool {
        chunker.start_item().extend_from_slice(item.as_bytes());
        let keep = filter.keep(key.as_bytes(), chunker).unwrap();
        match keep {
            true => assert!(chunker.commit_item(1, 2).unwrap().is_none()),
            false => chunker.discard_item(),
        }
        keep
    }

    #[test]
    fn rows_as_accepted_before_are_held_back_by_their_bytes_or_their_canonical_form() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(dir.path(), false);
        let mut recorder = plan.recorder().unwrap();
        let mut filter = plan.filter().unwrap();
        let mut chunker = Chunker::new(10, MAX_BODY_BYTES, b"[", b"]");
        assert!(offer(
            &mut filter,
            &mut chunker,
            "A",
            r#"{"sku":"A","price":10}"#
        ));
        let chunk = chunker.finish().unwrap();
        for mark in chunk.marks().iter() {
            recorder.record(mark, 1).unwrap();
        }
        recorder.commit().unwrap();

        let mut filter = plan.filter().unwrap();
        let mut chunker = Chunker::new(10, MAX_BODY_BYTES, b"[", b"]");
        assert!(!offer(
            &mut filter,
            &mut chunker,
            "A",
            r#"{"sku":"A","price":10}"#
        ));
        // Other bytes, the same item: held back by the canonical hash.
        assert!(!offer(
            &mut filter,
            &mut chunker,
            "A",
            r#"{"price":10.0,"sku":"A"}"#
        ));
        assert!(offer(
            &mut filter,
            &mut chunker,
            "A",
            r#"{"sku":"A","price":11}"#
        ));
        assert!(offer(&mut filter, &mut chunker, "B", r#"{"sku":"B"}"#));
        let counts = &plan.counts;
        assert_eq!(counts.changed.load(Ordering::Relaxed), 1);
        assert_eq!(counts.new.load(Ordering::Relaxed), 2);
        let marks = chunker.finish().unwrap().marks().clone();
        assert_eq!(marks.iter().map(|m| m.key).collect::<Vec<_>>(), ["A", "B"]);

        // --full holds nothing back.
        let full = Plan { full: true, ..plan };
        let mut filter = full.filter().unwrap();
        let mut chunker = Chunker::new(10, MAX_BODY_BYTES, b"[", b"]");
        assert!(offer(
            &mut filter,
            &mut chunker,
            "A",
            r#"{"sku":"A","price":10}"#
        ));
    }

    #[test]
    fn attributes_gone_since_the_last_accept_are_sent_as_null() {
        let item = json!({"action": "add", "id": "1", "attributes": {"b": 2, "a": 1}});
        assert_eq!(field_names(&item, "attributes"), "a\nb");
        let rewritten = with_nulls(item.clone(), "attributes", "a\nb\nc").unwrap();
        assert_eq!(rewritten["attributes"]["c"], Value::Null);
        assert_eq!(rewritten["attributes"]["a"], 1);
        assert!(with_nulls(item, "attributes", "a\nb").is_none());
    }
}
