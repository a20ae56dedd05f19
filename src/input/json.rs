//! JSON inputs, streamed: a top-level array is split into elements by a small scanner, so only
//! one element is in memory at a time; NDJSON is one object per line.

use std::io::BufRead;

use serde_json::Value;

use super::{InputError, Record, RowError, RowResult, Undecodable, MAX_RECORD_BYTES};

/// The elements of a top-level JSON array, one record each.
pub struct JsonArrayRecords {
    reader: Box<dyn BufRead + Send>,
    line: u64,
    /// Bytes since the last `\n`, so an error inside an element can name its column.
    column: u64,
    row: u64,
    element: Vec<u8>,
    /// The element being scanned grew past `MAX_RECORD_BYTES` and is no longer held.
    oversized: bool,
    /// The array's `]` has been read: only whitespace may follow.
    closed: bool,
    done: bool,
}

enum Scan {
    /// A `,` ended the element: more may follow.
    Comma,
    /// The array's `]` ended the element.
    Close,
    Eof,
}

impl JsonArrayRecords {
    pub fn new(reader: Box<dyn BufRead + Send>) -> Result<Self, InputError> {
        let mut records = JsonArrayRecords {
            reader,
            line: 1,
            column: 0,
            row: 0,
            element: Vec::new(),
            oversized: false,
            closed: false,
            done: false,
        };
        records.skip_bom();
        match records.skip_whitespace() {
            Some(b'[') => {
                records.advance(b'[');
                Ok(records)
            }
            Some(b'{') => Err(InputError(
                "the JSON input is an object, not an array of objects: wrap it in [ ] or use NDJSON (--format ndjson)".into(),
            )),
            Some(_) => Err(InputError(
                "the JSON input must be an array of objects (or use --format ndjson)".into(),
            )),
            None => Err(InputError("the JSON input is empty".into())),
        }
    }

    fn peek(&mut self) -> Option<u8> {
        match self.reader.fill_buf() {
            Ok(buf) => buf.first().copied(),
            Err(_) => None,
        }
    }

    fn skip_bom(&mut self) {
        if let Ok(buf) = self.reader.fill_buf() {
            if buf.starts_with(b"\xef\xbb\xbf") {
                self.reader.consume(3);
            }
        }
    }

