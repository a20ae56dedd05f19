//! The bulk pipeline (SPEC §4), as stages joined by bounded channels:
//!
//! reader thread (parse → type → vendor item → validate → serialise once → chunk)
//!   → chunks channel → dispatcher (rate limit, bounded concurrency)
//!   → sender tasks (retry in the HTTP core, split a refused chunk to isolate bad rows)
//!   → events channel → outcome task (journal, rejects file, counts) → summary.
//!
//! Every row read ends accepted, rejected or failed; none is dropped.

mod chunk;
mod journal;
mod rejects;
mod throttle;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use crate::error::{exit, Failure};
use crate::http::ApiError;
use crate::input::typed::ValueType;
use crate::input::{self, InputFormat, Records, Typing};
use crate::vendors::{BulkReply, BulkTarget, VendorKind};
use chunk::{Chunk, Chunker, RowSpan, TooLarge};
pub use journal::JournalHeader;
use journal::{Journal, RowSet};
use rejects::Rejects;
pub use throttle::Rates;
use throttle::Throttle;

/// Everything a bulk run needs besides the vendor target, resolved from flags and profile.
pub struct Settings {
    pub command: &'static str,
    pub input: String,
    pub format: InputFormat,
    pub typing: Typing,
    pub batch_size: usize,
    pub concurrency: usize,
    pub rates: Rates,
    pub rejects: PathBuf,
    pub journal: Option<PathBuf>,
    pub resume: bool,
    pub dry_run: bool,
    pub progress: bool,
    pub quiet: bool,
}

/// How the run ended: the summary for stdout, the exit code, and a fatal error if one stopped it.
pub struct Outcome {
    pub summary: Value,
    pub code: u8,
    pub error: Option<anyhow::Error>,
}

/// What the stages report, as they go.
enum Event {
    /// A row that will not be sent, or that the vendor refused.
    Rejected {
        row: u64,
        line: u64,
        error: String,
        record: Value,
    },
    Accepted {
        rows: Vec<u64>,
        created: Option<u64>,
        updated: Option<u64>,
        indexing_token: Option<String>,
    },
    /// Rows that could not be delivered (retries exhausted, or the run stopped); a resume
    /// sends them again. `record` says whether they go to the rejects file.
    Failed {
        chunk: Chunk,
        error: String,
        record: bool,
    },
}

#[derive(Default)]
struct Counters {
    bytes_read: Arc<AtomicU64>,
    rows_read: AtomicU64,
    skipped: AtomicU64,
    rows_sent: AtomicU64,
    requests: AtomicU64,
    accepted: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    created: AtomicU64,
    updated: AtomicU64,
    counts_reported: AtomicBool,
    rows_valid: AtomicU64,
    /// batch: the indexing token of the last accepted edit.
    indexing_token: Mutex<Option<String>>,
}

impl Counters {
    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What sender tasks share.
struct Delivery {
    target: Arc<BulkTarget>,
    throttle: Throttle,
    counters: Arc<Counters>,
    events: mpsc::Sender<Event>,
    /// The first error that makes further requests pointless (401, 403, 404, a reply that
    /// cannot be read, a refusal that is about the request), with a hint of our own.
    fatal: Mutex<Option<(ApiError, Option<&'static str>)>>,
    stop: Arc<AtomicBool>,
    quiet: bool,
}

pub async fn run(settings: Settings, target: BulkTarget) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let counters = Arc::new(Counters::default());
    let (reader, input_size) = input::open(&settings.input, counters.bytes_read.clone())
        .map_err(|err| Failure::usage(err.0))?;
    let records = input::records(settings.format, reader, &settings.typing)
        .map_err(|err| Failure::usage(format!("{}: {}", display_input(&settings.input), err.0)))?;

    if let (Records::Csv(csv), Some(field)) = (&records, target.key_field()) {
        if csv.column(field).is_none() && !settings.quiet {
            // Per row, as SPEC §4 asks, but said once up front rather than only a million times.
            eprintln!(
                "warning: {}: the CSV header has no '{field}' column, so every row will be rejected",
                display_input(&settings.input)
            );
        }
    }

