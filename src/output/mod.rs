//! Printing records on stdout as table, json, ndjson or csv (SPEC §5), or through `--jq`.
//! Lists are streamed: each record is written as it arrives, so memory stays flat however long
//! the list (tables and `--jq` excepted: column widths and a jq program need every record).
//! `--columns` picks fields in every format; the first page says which fields exist.

mod csv_rows;
mod pager;
mod table;
mod terminal;

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::Failure;
use crate::jq::JqFilter;
use csv_rows::CsvRows;
pub use terminal::Screen;

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

/// How a command's data is printed: the format, `--columns`, `--typed-header`, `--jq`, and
/// the screen tables are fitted to.
#[derive(Clone)]
pub struct Printer {
    pub format: Format,
    pub columns: Option<Vec<String>>,
    pub jq: Option<Arc<JqFilter>>,
    pub typed_header: bool,
    pub screen: Screen,
}

impl Printer {
    /// Prints one object, e.g. the result of a get: a table shows every field, a line each.
    pub fn value(&self, value: &Value) -> anyhow::Result<()> {
        let selected = self.select(value)?;
        let value: &Value = &selected;
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        match (&self.jq, self.format, value) {
            (Some(jq), _, _) => jq.write(value, &mut out)?,
            (None, Format::Table, Value::Object(map)) => {
                show_table(&self.screen, table::fields(map, &self.screen), &mut out)?;
            }
            (None, Format::Csv, Value::Object(_)) => {
                let mut list = ListPrinter {
                    typed_header: self.typed_header,
                    ..ListPrinter::new(Format::Csv, &mut out)
                };
                list.page(std::slice::from_ref(value))?;
                list.finish()?;
            }
            (None, format, _) => write_value(format, value, &mut out)?,
        }
        out.flush()?;
        Ok(())
    }

    /// The `--columns` fields of one object, checked against its own fields.
    pub fn select<'a>(&self, value: &'a Value) -> anyhow::Result<Cow<'a, Value>> {
        match (&self.columns, value) {
            (Some(columns), Value::Object(map)) => {
                check_columns(columns, &map.keys().cloned().collect::<Vec<_>>())?;
                Ok(Cow::Owned(pick(columns, value)))
            }
            _ => Ok(Cow::Borrowed(value)),
        }
    }

    /// A streaming printer for a list on stdout; a table shows the `defaults` columns unless
    /// `--columns` says otherwise.
    pub fn list(&self, defaults: &'static [&'static str]) -> ListPrinter<io::StdoutLock<'static>> {
        ListPrinter {
            chosen: self.columns.clone(),
            defaults,
            typed_header: self.typed_header,
            jq: self.jq.clone(),
            screen: self.screen.clone(),
            ..ListPrinter::new(self.format, io::stdout().lock())
        }
    }
}

/// A value that is not an object (or is not printed as a table or CSV) in `format`.
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
        Format::Csv | Format::Table => writeln!(out, "{}", cell(value))?,
    }
    Ok(())
}

/// Streams a list of records. Call `page` with each page as it arrives (the reader sees
/// records while later pages are still being fetched), and `finish` at the end.
pub struct ListPrinter<W: Write> {
    format: Format,
    out: W,
    count: u64,
    /// `--columns`: these fields, in this order, in every format.
    chosen: Option<Vec<String>>,
    /// The columns a table shows without `--columns` (those the records have).
    defaults: &'static [&'static str],
    /// The first records were seen: `--columns` is checked and the CSV header written.
    started: bool,
    csv: Option<CsvRows>,
    typed_header: bool,
    /// Records held for a table or a jq program.
    held: Vec<Value>,
    jq: Option<Arc<JqFilter>>,
    screen: Screen,
}

impl<W: Write> ListPrinter<W> {
    pub fn new(format: Format, out: W) -> Self {
        ListPrinter {
            format,
            out,
            count: 0,
            chosen: None,
            defaults: &[],
            started: false,
            csv: None,
            typed_header: false,
            held: Vec::new(),
            jq: None,
            screen: Screen::default(),
        }
    }

    /// Prints one page of records. The first page that has records decides which fields
    /// exist: an unknown `--columns` field is a usage error, and the CSV header holds every
    /// field of that page.
    pub fn page(&mut self, records: &[Value]) -> anyhow::Result<()> {
        if !self.started && !records.is_empty() {
            self.start(records)?;
        }
        for record in records {
            self.push(record)?;
        }
        self.out.flush()?;
        Ok(())
    }

