//! Bad input, end to end: every file in `tests/fixtures/bad/` is imported into a fresh sandbox
//! by the real binary, and each case says what must happen: the exit code, which rows the
//! rejects file names (row, line, reason), which rows arrived at the vendor, and never a panic.
//! The two huge cases (a row over 5 MiB, a row of 10,000 columns) are generated at test time.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use common::{Env, Run, Sandbox};
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
enum Vendor {
    /// `-p sandbox bulk upsert FILE --catalog cat_demo` (unique field `sku`, `price:number`).
    Rastro,
    /// `-p sandbox-batch bulk upsert FILE --catalog demo` (id column `id`), rate limits off.
    Batch,
    /// `-p sandbox-catalogix assets upsert FILE` (store `store_demo`), keyed by `parent_code`.
    Catalogix,
}

impl Vendor {
    fn profile(self) -> &'static str {
        match self {
            Vendor::Rastro => "sandbox",
            Vendor::Batch => "sandbox-batch",
            Vendor::Catalogix => "sandbox-catalogix",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Vendor::Rastro => "rastro",
            Vendor::Batch => "batch",
            Vendor::Catalogix => "catalogix",
        }
    }

    fn sandbox(self) -> Sandbox {
        match self {
            Vendor::Batch => Sandbox::start_with(&["--rate-limits", "off"]),
            _ => Sandbox::start(),
        }
    }

    fn args(self, input: &str) -> Vec<String> {
        let args: &[&str] = match self {
            Vendor::Rastro => &["bulk", "upsert", input, "--catalog", "cat_demo"],
            Vendor::Batch => &[
                "bulk",
                "upsert",
                input,
                "--catalog",
                "demo",
                "--rate",
                "1000",
                "--item-rate",
                "1000000",
            ],
            Vendor::Catalogix => &["assets", "upsert", input],
        };
        args.iter().map(|a| a.to_string()).collect()
    }

    /// What the import left at the vendor, by key (the demo catalog's own items left out).
    fn arrived(self, env: &Env, sandbox: &Sandbox) -> BTreeMap<String, Value> {
        let (records, key) = match self {
            Vendor::Rastro => (env.demo_items(sandbox), "sku"),
            Vendor::Batch => (
                array(sandbox.inspect("/batch/2.11/_sandbox/catalogs/demo/items")),
                "id",
            ),
            Vendor::Catalogix => (
                array(sandbox.inspect("/catalogix/v1/_sandbox/assets?store_uuid=store_demo")),
                "parent_code",
            ),
        };
        records
            .into_iter()
            .map(|record| {
                let key = match &record[key] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (key, record)
            })
            .filter(|(key, _)| !key.starts_with("DEMO-"))
            .collect()
    }
}

fn array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => panic!("expected a JSON array, got {other}"),
    }
}

/// One bad file and what must come of it.
struct Case {
    /// The behaviour the case shows.
    behaviour: &'static str,
    /// A file in `tests/fixtures/bad/`.
    file: &'static str,
    vendor: Vendor,
    /// Extra command-line arguments.
    args: &'static [&'static str],
    /// 0: the input is fine; 2: unusable as a whole; 3: some rows rejected.
    code: i32,
    /// Exit 2: what the single `error:` line says (besides the file's name).
    error: &'static str,
    /// The rejects file, in row order: (row, line, part of the reason).
    rejected: &'static [(u64, u64, &'static str)],
    /// The keys that reach the vendor (and nothing else does).
    accepted: &'static [&'static str],
    /// Values that must arrive as they are: (key, JSON pointer into the stored record, JSON).
    values: &'static [(&'static str, &'static str, &'static str)],
}

const CASE: Case = Case {
    behaviour: "",
    file: "",
    vendor: Vendor::Rastro,
    args: &[],
    code: 3,
    error: "",
    rejected: &[],
    accepted: &[],
    values: &[],
};

