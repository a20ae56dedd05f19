//! The built-in emulator of the five vendor APIs (SPEC §8): one axum app, one module per
//! emulated vendor under its URL prefix, state in SQLite. It serves `catops sandbox serve`,
//! and runs inside a command when a profile's base_url is "embedded".

mod batch;
mod catalogian;
mod catalogix;
mod clevertap;
mod db;
mod enrich;
mod faults;
mod rastro;
mod ratelimit;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use crate::config::SANDBOX_TOKEN;
use crate::vendors::batch::{
    DEFAULT_API_VERSION as BATCH_VERSION, ITEMS_PER_SECOND, REQUESTS_PER_SECOND,
};
pub use db::Db;
pub use faults::Faults;

/// SPEC §4 sends chunks of up to 5 MiB; axum's default body limit is 2 MB.
const MAX_BODY_BYTES: usize = 8 << 20;

/// SPEC §8: the second fixed token. catalogian takes it with the `read` scope only; every
/// other vendor refuses it like an unknown token.
pub const SANDBOX_READONLY_TOKEN: &str = "sandbox-readonly";

pub enum StateLocation {
    Memory,
    File(PathBuf),
}

impl StateLocation {
    pub fn parse(raw: &str) -> StateLocation {
        if raw == ":memory:" {
            StateLocation::Memory
        } else {
            StateLocation::File(PathBuf::from(raw))
        }
    }
}

/// `--rate-limits on|off`: whether the vendors' documented rate limits are enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RateLimits {
    On,
    Off,
}

pub struct SandboxOptions {
    pub state: StateLocation,
    pub token: String,
    pub latency: Duration,
    pub faults: Option<Faults>,
    pub rate_limits: RateLimits,
}

/// What every handler can reach.
pub struct Shared {
    pub db: Db,
    pub token: String,
    latency: Duration,
    faults: Option<std::sync::Mutex<faults::Roller>>,
    rate_limits: RateLimits,
    /// Items per bulk request as received, newest last (see `/_sandbox/requests`).
    bulk_log: std::sync::Mutex<std::collections::VecDeque<(&'static str, usize)>>,
}

/// How many bulk requests `/_sandbox/requests` remembers.
const BULK_LOG_LEN: usize = 10_000;

impl Shared {
    fn open(options: SandboxOptions) -> anyhow::Result<Arc<Shared>> {
        Ok(Arc::new(Shared {
            db: Db::open(&options.state)?,
            token: options.token,
            latency: options.latency,
            faults: options.faults.map(|f| std::sync::Mutex::new(f.roller())),
            rate_limits: options.rate_limits,
            bulk_log: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }))
    }

    /// Notes a bulk request's item count, so tests and CI can see the chunk sizes that arrived.
    fn log_bulk(&self, vendor: &'static str, items: usize) {
        let mut log = self.bulk_log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == BULK_LOG_LEN {
            log.pop_front();
        }
        log.push_back((vendor, items));
    }

    /// Whether the request carries `Authorization: Bearer <the sandbox token>`.
    fn is_authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            == Some(self.token.as_str())
    }
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .nest("/rastro/api", rastro::router(shared.clone()))
        // SPEC §8 says /batch/2.11; any version is served, as a profile's api_version may differ.
        .nest("/batch/{version}", batch::router(shared.clone()))
        .nest("/catalogix/v1", catalogix::router(shared.clone()))
        .nest("/clevertap", clevertap::router(shared.clone()))
        .nest("/catalogian", catalogian::router(shared.clone()))
        // Not a vendor API: the item count of each bulk request received, oldest first.
        .route(
            "/_sandbox/requests",
            axum::routing::get(bulk_requests).with_state(shared.clone()),
        )
        // Not a vendor API: every vendor's data back to the seeded start, for a server that
        // stays up across test cases (or benchmark clients).
        .route(
            "/_sandbox/reset",
            axum::routing::post(reset_state).with_state(shared.clone()),
        )
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(shared, before_each_request))
}

/// Injected faults and latency apply to every vendor alike.
async fn before_each_request(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(roller) = &shared.faults {
        let fault = roller
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .roll();
        if let Some(fault) = fault {
            return fault.response();
        }
    }
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    next.run(request).await
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "unauthorized"})),
    )
        .into_response()
}