    fn start(&mut self, records: &[Value]) -> anyhow::Result<()> {
        self.started = true;
        let present = field_names(records);
        if let Some(chosen) = &self.chosen {
            check_columns(chosen, &present)?;
        }
        if self.format == Format::Csv && self.jq.is_none() && !present.is_empty() {
            let columns = self.chosen.clone().unwrap_or(present);
            let rows = CsvRows::new(columns, records, self.typed_header, self.chosen.is_some());
            self.write_csv_row(&rows.header())?;
            self.csv = Some(rows);
        }
        Ok(())
    }

    fn push(&mut self, record: &Value) -> anyhow::Result<()> {
        let record = match &self.chosen {
            Some(columns) if record.is_object() => Cow::Owned(pick(columns, record)),
            _ => Cow::Borrowed(record),
        };
        let first = self.count == 0;
        self.count += 1;
        if self.jq.is_some() {
            self.held.push(record.into_owned());
            return Ok(());
        }
        match self.format {
            Format::Json => {
                self.out
                    .write_all(if first { b"[\n  " } else { b",\n  " })?;
                write_pretty(&mut self.out, &record, 1)?;
            }
            Format::Ndjson => {
                serde_json::to_writer(&mut self.out, &*record)?;
                self.out.write_all(b"\n")?;
            }
            Format::Csv => {
                let cells = match &self.csv {
                    Some(rows) => rows.row(&record, self.count)?,
                    None => vec![cell(&record)],
                };
                self.write_csv_row(&cells)?;
            }
            Format::Table => self.held.push(record.into_owned()),
        }
        Ok(())
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
            Format::Table if !self.held.is_empty() => {
                let columns = match &self.chosen {
                    Some(columns) => columns.clone(),
                    None => table::default_columns(&self.held, self.defaults, self.screen.width),
                };
                let text = table::records(&self.held, &columns, &self.screen);
                show_table(&self.screen, text, &mut self.out)?;
            }
            Format::Table | Format::Ndjson | Format::Csv => {}
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

    fn write_csv_row(&mut self, cells: &[String]) -> io::Result<()> {
        let mut writer = csv::WriterBuilder::new().from_writer(&mut self.out);
        writer.write_record(cells)?;
        writer.flush()?;
        Ok(())
    }
}

/// Every field of `records`, in order of first appearance.
fn field_names(records: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    // Records with hundreds of fields are not rare: no scan of `names` per key.
    let mut seen = std::collections::HashSet::new();
    for record in records {
        if let Value::Object(map) = record {
            for key in map.keys() {
                if seen.insert(key.as_str()) {
                    names.push(key.clone());
                }
            }
        }
    }
    names
}

/// `--columns` names only fields that exist: a typo is a usage error, not an empty column.
fn check_columns(chosen: &[String], available: &[String]) -> Result<(), Failure> {
    let unknown: Vec<String> = chosen
        .iter()
        .filter(|name| !available.contains(name))
        .map(|name| format!("'{name}'"))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let (noun, listed) = match unknown.as_slice() {
        [one] => ("column", one.clone()),
        many => ("columns", many.join(", ")),
    };
    Err(Failure::usage(format!(
        "--columns: unknown {noun} {listed}; available: {}",
        available.join(", ")
    )))
}

/// The named fields of an object, in that order; a field the object lacks is null.
fn pick(columns: &[String], value: &Value) -> Value {
    Value::Object(
        columns
            .iter()
            .map(|c| (c.clone(), value.get(c).cloned().unwrap_or(Value::Null)))
            .collect::<Map<String, Value>>(),
    )
}

/// A rendered table on stdout, through the pager when it is longer than the terminal.
fn show_table(screen: &Screen, mut text: String, out: &mut impl Write) -> io::Result<()> {
    text.push('\n');
    let long = screen.pages && pager::long(&text, screen.height);
    let env = |name: &str| std::env::var(name).ok();
    match long.then(|| pager::choose(&env, true, pager::on_path("less"))) {
        Some(Some(command)) => pager::show(&text, &command, out),
        _ => out.write_all(text.as_bytes()),
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

    fn printer(format: Format, out: &mut Vec<u8>) -> ListPrinter<&mut Vec<u8>> {
        ListPrinter::new(format, out)
    }

    /// `pages` printed as a list, or the error that stopped it.
    fn print(mut list: ListPrinter<&mut Vec<u8>>, pages: &[&[Value]]) -> anyhow::Result<()> {
        for page in pages {
            list.page(page)?;
        }
        list.finish()
    }

    fn render(format: Format, records: &[Value]) -> String {
        let mut buf = Vec::new();
        print(printer(format, &mut buf), &[records]).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn chosen(format: Format, columns: &str, pages: &[&[Value]]) -> anyhow::Result<String> {
        let mut buf = Vec::new();
        let list = ListPrinter {
            chosen: Some(columns.split(',').map(str::to_string).collect()),
            ..printer(format, &mut buf)
        };
        print(list, pages)?;
        Ok(String::from_utf8(buf).unwrap())
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
    fn csv_header_holds_every_field_of_the_first_page() {
        let text = render(
            Format::Csv,
            &[
                json!({"sku": "00123", "tags": ["a", "b"], "price": 1.5}),
                json!({"sku": "x,y", "price": null, "colour": "red"}),
            ],
        );
        assert_eq!(
            text,
            "sku,tags,price,colour\n00123,\"[\"\"a\"\",\"\"b\"\"]\",1.5,\n\"x,y\",,,red\n"
        );
    }

    #[test]
    fn csv_fails_on_a_later_field_unless_columns_chose_them() {
        let first = [json!({"sku": "A", "price": 1})];
        let later = [json!({"sku": "B", "price": 2, "colour": "red"})];
        let mut buf = Vec::new();
        let err = print(printer(Format::Csv, &mut buf), &[&first, &later]).unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert_eq!(failure.code, crate::error::exit::FAILURE);
        assert!(
            failure.message.contains("record 2 has field 'colour'"),
            "{err}"
        );
        assert_eq!(String::from_utf8(buf).unwrap(), "sku,price\nA,1\n");
        let text = chosen(Format::Csv, "price,sku", &[&first, &later]).unwrap();
        assert_eq!(text, "price,sku\n1,A\n2,B\n");
    }

    #[test]
    fn columns_pick_fields_in_every_format_and_refuse_unknown_ones() {
        let page = [
            json!({"sku": "A", "title": "T", "price": 1}),
            json!({"sku": "B"}),
        ];
        let ndjson = chosen(Format::Ndjson, "price,sku", &[&page]).unwrap();
        assert_eq!(
            ndjson,
            "{\"price\":1,\"sku\":\"A\"}\n{\"price\":null,\"sku\":\"B\"}\n"
        );
        let json: Value =
            serde_json::from_str(&chosen(Format::Json, "sku", &[&page]).unwrap()).unwrap();
        assert_eq!(json, json!([{"sku": "A"}, {"sku": "B"}]));
        let table = chosen(Format::Table, "title", &[&page]).unwrap();
        assert!(table.contains("title") && !table.contains("sku"), "{table}");

        let err = chosen(Format::Json, "sku,nope,nada", &[&page]).unwrap_err();
        let failure = err.downcast_ref::<Failure>().unwrap();
        assert_eq!(failure.code, crate::error::exit::USAGE);
        assert_eq!(
            failure.message,
            "--columns: unknown columns 'nope', 'nada'; available: sku, title, price"
        );
        // Nothing printed, not even the start of an array.
        let mut buf = Vec::new();
        let list = ListPrinter {
            chosen: Some(vec!["nope".into()]),
            ..printer(Format::Json, &mut buf)
        };
        assert!(print(list, &[&page]).is_err());
        assert!(buf.is_empty());
        // An empty list has nothing to check the columns against.
        assert_eq!(chosen(Format::Json, "nope", &[&[]]).unwrap(), "[]\n");
    }

    #[test]
    fn table_shows_the_default_columns_and_cuts_long_cells() {
        let long = "x".repeat(100);
        let records = [
            json!({"id": "i1", "sku": "A", "brand": "B"}),
            json!({"id": "i2", "sku": long}),
        ];
        let mut buf = Vec::new();
        let list = ListPrinter {
            defaults: &["sku", "id"],
            ..printer(Format::Table, &mut buf)
        };
        print(list, &[&records]).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.contains(" sku ") && text.contains(" id ") && !text.contains("brand"),
            "{text}"
        );
        assert!(
            text.find(" sku ") < text.find(" id "),
            "in the resource's order: {text}"
        );
        assert!(text.contains('…'), "{text}");
        assert!(
            text.lines().all(|line| line.chars().count() <= 80),
            "{text}"
        );
    }
}
