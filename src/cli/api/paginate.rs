//! `catops api --paginate`: GET a list page after page, as the profile's vendor documents its
//! paging (the vendor module knows where the list is and which query asks for the next page),
//! and print every element as one list.

use reqwest::Method;
use serde_json::Value;

use super::print::{Elements, Style};
use crate::cli::paging::Advance;
use crate::cli::Context;
use crate::error::{exit, Failure};
use crate::http::Http;
use crate::vendors::{self, RawPage};

pub async fn run(
    ctx: &Context,
    http: &Http,
    path: &str,
    first: Vec<(String, String)>,
    style: Style,
) -> anyhow::Result<u8> {
    let mut list = Elements::new(style, ctx.jq(), http.redactor(), std::io::stdout().lock());
    match follow(http, path, first, &mut list).await {
        Ok(()) => {
            list.finish()?;
            Ok(exit::OK)
        }
        Err(err) => {
            list.close_after_error()?;
            Err(err)
        }
    }
}

/// Every page from `query` on, each printed as it comes.
async fn follow(
    http: &Http,
    path: &str,
    mut query: Vec<(String, String)>,
    list: &mut Elements<'_, impl std::io::Write>,
) -> anyhow::Result<()> {
    let vendor = http.vendor().name();
    let mut advance = Advance::default();
    loop {
        let page = page(http, path, &query).await?;
        advance.check(vendor, &page.elements)?;
        for element in page.elements {
            list.push(element)?;
        }
        list.flush()?;
        match page.next {
            None => return Ok(()),
            Some(next) if next == query => {
                return Err(paging_error(
                    http,
                    path,
                    "the next page is asked the same way as this one",
                )
                .into())
            }
            Some(next) => query = next,
        }
    }
}

/// One page: its reply, read as the vendor's list.
async fn page(http: &Http, path: &str, query: &[(String, String)]) -> anyhow::Result<RawPage> {
    let params: Vec<(&str, String)> = query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let reply = http.send(Method::GET, path, &params, None, true).await?;
    let json: Value = http.decode(&Method::GET, path, &reply.body)?;
    Ok(vendors::vendor(http.vendor())
        .raw_page(query, json)
        .map_err(|why| paging_error(http, path, &why))?)
}

fn paging_error(http: &Http, path: &str, why: &str) -> Failure {
    Failure::new(
        exit::FAILURE,
        http.redact(&format!("{}: GET {path}: --paginate: {why}", http.vendor())),
    )
    .hint("--paginate follows the lists the vendor documents (README: Raw requests); without it the reply prints as it came")
}
