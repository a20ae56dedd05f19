//! `catops api`: an authenticated raw request to the profile's vendor, for endpoints catops
//! does not wrap, read like `gh api`: `-f`/`-F` fields, `-H` headers, `--paginate`. The reply
//! streams to stdout as it comes, whatever its size (pretty-printed on a terminal), with the
//! token masked if the server echoes it.

mod paginate;
mod print;
mod request;

use clap::Args;
use reqwest::Method;

use crate::cli::Context;
use crate::error::{exit, usage, Failure};
use crate::vendors::Operation;
use print::Style;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  catops -p sandbox api '/public/catalogs/cat_demo/items?limit=2'
  catops -p sandbox api --paginate '/public/catalogs/cat_demo/items?limit=100' -o ndjson
  catops -p sandbox api -X PUT /public/catalogs/cat_demo -f description='Spring range'
  catops -p sandbox-batch api -X GET /catalogs/view -f name=demo --jq '.fields[].name'
  catops -p sandbox-catalogian api --paginate /v1/sources/demo-feed/delta -F limit=50 -H 'X-Trace: 1'")]
pub struct ApiArgs {
    /// Path below the profile's base URL, as the vendor docs write it; may hold ?query
    #[arg(value_name = "PATH")]
    path: String,
    /// HTTP method [default: GET, or POST with -d, -f or -F]
    #[arg(short = 'X', long = "method", value_name = "METHOD")]
    method: Option<String>,
    /// JSON body, or @FILE (@- reads stdin)
    #[arg(short = 'd', long = "data", value_name = "JSON|@FILE", conflicts_with_all = ["raw_fields", "fields"])]
    data: Option<String>,
    /// Add a request header (repeatable); the profile's own auth headers cannot be replaced
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE")]
    headers: Vec<String>,
    /// A string field of the JSON body, or of the query with GET (repeatable)
    #[arg(short = 'f', long = "raw-field", value_name = "KEY=VALUE")]
    raw_fields: Vec<String>,
    /// A typed field: true, false, null and integers are JSON, @FILE is a file's text (@- stdin)
    #[arg(short = 'F', long = "field", value_name = "KEY=VALUE")]
    fields: Vec<String>,
    /// GET every page as the vendor documents its paging; print one JSON array of the elements
    #[arg(long)]
    paginate: bool,
}

pub async fn run(args: ApiArgs, ctx: &Context) -> anyhow::Result<u8> {
    let style = Style::of(ctx.format())?;
    if ctx.has_columns() {
        // The reply is the vendor's, whatever its shape: fields are picked with --jq.
        return Err(Failure::usage(
            "catops api prints the vendor's reply as it is: --columns does not apply",
        )
        .hint("pick fields with --jq, e.g. --jq '.items[] | {sku, price}'")
        .into());
    }
    let fields = request::fields(&args.raw_fields, &args.fields)?;
    let method = match &args.method {
        Some(name) => Method::from_bytes(name.to_ascii_uppercase().as_bytes())
            .map_err(|_| Failure::usage(format!("-X {name}: not an HTTP method")))?,
        // gh's rule: a body makes it a POST; --paginate lists, so it GETs.
        None if !args.paginate && (args.data.is_some() || !fields.is_empty()) => Method::POST,
        None => Method::GET,
    };
    if args.paginate && method != Method::GET {
        return usage(format!(
            "--paginate follows the pages of a GET, not {method}"
        ));
    }
    if !args.path.starts_with('/') {
        return usage(format!("PATH must start with /, e.g. /{}", args.path));
    }
    let (path, mut query) = split_query(&args.path);
    if climbs_above_base(path) {
        return usage(format!(
            "PATH {path} climbs above the profile's base path: catops api reaches the vendor's API only"
        ));
    }
    let headers = request::headers(&args.headers)?;
    let body = match &args.data {
        Some(data) => Some(request::read_body(data)?),
        None => request::place_fields(&method, fields, &mut query),
    };
    let http = ctx.http(Operation::Api).await?.with_headers(headers).map_err(|name| {
        Failure::usage(format!(
            "-H {name}: the profile sends this header itself, with its credentials, and catops api does not replace it"
        ))
        .hint("for other credentials, use a profile that holds them: catops profile add NAME ...")
    })?;
    if args.paginate {
        return paginate::run(ctx, &http, path, query, style).await;
    }
    send(
        ctx,
        &http,
        Sent {
            method,
            path,
            query,
            body,
        },
        style,
    )
    .await
}

/// One request as the flags made it.
struct Sent<'a> {
    method: Method,
    path: &'a str,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

/// Sends one request and prints its reply; a status other than 2xx is the error.
async fn send(
    ctx: &Context,
    http: &crate::http::Http,
    sent: Sent<'_>,
    style: Style,
) -> anyhow::Result<u8> {
    let Sent {
        method,
        path,
        query,
        body,
    } = sent;
    // Only requests that change nothing are repeated after a server error.
    let idempotent = matches!(
        method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE
    );
    let params: Vec<(&str, String)> = query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (status, reply, retried) = http
        .send_streaming(
            method.clone(),
            path,
            &params,
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
    let read = print::reply(ctx.jq(), style, http.redactor(), reply, broke_off).await?;
    if status.is_success() {
        return Ok(exit::OK);
    }
    let body = read.unwrap_or_default();
    Err(http
        .status_error(&method, path, status, &body, retried)
        .into())
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

/// `/v1/sources?limit=5` → the path and its decoded query pairs.
fn split_query(raw: &str) -> (&str, Vec<(String, String)>) {
    let Some((path, query)) = raw.split_once('?') else {
        return (raw, Vec::new());
    };
    let pairs = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
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
                ("limit".to_string(), "5".to_string()),
                ("since".to_string(), "2026-01-01T00:00:00Z".to_string())
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
