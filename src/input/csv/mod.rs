//! CSV records: the header names the fields (with optional `name:type` hints), cells are
//! strings unless typed, and one `ByteRecord` is reused for every row.

mod splitter;

use std::io::BufRead;
use std::ops::Range;

use serde_json::{Map, Value};

use super::typed::{split_type_hint, ValueType};
use super::{EmptyCells, InputError, Record, RowError, RowResult, Typing, Undecodable};
pub use splitter::CsvSplitter;

struct Column {
    name: String,
    kind: ValueType,
    /// `"name":`, escaped once, for writing rows straight to JSON.
    json_key: Vec<u8>,
}

pub struct CsvRecords {
    reader: CsvSplitter<Box<dyn BufRead + Send>>,
    columns: Vec<Column>,
    array_sep: String,
    empty: EmptyCells,
    row: u64,
    done: bool,
}

impl CsvRecords {
    pub fn new(reader: Box<dyn BufRead + Send>, typing: &Typing) -> Result<Self, InputError> {
        let mut reader = CsvSplitter::new(reader);
        match reader.read() {
            Ok(Some(_)) => {}
            Ok(None) => return Err(InputError("the CSV input is empty: no header row".into())),
            Err(err) => return Err(InputError(format!("cannot read the CSV header: {err}"))),
        }
        if let Some(over) = reader.oversized() {
            return Err(InputError(format!(
                "the CSV header is {} bytes, over the {} MiB a row may hold: is this a CSV file?",
                over.bytes,
                crate::input::MAX_RECORD_BYTES >> 20
            )));
        }
        let header = reader.record();
        let mut columns: Vec<Column> = Vec::with_capacity(header.len());
        for (index, raw) in header.iter().enumerate() {
            let text = std::str::from_utf8(raw).map_err(|_| {
                InputError(format!(
                    "CSV header column {} is not valid UTF-8",
                    index + 1
                ))
            })?;
            let (name, hint) = split_type_hint(text.trim())
                .map_err(|err| InputError(format!("CSV header '{text}': {err}")))?;
            if name.is_empty() {
                return Err(InputError(format!(
                    "CSV header column {} has no name",
                    index + 1
                )));
            }
            if columns.iter().any(|c| c.name == name) {
                return Err(InputError(format!(
                    "CSV header names column '{name}' twice"
                )));
            }
            let kind = typing
                .types
                .get(name)
                .copied()
                .or(hint)
                .unwrap_or(ValueType::String);
            let mut json_key = Vec::with_capacity(name.len() + 3);
            crate::json_writer::write_str(name, &mut json_key);
            json_key.push(b':');
            columns.push(Column {
                name: name.to_string(),
                kind,
                json_key,
            });
        }
        if let Some(unknown) = typing
            .types
            .keys()
            .find(|name| !columns.iter().any(|c| &c.name == *name))
        {
            return Err(InputError(format!(
                "--type names column '{unknown}', which the CSV header does not have"
            )));
        }
        Ok(CsvRecords {
            reader,
            columns,
            array_sep: typing.array_sep.clone(),
            empty: typing.empty,
            row: 0,
            done: false,
        })
    }

    /// The row as strings, for the rejects file when it cannot be typed.
    fn raw(&self) -> Value {
        let mut raw = Map::new();
        for (index, cell) in self.reader.record().iter().enumerate() {
            let key = self
                .columns
                .get(index)
                .map_or_else(|| format!("_{}", index + 1), |c| c.name.clone());
            raw.insert(
                key,
                Value::String(String::from_utf8_lossy(cell).into_owned()),
            );
        }
        Value::Object(raw)
    }

    /// The row as a CSV line, when its bytes are not valid UTF-8.
    fn original(&self) -> Option<Box<Undecodable>> {
        let record = self.reader.record();
        record
            .iter()
            .any(|cell| std::str::from_utf8(cell).is_err())
            .then(|| Box::new(Undecodable(record.to_csv_line())))
    }

    fn typed(&self, line: u64) -> Result<Map<String, Value>, String> {
        self.check_width(line)?;
        let mut fields = Map::with_capacity(self.columns.len());
        for (column, cell) in self.columns.iter().zip(self.reader.record().iter()) {
            let text = std::str::from_utf8(cell)
                .map_err(|_| format!("column {}: not valid UTF-8", column.name))?;
            if text.is_empty() {
                if self.empty == EmptyCells::Null {
                    fields.insert(column.name.clone(), Value::Null);
                }
                continue;
            }
            let value = column
                .kind
                .coerce(text, &self.array_sep)
                .map_err(|err| format!("column {}: {err}", column.name))?;
            fields.insert(column.name.clone(), value);
        }
        Ok(fields)
    }

