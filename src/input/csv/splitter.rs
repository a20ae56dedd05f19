//! Splits CSV input into records. Nearly every product row is a line with no quote and no
//! carriage return inside it, and such a line is just its text cut at the commas: that is done
//! here with memchr, several times faster than a byte-by-byte parser. Any other line (quotes,
//! a field running over lines, a bare `\r`) goes to csv-core, the parser inside the csv crate,
//! so the records are exactly the csv crate's (a property test holds them equal).

use std::io::{self, Read};
use std::ops::Range;

use csv_core::ReadRecordResult;

const BOM: &[u8] = b"\xef\xbb\xbf";

pub struct CsvSplitter<R> {
    input: R,
    /// The unread input is `buffer[start..end]`.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    at_beginning: bool,
    /// The line of `buffer[start]`.
    line: u64,
    /// Boxed: its transition table is most of a kilobyte.
    core: Box<csv_core::Reader>,
    /// csv-core's output: field bytes one after another, and where each ends.
    core_bytes: Vec<u8>,
    core_ends: Vec<usize>,
    /// The current record: a line of `buffer` (read in place), or csv-core's output.
    source: Source,
    /// The current record's fields, as ranges of its bytes.
    fields: Vec<Range<usize>>,
    /// Bytes of the current line already searched for its end, from `start`: a long line read
    /// from a pipe in small pieces is searched once, not again after each piece.
    scanned: usize,
    /// Records longer than this are passed over, not held (`oversized`).
    max_record: usize,
    /// The current record was over `max_record`: its size in bytes, and the lines it spans.
    oversized: Option<Oversized>,
}

/// A record too large to hold: read past, not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Oversized {
    pub bytes: u64,
    pub lines: u64,
}

#[derive(Clone, Copy)]
enum Source {
    Buffer { start: usize, end: usize },
    Core { len: usize },
}

/// A record as read: its bytes and where each field is in them. Valid until the next read.
#[derive(Clone, Copy)]
pub struct Record<'a> {
    bytes: &'a [u8],
    fields: &'a [Range<usize>],
    /// `bytes` is the line as it is in the input (not csv-core's unquoted output).
    in_place: bool,
}

impl<'a> Record<'a> {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        self.fields
            .get(index)
            .map(|range| &self.bytes[range.clone()])
    }

    /// Where field `index` is in `as_slice()`.
    pub fn range(&self, index: usize) -> Option<Range<usize>> {
        self.fields.get(index).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let bytes = self.bytes;
        self.fields.iter().map(move |range| &bytes[range.clone()])
    }

    /// The bytes the fields are in (with the delimiters between them when read in place).
    pub fn as_slice(&self) -> &'a [u8] {
        self.bytes
    }

    /// The record as one CSV line without its line break: as it was in the input when it was
    /// read in place, else with each field quoted where it needs to be.
    pub fn to_csv_line(self) -> Vec<u8> {
        if self.in_place {
            return self.bytes.to_vec();
        }
        let mut line = Vec::with_capacity(self.bytes.len() + self.fields.len() * 3);
        for (index, field) in self.iter().enumerate() {
            if index > 0 {
                line.push(b',');
            }
            if field
                .iter()
                .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
            {
                line.push(b'"');
                for &byte in field {
                    if byte == b'"' {
                        line.push(b'"');
                    }
                    line.push(byte);
                }
                line.push(b'"');
            } else {
                line.extend_from_slice(field);
            }
        }
        line
    }
}

impl<R: Read> CsvSplitter<R> {
    pub fn new(input: R) -> Self {
        Self::with_capacity(input, 1024 * 1024)
    }

    pub fn with_capacity(input: R, capacity: usize) -> Self {
        let mut core = Box::new(csv_core::Reader::new());
        // csv-core strips a byte-order mark from the first input it is given; that must be the
        // file's start (handled here), not the first quoted line it is handed later.
        let _ = core.read_record(b"\n", &mut [0; 1], &mut [0; 1]);
        CsvSplitter {
            input,
            buffer: vec![0; capacity.max(1)],
            start: 0,
            end: 0,
            eof: false,
            at_beginning: true,
            line: 1,
            core,
            core_bytes: vec![0; 1024],
            core_ends: vec![0; 64],
            source: Source::Core { len: 0 },
            fields: Vec::new(),
            scanned: 0,
            max_record: crate::input::MAX_RECORD_BYTES,
            oversized: None,
        }
    }

    #[cfg(test)]
    fn with_max_record(mut self, max: usize) -> Self {
        self.max_record = max;
        self
    }

    /// Whether the last record read was too large to hold (its record is then empty).
    pub fn oversized(&self) -> Option<Oversized> {
        self.oversized
    }

