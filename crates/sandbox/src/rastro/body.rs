//! Reading rastro requests and writing its replies: JSON bodies, integer query parameters.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::{unprocessable, Fail};

pub fn parse_body(body: &Bytes) -> Result<Value, Fail> {
    serde_json::from_slice(body).map_err(|err| unprocessable(format!("invalid JSON body: {err}")))
}

pub fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A non-negative integer query parameter, at least `min`.
pub fn query_number(
    query: &HashMap<String, String>,
    key: &str,
    default: u64,
    min: u64,
) -> Result<u64, Fail> {
    match query.get(key) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= min && *n <= i64::MAX as u64)
            .ok_or_else(|| unprocessable(format!("{key} must be an integer ≥ {min}, got '{raw}'"))),
    }
}
