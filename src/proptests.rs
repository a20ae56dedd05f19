//! Property tests (proptest) of what meets untrusted input: the readers, the typed-value
//! coercion and the vendor validators. Arbitrary input never panics, and a valid record
//! survives read → validate → serialise unchanged.

use std::io::BufRead;

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::input::csv::CsvRecords;
use crate::input::csv::CsvSplitter;
use crate::input::json::{JsonArrayRecords, NdjsonRecords};
use crate::input::typed::ValueType;
use crate::input::{EmptyCells, Typing};
use catops_spec::{batch, catalogix};

fn reader(bytes: Vec<u8>) -> Box<dyn BufRead + Send> {
    Box::new(std::io::Cursor::new(bytes))
}

/// A batch attribute name: `[a-z0-9_]{1,30}`.
fn batch_key() -> impl Strategy<Value = String> {
    "[a-z0-9_]{1,30}"
}

/// Text a CSV cell can carry, quotes, commas and newlines included.
fn cell_text() -> impl Strategy<Value = String> {
    "[^\u{0}\u{feff}]{1,40}"
}

/// A JSON value of the kinds batch accepts.
fn batch_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1.0e12f64..1.0e12).prop_map(|f| json!(f)),
        "[^\u{0}]{1,100}".prop_map(Value::String),
        proptest::collection::vec("[^\u{0}]{0,64}", 0..=15).prop_map(|items| json!(items)),
    ]
}

/// Reads `bytes` both ways, CSV rows straight to JSON and through a map, and checks that they
/// give the same rows, lines, JSON and errors.
fn fast_path_matches_general_path(bytes: Vec<u8>, typing: &Typing) -> Result<(), TestCaseError> {
    let general: Vec<_> = CsvRecords::new(reader(bytes.clone()), typing)
        .unwrap()
        .collect();
    let mut fast = CsvRecords::new(reader(bytes), typing).unwrap();
    for expected in general {
        let mut out = Vec::new();
        match (expected, fast.next_json(&mut out).unwrap()) {
            (Ok(record), Ok((row, line))) => {
                prop_assert_eq!((record.row, record.line), (row, line));
                let mut written = Vec::new();
                crate::json_writer::write(&Value::Object(record.fields), &mut written);
                prop_assert_eq!(
                    String::from_utf8_lossy(&written),
                    String::from_utf8_lossy(&out)
                );
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "paths disagree: {:?} vs {:?}", a, b),
        }
    }
    prop_assert!(fast.next_json(&mut Vec::new()).is_none());
    Ok(())
}