    /// The record the last `read` found.
    pub fn record(&self) -> Record<'_> {
        let (bytes, in_place) = match self.source {
            Source::Buffer { start, end } => (&self.buffer[start..end], true),
            Source::Core { len } => (&self.core_bytes[..len], false),
        };
        Record {
            bytes,
            fields: &self.fields,
            in_place,
        }
    }

    /// Reads the next record (see `record`); the line its first byte is on, or None at the
    /// end. Blank lines are skipped, as the csv crate does.
    pub fn read(&mut self) -> io::Result<Option<u64>> {
        if self.at_beginning {
            self.at_beginning = false;
            self.skip_bom()?;
        }
        self.oversized = None;
        self.scanned = 0;
        loop {
            // Line breaks before a record are not part of it.
            while self.start < self.end && matches!(self.buffer[self.start], b'\n' | b'\r') {
                self.line += u64::from(self.buffer[self.start] == b'\n');
                self.start += 1;
            }
            if self.start == self.end {
                if self.eof {
                    return Ok(None);
                }
                self.fill()?;
                continue;
            }
            let window = &self.buffer[self.start..self.end];
            let line_len = match memchr::memchr(b'\n', &window[self.scanned..]) {
                Some(index) => self.scanned + index + 1,
                None if self.eof => window.len(),
                None => {
                    self.scanned = window.len();
                    if window.len() > self.max_record {
                        return if memchr::memchr(b'"', window).is_some() {
                            // A quoted field may hold line breaks: csv-core finds the end.
                            self.read_with_core()
                        } else {
                            self.pass_over_line()
                        };
                    }
                    self.fill()?;
                    continue;
                }
            };
            let text = &window[..line_len];
            let text = text.strip_suffix(b"\n").unwrap_or(text);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if memchr::memchr2(b'"', b'\r', text).is_some() {
                return self.read_with_core();
            }
            // Read in place: the line stays in the buffer until the next read refills it.
            self.fields.clear();
            let mut field_start = 0;
            for comma in memchr::memchr_iter(b',', text) {
                self.fields.push(field_start..comma);
                field_start = comma + 1;
            }
            self.fields.push(field_start..text.len());
            self.source = Source::Buffer {
                start: self.start,
                end: self.start + text.len(),
            };
            let line = self.line;
            self.start += line_len;
            self.line += 1;
            return Ok(Some(line));
        }
    }

    /// Reads past the rest of an unquoted line too long to hold, keeping none of it.
    fn pass_over_line(&mut self) -> io::Result<Option<u64>> {
        let line = self.line;
        let mut bytes = 0u64;
        loop {
            let window = &self.buffer[self.start..self.end];
            if let Some(index) = memchr::memchr(b'\n', window) {
                bytes += index as u64;
                self.start += index + 1;
                break;
            }
            bytes += window.len() as u64;
            self.start = self.end;
            if self.eof {
                break;
            }
            self.fill()?;
        }
        self.line += 1;
        self.pass_over(bytes, 1);
        Ok(Some(line))
    }

    fn pass_over(&mut self, bytes: u64, lines: u64) {
        self.oversized = Some(Oversized { bytes, lines });
        self.fields.clear();
        self.source = Source::Core { len: 0 };
    }

    /// The line of the next unread byte.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// A record csv-core parses: it may run over many lines and buffer refills.
    fn read_with_core(&mut self) -> io::Result<Option<u64>> {
        let line = self.line;
        let (mut written, mut fields) = (0, 0);
        // Past `max_record` bytes the output is dropped as it comes, so memory stays flat.
        let mut dropped = 0u64;
        loop {
            if written > self.max_record || fields > self.max_record / 2 {
                dropped += written as u64;
                written = 0;
                fields = 0;
            }
            let input = &self.buffer[self.start..self.end];
            let (result, read, wrote, ended) = self.core.read_record(
                input,
                &mut self.core_bytes[written..],
                &mut self.core_ends[fields..],
            );
            self.line += memchr::memchr_iter(b'\n', &input[..read]).count() as u64;
            self.start += read;
            written += wrote;
            fields += ended;
            match result {
                ReadRecordResult::InputEmpty => {
                    if input.is_empty() && self.eof {
                        // csv-core has had its final, empty input: nothing more will come.
                        return Ok(None);
                    }
                    self.fill()?;
                }
                ReadRecordResult::OutputFull => {
                    let grown = self.core_bytes.len() * 2;
                    self.core_bytes.resize(grown, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let grown = self.core_ends.len() * 2;
                    self.core_ends.resize(grown, 0);
                }
                ReadRecordResult::Record if dropped > 0 => {
                    self.pass_over(dropped + written as u64, self.line - line);
                    return Ok(Some(line));
                }
                ReadRecordResult::Record => {
                    self.fields.clear();
                    let mut field_start = 0;
                    for &field_end in &self.core_ends[..fields] {
                        self.fields.push(field_start..field_end);
                        field_start = field_end;
                    }
                    self.source = Source::Core { len: written };
                    return Ok(Some(line));
                }
                ReadRecordResult::End if dropped > 0 => {
                    self.pass_over(dropped + written as u64, self.line - line);
                    return Ok(Some(line));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }

    /// Reads more input after what is unread, moving that to the front (or growing the buffer
    /// when it is all one unfinished line). At the end of the input, sets `eof`.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            let grown = self.buffer.len() * 2;
            self.buffer.resize(grown, 0);
        }
        let read = loop {
            match self.input.read(&mut self.buffer[self.end..]) {
                Ok(read) => break read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        };
        self.end += read;
        self.eof = read == 0;
        Ok(())
    }

    /// A byte-order mark at the start of the input is not part of the first field.
    fn skip_bom(&mut self) -> io::Result<()> {
        while self.end < BOM.len() && !self.eof {
            self.fill()?;
        }
        if self.buffer[..self.end].starts_with(BOM) {
            self.start = BOM.len();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &[u8], capacity: usize) -> Vec<(u64, Vec<String>)> {
        let mut reader = CsvSplitter::with_capacity(input, capacity);
        let mut out = Vec::new();
        while let Some(line) = reader.read().unwrap() {
            let fields = reader
                .record()
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            out.push((line, fields));
        }
        out
    }

    #[test]
    fn plain_lines_quoted_fields_and_blank_lines() {
        let input =
            b"\xef\xbb\xbfsku,title\r\nA,\"Shoe, \"\"Pro\"\"\"\n\n\nB,\"two\nlines\"\r\nC,\n";
        for capacity in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(
                records(input, capacity),
                [
                    (1, vec!["sku".into(), "title".into()]),
                    (2, vec!["A".into(), "Shoe, \"Pro\"".into()]),
                    (5, vec!["B".into(), "two\nlines".into()]),
                    (7, vec!["C".into(), "".into()]),
                ],
                "capacity {capacity}"
            );
        }
    }

    /// A reader that hands out at most `piece` bytes a call, as a pipe does.
    struct Trickle<'a> {
        data: &'a [u8],
        piece: usize,
        calls: std::rc::Rc<std::cell::Cell<u64>>,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls.set(self.calls.get() + 1);
            let n = self.data.len().min(self.piece).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_record_over_the_limit_is_passed_over_and_the_next_one_read() {
        for long in [
            format!("big,{}\n", "x".repeat(5000)),
            format!("big,\"{}\"\n", "y\n".repeat(2500)),
            format!("big,\"{}\"\n", "z".repeat(5000)),
        ] {
            let input = format!("a,b\n{long}c,d\n");
            let mut reader = CsvSplitter::with_capacity(input.as_bytes(), 64).with_max_record(1000);
            assert_eq!(reader.read().unwrap(), Some(1));
            assert_eq!(reader.oversized(), None);
            assert_eq!(reader.read().unwrap(), Some(2));
            let over = reader.oversized().expect("the long record is passed over");
            assert!(over.bytes > 1000, "{over:?}");
            assert_eq!(reader.record().len(), 0);
            let lines = long.matches('\n').count() as u64;
            assert_eq!(over.lines, lines);
            assert_eq!(reader.read().unwrap(), Some(2 + lines));
            assert_eq!(reader.record().get(0), Some(&b"c"[..]));
            assert_eq!(reader.oversized(), None);
            assert!(
                reader.buffer.len() <= 4096,
                "the buffer stayed small: {}",
                reader.buffer.len()
            );
        }
    }

    #[test]
    fn a_long_line_from_a_pipe_is_searched_once() {
        // 4 MiB in 4 KiB pieces: with the line searched again after each piece this is
        // about 2 TB of scanning; searched once, 4 MiB.
        let line = format!("{}\n", "x".repeat(4 << 20));
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let trickle = Trickle {
            data: line.as_bytes(),
            piece: 4096,
            calls: calls.clone(),
        };
        let started = std::time::Instant::now();
        let mut reader = CsvSplitter::with_capacity(trickle, 4096);
        assert_eq!(reader.read().unwrap(), Some(1));
        assert_eq!(reader.record().get(0).map(<[u8]>::len), Some(4 << 20));
        assert!(calls.get() > 1000);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn the_last_line_needs_no_line_break_and_an_unclosed_quote_runs_to_the_end() {
        assert_eq!(
            records(b"a,b\nc,d", 4),
            [
                (1, vec!["a".into(), "b".into()]),
                (2, vec!["c".into(), "d".into()])
            ]
        );
        assert_eq!(
            records(b"a\n\"open,x\ny\n", 4),
            [(1, vec!["a".into()]), (2, vec!["open,x\ny\n".into()])]
        );
        assert!(records(b"", 4).is_empty());
        assert!(records(b"\xef\xbb\xbf", 4).is_empty());
    }
}
