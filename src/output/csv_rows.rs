//! CSV rows under one header that holds every field (SPEC §5): the header is set by the first
//! page, and a later record that does not fit it is an error, never a silent drop. With
//! `--typed-header` the header says each column's type (`price:number`), so `bulk upsert`
//! reads the file back with the same JSON types.

use std::collections::HashSet;

use serde_json::Value;

use super::cell;
use crate::error::{exit, Failure};
use crate::input::typed::ValueType;

pub struct CsvRows {
    columns: Vec<String>,
    /// The same, to check each record's fields against.
    known: HashSet<String>,
    /// `--typed-header`: each column's type, from the first page's values.
    types: Option<Vec<ValueType>>,
    /// `--columns` chose the columns, so other fields are left out on purpose.
    chosen: bool,
}

impl CsvRows {
    pub fn new(columns: Vec<String>, first_page: &[Value], typed: bool, chosen: bool) -> Self {
        let types = typed.then(|| {
            columns
                .iter()
                .map(|column| column_type(first_page.iter().filter_map(|r| r.get(column))))
                .collect()
        });
        CsvRows {
            known: columns.iter().cloned().collect(),
            columns,
            types,
            chosen,
        }
    }

    pub fn header(&self) -> Vec<String> {
        match &self.types {
            Some(types) => self
                .columns
                .iter()
                .zip(types)
                .map(|(name, kind)| format!("{name}:{kind}"))
                .collect(),
            None => self.columns.clone(),
        }
    }

    /// The cells of record `number` (from 1), or why it does not fit the header.
    pub fn row(&self, record: &Value, number: u64) -> Result<Vec<String>, Failure> {
        let Value::Object(map) = record else {
            return Ok(vec![cell(record)]);
        };
        if !self.chosen {
            if let Some(extra) = map.keys().find(|key| !self.known.contains(*key)) {
                return Err(Failure::new(
                    exit::FAILURE,
                    format!(
                        "{} has field '{extra}', which the CSV header (the first page's fields) lacks",
                        describe(record, number)
                    ),
                )
                .hint("use -o ndjson, which keeps every field, or choose the fields to export with --columns (the others are then left out)"));
            }
        }
        let Some(types) = &self.types else {
            return Ok(self
                .columns
                .iter()
                .map(|column| map.get(column).map(cell).unwrap_or_default())
                .collect());
        };
        self.columns
            .iter()
            .zip(types)
            .map(|(column, &kind)| match map.get(column) {
                None => Ok(String::new()),
                // Only a json column can tell null from absent; elsewhere both are empty.
                Some(value) if kind == ValueType::Json => Ok(value.to_string()),
                Some(Value::Null) => Ok(String::new()),
                Some(value) if value_type(value) == Some(kind) => Ok(cell(value)),
                Some(value) => Err(Failure::new(
                    exit::FAILURE,
                    format!(
                        "{}: field '{column}' is {}, but its column is {column}:{kind} (typed from the first page)",
                        describe(record, number),
                        value_type(value).map_or("null".to_string(), |t| t.to_string())
                    ),
                )
                .hint("use -o ndjson, which keeps every value's type")),
            })
            .collect()
    }
}

/// `record 7 (id item_7)`, so the user can find it.
fn describe(record: &Value, number: u64) -> String {
    match record.get("id").filter(|id| !id.is_null()) {
        Some(id) => format!("record {number} (id {})", cell(id)),
        None => format!("record {number}"),
    }
}

/// The type a column's values share; `json` (which holds anything, exactly, and writes null
/// as `null`) when they differ or are all null. Numbers are `number`, which reads `10` back as 10 and `9.5` as 9.5, so a
/// later page's 9.5 in a column of integers still fits. Arrays and objects are `json`: an
/// `array` column would read `[]` back as nothing and every item as a string.
pub fn column_type<'a>(values: impl Iterator<Item = &'a Value>) -> ValueType {
    let mut kinds = values.filter_map(value_type);
    let Some(first) = kinds.next() else {
        return ValueType::Json;
    };
    if kinds.all(|kind| kind == first) {
        first
    } else {
        ValueType::Json
    }
}

fn value_type(value: &Value) -> Option<ValueType> {
    match value {
        Value::Null => None,
        Value::String(_) => Some(ValueType::String),
        Value::Number(_) => Some(ValueType::Number),
        Value::Bool(_) => Some(ValueType::Boolean),
        Value::Array(_) | Value::Object(_) => Some(ValueType::Json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn column_types_come_from_the_values() {
        let page = [
            json!({"sku": "007", "price": 10, "on": true, "tags": ["a"], "n": null, "mixed": 1}),
            json!({"sku": "008", "price": 9.5, "on": false, "tags": [], "mixed": "x"}),
        ];
        let columns = ["sku", "price", "on", "tags", "n", "mixed"].map(str::to_string);
        let rows = CsvRows::new(columns.to_vec(), &page, true, false);
        assert_eq!(
            rows.header(),
            [
                "sku:string",
                "price:number",
                "on:boolean",
                "tags:json",
                "n:json",
                "mixed:json"
            ]
        );
        assert_eq!(
            rows.row(&page[0], 1).unwrap(),
            ["007", "10", "true", "[\"a\"]", "null", "1"]
        );
        assert_eq!(
            rows.row(&page[1], 2).unwrap(),
            ["008", "9.5", "false", "[]", "", "\"x\""]
        );
    }

    #[test]
    fn a_record_that_does_not_fit_is_an_error_naming_it() {
        let page = [json!({"id": "i1", "sku": "A", "price": 1})];
        let plain = CsvRows::new(vec!["id".into(), "sku".into()], &page, false, false);
        let err = plain
            .row(&json!({"id": "i2", "sku": "B", "colour": "red"}), 7)
            .unwrap_err();
        assert_eq!(err.code, exit::FAILURE);
        assert!(
            err.message.contains("record 7 (id i2)") && err.message.contains("'colour'"),
            "{err}"
        );
        // --columns chose them: other fields are left out on purpose.
        let chosen = CsvRows::new(vec!["sku".into()], &page, false, true);
        assert_eq!(chosen.row(&json!({"sku": "B", "x": 1}), 2).unwrap(), ["B"]);

        let typed = CsvRows::new(vec!["price".into()], &page, true, true);
        let err = typed.row(&json!({"price": "cheap"}), 3).unwrap_err();
        assert!(err.message.contains("price:number"), "{err}");
        assert_eq!(typed.row(&json!({"price": null}), 4).unwrap(), [""]);
    }
}
