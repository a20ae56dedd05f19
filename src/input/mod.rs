//! Turning input files into typed records, streamed: CSV, a JSON array, or NDJSON, from a file
//! or stdin. Every record carries its row and line numbers so a rejected one can be found.

pub mod csv;
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

/// The most text a reader holds for one record, in every format. A record larger than a
/// request may carry (5 MiB) cannot be sent anyway; past this the reader stops holding it, so
/// a missing bracket, quote or line end in a huge file cannot fill memory.
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
    /// The row's own bytes when they are not valid UTF-8: `raw` shows them with U+FFFD, and
    /// re-importing that would store U+FFFD, so the rejects file keeps these too. (Boxed
    /// whole: it is rare, and a `RowError` is moved once per bad row.)
    pub original: Option<Box<Undecodable>>,
}

/// The bytes of a row that are not valid UTF-8, kept whole for the rejects file.
#[derive(Debug, Clone, PartialEq)]
pub struct Undecodable(pub Vec<u8>);

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

/// How much of the input has been read, and a hash of exactly those bytes: progress, and the
/// input's identity for a journal. A resumed run checks, as it reads, that its input begins
/// with the bytes the journal saw (`expect`), so a file edited in between is refused.
#[derive(Default)]
pub struct InputTrack {
    state: std::sync::Mutex<TrackState>,
    /// The bytes read so far, readable without the lock (progress bars).
    bytes: AtomicU64,
    expect: Option<Prefix>,
    /// Only a journaled run needs the hash (a few percent of the reading).
    hashing: bool,
}

/// The first `bytes` bytes of an input and their hash (xxh3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prefix {
    pub bytes: u64,
    pub hash: u64,
}

#[derive(Default)]
struct TrackState {
    bytes: u64,
    hash: xxhash_rust::xxh3::Xxh3,
    verdict: Verdict,
}

/// Whether the input begins as `expect` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verdict {
    /// Not read that far yet.
    #[default]
    Pending,
    Same,
    /// The first `expect.bytes` differ, or the input is shorter.
    Different,
}

impl InputTrack {
    /// A tracker that counts the bytes read, and no more.
    pub fn counting() -> InputTrack {
        InputTrack {
            hashing: false,
            ..InputTrack::expecting(None)
        }
    }

    /// A tracker that hashes what is read and checks the input begins with `expect` (an empty
    /// prefix always matches).
    pub fn expecting(expect: Option<Prefix>) -> InputTrack {
        let expect = expect.filter(|prefix| prefix.bytes > 0);
        let verdict = if expect.is_some() {
            Verdict::Pending
        } else {
            Verdict::Same
        };
        InputTrack {
            state: std::sync::Mutex::new(TrackState {
                verdict,
                ..TrackState::default()
            }),
            bytes: AtomicU64::new(0),
            expect,
            hashing: true,
        }
    }

    pub fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// What has been read so far, as a prefix a journal can record.
    pub fn prefix(&self) -> Prefix {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Prefix {
            bytes: state.bytes,
            hash: state.hash.digest(),
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).verdict
    }

    pub fn expected(&self) -> Option<Prefix> {
        self.expect
    }

    fn record(&self, bytes: &[u8]) {
        if !self.hashing {
            self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut rest = bytes;
        if let (Some(expect), Verdict::Pending) = (self.expect, state.verdict) {
            if bytes.is_empty() {
                // The input ended before the part the journal covers.
                state.verdict = Verdict::Different;
            } else if state.bytes + bytes.len() as u64 >= expect.bytes {
                let head = (expect.bytes - state.bytes) as usize;
                state.hash.update(&bytes[..head]);
                state.bytes += head as u64;
                state.verdict = if state.hash.digest() == expect.hash {
                    Verdict::Same
                } else {
                    Verdict::Different
                };
                rest = &bytes[head..];
            }
        }
        state.hash.update(rest);
        state.bytes += rest.len() as u64;
        self.bytes.store(state.bytes, Ordering::Relaxed);
    }
}

/// Whether the file at `path` begins with `prefix` (its first bytes hash as recorded).
pub fn begins_with(path: &str, prefix: Prefix) -> io::Result<bool> {
    let mut file = File::open(path)?;
    let mut hash = xxhash_rust::xxh3::Xxh3::new();
    let mut left = prefix.bytes;
    let mut buffer = vec![0; 256 * 1024];
    while left > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let read = file.read(&mut buffer[..want])?;
        if read == 0 {
            return Ok(false);
        }
        hash.update(&buffer[..read]);
        left -= read as u64;
    }
    Ok(hash.digest() == prefix.hash)
}