    let header = JournalHeader {
        journal: "catops bulk".to_string(),
        command: settings.command.to_string(),
        vendor: target.http().vendor().to_string(),
        destination: target.destination(),
        input: settings.input.clone(),
    };
    let (journal, done) = match (&settings.journal, settings.dry_run) {
        (Some(path), false) => {
            let (journal, done) = Journal::open(path, &header, settings.resume)?;
            (Some(journal), done)
        }
        _ => (None, RowSet::default()),
    };
    let append_rejects = settings.resume && !done.is_empty();
    let rejects = Rejects::new(settings.rejects.clone(), append_rejects);

    let stop = Arc::new(AtomicBool::new(false));
    let signals = tokio::spawn(watch_signals(stop.clone()));
    let target = Arc::new(target);
    let (chunks_tx, mut chunks_rx) = mpsc::channel::<Chunk>(settings.concurrency.max(1));
    let (events_tx, events_rx) = mpsc::channel::<Event>(4096);

    let reader = {
        let target = target.clone();
        let counters = counters.clone();
        let events = events_tx.clone();
        let stop = stop.clone();
        let batch_size = settings.batch_size;
        std::thread::spawn(move || {
            read_rows(
                records, &target, &done, batch_size, &chunks_tx, &events, &stop, &counters,
            )
        })
    };

    let outcome_task = tokio::spawn(record_outcomes(
        events_rx,
        journal,
        rejects,
        counters.clone(),
    ));
    let progress = settings
        .progress
        .then(|| Progress::start(counters.clone(), input_size));

