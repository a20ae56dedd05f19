//! `catops bulk sync` (issue 17): the state checked (and built from the vendor's list with
//! `--baseline remote`), the deletions counted and guarded before any request, the bulk
//! pipeline run with the sync filter, then the deletions.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::{prepare, BulkArgs, Prepared};
use crate::bulk::sync::{self, Counts, Deletions, Identity, MaxDelete, Missing, Plan};
use crate::bulk::{self, Settings};
use crate::cli::confirm::confirm;
use crate::cli::Context;
use crate::error::{exit, usage, Failure};
use crate::vendors::{BulkEndpoint, BulkRequest, Operation};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Baseline {
    /// The vendor's item list (rastro)
    Remote,
}

/// `bulk sync`'s flags.
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub args: BulkArgs,
    /// Catalog id (rastro, clevertap), name (batch) or store (catalogix products
    /// [default: the profile's store_uuid])
    #[arg(long, value_name = "ID")]
    pub catalog: Option<String>,
    /// rastro: the field items are matched on [default: the profile's unique_field]
    #[arg(long, value_name = "F")]
    pub unique_field: Option<String>,
    /// The column holding the item id [default: id (batch), identity (clevertap)]
    #[arg(long, value_name = "F")]
    pub id_field: Option<String>,
    /// The state file [default: <data dir>/catops/sync/<profile>-<catalog>-<hash>.sqlite3]
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Remove the items the state holds that the file lacks (batch)
    #[arg(long)]
    pub delete_missing: bool,
    /// Refuse the whole run, before any request, when more items would be deleted
    /// [default: 10% of the state]
    #[arg(long, value_name = "N|P%", value_parser = MaxDelete::parse, requires = "delete_missing")]
    pub max_delete: Option<MaxDelete>,
    /// Delete without asking (needed when stdin is not a terminal)
    #[arg(long, requires = "delete_missing")]
    pub yes: bool,
    /// Build the state from the vendor's item list first (rastro), so the first sync sends
    /// only what differs
    #[arg(long, value_enum, value_name = "FROM")]
    pub baseline: Option<Baseline>,
    /// Send every row and rebuild the state (after changes made outside catops)
    #[arg(long, conflicts_with = "baseline")]
    pub full: bool,
}

pub async fn run(sync: SyncArgs, ctx: &Context) -> anyhow::Result<u8> {
    check_vendor(ctx)?;
    let request = BulkRequest {
        unique_field: sync.unique_field.clone(),
        id_field: sync.id_field.clone(),
        ..BulkRequest::new(Operation::BulkUpsert, sync.catalog.clone())
    };
    let input = sync.args.file.clone();
    let Some(Prepared {
        mut settings,
        target,
        profile,
    }) = prepare(ctx, sync.args, request, None).await?
    else {
        return Ok(exit::INTERRUPTED);
    };
    settings.command = "bulk sync";
    let identity = Identity {
        profile: settings.profile.clone(),
        vendor: profile.vendor.to_string(),
        base_url: settings.base_url.clone(),
        catalog: target.destination(),
    };
    let remover = match sync.delete_missing {
        true => Some(remover(ctx, &identity, &input).await?),
        false => None,
    };
    let state = match &sync.state {
        Some(path) => path.clone(),
        None => sync::default_state(&identity).ok_or_else(|| {
            Failure::usage("no data directory to keep the sync state in: pass --state PATH")
        })?,
    };
    let _one_at_a_time = sync::hold_state(&state, settings.dry_run)?;
    let mut held = sync::open_state(&state, &identity)?;
    if sync.baseline == Some(Baseline::Remote) {
        held = remote_baseline(ctx, &state, target.as_ref(), &identity).await?;
    }
    let counts = Arc::new(Counts::default());
    let plan = Plan {
        state: state.clone(),
        full: sync.full,
        fields_of: target.merged_fields(),
        counts: counts.clone(),
    };
    let missing = match remover {
        Some(_) => Some(guard(
            (sync.max_delete, sync.yes),
            &settings,
            target.as_ref(),
            &plan,
            held,
        )?),
        None => None,
    };
    settings.sync = Some(plan);
    let outcome = bulk::run(&settings, target).await?;
    let mut summary = outcome.summary;
    let mut error = outcome.error;
    let ran_whole = error.is_none() && outcome.code != exit::INTERRUPTED;
    if let (Some(mut missing), Some(remover), true) = (missing, remover, ran_whole) {
        if !settings.dry_run {
            error = delete(&mut missing, &settings, remover.as_ref(), &counts)
                .await
                .err()
                .map(Into::into);
            summary["deleted"] =
                serde_json::json!(counts.deleted.load(std::sync::atomic::Ordering::Relaxed));
        }
    }
    ctx.print(&summary)?;
    match error {
        Some(error) => Err(error),
        None => Ok(outcome.code),
    }
}

