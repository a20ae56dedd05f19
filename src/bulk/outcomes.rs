//! Stage 3: the one writer of the journal and the rejects file, and the counts. Every row read
//! ends in exactly one of: accepted, rejected (its line is in the rejects file), failed (there
//! too, as `failed: ...`), unconfirmed (sent, no answer before the run stopped), not sent, or
//! skipped (done by an earlier run). Only accepted and rejected rows are journaled, so a
//! resume sends the others again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::mpsc;

use super::chunk::{Chunk, Marks};
use super::journal::Journal;
use super::rejects::Rejects;
use super::sync::Recorder;
use super::Halt;
use crate::error::Failure;
use crate::input::{InputTrack, Undecodable};

/// What the stages report, as they go.
pub enum Event {
    /// A row that will not be sent, or that the vendor refused.
    Rejected {
        row: u64,
        line: u64,
        error: String,
        record: Value,
        /// The row's bytes when they are not valid UTF-8 (`raw_base64` in the rejects file).
        original: Option<Box<Undecodable>>,
    },
    Accepted {
        rows: Vec<u64>,
        created: Option<u64>,
        updated: Option<u64>,
        indexing_token: Option<String>,
        /// sync: the accepted rows' marks, for the state (empty otherwise).
        synced: Marks,
    },
    /// Rows the vendor did not take, though not for what they hold (retries ran out, the
    /// token was refused): in the rejects file as `failed: ...`, and sent again by a resume.
    Failed { chunk: Chunk, error: String },
    /// Nothing more will be recorded: a reader blocked on a stalled input may still hold a
    /// sender, so the channel closing cannot be waited for.
    End,
}

#[derive(Default)]
pub struct Counters {
    pub rows_read: AtomicU64,
    /// The reader reached the input's end: `rows_read` is then its row count (progress).
    pub read_all: AtomicBool,
    pub skipped: AtomicU64,
    pub rows_sent: AtomicU64,
    /// sync: rows whose item is as the state has it, so not sent.
    pub unchanged: AtomicU64,
    pub requests: AtomicU64,
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
    pub unconfirmed: AtomicU64,
    pub created: AtomicU64,
    pub updated: AtomicU64,
    pub counts_reported: AtomicBool,
    pub rows_valid: AtomicU64,
    /// Rows that waited for an earlier row with their key to be answered.
    pub duplicates: AtomicU64,
    /// batch: the indexing token of the last accepted edit.
    pub indexing_token: Mutex<Option<String>>,
}

impl Counters {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Rows read that reached no other end: the run stopped before they were sent.
    pub fn not_sent(&self) -> u64 {
        let ended = [
            &self.skipped,
            &self.unchanged,
            &self.accepted,
            &self.rejected,
            &self.failed,
            &self.unconfirmed,
        ]
        .iter()
        .map(|counter| Counters::get(counter))
        .sum::<u64>();
        Counters::get(&self.rows_read).saturating_sub(ended)
    }
}

/// How the outcome writer ended.
pub struct Recorded {
    pub rejects_file: Option<PathBuf>,
    pub journal: Option<Journal>,
    /// A rejects file or journal that could not be written: the run stopped there.
    pub write_error: Option<Failure>,
}

pub struct Writer {
    pub journal: Option<Journal>,
    pub rejects: Rejects,
    pub counters: Arc<Counters>,
    pub track: Arc<InputTrack>,
    pub halt: Arc<Halt>,
    /// sync: where accepted items are recorded.
    pub sync: Option<Recorder>,
}

impl Writer {
    /// Writes what the events say until every sender is gone. A write that fails stops the
    /// run; the events that follow are still counted, and nothing more is journaled, so no
    /// row is recorded as done without its rejects line.
    pub async fn run(mut self, mut events: mpsc::Receiver<Event>) -> Recorded {
        let mut ok_rows: Vec<u64> = Vec::new();
        let mut rejected_rows: Vec<u64> = Vec::new();
        let mut write_error: Option<Failure> = None;
        let mut ended = false;
        while !ended {
            let Some(first) = events.recv().await else {
                break;
            };
            let mut next = Some(first);
            // Drain what is ready, then make it durable once.
            while let Some(event) = next {
                if matches!(event, Event::End) {
                    ended = true;
                    break;
                }
                let writing = write_error.is_none();
                if let Err(err) = self.apply(event, &mut ok_rows, &mut rejected_rows, writing) {
                    self.stop_on(&mut write_error, err);
                }
                next = events.try_recv().ok();
            }
            if write_error.is_none() {
                if let Err(err) = self.make_durable(&mut ok_rows, &mut rejected_rows) {
                    self.stop_on(&mut write_error, err);
                }
            }
            ok_rows.clear();
            rejected_rows.clear();
        }
        if write_error.is_none() {
            if let Err(err) = self.rejects.flush() {
                write_error = Some(self.rejects_error(err));
            }
        }
        Recorded {
            rejects_file: self.rejects.written().map(PathBuf::from),
            journal: self.journal,
            write_error,
        }
    }

