//! The sandbox's one error type. A handler fails with a status, the vendor's error code where
//! it has them, and a message; each vendor's router renders that in the body its docs show
//! (the registry names the renderer), so a new vendor brings a function, not a type.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Fail {
    pub status: StatusCode,
    /// The vendor's error code (batch's `error_code`, clevertap's `code`).
    pub code: Option<&'static str>,
    pub message: String,
    /// Seconds, for a 429.
    pub retry_after: Option<u64>,
}

impl Fail {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Fail {
        Fail {
            status,
            code: None,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn coded(status: StatusCode, code: &'static str, message: impl Into<String>) -> Fail {
        Fail {
            code: Some(code),
            ..Fail::new(status, message)
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Fail {
        self.retry_after = Some(seconds);
        self
    }
}

pub fn bad_request(message: impl Into<String>) -> Fail {
    Fail::new(StatusCode::BAD_REQUEST, message)
}

pub fn unprocessable(message: impl Into<String>) -> Fail {
    Fail::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

impl From<rusqlite::Error> for Fail {
    fn from(err: rusqlite::Error) -> Self {
        Fail::coded(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            format!("database error: {err}"),
        )
    }
}

impl From<anyhow::Error> for Fail {
    fn from(err: anyhow::Error) -> Self {
        Fail::coded(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            err.to_string(),
        )
    }
}

/// The status and headers now; the body is written by the vendor's renderer (`render`).
impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// How a vendor words an error body.
pub type ErrorBody = fn(&Fail) -> Value;

/// Writes a failed response's body in the vendor's words; other responses pass.
pub async fn render(
    axum::extract::State(body): axum::extract::State<ErrorBody>,
    mut response: Response,
) -> Response {
    let Some(fail) = response.extensions_mut().remove::<Fail>() else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body(&fail).to_string()))
}