/// `bulk sync` is `bulk upsert` with a state: the vendors that upsert in bulk sync.
fn check_vendor(ctx: &Context) -> anyhow::Result<()> {
    Ok(crate::cli::context::able(
        Operation::BulkUpsert,
        "bulk sync",
        &ctx.selected()?,
    )?)
}

/// `--delete-missing`: the vendor's remove action, where it has one; the input read twice, so
/// a file.
async fn remover(
    ctx: &Context,
    identity: &Identity,
    input: &str,
) -> anyhow::Result<Box<dyn BulkEndpoint>> {
    let can: Vec<String> = Operation::BulkRemove
        .vendors()
        .iter()
        .map(ToString::to_string)
        .collect();
    if !can.contains(&identity.vendor) {
        return usage(format!(
            "--delete-missing needs a vendor that documents removing items ({}); {} does not",
            can.join(", "),
            identity.vendor
        ));
    }
    if input == "-" {
        return Err(Failure::usage(
            "--delete-missing reads the input twice (deletions are counted before any request), so it needs a file, not stdin",
        )
        .hint("save the feed to a file first")
        .into());
    }
    let request = BulkRequest {
        id_field: Some("id".to_string()),
        ..BulkRequest::new(Operation::BulkRemove, Some(identity.catalog.clone()))
    };
    Ok(ctx.bulk_target(request).await?.0)
}

/// `--baseline remote`: the state rebuilt from the vendor's item list.
async fn remote_baseline(
    ctx: &Context,
    state: &std::path::Path,
    target: &dyn BulkEndpoint,
    identity: &Identity,
) -> anyhow::Result<u64> {
    let api = ctx.api(Operation::ItemsList).await.map_err(|_| {
        Failure::usage(format!(
            "--baseline remote needs the vendor's item list ({}); {} has none",
            Operation::ItemsList
                .vendors()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            identity.vendor
        ))
    })?;
    let pages = api.item_pages()?;
    let held = sync::baseline(
        state,
        pages,
        &identity.catalog,
        target,
        target.merged_fields(),
    )
    .await?;
    if !ctx.quiet {
        eprintln!(
            "baseline: {held} items of {} listed into the state",
            identity.catalog
        );
    }
    Ok(held)
}

/// Counts the deletions before any request: over `--max-delete` refuses the whole run; else
/// they are confirmed (asked on a terminal, `--yes` elsewhere).
fn guard(
    (max_delete, yes): (Option<MaxDelete>, bool),
    settings: &Settings,
    target: &dyn BulkEndpoint,
    plan: &Plan,
    held: u64,
) -> anyhow::Result<Missing> {
    let (mut missing, count) = sync::count_missing(settings, target, &plan.state)?;
    let max = max_delete.unwrap_or(MaxDelete::DEFAULT);
    let limit = max.limit(held);
    let keys = match settings.dry_run {
        true => missing.next(usize::MAX)?,
        false => Vec::new(),
    };
    *plan
        .counts
        .to_delete
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some((count, keys));
    if count > limit {
        let message = format!(
            "--delete-missing would delete {count} of the {held} items in the state, more than --max-delete {max} allows ({limit})"
        );
        if settings.dry_run {
            eprintln!("warning: {message}: a real run would be refused");
            return Ok(missing);
        }
        return Err(Failure::usage(format!("{message}: nothing was sent"))
            .hint("if the input is whole, allow it with --max-delete N or --max-delete P%; a truncated feed must not empty a catalog")
            .into());
    }
    if count > 0 && !settings.dry_run && !yes {
        let question = format!(
            "delete {count} items of {} that {} lacks?",
            target.destination(),
            settings.input
        );
        let refusal = format!("--delete-missing would delete {count} items");
        if !confirm(&question, false, &refusal, "add --yes to delete them")? {
            return Err(Failure::new(exit::USAGE, "nothing was sent or deleted").into());
        }
    }
    Ok(missing)
}

/// The deletions, once every row is sent; said on stderr.
async fn delete(
    missing: &mut Missing,
    settings: &Settings,
    remover: &dyn BulkEndpoint,
    counts: &Counts,
) -> Result<u64, Failure> {
    let deleted = sync::delete_missing(
        missing,
        Deletions {
            settings,
            remover,
            counts,
        },
    )
    .await?;
    if !settings.quiet && deleted > 0 {
        eprintln!(
            "{}: {deleted} items the input lacks were deleted",
            remover.destination()
        );
    }
    Ok(deleted)
}