    let delivery = Arc::new(Delivery {
        throttle: Throttle::new(settings.rates, settings.batch_size),
        target: target.clone(),
        counters: counters.clone(),
        events: events_tx,
        fatal: Mutex::new(None),
        stop: stop.clone(),
        quiet: settings.quiet,
    });
    let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut senders = JoinSet::new();
    let mut planned_requests = 0u64;
    while let Some(chunk) = chunks_rx.recv().await {
        counters
            .rows_valid
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if settings.dry_run {
            planned_requests += 1;
            continue;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let delivery = delivery.clone();
        senders.spawn(async move {
            deliver(chunk, &delivery).await;
            drop(permit);
        });
        while senders.try_join_next().is_some() {}
    }
    while senders.join_next().await.is_some() {}
    let fatal = delivery
        .fatal
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    drop(delivery);
    // The reader only ends early on a stop request; its panics would be a bug, not input.
    let _ = reader.join();
    let (rejects_file, journal_path) = outcome_task
        .await
        .map_err(|err| anyhow::anyhow!("the outcome writer failed: {err}"))??;
    signals.abort();
    if let Some(progress) = progress {
        progress.finish();
    }
    let interrupted = stop.load(Ordering::Relaxed) && fatal.is_none();

    let counters = &*counters;
    let rejects_file = rejects_file.map(|p| p.display().to_string());
    let elapsed = started.elapsed();
    let rejected = Counters::get(&counters.rejected);
    let failed = Counters::get(&counters.failed);
    let summary = if settings.dry_run {
        let (rps, ips) = (
            settings.rates.requests_per_second,
            settings.rates.items_per_second,
        );
        let rows_valid = Counters::get(&counters.rows_valid);
        let by_requests = rps.map_or(0.0, |r| planned_requests.saturating_sub(1) as f64 / r);
        let by_items = ips.map_or(0.0, |r| {
            rows_valid.saturating_sub(settings.batch_size as u64) as f64 / r
        });
        json!({
            "dry_run": true,
            "rows_read": Counters::get(&counters.rows_read),
            "rows_valid": rows_valid,
            "rejected": rejected,
            "requests": planned_requests,
            "batch_size": settings.batch_size,
            "min_seconds": (by_requests.max(by_items) * 10.0).round() / 10.0,
            "rejects_file": rejects_file,
        })
    } else {
        let reported = counters.counts_reported.load(Ordering::Relaxed);
        json!({
            "rows_read": Counters::get(&counters.rows_read),
            "rows_sent": Counters::get(&counters.rows_sent),
            "accepted": Counters::get(&counters.accepted),
            "created": reported.then(|| Counters::get(&counters.created)),
            "updated": reported.then(|| Counters::get(&counters.updated)),
            "failed": failed,
            "rejected": rejected,
            "requests": Counters::get(&counters.requests),
            "retries": target.http().retries(),
            "elapsed_ms": elapsed.as_millis() as u64,
            "rejects_file": rejects_file,
            "skipped": Counters::get(&counters.skipped),
        })
    };
    let mut summary = summary;
    if target.http().vendor() == VendorKind::Batch && !settings.dry_run {
        // edit-items: the token of an edit tells, through `view`, when it is applied; the last
        // one covers the run.
        let token = counters
            .indexing_token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        summary["indexing_token"] = json!(token);
    }
    if !settings.quiet {
        eprintln!(
            "{}",
            human_summary(&settings, &summary, &target.destination(), elapsed)
        );
        if interrupted {
            eprintln!("hint: {}", resume_hint(journal_path.as_deref()));
        }
    }
    let code = if interrupted {
        exit::INTERRUPTED
    } else if rejected > 0 || failed > 0 {
        exit::PARTIAL
    } else {
        exit::OK
    };
    Ok(Outcome {
        summary,
        code,
        error: fatal.map(|(err, hint)| {
            let mut failure = Failure::new(err.exit_code(), err.to_string());
            failure.hints.extend(hint.map(str::to_string));
            failure.hints.extend(err.hints());
            failure.hint(resume_hint(journal_path.as_deref())).into()
        }),
    })
}

/// Stage 1, on its own thread: reads, maps and validates rows, serialises each item once and
/// hands full chunks on. Blocks when the senders are behind, so memory stays flat.
#[allow(clippy::too_many_arguments)]
fn read_rows(
    mut records: Records,
    target: &BulkTarget,
    done: &RowSet,
    batch_size: usize,
    chunks: &mpsc::Sender<Chunk>,
    events: &mpsc::Sender<Event>,
    stop: &AtomicBool,
    counters: &Counters,
) {
    let (prefix, suffix) = target.envelope();
    let mut sink = RowSink {
        chunker: Chunker::new(batch_size, prefix, suffix),
        chunks,
        events,
    };
    // rastro takes a record as it is, so a CSV row can go straight to JSON with no map in
    // between (most of the per-row cost); only the unique field needs a look.
    let fast_unique = match (&records, target.records_are_items()) {
        (Records::Csv(csv), Some(field)) => csv
            .column(field)
            .filter(|(_, kind)| {
                matches!(
                    kind,
                    ValueType::String | ValueType::Number | ValueType::Integer
                )
            })
            .map(|(index, _)| index),
        _ => None,
    };
    if let (Records::Csv(csv), Some(unique)) = (&mut records, fast_unique) {
        while !stop.load(Ordering::Relaxed) {
            let Some(result) = csv.next_json(sink.chunker.start_item()) else {
                sink.chunker.discard_item();
                break;
            };
            counters.rows_read.fetch_add(1, Ordering::Relaxed);
            let (row, line) = match &result {
                Ok(position) => *position,
                Err(error) => (error.row, error.line),
            };
            if done.contains(row) {
                sink.chunker.discard_item();
                counters.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let going = match result {
                Err(error) => sink.reject(row, line, error.message, error.raw),
                // Rare: the vendor module words the rejection, as on the general path.
                Ok(_) if csv.cell_is_empty(unique) => {
                    let fields = serde_json::from_slice(sink.chunker.item()).unwrap_or_default();
                    match target.item(fields) {
                        Err((reason, mapped)) => sink.reject(row, line, reason, mapped),
                        Ok(_) => sink.commit(row, line),
                    }
                }
                Ok(_) => sink.commit(row, line),
            };
            if !going {
                return;
            }
        }
        sink.finish();
        return;
    }
    for result in records {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        counters.rows_read.fetch_add(1, Ordering::Relaxed);
        let row = match &result {
            Ok(record) => record.row,
            Err(error) => error.row,
        };
        if done.contains(row) {
            counters.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let going = match result {
            Err(error) => sink.reject(error.row, error.line, error.message, error.raw),
            Ok(record) => match target.item(record.fields) {
                Err((reason, mapped)) => sink.reject(record.row, record.line, reason, mapped),
                Ok(item) => {
                    crate::json::write(&item, sink.chunker.start_item());
                    sink.commit(record.row, record.line)
                }
            },
        };
        if !going {
            return;
        }
    }
    sink.finish();
}

/// Where stage 1 puts each row: a rejection event, or a place in a chunk.
struct RowSink<'a> {
    chunker: Chunker,
    chunks: &'a mpsc::Sender<Chunk>,
    events: &'a mpsc::Sender<Event>,
}

impl RowSink<'_> {
    /// Rejects the current row (dropping whatever of it was written); false when the pipeline
    /// has shut down and reading should stop.
    fn reject(&mut self, row: u64, line: u64, error: String, record: Value) -> bool {
        self.chunker.discard_item();
        self.events
            .blocking_send(Event::Rejected {
                row,
                line,
                error,
                record,
            })
            .is_ok()
    }

    /// Keeps the item written into `chunker.start_item()`, sending the chunk it fills.
    fn commit(&mut self, row: u64, line: u64) -> bool {
        match self.chunker.commit_item(row, line) {
            Ok(Some(full)) => self.chunks.blocking_send(full).is_ok(),
            Ok(None) => true,
            Err(TooLarge { item_bytes }) => {
                let reason = format!(
                    "the row is {item_bytes} bytes as JSON, more than a request may carry (5 MiB)"
                );
                self.reject(row, line, reason, Value::Null)
            }
        }
    }

    fn finish(self) {
        if let Some(last) = self.chunker.finish() {
            let _ = self.chunks.blocking_send(last);
        }
    }
}

/// A request to make: one chunk, or the two halves of a refused chunk, sent one after the
/// other so their answers can be compared before either is split further.
enum Step {
    One(Chunk),
    Halves(Chunk, Chunk),
}

/// How a vendor refused a chunk, when it did.
enum Refusal {
    /// The body was refused (400, 422, or a 2xx that says so): some row may be to blame.
    Content,
    /// 413: too large, whatever the rows hold.
    TooLarge,
}

fn refusal(err: &ApiError) -> Option<Refusal> {
    match err {
        ApiError::Refused { .. } => Some(Refusal::Content),
        _ => match err.status().map(|s| s.as_u16()) {
            Some(400 | 422) => Some(Refusal::Content),
            Some(413) => Some(Refusal::TooLarge),
            _ => None,
        },
    }
}

/// Stage 2: sends one chunk, splitting it when the vendor refuses it, until every row is
/// accepted, rejected with the vendor's reason, or failed.
async fn deliver(chunk: Chunk, delivery: &Delivery) {
    delivery
        .counters
        .rows_sent
        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
    let mut steps = vec![Step::One(chunk)];
    while let Some(step) = steps.pop() {
        match step {
            Step::One(part) => {
                let result = delivery.send(&part).await;
                delivery.settle(part, result, &mut steps).await;
            }
            Step::Halves(first, second) => {
                let first_result = delivery.send(&first).await;
                let second_result = delivery.send(&second).await;
                if let (Some(Err(a)), Some(Err(b))) = (&first_result, &second_result) {
                    // Both halves refused alike: the vendor objects to the request itself (an
                    // attribute the catalog lacks, say), not to a row. Splitting on would
                    // reject every row one request at a time; stop instead, rows unsent.
                    if matches!(refusal(a), Some(Refusal::Content)) && a.reason() == b.reason() {
                        let reason = a.reason();
                        if let Some(Err(err)) = first_result {
                            delivery.set_fatal(err, Some(SAME_REFUSAL_HINT));
                        }
                        for half in [first, second] {
                            delivery.not_sent(half, &reason).await;
                        }
                        continue;
                    }
                }
                delivery.settle(first, first_result, &mut steps).await;
                delivery.settle(second, second_result, &mut steps).await;
            }
        }
    }
}

const SAME_REFUSAL_HINT: &str = "both halves of a refused chunk got this same answer, so it is about the request, not a row: fix the cause (the catalog's schema, the profile) and run again; rows not sent are not in the journal, so --resume sends them";

impl Delivery {
    /// One request for `part`, under the rate limits; `None` when the run has stopped.
    async fn send(&self, part: &Chunk) -> Option<Result<BulkReply, ApiError>> {
        if self.is_fatal() {
            return None;
        }
        self.throttle.acquire(part.len()).await;
        let throttled_before = self.target.http().throttled();
        let requests = self.counters.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let result = self.target.send(part.body()).await;
        if self.target.http().throttled() > throttled_before {
            if let Some(rates) = self.throttle.lower(requests) {
                if !self.quiet {
                    eprintln!(
                        "warning: the vendor is rate limiting (429); lowering to {} for the rest of the run",
                        describe_rates(rates)
                    );
                }
            }
        }
        Some(result)
    }

