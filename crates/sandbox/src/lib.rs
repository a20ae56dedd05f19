//! A local emulator of the five vendor APIs catops talks to (SPEC §8): one axum app, each
//! vendor under its URL prefix (the registry lists them), state in SQLite. It serves
//! `catops sandbox serve`, and runs inside a command when a profile's base_url is
//! "embedded"; tests and users' CI run against it.

mod auth;
mod batch;
mod catalogian;
mod catalogix;
mod changes;
mod clevertap;
mod db;
mod emulated;
mod error;
mod faults;
mod paging;
mod rastro;
mod ratelimit;
mod registry;
mod service;
mod time;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use catalogian::{DEMO_SOURCE, DEMO_SOURCE_KEY};
pub use catops_spec::{SANDBOX_READONLY_TOKEN, SANDBOX_TOKEN};
pub use db::Db;
pub use faults::Faults;
pub use registry::prefix;
pub use service::{Latency, OVERLOADED_RETRY_AFTER_SECS};

/// SPEC §4 sends chunks of up to 5 MiB; axum's default body limit is 2 MB.
const MAX_BODY_BYTES: usize = 8 << 20;

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

/// Whether the vendors' documented rate limits are enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimits {
    On,
    Off,
}

pub struct SandboxOptions {
    pub state: StateLocation,
    pub token: String,
    pub latency: Latency,
    /// At most this many requests served at once (`--max-inflight`); above it, 503.
    pub max_inflight: Option<usize>,
    pub faults: Option<Faults>,
    pub rate_limits: RateLimits,
}

impl SandboxOptions {
    /// The defaults of `catops sandbox serve`: in memory, the fixed token, no faults.
    pub fn in_memory() -> SandboxOptions {
        SandboxOptions {
            state: StateLocation::Memory,
            token: SANDBOX_TOKEN.to_string(),
            latency: Latency::ZERO,
            max_inflight: None,
            faults: None,
            rate_limits: RateLimits::On,
        }
    }
}

/// What every handler can reach.
pub struct Shared {
    pub db: Db,
    pub token: String,
    latency: Latency,
    capacity: Option<service::Capacity>,
    faults: Option<std::sync::Mutex<faults::Roller>>,
    rate_limits: RateLimits,
    /// Where recently served offset pages ended, so the next page is a seek (`paging`).
    page_ends: paging::PageEnds,
    /// Items (and body bytes, where noted) per bulk request as received, newest last (see
    /// `/_sandbox/requests`).
    bulk_log: std::sync::Mutex<std::collections::VecDeque<(&'static str, usize, Option<usize>)>>,
}

/// How many bulk requests `/_sandbox/requests` remembers.
const BULK_LOG_LEN: usize = 10_000;

impl Shared {
    fn open(options: SandboxOptions) -> anyhow::Result<Arc<Shared>> {
        Ok(Arc::new(Shared {
            db: Db::open(&options.state)?,
            token: options.token,
            latency: options.latency,
            capacity: options.max_inflight.map(service::Capacity::new),
            faults: options.faults.map(|f| std::sync::Mutex::new(f.roller())),
            rate_limits: options.rate_limits,
            page_ends: paging::PageEnds::default(),
            bulk_log: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }))
    }

    /// Notes a bulk request's item count, so tests and CI can see the chunk sizes that arrived.
    fn log_bulk(&self, vendor: &'static str, items: usize) {
        self.log_bulk_entry(vendor, items, None);
    }

    /// Notes a bulk request's item count and body size, for a vendor whose limit is in bytes.
    fn log_bulk_body(&self, vendor: &'static str, items: usize, bytes: usize) {
        self.log_bulk_entry(vendor, items, Some(bytes));
    }

    fn log_bulk_entry(&self, vendor: &'static str, items: usize, bytes: Option<usize>) {
        let mut log = self.bulk_log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == BULK_LOG_LEN {
            log.pop_front();
        }
        log.push_back((vendor, items, bytes));
    }

    /// Whether the request carries `Authorization: Bearer <the sandbox token>`.
    fn is_authorized(&self, headers: &HeaderMap) -> bool {
        auth::bearer(headers) == Some(self.token.as_str())
    }
}

fn app(shared: Arc<Shared>) -> Router {
    let mut app = Router::new();
    for vendor in &registry::VENDORS {
        let routes = (vendor.router)(shared.clone()).layer(middleware::map_response_with_state(
            vendor.error_body,
            error::render,
        ));
        app = app.nest(vendor.prefix, routes);
    }
    app
        // Not a vendor API: the item count (and, for clevertap's products, the body size) of
        // each bulk request received, oldest first.
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

/// Capacity, injected faults and latency apply to every vendor alike. The sandbox's own
/// routes (`/_sandbox/...`) are not the service being modelled: no capacity counts them.
async fn before_each_request(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let admin = |request: &Request| request.uri().path().split('/').any(|p| p == "_sandbox");
    // Held until the response is made: a request waiting out its latency is in flight.
    let _slot = match &shared.capacity {
        Some(capacity) if !admin(&request) => match capacity.enter() {
            Some(slot) => Some(slot),
            None => return capacity.overloaded(),
        },
        _ => None,
    };
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
        tokio::time::sleep(shared.latency.pick()).await;
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
        .map(|(vendor, items, bytes)| match bytes {
            Some(bytes) => json!({"vendor": vendor, "items": items, "bytes": bytes}),
            None => json!({"vendor": vendor, "items": items}),
        })
        .collect();
    Json(entries).into_response()
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
    let prefixes: Vec<&str> = registry::VENDORS.iter().map(|v| v.prefix).collect();
    let message = format!(
        "no such endpoint: {} {} (vendors live under {})",
        request.method(),
        request.uri().path(),
        prefixes.join(", ")
    );
    (StatusCode::NOT_FOUND, Json(json!({ "error": message }))).into_response()
}

/// Binds `addr` and serves until `shutdown` resolves; `ready` gets the bound address first.
pub async fn serve(
    addr: &str,
    options: SandboxOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let shared = Shared::open(options)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {addr}: {err}"))?;
    ready(listener.local_addr()?);
    axum::serve(listener, app(shared))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Starts the emulator inside this process on a free loopback port, with its state in the
/// file `state`, and returns its root URL. It serves as long as the runtime runs.
pub async fn start_embedded(state: PathBuf) -> anyhow::Result<String> {
    let shared = Shared::open(SandboxOptions {
        state: StateLocation::File(state),
        ..SandboxOptions::in_memory()
    })?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app(shared)).await });
    Ok(format!("http://{local}"))
}

/// Puts the state back to the demo data.
pub fn reset(location: &StateLocation) -> anyhow::Result<()> {
    Db::open(location)?.reset()
}

/// A server on a loopback port of its own, on a runtime of its own, for tests: stopped when
/// dropped.
pub struct Running {
    pub root: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn start(options: SandboxOptions) -> anyhow::Result<Running> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = ready_tx.send(Err(anyhow::anyhow!("no runtime: {err}")));
                    return;
                }
            };
            let ready = ready_tx.clone();
            let served = runtime.block_on(serve(
                "127.0.0.1:0",
                options,
                move |addr| {
                    let _ = ready.send(Ok(addr));
                },
                async move {
                    let _ = stop_rx.await;
                },
            ));
            if let Err(err) = served {
                let _ = ready_tx.send(Err(err));
            }
        });
        let addr = ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the sandbox stopped before it was ready"))??;
        Ok(Running {
            root: format!("http://{addr}"),
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
