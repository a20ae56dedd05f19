//! `catops sandbox serve|reset`: the built-in emulator of the five vendor APIs (SPEC §8).

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use crate::cli::{server_runtime, GlobalArgs};
use crate::config::SANDBOX_TOKEN;
use crate::error::{exit, Failure};
use crate::sandbox::{self, Faults, RateLimits, SandboxOptions, StateLocation};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the emulator until interrupted; prints one line with its address when ready
    Serve {
        /// Address to listen on (port 0 picks a free port)
        #[arg(long, default_value = "127.0.0.1:8787", value_name = "ADDR")]
        addr: String,
        /// SQLite file for the state, or :memory:
        #[arg(long, default_value = ":memory:", value_name = "PATH|:memory:")]
        state: String,
        /// Fail some requests on purpose, e.g. "500=0.05,429=0.05,reset=0.01,seed=42"
        #[arg(long, value_name = "SPEC")]
        faults: Option<String>,
        /// Enforce the vendors' documented rate limits (batch: 5 requests/s and 1000 items/s
        /// per project, answered with 429 and Retry-After); off for benchmarks
        #[arg(long, value_enum, default_value = "on", value_name = "on|off")]
        rate_limits: RateLimits,
        /// Delay every response by this many milliseconds
        #[arg(long, default_value_t = 0, value_name = "N")]
        latency_ms: u64,
        /// The token with every scope
        #[arg(long, default_value = SANDBOX_TOKEN, value_name = "T")]
        token: String,
    },
    /// Put the embedded sandbox's state (used by base_url = "embedded") back to the demo data
    Reset {
        /// SQLite file to reset [default: <data dir>/catops/sandbox.sqlite3]
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
}

pub fn run(command: SandboxCommand, global: &GlobalArgs) -> anyhow::Result<u8> {
    match command {
        SandboxCommand::Serve {
            addr,
            state,
            faults,
            rate_limits,
            latency_ms,
            token,
        } => {
            let faults = faults
                .as_deref()
                .map(Faults::parse)
                .transpose()
                .map_err(|err| Failure::usage(format!("--faults: {err}")))?;
            let options = SandboxOptions {
                state: StateLocation::parse(&state),
                token,
                latency: Duration::from_millis(latency_ms),
                faults,
                rate_limits,
            };
            let quiet = global.quiet;
            server_runtime()?.block_on(sandbox::serve(&addr, options, quiet))?;
        }
        SandboxCommand::Reset { state } => {
            let path = match state {
                Some(path) => path,
                None => sandbox::embedded_state_path()?,
            };
            sandbox::reset(&StateLocation::File(path.clone()))?;
            if !global.quiet {
                eprintln!("sandbox state reset to the demo data: {}", path.display());
            }
        }
    }
    Ok(exit::OK)
}