    /// The current row as a JSON object in `out`: the bytes `typed` and `json::write` give,
    /// without building a map (the bulk pipeline's fast path for CSV).
    fn write_json(&self, line: u64, out: &mut Vec<u8>) -> Result<(), String> {
        self.check_width(line)?;
        // UTF-8 and escapes are checked once for the whole record rather than per cell (the
        // per-cell calls cost more than the scans), and an ASCII record needs no UTF-8 check.
        let record = self.reader.record();
        let bytes = record.as_slice();
        let scan = crate::json_writer::scan(bytes);
        let whole = if scan.ascii {
            None
        } else {
            std::str::from_utf8(bytes).ok()
        };
        // A cell is valid UTF-8 exactly when the record is and the cell starts and ends on
        // character boundaries.
        let checked_text = |range: Range<usize>, column: &Column| match whole
            .and_then(|record| record.get(range.clone()))
        {
            Some(text) => Ok(text),
            None => std::str::from_utf8(&bytes[range])
                .map_err(|_| format!("column {}: not valid UTF-8", column.name)),
        };
        out.push(b'{');
        let mut first = true;
        for (index, column) in self.columns.iter().enumerate() {
            let range = record.range(index).unwrap_or_default();
            let cell = &bytes[range.clone()];
            let checked = if scan.ascii {
                None
            } else {
                Some(checked_text(range.clone(), column)?)
            };
            if cell.is_empty() && self.empty == EmptyCells::Omit {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&column.json_key);
            let cell_text = || match checked {
                Some(text) => Ok(text),
                None => checked_text(range, column),
            };
            write_cell(
                column,
                cell,
                !scan.needs_escape,
                cell_text,
                &self.array_sep,
                out,
            )?;
        }
        out.push(b'}');
        Ok(())
    }

    /// The header's column names, type hints taken off.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The position and type of a column, for the fast path's checks.
    pub fn column(&self, name: &str) -> Option<(usize, ValueType)> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .map(|index| (index, self.columns[index].kind))
    }

    /// The current row's cell at `index`, unquoted.
    pub fn cell(&self, index: usize) -> Option<&[u8]> {
        self.reader.record().get(index)
    }

    /// Whether the current row's cell at `index` is empty (or missing).
    pub fn cell_is_empty(&self, index: usize) -> bool {
        self.reader.record().get(index).is_none_or(<[u8]>::is_empty)
    }

    /// The next row written as a JSON object into `out`, with its row and line numbers.
    pub fn next_json(&mut self, out: &mut Vec<u8>) -> Option<Result<(u64, u64), RowError>> {
        let line = match self.read_next()? {
            Ok(line) => line,
            Err(error) => return Some(Err(error)),
        };
        Some(match self.write_json(line, out) {
            Ok(()) => Ok((self.row, line)),
            Err(message) => Err(RowError {
                row: self.row,
                line,
                message,
                raw: self.raw(),
                original: self.original(),
            }),
        })
    }

    fn check_width(&self, line: u64) -> Result<(), String> {
        if self.reader.record().len() != self.columns.len() {
            let mut message = format!(
                "the row has {} fields, the header has {}",
                self.reader.record().len(),
                self.columns.len()
            );
            // A quote that is never closed runs on to the end of the input as one field.
            let bytes = self.reader.record().as_slice();
            let end = bytes
                .iter()
                .rposition(|&b| b != b'\n' && b != b'\r')
                .map_or(0, |i| i + 1);
            let breaks = bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64;
            if breaks > 0 {
                message.push_str(&format!(
                    "; a quoted field runs from line {line} to line {}: is a closing quote missing?",
                    line + breaks
                ));
            }
            return Err(message);
        }
        Ok(())
    }
}

/// Why a row too large to hold was passed over, and where it runs.
fn oversized_message(over: splitter::Oversized, line: u64) -> String {
    let mut message = format!(
        "the row is {} bytes, over the {} MiB a row may hold; it was read past, not sent",
        over.bytes,
        crate::input::MAX_RECORD_BYTES >> 20
    );
    if over.lines > 1 {
        message.push_str(&format!(
            " (it runs from line {line} to line {}: is a closing quote missing?)",
            line + over.lines - 1
        ));
    }
    message
}

