//! `catops items list|get|update|delete`.

use std::sync::Arc;

use clap::{ArgGroup, Subcommand};
use serde_json::{json, Map, Value};

use crate::cli::Context;
use crate::error::{exit, usage, Failure};
use crate::input::typed::split_type_hint;

use crate::vendors::rastro::{self, DEFAULT_ITEMS_LIMIT, MAX_ITEMS_LIMIT};

use super::confirm::confirm;
use super::paging::Advance;
use super::parse::{parse_json_fields, resource_id};
use crate::vendors::{Api, BulkRequest, ItemFilter, Operation, Page};

/// Pages fetched ahead of the one being printed: enough to overlap network and output,
/// few enough that memory stays flat.
const PAGES_AHEAD: usize = 2;

#[derive(Debug, Subcommand)]
pub enum ItemsCommand {
    /// List a catalog's items, one page or (--all) every page, streamed
    #[command(after_help = "Examples:
  catops -p sandbox items list --catalog cat_demo --limit 10 -o table
  catops -p sandbox items list --catalog cat_demo --all -o ndjson > items.ndjson
  catops -p sandbox items list --catalog cat_demo --all --jq '.[] | select(.price > 50) | .sku'
  catops -p sandbox items list --catalog cat_demo --search acme --sort price:desc")]
    List {
        /// Catalog id (catalogix: the store [default: the profile's store_uuid])
        #[arg(long, value_name = "ID", value_parser = resource_id)]
        catalog: Option<String>,
        /// Page to list (with --all: the first page)
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u64).range(1..))]
        page: u64,
        /// Items per page, at most 1000 [default: 100, or 1000 with --all]
        #[arg(long, value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..=MAX_ITEMS_LIMIT as i64))]
        limit: Option<u32>,
        /// Follow pages until the last one
        #[arg(long)]
        all: bool,
        /// Only items with TEXT in any field (rastro matches it server-side)
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Order by a field, ascending unless :desc
        #[arg(long, value_name = "FIELD[:asc|desc]", value_parser = super::parse::parse_sort)]
        sort: Option<(String, bool)>,
    },
    /// Print one item
    #[command(after_help = "Examples:
  catops -p sandbox items get --catalog cat_demo item_1
  catops -p sandbox items get --catalog cat_demo item_1 --jq .price
  catops -p sandbox-catalogix items get CI001 --jq .assets")]
    Get {
        /// Catalog id (catalogix: the store [default: the profile's store_uuid])
        #[arg(long, value_name = "ID", value_parser = resource_id)]
        catalog: Option<String>,
        /// Item id
        #[arg(value_parser = resource_id)]
        item_id: String,
    },
    /// Update some fields of one item: read it, change the fields given, send it whole
    #[command(group(ArgGroup::new("fields").required(true).args(["set", "json"])))]
    #[command(
        after_help = "rastro's docs say PUT changes only the fields sent; its own client says PUT replaces
the whole item. So catops reads the item, merges the fields given and sends the whole item,
which is right either way (-v shows what changed). --partial sends only the fields given,
for servers known to merge.

Examples:
  catops -p sandbox items update --catalog cat_demo item_1 --set price:number=24.5
  catops -p sandbox items update --catalog cat_demo item_1 --json '{\"title\":\"New\"}' -v"
    )]
    Update {
        /// Catalog id
        #[arg(long, value_name = "ID", value_parser = resource_id)]
        catalog: String,
        /// Item id
        #[arg(value_parser = resource_id)]
        item_id: String,
        /// KEY=VALUE, or KEY:TYPE=VALUE with TYPE one of string, number, integer, boolean,
        /// array (split on |), json; repeat for each field
        #[arg(long, value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// The fields as a JSON object, or @FILE (@- reads stdin)
        #[arg(long, value_name = "JSON|@FILE")]
        json: Option<String>,
        /// Send only the given fields (for servers whose PUT merges), without reading the item
        #[arg(long)]
        partial: bool,
    },
    /// Delete items by id, where the vendor documents it (batch: edit-items `remove`)
    #[command(
        after_help = "For many ids, `catops bulk remove FILE` streams them from a file instead.

