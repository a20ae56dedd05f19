//! `catops api [-X METHOD] PATH [-d JSON|@FILE]`: an authenticated raw request to the
//! profile's vendor, for endpoints catops does not wrap. The body streams to stdout as it
//! comes, whatever its size, with the token masked if the server echoes it.

use std::io::{Read, Write};

use clap::Args;
use reqwest::Method;

use crate::cli::Context;
use crate::error::{exit, usage, Failure};
use crate::http::{read_bounded, Reply, MAX_REPLY_BYTES};
use crate::redact::StreamRedactor;
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
    if climbs_above_base(path) {
        return usage(format!(
            "PATH {path} climbs above the profile's base path: catops api reaches the vendor's API only"
        ));
    }
    let api = ctx.api(Operation::Api).await?;
    let http = api.http();
    // Only requests that change nothing are repeated after a server error.
    let idempotent = matches!(
        method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE
    );
    let (status, reply) = http
        .send_streaming(
            method.clone(),
            path,
            &query,
            body.map(bytes::Bytes::from),
            idempotent,
        )
        .await?;
    let broke_off = |err: reqwest::Error| {
        anyhow::anyhow!(
            "{}: {method} {path}: the reply broke off: {err}",
            http.vendor()
        )
    };
    // SPEC §7: a token never reaches stdout, even when the server echoes it back.
    let mut printer = Printed {
        redacted: StreamRedactor::new(http.redactor()),
        ends_with_newline: true,
    };
    let read = print_reply(ctx, reply, &mut printer, broke_off).await?;
    if status.is_success() {
        return Ok(exit::OK);
    }
    let body = read.unwrap_or_default();
    Err(http.status_error(&method, path, status, &body).into())
}

/// Prints the reply (through `--jq` when given) and returns it when it was read whole, for
/// an error's message.
async fn print_reply(
    ctx: &Context,
    reply: Reply,
    printer: &mut Printed<'_>,
    broke_off: impl Fn(reqwest::Error) -> anyhow::Error,
) -> anyhow::Result<Option<bytes::Bytes>> {
    let mut out = std::io::stdout().lock();
    let read = match (ctx.jq(), reply) {
        (None, Reply::Open(mut response)) => {
            while let Some(chunk) = response.chunk().await.map_err(&broke_off)? {
                printer.write(&mut out, &chunk)?;
            }
            None
        }
        (None, Reply::Read(bytes)) => {
            printer.write(&mut out, &bytes)?;
            Some(bytes)
        }
        (Some(jq), reply) => {
            let whole = match reply {
                Reply::Read(bytes) => bytes,
                Reply::Open(response) => read_whole_for_jq(response).await.map_err(|err| {
                    err.downcast::<reqwest::Error>()
                        .map_or_else(|err| err, &broke_off)
                })?,
            };
            if !whole.is_empty() {
                let json: serde_json::Value = serde_json::from_slice(&whole).map_err(|err| {
                    Failure::new(
                        exit::FAILURE,
                        format!("--jq: the response is not JSON: {err}"),
                    )
                })?;
                let mut filtered = Vec::new();
                jq.write(&json, &mut filtered)?;
                printer.write(&mut out, &filtered)?;
            }
            Some(whole)
        }
    };
    printer.finish(&mut out)?;
    Ok(read)
}

/// `--jq` needs the whole reply, so it is bounded like any reply catops parses.
async fn read_whole_for_jq(response: reqwest::Response) -> anyhow::Result<bytes::Bytes> {
    let (bytes, cut) = read_bounded(response, MAX_REPLY_BYTES).await?;
    if cut {
        return Err(Failure::new(
            exit::FAILURE,
            format!(
                "--jq: the reply is over {} MiB; without --jq it streams to stdout",
                MAX_REPLY_BYTES >> 20
            ),
        )
        .into());
    }
    Ok(bytes)
}

/// The body on stdout, redacted as it goes, ending with a line break.
struct Printed<'a> {
    redacted: StreamRedactor<'a>,
    ends_with_newline: bool,
}

impl Printed<'_> {
    fn write(&mut self, out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
        let ready = self.redacted.push(bytes);
        self.emit(out, &ready)
    }

    fn finish(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let rest = self.redacted.finish();
        self.emit(out, &rest)?;
        if !self.ends_with_newline {
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    fn emit(&mut self, out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(&last) = bytes.last() {
            self.ends_with_newline = last == b'\n';
        }
        out.write_all(bytes)
    }
}

/// Whether `..` segments (plain or percent-encoded, which URL rules resolve alike) take the
/// path above where it starts.
fn climbs_above_base(path: &str) -> bool {
    let mut depth = 0i64;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        match percent_decode(segment).as_str() {
            "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    false
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

    #[test]
    fn paths_may_not_climb_above_the_base() {
        assert!(climbs_above_base("/../../x"));
        assert!(climbs_above_base("/a/../../x"));
        assert!(climbs_above_base("/%2e%2e/x"));
        assert!(climbs_above_base("/%2E%2E"));
        assert!(!climbs_above_base("/a/../b"));
        assert!(!climbs_above_base("/public/catalogs/./x"));
        assert!(!climbs_above_base("/v1/sources/a..b"));
    }
}
