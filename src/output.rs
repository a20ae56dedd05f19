//! Printing records on stdout as table, json, ndjson or csv (SPEC §5), or through `--jq`.
//! Lists are streamed: each record is written as it arrives, so memory stays flat however long
//! the list (tables and `--jq` excepted: column widths and a jq program need every record).

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use comfy_table::{presets, ContentArrangement, Table};
use serde_json::{Map, Value};

use crate::jq::JqFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Ndjson,
    Csv,
}

impl Format {
    /// SPEC §3: a table for people at a terminal, JSON for pipes and files.
    pub fn resolve(requested: Option<Format>) -> Format {
        requested.unwrap_or_else(|| {
            if io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        })
    }
}

/// Longest cell a table shows; the rest is cut with `…` (json/csv keep everything).
const TABLE_CELL_MAX: usize = 60;

/// How a command's data is printed: the format, `--columns` and `--jq`.
#[derive(Clone)]
pub struct Printer {
    pub format: Format,
    pub columns: Option<Vec<String>>,
    pub jq: Option<Arc<JqFilter>>,
}

impl Printer {
    /// Prints one object, e.g. the result of a get.
    pub fn value(&self, value: &Value) -> anyhow::Result<()> {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        if let Some(jq) = &self.jq {
            jq.write(value, &mut out)?;
        } else {
            let picked = self.pick(value);
            write_value(self.format, &picked, &mut out)?;
        }
        out.flush()?;
        Ok(())
    }

    /// A streaming printer for a list on stdout.
    pub fn list(&self) -> ListPrinter<io::StdoutLock<'static>> {
        ListPrinter {
            columns: self.columns.clone().unwrap_or_default(),
            fixed_columns: self.columns.is_some(),
            jq: self.jq.clone(),
            ..ListPrinter::new(self.format, io::stdout().lock())
        }
    }

    /// `--columns` keeps the named fields of an object, in that order (table and csv only).
    fn pick(&self, value: &Value) -> Value {
        match (&self.columns, self.format, value) {
            (Some(columns), Format::Table | Format::Csv, Value::Object(map)) => Value::Object(
                columns
                    .iter()
                    .map(|c| (c.clone(), map.get(c).cloned().unwrap_or(Value::Null)))
                    .collect::<Map<String, Value>>(),
            ),
            _ => value.clone(),
        }
    }
}

fn write_value(format: Format, value: &Value, mut out: &mut impl Write) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            write_pretty(&mut out, value, 0)?;
            out.write_all(b"\n")?;
        }
        Format::Ndjson => {
            serde_json::to_writer(&mut out, value)?;
            out.write_all(b"\n")?;
        }
        Format::Csv | Format::Table => {
            if let Value::Object(map) = value {
                if format == Format::Table {
                    let mut table = new_table();
                    table.set_header(["field", "value"]);
                    for (key, field) in map {
                        table.add_row([key.clone(), table_cell(field)]);
                    }
                    writeln!(out, "{table}")?;
                } else {
                    let mut list = ListPrinter::new(format, &mut out);
                    list.push(value)?;
                    list.finish()?;
                }
            } else {
                writeln!(out, "{}", cell(value))?;
            }
        }
    }
    Ok(())
}

/// Streams a list of records. Call `push` per record, `flush` after each page so the reader
/// sees records while later pages are still being fetched, and `finish` at the end.
pub struct ListPrinter<W: Write> {
    format: Format,
    out: W,
    count: u64,
    columns: Vec<String>,
    /// `--columns` chose them; otherwise they come from the records.
    fixed_columns: bool,
    csv_warned: bool,
    /// Records held for a table or a jq program.
    held: Vec<Value>,
    jq: Option<Arc<JqFilter>>,
}

impl<W: Write> ListPrinter<W> {
    pub fn new(format: Format, out: W) -> Self {
        ListPrinter {
            format,
            out,
            count: 0,
            columns: Vec::new(),
            fixed_columns: false,
            csv_warned: false,
            held: Vec::new(),
            jq: None,
        }
    }

