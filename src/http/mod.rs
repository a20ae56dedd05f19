//! The HTTP core every vendor uses: a client bound to a base URL and credentials, retries
//! with backoff that honour `Retry-After`, replies read up to a bound and decoded into what
//! the docs promise. Authentication, errors, retries, logs and bodies are the modules below.

mod auth;
mod body;
mod error;
mod log;
mod pace;
mod retry;
mod signed;
mod trust;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::redact::Redactor;
use crate::secret::Secret;
use catops_spec::VendorKind;

pub use auth::AuthHeader;
use auth::{check_base_url, is_loopback};
use body::MAX_ERROR_BYTES;
pub use body::{read_bounded, Reply, MAX_REPLY_BYTES};
use error::{body_kind, body_start, transport_reason, vendor_code};
pub use error::{vendor_message, ApiError, Retried};
use pace::Pacer;
use retry::{backoff_delay, retry_after};
pub use signed::FilePart;

#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub timeout: Duration,
    pub max_retries: u32,
    pub verbosity: u8,
}

/// A client bound to one vendor's base URL and credentials.
pub struct Http {
    client: reqwest::Client,
    base_url: Url,
    vendor: VendorKind,
    auth: HeaderMap,
    /// Headers the user added (`catops api -H`); never one of `auth`.
    extra: HeaderMap,
    redactor: Redactor,
    settings: HttpSettings,
    retries: AtomicU64,
    throttled: AtomicU64,
    pushback: AtomicU64,
    pacer: Pacer,
}

