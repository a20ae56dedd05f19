//! Turning user input into typed JSON values. The bulk readers (CSV, JSON, NDJSON) grow here.

pub mod typed;
