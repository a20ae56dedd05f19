//! `--journal` / `--resume`: an append-only NDJSON file that records, after each vendor
//! acknowledgement, which rows are done (accepted, or rejected for good), so a rerun with
//! `--resume` skips them. Failed rows are not recorded: a resume sends them again.
//!
//! The first line says whose import it is (command, profile, vendor, base URL as configured,
//! destination), and `prefix` entries hash the input read so far, so a resume against another
//! server or an edited input is refused instead of skipping rows that never arrived. A lock
//! file beside the journal keeps two runs from using it at once.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Failure;
use crate::input::Prefix;

/// Identifies the import a journal belongs to, so `--resume` cannot skip rows of another one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalHeader {
    pub journal: String,
    pub command: String,
    pub vendor: String,
    pub destination: String,
    pub input: String,
    /// Absent in journals written before they were recorded; then not compared.
    #[serde(default)]
    pub profile: Option<String>,
    /// As configured: `embedded` for the built-in sandbox, whatever port it ran on.
    #[serde(default)]
    pub base_url: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Entry {
    Ok(Vec<(u64, u64)>),
    Rejected(Vec<(u64, u64)>),
    /// The input read so far: every row recorded before lies in it.
    Prefix(Prefix),
    /// How the run ended, for the reader of the file; not read back.
    Summary(serde_json::Value),
}

/// What a resumed journal says is done.
#[derive(Debug, Default)]
pub struct Resumed {
    pub done: RowSet,
    /// The longest input prefix recorded: the resumed input must begin with it.
    pub prefix: Option<Prefix>,
}

/// Row numbers as sorted, disjoint, inclusive ranges.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RowSet {
    ranges: Vec<(u64, u64)>,
}

impl RowSet {
    pub fn insert_range(&mut self, start: u64, end: u64) {
        self.ranges.push((start, end));
    }

    /// Sorts and merges; call once after inserting.
    pub fn normalize(&mut self) {
        self.ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.ranges.len());
        for &(start, end) in &self.ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        self.ranges = merged;
    }

    pub fn contains(&self, row: u64) -> bool {
        let index = self.ranges.partition_point(|&(_, end)| end < row);
        self.ranges
            .get(index)
            .is_some_and(|&(start, _)| start <= row)
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    #[cfg(test)]
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e - s + 1).sum()
    }
}

/// Compresses row numbers (in any order) into ranges.
pub fn ranges(rows: &mut [u64]) -> Vec<(u64, u64)> {
    rows.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &row in rows.iter() {
        match out.last_mut() {
            Some(last) if row == last.1 + 1 => last.1 = row,
            Some(last) if row == last.1 => {}
            _ => out.push((row, row)),
        }
    }
    out
}

pub struct Journal {
    file: File,
    path: PathBuf,
    lock: Lock,
    /// The longest prefix written so far.
    prefix: u64,
    /// This run made the file, and whether it has recorded anything in it.
    created: bool,
    recorded: bool,
}

