//! The HTTP core every vendor uses: auth headers, timeouts, retries with backoff that honours
//! `Retry-After`, `-v`/`-vv` logs with secrets redacted, and the one place where an HTTP status
//! and a vendor's error body become our error, its exit code and a hint.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Secret;
use crate::error::{exit, one_line, Failure};
use crate::redact::Redactor;
use crate::vendors::VendorKind;

/// First retry waits about this long; each further one doubles it.
const BASE_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(20);
/// A `Retry-After` longer than this is cut short: a CI job would rather fail than sleep an hour.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// `-vv` shows at most this much of each body.
const LOG_BODY_LIMIT: usize = 4096;

#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub timeout: Duration,
    pub max_retries: u32,
    pub verbosity: u8,
}

/// One authentication header; `secret` ones are redacted in logs.
pub struct AuthHeader {
    name: HeaderName,
    value: HeaderValue,
}

impl AuthHeader {
    pub fn bearer(token: &Secret) -> anyhow::Result<AuthHeader> {
        let mut value = header_value("the token", &format!("Bearer {}", token.expose()))?;
        value.set_sensitive(true);
        Ok(AuthHeader {
            name: AUTHORIZATION,
            value,
        })
    }

    pub fn plain(name: &'static str, value: &str) -> anyhow::Result<AuthHeader> {
        let value = header_value(name, value)?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Failure::usage(format!("invalid header name {name}")))?;
        Ok(AuthHeader { name, value })
    }

    pub fn secret(name: &'static str, value: &str) -> anyhow::Result<AuthHeader> {
        let mut header = AuthHeader::plain(name, value)?;
        header.value.set_sensitive(true);
        Ok(header)
    }
}

/// The error never quotes the value: it may be a token.
fn header_value(what: &str, value: &str) -> anyhow::Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| {
        Failure::usage(format!("{what} must be printable ASCII without newlines")).into()
    })
}

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
    },
    #[error("{vendor}: {method} {path}: {reason}")]
    Transport {
        vendor: VendorKind,
        method: Method,
        path: String,
        reason: String,
    },
    /// Ctrl-C or SIGTERM came while the request waited to be retried.
    #[error("{vendor}: {method} {path}: interrupted before a retry")]
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
            ApiError::Interrupted { .. } => "interrupted before a retry".to_string(),
            ApiError::Decode { reason, .. } => format!("unexpected response: {reason}"),
        }
    }

    pub fn exit_code(&self) -> u8 {
        // vendors/clevertap.txt names its errors by code; the code decides over the status.
        if let ApiError::Status {
            code: Some(code), ..
        } = self
        {
            match code.as_str() {
                "CATALOG_NOT_FOUND" => return exit::NOT_FOUND,
                "AUTHENTICATION_FAILED" | "AUTHORIZATION_FAILED" => return exit::AUTH,
                _ => {}
            }
        }
        match self.status().map(|s| s.as_u16()) {
            Some(401 | 403) => exit::AUTH,
            Some(404) => exit::NOT_FOUND,
            _ => exit::FAILURE,
        }
    }

    /// What the user can do about it, by status: the one table of advice.
    pub fn hints(&self) -> Vec<String> {
        let hint = match self {
            ApiError::Status {
                vendor: VendorKind::Catalogian,
                status,
                ..
            } if status.as_u16() == 403 => {
                "the key lacks a scope: `delta rows` needs read:rows; create a key with read:rows under Source Settings → API Keys"
            }
            ApiError::Status {
                vendor: VendorKind::Clevertap,
                status,
                ..
            } if matches!(status.as_u16(), 401 | 403) => {
                // developer.clevertap.com/docs/product-catalog-api: an account without the
                // feature is refused with "Catalog feature is not enabled for this account".
                "check account_id, region and the passcode (`catops profile show`); an account without the Catalogs feature is refused too (\"Catalog feature is not enabled for this account\")"
            }
            ApiError::Status { status, .. } => match status.as_u16() {
                401 => "the token was refused: check the profile's token source with `catops profile show`",
                403 => "the token is valid but lacks permission for this request",
                404 => "check the id or path; `catops catalogs list` shows the catalogs this token sees",
                429 => "rate limited even after retries: lower --rate, or raise --max-retries",
                500..=599 => "the vendor failed; it was retried. Try again later, or raise --max-retries",
                _ => return Vec::new(),
            },
            ApiError::Refused { .. } | ApiError::Interrupted { .. } => return Vec::new(),
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

/// A client bound to one vendor's base URL and credentials.
pub struct Http {
    client: reqwest::Client,
    base_url: Url,
    vendor: VendorKind,
    auth: HeaderMap,
    redactor: Redactor,
    settings: HttpSettings,
    retries: AtomicU64,
    throttled: AtomicU64,
}

/// A response with a 2xx status.
pub struct Success {
    pub body: bytes::Bytes,
}

/// A reply's body: read (up to the bound), or left open to be streamed.
pub enum Reply {
    Read(bytes::Bytes),
    Open(reqwest::Response),
}

/// The most of one reply catops holds: a page of a listing (1000 items) or a bulk answer is
/// far below it.
pub const MAX_REPLY_BYTES: usize = 64 << 20;
/// Of an error reply only the start is kept: the vendor's message is in it.
const MAX_ERROR_BYTES: usize = 1 << 20;

/// Reads up to `limit` bytes of a body; true when there was more (not read).
pub async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<(bytes::Bytes, bool), reqwest::Error> {
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body.freeze(), true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body.freeze(), false))
}

