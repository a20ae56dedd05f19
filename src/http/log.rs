//! `-v` and `-vv`: one stderr line per request (method, URL, status, time), and with `-vv`
//! the headers and bodies, secrets masked.

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};

use super::Http;

/// `-vv` shows at most this much of each body.
const LOG_BODY_LIMIT: usize = 4096;

impl Http {
    pub(super) fn log_request(&self, method: &Method, url: &Url, body: Option<&[u8]>) {
        if self.settings.verbosity < 2 {
            return;
        }
        let mut lines = format!("> {method} {url}\n");
        for (name, value) in self.extra.iter().chain(&self.auth) {
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

    pub(super) fn log_response(
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

fn clip(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(LOG_BODY_LIMIT)]).into_owned();
    if body.len() > LOG_BODY_LIMIT {
        format!("{text}… ({} more bytes)", body.len() - LOG_BODY_LIMIT)
    } else {
        text
    }
}
