//! Stage 1, on a thread of its own: reads the input, maps and validates each row, writes its
//! item once into the chunk being filled, and hands full chunks on. It blocks when the senders
//! are behind, so memory stays flat; a row whose key is in a request still unanswered waits
//! for that answer. It stops at once when the run halts: the rows of the chunk it was filling
//! are then counted as not sent.

use std::io::BufRead;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::chunk::{Chunk, Chunker, TooLarge};
use super::inflight::{key_hash, KeyTracker};
use super::journal::RowSet;
use super::outcomes::{Counters, Event};
use super::sync::Filter;
use super::Halt;
use crate::error::Failure;
use crate::input::typed::ValueType;
use crate::input::{
    self, InputError, InputFormat, InputTrack, Records, Typing, Undecodable, Verdict,
};
use crate::vendors::BulkEndpoint;

/// How many rows that wait for their key `-v` names.
const DUPLICATES_NAMED: u64 = 5;

pub struct Reader {
    pub input: Box<dyn BufRead + Send>,
    pub input_name: String,
    pub format: InputFormat,
    pub typing: Typing,
    pub target: Arc<dyn BulkEndpoint>,
    pub done: RowSet,
    pub batch_size: usize,
    pub chunks: mpsc::Sender<Chunk>,
    pub events: mpsc::Sender<Event>,
    pub halt: Arc<Halt>,
    pub counters: Arc<Counters>,
    /// None on a dry run: nothing is in flight.
    pub keys: Option<KeyTracker>,
    pub track: Arc<InputTrack>,
    pub verbose: bool,
    /// sync: which rows go.
    pub sync: Option<Filter>,
}

/// Why the reader stopped before the end of the input, when it was not told to.
pub type ReadResult = Result<(), Failure>;

impl Reader {
    /// Starts the thread. `header` says first whether the input can be read at all (a usage
    /// error, before anything is sent), with a CSV header's column names. The rows wait for
    /// `go`, so the columns can be checked before any row is read; a dropped `go` stops here.
    pub fn spawn(
        mut self,
        header: oneshot::Sender<Result<Vec<String>, InputError>>,
        go: oneshot::Receiver<()>,
    ) -> std::thread::JoinHandle<ReadResult> {
        std::thread::spawn(move || {
            let input = std::mem::replace(&mut self.input, Box::new(std::io::empty()));
            let records = match self.open(input) {
                Ok(records) => {
                    let columns = match &records {
                        Records::Csv(csv) => csv.names(),
                        _ => Vec::new(),
                    };
                    let _ = header.send(Ok(columns));
                    if go.blocking_recv().is_err() {
                        return Ok(());
                    }
                    records
                }
                Err(err) => {
                    let _ = header.send(Err(err));
                    return Ok(());
                }
            };
            let keys = self.keys.take();
            let sync = self.sync.take();
            let (prefix, suffix) = self.target.envelope();
            let mut sink = Sink {
                chunker: Chunker::new(
                    self.batch_size,
                    self.target.max_body_bytes().unwrap_or(usize::MAX),
                    prefix,
                    suffix,
                ),
                reader: &self,
                keys,
                sync,
                filling: Vec::new(),
                duplicates_named: 0,
            };
            sink.read(records)
        })
    }

    /// The records, once the header (CSV) or the opening bracket (JSON) is read.
    fn open(&self, input: Box<dyn BufRead + Send>) -> Result<Records, InputError> {
        let name = display_input(&self.input_name);
        let records = input::records(self.format, input, &self.typing)
            .map_err(|err| InputError(format!("{name}: {}", err.0)))?;
        if let (Records::Csv(csv), Some(field)) = (&records, self.target.key_field()) {
            if csv.column(field).is_none() {
                return Err(InputError(format!(
                    "{name}: the CSV header has no '{field}' column, which every row needs"
                )));
            }
        }
        Ok(records)
    }
}

/// A body limit as people write it: 5 MiB, 500 KB.
fn describe_bytes(bytes: usize) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes.is_multiple_of(1000) {
        format!("{} KB", bytes / 1000)
    } else {
        format!("{bytes} bytes")
    }
}

pub fn display_input(input: &str) -> &str {
    if input == "-" {
        "stdin"
    } else {
        input
    }
}

/// Where each row goes: a rejection event, or a place in a chunk.
struct Sink<'a> {
    chunker: Chunker,
    reader: &'a Reader,
    keys: Option<KeyTracker>,
    sync: Option<Filter>,
    /// The key hashes of the rows of the chunk being filled, in order.
    filling: Vec<u64>,
    duplicates_named: u64,
}