    /// Records what became of `part`, queueing its halves when it must be split.
    async fn settle(
        &self,
        part: Chunk,
        result: Option<Result<BulkReply, ApiError>>,
        steps: &mut Vec<Step>,
    ) {
        let err = match result {
            None => {
                return self
                    .not_sent(part, "the run stopped on an earlier error")
                    .await
            }
            Some(Ok(reply)) => return self.accept(part, reply, steps).await,
            Some(Err(err)) => err,
        };
        if refusal(&err).is_some() {
            // SPEC §4: a refused multi-row chunk is split to isolate the bad rows.
            if part.len() > 1 {
                let (first, second) = part.split();
                steps.push(Step::Halves(first, second));
            } else {
                for row in part.rows() {
                    self.reject(&part, row, err.reason()).await;
                }
            }
            return;
        }
        let stops_the_run = matches!(err, ApiError::Decode { .. })
            || matches!(err.status().map(|s| s.as_u16()), Some(401 | 403 | 404));
        if matches!(err, ApiError::Decode { .. }) {
            // An answer we cannot read (a wrong base URL, a proxy's page) accepted nothing we
            // know of: leave the rows for --resume rather than swallow the file.
            let reason = err.reason();
            self.set_fatal(err, None);
            return self.not_sent(part, &reason).await;
        }
        let reason = err.reason();
        if stops_the_run {
            self.set_fatal(err, None);
        }
        self.emit(Event::Failed {
            chunk: part,
            error: reason,
            record: true,
        })
        .await;
    }

