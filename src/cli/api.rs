//! `catops api [-X METHOD] PATH [-d JSON|@FILE]`: an authenticated raw request to the
//! profile's vendor, for endpoints catops does not wrap. The body goes to stdout as it came.

use std::io::{Read, Write};

use clap::Args;
use reqwest::Method;

use crate::context::Context;
use crate::error::{exit, usage, Failure};
use crate::vendors::Operation;

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Path below the profile's base URL, as the vendor docs write it; may hold ?query
    #[arg(value_name = "PATH")]
    path: String,
    /// HTTP method [default: GET, or POST with -d]
    #[arg(short = 'X', long = "method", value_name = "METHOD")]
    method: Option<String>,
    /// JSON body, or @FILE (@- reads stdin)
    #[arg(short = 'd', long = "data", value_name = "JSON|@FILE")]
    data: Option<String>,
}

pub async fn run(args: ApiArgs, ctx: &Context) -> anyhow::Result<u8> {
    let method = match &args.method {
        Some(name) => Method::from_bytes(name.to_ascii_uppercase().as_bytes())
            .map_err(|_| Failure::usage(format!("-X {name}: not an HTTP method")))?,
        None if args.data.is_some() => Method::POST,
        None => Method::GET,
    };
    let body = args.data.as_deref().map(read_body).transpose()?;
    if !args.path.starts_with('/') {
        return usage(format!("PATH must start with /, e.g. /{}", args.path));
    }
    let (path, query) = split_query(&args.path);
    let api = ctx.api(Operation::Api).await?;
    let http = api.http();
    // Only requests that change nothing are repeated after a server error.
    let idempotent = matches!(
        method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE
    );
    let (status, reply) = http
        .send_raw(
            method.clone(),
            path,
            &query,
            body.map(bytes::Bytes::from),
            idempotent,
        )
        .await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match ctx.jq() {
        Some(jq) if !reply.is_empty() => {
            let json: serde_json::Value = serde_json::from_slice(&reply)
                .map_err(|err| Failure::usage(format!("--jq: the response is not JSON: {err}")))?;
            jq.write(&json, &mut out)?;
        }
        _ => {
            out.write_all(&reply)?;
            if !reply.ends_with(b"\n") && !reply.is_empty() {
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    if status.is_success() {
        return Ok(exit::OK);
    }
    Err(http.status_error(&method, path, status, &reply).into())
}

/// `-d '{"a":1}'`, `-d @body.json` or `-d @-`; the body must be JSON.
fn read_body(data: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = match data.strip_prefix('@') {
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|err| Failure::usage(format!("cannot read stdin: {err}")))?;
            bytes
        }
        Some(path) => std::fs::read(path)
            .map_err(|err| Failure::usage(format!("cannot read {path}: {err}")))?,
        None => data.as_bytes().to_vec(),
    };
    if let Err(err) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        return usage(format!("-d: the body is not valid JSON: {err}"));
    }
    Ok(bytes)
}

/// `/v1/sources?limit=5` → the path and its decoded query pairs.
fn split_query(raw: &str) -> (&str, Vec<(&str, String)>) {
    let Some((path, query)) = raw.split_once('?') else {
        return (raw, Vec::new());
    };
    let pairs = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key, percent_decode(value))
        })
        .collect();
    (path, pairs)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_split_and_decoded() {
        let (path, query) =
            split_query("/v1/sources/x/delta?limit=5&since=2026-01-01T00%3A00%3A00Z");
        assert_eq!(path, "/v1/sources/x/delta");
        assert_eq!(
            query,
            vec![
                ("limit", "5".to_string()),
                ("since", "2026-01-01T00:00:00Z".to_string())
            ]
        );
        assert_eq!(split_query("/a").1, vec![]);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz+b"), "%zz b");
    }
}