async fn reset_state(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !shared.is_authorized(&headers) {
        return unauthorized();
    }
    match shared.db.reset_async().await {
        Ok(()) => {
            shared
                .bulk_log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": format!("cannot reset the sandbox: {err}")})),
        )
            .into_response(),
    }
}

async fn bulk_requests(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !shared.is_authorized(&headers) {
        return unauthorized();
    }
    let log = shared.bulk_log.lock().unwrap_or_else(|p| p.into_inner());
    let entries: Vec<_> = log
        .iter()
        .map(|(vendor, items)| json!({"vendor": vendor, "items": items}))
        .collect();
    Json(entries).into_response()
}

/// Unix time in milliseconds; enrichment progress and delta timestamps are wall-clock based.
fn unix_ms_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A hash that stays the same across runs, platforms and Rust releases (FNV-1a, then a
/// splitmix64 finish so every bit is mixed): the sandbox's "random" values must be
/// reproducible. `std`'s hashers promise no such thing.
fn stable_hash(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            // A separator, so ("ab", "c") and ("a", "bc") differ.
            hash ^= 0xff;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        for byte in part.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

async fn unknown_route(request: Request) -> Response {
    let message = format!(
        "no such endpoint: {} {} (vendors live under /rastro/api, /batch/2.11, /catalogix/v1, /clevertap, /catalogian)",
        request.method(),
        request.uri().path()
    );
    (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
}

/// `catops sandbox serve`: prints one ready line with the address on stdout, serves until
/// SIGINT or SIGTERM.
pub async fn serve(addr: &str, options: SandboxOptions, quiet: bool) -> anyhow::Result<()> {
    let shared = Shared::open(options)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {addr}: {err}"))?;
    let local = listener.local_addr()?;
    println!("catops sandbox listening on http://{local}");
    if !quiet {
        eprintln!("  rastro     http://{local}/rastro/api");
        eprintln!("  batch      http://{local}/batch/{BATCH_VERSION}");
        eprintln!("  catalogix  http://{local}/catalogix/v1");
        eprintln!("  clevertap  http://{local}/clevertap");
        eprintln!("  catalogian http://{local}/catalogian");
        if shared.token == SANDBOX_TOKEN {
            eprintln!("  token      {SANDBOX_TOKEN} (all scopes)");
        }
        eprintln!("  token      {SANDBOX_READONLY_TOKEN} (catalogian read scope only)");
        eprintln!(
            "  token      {} (catalogian source-scoped key: {} only, read scope)",
            catalogian::DEMO_SOURCE_KEY,
            catalogian::DEMO_SOURCE
        );
        match shared.rate_limits {
            RateLimits::On => eprintln!(
                "  rate limits on (batch: {REQUESTS_PER_SECOND} requests/s, {ITEMS_PER_SECOND} items/s per project)"
            ),
            RateLimits::Off => eprintln!("  rate limits off"),
        }
        eprintln!("  stop with Ctrl-C");
    }
    axum::serve(listener, app(shared))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Starts the emulator inside this process on a free loopback port, with the state file in
/// the data dir, and returns its root URL. It lives as long as the command.
pub async fn start_embedded() -> anyhow::Result<String> {
    let shared = Shared::open(SandboxOptions {
        state: StateLocation::File(embedded_state_path()?),
        token: SANDBOX_TOKEN.to_string(),
        latency: Duration::ZERO,
        faults: None,
        rate_limits: RateLimits::On,
    })?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app(shared)).await });
    Ok(format!("http://{local}"))
}

/// SPEC §8: `<data dir>/catops/sandbox.sqlite3`.
pub fn embedded_state_path() -> anyhow::Result<PathBuf> {
    match directories::BaseDirs::new() {
        Some(dirs) => Ok(dirs.data_dir().join("catops").join("sandbox.sqlite3")),
        None => crate::error::usage("cannot find a data directory (is HOME set?)"),
    }
}

pub fn reset(location: &StateLocation) -> anyhow::Result<()> {
    Db::open(location)?.reset()
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