    /// Rows that were not delivered and are not to blame: not in the rejects file, not in the
    /// journal, so a resume sends them again.
    async fn not_sent(&self, chunk: Chunk, why: &str) {
        self.emit(Event::Failed {
            chunk,
            error: format!("not sent: {why}"),
            record: false,
        })
        .await;
    }

    async fn emit(&self, event: Event) {
        // The outcome task outlives every sender; a send error means it already failed.
        let _ = self.events.send(event).await;
    }

    async fn reject(&self, chunk: &Chunk, row: &RowSpan, error: String) {
        let record = serde_json::from_slice(chunk.item(row)).unwrap_or(Value::Null);
        self.emit(Event::Rejected {
            row: row.row,
            line: row.line,
            error,
            record,
        })
        .await;
    }

    async fn accept(&self, part: Chunk, reply: BulkReply, steps: &mut Vec<Step>) {
        if reply.unattributed_failures > 0 {
            // The vendor says some rows failed but not which: halve until each is known.
            if part.len() > 1 {
                let (first, second) = part.split();
                steps.push(Step::One(second));
                steps.push(Step::One(first));
            } else {
                for row in part.rows() {
                    self.reject(&part, row, "the vendor reported this item as failed".into())
                        .await;
                }
            }
            return;
        }
        let mut accepted = Vec::with_capacity(part.len());
        for (index, row) in part.rows().iter().enumerate() {
            match reply.refused.iter().find(|(i, _)| *i == index) {
                Some((_, reason)) => self.reject(&part, row, reason.clone()).await,
                None => accepted.push(row.row),
            }
        }
        self.emit(Event::Accepted {
            rows: accepted,
            created: reply.created,
            updated: reply.updated,
            indexing_token: reply.indexing_token,
        })
        .await;
    }