    /// Consumes `byte`, the one `peek` returned, counting lines and columns.
    fn advance(&mut self, byte: u8) {
        self.reader.consume(1);
        if byte == b'\n' {
            self.line += 1;
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    /// Skips whitespace, counting lines, and returns the next byte without consuming it.
    fn skip_whitespace(&mut self) -> Option<u8> {
        loop {
            let byte = self.peek()?;
            if !matches!(byte, b'\n' | b' ' | b'\t' | b'\r') {
                return Some(byte);
            }
            self.advance(byte);
        }
    }

    /// Copies one element into `self.element`, up to the `,` or `]` that ends it.
    fn scan_element(&mut self) -> Scan {
        self.element.clear();
        self.oversized = false;
        let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
        loop {
            let Some(byte) = self.peek() else {
                return Scan::Eof;
            };
            self.advance(byte);
            if in_string {
                if escaped {
                    escaped = false;
                } else if byte == b'\\' {
                    escaped = true;
                } else if byte == b'"' {
                    in_string = false;
                }
                self.hold(byte);
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b']' if depth == 0 => return Scan::Close,
                b',' if depth == 0 => return Scan::Comma,
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.hold(byte);
        }
    }

    fn hold(&mut self, byte: u8) {
        if self.element.len() < MAX_RECORD_BYTES {
            self.element.push(byte);
        } else {
            self.oversized = true;
        }
    }
}

impl Iterator for JsonArrayRecords {
    type Item = RowResult;

    fn next(&mut self) -> Option<RowResult> {
        if self.done {
            return None;
        }
        if self.closed {
            self.done = true;
            return self.trailing_data();
        }
        match self.skip_whitespace() {
            // `[]`, or a trailing comma before `]` (accepted, as most JSON tools do).
            Some(b']') => {
                self.advance(b']');
                self.done = true;
                return self.trailing_data();
            }
            Some(_) => {}
            None => {
                self.done = true;
                return Some(Err(
                    self.error("the JSON array ends without its closing ]", Value::Null)
                ));
            }
        }
        let (line, column) = (self.line, self.column + 1);
        let ending = self.scan_element();
        self.row += 1;
        let result = match ending {
            Scan::Eof => {
                self.done = true;
                Err(RowError {
                    row: self.row,
                    line,
                    message: "the JSON input ends in the middle of this element".into(),
                    raw: Value::String(String::from_utf8_lossy(&self.element).into_owned()),
                    original: None,
                })
            }
            Scan::Close | Scan::Comma if self.oversized => {
                self.closed = matches!(ending, Scan::Close);
                Err(RowError {
                    row: self.row,
                    line,
                    message: too_large(),
                    raw: Value::Null,
                    original: None,
                })
            }
            Scan::Close | Scan::Comma => {
                // Bug fixed: after the last element's `]` the rest of the input was never
                // looked at, so a second array (`[..][..]`) or junk was silently dropped.
                self.closed = matches!(ending, Scan::Close);
                parse_object(&self.element, self.row, line, column)
            }
        };
        Some(result)
    }
}

impl JsonArrayRecords {
    fn error(&self, message: &str, raw: Value) -> RowError {
        RowError {
            row: self.row + 1,
            line: self.line,
            message: message.to_string(),
            raw,
            original: None,
        }
    }

    /// After the array's `]`: whitespace, or one error for whatever follows, which is not read.
    fn trailing_data(&mut self) -> Option<RowResult> {
        self.skip_whitespace()?;
        let start = self.reader.fill_buf().unwrap_or_default();
        let shown = &start[..start.len().min(80)];
        let shown = shown.split(|&b| b == b'\n').next().unwrap_or_default();
        let raw = Value::String(String::from_utf8_lossy(shown).trim_end().to_string());
        let message = format!(
            "unexpected data after the JSON array's closing ] (column {}): the rest of the input was not read (several arrays? use one array, or NDJSON)",
            self.column + 1
        );
        Some(Err(self.error(&message, raw)))
    }
}

/// NDJSON: one JSON object per line; blank lines are skipped.
pub struct NdjsonRecords {
    reader: Box<dyn BufRead + Send>,
    line: u64,
    row: u64,
    buf: Vec<u8>,
}

impl NdjsonRecords {
    pub fn new(reader: Box<dyn BufRead + Send>) -> Self {
        NdjsonRecords {
            reader,
            line: 0,
            row: 0,
            buf: Vec::new(),
        }
    }
}

impl Iterator for NdjsonRecords {
    type Item = RowResult;

    fn next(&mut self) -> Option<RowResult> {
        loop {
            self.buf.clear();
            match read_line_bounded(&mut self.reader, &mut self.buf) {
                Ok((0, _)) => return None,
                Ok((_, true)) => {
                    self.line += 1;
                    self.row += 1;
                    return Some(Err(RowError {
                        row: self.row,
                        line: self.line,
                        message: too_large(),
                        raw: Value::Null,
                        original: None,
                    }));
                }
                Ok(_) => {}
                Err(err) => {
                    self.row += 1;
                    return Some(Err(RowError {
                        row: self.row,
                        line: self.line + 1,
                        message: format!("cannot read the input: {err}"),
                        raw: Value::Null,
                        original: None,
                    }));
                }
            }
            self.line += 1;
            let text = if self.line == 1 {
                self.buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&self.buf)
            } else {
                &self.buf[..]
            };
            // Without its line end, an error at the end of the line is on this line.
            let text = text.strip_suffix(b"\n").unwrap_or(text);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.row += 1;
            return Some(parse_object(text, self.row, self.line, 1));
        }
    }
}

fn too_large() -> String {
    format!(
        "the record is larger than {} MiB, more than a request may carry (5 MiB); a missing bracket, quote or line end?",
        MAX_RECORD_BYTES / (1024 * 1024)
    )
}

/// Reads one line into `buf`, holding at most `MAX_RECORD_BYTES` of it. Returns the bytes
/// read and whether the line was longer than that.
fn read_line_bounded(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
) -> std::io::Result<(usize, bool)> {
    let (mut read, mut oversized) = (0, false);
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok((read, oversized));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(end) => (end + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_RECORD_BYTES.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        oversized |= take > room;
        reader.consume(take);
        read += take;
        if done {
            return Ok((read, oversized));
        }
    }
}

/// Parses one record's text, which starts on `line` at byte `column` of the input.
fn parse_object(bytes: &[u8], row: u64, line: u64, column: u64) -> RowResult {
    let raw = || Value::String(String::from_utf8_lossy(bytes).trim().to_string());
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(fields)) => Ok(Record { row, line, fields }),
        Ok(other) => Err(RowError {
            row,
            line,
            message: format!("expected a JSON object, got {}", kind(&other)),
            raw: other,
            original: None,
        }),
        Err(err) => Err(RowError {
            row,
            line,
            message: describe_error(&err, line, column),
            raw: raw(),
            original: std::str::from_utf8(bytes)
                .is_err()
                .then(|| Box::new(Undecodable(bytes.trim_ascii().to_vec()))),
        }),
    }
}