/// One cell's JSON value; `text` gives the cell as checked UTF-8, asked for only when needed.
fn write_cell<'a>(
    column: &Column,
    cell: &[u8],
    plain: bool,
    text: impl FnOnce() -> Result<&'a str, String>,
    array_sep: &str,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if cell.is_empty() {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    let number = match column.kind {
        ValueType::String if plain => {
            crate::json_writer::write_plain(cell, out);
            return Ok(());
        }
        ValueType::String => {
            crate::json_writer::write_str(text()?, out);
            return Ok(());
        }
        ValueType::Number => crate::json_writer::number_as_written(cell, false),
        ValueType::Integer => crate::json_writer::number_as_written(cell, true),
        _ => None,
    };
    match number {
        Some(number) => out.extend_from_slice(number),
        None => {
            let value = column
                .kind
                .coerce(text()?, array_sep)
                .map_err(|err| format!("column {}: {err}", column.name))?;
            crate::json_writer::write(&value, out);
        }
    }
    Ok(())
}

impl Iterator for CsvRecords {
    type Item = RowResult;

    fn next(&mut self) -> Option<RowResult> {
        let line = match self.read_next()? {
            Ok(line) => line,
            Err(error) => return Some(Err(error)),
        };
        Some(match self.typed(line) {
            Ok(fields) => Ok(Record {
                row: self.row,
                line,
                fields,
            }),
            Err(message) => Err(RowError {
                row: self.row,
                line,
                message,
                raw: self.raw(),
                original: self.original(),
            }),
        })
    }
}