impl Http {
    pub fn new(
        vendor: VendorKind,
        base_url: &str,
        auth: Vec<AuthHeader>,
        secret: &Secret,
        settings: HttpSettings,
    ) -> anyhow::Result<Http> {
        let base_url = check_base_url(base_url)?;
        // reqwest leaves the choice of crypto provider to us; ring keeps the build free of cmake.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut client = reqwest::Client::builder()
            .user_agent(concat!("catops/", env!("CARGO_PKG_VERSION")))
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            // A redirect could lead the credentials to another host or to plain HTTP.
            .redirect(reqwest::redirect::Policy::none());
        if is_loopback(&base_url) {
            // A CI proxy cannot reach our loopback sandbox, and must not see its token.
            client = client.no_proxy();
        }
        if base_url.scheme() == "http" {
            // Plain HTTP (loopback only) needs no trust roots: skip loading the system's, which
            // costs more than the whole request. Verification stays on: nothing is trusted.
            client = client.tls_certs_only(Vec::<reqwest::Certificate>::new());
        }
        let client = client
            .build()
            .map_err(|err| anyhow::anyhow!("cannot set up the HTTP client: {err}"))?;
        let mut headers = HeaderMap::new();
        for header in auth {
            headers.insert(header.name, header.value);
        }
        Ok(Http {
            client,
            base_url,
            vendor,
            auth: headers,
            redactor: Redactor::new([secret.expose()]),
            settings,
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
        })
    }

    pub fn vendor(&self) -> VendorKind {
        self.vendor
    }

