//! The command line as clap parses it: the global flags (`global`) and one subcommand per
//! resource. These structs only parse; `Context` resolves them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::global::GlobalArgs;
#[cfg(feature = "sandbox")]
use super::sandbox;
use super::{api, assets, bulk, catalogs, completions, delta, enrich, items, profile};

/// The first page of `catops --help`: a few commands that work with no account at all.
const ROOT_EXAMPLES: &str = "Examples:
  catops -p sandbox catalogs list
  catops -p sandbox bulk upsert examples/products.csv --catalog cat_demo
  catops -p sandbox items list --catalog cat_demo --limit 5 -o json
  catops profile add shop --vendor rastro --token-env RASTRO_API_KEY
  catops help bulk upsert";

#[derive(Debug, Parser)]
#[command(
    name = "catops",
    version,
    about = "Product-catalog operations for rastro, batch, catalogix, clevertap and catalogian",
    long_about = None,
    propagate_version = true,
    max_term_width = 100,
    after_help = format!("{ROOT_EXAMPLES}\n\n{}", crate::error::exit::HELP)
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
    #[command(
        subcommand,
        after_help = "Examples:
  catops -p sandbox catalogs list
  catops -p sandbox catalogs get cat_demo
  catops -p sandbox-batch catalogs create --name MOVIES --field title --field poster:url
  catops catalogs list --help"
    )]
    Catalogs(catalogs::CatalogsCommand),
    /// List, get and update catalog items
    #[command(
        subcommand,
        after_help = "Examples:
  catops -p sandbox items list --catalog cat_demo --limit 10
  catops -p sandbox items get --catalog cat_demo item_1
  catops -p sandbox items update --catalog cat_demo item_1 --set price:number=24.5"
    )]
    Items(items::ItemsCommand),
    /// Bulk imports and removals from CSV, JSON or NDJSON files
    #[command(
        subcommand,
        after_help = "Examples:
  catops -p sandbox bulk upsert examples/products.csv --catalog cat_demo
  catops -p sandbox bulk upsert examples/products.csv --catalog cat_demo --dry-run
  catops -p sandbox-batch bulk remove examples/gone.csv --catalog demo"
    )]
    Bulk(bulk::BulkCommand),
    /// Asset links (catalogix)
    #[command(
        subcommand,
        after_help = "Examples:
  catops -p sandbox-catalogix assets list
  catops -p sandbox-catalogix assets upsert examples/images.csv --store-uuid store_demo"
    )]
    Assets(assets::AssetsCommand),
    /// Enrichment jobs over a catalog's items (rastro)
    #[command(
        subcommand,
        after_help = "Examples:
  catops -p sandbox enrich start --catalog cat_demo --prompt 'Find the colour' --field color --wait
  catops -p sandbox enrich status --catalog cat_demo job_0123456789ab"
    )]
    Enrich(enrich::EnrichCommand),
    /// The delta feed of a source: events and changed rows (catalogian)
    #[command(
        subcommand,
        after_help = "Examples:
  catops -p sandbox-catalogian delta sources
  catops -p sandbox-catalogian delta list --all -o ndjson
  catops -p sandbox-catalogian delta rows evt_000000000001"
    )]
    Delta(delta::DeltaCommand),
    /// An authenticated raw request to the profile's vendor
    #[command(after_help = "Examples:
  catops -p sandbox api /public/catalogs
  catops -p sandbox api '/public/catalogs/cat_demo/items?limit=2' --jq '.items[].sku'
  catops -p sandbox-batch api '/catalogs/view?name=demo' --jq '.fields[].name'
  catops -p sandbox-batch api -X POST /catalogs/items/edit -d @examples/edit.json
  catops -p sandbox-clevertap api /v2/catalogs -v")]
    Api(api::ApiArgs),
    /// Print a shell's completion script (source it, or save it where the shell looks)
    #[command(after_help = "Examples:
  source <(catops completions bash)
  catops completions zsh > \"${fpath[1]}/_catops\"
  catops completions fish > ~/.config/fish/completions/catops.fish
  catops completions powershell >> $PROFILE

The scripts ask catops itself for candidates, so profile names complete from your config.")]
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
    #[command(
        subcommand,
        after_help = "Examples:
  catops profile list
  catops profile add shop --vendor rastro --token-env RASTRO_API_KEY
  catops profile use shop
  catops profile test shop"
    )]
    Profile(profile::ProfileCommand),
    /// Run or reset the built-in emulator of the five vendor APIs
    #[cfg(feature = "sandbox")]
    #[command(
        subcommand,
        after_help = "Examples:
  catops sandbox serve --addr 127.0.0.1:8787
  catops sandbox reset"
    )]
    Sandbox(sandbox::SandboxCommand),
}