    fn stop_on(&self, slot: &mut Option<Failure>, err: Failure) {
        if slot.is_none() {
            *slot = Some(err);
        }
        self.halt.set();
    }

    fn apply(
        &mut self,
        event: Event,
        ok_rows: &mut Vec<u64>,
        rejected_rows: &mut Vec<u64>,
        writing: bool,
    ) -> Result<(), Failure> {
        let counters = &self.counters;
        match event {
            Event::Rejected {
                row,
                line,
                error,
                record,
                original,
            } => {
                counters.rejected.fetch_add(1, Ordering::Relaxed);
                if writing {
                    self.rejects
                        .write(
                            row,
                            line,
                            &error,
                            &record,
                            original.as_deref().map(|bytes| bytes.0.as_slice()),
                        )
                        .map_err(|err| self.rejects_error(err))?;
                    rejected_rows.push(row);
                }
            }
            Event::Accepted {
                mut rows,
                created,
                updated,
                indexing_token,
                synced,
            } => {
                if let Some(recorder) = self.sync.as_mut().filter(|_| writing) {
                    for (mark, row) in synced.iter().zip(&rows) {
                        recorder.record(mark, *row)?;
                    }
                }
                counters
                    .accepted
                    .fetch_add(rows.len() as u64, Ordering::Relaxed);
                if created.is_some() || updated.is_some() {
                    counters.counts_reported.store(true, Ordering::Relaxed);
                }
                counters
                    .created
                    .fetch_add(created.unwrap_or(0), Ordering::Relaxed);
                counters
                    .updated
                    .fetch_add(updated.unwrap_or(0), Ordering::Relaxed);
                if let Some(token) = indexing_token {
                    *counters
                        .indexing_token
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = Some(token);
                }
                ok_rows.append(&mut rows);
            }
            Event::Failed { chunk, error } => {
                counters
                    .failed
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if writing {
                    let error = format!("failed: {error}");
                    for row in chunk.rows() {
                        let item = serde_json::from_slice(chunk.item(row)).unwrap_or(Value::Null);
                        self.rejects
                            .write(row.row, row.line, &error, &item, None)
                            .map_err(|err| self.rejects_error(err))?;
                    }
                }
            }
            Event::End => {}
        }
        Ok(())
    }

    /// Rejects first, then the journal: a row is journaled as done only once its rejects line
    /// is on disk. The input prefix goes before the rows it covers.
    fn make_durable(
        &mut self,
        ok_rows: &mut [u64],
        rejected_rows: &mut [u64],
    ) -> Result<(), Failure> {
        if let Some(recorder) = &mut self.sync {
            recorder.commit()?;
        }
        self.rejects
            .flush()
            .map_err(|err| self.rejects_error(err))?;
        let Some(journal) = &mut self.journal else {
            return Ok(());
        };
        if ok_rows.is_empty() && rejected_rows.is_empty() {
            return Ok(());
        }
        let path = journal.path().to_path_buf();
        let failed = |err: std::io::Error| {
            Failure::new(
                crate::error::exit::FAILURE,
                format!("cannot write the journal {}: {err}", path.display()),
            )
        };
        journal.record_prefix(self.track.prefix()).map_err(failed)?;
        if !ok_rows.is_empty() {
            journal.record_ok(ok_rows).map_err(failed)?;
        }
        if !rejected_rows.is_empty() {
            journal.record_rejected(rejected_rows).map_err(failed)?;
        }
        journal.sync().map_err(failed)
    }

    fn rejects_error(&self, err: std::io::Error) -> Failure {
        Failure::new(
            crate::error::exit::FAILURE,
            format!(
                "cannot write the rejects file {}: {err}",
                self.rejects.path().display()
            ),
        )
    }
}