/// Whether to read on.
enum Go {
    On,
    Stop(ReadResult),
}

impl Sink<'_> {
    fn read(&mut self, mut records: Records) -> ReadResult {
        // rastro takes a record as it is, so a CSV row can go straight to JSON with no map in
        // between (most of the per-row cost); only the unique field needs a look.
        let target = &self.reader.target;
        let passthrough_key = target
            .key_field()
            .filter(|_| target.sends_records_as_items());
        let fast_unique = match (&records, passthrough_key) {
            (Records::Csv(csv), Some(field)) => csv
                .column(field)
                .filter(|(_, kind)| {
                    matches!(
                        kind,
                        ValueType::String | ValueType::Number | ValueType::Integer
                    )
                })
                .map(|(index, _)| index),
            _ => None,
        };
        let going = match (&mut records, fast_unique) {
            (Records::Csv(csv), Some(unique)) => self.read_csv_as_items(csv, unique),
            _ => self.read_records(records),
        };
        match going {
            Go::Stop(result) => result,
            Go::On => {
                let counters = &self.reader.counters;
                counters.read_all.store(true, Ordering::Relaxed);
                self.finish()
            }
        }
    }

    /// The fast path: CSV rows written straight into the chunk as JSON objects.
    fn read_csv_as_items(&mut self, csv: &mut input::csv::CsvRecords, unique: usize) -> Go {
        let reader = self.reader;
        loop {
            if reader.halt.is_set() {
                return Go::Stop(Ok(()));
            }
            let Some(result) = csv.next_json(self.chunker.start_item()) else {
                self.chunker.discard_item();
                return Go::On;
            };
            reader.counters.rows_read.fetch_add(1, Ordering::Relaxed);
            let (row, line) = match &result {
                Ok(position) => *position,
                Err(error) => (error.row, error.line),
            };
            if reader.done.contains(row) {
                self.chunker.discard_item();
                reader.counters.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let going = match result {
                Err(error) => self.reject(row, line, error.message, error.raw, error.original),
                // Rare: the vendor module words the rejection, as on the general path.
                Ok(_) if csv.cell_is_empty(unique) => {
                    let fields = serde_json::from_slice(self.chunker.item()).unwrap_or_default();
                    match reader.target.item(fields) {
                        Err((reason, mapped)) => self.reject(row, line, reason, mapped, None),
                        Ok(_) => self.commit(row, line, csv.cell(unique).unwrap_or_default()),
                    }
                }
                Ok(_) => self.commit(row, line, csv.cell(unique).unwrap_or_default()),
            };
            if let Go::Stop(result) = going {
                return Go::Stop(result);
            }
        }
    }

    /// Any format: each record mapped to the vendor's item, then written.
    fn read_records(&mut self, records: Records) -> Go {
        let reader = self.reader;
        for result in records {
            if reader.halt.is_set() {
                return Go::Stop(Ok(()));
            }
            reader.counters.rows_read.fetch_add(1, Ordering::Relaxed);
            let row = match &result {
                Ok(record) => record.row,
                Err(error) => error.row,
            };
            if reader.done.contains(row) {
                reader.counters.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let going = match result {
                Err(error) => self.reject(
                    error.row,
                    error.line,
                    error.message,
                    error.raw,
                    error.original,
                ),
                Ok(record) => match reader.target.item(record.fields) {
                    Err((reason, mapped)) => {
                        self.reject(record.row, record.line, reason, mapped, None)
                    }
                    Ok(item) => {
                        crate::json_writer::write(&item, self.chunker.start_item());
                        let key = reader.target.item_key(&item).unwrap_or_default();
                        self.commit(record.row, record.line, key.as_bytes())
                    }
                },
            };
            if let Go::Stop(result) = going {
                return Go::Stop(result);
            }
        }
        Go::On
    }

    /// Rejects the current row, dropping whatever of it was written.
    fn reject(
        &mut self,
        row: u64,
        line: u64,
        error: String,
        record: Value,
        original: Option<Box<Undecodable>>,
    ) -> Go {
        self.chunker.discard_item();
        let event = Event::Rejected {
            row,
            line,
            error,
            record,
            original,
        };
        match self.reader.events.blocking_send(event) {
            Ok(()) => Go::On,
            // The pipeline has shut down.
            Err(_) => Go::Stop(Ok(())),
        }
    }

    /// Keeps the item written into `chunker.start_item()`, handing on the chunk it fills.
    fn commit(&mut self, row: u64, line: u64, key: &[u8]) -> Go {
        if let Some(filter) = &mut self.sync {
            match filter.keep(key, &mut self.chunker) {
                Ok(true) => {}
                Ok(false) => {
                    self.chunker.discard_item();
                    let unchanged = &self.reader.counters.unchanged;
                    unchanged.fetch_add(1, Ordering::Relaxed);
                    return Go::On;
                }
                Err(failure) => {
                    self.reader.halt.set();
                    return Go::Stop(Err(failure));
                }
            }
        }
        let hash = self.keys.as_ref().map(|_| key_hash(key));
        match self.chunker.commit_item(row, line) {
            Ok(None) => {
                self.filling.extend(hash);
                Go::On
            }
            Ok(Some(full)) => {
                // The row is in the chunk it filled, or else (it did not fit there) opens
                // the next one.
                let opened_next = full.rows().last().is_none_or(|r| r.row != row);
                if !opened_next {
                    self.filling.extend(hash);
                }
                let going = self.hand_off(full);
                if opened_next {
                    self.filling.extend(hash);
                }
                going
            }
            Err(TooLarge {
                item_bytes,
                max_body,
            }) => {
                let reason = format!(
                    "the row is {item_bytes} bytes as JSON, more than a request may carry ({})",
                    describe_bytes(max_body)
                );
                self.reject(row, line, reason, Value::Null, None)
            }
        }
    }

    /// Hands a full chunk to the senders, once no request in flight holds any of its rows'
    /// keys; stops when a resumed input turns out not to begin as the journal's did (stdin:
    /// checked as it is read).
    fn hand_off(&mut self, chunk: Chunk) -> Go {
        let reader = self.reader;
        if reader.track.verdict() == Verdict::Different {
            reader.halt.set();
            return Go::Stop(Err(identity_failure(&reader.input_name, &reader.track)));
        }
        if let Some(keys) = &mut self.keys {
            let next = keys.new_list();
            let mut hashes = std::mem::replace(&mut self.filling, next);
            let Some(cleared) = keys.clear(&mut hashes, &reader.halt.flag) else {
                return Go::Stop(Ok(()));
            };
            keys.handed_off(chunk.id(), hashes);
            if cleared.duplicates > 0 {
                self.note_duplicates(&chunk, &cleared.keys, cleared.duplicates);
            }
        }
        match reader.chunks.blocking_send(chunk) {
            Ok(()) => Go::On,
            Err(_) => Go::Stop(Ok(())),
        }
    }

    /// Counts the rows that waited for their key, and with -v names the first few.
    fn note_duplicates(&mut self, chunk: &Chunk, met: &[u64], count: u64) {
        let reader = self.reader;
        reader
            .counters
            .duplicates
            .fetch_add(count, Ordering::Relaxed);
        if !reader.verbose || self.duplicates_named >= DUPLICATES_NAMED {
            return;
        }
        for span in chunk.rows() {
            let item: Value = serde_json::from_slice(chunk.item(span)).unwrap_or(Value::Null);
            let Some(key) = reader.target.item_key(&item) else {
                continue;
            };
            if met.contains(&key_hash(key.as_bytes())) && self.duplicates_named < DUPLICATES_NAMED {
                self.duplicates_named += 1;
                eprintln!(
                    "* row {} (line {}): key {key} is in a request not answered yet; its request waits for that answer, so the last row for the key wins",
                    span.row, span.line
                );
            }
        }
    }

    /// The last, partly filled chunk, at the end of the input.
    fn finish(&mut self) -> ReadResult {
        let chunker = std::mem::replace(&mut self.chunker, Chunker::new(1, 0, b"", b""));
        if let Some(last) = chunker.finish() {
            if let Go::Stop(result) = self.hand_off(last) {
                return result;
            }
        }
        match self.reader.track.verdict() {
            Verdict::Different => Err(identity_failure(
                &self.reader.input_name,
                &self.reader.track,
            )),
            _ => Ok(()),
        }
    }
}

/// A resumed input that does not begin as the journal's did: its rows are not the ones the
/// journal counts as done.
pub fn identity_failure(input: &str, track: &InputTrack) -> Failure {
    let bytes = track.expected().map_or(0, |prefix| prefix.bytes);
    Failure::usage(format!(
        "{} is not the input the journal was written for: its first {bytes} bytes differ (or it is shorter), so the rows the journal counts as done are not these",
        display_input(input)
    ))
    .hint("start over without --resume (upserts are idempotent), or resume with the original input")
}
