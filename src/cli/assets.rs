//! `catops assets upsert`: asset links into catalogix, through the bulk pipeline.

use clap::Subcommand;

use super::bulk::{execute, BulkArgs};
use crate::cli::Context;
use crate::vendors::{BulkRequest, Operation};

#[derive(Debug, Subcommand)]
pub enum AssetsCommand {
    /// Create or update asset links from a CSV, JSON or NDJSON file (catalogix)
    Upsert {
        #[command(flatten)]
        args: BulkArgs,
        /// Store identifier [default: the profile's store_uuid]
        #[arg(long, value_name = "U")]
        store_uuid: Option<String>,
        /// Channel for all assets [default: the profile's channel, else SMP]
        #[arg(long, value_name = "C")]
        channel: Option<String>,
        /// Asset type of rows that do not name one
        #[arg(long, value_name = "T", default_value = "image")]
        asset_type: String,
    },
}

pub async fn run(command: AssetsCommand, ctx: &Context) -> anyhow::Result<u8> {
    let AssetsCommand::Upsert {
        args,
        store_uuid,
        channel,
        asset_type,
    } = command;
    let request = BulkRequest {
        operation: Operation::AssetsUpsert,
        catalog: None,
        unique_field: None,
        id_field: None,
        store_uuid,
        channel,
        asset_type,
    };
    execute(ctx, args, request).await
}