Examples:
  catops -p sandbox-batch items delete --catalog demo b00001 b00002 --dry-run
  catops -p sandbox-batch items delete --catalog demo b00001 b00002 --yes"
    )]
    Delete {
        /// Catalog name (batch)
        #[arg(long, value_name = "NAME", value_parser = resource_id)]
        catalog: String,
        /// Ids of the items to delete
        #[arg(required = true, value_name = "ITEM_ID", value_parser = resource_id)]
        ids: Vec<String>,
        /// Delete without asking (required when catops cannot ask: no terminal)
        #[arg(long)]
        yes: bool,
        /// Say what would be deleted; delete nothing
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(command: ItemsCommand, ctx: &Context) -> anyhow::Result<u8> {
    match command {
        ItemsCommand::List {
            catalog,
            page,
            limit,
            all,
            search,
            sort,
        } => {
            let filter = ItemFilter { search, sort };
            let api = ctx.api(Operation::ItemsList).await?;
            api.item_pages()?
                .check_filter(&filter)
                .map_err(Failure::usage)?;
            let catalog = ctx.catalog(catalog)?;
            if all {
                let limit = limit.unwrap_or(api.item_pages()?.all_pages_limit());
                list_all(ctx, api, catalog, (page, limit), filter).await?;
            } else {
                let limit = limit.unwrap_or(DEFAULT_ITEMS_LIMIT);
                let pages = api.item_pages()?;
                let found = pages.items_page(&catalog, page, limit, &filter).await?;
                ctx.print_list(&found.records, pages.table_columns())?;
                let shown = (page - 1) * u64::from(limit) + found.records.len() as u64;
                let more = match found.total {
                    Some(total) => !found.records.is_empty() && shown < total,
                    None => found.records.len() == limit as usize,
                };
                if more {
                    ctx.note_more(shown, found.total, "--all or --limit");
                }
            }
        }
        ItemsCommand::Get { catalog, item_id } => {
            let api = ctx.api(Operation::ItemsGet).await?;
            let catalog = ctx.catalog(catalog)?;
            let item = api.item_pages()?.item(&catalog, &item_id).await?;
            ctx.print(&item)?;
        }
        ItemsCommand::Update {
            catalog,
            item_id,
            set,
            json,
            partial,
        } => {
            let fields = match json {
                Some(json) => parse_json_fields(&json)?,
                None => parse_set_fields(&set)?,
            };
            let api = ctx.api(Operation::ItemsUpdate).await?;
            let rastro = api.client::<rastro::Client>()?;
            let body = if partial {
                fields
            } else {
                let current = rastro.items_get(&catalog, &item_id).await?;
                let (merged, changes) = merge_fields(current, fields);
                if ctx.verbosity() >= 1 {
                    for change in &changes {
                        eprintln!("* {change}");
                    }
                    if changes.is_empty() {
                        eprintln!("* no field changes; sending the item as it is");
                    }
                }
                merged
            };
            let item = rastro.items_put(&catalog, &item_id, &body).await?;
            ctx.print(&item)?;
        }
        ItemsCommand::Delete {
            catalog,
            ids,
            yes,
            dry_run,
        } => return delete(ctx, catalog, ids, yes, dry_run).await,
    }
    Ok(exit::OK)
}

/// `items delete`: the ids (each once) in requests of the vendor's size, after a confirmation.
async fn delete(
    ctx: &Context,
    catalog: String,
    mut ids: Vec<String>,
    yes: bool,
    dry_run: bool,
) -> anyhow::Result<u8> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    let request = BulkRequest {
        id_field: Some("id".into()),
        ..BulkRequest::new(Operation::ItemsDelete, Some(catalog.clone()))
    };
    let (endpoint, _) = ctx.bulk_target(request).await?;
    let count = ids.len();
    if dry_run {
        if !ctx.quiet {
            eprintln!(
                "dry run: would delete {count} item(s) from catalog {catalog}; nothing was deleted"
            );
        }
        ctx.print(&json!({"catalog": catalog, "would_delete": ids}))?;
        return Ok(exit::OK);
    }
    let asked = format!("Delete {count} item(s) from catalog {catalog}?");
    let hint = format!(
        "catops items delete --catalog {catalog} {} --yes, or --dry-run to see what would go",
        ids.join(" ")
    );
    if !yes && !confirm(&asked, false, "`items delete` deletes items", &hint)? {
        return Err(Failure::new(exit::INTERRUPTED, "not deleted").into());
    }
    let mut token = None;
    let mut deleted = Vec::with_capacity(count);
    for part in ids.chunks(endpoint.max_items()) {
        let body = endpoint
            .removal_body(part)
            .map_err(|(id, reason)| Failure::usage(format!("item {id}: {reason}")))?;
        let reply = endpoint.send(body.into()).await?;
        if let Some((index, reason)) = reply.refused.first() {
            let id = part.get(*index).map_or("?", String::as_str);
            return Err(Failure::new(exit::FAILURE, format!("item {id}: {reason}"))
                .hint(format!("deleted before it: {}", deleted.len()))
                .into());
        }
        token = reply.indexing_token.or(token);
        deleted.extend_from_slice(part);
    }
    let mut summary = json!({"catalog": catalog, "deleted": deleted.len(), "ids": deleted});
    if let Some(token) = token {
        summary["indexing_token"] = json!(token);
    }
    ctx.print(&summary)?;
    Ok(exit::OK)
}

/// The item with `fields` laid over it, without `id` (it is in the path), and one line per
/// changed field for `-v`.
fn merge_fields(current: Value, fields: Value) -> (Value, Vec<String>) {
    let (Value::Object(mut item), Value::Object(fields)) = (current, fields) else {
        return (Value::Null, Vec::new());
    };
    item.shift_remove("id");
    let mut changes = Vec::new();
    for (key, value) in fields {
        if key == "id" {
            continue;
        }
        match item.get(&key) {
            Some(old) if *old == value => {}
            Some(old) => changes.push(format!("{key}: {old} → {value}")),
            None => changes.push(format!("{key}: (new) {value}")),
        }
        item.insert(key, value);
    }
    (Value::Object(item), changes)
}