const CASES: &[Case] = &[
    // ---- CSV structure (rastro)
    Case {
        behaviour: "rows with too few or too many fields are rejected, the rest sent",
        file: "ragged_row.csv",
        rejected: &[
            (2, 3, "the row has 2 fields, the header has 3"),
            (3, 4, "the row has 4 fields, the header has 3"),
        ],
        accepted: &["RG-1", "RG-4"],
        ..CASE
    },
    Case {
        behaviour: "a cell that is not UTF-8 rejects its row only",
        file: "invalid_utf8.csv",
        rejected: &[(2, 3, "column title: not valid UTF-8")],
        accepted: &["IU-1", "IU-3"],
        values: &[("IU-3", "/title", r#""Café in UTF-8""#)],
        ..CASE
    },
    Case {
        behaviour: "UTF-16 with a byte-order mark is named, not read as garbage",
        file: "utf16_le_bom.csv",
        code: 2,
        error: "the input is UTF-16 (little-endian, with a byte-order mark), not UTF-8",
        ..CASE
    },
    Case {
        behaviour: "UTF-16 without a byte-order mark is named too",
        file: "utf16_be_no_bom.csv",
        code: 2,
        error: "the input is UTF-16 (big-endian), not UTF-8",
        ..CASE
    },
    Case {
        behaviour: "a header that is not UTF-8 makes the input unusable",
        file: "invalid_utf8_header.csv",
        code: 2,
        error: "CSV header column 2 is not valid UTF-8",
        ..CASE
    },
    Case {
        behaviour: "a UTF-8 BOM before the header is ignored",
        file: "bom_header.csv",
        code: 0,
        accepted: &["BM-1", "BM-2"],
        values: &[("BM-1", "/price", "10")],
        ..CASE
    },
    Case {
        behaviour: "a BOM before a quoted header with CRLF line ends imports cleanly",
        file: "bom_quoted_header_crlf.csv",
        code: 0,
        accepted: &["BQ-1", "BQ-2"],
        values: &[("BQ-2", "/title", r#""Sock, wool""#)],
        ..CASE
    },
    Case {
        behaviour: "CRLF line ends import cleanly, a quoted CRLF kept in its cell",
        file: "crlf_line_ends.csv",
        code: 0,
        accepted: &["CR-1", "CR-2", "CR-3"],
        values: &[
            ("CR-2", "/title", r#""Two\r\nlines""#),
            ("CR-3", "/title", r#""Hat""#),
            ("CR-3", "/price", "12"),
        ],
        ..CASE
    },
    Case {
        behaviour: "bad rows of a CRLF file are named by their own line",
        file: "crlf_bad_rows_keep_their_lines.csv",
        rejected: &[
            (2, 3, "column price: 'ten' is not a number"),
            (4, 7, "column price: 'twelve' is not a number"),
        ],
        accepted: &["CL-1", "CL-3", "CL-5"],
        ..CASE
    },
    Case {
        behaviour: "blank lines are skipped and later rows keep their line numbers",
        file: "blank_lines_between_rows.csv",
        rejected: &[
            (2, 6, "column price: 'two' is not a number"),
            (4, 9, "column price: 'four' is not a number"),
        ],
        accepted: &["BL-1", "BL-3"],
        ..CASE
    },
    Case {
        behaviour: "a quoted cell over three lines is one row and the lines after it count",
        file: "multiline_quoted_field.csv",
        rejected: &[
            (2, 5, "column price: 'cheap' is not a number"),
            (4, 7, "column price: 'oops' is not a number"),
        ],
        accepted: &["ML-1", "ML-3"],
        values: &[
            ("ML-1", "/title", r#""A title\nover three\nlines""#),
            ("ML-3", "/title", r#""He said \"hi\"""#),
        ],
        ..CASE
    },
    Case {
        behaviour: "an unclosed quote rejects its row and says which lines it swallowed",
        file: "unterminated_quote.csv",
        rejected: &[(
            2,
            3,
            "a quoted field runs from line 3 to line 5: is a closing quote missing?",
        )],
        accepted: &["UQ-1"],
        ..CASE
    },
    Case {
        behaviour: "a quote inside an unquoted cell is kept as a character",
        file: "stray_quote_in_unquoted_field.csv",
        code: 0,
        accepted: &["SQ-1", "SQ-2"],
        values: &[("SQ-1", "/title", r#""5\" screen""#)],
        ..CASE
    },
    Case {
        behaviour: "an empty CSV file is unusable",
        file: "empty.csv",
        code: 2,
        error: "the CSV input is empty: no header row",
        ..CASE
    },
    Case {
        behaviour: "a CSV file of blank lines is unusable",
        file: "blank_lines_only.csv",
        code: 2,
        error: "the CSV input is empty: no header row",
        ..CASE
    },
    Case {
        behaviour: "a header with no rows is fine and sends nothing",
        file: "header_only.csv",
        code: 0,
        ..CASE
    },
    Case {
        behaviour: "a column named twice makes the input unusable",
        file: "duplicate_headers.csv",
        code: 2,
        error: "CSV header names column 'title' twice",
        ..CASE
    },
    Case {
        behaviour: "a header ending in a comma has a nameless column: unusable",
        file: "header_trailing_comma.csv",
        code: 2,
        error: "CSV header column 3 has no name",
        ..CASE
    },
    Case {
        behaviour: "an unknown type hint in the header is unusable",
        file: "header_unknown_type.csv",
        code: 2,
        error: "unknown type 'money'",
        ..CASE
    },
    Case {
        behaviour: "a header without the unique column is unusable: nothing is sent",
        file: "missing_unique_column.csv",
        code: 2,
        error: "the CSV header has no 'sku' column, which every row needs",
        ..CASE
    },
    Case {
        behaviour: "a semicolon-delimited file has no sku column: unusable",
        file: "semicolon_delimited.csv",
        code: 2,
        error: "the CSV header has no 'sku' column",
        ..CASE
    },
    Case {
        behaviour: "a row with an empty unique value is rejected",
        file: "unique_value_empty.csv",
        rejected: &[(2, 3, "the unique field sku is missing")],
        accepted: &["UV-1", "UV-3"],
        ..CASE
    },
    // ---- typed cells (rastro)
    Case {
        behaviour: "cells that are not numbers in a number column are rejected",
        file: "number_not_a_number.csv",
        rejected: &[
            (2, 3, "column price: 'cheap' is not a number"),
            (3, 4, "column price: '1e400' is not a finite number"),
            (4, 5, "column price: 'NaN' is not a finite number"),
            (5, 6, "column price: '12abc' is not a number"),
            (6, 7, "column price: '1,5' is not a number"),
            (8, 9, "column price: '0x10' is not a number"),
        ],
        accepted: &["NN-1", "NN-7"],
        values: &[("NN-1", "/price", "10.5"), ("NN-7", "/price", "7")],
        ..CASE
    },
    Case {
        behaviour: "integer, boolean and json hints reject cells that are not of their type",
        file: "declared_types_violated.csv",
        rejected: &[
            (2, 3, "column qty: '1.5' is not an integer"),
            (3, 4, "column in_stock: 'maybe' is not a boolean"),
            (4, 5, "column meta: '{bad' is not valid JSON"),
            (5, 6, "column qty: '99999999999999999999' is not an integer"),
        ],
        accepted: &["DT-1", "DT-6"],
        values: &[
            ("DT-1", "/qty", "3"),
            ("DT-1", "/in_stock", "true"),
            ("DT-1", "/meta", r#"{"a":1}"#),
            ("DT-1", "/tags", r#"["x","y"]"#),
            ("DT-6", "/qty", "-4"),
            ("DT-6", "/in_stock", "false"),
            ("DT-6", "/meta", "null"),
        ],
        ..CASE
    },
    Case {
        behaviour: "a --type flag rejects cells that are not of its type",
        file: "type_flag_violated.csv",
        args: &["--type", "qty=integer"],
        rejected: &[(2, 3, "column qty: 'three' is not an integer")],
        accepted: &["TF-1"],
        values: &[("TF-1", "/qty", "3")],
        ..CASE
    },
    Case {
        behaviour: "cells the vendor refuses (422) are isolated by splitting, the rest sent",
        file: "untyped_price_refused_by_vendor.csv",
        rejected: &[
            (2, 3, "field price must be of type number"),
            (4, 5, "field price must be of type number"),
        ],
        accepted: &["VP-1", "VP-3", "VP-5"],
        ..CASE
    },
    // ---- JSON arrays (rastro)
    Case {
        behaviour: "a JSON array cut off mid-element sends the elements before the cut",
        file: "json_broken_mid_file.json",
        rejected: &[(3, 4, "the JSON input ends in the middle of this element")],
        accepted: &["JB-1", "JB-2"],
        ..CASE
    },
    Case {
        behaviour: "array elements that are not objects are rejected",
        file: "json_element_not_object.json",
        rejected: &[
            (2, 3, "expected a JSON object, got a number"),
            (3, 4, "expected a JSON object, got an array"),
            (4, 5, "expected a JSON object, got null"),
            (5, 6, "expected a JSON object, got a string"),
        ],
        accepted: &["JO-1", "JO-6"],
        ..CASE
    },
    Case {
        behaviour: "invalid JSON in an element names the line and column in the file",
        file: "json_invalid_element.json",
        rejected: &[
            (2, 3, "invalid JSON at line 3 column 29: expected ident"),
            (3, 4, "invalid JSON at line 4 column 11: expected value"),
            (4, 5, "invalid JSON at line 6 column 15: key must be a string"),
        ],
        accepted: &["JI-1", "JI-5"],
        ..CASE
    },
    Case {
        behaviour: "two elements without a comma are rejected together, the rest sent",
        file: "json_missing_comma.json",
        rejected: &[(1, 2, "invalid JSON at line 3 column 3: trailing characters")],
        accepted: &["JM-3"],
        ..CASE
    },
    Case {
        behaviour: "data after the array's ] is reported, not silently ignored",
        file: "json_data_after_array.json",
        rejected: &[(3, 5, "unexpected data after the JSON array's closing ]")],
        accepted: &["JT-1", "JT-2"],
        ..CASE
    },
    Case {
        behaviour: "a second concatenated array is reported as not read",
        file: "json_concatenated_arrays.json",
        rejected: &[(3, 2, "the rest of the input was not read")],
        accepted: &["JC-1", "JC-2"],
        ..CASE
    },
    Case {
        behaviour: "NDJSON in a .json file is unusable and the error says --format ndjson",
        file: "json_not_an_array.json",
        code: 2,
        error: "the JSON input is an object, not an array of objects: wrap it in [ ] or use NDJSON (--format ndjson)",
        ..CASE
    },
    Case {
        behaviour: "a JSON scalar is unusable",
        file: "json_scalar.json",
        code: 2,
        error: "the JSON input must be an array of objects",
        ..CASE
    },
    Case {
        behaviour: "an empty JSON file is unusable",
        file: "json_empty.json",
        code: 2,
        error: "the JSON input is empty",
        ..CASE
    },
    Case {
        behaviour: "a BOM and a trailing comma in a JSON array are accepted",
        file: "json_trailing_comma_bom.json",
        code: 0,
        accepted: &["JW-1", "JW-2"],
        ..CASE
    },
    Case {
        behaviour: "an element nested 200 deep is rejected without a stack overflow",
        file: "json_deeply_nested.json",
        rejected: &[(1, 2, "recursion limit exceeded")],
        accepted: &["JD-2"],
        ..CASE
    },
    Case {
        behaviour: "unique values that are empty, null, objects or of the wrong type are rejected",
        file: "json_unique_field_wrong_type.json",
        rejected: &[
            (2, 3, "the unique field sku is missing"),
            (3, 4, "the unique field sku is missing"),
            (4, 5, "the unique field sku must be a string or a number"),
            (5, 6, "the unique field sku must be a string or a number"),
            (6, 7, "the unique field sku is missing"),
            (7, 8, "field sku must be of type string"),
        ],
        accepted: &["JU-1"],
        ..CASE
    },
    // ---- NDJSON (rastro)
    Case {
        behaviour: "NDJSON lines that are not objects are rejected",
        file: "ndjson_line_not_object.ndjson",
        rejected: &[
            (2, 2, "expected a JSON object, got an array"),
            (3, 3, "expected a JSON object, got a string"),
            (4, 4, "expected a JSON object, got a number"),
        ],
        accepted: &["NO-1", "NO-5"],
        ..CASE
    },
    Case {
        behaviour: "invalid NDJSON lines are rejected with their own line and column",
        file: "ndjson_invalid_line.ndjson",
        rejected: &[
            (2, 2, "invalid JSON at line 2 column 14: EOF while parsing a value"),
            (3, 3, "invalid JSON at line 3 column 16: trailing characters"),
            (4, 4, "invalid JSON at line 4 column 2: key must be a string"),
        ],
        accepted: &["NI-1", "NI-5"],
        ..CASE
    },
    Case {
        behaviour: "NDJSON with a BOM, CRLF and blank lines keeps line numbers; a cut last line is rejected",
        file: "ndjson_bom_crlf_blank_lines.ndjson",
        rejected: &[
            (2, 4, "field price must be of type number"),
            (4, 7, "invalid JSON at line 7 column 7: EOF while parsing a value"),
        ],
        accepted: &["NB-1", "NB-3"],
        ..CASE
    },
    Case {
        behaviour: "an NDJSON line that is not UTF-8 is rejected",
        file: "ndjson_invalid_utf8.ndjson",
        rejected: &[(2, 2, "invalid JSON at line 2 column 27: invalid unicode code point")],
        accepted: &["NU-1", "NU-3"],
        values: &[("NU-3", "/title", r#""café""#)],
        ..CASE
    },
    Case {
        behaviour: "two objects on one NDJSON line are rejected together",
        file: "ndjson_two_objects_on_a_line.ndjson",
        rejected: &[(1, 1, "invalid JSON at line 1 column 15: trailing characters")],
        accepted: &["NT-3"],
        ..CASE
    },
    // ---- batch attribute rules
    Case {
        behaviour: "batch: an uppercase attribute name rejects the rows that use it",
        file: "batch_key_uppercase.csv",
        vendor: Vendor::Batch,
        rejected: &[(2, 3, "attribute Genre: names may only hold a-z, 0-9 and _")],
        accepted: &["m1", "m3"],
        values: &[("m1", "/attributes/title", r#""Alien""#)],
        ..CASE
    },
    Case {
        behaviour: "batch: attribute names with a dash or over 30 characters are rejected",
        file: "batch_key_invalid_chars_and_length.csv",
        vendor: Vendor::Batch,
        rejected: &[
            (2, 3, "attribute release-year: names may only hold a-z, 0-9 and _"),
            (
                3,
                4,
                "attribute this_attribute_name_is_too_long: names have at most 30 characters, this one 31",
            ),
        ],
        accepted: &["k1", "k4"],
        ..CASE
    },
    Case {
        behaviour: "batch: url(..) values without a scheme, host or with spaces are rejected",
        file: "batch_invalid_urls.csv",
        vendor: Vendor::Batch,
        rejected: &[
            (2, 3, "'cdn.example.com/b.png' is not a URL: it needs a scheme and ://"),
            (3, 4, "'https://' is not a valid URL"),
            (5, 6, "'https://cdn.example.com/a b.png' is not a valid URL"),
            (6, 7, "'1nvalid://x' is not a valid URL"),
        ],
        accepted: &["u1", "u4"],
        values: &[("u4", "/attributes/url(poster)", r#""myapp://movies/4""#)],
        ..CASE
    },
    Case {
        behaviour: "batch: date(..) values that are not RFC 3339 or a typed timestamp are rejected",
        file: "batch_invalid_dates.csv",
        vendor: Vendor::Batch,
        rejected: &[
            (2, 3, "a date(..) value must be a Unix timestamp in seconds or an RFC 3339 date"),
            (3, 4, "a date(..) value must be a Unix timestamp in seconds or an RFC 3339 date"),
            (4, 5, "type the column, e.g. date(released):integer"),
            (6, 7, "a date(..) value must be a Unix timestamp in seconds or an RFC 3339 date"),
        ],
        accepted: &["d1", "d5"],
        ..CASE
    },
    Case {
        behaviour: "batch: a date(..) column typed integer rejects an RFC 3339 cell",
        file: "batch_date_typed_integer.csv",
        vendor: Vendor::Batch,
        rejected: &[(2, 3, "column date(released): '2012-08-12T22:30:05Z' is not an integer")],
        accepted: &["t1"],
        values: &[("t1", "/attributes/date(released)", "1451642400")],
        ..CASE
    },
    Case {
        behaviour: "batch: a string of 10,001 characters is rejected, 10,000 is fine",
        file: "batch_string_too_long.csv",
        vendor: Vendor::Batch,
        rejected: &[(
            2,
            3,
            "attribute synopsis: a string has at most 10000 characters, this one 10001",
        )],
        accepted: &["s1", "s3"],
        ..CASE
    },
    Case {
        behaviour: "batch: arrays of 16 strings or with a 65-character string are rejected",
        file: "batch_arrays_too_long.csv",
        vendor: Vendor::Batch,
        rejected: &[
            (2, 3, "attribute cast: an array has at most 15 strings, this one 16"),
            (3, 4, "attribute cast: a string in an array has at most 64 characters"),
        ],
        accepted: &["a1", "a4"],
        ..CASE
    },
    Case {
        behaviour: "batch: a row with an empty id is rejected",
        file: "batch_missing_id.csv",
        vendor: Vendor::Batch,
        rejected: &[(2, 3, "the id field id is missing")],
        accepted: &["i1", "i3"],
        ..CASE
    },
    Case {
        behaviour: "batch: a header without the id column is unusable",
        file: "batch_missing_id_column.csv",
        vendor: Vendor::Batch,
        code: 2,
        error: "the CSV header has no 'id' column",
        ..CASE
    },
    Case {
        behaviour: "batch: items already in the API's shape are checked like flat ones",
        file: "batch_shaped_items.ndjson",
        vendor: Vendor::Batch,
        rejected: &[
            (2, 2, "action must be add or remove, not 'upsert'"),
            (3, 3, "attributes must be an object"),
            (4, 4, "attribute meta: objects are not a supported attribute type"),
            (5, 5, "attribute cast: arrays may only hold strings"),
            (6, 6, "attribute title: a string cannot be empty"),
        ],
        accepted: &["p1", "p7"],
        values: &[("p7", "/attributes/title", r#""Big""#)],
        ..CASE
    },
    Case {
        behaviour: "batch: ids that are booleans, objects, null or empty are rejected; a number is its text",
        file: "batch_id_wrong_type.json",
        vendor: Vendor::Batch,
        rejected: &[
            (3, 4, "the id field id must be a string"),
            (4, 5, "the id field id must be a string"),
            (5, 6, "the id field id is missing"),
            (6, 7, "the id field id is missing"),
        ],
        accepted: &["j1", "42"],
        values: &[("42", "/attributes/title", r#""Heat""#)],
        ..CASE
    },
    // ---- catalogix assets
    Case {
        behaviour: "catalogix: asset cells that are not http(s) URLs are rejected",
        file: "catalogix_invalid_urls.csv",
        vendor: Vendor::Catalogix,
        rejected: &[
            (2, 3, "asset 'Image URL 1': 'cdn.example.com/1.jpg' is not an http(s) URL"),
            (3, 4, "asset 'Image URL 2': 'ftp://files.example.com/3.jpg' is not an http(s) URL"),
            (4, 5, "asset 'Image URL 1': 'https:///no-host.jpg' is not an http(s) URL"),
        ],
        accepted: &["CX-1", "CX-5"],
        values: &[(
            "CX-1",
            "/assets",
            r#"{"Image URL 1":"https://cdn.example.com/1.jpg","Image URL 2":"https://cdn.example.com/2.jpg"}"#,
        )],
        ..CASE
    },
    Case {
        behaviour: "catalogix: a row without parent_code is rejected",
        file: "catalogix_missing_parent_code.csv",
        vendor: Vendor::Catalogix,
        rejected: &[(2, 3, "parent_code is missing")],
        accepted: &["CP-1", "CP-3"],
        ..CASE
    },
    Case {
        behaviour: "catalogix: a row whose asset cells are all empty is rejected",
        file: "catalogix_no_assets.csv",
        vendor: Vendor::Catalogix,
        rejected: &[(2, 3, "assets is missing: give at least one asset URL")],
        accepted: &["CN-1"],
        ..CASE
    },
    Case {
        behaviour: "catalogix: records with bad assets, stray keys or a numeric parent_code are rejected",
        file: "catalogix_assets_not_object.ndjson",
        vendor: Vendor::Catalogix,
        rejected: &[
            (2, 2, "assets must be an object of name → URL"),
            (3, 3, "asset 'main' must be a URL string"),
            (4, 4, "unexpected key 'sku'"),
            (5, 5, "parent_code must be a string"),
        ],
        accepted: &["CJ-1"],
        ..CASE
    },
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad")
}

fn describe(run: &Run) -> String {
    format!(
        "catops {}\nexit: {}\n--- stdout\n{}\n--- stderr\n{}",
        run.args.join(" "),
        run.code,
        run.stdout,
        run.stderr
    )
}

/// Imports `input` as `vendor` with `extra` arguments, checking what holds for any input:
/// no panic, and one `error:` line exactly when the run stopped as a whole.
fn import(env: &Env, sandbox: &Sandbox, vendor: Vendor, input: &str, extra: &[&str]) -> Run {
    let mut args = vendor.args(input);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = env.on(sandbox, vendor.profile(), &args);
    assert!(
        !run.stderr.contains("panicked"),
        "a panic\n{}",
        describe(&run)
    );
    run
}

/// The rejects file names each rejected row by row and line, with its reason, its record,
/// and its own bytes when they were not UTF-8.
fn check_rejects(case: &Case, lines: &[Value]) {
    let got: Vec<(u64, u64)> = lines
        .iter()
        .map(|l| (l["row"].as_u64().unwrap(), l["line"].as_u64().unwrap()))
        .collect();
    let want: Vec<(u64, u64)> = case.rejected.iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(got, want, "rejected (row, line)\n{lines:#?}");
    for (line, (row, _, reason)) in lines.iter().zip(case.rejected) {
        let error = line["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(reason),
            "row {row}: expected {reason:?} in {error:?}"
        );
        assert!(line.get("record").is_some(), "row {row} has no record");
        // A row shown with U+FFFD keeps its own bytes, so fixing and re-importing
        // the rejects file cannot store the replacement character.
        if line["record"].to_string().contains('\u{FFFD}') {
            use base64::Engine as _;
            let raw = line["raw_base64"]
                .as_str()
                .unwrap_or_else(|| panic!("row {row} lost its bytes: {line}"));
            let bytes = base64::prelude::BASE64_STANDARD.decode(raw).unwrap();
            assert!(std::str::from_utf8(&bytes).is_err(), "row {row}: {line}");
        }
    }
}

fn check(case: &Case) {
    let sandbox = case.vendor.sandbox();
    let env = Env::new();
    let input = fixtures().join(case.file);
    let run = import(
        &env,
        &sandbox,
        case.vendor,
        input.to_str().unwrap(),
        case.args,
    );
    assert_eq!(run.code, case.code, "exit code\n{}", describe(&run));
    assert!(
        !run.stderr.contains("warning:"),
        "no case here warns\n{}",
        describe(&run)
    );
    let stem = case.file.rsplit_once('.').unwrap().0;
    let rejects_name = format!("{stem}.rejects.ndjson");
    let rejects_path = env.home.path().join(&rejects_name);

    if case.code == 2 {
        let line = run.error_line();
        assert!(
            line.contains(case.file) && line.contains(case.error),
            "the error line should name {} and say {:?}\n{}",
            case.file,
            case.error,
            describe(&run)
        );
        assert!(
            !rejects_path.exists(),
            "no rejects file for an unusable input"
        );
        assert!(
            sandbox.bulk_sizes(case.vendor.name()).is_empty(),
            "nothing is sent from an unusable input"
        );
    } else {
        assert!(
            !run.stderr.lines().any(|l| l.starts_with("error:")),
            "rejected rows are not an error line\n{}",
            describe(&run)
        );
        let summary = run.json();
        let (rejected, accepted) = (case.rejected.len(), case.accepted.len());
        assert_eq!(summary["rejected"], rejected, "{}", describe(&run));
        assert_eq!(summary["accepted"], accepted, "{}", describe(&run));
        assert_eq!(summary["failed"], 0, "{}", describe(&run));
        assert_eq!(
            summary["rows_read"],
            rejected + accepted,
            "every row read is accepted or rejected\n{}",
            describe(&run)
        );
        if case.rejected.is_empty() {
            assert!(!rejects_path.exists(), "no rejects file without rejects");
            assert_eq!(summary["rejects_file"], Value::Null);
        } else {
            assert_eq!(summary["rejects_file"], rejects_name.as_str());
            check_rejects(case, &env.rejects(&rejects_name));
        }
    }

    let arrived = case.vendor.arrived(&env, &sandbox);
    let keys: BTreeSet<&str> = arrived.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = case.accepted.iter().copied().collect();
    assert_eq!(keys, want, "the rows that reached the vendor");
    for (key, pointer, json) in case.values {
        let want: Value = serde_json::from_str(json).unwrap();
        let got = arrived[*key].pointer(pointer);
        assert_eq!(got, Some(&want), "{key} {pointer}");
    }
}

#[test]
fn every_bad_input_ends_with_its_exit_code_rejects_and_the_good_rows_sent() {
    let mut failed = Vec::new();
    for case in CASES {
        if catch_unwind(AssertUnwindSafe(|| check(case))).is_err() {
            failed.push(format!("{} ({})", case.behaviour, case.file));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n  {}",
        failed.len(),
        CASES.len(),
        failed.join("\n  ")
    );
}

#[test]
fn the_corpus_has_one_case_per_file_and_at_least_thirty() {
    let files: BTreeSet<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    let cases: BTreeSet<String> = CASES.iter().map(|c| c.file.to_string()).collect();
    assert_eq!(cases.len(), CASES.len(), "two cases share a file");
    assert_eq!(
        files, cases,
        "fixtures without a case, or cases without a file"
    );
    assert!(CASES.len() >= 30, "only {} cases", CASES.len());
}

/// A CSV whose second row carries a 6 MiB cell, written to the test's temporary home.
#[test]
fn a_csv_row_over_5_mib_is_rejected_by_row_and_line_and_the_others_are_sent() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let big = "x".repeat(6 * 1024 * 1024);
    env.write(
        "huge_row.csv",
        &format!("sku,title,price:number\nHR-1,Shoe,10\nHR-2,{big},11\nHR-3,Hat,12\n"),
    );
    let run = import(&env, &sandbox, Vendor::Rastro, "huge_row.csv", &[]);
    assert_eq!(run.code, 3, "{}", describe(&run));
    assert_eq!(run.json()["accepted"], 2);
    let lines = env.rejects("huge_row.rejects.ndjson");
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (&lines[0]["row"], &lines[0]["line"]),
        (&2.into(), &3.into())
    );
    let error = lines[0]["error"].as_str().unwrap();
    assert!(
        error.contains("more than a request may carry (5 MiB)"),
        "{error}"
    );
    let arrived = Vendor::Rastro.arrived(&env, &sandbox);
    assert_eq!(
        arrived.keys().collect::<Vec<_>>(),
        ["HR-1", "HR-3"],
        "the good rows, and not the huge one"
    );
    assert!(
        sandbox.bulk_sizes("rastro").iter().all(|&n| n <= 2),
        "the huge row was never sent"
    );
}

/// A batch item within every attribute rule (600 strings of 10,000 characters) that is still
/// more than a request may carry.
#[test]
fn a_batch_ndjson_item_over_5_mib_is_rejected_and_the_others_are_sent() {
    let sandbox = Vendor::Batch.sandbox();
    let env = Env::new();
    let text = "y".repeat(10_000);
    let attributes: Vec<String> = (0..600).map(|n| format!("\"a{n}\":\"{text}\"")).collect();
    env.write(
        "huge_item.ndjson",
        &format!(
            "{{\"id\":\"h1\",\"title\":\"ok\"}}\n\n{{\"id\":\"h2\",{}}}\n{{\"id\":\"h3\",\"title\":\"ok\"}}\n",
            attributes.join(",")
        ),
    );
    let run = import(&env, &sandbox, Vendor::Batch, "huge_item.ndjson", &[]);
    assert_eq!(run.code, 3, "{}", describe(&run));
    let lines = env.rejects("huge_item.rejects.ndjson");
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (&lines[0]["row"], &lines[0]["line"]),
        (&2.into(), &3.into())
    );
    assert!(lines[0]["error"].as_str().unwrap().contains("(5 MiB)"));
    let arrived = Vendor::Batch.arrived(&env, &sandbox);
    assert_eq!(arrived.keys().collect::<Vec<_>>(), ["h1", "h3"]);
}

/// A header and rows of 10,000 columns: good rows arrive whole, a short row and a bad cell
/// far to the right are named.
#[test]
fn a_10k_column_csv_is_imported_and_its_bad_rows_named() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let header: Vec<String> = (1..10_000)
        .map(|n| match n {
            5000 => "c5000:number".to_string(),
            n => format!("c{n}"),
        })
        .collect();
    let row = |sku: &str, columns: usize, at_5000: &str| {
        let cells: Vec<String> = (1..=columns)
            .map(|n| match n {
                5000 => at_5000.to_string(),
                n => format!("v{n}"),
            })
            .collect();
        format!("{sku},{}\n", cells.join(","))
    };
    let csv = format!(
        "sku,{}\n{}{}{}{}",
        header.join(","),
        row("W-1", 9999, "5000"),
        row("W-2", 9998, "5000"),
        row("W-3", 9999, "x"),
        row("W-4", 9999, "5000.5"),
    );
    env.write("wide.csv", &csv);
    let run = import(&env, &sandbox, Vendor::Rastro, "wide.csv", &[]);
    assert_eq!(run.code, 3, "{}", describe(&run));
    let lines = env.rejects("wide.rejects.ndjson");
    let got: Vec<(u64, u64, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["row"].as_u64().unwrap(),
                l["line"].as_u64().unwrap(),
                l["error"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (2, 3, "the row has 9999 fields, the header has 10000"),
            (3, 4, "column c5000: 'x' is not a number"),
        ]
    );
    let arrived = Vendor::Rastro.arrived(&env, &sandbox);
    assert_eq!(arrived.keys().collect::<Vec<_>>(), ["W-1", "W-4"]);
    let wide = &arrived["W-4"];
    assert_eq!(wide["c1"], "v1");
    assert_eq!(wide["c9999"], "v9999");
    assert_eq!(wide["c5000"], 5000.5);
    assert!(wide.as_object().unwrap().len() >= 10_000);
}