impl Journal {
    /// Opens the journal for a run. Without `resume` the file must not hold another import's
    /// progress; with it, returns what is already done.
    pub fn open(
        path: &Path,
        header: &JournalHeader,
        resume: bool,
    ) -> anyhow::Result<(Journal, Resumed)> {
        let lock = Lock::take(path)?;
        let existing = std::fs::metadata(path)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
        if existing && !resume {
            lock.release();
            return Err(Failure::usage(format!(
                "the journal {} already holds an import's progress",
                path.display()
            ))
            .hint("add --resume to continue that import, or remove the file to start over")
            .into());
        }
        let resumed = if existing {
            match read(path, header) {
                Ok(resumed) => resumed,
                Err(err) => {
                    lock.release();
                    return Err(err);
                }
            }
        } else {
            Resumed::default()
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|err| {
                Failure::usage(format!("cannot open the journal {}: {err}", path.display()))
            })?;
        if !existing {
            let mut line = serde_json::to_vec(header)?;
            line.push(b'\n');
            file.write_all(&line)?;
            file.sync_data()?;
        } else if !ends_with_newline(path) {
            // Close the line a killed run left torn, so the next entry starts clean.
            file.write_all(b"\n")?;
        }
        Ok((
            Journal {
                file,
                path: path.to_path_buf(),
                lock,
                prefix: resumed.prefix.map_or(0, |p| p.bytes),
                created: !existing,
                recorded: false,
            },
            resumed,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn record_ok(&mut self, rows: &mut [u64]) -> std::io::Result<()> {
        self.append(&Entry::Ok(ranges(rows)))
    }

    pub fn record_rejected(&mut self, rows: &mut [u64]) -> std::io::Result<()> {
        self.append(&Entry::Rejected(ranges(rows)))
    }

    /// Records that the input's first `prefix.bytes` bytes hash to `prefix.hash`, when that
    /// is further than recorded before.
    pub fn record_prefix(&mut self, prefix: Prefix) -> std::io::Result<()> {
        if prefix.bytes <= self.prefix {
            return Ok(());
        }
        self.prefix = prefix.bytes;
        self.append(&Entry::Prefix(prefix))
    }

    pub fn record_summary(&mut self, summary: &serde_json::Value) -> std::io::Result<()> {
        self.append(&Entry::Summary(summary.clone()))?;
        self.sync()
    }

    fn append(&mut self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        self.recorded = true;
        // One write per line, so a crash leaves at most the last line torn.
        self.file.write_all(&line)
    }

    /// Makes what was recorded durable; called after each batch of acknowledgements.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    /// Ends the run's use of the journal: the lock file goes.
    pub fn close(self) {
        self.lock.release();
    }

    /// Ends a run that stopped before it read a row: a journal it made and recorded nothing
    /// in goes too, so the next run need not --resume an import that never began.
    pub fn discard_if_unused(self) {
        if self.created && !self.recorded {
            let _ = std::fs::remove_file(&self.path);
        }
        self.lock.release();
    }
}

/// `<journal>.lock`, locked while a run uses the journal, holding that run's process id and
/// command line so a second run can say who has it.
struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    fn take(journal: &Path) -> anyhow::Result<Lock> {
        let mut name = journal.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let path = journal.with_file_name(name);
        let cannot = |err: std::io::Error| {
            Failure::usage(format!(
                "cannot lock the journal with {}: {err}",
                path.display()
            ))
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = std::io::Read::read_to_string(&mut file, &mut holder);
                let holder = match holder.trim() {
                    "" => "another process".to_string(),
                    text => text.to_string(),
                };
                return Err(Failure::usage(format!(
                    "the journal {} is in use by {holder}",
                    journal.display()
                ))
                .hint("wait for that run to end, or give this one a --journal of its own")
                .into());
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(cannot(err).into()),
        }
        let args: Vec<String> = std::env::args().collect();
        let holder = format!("process {} ({})\n", std::process::id(), args.join(" "));
        file.set_len(0).map_err(cannot)?;
        file.write_all(holder.as_bytes()).map_err(cannot)?;
        Ok(Lock { file, path })
    }

    fn release(self) {
        // Removed while still locked, so no other run can be holding this same file.
        let _ = std::fs::remove_file(&self.path);
        drop(self.file);
    }
}

fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = File::open(path) else {
        return true;
    };
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).is_err()
        || (file.read_exact(&mut last).is_ok() && last[0] == b'\n')
}

fn read(path: &Path, expected: &JournalHeader) -> anyhow::Result<Resumed> {
    let file = File::open(path).map_err(|err| {
        Failure::usage(format!("cannot read the journal {}: {err}", path.display()))
    })?;
    let mut lines = BufReader::new(file).lines();
    let header: JournalHeader = lines
        .next()
        .and_then(Result::ok)
        .and_then(|line| serde_json::from_str(&line).ok())
        .ok_or_else(|| Failure::usage(format!("{} is not a catops journal", path.display())))?;
    let differences = header.differences(expected);
    if !differences.is_empty() {
        return Err(Failure::usage(format!(
            "the journal {} belongs to another import: {}",
            path.display(),
            differences.join("; ")
        ))
        .hint("resume with the same profile, base URL and destination, or start over with another --journal")
        .into());
    }
    if header.input != expected.input {
        eprintln!(
            "warning: the journal was written for input {}, this run reads {} (its start is checked against the journal as it is read)",
            header.input, expected.input
        );
    }
    let mut resumed = Resumed::default();
    for line in lines {
        let Ok(line) = line else { break };
        // A torn last line (the process was killed mid-write) is skipped: its rows are resent.
        let Ok(entry) = serde_json::from_str::<Entry>(&line) else {
            continue;
        };
        match entry {
            Entry::Ok(ranges) | Entry::Rejected(ranges) => {
                for (start, end) in ranges {
                    resumed.done.insert_range(start, end);
                }
            }
            Entry::Prefix(prefix) => {
                if resumed.prefix.is_none_or(|p| p.bytes < prefix.bytes) {
                    resumed.prefix = Some(prefix);
                }
            }
            Entry::Summary(_) => {}
        }
    }
    resumed.done.normalize();
    Ok(resumed)
}

