//! The command line as clap parses it: global flags and one subcommand per resource. These
//! structs only parse; `Context` resolves them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[cfg(feature = "sandbox")]
use super::sandbox;
use super::{api, assets, bulk, catalogs, completions, delta, enrich, items, profile};
use crate::output::Format;

#[derive(Debug, Parser)]
#[command(
    name = "catops",
    version,
    about = "Product-catalog operations for rastro, batch, catalogix, clevertap and catalogian",
    long_about = None,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Profile to use (else $CATOPS_PROFILE, else default_profile)
    #[arg(
        short = 'p',
        long,
        env = "CATOPS_PROFILE",
        hide_env_values = true,
        global = true,
        value_name = "NAME",
        add = clap_complete::engine::ArgValueCandidates::new(completions::profile_candidates)
    )]
    pub profile: Option<String>,

    /// Config file (else $CATOPS_CONFIG, else <config dir>/catops/config.toml)
    #[arg(long, env = "CATOPS_CONFIG", global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Output format [default: table on a terminal, else json]
    #[arg(short = 'o', long, value_enum, global = true, value_name = "FORMAT")]
    pub output: Option<Format>,

    /// Filter JSON output with a jq program, like `gh --jq` (strings print raw)
    #[arg(long, global = true, value_name = "FILTER")]
    pub jq: Option<String>,

    /// Columns for table and csv output, e.g. --columns sku,title,price
    #[arg(long, global = true, value_name = "A,B", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,

    /// Override the profile's base URL, also $CATOPS_BASE_URL ("embedded": the built-in sandbox)
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// Seconds to wait for each request
    #[arg(long, default_value_t = 30.0, global = true, value_name = "SECS", value_parser = positive_seconds)]
    pub timeout: f64,

    /// Retries for 429, 5xx, timeouts and connection errors
    #[arg(long, default_value_t = 5, global = true, value_name = "N")]
    pub max_retries: u32,

    /// Log each request on stderr; -vv adds bodies (secrets redacted)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Print nothing on stderr but errors
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Never draw progress bars
    #[arg(long, global = true)]
    pub no_progress: bool,
}

fn positive_seconds(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Ok(secs),
        _ => Err(format!("'{raw}' is not a positive number of seconds")),
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List and create catalogs
    #[command(subcommand)]
    Catalogs(catalogs::CatalogsCommand),
    /// List, get and update catalog items
    #[command(subcommand)]
    Items(items::ItemsCommand),
    /// Bulk imports and removals from CSV, JSON or NDJSON files
    #[command(subcommand)]
    Bulk(bulk::BulkCommand),
    /// Asset links (catalogix)
    #[command(subcommand)]
    Assets(assets::AssetsCommand),
    /// Enrichment jobs over a catalog's items (rastro)
    #[command(subcommand)]
    Enrich(enrich::EnrichCommand),
    /// The delta feed of a source: events and changed rows (catalogian)
    #[command(subcommand)]
    Delta(delta::DeltaCommand),
    /// An authenticated raw request to the profile's vendor
    Api(api::ApiArgs),
    /// Print a shell's completion script (source it, or save it where the shell looks)
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: completions::Shell,
    },
    /// Write completions/ and man/ from the command definitions (for maintainers)
    #[command(hide = true)]
    GenerateDocs {
        /// Directory to write completions/ and man/ into
        #[arg(long, value_name = "DIR", default_value = ".")]
        out: PathBuf,
    },
    /// Manage profiles in the config file
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Run or reset the built-in emulator of the five vendor APIs
    #[cfg(feature = "sandbox")]
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
}
