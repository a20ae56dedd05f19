//! What a failed request was: its status and the vendor's own message, read from the error
//! bodies the vendors document; and what that means for the exit code and the hints, in one
//! table (vendor modules add what only their vendor says).

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::error::{exit, one_line};
use catops_spec::VendorKind;

use super::HttpSettings;

/// A failed vendor call. `Display` is the one-line `error:` text: vendor, method, path, and the
/// vendor's own message.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{vendor}: {method} {path}: {status}: {message}")]
    Status {
        vendor: VendorKind,
        method: Method,
        path: String,
        status: StatusCode,
        message: String,
        /// The vendor's error code, where its body has one (e.g. clevertap's CATALOG_NOT_FOUND).
        code: Option<String>,
        /// Whether catops tried the request again before this answer, so hints say so truly.
        retried: Retried,
    },
    #[error("{vendor}: {method} {path}: {reason}")]
    Transport {
        vendor: VendorKind,
        method: Method,
        path: String,
        reason: String,
    },
    /// Ctrl-C or SIGTERM came while the request waited to be retried, or for the server's
    /// rate-limit window to reset.
    #[error("{vendor}: {method} {path}: interrupted while waiting to send the request")]
    Interrupted {
        vendor: VendorKind,
        method: Method,
        path: String,
    },
    /// A 2xx reply that says the request was refused (catalogix's `status.code` -1).
    #[error("{vendor}: {method} {path}: refused: {message}")]
    Refused {
        vendor: VendorKind,
        method: Method,
        path: String,
        message: String,
    },
    #[error("{vendor}: {method} {path}: unexpected response: {reason}")]
    Decode {
        vendor: VendorKind,
        method: Method,
        path: String,
        reason: String,
    },
}

/// How a request fared with retries: tried again `times` times, and whether a server error
/// may repeat it at all (a create may not: it could take effect twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retried {
    pub times: u32,
    pub idempotent: bool,
}

impl Retried {
    /// What the hint for a 429 or a 5xx says about retries: only what happened.
    fn advice(self, status: u16) -> String {
        let times = match self.times {
            1 => "once".to_string(),
            n => format!("{n} times"),
        };
        match (status, self.times, self.idempotent) {
            (429, 0, _) => "rate limited, and not retried (--max-retries 0): wait and try again (bulk runs: lower --rate), or raise --max-retries".to_string(),
            (429, _, _) => format!("rate limited even after retrying {times}: wait and try again (bulk runs: lower --rate), or raise --max-retries"),
            (_, 0, false) => "the vendor failed; this request is not repeated after a server error, as it could take effect twice: check whether it did before trying again".to_string(),
            (_, 0, true) => "the vendor failed, and it was not retried (--max-retries 0): try again later, or raise --max-retries".to_string(),
            _ => format!("the vendor failed, also when retried {times}: try again later, or raise --max-retries"),
        }
    }
}

impl ApiError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The vendor's answer without our vendor/method/path prefix, for a rejects line.
    pub fn reason(&self) -> String {
        match self {
            ApiError::Status {
                status, message, ..
            } => format!("{status}: {message}"),
            ApiError::Transport { reason, .. } => reason.clone(),
            ApiError::Refused { message, .. } => format!("refused: {message}"),
            ApiError::Interrupted { .. } => {
                "interrupted while waiting to send the request".to_string()
            }
            ApiError::Decode { reason, .. } => format!("unexpected response: {reason}"),
        }
    }

    pub fn vendor(&self) -> VendorKind {
        match self {
            ApiError::Status { vendor, .. }
            | ApiError::Transport { vendor, .. }
            | ApiError::Interrupted { vendor, .. }
            | ApiError::Refused { vendor, .. }
            | ApiError::Decode { vendor, .. } => *vendor,
        }
    }

    /// The vendor's error code, where its body has one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The exit code by status (a vendor module may know better from the vendor's own code).
    pub fn exit_code(&self) -> u8 {
        if matches!(self, ApiError::Interrupted { .. }) {
            return exit::INTERRUPTED;
        }
        match self.status().map(|s| s.as_u16()) {
            Some(401 | 403) => exit::AUTH,
            Some(404) => exit::NOT_FOUND,
            _ => exit::FAILURE,
        }
    }

    /// What the user can do about it, by status: the one table of advice (a vendor module
    /// may have a better word, see `vendors::explain`).
    pub fn hints(&self) -> Vec<String> {
        let hint = match self {
            ApiError::Status {
                status, retried, ..
            } => match status.as_u16() {
                401 => "the token was refused: check the profile's token source with `catops profile show`",
                403 => "the token is valid but lacks permission for this request",
                404 => "check the id or path; `catops catalogs list` shows the catalogs this token sees",
                code @ (429 | 500..=599) => return vec![retried.advice(code)],
                _ => return Vec::new(),
            },
            ApiError::Refused { .. } | ApiError::Interrupted { .. } => return Vec::new(),
            ApiError::Transport { reason, .. } if reason.contains("certificate") => {
                "the server's certificate is not trusted: if a proxy or a private CA signs it, set SSL_CERT_FILE to that CA's PEM file"
            }
            ApiError::Transport { .. } => {
                "check the base URL (`catops profile show`, --base-url) and the network; --timeout sets the per-request limit"
            }
            ApiError::Decode { .. } => {
                "the base URL may point at something other than the vendor's API (-v shows how the reply begins)"
            }
        };
        vec![hint.to_string()]
    }
}