    /// Requests retried so far (the bulk summary reports it).
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// 429 answers so far: the bulk pipeline lowers its rate when this grows.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let reply = self.send(Method::GET, path, query, None, true).await?;
        self.decode(&Method::GET, path, &reply.body)
    }

    /// Sends a JSON body. `idempotent` says whether a 5xx or a timeout may be retried: a
    /// repeated create could make a duplicate, a repeated update or upsert cannot.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        idempotent: bool,
    ) -> Result<T, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|err| ApiError::Decode {
            vendor: self.vendor,
            method: method.clone(),
            path: path.to_string(),
            reason: format!("cannot encode the request body: {err}"),
        })?;
        let reply = self
            .send(
                method.clone(),
                path,
                &[],
                Some(bytes::Bytes::from(bytes)),
                idempotent,
            )
            .await?;
        self.decode(&method, path, &reply.body)
    }

    /// Decodes a 2xx body into the type that holds what the vendor's docs promise. Anything
    /// else is an error naming what was missing: never an empty list, never "accepted".
    pub fn decode<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
    ) -> Result<T, ApiError> {
        serde_json::from_slice(body).map_err(|err| {
            let what = if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
                // "missing field `content` at line 1 column 40": the field is what matters.
                let text = err.to_string();
                match text.find(" at line ") {
                    Some(at) => text[..at].to_string(),
                    None => text,
                }
            } else {
                body_kind(body)
            };
            self.unexpected(method, path, body, what)
        })
    }

    /// A 2xx reply whose body says the request was refused.
    pub fn refused(&self, method: &Method, path: &str, message: impl Into<String>) -> ApiError {
        ApiError::Refused {
            vendor: self.vendor,
            method: method.clone(),
            path: path.to_string(),
            message: self.redact(&message.into()),
        }
    }

    /// A 2xx reply without what the docs promise. With `-v` the error shows how the body
    /// begins, which usually tells what answered instead (a proxy's page, another API).
    pub fn unexpected(
        &self,
        method: &Method,
        path: &str,
        body: &[u8],
        what: impl Into<String>,
    ) -> ApiError {
        let mut reason = what.into();
        if self.settings.verbosity >= 1 {
            reason.push_str(&format!("; the body begins: {}", body_start(body)));
        }
        ApiError::Decode {
            vendor: self.vendor,
            method: method.clone(),
            path: path.to_string(),
            reason: self.redact(&reason),
        }
    }

    /// Sends one request, retrying what SPEC §4 says to retry, and returns a 2xx reply.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<bytes::Bytes>,
        idempotent: bool,
    ) -> Result<Success, ApiError> {
        let (status, body) = self
            .send_raw(method.clone(), path, query, body, idempotent)
            .await?;
        if status.is_success() {
            Ok(Success { body })
        } else {
            Err(self.status_error(&method, path, status, &body))
        }
    }

    /// Like `send`, but any final status is returned with its body.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<bytes::Bytes>,
        idempotent: bool,
    ) -> Result<(StatusCode, bytes::Bytes), ApiError> {
        let (status, reply) = self
            .exchange(method.clone(), path, query, body, idempotent, false)
            .await?;
        match reply {
            Reply::Read(bytes) => Ok((status, bytes)),
            Reply::Open(response) => {
                let (bytes, _) = read_bounded(response, MAX_REPLY_BYTES)
                    .await
                    .map_err(|err| self.transport_error(&method, path, &err))?;
                Ok((status, bytes))
            }
        }
    }

    /// Like `send_raw`, but a 2xx reply is left open to be streamed (`catops api`): it may be
    /// larger than catops would hold.
    pub async fn send_streaming(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<bytes::Bytes>,
        idempotent: bool,
    ) -> Result<(StatusCode, Reply), ApiError> {
        self.exchange(method, path, query, body, idempotent, true)
            .await
    }

    /// One request with its retries. A reply's body is read up to a bound: a page of a listing
    /// or a bulk answer is far below it, and a server that sends gigabytes must not take the
    /// memory with it.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<bytes::Bytes>,
        idempotent: bool,
        stream_success: bool,
    ) -> Result<(StatusCode, Reply), ApiError> {
        let url = self.url(path, query);
        let mut attempt = 0u32;
        loop {
            let started = Instant::now();
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .headers(self.auth.clone());
            if let Some(body) = &body {
                if !self.auth.contains_key(CONTENT_TYPE) {
                    request = request.header(CONTENT_TYPE, "application/json");
                }
                request = request.body(body.clone());
            }
            self.log_request(&method, &url, body.as_deref());
            let outcome = match request.send().await {
                Ok(response) if stream_success && response.status().is_success() => {
                    let status = response.status();
                    self.log_response(&method, &url, Some(status), started.elapsed(), None);
                    return Ok((status, Reply::Open(response)));
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    let limit = if status.is_success() {
                        MAX_REPLY_BYTES
                    } else {
                        MAX_ERROR_BYTES
                    };
                    match read_bounded(response, limit).await {
                        Ok((bytes, cut)) => Ok((status, retry_after, bytes, cut)),
                        Err(err) => Err(err),
                    }
                }
                Err(err) => Err(err),
            };
            let elapsed = started.elapsed();
            let retries_left = attempt < self.settings.max_retries;
            match outcome {
                Ok((status, retry_after, bytes, cut)) => {
                    self.log_response(&method, &url, Some(status), elapsed, Some(&bytes));
                    if cut && status.is_success() {
                        return Err(self.unexpected(
                            &method,
                            path,
                            &bytes,
                            format!(
                                "the reply is over {} MiB, more than catops reads of one response (catops api streams any size)",
                                MAX_REPLY_BYTES >> 20
                            ),
                        ));
                    }
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        self.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS
                        || (status.is_server_error() && idempotent);
                    if status.is_success() || !(retryable && retries_left) {
                        return Ok((status, Reply::Read(bytes)));
                    }
                    if !self
                        .wait_before_retry(attempt, retry_after, &status.to_string())
                        .await
                    {
                        return Err(self.interrupted(&method, path));
                    }
                }
                Err(err) => {
                    self.log_response(&method, &url, None, elapsed, None);
                    // A refused connection never reached the server, so even a create may retry.
                    let retryable = err.is_connect() || idempotent;
                    if !(retryable && retries_left) {
                        return Err(self.transport_error(&method, path, &err));
                    }
                    let why = transport_reason(&err, &self.settings);
                    if !self.wait_before_retry(attempt, None, &why).await {
                        return Err(self.interrupted(&method, path));
                    }
                }
            }
            attempt += 1;
        }
    }

    /// Sleeps before a retry; false when Ctrl-C or SIGTERM cut the wait short (nobody waits
    /// out a long `Retry-After` after asking to stop).
    async fn wait_before_retry(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        why: &str,
    ) -> bool {
        self.retries.fetch_add(1, Ordering::Relaxed);
        let delay = backoff_delay(attempt, retry_after, fastrand::f64());
        if self.settings.verbosity >= 1 {
            eprintln!(
                "* {why}; retrying in {} ms (retry {}/{})",
                delay.as_millis(),
                attempt + 1,
                self.settings.max_retries
            );
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = crate::interrupt::interrupted() => false,
        }
    }

    fn interrupted(&self, method: &Method, path: &str) -> ApiError {
        ApiError::Interrupted {
            vendor: self.vendor,
            method: method.clone(),
            path: path.to_string(),
        }
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        // SPEC §1: vendor paths are appended to the base URL's path as the docs write them.
        let mut url = self.base_url.clone();
        url.set_path(&format!(
            "{}{}",
            self.base_url.path().trim_end_matches('/'),
            path
        ));
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        url
    }

    pub fn status_error(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        body: &[u8],
    ) -> ApiError {
        let message = vendor_message(body)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
        ApiError::Status {
            vendor: self.vendor,
            method: method.clone(),
            path: path.to_string(),
            status,
            message: self.redact(&message),
            code: vendor_code(body),
        }
    }

    fn transport_error(&self, method: &Method, path: &str, err: &reqwest::Error) -> ApiError {
        ApiError::Transport {
            vendor: self.vendor,
            method: method.clone(),
            path: path.to_string(),
            reason: self.redact(&transport_reason(err, &self.settings)),
        }
    }

    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    fn log_request(&self, method: &Method, url: &Url, body: Option<&[u8]>) {
        if self.settings.verbosity < 2 {
            return;
        }
        let mut lines = format!("> {method} {url}\n");
        for (name, value) in &self.auth {
            let shown = if value.is_sensitive() {
                "***".to_string()
            } else {
                value.to_str().unwrap_or("?").to_string()
            };
            lines.push_str(&format!("> {name}: {shown}\n"));
        }
        if let Some(body) = body {
            lines.push_str(&format!("> {}\n", clip(body)));
        }
        eprint!("{}", self.redact(&lines));
    }

    fn log_response(
        &self,
        method: &Method,
        url: &Url,
        status: Option<StatusCode>,
        elapsed: Duration,
        body: Option<&[u8]>,
    ) {
        if self.settings.verbosity < 1 {
            return;
        }
        let status = status.map_or("no response".to_string(), |s| s.as_u16().to_string());
        let mut lines = format!("{method} {url} {status} {} ms\n", elapsed.as_millis());
        if self.settings.verbosity >= 2 {
            if let Some(body) = body {
                lines.push_str(&format!("< {}\n", clip(body)));
            }
        }
        eprint!("{}", self.redact(&lines));
    }
}

