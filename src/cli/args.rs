//! The command line as clap parses it: the global flags (`global`) and one subcommand per
//! resource. These structs only parse; `Context` resolves them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::global::GlobalArgs;
#[cfg(feature = "sandbox")]
use super::sandbox;
use super::{api, assets, bulk, catalogs, completions, delta, enrich, items, profile};

#[derive(Debug, Parser)]
#[command(
    name = "catops",
    version,
    about = "Product-catalog operations for rastro, batch, catalogix, clevertap and catalogian",
    long_about = None,
    propagate_version = true,
    max_term_width = 100,
    after_help = crate::error::exit::HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, get, create, change and delete catalogs
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
