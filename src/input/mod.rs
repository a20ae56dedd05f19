//! Turning input files into typed records, streamed: CSV, a JSON array, or NDJSON, from a file
//! or stdin. Every record carries its row and line numbers so a rejected one can be found.

pub mod csv;
pub mod csv_reader;
pub mod json;
pub mod typed;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{Map, Value};

use self::typed::ValueType;

/// The most text a reader holds for one record. A record larger than a request may carry
/// (5 MiB) cannot be sent anyway; past this the reader stops holding it, so a missing bracket
/// or line end in a huge file cannot fill memory. (CSV's own buffer is the csv crate's.)
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;

/// One input record: `row` counts records from 1 (a CSV header is not a row), `line` is the
/// line of the file the record starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub row: u64,
    pub line: u64,
    pub fields: Map<String, Value>,
}

/// A record that could not be read or typed. `raw` keeps what was readable of it, for the
/// rejects file.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub row: u64,
    pub line: u64,
    pub message: String,
    pub raw: Value,
}

pub type RowResult = Result<Record, RowError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    Csv,
    Json,
    Ndjson,
}

impl InputFormat {
    /// SPEC §4: from the file extension, else CSV (stdin included).
    pub fn from_path(path: &str) -> InputFormat {
        let extension = Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("json") => InputFormat::Json,
            Some("ndjson" | "jsonl") => InputFormat::Ndjson,
            _ => InputFormat::Csv,
        }
    }
}

/// What an empty CSV cell becomes (SPEC §4 `--empty`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum EmptyCells {
    /// Leave the field out of the record.
    #[default]
    Omit,
    /// Send the field as null.
    Null,
}

/// How CSV cells become JSON values. JSON inputs are already typed and pass through.
#[derive(Clone, Debug)]
pub struct Typing {
    /// `--type COLUMN=TYPE`; wins over a header hint.
    pub types: HashMap<String, ValueType>,
    pub array_sep: String,
    pub empty: EmptyCells,
}

impl Default for Typing {
    fn default() -> Self {
        Typing {
            types: HashMap::new(),
            array_sep: "|".to_string(),
            empty: EmptyCells::Omit,
        }
    }
}

/// The input cannot be read at all (no header, duplicate columns...): a usage error before
/// anything is sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Opens `path`, or stdin for `-`, counting the bytes read into `read` (for progress).
/// Returns the reader and the input's size when it is known.
pub fn open(
    path: &str,
    read: Arc<AtomicU64>,
) -> Result<(Box<dyn BufRead + Send>, Option<u64>), InputError> {
    const BUFFER: usize = 256 * 1024;
    if path == "-" {
        let counted = Counted {
            inner: io::stdin(),
            read,
        };
        return Ok((Box::new(BufReader::with_capacity(BUFFER, counted)), None));
    }
    let file = File::open(path).map_err(|err| InputError(format!("cannot open {path}: {err}")))?;
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let counted = Counted { inner: file, read };
    Ok((Box::new(BufReader::with_capacity(BUFFER, counted)), size))
}

struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A reader of any format; CSV is kept apart so the bulk pipeline can write its rows straight
/// to JSON.
pub enum Records {
    Csv(csv::CsvRecords),
    Json(json::JsonArrayRecords),
    Ndjson(json::NdjsonRecords),
}

impl Iterator for Records {
    type Item = RowResult;

    fn next(&mut self) -> Option<RowResult> {
        match self {
            Records::Csv(records) => records.next(),
            Records::Json(records) => records.next(),
            Records::Ndjson(records) => records.next(),
        }
    }
}

/// The records of `reader` in `format`, one at a time.
pub fn records(
    format: InputFormat,
    reader: Box<dyn BufRead + Send>,
    typing: &Typing,
) -> Result<Records, InputError> {
    Ok(match format {
        InputFormat::Csv => Records::Csv(csv::CsvRecords::new(reader, typing)?),
        InputFormat::Json => Records::Json(json::JsonArrayRecords::new(reader)?),
        InputFormat::Ndjson => Records::Ndjson(json::NdjsonRecords::new(reader)),
    })
}