/// SPEC §7: plain HTTP would send the token in the clear, so only loopback may use it.
fn check_base_url(base_url: &str) -> anyhow::Result<Url> {
    let url = Url::parse(base_url)
        .map_err(|err| Failure::usage(format!("invalid base URL '{base_url}': {err}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Failure::usage(format!(
            "refusing plain-HTTP base URL {base_url}: the token would travel unencrypted"
        ))
        .hint("use https://, or http:// only with a loopback host (127.0.0.1, ::1, localhost)")
        .into()),
        other => Err(Failure::usage(format!(
            "unsupported scheme '{other}' in base URL {base_url}: use https://"
        ))
        .into()),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Exponential backoff with equal jitter (half fixed, half random, so retries from parallel
/// requests spread out). A `Retry-After` from the server is a floor we add a little jitter to.
pub fn backoff_delay(attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    let exponential = BASE_DELAY
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_DELAY);
    let backoff = exponential.mul_f64(0.5 + jitter / 2.0);
    match retry_after {
        Some(wait) => wait.min(MAX_RETRY_AFTER) + BASE_DELAY.mul_f64(jitter),
        None => backoff,
    }
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn transport_reason(err: &reqwest::Error, settings: &HttpSettings) -> String {
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
fn vendor_code(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    ["error_code", "code", "errorCode"]
        .iter()
        .find_map(|key| json.get(key)?.as_str().map(str::to_string))
}

/// A short description of a body that is not the JSON we expected.
fn describe_body(body: &[u8]) -> String {
    match body_kind(body).as_str() {
        "not JSON" => body_start(body),
        kind => kind.to_string(),
    }
}

/// What kind of non-JSON body this is, without quoting it.
fn body_kind(body: &[u8]) -> String {
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
fn body_start(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let line = one_line(text.trim_start());
    if line.chars().count() > 200 || body.len() > 4096 {
        format!("{}…", line.chars().take(200).collect::<String>())
    } else {
        line
    }
}

fn clip(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(LOG_BODY_LIMIT)]).into_owned();
    if body.len() > LOG_BODY_LIMIT {
        format!("{text}… ({} more bytes)", body.len() - LOG_BODY_LIMIT)
    } else {
        text
    }
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("vendor", &self.vendor)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_delay(0, None, 1.0), Duration::from_millis(250));
        assert_eq!(backoff_delay(0, None, 0.0), Duration::from_millis(125));
        assert_eq!(backoff_delay(3, None, 1.0), Duration::from_secs(2));
        assert_eq!(backoff_delay(30, None, 1.0), MAX_DELAY);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let wait = backoff_delay(0, Some(Duration::from_secs(3)), 0.5);
        assert!(wait >= Duration::from_secs(3) && wait < Duration::from_millis(3300));
        let capped = backoff_delay(0, Some(Duration::from_secs(100_000)), 0.0);
        assert_eq!(capped, MAX_RETRY_AFTER);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("1e300"));
        assert_eq!(retry_after(&headers), None, "absurd values must not panic");
        headers.insert("retry-after", HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&headers), None);
    }

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
    fn plain_http_only_for_loopback() {
        assert!(check_base_url("https://catalogapi.rastro.ai/api").is_ok());
        assert!(check_base_url("http://127.0.0.1:8787/rastro/api").is_ok());
        assert!(check_base_url("http://localhost:1/x").is_ok());
        assert!(check_base_url("http://[::1]:1/x").is_ok());
        assert!(check_base_url("http://example.com/api").is_err());
        assert!(check_base_url("ftp://127.0.0.1/").is_err());
        assert!(check_base_url("not a url").is_err());
    }

    fn test_http(token: &str, verbosity: u8) -> Http {
        let token = Secret::new(token.to_string());
        let settings = HttpSettings {
            timeout: Duration::from_secs(1),
            max_retries: 0,
            verbosity,
        };
        let auth = vec![AuthHeader::bearer(&token).unwrap()];
        Http::new(
            VendorKind::Rastro,
            "http://127.0.0.1:9/api",
            auth,
            &token,
            settings,
        )
        .unwrap()
    }

    #[test]
    fn errors_never_quote_the_token() {
        // -v: the decode error quotes the start of the body.
        let http = test_http("tok-SECRET-42", 1);
        let echo = br#"{"detail":"bad header Authorization: Bearer tok-SECRET-42"}"#;
        let status = http.status_error(&Method::GET, "/x", StatusCode::BAD_REQUEST, echo);
        assert!(!status.to_string().contains("tok-SECRET-42"), "{status}");
        let decode = http
            .decode::<Vec<u8>>(&Method::GET, "/x", b"echo: Bearer tok-SECRET-42")
            .unwrap_err();
        assert!(!decode.to_string().contains("tok-SECRET-42"), "{decode}");
        assert!(decode.to_string().contains("***"), "{decode}");
    }

    #[test]
    fn a_reply_without_the_documented_fields_names_what_is_missing() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Listing {
            content: Vec<Value>,
        }
        let http = test_http("t0ken-0123456789", 0);
        let missing = http
            .decode::<Listing>(&Method::GET, "/v2/catalogs", br#"{"catalogs":[]}"#)
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "rastro: GET /v2/catalogs: unexpected response: missing field `content`"
        );
        let html = http
            .decode::<Listing>(&Method::GET, "/x", b"<html>login</html>")
            .unwrap_err();
        assert!(
            html.to_string().ends_with("an HTML page, not JSON"),
            "{html}"
        );
        assert!(
            !html.to_string().contains("login"),
            "the body only with -v: {html}"
        );
        let verbose = test_http("t0ken-0123456789", 1)
            .decode::<Listing>(&Method::GET, "/x", b"<html>login</html>")
            .unwrap_err();
        assert!(
            verbose.to_string().contains("the body begins: <html>login"),
            "{verbose}"
        );
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
    fn a_refused_clevertap_token_mentions_the_catalogs_feature() {
        let err = ApiError::Status {
            vendor: VendorKind::Clevertap,
            method: Method::GET,
            path: "/v2/catalogs".into(),
            status: StatusCode::FORBIDDEN,
            message: "m".into(),
            code: None,
        };
        assert!(err.hints()[0].contains("Catalog feature is not enabled"));
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_a_usage_error() {
        let err = AuthHeader::bearer(&Secret::new("line\nbreak".to_string()))
            .err()
            .unwrap();
        assert!(!err.to_string().contains("break"), "{err}");
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
        };
        assert_eq!(err(401).exit_code(), exit::AUTH);
        assert_eq!(err(403).exit_code(), exit::AUTH);
        assert_eq!(err(404).exit_code(), exit::NOT_FOUND);
        assert_eq!(err(422).exit_code(), exit::FAILURE);
        assert_eq!(err(500).exit_code(), exit::FAILURE);
        assert_eq!(err(404).to_string(), "rastro: GET /x: 404 Not Found: m");
    }
}