/// serde_json counts lines and columns from the start of the text it was given; the input's
/// own position is what finds the mistake in the file.
fn describe_error(err: &serde_json::Error, line: u64, column: u64) -> String {
    let text = err.to_string();
    if err.line() == 0 {
        return format!("invalid JSON: {text}");
    }
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let what = text.strip_suffix(&suffix).unwrap_or(&text);
    let (at_line, at_column) = if err.line() == 1 {
        (line, column - 1 + err.column() as u64)
    } else {
        (line + err.line() as u64 - 1, err.column() as u64)
    };
    format!("invalid JSON at line {at_line} column {at_column}: {what}")
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn boxed(text: &str) -> Box<dyn BufRead + Send> {
        Box::new(std::io::Cursor::new(text.as_bytes().to_vec()))
    }

    fn array(text: &str) -> Vec<RowResult> {
        JsonArrayRecords::new(boxed(text)).unwrap().collect()
    }

    #[test]
    fn array_elements_stream_with_rows_and_lines() {
        let rows = array("[\n  {\"sku\": \"A\", \"t\": \"a, ]} \\\" b\"},\n  {\"sku\": \"B\", \"n\": [1, {\"x\": 2}]}\n]\n");
        assert_eq!(rows.len(), 2);
        let first = rows[0].as_ref().unwrap();
        assert_eq!((first.row, first.line), (1, 2));
        assert_eq!(first.fields["t"], json!("a, ]} \" b"));
        let second = rows[1].as_ref().unwrap();
        assert_eq!((second.row, second.line), (2, 3));
        assert_eq!(second.fields["n"], json!([1, {"x": 2}]));
        assert!(array("[]").is_empty());
        assert!(array(" [ ] ").is_empty());
    }

    #[test]
    fn a_bad_element_is_rejected_and_the_rest_goes_on() {
        let rows = array("[{\"a\":1}, 42, {\"a\": nope}, {\"a\":3}]");
        assert_eq!(rows.len(), 4);
        assert!(rows[1]
            .as_ref()
            .unwrap_err()
            .message
            .contains("got a number"));
        assert!(rows[2]
            .as_ref()
            .unwrap_err()
            .message
            .contains("invalid JSON"));
        assert_eq!(rows[3].as_ref().unwrap().fields["a"], json!(3));
    }

    #[test]
    fn a_truncated_array_is_reported() {
        let rows = array("[{\"a\":1},\n{\"a\":");
        assert_eq!(rows.len(), 2);
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!((err.row, err.line), (2, 2));
        assert!(
            err.message.contains("ends in the middle"),
            "{}",
            err.message
        );
        let rows = array("[{\"a\":1},");
        assert!(rows[1].as_ref().unwrap_err().message.contains("closing ]"));
    }

    #[test]
    fn data_after_the_array_is_reported_not_dropped() {
        // Bug: after the last element's `]` nothing more was read, so a second array or junk
        // after the first was silently ignored (exit 0, its rows never sent).
        let rows = array("[{\"a\":1},\n {\"a\":2}]\n[{\"a\":3}]\n");
        assert_eq!(rows.len(), 3);
        assert!(rows[1].is_ok());
        let err = rows[2].as_ref().unwrap_err();
        assert_eq!((err.row, err.line), (3, 3));
        assert!(
            err.message
                .contains("after the JSON array's closing ] (column 1)"),
            "{}",
            err.message
        );
        assert_eq!(err.raw, json!("[{\"a\":3}]"));
        let rows = array("[{\"a\":1}] x");
        assert_eq!(rows.len(), 2);
        assert!(rows[1].as_ref().unwrap_err().message.contains("column 11"));
        assert_eq!(array("[{\"a\":1}]  \n\n").len(), 1);
        assert_eq!(array("[{\"a\":1},]\n").len(), 1);
    }

    #[test]
    fn json_errors_name_the_line_and_column_of_the_input() {
        // Bug: serde_json's position counts from the record's own text, so an NDJSON line cut
        // short on line 5 said "at line 2 column 0", and an element on line 3 "at line 1".
        let rows: Vec<_> =
            NdjsonRecords::new(boxed("{\"a\":1}\n\n\n\n{\"a\":\r\n{\"a\":1}{\"b\":2}\n")).collect();
        let cut = rows[1].as_ref().unwrap_err();
        assert_eq!((cut.row, cut.line), (2, 5));
        assert_eq!(
            cut.message,
            "invalid JSON at line 5 column 5: EOF while parsing a value"
        );
        let two = rows[2].as_ref().unwrap_err();
        assert_eq!(
            two.message,
            "invalid JSON at line 6 column 8: trailing characters"
        );
        let rows = array("[\n  {\"a\": 1},   {\"a\": nope},\n  {\n    \"a\": [1,\n    2 3]}\n]");
        let nope = rows[1].as_ref().unwrap_err();
        assert_eq!((nope.row, nope.line), (2, 2));
        assert_eq!(
            nope.message,
            "invalid JSON at line 2 column 22: expected ident"
        );
        let nested = rows[2].as_ref().unwrap_err();
        assert_eq!((nested.row, nested.line), (3, 3));
        assert_eq!(
            nested.message,
            "invalid JSON at line 5 column 7: expected `,` or `]`"
        );
    }

    #[test]
    fn not_an_array_is_fatal() {
        assert!(JsonArrayRecords::new(boxed("{\"a\":1}")).is_err());
        assert!(JsonArrayRecords::new(boxed("")).is_err());
        assert!(JsonArrayRecords::new(boxed("\u{feff}[]")).is_ok());
    }

    #[test]
    fn an_unclosed_element_or_endless_line_is_not_held_whole() {
        let huge = "x".repeat(MAX_RECORD_BYTES + 10);
        let text = format!("[{{\"a\":1}}, {{\"big\":\"{huge}\"}}, {{\"a\":3}}]");
        let rows = array(&text);
        assert_eq!(rows.len(), 3);
        assert!(rows[1]
            .as_ref()
            .unwrap_err()
            .message
            .contains("larger than 8 MiB"));
        assert_eq!(rows[2].as_ref().unwrap().fields["a"], json!(3));

        let text = format!("{{\"a\":1}}\n{{\"big\":\"{huge}\"}}\n{{\"a\":3}}\n");
        let rows: Vec<_> = NdjsonRecords::new(boxed(&text)).collect();
        assert_eq!(rows.len(), 3);
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!((err.row, err.line), (2, 2));
        assert!(err.message.contains("larger than 8 MiB"), "{}", err.message);
        assert_eq!(rows[2].as_ref().unwrap().line, 3);
    }

    #[test]
    fn ndjson_lines_with_blank_lines_and_bad_lines() {
        let rows: Vec<_> =
            NdjsonRecords::new(boxed("{\"a\":1}\n\n[1]\n{\"a\":\n{\"a\":4}")).collect();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].as_ref().unwrap().line, 1);
        let not_object = rows[1].as_ref().unwrap_err();
        assert_eq!((not_object.row, not_object.line), (2, 3));
        assert!(rows[2]
            .as_ref()
            .unwrap_err()
            .message
            .contains("invalid JSON"));
        let last = rows[3].as_ref().unwrap();
        assert_eq!((last.row, last.line), (4, 5));
    }
}