impl JournalHeader {
    /// What differs between the import a journal was written for and this one.
    fn differences(&self, now: &JournalHeader) -> Vec<String> {
        let mut differences = Vec::new();
        let mut compare = |what: &str, then: Option<&str>, now: Option<&str>| {
            if let (Some(then), Some(now)) = (then, now) {
                if then != now {
                    differences.push(format!("{what} was {then}, now {now}"));
                }
            }
        };
        compare("the command", Some(&self.command), Some(&now.command));
        compare(
            "the profile",
            self.profile.as_deref(),
            now.profile.as_deref(),
        );
        compare("the vendor", Some(&self.vendor), Some(&now.vendor));
        compare(
            "the base URL",
            self.base_url.as_deref(),
            now.base_url.as_deref(),
        );
        compare(
            "the destination",
            Some(&self.destination),
            Some(&now.destination),
        );
        differences
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> JournalHeader {
        JournalHeader {
            journal: "catops bulk".into(),
            command: "bulk upsert".into(),
            vendor: "rastro".into(),
            destination: "cat_demo".into(),
            input: "a.csv".into(),
            profile: Some("shop".into()),
            base_url: Some("embedded".into()),
        }
    }

    #[test]
    fn ranges_compress_rows() {
        assert_eq!(
            ranges(&mut [5, 1, 2, 3, 9, 10, 3]),
            [(1, 3), (5, 5), (9, 10)]
        );
        assert!(ranges(&mut []).is_empty());
    }

    #[test]
    fn row_sets_merge_and_answer() {
        let mut set = RowSet::default();
        for (s, e) in [(10, 20), (1, 5), (6, 8), (30, 30)] {
            set.insert_range(s, e);
        }
        set.normalize();
        assert_eq!(set.ranges, [(1, 8), (10, 20), (30, 30)]);
        assert!(set.contains(1) && set.contains(8) && set.contains(15) && set.contains(30));
        assert!(!set.contains(9) && !set.contains(21) && !set.contains(31) && !set.contains(0));
        assert_eq!(set.len(), 8 + 11 + 1);
    }

    #[test]
    fn a_resumed_journal_skips_done_rows_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.ndjson");
        {
            let (mut journal, resumed) = Journal::open(&path, &header(), false).unwrap();
            assert_eq!(resumed.done.len(), 0);
            journal.record_ok(&mut [1, 2, 3]).unwrap();
            journal.record_rejected(&mut [4]).unwrap();
            journal
                .record_prefix(Prefix { bytes: 10, hash: 7 })
                .unwrap();
            journal.record_prefix(Prefix { bytes: 5, hash: 1 }).unwrap();
            journal.sync().unwrap();
            journal.close();
        }
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"ok\":[[5,").unwrap();
        drop(file);
        assert!(
            Journal::open(&path, &header(), false).is_err(),
            "needs --resume"
        );
        let (mut journal, resumed) = Journal::open(&path, &header(), true).unwrap();
        assert_eq!(resumed.done.len(), 4);
        assert!(resumed.done.contains(4) && !resumed.done.contains(5));
        assert_eq!(resumed.prefix, Some(Prefix { bytes: 10, hash: 7 }));
        journal.record_ok(&mut [5, 6]).unwrap();
        journal.close();
        let (journal, resumed) = Journal::open(&path, &header(), true).unwrap();
        assert_eq!(resumed.done.len(), 6, "the entry after a torn line is read");
        journal.close();
        let other = JournalHeader {
            destination: "cat_other".into(),
            base_url: Some("https://catalogapi.rastro.ai/api".into()),
            ..header()
        };
        let err = Journal::open(&path, &other, true)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("the base URL was embedded, now https://catalogapi.rastro.ai/api"),
            "{err}"
        );
        assert!(
            err.contains("the destination was cat_demo, now cat_other"),
            "{err}"
        );
    }

    #[test]
    fn a_journal_in_use_is_refused_naming_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.ndjson");
        let (first, _) = Journal::open(&path, &header(), false).unwrap();
        let err = Journal::open(&path, &header(), true)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("is in use by process"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        first.close();
        assert!(!dir.path().join("j.ndjson.lock").exists());
        let (again, _) = Journal::open(&path, &header(), true).unwrap();
        again.close();
    }
}
