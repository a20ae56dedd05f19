//! `--journal` / `--resume`: an append-only NDJSON file that records, after each vendor
//! acknowledgement, which rows are done (accepted, or rejected for good), so a rerun with
//! `--resume` skips them. Failed rows are not recorded: a resume sends them again.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Failure;

/// Identifies the import a journal belongs to, so `--resume` cannot skip rows of another one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalHeader {
    pub journal: String,
    pub command: String,
    pub vendor: String,
    pub destination: String,
    pub input: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Entry {
    Ok(Vec<(u64, u64)>),
    Rejected(Vec<(u64, u64)>),
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
}

impl Journal {
    /// Opens the journal for a run. Without `resume` the file must not hold another import's
    /// progress; with it, returns the rows already done.
    pub fn open(
        path: &Path,
        header: &JournalHeader,
        resume: bool,
    ) -> anyhow::Result<(Journal, RowSet)> {
        let existing = std::fs::metadata(path)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
        let mut done = RowSet::default();
        if existing && !resume {
            return Err(Failure::usage(format!(
                "the journal {} already holds an import's progress",
                path.display()
            ))
            .hint("add --resume to continue that import, or remove the file to start over")
            .into());
        }
        if existing {
            done = read(path, header)?;
        }
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
            },
            done,
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

    fn append(&mut self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        // One write per line, so a crash leaves at most the last line torn.
        self.file.write_all(&line)
    }

    /// Makes what was recorded durable; called after each batch of acknowledgements.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
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

fn read(path: &Path, expected: &JournalHeader) -> anyhow::Result<RowSet> {
    let file = File::open(path).map_err(|err| {
        Failure::usage(format!("cannot read the journal {}: {err}", path.display()))
    })?;
    let mut lines = BufReader::new(file).lines();
    let header: JournalHeader = lines
        .next()
        .and_then(Result::ok)
        .and_then(|line| serde_json::from_str(&line).ok())
        .ok_or_else(|| Failure::usage(format!("{} is not a catops journal", path.display())))?;
    if header.command != expected.command
        || header.vendor != expected.vendor
        || header.destination != expected.destination
    {
        return Err(Failure::usage(format!(
            "the journal {} belongs to `{}` into {} {}, not this import",
            path.display(),
            header.command,
            header.vendor,
            header.destination
        ))
        .into());
    }
    if header.input != expected.input {
        eprintln!(
            "warning: the journal was written for input {}, this run reads {}",
            header.input, expected.input
        );
    }
    let mut done = RowSet::default();
    for line in lines {
        let Ok(line) = line else { break };
        // A torn last line (the process was killed mid-write) is skipped: its rows are resent.
        let Ok(entry) = serde_json::from_str::<Entry>(&line) else {
            continue;
        };
        let (Entry::Ok(ranges) | Entry::Rejected(ranges)) = entry;
        for (start, end) in ranges {
            done.insert_range(start, end);
        }
    }
    done.normalize();
    Ok(done)
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
            let (mut journal, done) = Journal::open(&path, &header(), false).unwrap();
            assert_eq!(done.len(), 0);
            journal.record_ok(&mut [1, 2, 3]).unwrap();
            journal.record_rejected(&mut [4]).unwrap();
            journal.sync().unwrap();
        }
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"ok\":[[5,").unwrap();
        drop(file);
        assert!(
            Journal::open(&path, &header(), false).is_err(),
            "needs --resume"
        );
        let (mut journal, done) = Journal::open(&path, &header(), true).unwrap();
        assert_eq!(done.len(), 4);
        assert!(done.contains(4) && !done.contains(5));
        journal.record_ok(&mut [5, 6]).unwrap();
        drop(journal);
        let (_, done) = Journal::open(&path, &header(), true).unwrap();
        assert_eq!(done.len(), 6, "the entry after a torn line is read");
        let other = JournalHeader {
            destination: "cat_other".into(),
            ..header()
        };
        assert!(Journal::open(&path, &other, true).is_err());
    }
}