    pub fn push(&mut self, record: &Value) -> io::Result<()> {
        if self.jq.is_some() {
            self.held.push(record.clone());
            self.count += 1;
            return Ok(());
        }
        match self.format {
            Format::Json => {
                self.out
                    .write_all(if self.count == 0 { b"[\n  " } else { b",\n  " })?;
                write_pretty(&mut self.out, record, 1)?;
            }
            Format::Ndjson => {
                serde_json::to_writer(&mut self.out, record)?;
                self.out.write_all(b"\n")?;
            }
            Format::Csv => self.push_csv(record)?,
            Format::Table => self.held.push(record.clone()),
        }
        self.count += 1;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn finish(mut self) -> anyhow::Result<()> {
        if let Some(jq) = self.jq.take() {
            let records = Value::Array(std::mem::take(&mut self.held));
            jq.write(&records, &mut self.out)?;
            self.out.flush()?;
            return Ok(());
        }
        match self.format {
            Format::Json if self.count == 0 => self.out.write_all(b"[]\n")?,
            Format::Json => self.out.write_all(b"\n]\n")?,
            Format::Table => {
                let columns = self.fixed_columns.then_some(self.columns.as_slice());
                let table = records_table(&self.held, columns);
                if !self.held.is_empty() {
                    writeln!(self.out, "{table}")?;
                }
            }
            Format::Ndjson | Format::Csv => {}
        }
        self.out.flush()?;
        Ok(())
    }

    /// Ends a list that stopped on an error: what was printed stays valid (a JSON array is
    /// closed), but nothing stands for a list that never began, and no jq program runs on a
    /// part of the records.
    pub fn finish_after_error(mut self) -> anyhow::Result<()> {
        if self.jq.is_some() || self.count == 0 {
            return Ok(self.out.flush()?);
        }
        self.finish()
    }

    /// SPEC §5: the header comes from the first record. Fields a later record adds cannot get a
    /// column, so say so once instead of dropping them silently.
    fn push_csv(&mut self, record: &Value) -> io::Result<()> {
        let Value::Object(map) = record else {
            return self.write_csv_row(&[cell(record)]);
        };
        if self.count == 0 {
            if !self.fixed_columns {
                self.columns = map.keys().cloned().collect();
            }
            let header = self.columns.clone();
            self.write_csv_row(&header)?;
        }
        if !self.csv_warned && !self.fixed_columns {
            if let Some(extra) = map.keys().find(|key| !self.columns.contains(key)) {
                eprintln!(
                    "warning: record {} has field '{extra}' that the CSV header (from the first record) lacks; it is left out",
                    self.count + 1
                );
                self.csv_warned = true;
            }
        }
        let row: Vec<String> = self
            .columns
            .iter()
            .map(|column| map.get(column).map(cell).unwrap_or_default())
            .collect();
        self.write_csv_row(&row)
    }

    fn write_csv_row(&mut self, cells: &[String]) -> io::Result<()> {
        let mut writer = csv::WriterBuilder::new().from_writer(&mut self.out);
        writer.write_record(cells)?;
        writer.flush()?;
        Ok(())
    }
}

/// One value as text: strings raw, null empty, anything nested as compact JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn table_cell(value: &Value) -> String {
    let text = cell(value);
    if text.chars().count() > TABLE_CELL_MAX {
        let cut: String = text.chars().take(TABLE_CELL_MAX - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table
}

/// Columns are `chosen`, else every key seen, in order of first appearance.
fn records_table(records: &[Value], chosen: Option<&[String]>) -> Table {
    let mut columns: Vec<String> = chosen.map(<[String]>::to_vec).unwrap_or_default();
    for record in records.iter().filter(|_| chosen.is_none()) {
        if let Value::Object(map) = record {
            for key in map.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
    }
    let mut table = new_table();
    if columns.is_empty() {
        table.set_header(["value"]);
        for record in records {
            table.add_row([table_cell(record)]);
        }
        return table;
    }
    table.set_header(columns.clone());
    for record in records {
        table.add_row(
            columns
                .iter()
                .map(|column| record.get(column).map(table_cell).unwrap_or_default()),
        );
    }
    table
}

/// Pretty JSON, indented `depth` levels so a record sits inside a streamed array.
pub fn write_pretty(out: &mut impl Write, value: &Value, depth: usize) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    if depth == 0 {
        return out.write_all(text.as_bytes());
    }
    // JSON strings escape their newlines, so every raw newline is structure.
    let indent = format!("\n{}", "  ".repeat(depth));
    out.write_all(text.replace('\n', &indent).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(format: Format, records: &[Value]) -> String {
        let mut buf = Vec::new();
        let mut list = ListPrinter::new(format, &mut buf);
        for record in records {
            list.push(record).unwrap();
        }
        list.finish().unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn json_list_is_one_valid_array() {
        let records = [json!({"a": 1, "b": "x\ny"}), json!({"a": 2, "b": null})];
        let text = render(Format::Json, &records);
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, Value::Array(records.to_vec()));
        assert_eq!(render(Format::Json, &[]), "[]\n");
    }

    #[test]
    fn ndjson_is_one_record_per_line() {
        let text = render(Format::Ndjson, &[json!({"a": 1}), json!({"a": 2})]);
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n");
    }

    #[test]
    fn csv_header_from_first_record_and_nested_as_json() {
        let text = render(
            Format::Csv,
            &[
                json!({"sku": "00123", "tags": ["a", "b"], "price": 1.5}),
                json!({"sku": "x,y", "price": null}),
            ],
        );
        assert_eq!(
            text,
            "sku,tags,price\n00123,\"[\"\"a\"\",\"\"b\"\"]\",1.5\n\"x,y\",,\n"
        );
    }

    #[test]
    fn table_has_every_column_and_cuts_long_cells() {
        let long = "x".repeat(100);
        let text = render(Format::Table, &[json!({"a": 1}), json!({"b": long})]);
        assert!(text.contains(" a ") && text.contains(" b "), "{text}");
        assert!(
            text.contains('…') && !text.contains(&"x".repeat(61)),
            "{text}"
        );
    }
}