pub fn transport_reason(err: &reqwest::Error, settings: &HttpSettings) -> String {
    if err.is_timeout() {
        return format!(
            "no response within {} s (--timeout)",
            settings.timeout.as_secs_f64()
        );
    }
    let mut reason = if err.is_connect() {
        "cannot connect".to_string()
    } else if err.is_body() || err.is_decode() {
        "the connection broke while reading the response".to_string()
    } else {
        "request failed".to_string()
    };
    // The innermost cause says the most ("Connection refused", "connection reset").
    let mut source = std::error::Error::source(err);
    let mut innermost = None;
    while let Some(cause) = source {
        innermost = Some(cause.to_string());
        source = cause.source();
    }
    if let Some(cause) = innermost {
        reason.push_str(": ");
        reason.push_str(&cause);
    }
    reason
}

/// Pulls the human message out of the error bodies the five vendors document
/// (`detail`, `error`, `error_message`, `message`, `status.message`, `errors[]`).
pub fn vendor_message(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let Ok(json) = serde_json::from_str::<Value>(text) else {
        return Some(describe_body(body));
    };
    let from_value = |value: &Value| -> Option<String> {
        match value {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Object(map) => map
                .get("message")
                .or_else(|| map.get("msg"))
                .and_then(Value::as_str)
                .map(str::to_string),
            Value::Array(items) => items.first().and_then(|first| match first {
                Value::String(s) => Some(s.clone()),
                Value::Object(map) => map
                    .get("message")
                    .or_else(|| map.get("msg"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                _ => None,
            }),
            _ => None,
        }
    };
    // catalogix's Get Assets page: `status.message` is a bare "ERROR"; the reason is in
    // `data.error_info[0]` as `details` (and `reason`).
    let error_info = json.pointer("/data/error_info/0").and_then(|info| {
        match (info.get("details"), info.get("reason")) {
            (Some(Value::String(details)), Some(Value::String(reason))) => {
                Some(format!("{details} ({reason})"))
            }
            (Some(Value::String(text)), _) | (None, Some(Value::String(text))) => {
                Some(text.clone())
            }
            _ => None,
        }
    });
    let message = ["detail", "error_message", "error", "message"]
        .iter()
        .filter_map(|key| json.get(key))
        .find_map(from_value)
        .or(error_info)
        .or_else(|| {
            ["status", "errors"]
                .iter()
                .filter_map(|key| json.get(key))
                .find_map(from_value)
        });
    let code = vendor_code(body);
    let code = code.as_deref();
    match (message, code) {
        (Some(message), Some(code)) => Some(one_line(&format!("{message} ({code})"))),
        (Some(message), None) => Some(one_line(&message)),
        (None, Some(code)) => Some(code.to_string()),
        (None, None) => Some(describe_body(body)),
    }
}

/// The vendor's error code from its error body, if it has one.
pub fn vendor_code(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    ["error_code", "code", "errorCode"]
        .iter()
        .find_map(|key| json.get(key)?.as_str().map(str::to_string))
}

/// A short description of a body that is not the JSON we expected.
pub fn describe_body(body: &[u8]) -> String {
    match body_kind(body).as_str() {
        "not JSON" => body_start(body),
        kind => kind.to_string(),
    }
}

/// What kind of non-JSON body this is, without quoting it.
pub fn body_kind(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        "an empty body, not JSON".to_string()
    } else if trimmed.starts_with('<') {
        "an HTML page, not JSON".to_string()
    } else {
        "not JSON".to_string()
    }
}

/// The first 200 characters of a body, on one line.
pub fn body_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let line = one_line(text.trim_start());
    if line.chars().count() > 200 || body.len() > 4096 {
        format!("{}…", line.chars().take(200).collect::<String>())
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_messages_from_each_documented_shape() {
        let cases: [(&str, &str); 8] = [
            (
                r#"{"status":"fail","code":"CATALOG_NOT_FOUND","error":"No catalog exists"}"#,
                "No catalog exists (CATALOG_NOT_FOUND)",
            ),
            (r#"{"detail":"catalog not found"}"#, "catalog not found"),
            (
                r#"{"error_message":"Invalid key","error_code":"AUTHENTICATION_INVALID"}"#,
                "Invalid key (AUTHENTICATION_INVALID)",
            ),
            (
                r#"{"error":"Forbidden — API key lacks required scope"}"#,
                "Forbidden — API key lacks required scope",
            ),
            (
                r#"{"status":{"code":-1,"message":"Unauthorized"}}"#,
                "Unauthorized",
            ),
            (r#"{"detail":[{"msg":"field required"}]}"#, "field required"),
            (
                "<html><body>Bad Gateway</body></html>",
                "an HTML page, not JSON",
            ),
            ("upstream   timed\nout", "upstream timed out"),
        ];
        for (body, expected) in cases {
            assert_eq!(
                vendor_message(body.as_bytes()).as_deref(),
                Some(expected),
                "{body}"
            );
        }
        assert_eq!(vendor_message(b""), None);
        assert_eq!(vendor_message(&[0xff, 0xfe]), None);
    }

    #[test]
    fn catalogix_error_info_details_beat_a_bare_error_status() {
        let body = br#"{"status":{"code":-1,"message":"ERROR","request_id":"r"},"data":{"error_info":[{"reason":"invalid_request","details":"store_uuid is required"}]}}"#;
        assert_eq!(
            vendor_message(body).as_deref(),
            Some("store_uuid is required (invalid_request)")
        );
    }

    #[test]
    fn exit_codes_by_status() {
        let err = |code: u16| ApiError::Status {
            vendor: VendorKind::Rastro,
            method: Method::GET,
            path: "/x".into(),
            status: StatusCode::from_u16(code).unwrap(),
            message: "m".into(),
            code: None,
            retried: Retried {
                times: 0,
                idempotent: true,
            },
        };
        assert_eq!(err(401).exit_code(), exit::AUTH);
        assert_eq!(err(403).exit_code(), exit::AUTH);
        assert_eq!(err(404).exit_code(), exit::NOT_FOUND);
        assert_eq!(err(422).exit_code(), exit::FAILURE);
        assert_eq!(err(500).exit_code(), exit::FAILURE);
        assert_eq!(err(404).to_string(), "rastro: GET /x: 404 Not Found: m");
        let interrupted = ApiError::Interrupted {
            vendor: VendorKind::Rastro,
            method: Method::GET,
            path: "/x".into(),
        };
        assert_eq!(interrupted.exit_code(), exit::INTERRUPTED, "SPEC §6");
    }

    #[test]
    fn hints_say_a_request_was_retried_only_when_it_was() {
        let hint = |code: u16, times: u32, idempotent: bool| {
            let err = ApiError::Status {
                vendor: VendorKind::Rastro,
                method: Method::POST,
                path: "/x".into(),
                status: StatusCode::from_u16(code).unwrap(),
                message: "m".into(),
                code: None,
                retried: Retried { times, idempotent },
            };
            err.hints().join(" ")
        };
        assert!(hint(503, 3, true).contains("retried 3 times"));
        assert!(hint(503, 1, true).contains("retried once"));
        assert!(hint(503, 0, true).contains("not retried (--max-retries 0)"));
        let create = hint(500, 0, false);
        assert!(
            create.contains("not repeated") && !create.contains("retried"),
            "{create}"
        );
        assert!(hint(429, 0, true).contains("not retried"));
        assert!(hint(429, 2, true).contains("even after retrying 2 times"));
        assert_eq!(hint(400, 0, true), "");
    }
}
