//! The global flags, valid before or after any subcommand, and the completer of `-p`.

use std::path::PathBuf;

use clap::Args;
use clap_complete::engine::CompletionCandidate;

use crate::config::Config;
use crate::output::Format;

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Profile to use (else $CATOPS_PROFILE, else default_profile)
    #[arg(
        short = 'p',
        long,
        env = "CATOPS_PROFILE",
        hide_env_values = true,
        global = true,
        value_name = "NAME",
        add = clap_complete::engine::ArgValueCandidates::new(profile_candidates)
    )]
    pub profile: Option<String>,

    /// Config file (else $CATOPS_CONFIG, else <config dir>/catops/config.toml)
    #[arg(
        long,
        env = "CATOPS_CONFIG",
        hide_env_values = true,
        global = true,
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,

    /// Output format [default: table on a terminal, else json]
    #[arg(short = 'o', long, value_enum, global = true, value_name = "FORMAT")]
    pub output: Option<Format>,

    /// Filter JSON output with a jq program, like `gh --jq` (strings print raw)
    #[arg(long, global = true, value_name = "FILTER")]
    pub jq: Option<String>,

    /// Fields to print, in this order, in every format, e.g. --columns sku,title,price
    #[arg(long, global = true, value_name = "A,B", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,

    /// With -o csv: NAME:TYPE headers (price:number), which `bulk upsert` reads back typed
    #[arg(long, global = true)]
    pub typed_header: bool,

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

/// Profile names for `-p`, from the config file the user's environment points at.
pub fn profile_candidates() -> Vec<CompletionCandidate> {
    let explicit = std::env::var_os("CATOPS_CONFIG").map(PathBuf::from);
    let Ok(path) = Config::locate(explicit.as_deref()) else {
        return Vec::new();
    };
    let Ok(config) = Config::load(path, true) else {
        return Vec::new();
    };
    config
        .profiles()
        .into_iter()
        .map(|(name, profile, _)| {
            CompletionCandidate::new(name).help(Some(profile.vendor.name().into()))
        })
        .collect()
}