    fn is_fatal(&self) -> bool {
        self.fatal
            .lock()
            .map(|fatal| fatal.is_some())
            .unwrap_or(true)
    }

    fn set_fatal(&self, err: ApiError, hint: Option<&'static str>) {
        let mut fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        if fatal.is_none() {
            *fatal = Some((err, hint));
        }
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Stage 3: the only writer of the journal and the rejects file.
async fn record_outcomes(
    mut events: mpsc::Receiver<Event>,
    mut journal: Option<Journal>,
    mut rejects: Rejects,
    counters: Arc<Counters>,
) -> anyhow::Result<(Option<PathBuf>, Option<PathBuf>)> {
    let mut ok_rows: Vec<u64> = Vec::new();
    let mut rejected_rows: Vec<u64> = Vec::new();
    while let Some(first) = events.recv().await {
        let mut next = Some(first);
        // Drain what is ready, then make it durable once.
        while let Some(event) = next {
            match event {
                Event::Rejected {
                    row,
                    line,
                    error,
                    record,
                } => {
                    rejects.write(row, line, &error, &record)?;
                    rejected_rows.push(row);
                    counters.rejected.fetch_add(1, Ordering::Relaxed);
                }
                Event::Accepted {
                    mut rows,
                    created,
                    updated,
                    indexing_token,
                } => {
                    if let Some(token) = indexing_token {
                        *counters
                            .indexing_token
                            .lock()
                            .unwrap_or_else(|p| p.into_inner()) = Some(token);
                    }
                    counters
                        .accepted
                        .fetch_add(rows.len() as u64, Ordering::Relaxed);
                    if created.is_some() || updated.is_some() {
                        counters.counts_reported.store(true, Ordering::Relaxed);
                    }
                    counters
                        .created
                        .fetch_add(created.unwrap_or(0), Ordering::Relaxed);
                    counters
                        .updated
                        .fetch_add(updated.unwrap_or(0), Ordering::Relaxed);
                    ok_rows.append(&mut rows);
                }
                Event::Failed {
                    chunk,
                    error,
                    record,
                } => {
                    counters
                        .failed
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    if record {
                        for row in chunk.rows() {
                            let item =
                                serde_json::from_slice(chunk.item(row)).unwrap_or(Value::Null);
                            rejects.write(row.row, row.line, &format!("failed: {error}"), &item)?;
                        }
                    }
                }
            }
            next = events.try_recv().ok();
        }
        rejects.flush()?;
        if let Some(journal) = &mut journal {
            if !ok_rows.is_empty() {
                journal.record_ok(&mut ok_rows)?;
            }
            if !rejected_rows.is_empty() {
                journal.record_rejected(&mut rejected_rows)?;
            }
            journal.sync()?;
        }
        ok_rows.clear();
        rejected_rows.clear();
    }
    rejects.flush()?;
    Ok((
        rejects.written().map(PathBuf::from),
        journal.map(|j| j.path().to_path_buf()),
    ))
}

/// SPEC §4: on Ctrl-C or SIGTERM stop reading and let in-flight work finish; a second one
/// exits at once (the journal is consistent after every line).
async fn watch_signals(stop: Arc<AtomicBool>) {
    let mut seen = 0;
    loop {
        if !wait_for_signal().await {
            return;
        }
        seen += 1;
        if seen > 1 {
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
        stop.store(true, Ordering::Relaxed);
        eprintln!("interrupted: finishing the requests in flight (press Ctrl-C again to quit now)");
    }
}

async fn wait_for_signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return false;
        };
        tokio::select! {
            _ = interrupt.recv() => true,
            _ = terminate.recv() => true,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// How to send the rows this run did not deliver.
fn resume_hint(journal: Option<&std::path::Path>) -> String {
    if journal.is_none() {
        return "no --journal was given, so this run cannot be resumed; upserts are idempotent, so running the whole file again is safe".to_string();
    }
    let mut args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--resume") {
        args.push("--resume".to_string());
    }
    let command: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    format!("resume with: {}", command.join(" "))
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn display_input(input: &str) -> &str {
    if input == "-" {
        "stdin"
    } else {
        input
    }
}

fn describe_rates(rates: Rates) -> String {
    let mut parts = Vec::new();
    if let Some(rps) = rates.requests_per_second {
        parts.push(format!("{rps:.2} requests/s"));
    }
    if let Some(ips) = rates.items_per_second {
        parts.push(format!("{ips:.0} items/s"));
    }
    parts.join(" and ")
}

fn human_summary(
    settings: &Settings,
    summary: &Value,
    destination: &str,
    elapsed: Duration,
) -> String {
    let n = |key: &str| summary.get(key).and_then(Value::as_u64).unwrap_or(0);
    let secs = elapsed.as_secs_f64();
    if settings.dry_run {
        return format!(
            "dry run: {} rows read, {} valid, {} rejected; {} requests to {destination}, at least {} s under the rate limits; nothing sent",
            n("rows_read"),
            n("rows_valid"),
            n("rejected"),
            n("requests"),
            summary["min_seconds"]
        );
    }
    let mut line = format!(
        "{}: {} rows read, {} accepted",
        destination,
        n("rows_read"),
        n("accepted")
    );
    if let (Some(created), Some(updated)) =
        (summary["created"].as_u64(), summary["updated"].as_u64())
    {
        line.push_str(&format!(" ({created} created, {updated} updated)"));
    }
    line.push_str(&format!(
        ", {} rejected, {} failed in {secs:.1} s ({:.0} rows/s, {} requests, {} retries)",
        n("rejected"),
        n("failed"),
        n("rows_read") as f64 / secs.max(0.001),
        n("requests"),
        n("retries"),
    ));
    if n("skipped") > 0 {
        line.push_str(&format!(
            "; {} rows already done were skipped",
            n("skipped")
        ));
    }
    if let Some(file) = summary["rejects_file"].as_str() {
        line.push_str(&format!("; rejects: {file}"));
    }
    line
}

/// The progress bar on stderr: position is bytes read (so the ETA is honest for any row
/// size), the message counts rows.
struct Progress {
    bar: indicatif::ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    fn start(counters: Arc<Counters>, size: Option<u64>) -> Progress {
        let bar = match size {
            Some(size) => indicatif::ProgressBar::new(size).with_style(
                indicatif::ProgressStyle::with_template("{bar:30} {percent:>3}% {msg} ETA {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            ),
            None => indicatif::ProgressBar::new_spinner().with_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            ),
        };
        let shown = bar.clone();
        let started = Instant::now();
        let ticker = tokio::spawn(async move {
            loop {
                let rows = Counters::get(&counters.rows_read);
                let rate = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
                shown.set_position(Counters::get(&counters.bytes_read));
                shown.set_message(format!(
                    "{rows} rows ({rate:.0}/s), {} accepted, {} rejected",
                    Counters::get(&counters.accepted),
                    Counters::get(&counters.rejected)
                ));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Progress { bar, ticker }
    }

    fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_plain_words() {
        assert_eq!(shell_quote("products.csv"), "products.csv");
        assert_eq!(shell_quote("--catalog=cat_demo"), "--catalog=cat_demo");
        assert_eq!(shell_quote("my file.csv"), "'my file.csv'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
