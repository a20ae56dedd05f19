//! `catops assets upsert|list|delete|unlink`: catalogix's asset links. The writes go through
//! the bulk pipeline; `list` pages through the asset groups.

use clap::{Args, Subcommand};

use super::bulk::{execute, BulkArgs};
use super::confirm::confirm;
use super::paging::Advance;
use crate::cli::Context;
use crate::error::{exit, usage};
use crate::vendors::catalogix::{
    self, AssetsQuery, ASSET_FORMATS, DEFAULT_CHANNEL, MAX_ASSET_GROUPS_PAGE,
};
use crate::vendors::{BulkRequest, Operation};

#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// Create or update asset links from a CSV, JSON or NDJSON file (catalogix)
    #[command(after_help = "Examples:
  catops -p sandbox-catalogix assets upsert examples/images.csv --store-uuid store_demo
  catops -p assets assets upsert images.ndjson --channel SMP --journal assets.journal")]
    Upsert {
        #[command(flatten)]
        args: BulkArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// Asset type of rows that do not name one
        #[arg(long, value_name = "T", default_value = "image")]
        asset_type: String,
    },
    /// List the store's assets, one record per parent code: the first 50 groups, or all
    #[command(after_help = "Examples:
  catops -p sandbox-catalogix assets list
  catops -p sandbox-catalogix assets list --format video --all -o ndjson
  catops -p assets assets list --all --jq '.[].assets[].asset_id'")]
    List {
        /// Asset format to list
        #[arg(long, value_name = "FORMAT", default_value = "image",
              value_parser = clap::builder::PossibleValuesParser::new(ASSET_FORMATS))]
        format: String,
        /// Follow pages until the last one
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete assets named in a file: rows of parent_code and/or asset_id (catalogix)
    #[command(
        after_help = "Each row deletes the assets it names: asset_id (one id, or a list with an
array column such as asset_id:array) within parent_code when given; a row with only a
parent_code deletes all of that parent's assets in the channel.

Examples:
  catops -p sandbox-catalogix assets delete gone.csv --yes
  catops -p assets assets delete ids.ndjson --journal delete.journal --yes"
    )]
    Delete {
        #[command(flatten)]
        args: BulkArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// Delete without asking (required when stdin or stderr is not a terminal)
        #[arg(long)]
        yes: bool,
    },
    /// Unlink assets from products, from a file of parent_code and optional asset_id (catalogix)
    #[command(
        after_help = "A row without asset_id unlinks every asset of its parent_code in the channel.

Examples:
  catops -p sandbox-catalogix assets unlink unlink.csv --yes
  catops -p assets assets unlink parents.csv --channel SMP --yes"
    )]
    Unlink {
        #[command(flatten)]
        args: BulkArgs,
        #[command(flatten)]
        store: StoreArgs,
        /// Unlink without asking (required when stdin or stderr is not a terminal)
        #[arg(long)]
        yes: bool,
    },
}

/// The store and channel every asset command works in.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Store identifier [default: the profile's store_uuid]
    #[arg(long, value_name = "U")]
    store_uuid: Option<String>,
    /// Channel [default: the profile's channel, else SMP]
    #[arg(long, value_name = "C")]
    channel: Option<String>,
}

pub async fn run(command: AssetsCommand, ctx: &Context) -> anyhow::Result<u8> {
    let (operation, args, store, asset_type, yes) = match command {
        AssetsCommand::List { format, all, store } => {
            list(ctx, &format, all, store).await?;
            return Ok(exit::OK);
        }
        AssetsCommand::Upsert {
            args,
            store,
            asset_type,
        } => (Operation::AssetsUpsert, args, store, asset_type, true),
        AssetsCommand::Delete { args, store, yes } => {
            (Operation::AssetsDelete, args, store, String::new(), yes)
        }
        AssetsCommand::Unlink { args, store, yes } => {
            (Operation::AssetsUnlink, args, store, String::new(), yes)
        }
    };
    let verb = match operation {
        Operation::AssetsDelete => "delete",
        _ => "unlink",
    };
    if !yes
        && !args.dry_run
        && !confirm(
            &format!("{verb} the assets named in {}?", args.file),
            args.file == "-",
            &format!("`assets {verb}` removes assets"),
            &format!("catops assets {verb} {} --yes", args.file),
        )?
    {
        eprintln!("nothing was sent");
        return Ok(exit::FAILURE);
    }
    let request = BulkRequest {
        store_uuid: store.store_uuid,
        channel: store.channel,
        asset_type,
        ..BulkRequest::new(operation, None)
    };
    execute(ctx, args, request).await
}

/// Pages through the asset groups by offset (50 a page, the documented maximum), printing
/// each page as it arrives; `total_groups` says when to stop.
async fn list(ctx: &Context, format: &str, all: bool, store: StoreArgs) -> anyhow::Result<()> {
    let api = ctx.api(Operation::AssetsList).await?;
    let profile = ctx.selected()?.profile;
    let Some(store_uuid) = store.store_uuid.or(profile.store_uuid) else {
        return usage("catalogix needs a store: --store-uuid U (or store_uuid in the profile)");
    };
    let channel = store
        .channel
        .or(profile.channel)
        .unwrap_or_else(|| DEFAULT_CHANNEL.to_string());
    let client = api.client::<catalogix::Client>()?;
    let query = AssetsQuery {
        store_uuid: &store_uuid,
        channel: &channel,
        format,
    };
    let mut printed = ctx.list(super::columns::ASSET_GROUPS);
    let mut advance = Advance::default();
    let mut offset = 0u64;
    let outcome: anyhow::Result<()> = loop {
        let page = match client
            .assets_page(&query, offset, MAX_ASSET_GROUPS_PAGE)
            .await
        {
            Ok(page) => page,
            Err(err) => break Err(err.into()),
        };
        if let Err(err) = advance.check("catalogix", &page.records) {
            break Err(err);
        }
        offset += page.records.len() as u64;
        if let Err(err) = printed.page(&page.records) {
            break Err(err);
        }
        let total = page.total.unwrap_or(0);
        if page.records.is_empty() || offset >= total {
            break Ok(());
        }
        if !all {
            ctx.note_more(offset, page.total, "--all");
            break Ok(());
        }
    };
    match outcome {
        Ok(()) => printed.finish(),
        Err(err) => {
            printed.finish_after_error()?;
            Err(err)
        }
    }
}
