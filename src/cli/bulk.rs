//! `catops bulk upsert|remove|sync`, and the options every bulk command shares (SPEC §4), which
//! `catops assets upsert` flattens too. `bulk sync`'s own steps are in `sync`.

mod sync;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::bulk::{self, Rates, Settings};
use crate::cli::Context;
use crate::config::Profile;
use crate::error::{usage, Failure};
use crate::input::typed::ValueType;
use crate::input::{EmptyCells, InputFormat, Typing};
use crate::vendors::{BulkEndpoint, BulkRequest, FileUpload, Operation};

#[derive(Debug, Subcommand)]
pub enum BulkCommand {
    /// Create or update items from a CSV, JSON or NDJSON file (rastro, batch, catalogix
    /// products, clevertap products)
    #[command(after_help = "Examples:
  catops -p sandbox bulk upsert examples/products.csv --catalog cat_demo
  catops -p sandbox-clevertap bulk upsert examples/clevertap-products.csv --catalog 123
  catops -p sandbox-clevertap bulk upsert examples/clevertap-products.csv --catalog 123 \\
      --upload --by ops@example.com
  catops -p shop bulk upsert products.csv --catalog cat_123 --journal import.journal
  catops -p shop bulk upsert products.csv --catalog cat_123 --journal import.journal --resume
  zcat feed.ndjson.gz | catops -p shop bulk upsert - --format ndjson --catalog cat_123
  catops -p sandbox-batch bulk upsert examples/movies.csv --catalog demo --dry-run
  catops -p sandbox-catalogix bulk upsert examples/catalogix-products.csv
  catops -p sandbox-batch bulk upsert examples/movies.csv --catalog demo --wait-indexed

batch: before any row is read, the CSV header's columns are checked against the catalog's
fields (catalogs/view); a column the catalog lacks is a usage error (exit 2).")]
    Upsert {
        #[command(flatten)]
        args: BulkArgs,
        #[command(flatten)]
        wait: WaitArgs,
        /// Catalog id (rastro, clevertap), name (batch) or store (catalogix products
        /// [default: the profile's store_uuid])
        #[arg(long, value_name = "ID")]
        catalog: Option<String>,
        /// rastro: the field items are matched on [default: the profile's unique_field]
        #[arg(long, value_name = "F")]
        unique_field: Option<String>,
        /// The column holding the item id [default: id (batch), identity (clevertap)]
        #[arg(long, value_name = "F")]
        id_field: Option<String>,
        /// clevertap: hand the CSV file over whole through the signed-URL upload (in parts
        /// from 100 MB) instead of bulk requests; prints the job that will process it
        #[arg(long, conflicts_with_all = ["journal", "resume", "dry_run", "batch_size", "concurrency", "rate", "item_rate", "rejects", "types"])]
        upload: bool,
        /// clevertap --upload: who completes the upload [default: the profile's user_email]
        #[arg(long, value_name = "EMAIL", requires = "upload")]
        by: Option<String>,
    },
    /// Remove items listed by id in a CSV, JSON or NDJSON file (batch)
    #[command(after_help = "Examples:
  catops -p sandbox-batch bulk remove examples/gone.csv --catalog demo
  catops -p sandbox-batch bulk remove examples/gone.csv --catalog demo --wait-indexed")]
    Remove {
        #[command(flatten)]
        args: BulkArgs,
        #[command(flatten)]
        wait: WaitArgs,
        /// Catalog name
        #[arg(long, value_name = "ID")]
        catalog: String,
        /// The column holding the item id
        #[arg(long, value_name = "F", default_value = "id")]
        id_field: String,
    },
    /// Send only the items that changed since the last sync (rastro, batch, catalogix
    /// products, clevertap products); with --delete-missing, remove those the file lacks (batch)
    #[command(after_help = "Examples:
  catops -p sandbox bulk sync examples/products.csv --catalog cat_demo
  catops -p sandbox bulk sync examples/products.csv --catalog cat_demo --dry-run
  catops -p sandbox bulk sync examples/products.csv --catalog cat_demo --baseline remote
  catops -p shop bulk sync feed.csv --catalog cat_123 --state .catops/feed.sqlite3
  catops -p sandbox-batch bulk sync movies.csv --catalog demo --delete-missing --yes

The state (what each key held when the vendor last accepted it) lives in
<data dir>/catops/sync/<profile>-<catalog>-<hash of the base URL>.sqlite3 unless --state says
where; it is updated only for items the vendor accepted, so an interrupted sync is run again.")]
    Sync(Box<sync::SyncArgs>),
}

/// `--wait-indexed`, for vendors that apply edits after accepting them (batch).
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// batch: after the run, wait until the last edit is applied (polls catalogs/view); the
    /// summary adds indexing_state, and a wait that runs out is exit 1
    #[arg(long)]
    pub wait_indexed: bool,
    /// The longest --wait-indexed wait, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..), requires = "wait_indexed")]
    pub wait_timeout: u64,
}