/// Bytes that CSV cells are made of in the tests: text, number parts, delimiters, escapes,
/// and UTF-8 both valid and broken.
const CSV_PIECES: &[&[u8]] = &[
    b"a",
    b"7",
    b"0",
    b".",
    b"-",
    b",",
    b"\"",
    b"\n",
    b"\\",
    b"\x01",
    b"\xc3\xa9",
    b"\xff",
    b"\xc3",
    b" ",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn csv_splitter_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(records) = CsvRecords::new(reader(bytes), &Typing::default()) {
            for record in records {
                let _ = record;
            }
        }
    }

    #[test]
    fn json_readers_never_panic_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(records) = JsonArrayRecords::new(reader(bytes.clone())) {
            for record in records.take(10_000) {
                let _ = record;
            }
        }
        for record in NdjsonRecords::new(reader(bytes)) {
            let _ = record;
        }
    }

    #[test]
    fn json_array_elements_of_any_shape_never_panic(text in r#"\[[\[\]{}",:a-z0-9 \\\n]{0,200}"#) {
        if let Ok(records) = JsonArrayRecords::new(reader(text.into_bytes())) {
            for record in records.take(10_000) {
                let _ = record;
            }
        }
    }

    #[test]
    fn coercion_never_panics(raw in any::<String>(), sep in "[|;,]") {
        for kind in [ValueType::String, ValueType::Number, ValueType::Integer, ValueType::Boolean, ValueType::Array, ValueType::Json] {
            let _ = kind.coerce(&raw, &sep);
        }
    }

    #[test]
    fn numbers_and_integers_round_trip(int in any::<i64>(), float in -1.0e15f64..1.0e15) {
        prop_assert_eq!(ValueType::Integer.coerce(&int.to_string(), "|").unwrap(), json!(int));
        prop_assert_eq!(ValueType::Number.coerce(&int.to_string(), "|").unwrap(), json!(int));
        let coerced = ValueType::Number.coerce(&float.to_string(), "|").unwrap();
        prop_assert_eq!(coerced.as_f64().unwrap(), float);
    }

    #[test]
    fn validators_never_panic(value in any::<Option<String>>(), key in ".{0,40}", number in any::<f64>()) {
        let attributes = json!({ key.clone(): value.clone(), "n": if number.is_finite() { json!(number) } else { Value::Null } });
        let _ = batch::validate_item(&json!({"action": "add", "id": value.clone(), "attributes": attributes}));
        let _ = batch::validate_item(&json!({"action": key.clone(), "id": "1"}));
        let _ = catalogix::validate_item(&json!({"parent_code": value.clone(), "asset_type": "image", "assets": {key: value}}));
    }

    /// A valid batch record written as CSV comes back from the reader as the same strings,
    /// passes the validator, and serialises to the item that was meant.
    #[test]
    fn a_valid_csv_record_survives_read_validate_serialise(
        fields in proptest::collection::btree_map(batch_key(), cell_text(), 1..12),
        id in "[A-Za-z0-9_-]{1,20}",
    ) {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["id".to_string()];
        header.extend(fields.keys().filter(|k| k.as_str() != "id").cloned());
        writer.write_record(&header).unwrap();
        let mut row = vec![id.clone()];
        row.extend(header[1..].iter().map(|k| fields[k].clone()));
        writer.write_record(&row).unwrap();
        let bytes = writer.into_inner().unwrap();

        let records: Vec<_> = CsvRecords::new(reader(bytes), &Typing::default()).unwrap().collect();
        prop_assert_eq!(records.len(), 1);
        let mut record = records.into_iter().next().unwrap().unwrap().fields;
        let read_id = record.shift_remove("id");
        prop_assert_eq!(read_id, Some(Value::String(id.clone())));
        let expected: Map<String, Value> = header[1..].iter().map(|k| (k.clone(), Value::String(fields[k].clone()))).collect();
        prop_assert_eq!(&record, &expected);

        let item = json!({"action": "add", "id": id, "attributes": Value::Object(record)});
        prop_assert_eq!(batch::validate_item(&item), Ok(()));
        let serialised = serde_json::to_vec(&item).unwrap();
        prop_assert_eq!(serde_json::from_slice::<Value>(&serialised).unwrap(), item);
    }

    /// The record splitter gives exactly the csv crate's records (flexible, no header), each on
    /// the line of its first byte, however the input falls across buffer refills.
    #[test]
    fn csv_splitter_matches_the_csv_crate(
        pieces in proptest::collection::vec(
            prop_oneof![
                Just("a"), Just("bc"), Just(","), Just("\""), Just("\r"), Just("\n"),
                Just("\r\n"), Just("é"), Just("\u{feff}"), Just(" ")
            ],
            0..60,
        ),
        capacity in 1usize..48,
    ) {
        let input = pieces.concat().into_bytes();
        let mut expected = Vec::new();
        let mut csv_reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&input[..]);
        let mut record = csv::ByteRecord::new();
        while csv_reader.read_byte_record(&mut record).unwrap() {
            // The csv crate puts a record where the previous one ended; its first byte
            // comes after any line breaks (and after a byte-order mark that starts the input).
            let mut first = record.position().unwrap().byte() as usize;
            if first == 0 && input.starts_with(b"\xef\xbb\xbf") {
                first = 3;
            }
            while first < input.len() && matches!(input[first], b'\r' | b'\n') {
                first += 1;
            }
            let line = 1 + input[..first].iter().filter(|&&b| b == b'\n').count() as u64;
            expected.push((line, record.iter().map(<[u8]>::to_vec).collect::<Vec<_>>()));
        }
        let mut splitter = CsvSplitter::with_capacity(&input[..], capacity);
        let mut got = Vec::new();
        while let Some(line) = splitter.read().unwrap() {
            got.push((line, splitter.record().iter().map(<[u8]>::to_vec).collect::<Vec<_>>()));
        }
        prop_assert_eq!(got, expected);
    }

    /// A number the fast path copies as it is reads the same as it would once parsed and
    /// written: for number-like text, and for prices as spreadsheets write them.
    #[test]
    fn numbers_copied_as_text_are_what_serde_json_writes(
        text in "-?[0-9]{1,20}(\\.[0-9]{0,16})?",
        cents in any::<i64>(),
        scale in 0u32..6,
    ) {
        let price = format!("{:.*}", scale as usize, cents as f64 / 10f64.powi(scale as i32));
        for text in [text.as_str(), price.as_str()] {
            for (kind, integer_only) in [(ValueType::Number, false), (ValueType::Integer, true)] {
                if let Some(copied) = crate::json_writer::number_as_written(text.as_bytes(), integer_only) {
                    let mut written = Vec::new();
                    crate::json_writer::write(&kind.coerce(text, "|").unwrap(), &mut written);
                    prop_assert_eq!(written, copied);
                }
            }
        }
    }

    /// The fast path (CSV rows straight to JSON) writes exactly what the general path writes,
    /// and fails the same rows with the same reasons, for any cells and types.
    #[test]
    fn csv_rows_straight_to_json_match_the_general_path(
        names in proptest::collection::vec("[a-z\"é]{1,8}", 1..6),
        kinds in proptest::collection::vec(0usize..6, 6),
        rows in proptest::collection::vec(proptest::collection::vec("[a-zé0-9.|\"\\ \u{1}-]{0,12}", 0..7), 0..8),
        null_empty in any::<bool>(),
    ) {
        let mut names = names;
        names.sort();
        names.dedup();
        let all = [ValueType::String, ValueType::Number, ValueType::Integer, ValueType::Boolean, ValueType::Array, ValueType::Json];
        let typing = Typing {
            types: names.iter().zip(&kinds).map(|(n, k)| (n.clone(), all[*k])).collect(),
            empty: if null_empty { EmptyCells::Null } else { EmptyCells::Omit },
            ..Typing::default()
        };
        let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        writer.write_record(&names).unwrap();
        for row in &rows {
            writer.write_record(row).unwrap();
        }
        let bytes = writer.into_inner().unwrap();

        fast_path_matches_general_path(bytes, &typing)?;
    }

    /// The same, for raw bytes: invalid UTF-8, escapes and ragged rows among them.
    #[test]
    fn csv_bytes_straight_to_json_match_the_general_path(
        pieces in proptest::collection::vec(
            proptest::sample::select(CSV_PIECES),
            0..80,
        ),
        null_empty in any::<bool>(),
    ) {
        let typing = Typing {
            empty: if null_empty { EmptyCells::Null } else { EmptyCells::Omit },
            ..Typing::default()
        };
        let mut bytes = b"text,price:number,rank:integer\n".to_vec();
        bytes.extend(pieces.concat());
        fast_path_matches_general_path(bytes, &typing)?;
    }

    /// A valid typed record written as NDJSON comes back identical and valid.
    #[test]
    fn a_valid_ndjson_record_survives_read_validate_serialise(
        attributes in proptest::collection::btree_map(batch_key(), batch_value(), 0..10),
    ) {
        let attributes: Map<String, Value> = attributes.into_iter().collect();
        let item = json!({"action": "add", "id": "p-1", "attributes": attributes});
        prop_assert_eq!(batch::validate_item(&item), Ok(()));
        let line = format!("{}\n", serde_json::to_string(&item).unwrap());
        let records: Vec<_> = NdjsonRecords::new(reader(line.into_bytes())).collect();
        prop_assert_eq!(records.len(), 1);
        let read = Value::Object(records.into_iter().next().unwrap().unwrap().fields);
        prop_assert_eq!(&read, &item);
        prop_assert_eq!(serde_json::from_slice::<Value>(&serde_json::to_vec(&read).unwrap()).unwrap(), item.clone());
        let mut written = Vec::new();
        crate::json_writer::write(&read, &mut written);
        prop_assert_eq!(written, serde_json::to_vec(&item).unwrap());
    }
}