/// A response with a 2xx status.
pub struct Success {
    pub body: bytes::Bytes,
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
        } else {
            client = trust::trust(client)?;
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
            extra: HeaderMap::new(),
            redactor: Redactor::new([secret.expose()]),
            settings,
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            pushback: AtomicU64::new(0),
            pacer: Pacer::default(),
        })
    }

    pub fn vendor(&self) -> VendorKind {
        self.vendor
    }

    /// The same client with its authentication headers renamed (`from` → `to`), for a vendor
    /// whose pages name the same credentials differently per endpoint (clevertap's products
    /// pages). A secret header stays secret; counters start at zero.
    pub fn with_auth_renamed(&self, renames: &[(&str, &'static str)]) -> Http {
        let mut auth = HeaderMap::new();
        for (name, value) in &self.auth {
            let renamed = renames
                .iter()
                .find(|(from, _)| name.as_str().eq_ignore_ascii_case(from))
                .and_then(|(_, to)| reqwest::header::HeaderName::from_bytes(to.as_bytes()).ok());
            auth.insert(renamed.unwrap_or_else(|| name.clone()), value.clone());
        }
        Http {
            client: self.client.clone(),
            base_url: self.base_url.clone(),
            vendor: self.vendor,
            auth,
            extra: self.extra.clone(),
            redactor: self.redactor.clone(),
            settings: self.settings.clone(),
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            pushback: AtomicU64::new(0),
            pacer: Pacer::default(),
        }
    }

    /// Sends `headers` with every request too (`catops api -H`). A header the profile
    /// authenticates with is never replaced: its name comes back as the error.
    pub fn with_headers(mut self, headers: HeaderMap) -> Result<Http, reqwest::header::HeaderName> {
        if let Some(taken) = headers.keys().find(|name| self.auth.contains_key(*name)) {
            return Err(taken.clone());
        }
        self.extra = headers;
        Ok(self)
    }

    /// Requests retried so far (the bulk summary reports it).
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// 429 answers so far: the bulk pipeline lowers its rate when this grows.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Tries the service pushed back on so far (429, 5xx, a timeout, a broken connection):
    /// the bulk pipeline sends fewer requests at once when this grows.
    pub fn pushback(&self) -> u64 {
        self.pushback.load(Ordering::Relaxed)
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
        let (status, reply, retried) = self
            .exchange(method.clone(), path, query, body, idempotent, false)
            .await?;
        let body = self.read_reply(&method, path, reply).await?;
        if status.is_success() {
            Ok(Success { body })
        } else {
            Err(self.status_error(&method, path, status, &body, retried))
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
        let (status, reply, _) = self
            .exchange(method.clone(), path, query, body, idempotent, false)
            .await?;
        Ok((status, self.read_reply(&method, path, reply).await?))
    }

    async fn read_reply(
        &self,
        method: &Method,
        path: &str,
        reply: Reply,
    ) -> Result<bytes::Bytes, ApiError> {
        match reply {
            Reply::Read(bytes) => Ok(bytes),
            Reply::Open(response) => read_bounded(response, MAX_REPLY_BYTES)
                .await
                .map(|(bytes, _)| bytes)
                .map_err(|err| self.transport_error(method, path, &err)),
        }
    }

    /// Like `send_raw`, but a 2xx reply is left open to be streamed (`catops api`): it may be
    /// larger than catops would hold. Also says how the request fared with retries, for the
    /// error of a final non-2xx status.
    pub async fn send_streaming(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<bytes::Bytes>,
        idempotent: bool,
    ) -> Result<(StatusCode, Reply, Retried), ApiError> {
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
    ) -> Result<(StatusCode, Reply, Retried), ApiError> {
        let call = Call {
            url: self.url(path, query),
            method: &method,
            path,
            body: body.as_ref(),
            idempotent,
            stream_success,
        };
        let mut attempt = 0u32;
        loop {
            if !self.pace().await {
                return Err(self.interrupted(&method, path));
            }
            let retries_left = attempt < self.settings.max_retries;
            match self.attempt(&call, retries_left).await {
                Attempt::Final(result) => {
                    let retried = Retried {
                        times: attempt,
                        idempotent,
                    };
                    return result.map(|(status, reply)| (status, reply, retried));
                }
                Attempt::Retry { after, why } => {
                    if !self.wait_before_retry(attempt, after, &why).await {
                        return Err(self.interrupted(&method, path));
                    }
                }
            }
            attempt += 1;
        }
    }

    /// One try of a call: its final result, or why and when to try again.
    async fn attempt(&self, call: &Call<'_>, retries_left: bool) -> Attempt {
        let (method, url) = (call.method, &call.url);
        let started = Instant::now();
        let mut request = self
            .client
            .request(method.clone(), url.clone())
            .headers(self.extra.clone())
            .headers(self.auth.clone());
        if let Some(body) = call.body {
            if !self.auth.contains_key(CONTENT_TYPE) && !self.extra.contains_key(CONTENT_TYPE) {
                request = request.header(CONTENT_TYPE, "application/json");
            }
            request = request.body(body.clone());
        }
        self.log_request(method, url, call.body.map(|b| &b[..]));
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return self.failed_attempt(call, &err, started, retries_left),
        };
        let status = response.status();
        self.pacer.note(response.headers());
        if call.stream_success && status.is_success() {
            self.log_response(method, url, Some(status), started.elapsed(), None);
            return Attempt::Final(Ok((status, Reply::Open(response))));
        }
        let retry_after = retry_after(response.headers());
        let limit = if status.is_success() {
            MAX_REPLY_BYTES
        } else {
            MAX_ERROR_BYTES
        };
        let (bytes, cut) = match read_bounded(response, limit).await {
            Ok(read) => read,
            Err(err) => return self.failed_attempt(call, &err, started, retries_left),
        };
        self.log_response(method, url, Some(status), started.elapsed(), Some(&bytes));
        if cut && status.is_success() {
            return Attempt::Final(Err(self.unexpected(
                method,
                call.path,
                &bytes,
                format!(
                    "the reply is over {} MiB, more than catops reads of one response (catops api streams any size)",
                    MAX_REPLY_BYTES >> 20
                ),
            )));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            self.pushback.fetch_add(1, Ordering::Relaxed);
        }
        let retryable = status == StatusCode::TOO_MANY_REQUESTS
            || (status.is_server_error() && call.idempotent);
        if status.is_success() || !(retryable && retries_left) {
            return Attempt::Final(Ok((status, Reply::Read(bytes))));
        }
        Attempt::Retry {
            after: retry_after,
            why: status.to_string(),
        }
    }

    /// A request that got no reply, or whose reply broke off.
    fn failed_attempt(
        &self,
        call: &Call<'_>,
        err: &reqwest::Error,
        started: Instant,
        retries_left: bool,
    ) -> Attempt {
        self.log_response(call.method, &call.url, None, started.elapsed(), None);
        self.pushback.fetch_add(1, Ordering::Relaxed);
        // A refused connection never reached the server, so even a create may retry.
        let retryable = err.is_connect() || call.idempotent;
        if !(retryable && retries_left) {
            return Attempt::Final(Err(self.transport_error(call.method, call.path, err)));
        }
        Attempt::Retry {
            after: None,
            why: transport_reason(err, &self.settings),
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

    /// Holds a request back while the server's rate-limit headers say its window is used up
    /// (see `pace`); false when Ctrl-C or SIGTERM cut the wait short.
    async fn pace(&self) -> bool {
        while let Some((wait, why)) = self.pacer.wait() {
            if self.settings.verbosity >= 1 {
                eprintln!(
                    "* {why}; waiting {} ms before the next request",
                    wait.as_millis()
                );
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = crate::interrupt::interrupted() => return false,
            }
        }
        true
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
        retried: Retried,
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
            retried,
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
}
impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("vendor", &self.vendor)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// One call as `exchange` makes it, the same on every try.
struct Call<'a> {
    url: Url,
    method: &'a Method,
    path: &'a str,
    body: Option<&'a bytes::Bytes>,
    idempotent: bool,
    stream_success: bool,
}

/// What one try came to.
enum Attempt {
    Final(Result<(StatusCode, Reply), ApiError>),
    Retry {
        after: Option<Duration>,
        why: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn renamed_auth_headers_keep_their_values_and_stay_secret() {
        let http = test_http("tok-SECRET-42", 0);
        let renamed = http.with_auth_renamed(&[("authorization", "X-Other-Auth")]);
        assert!(!renamed.auth.contains_key("authorization"));
        let value = &renamed.auth["x-other-auth"];
        assert!(value.is_sensitive());
        assert_eq!(value, "Bearer tok-SECRET-42");
    }

    #[test]
    fn errors_never_quote_the_token() {
        // -v: the decode error quotes the start of the body.
        let http = test_http("tok-SECRET-42", 1);
        let echo = br#"{"detail":"bad header Authorization: Bearer tok-SECRET-42"}"#;
        let retried = Retried {
            times: 0,
            idempotent: true,
        };
        let status = http.status_error(&Method::GET, "/x", StatusCode::BAD_REQUEST, echo, retried);
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
}