impl WaitArgs {
    fn limit(&self) -> Option<std::time::Duration> {
        self.wait_indexed
            .then(|| std::time::Duration::from_secs(self.wait_timeout))
    }
}

/// The longest wait for requests in flight after Ctrl-C or SIGTERM.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// The options of SPEC §4 "Bulk options".
#[derive(Debug, Args)]
pub struct BulkArgs {
    /// Input file, or - for stdin
    #[arg(value_name = "FILE|-")]
    pub file: String,
    /// Input format [default: from the file extension, else csv]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<InputFormat>,
    /// Type a CSV column: COLUMN=TYPE with TYPE string, number, integer, boolean, array or json
    #[arg(long = "type", value_name = "COLUMN=TYPE")]
    pub types: Vec<String>,
    /// Separator of array cells
    #[arg(long, default_value = "|", value_name = "SEP")]
    pub array_sep: String,
    /// What an empty CSV cell becomes
    #[arg(long, value_enum, default_value = "omit")]
    pub empty: EmptyCells,
    /// Items per request [default and maximum: the vendor's limit]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
    /// Requests in flight, fixed [default: the profile's concurrency, else adapted to the service]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub concurrency: Option<u64>,
    /// Requests per second [default: the profile's rate_limit_rps, else the vendor's limit]
    #[arg(long, value_name = "RPS", value_parser = positive_rate)]
    pub rate: Option<f64>,
    /// Items per second [default: the profile's rate_limit_items, else the vendor's limit]
    #[arg(long, value_name = "IPS", value_parser = positive_rate)]
    pub item_rate: Option<f64>,
    /// Where rejected rows go [default: <input stem>.rejects.ndjson here]
    #[arg(long, value_name = "PATH")]
    pub rejects: Option<PathBuf>,
    /// Record acknowledged rows here, so an interrupted run can --resume
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Skip the rows the journal records as done
    #[arg(long, requires = "journal")]
    pub resume: bool,
    /// Read and validate everything, write rejects, print the plan; send nothing
    #[arg(long)]
    pub dry_run: bool,
}

fn positive_rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("'{raw}' is not a positive number")),
    }
}

pub async fn run(command: BulkCommand, ctx: &Context) -> anyhow::Result<u8> {
    let (args, request, wait) = match command {
        BulkCommand::Sync(args) => return sync::run(*args, ctx).await,
        BulkCommand::Upsert {
            args,
            catalog,
            id_field,
            upload: true,
            by,
            ..
        } => {
            let Some(catalog) = catalog else {
                return usage("--upload needs --catalog ID");
            };
            let upload = FileUpload {
                path: PathBuf::from(&args.file),
                catalog,
                id_field,
                by: ctx.user_email(by)?,
            };
            return upload_file(ctx, &args, upload).await;
        }
        BulkCommand::Upsert {
            args,
            wait,
            catalog,
            unique_field,
            id_field,
            ..
        } => {
            let request = BulkRequest {
                unique_field,
                id_field,
                ..BulkRequest::new(Operation::BulkUpsert, catalog)
            };
            (args, request, wait.limit())
        }
        BulkCommand::Remove {
            args,
            wait,
            catalog,
            id_field,
        } => {
            let request = BulkRequest {
                id_field: Some(id_field),
                ..BulkRequest::new(Operation::BulkRemove, Some(catalog))
            };
            (args, request, wait.limit())
        }
    };
    execute_waiting(ctx, args, request, wait).await
}

/// `bulk upsert --upload`: the file handed over whole; the summary names the job that will
/// process it, since no row is accepted yet.
async fn upload_file(ctx: &Context, args: &BulkArgs, upload: FileUpload) -> anyhow::Result<u8> {
    if args.file == "-" {
        return Err(Failure::usage("--upload sends a regular file, not stdin")
            .hint("without --upload, catops streams stdin through the bulk endpoint")
            .into());
    }
    let format = args
        .format
        .unwrap_or_else(|| InputFormat::from_path(&args.file));
    if format != InputFormat::Csv {
        return usage("--upload sends CSV files (the upload's contentType is text/csv)");
    }
    let api = ctx.api(Operation::BulkUpload).await?;
    // Ctrl-C stops the upload; an upload not marked complete starts no job.
    let uploaded = tokio::select! {
        uploaded = api.file_uploads()?.upload_file(&upload) => uploaded?,
        () = crate::interrupt::interrupted() => {
            eprintln!("interrupted: no job id came back, so the upload is not confirmed complete; run the command again to hand the file over");
            return Ok(crate::error::exit::INTERRUPTED);
        }
    };
    ctx.print(&uploaded.summary)?;
    if !ctx.quiet {
        eprintln!("{}", uploaded.human);
    }
    Ok(crate::error::exit::OK)
}

pub async fn execute(ctx: &Context, args: BulkArgs, request: BulkRequest) -> anyhow::Result<u8> {
    execute_waiting(ctx, args, request, None).await
}

