//! `catops sandbox serve|reset`: the built-in emulator of the five vendor APIs (SPEC §8).

use std::path::PathBuf;

use catops_sandbox::{
    Faults, Latency, SandboxOptions, StateLocation, OVERLOADED_RETRY_AFTER_SECS,
    SANDBOX_READONLY_TOKEN, SANDBOX_TOKEN,
};
use clap::Subcommand;

use super::server_runtime;
use crate::error::{exit, Failure};
use catops_spec::batch::{DEFAULT_API_VERSION, ITEMS_PER_SECOND, REQUESTS_PER_SECOND};
use catops_spec::catalogian::REQUESTS_PER_MINUTE_PER_KEY;
use catops_spec::VendorKind;

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the emulator until interrupted; prints one line with its address when ready
    #[command(after_help = "Examples:
  catops sandbox serve
  catops sandbox serve --addr 127.0.0.1:0 --state sandbox.sqlite3
  catops sandbox serve --faults '500=0.05,429=0.05,reset=0.01,seed=42' --latency-ms 50
  catops sandbox serve --rate-limits off

Each vendor is served under its prefix (/rastro/api, /batch/2.11, /catalogix/v1, /clevertap,
/catalogian); the built-in profiles reach it with --base-url or $CATOPS_BASE_URL, e.g.
CATOPS_BASE_URL=http://127.0.0.1:8787/rastro/api catops -p sandbox catalogs list")]
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
        /// per project; catalogian: 600 requests a minute per key, with X-RateLimit-* headers),
        /// answered with 429 and Retry-After; off for benchmarks
        #[arg(long, value_enum, default_value = "on", value_name = "on|off")]
        rate_limits: RateLimits,
        /// Delay every response by N milliseconds, or by a uniform random delay in MIN..MAX
        /// (inclusive) per request, e.g. 80..160, as a service across a network would
        #[arg(long, default_value = "0", value_name = "N|MIN..MAX")]
        latency_ms: String,
        /// Serve at most N requests at once (across all vendors, latency included); a request
        /// above that is answered 503 at once with Retry-After: 1, as an overloaded service
        /// does
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        max_inflight: Option<u32>,
        /// The token with every scope
        #[arg(long, default_value = SANDBOX_TOKEN, value_name = "T")]
        token: String,
    },
    /// Put the embedded sandbox's state (used by base_url = "embedded") back to the demo data
    #[command(after_help = "Examples:
  catops sandbox reset
  catops sandbox reset --state sandbox.sqlite3")]
    Reset {
        /// SQLite file to reset [default: <data dir>/catops/sandbox.sqlite3]
        #[arg(long, value_name = "PATH")]
        state: Option<PathBuf>,
    },
}

/// `--rate-limits on|off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RateLimits {
    On,
    Off,
}

/// `quiet` is the global `--quiet`: no URL list on stderr.
pub fn run(command: SandboxCommand, quiet: bool) -> anyhow::Result<u8> {
    match command {
        SandboxCommand::Serve {
            addr,
            state,
            faults,
            rate_limits,
            latency_ms,
            max_inflight,
            token,
        } => {
            let faults = faults
                .as_deref()
                .map(Faults::parse)
                .transpose()
                .map_err(|err| Failure::usage(format!("--faults: {err}")))?;
            let latency = Latency::parse(&latency_ms)
                .map_err(|err| Failure::usage(format!("--latency-ms: {err}")))?;
            let limited = rate_limits == RateLimits::On;
            let options = SandboxOptions {
                state: StateLocation::parse(&state),
                latency,
                max_inflight: max_inflight.map(|n| n as usize),
                faults,
                rate_limits: if limited {
                    catops_sandbox::RateLimits::On
                } else {
                    catops_sandbox::RateLimits::Off
                },
                token: token.clone(),
            };
            server_runtime()?.block_on(catops_sandbox::serve(
                &addr,
                options,
                |local| announce(local, &token, limited, max_inflight, quiet),
                shutdown_signal(),
            ))?;
        }
        SandboxCommand::Reset { state } => {
            let path = match state {
                Some(path) => path,
                None => embedded_state_path()?,
            };
            catops_sandbox::reset(&StateLocation::File(path.clone()))?;
            if !quiet {
                eprintln!("sandbox state reset to the demo data: {}", path.display());
            }
        }
    }
    Ok(exit::OK)
}

/// One ready line with the address on stdout (scripts wait for it), the rest on stderr.
fn announce(
    local: std::net::SocketAddr,
    token: &str,
    limited: bool,
    max_inflight: Option<u32>,
    quiet: bool,
) {
    println!("catops sandbox listening on http://{local}");
    if quiet {
        return;
    }
    for kind in VendorKind::ALL {
        let prefix = catops_sandbox::prefix(kind, DEFAULT_API_VERSION);
        eprintln!("  {:<10} http://{local}{prefix}", kind.name());
    }
    if token == SANDBOX_TOKEN {
        eprintln!("  token      {SANDBOX_TOKEN} (all scopes)");
    }
    eprintln!("  token      {SANDBOX_READONLY_TOKEN} (catalogian read scope only)");
    eprintln!(
        "  token      {} (catalogian source-scoped key: {} only, read scope)",
        catops_sandbox::DEMO_SOURCE_KEY,
        catops_sandbox::DEMO_SOURCE
    );
    if limited {
        eprintln!("  rate limits on (batch: {REQUESTS_PER_SECOND} requests/s, {ITEMS_PER_SECOND} items/s per project; catalogian: {REQUESTS_PER_MINUTE_PER_KEY} requests/min per key)");
    } else {
        eprintln!("  rate limits off");
    }
    if let Some(n) = max_inflight {
        eprintln!("  capacity   {n} requests in flight, then 503 with Retry-After: {OVERLOADED_RETRY_AFTER_SECS}");
    }
    eprintln!("  stop with Ctrl-C");
}

/// SPEC §8: `<data dir>/catops/sandbox.sqlite3`.
pub fn embedded_state_path() -> anyhow::Result<PathBuf> {
    match directories::BaseDirs::new() {
        Some(dirs) => Ok(dirs.data_dir().join("catops").join("sandbox.sqlite3")),
        None => crate::error::usage("cannot find a data directory (is HOME set?)"),
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