/// Opens `path`, or stdin for `-`, recording what is read in `track`. Returns the reader and
/// the input's size when it is known.
pub fn open(
    path: &str,
    track: Arc<InputTrack>,
) -> Result<(Box<dyn BufRead + Send>, Option<u64>), InputError> {
    const BUFFER: usize = 256 * 1024;
    if path == "-" {
        let counted = Counted {
            inner: io::stdin(),
            track,
        };
        return Ok((Box::new(BufReader::with_capacity(BUFFER, counted)), None));
    }
    let file = File::open(path).map_err(|err| InputError(format!("cannot open {path}: {err}")))?;
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let counted = Counted { inner: file, track };
    Ok((Box::new(BufReader::with_capacity(BUFFER, counted)), size))
}

struct Counted<R> {
    inner: R,
    track: Arc<InputTrack>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.track.record(&buf[..n]);
        Ok(n)
    }
}

/// A reader of any format; CSV is kept apart so the bulk pipeline can write its rows straight
/// to JSON.
pub enum Records {
    Csv(Box<csv::CsvRecords>),
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
    mut reader: Box<dyn BufRead + Send>,
    typing: &Typing,
) -> Result<Records, InputError> {
    if let Some(encoding) = utf16(reader.fill_buf().unwrap_or_default()) {
        return Err(InputError(format!(
            "the input is {encoding}, not UTF-8: convert it first, e.g. iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8"
        )));
    }
    Ok(match format {
        InputFormat::Csv => Records::Csv(Box::new(csv::CsvRecords::new(reader, typing)?)),
        InputFormat::Json => Records::Json(json::JsonArrayRecords::new(reader)?),
        InputFormat::Ndjson => Records::Ndjson(json::NdjsonRecords::new(reader)),
    })
}

/// Names a UTF-16 input, by its byte-order mark or by the zero bytes that ASCII text has
/// beside every character in UTF-16.
fn utf16(start: &[u8]) -> Option<&'static str> {
    if start.starts_with(&[0xFF, 0xFE]) {
        return Some("UTF-16 (little-endian, with a byte-order mark)");
    }
    if start.starts_with(&[0xFE, 0xFF]) {
        return Some("UTF-16 (big-endian, with a byte-order mark)");
    }
    let head = &start[..start.len().min(64) & !1];
    if head.len() < 4 {
        return None;
    }
    let zeros = |parity: usize| head.iter().skip(parity).step_by(2).all(|&b| b == 0);
    let text = |parity: usize| head.iter().skip(parity).step_by(2).all(|&b| b != 0);
    if zeros(1) && text(0) {
        Some("UTF-16 (little-endian)")
    } else if zeros(0) && text(1) {
        Some("UTF-16 (big-endian)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(track: &Arc<InputTrack>, data: &[u8], piece: usize) {
        let mut counted = Counted {
            inner: data,
            track: track.clone(),
        };
        let mut buf = vec![0; piece];
        while counted.read(&mut buf).unwrap() > 0 {}
    }

    #[test]
    fn a_resumed_input_must_begin_with_the_bytes_the_journal_saw() {
        let original = b"sku,title\nA,1\nB,2\n";
        let first = Arc::new(InputTrack::expecting(None));
        read_all(&first, &original[..14], 5);
        let seen = first.prefix();
        assert_eq!(seen.bytes, 14);
        for (input, verdict) in [
            (&original[..], Verdict::Same),
            (&b"sku,title\nA,1\nB,2\nC,3\n"[..], Verdict::Same),
            (&b"sku,title\nX,1\nB,2\n"[..], Verdict::Different),
            (&b"sku,title\nA"[..], Verdict::Different),
        ] {
            for piece in [1, 3, 64] {
                let track = Arc::new(InputTrack::expecting(Some(seen)));
                read_all(&track, input, piece);
                assert_eq!(
                    track.verdict(),
                    verdict,
                    "{:?} in pieces of {piece}",
                    String::from_utf8_lossy(input)
                );
                assert_eq!(track.bytes_read(), input.len() as u64);
            }
        }
        let whole = Arc::new(InputTrack::expecting(None));
        read_all(&whole, original, 7);
        let again = Arc::new(InputTrack::expecting(None));
        read_all(&again, original, 2);
        assert_eq!(
            whole.prefix(),
            again.prefix(),
            "the hash does not depend on the pieces"
        );
    }

    #[test]
    fn utf16_is_named_and_utf8_is_not() {
        assert!(super::utf16(b"\xff\xfes\0k\0u\0").is_some());
        assert!(super::utf16(b"\xfe\xff\0s\0k").is_some());
        assert!(super::utf16(b"s\0k\0u\0,\0").unwrap().contains("little"));
        assert!(super::utf16(b"\0s\0k\0u\0,").unwrap().contains("big"));
        assert_eq!(super::utf16(b"sku,title\n"), None);
        assert_eq!(super::utf16("\u{feff}sku,é\n".as_bytes()), None);
        assert_eq!(super::utf16(b""), None);
    }
}