/// Resolves the options against the profile and the vendor's limits, runs the pipeline,
/// waits for the edits to be applied when asked, and prints the summary.
async fn execute_waiting(
    ctx: &Context,
    args: BulkArgs,
    request: BulkRequest,
    wait_indexed: Option<std::time::Duration>,
) -> anyhow::Result<u8> {
    let Some(Prepared {
        settings, target, ..
    }) = prepare(ctx, args, request, wait_indexed).await?
    else {
        return Ok(crate::error::exit::INTERRUPTED);
    };
    let outcome = bulk::run(&settings, target).await?;
    ctx.print(&outcome.summary)?;
    if let Some(error) = outcome.error {
        return Err(error);
    }
    Ok(outcome.code)
}

/// A bulk run ready to start: its settings, the vendor's endpoint, and the profile.
pub struct Prepared {
    pub settings: Settings,
    pub target: Box<dyn BulkEndpoint>,
    pub profile: Profile,
}

/// Connects to the vendor and resolves the options against the profile and the vendor's
/// limits; None when a signal came first (it was said on stderr).
pub async fn prepare(
    ctx: &Context,
    args: BulkArgs,
    request: BulkRequest,
    wait_indexed: Option<std::time::Duration>,
) -> anyhow::Result<Option<Prepared>> {
    let command = request.operation.command();
    let profile_name = ctx.selected()?.name;
    // A bulk command hears signals itself; until its run starts (a token_cmd may still be
    // running), one ends it here.
    let (target, profile) = tokio::select! {
        connected = ctx.bulk_target(request) => connected?,
        () = crate::interrupt::interrupted() => {
            eprintln!("interrupted");
            return Ok(None);
        }
    };
    if wait_indexed.is_some() && target.indexing().is_none() {
        return usage(format!(
            "--wait-indexed is for vendors that apply edits after accepting them (batch); {} applies them at once",
            profile.vendor
        ));
    }
    let max = target.max_items();
    let batch_size = match args.batch_size {
        Some(n) if n as usize > max => {
            return usage(format!(
                "--batch-size {n} is over {}'s limit of {max} items per request",
                profile.vendor
            ))
        }
        Some(n) => n as usize,
        None => max,
    };
    let (vendor_rps, vendor_ips) = target.default_rates();
    let rates = Rates {
        requests_per_second: args.rate.or(profile.rate_limit_rps).or(vendor_rps),
        items_per_second: args.item_rate.or(profile.rate_limit_items).or(vendor_ips),
    };
    let settings = Settings {
        command,
        format: args
            .format
            .unwrap_or_else(|| InputFormat::from_path(&args.file)),
        typing: typing(&args)?,
        batch_size,
        concurrency: args.concurrency.map(|n| n as usize).or(profile.concurrency),
        rates,
        rejects: args
            .rejects
            .clone()
            .unwrap_or_else(|| default_rejects_path(&args.file)),
        journal: args.journal.clone(),
        resume: args.resume,
        dry_run: args.dry_run,
        progress: ctx.bulk_progress(),
        quiet: ctx.quiet,
        // On a terminal stdout shows the summary itself: say it once.
        summary_line: !ctx.quiet && !ctx.stdout_is_terminal,
        verbose: ctx.verbosity() >= 1,
        // SPEC §4: requests in flight answer within --timeout, at most 10 s, after a signal.
        grace: ctx.timeout().min(GRACE),
        base_url: ctx.configured_base_url(&profile),
        profile: profile_name,
        input: args.file,
        wait_indexed,
        sync: None,
    };
    Ok(Some(Prepared {
        settings,
        target,
        profile,
    }))
}

fn typing(args: &BulkArgs) -> anyhow::Result<Typing> {
    let mut types = HashMap::new();
    for spec in &args.types {
        let Some((column, kind)) = spec.split_once('=') else {
            return usage(format!("--type '{spec}': expected COLUMN=TYPE"));
        };
        let kind: ValueType = kind
            .parse()
            .map_err(|err| Failure::usage(format!("--type '{spec}': {err}")))?;
        types.insert(column.to_string(), kind);
    }
    if args.array_sep.is_empty() {
        return usage("--array-sep cannot be empty");
    }
    Ok(Typing {
        types,
        array_sep: args.array_sep.clone(),
        empty: args.empty,
    })
}

/// SPEC §4: `<input stem>.rejects.ndjson` in the current directory.
fn default_rejects_path(input: &str) -> PathBuf {
    let stem = if input == "-" {
        "stdin".to_string()
    } else {
        Path::new(input)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "input".to_string())
    };
    PathBuf::from(format!("{stem}.rejects.ndjson"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_default_next_to_the_current_directory() {
        assert_eq!(
            default_rejects_path("data/products.csv"),
            PathBuf::from("products.rejects.ndjson")
        );
        assert_eq!(
            default_rejects_path("-"),
            PathBuf::from("stdin.rejects.ndjson")
        );
    }
}