/// Fetches pages in a background task, `PAGES_AHEAD` in flight, and prints each as it lands.
async fn list_all(
    ctx: &Context,
    api: Api,
    catalog: String,
    (first_page, limit): (u64, u32),
    filter: ItemFilter,
) -> anyhow::Result<()> {
    let api_columns = api.item_pages()?.table_columns();
    let (pages, mut received) = tokio::sync::mpsc::channel::<anyhow::Result<Page>>(PAGES_AHEAD);
    let fetcher = tokio::spawn(fetch_pages(
        Arc::new(api),
        catalog,
        (first_page, limit),
        filter,
        pages,
    ));
    let progress = ctx.progress.then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {pos} items {per_sec:0}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar
    });
    let mut list = ctx.list(api_columns);
    let mut failure = None;
    while let Some(page) = received.recv().await {
        // A page that failed to arrive or to print (a CSV record that does not fit): the
        // records printed so far stay valid output, so close the list, then fail.
        let printed = page.and_then(|page| {
            if let (Some(bar), Some(total)) = (&progress, page.total) {
                bar.set_length(total);
            }
            list.page(&page.records)?;
            Ok(page.records.len() as u64)
        });
        match printed {
            Ok(count) => {
                if let Some(bar) = &progress {
                    bar.inc(count);
                }
            }
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    // The fetcher stops once nobody receives.
    drop(received);
    fetcher.await.ok();
    match failure {
        Some(err) => {
            list.finish_after_error()?;
            Err(err)
        }
        None => list.finish(),
    }
}

/// Sends each page from `first_page` on, until the last one, an error, or a closed channel.
async fn fetch_pages(
    api: Arc<Api>,
    catalog: String,
    (first_page, limit): (u64, u32),
    filter: ItemFilter,
    pages: tokio::sync::mpsc::Sender<anyhow::Result<Page>>,
) {
    let mut number = first_page;
    let mut advance = Advance::default();
    // Items on the pages before the first one listed, then every item received.
    let mut seen = (first_page - 1).saturating_mul(u64::from(limit));
    let vendor = api.http().vendor().name();
    loop {
        let page = match api.item_pages() {
            Ok(pages) => pages
                .items_page(&catalog, number, limit, &filter)
                .await
                .map_err(anyhow::Error::from)
                .and_then(|page| advance.check(vendor, &page.records).map(|()| page)),
            Err(err) => Err(err),
        };
        let done = match &page {
            Ok(page) => {
                seen = seen.saturating_add(page.records.len() as u64);
                match page.total {
                    // The vendor's total decides: a server may cap pages below our limit.
                    Some(total) => page.records.is_empty() || seen >= total,
                    None => page.records.len() < limit as usize,
                }
            }
            Err(_) => true,
        };
        if pages.send(page).await.is_err() || done || number == u64::MAX {
            break;
        }
        number += 1;
    }
}

/// `--set KEY=VALUE` / `--set KEY:TYPE=VALUE`, typed by the shared coercion rules.
fn parse_set_fields(sets: &[String]) -> anyhow::Result<Value> {
    let mut fields = Map::new();
    for set in sets {
        let Some((key, raw)) = set.split_once('=') else {
            return usage(format!(
                "--set '{set}': expected KEY=VALUE or KEY:TYPE=VALUE"
            ));
        };
        let (name, kind) =
            split_type_hint(key).map_err(|err| Failure::usage(format!("--set '{set}': {err}")))?;
        if name.is_empty() {
            return usage(format!("--set '{set}': the key is empty"));
        }
        let value = match kind {
            Some(kind) => kind
                .coerce(raw, "|")
                .map_err(|err| Failure::usage(format!("--set '{set}': {err}")))?,
            None => Value::String(raw.to_string()),
        };
        fields.insert(name.to_string(), value);
    }
    Ok(Value::Object(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_fields_are_typed_only_when_asked() {
        let sets = [
            "sku=00123".to_string(),
            "price:number=24.99".to_string(),
            "tags:array=a|b".to_string(),
            "note=a=b".to_string(),
        ];
        assert_eq!(
            parse_set_fields(&sets).unwrap(),
            json!({"sku": "00123", "price": 24.99, "tags": ["a", "b"], "note": "a=b"})
        );
        assert!(parse_set_fields(&["price:number=cheap".to_string()]).is_err());
        assert!(parse_set_fields(&["novalue".to_string()]).is_err());
    }

    #[test]
    fn json_fields_must_be_an_object() {
        assert_eq!(parse_json_fields(r#"{"a":1}"#).unwrap(), json!({"a": 1}));
        assert!(parse_json_fields("[1]").is_err());
        assert!(parse_json_fields("{").is_err());
    }
}
