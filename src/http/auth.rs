//! How a request is authenticated, and where it may go: the headers that carry the token,
//! and the refusal of plain HTTP off loopback (SPEC §7).

use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::Url;

use crate::error::Failure;
use crate::secret::Secret;

/// One authentication header; `secret` ones are redacted in logs.
pub struct AuthHeader {
    pub(super) name: HeaderName,
    pub(super) value: HeaderValue,
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

/// SPEC §7: plain HTTP would send the token in the clear, so only loopback may use it.
pub fn check_base_url(base_url: &str) -> anyhow::Result<Url> {
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

pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_token_that_cannot_be_a_header_is_a_usage_error() {
        let err = AuthHeader::bearer(&Secret::new("line\nbreak".to_string()))
            .err()
            .unwrap();
        assert!(!err.to_string().contains("break"), "{err}");
    }
}