impl CsvRecords {
    /// Reads the next record into `self.record`; its line, or the error if it is unreadable.
    fn read_next(&mut self) -> Option<Result<u64, RowError>> {
        if self.done {
            return None;
        }
        match self.reader.read() {
            Ok(None) => {
                self.done = true;
                None
            }
            Ok(Some(line)) => {
                self.row += 1;
                match self.reader.oversized() {
                    None => Some(Ok(line)),
                    Some(over) => Some(Err(RowError {
                        row: self.row,
                        line,
                        message: oversized_message(over, line),
                        raw: Value::Null,
                        original: None,
                    })),
                }
            }
            Err(err) => {
                // An I/O error ends the input: what follows cannot be trusted to line up.
                self.row += 1;
                self.done = true;
                Some(Err(RowError {
                    row: self.row,
                    line: self.reader.line(),
                    message: format!("unreadable CSV: {err}"),
                    raw: Value::Null,
                    original: None,
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::{self, Read};

    fn read(text: &str, typing: &Typing) -> Vec<RowResult> {
        let reader: Box<dyn BufRead + Send> =
            Box::new(std::io::Cursor::new(text.to_string().into_bytes()));
        CsvRecords::new(reader, typing).unwrap().collect()
    }

    #[test]
    fn cells_are_strings_unless_typed() {
        let rows = read(
            "\u{feff}sku,price:number,tags:array,active\n00123,9.5,a|b,true\n",
            &Typing::default(),
        );
        let record = rows[0].as_ref().unwrap();
        assert_eq!(
            Value::Object(record.fields.clone()),
            json!({"sku": "00123", "price": 9.5, "tags": ["a", "b"], "active": "true"})
        );
        assert_eq!((record.row, record.line), (1, 2));
    }

    #[test]
    fn type_flags_win_over_hints_and_empty_cells_follow_the_policy() {
        let typing = Typing {
            types: [("price".to_string(), ValueType::String)]
                .into_iter()
                .collect(),
            empty: EmptyCells::Null,
            ..Typing::default()
        };
        let rows = read("sku,price:number,note\nA,9.5,\n", &typing);
        let fields = &rows[0].as_ref().unwrap().fields;
        assert_eq!(
            Value::Object(fields.clone()),
            json!({"sku": "A", "price": "9.5", "note": null})
        );
        let omitted = read("sku,note\nA,\n", &Typing::default());
        assert_eq!(
            Value::Object(omitted[0].as_ref().unwrap().fields.clone()),
            json!({"sku": "A"})
        );
    }

    #[test]
    fn bad_rows_are_reported_with_row_and_line_and_the_rest_goes_on() {
        let rows = read(
            "sku,price:number\nA,1\nB,cheap\n\"multi\nline\",2\nC\nD,4\n",
            &Typing::default(),
        );
        assert_eq!(rows.len(), 5);
        let bad = rows[1].as_ref().unwrap_err();
        assert_eq!((bad.row, bad.line), (2, 3));
        assert!(
            bad.message
                .contains("column price: 'cheap' is not a number"),
            "{}",
            bad.message
        );
        assert_eq!(bad.raw, json!({"sku": "B", "price": "cheap"}));
        let multiline = rows[2].as_ref().unwrap();
        assert_eq!((multiline.row, multiline.line), (3, 4));
        let ragged = rows[3].as_ref().unwrap_err();
        assert_eq!((ragged.row, ragged.line), (4, 6));
        assert!(
            ragged.message.contains("1 fields, the header has 2"),
            "{}",
            ragged.message
        );
        assert_eq!(rows[4].as_ref().unwrap().line, 7);
    }

    /// A reader that hands out one byte per read, so line breaks straddle every buffer edge.
    struct Trickle(std::io::Cursor<Vec<u8>>);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let end = buf.len().min(1);
            self.0.read(&mut buf[..end])
        }
    }

    fn lines(rows: &[RowResult]) -> Vec<(u64, u64)> {
        rows.iter()
            .map(|r| match r {
                Ok(record) => (record.row, record.line),
                Err(error) => (error.row, error.line),
            })
            .collect()
    }

    #[test]
    fn rows_keep_their_lines_after_crlf_and_blank_lines() {
        // Bug: the csv crate starts a record where the previous one ended, so after a CRLF
        // (its `\n` not yet read) and after blank lines every line was too small.
        let text = "sku,price:number\r\nA,1\r\nB,x\r\n\r\n\r\n\"C\r\nc\",3\r\nD,y\r\n";
        let rows = read(text, &Typing::default());
        assert_eq!(lines(&rows), [(1, 2), (2, 3), (3, 6), (4, 8)]);
        let text = "\n\nsku,price:number\nA,1\n\nB,x\n\n\n\nC,3";
        let rows = read(text, &Typing::default());
        assert_eq!(lines(&rows), [(1, 4), (2, 6), (3, 10)]);
        for text in [
            "sku\r\nA\r\n\r\n\"B\nb\"\r\nC\n\rD\r\n",
            "\u{feff}sku\r\nA\r\n\r\n\"B\nb\"\r\nC\n\rD\r\n",
        ] {
            let whole = read(text, &Typing::default());
            let reader: Box<dyn BufRead + Send> = Box::new(std::io::BufReader::with_capacity(
                1,
                Trickle(std::io::Cursor::new(text.as_bytes().to_vec())),
            ));
            let trickled: Vec<_> = CsvRecords::new(reader, &Typing::default())
                .unwrap()
                .collect();
            assert_eq!(lines(&whole), [(1, 2), (2, 4), (3, 6), (4, 7)]);
            assert_eq!(lines(&trickled), lines(&whole));
        }
    }

    #[test]
    fn an_unclosed_quote_says_where_it_runs_to() {
        let rows = read("sku,t\nA,1\n\"B,2\nC,3\nD,4\n", &Typing::default());
        assert_eq!(rows.len(), 2);
        let bad = rows[1].as_ref().unwrap_err();
        assert_eq!((bad.row, bad.line), (2, 3));
        assert!(
            bad.message
                .contains("a quoted field runs from line 3 to line 5: is a closing quote missing?"),
            "{}",
            bad.message
        );
    }

    #[test]
    fn invalid_utf8_is_a_row_error() {
        let reader: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(
            b"sku,title\nA,caf\xe9\nB,ok\n".to_vec(),
        ));
        let rows: Vec<_> = CsvRecords::new(reader, &Typing::default())
            .unwrap()
            .collect();
        assert!(rows[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("not valid UTF-8"));
        assert!(rows[1].is_ok());
    }

    #[test]
    fn unusable_headers_are_fatal() {
        let open = |text: &str| {
            let reader: Box<dyn BufRead + Send> =
                Box::new(std::io::Cursor::new(text.to_string().into_bytes()));
            CsvRecords::new(reader, &Typing::default())
                .err()
                .map(|e| e.0)
        };
        assert!(open("").unwrap().contains("empty"));
        assert!(open("sku,sku\n").unwrap().contains("twice"));
        assert!(open("sku,\n").unwrap().contains("no name"));
        assert!(open("sku,price:money\n").unwrap().contains("unknown type"));
        assert!(open("sku\n").is_none(), "a header alone is fine: zero rows");
    }
}
