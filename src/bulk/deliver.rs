//! Stage 2: sends each chunk, under the rate limits, splitting it when the vendor refuses it,
//! until every row is accepted, rejected with the vendor's reason, failed, or left unsent
//! because the run stopped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::mpsc;

use super::chunk::{Chunk, RowSpan};
use super::concurrency::{Limiter, Sample};
use super::inflight::Answered;
use super::outcomes::{Counters, Event};
use super::summary::describe_rates;
use super::throttle::Throttle;
use super::Halt;
use crate::http::ApiError;
use crate::vendors::{BulkEndpoint, BulkReply};

/// How fast requests go: the rate limits, and the places for requests in flight.
pub struct Pace {
    pub throttle: Throttle,
    pub limiter: Arc<Limiter>,
}

/// What sender tasks share.
pub struct Delivery {
    pub target: Arc<dyn BulkEndpoint>,
    pub pace: Pace,
    pub counters: Arc<Counters>,
    pub events: mpsc::Sender<Event>,
    pub halt: Arc<Halt>,
    /// Where the reader hears that a chunk's keys are free (None on a dry run).
    pub answered: Option<Answered>,
    pub quiet: bool,
    /// The first error that makes further requests pointless (401, 403, 404, a reply that
    /// cannot be read, a refusal that is about the request), with a hint of our own.
    fatal: Mutex<Option<(ApiError, Option<&'static str>)>>,
    /// Rows of each chunk not settled yet: after an interrupt, what is left was sent without
    /// an answer ("unconfirmed").
    unsettled: Mutex<HashMap<u64, usize>>,
    /// The HTTP core's pushback count when the limiter last heard of it.
    pushback_seen: AtomicU64,
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

const SAME_REFUSAL_HINT: &str = "both halves of a refused chunk got this same answer, so it is about the request, not a row: fix the cause (the catalog's schema, the profile) and run again; rows not sent are not in the journal, so --resume sends them";

impl Delivery {
    pub fn new(
        target: Arc<dyn BulkEndpoint>,
        pace: Pace,
        counters: Arc<Counters>,
        events: mpsc::Sender<Event>,
        halt: Arc<Halt>,
        answered: Option<Answered>,
        quiet: bool,
    ) -> Delivery {
        Delivery {
            target,
            pace,
            counters,
            events,
            halt,
            answered,
            quiet,
            fatal: Mutex::new(None),
            unsettled: Mutex::new(HashMap::new()),
            pushback_seen: AtomicU64::new(0),
        }
    }

    /// Sends one chunk, splitting it when the vendor refuses it, until each of its rows has
    /// its end; then its keys are free for later rows.
    pub async fn deliver(&self, chunk: Chunk) {
        let id = chunk.id();
        self.lock_unsettled().insert(id, chunk.len());
        let mut first = true;
        let mut steps = vec![Step::One(chunk)];
        while let Some(step) = steps.pop() {
            match step {
                Step::One(part) => {
                    let result = self.send(&part).await;
                    if first && result.is_some() {
                        self.counters
                            .rows_sent
                            .fetch_add(part.len() as u64, Ordering::Relaxed);
                    }
                    first = false;
                    self.settle(part, result, &mut steps).await;
                }
                Step::Halves(one, two) => {
                    let first_result = self.send(&one).await;
                    let second_result = self.send(&two).await;
                    if let (Some(Err(a)), Some(Err(b))) = (&first_result, &second_result) {
                        // Both halves refused alike: the vendor objects to the request itself
                        // (an attribute the catalog lacks, say), not to a row. Splitting on
                        // would reject every row one request at a time; stop instead.
                        if matches!(refusal(a), Some(Refusal::Content)) && a.reason() == b.reason()
                        {
                            let reason = a.reason();
                            if let Some(Err(err)) = first_result {
                                self.set_fatal(err, Some(SAME_REFUSAL_HINT));
                            }
                            self.fail(one, reason.clone()).await;
                            self.fail(two, reason).await;
                            continue;
                        }
                    }
                    self.settle(one, first_result, &mut steps).await;
                    self.settle(two, second_result, &mut steps).await;
                }
            }
        }
        if let Some(answered) = &self.answered {
            answered.chunk(id);
        }
        let mut unsettled = self.lock_unsettled();
        if unsettled.get(&id) == Some(&0) {
            unsettled.remove(&id);
        }
    }

    /// Rows sent that have no answer: what an interrupt left of the chunks in flight.
    pub fn unconfirmed(&self) -> u64 {
        self.lock_unsettled().values().map(|&n| n as u64).sum()
    }

    pub fn take_fatal(&self) -> Option<(ApiError, Option<&'static str>)> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn lock_unsettled(&self) -> std::sync::MutexGuard<'_, HashMap<u64, usize>> {
        self.unsettled.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn settled(&self, chunk: &Chunk, rows: usize) {
        if let Some(left) = self.lock_unsettled().get_mut(&chunk.id()) {
            *left = left.saturating_sub(rows);
        }
    }

    /// One request for `part`, under the rate limits; `None` when the run stops first.
    async fn send(&self, part: &Chunk) -> Option<Result<BulkReply, ApiError>> {
        if self.is_fatal() || self.halt.is_set() {
            return None;
        }
        tokio::select! {
            biased;
            () = self.halt.wait() => return None,
            () = self.pace.throttle.acquire(part.len()) => {}
        }
        let http = self.target.http();
        self.note_pushback();
        let (throttled, retries) = (http.throttled(), http.retries());
        let requests = self.counters.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let started = std::time::Instant::now();
        let result = self.target.send(part.body()).await;
        // A round trip counts only when nothing was retried meanwhile: a retry's wait is not
        // the service's time.
        if !self.note_pushback() && http.retries() == retries && result.is_ok() {
            self.pace
                .limiter
                .observe(Sample::Answered(started.elapsed()));
        }
        if http.throttled() > throttled {
            if let Some(rates) = self.pace.throttle.lower(requests) {
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

    /// Tells the limiter of pushback the HTTP core met since anyone last looked, whichever
    /// request met it: a request that got a 503 waits out its `Retry-After` before it
    /// returns, and the limit must not grow meanwhile. True when there was some.
    fn note_pushback(&self) -> bool {
        let now = self.target.http().pushback();
        let seen = self.pushback_seen.swap(now, Ordering::Relaxed);
        let met = now > seen;
        if met {
            self.pace.limiter.observe(Sample::Pushback);
        }
        met
    }

    /// Records what became of `part`, queueing its halves when it must be split.
    async fn settle(
        &self,
        part: Chunk,
        result: Option<Result<BulkReply, ApiError>>,
        steps: &mut Vec<Step>,
    ) {
        let err = match result {
            None => return self.not_sent(&part),
            Some(Ok(reply)) => return self.accept(part, reply, steps).await,
            Some(Err(err)) => err,
        };
        if refusal(&err).is_some() {
            // SPEC §4: a refused multi-row chunk is split to isolate the bad rows.
            if part.len() > 1 {
                let (one, two) = part.split();
                steps.push(Step::Halves(one, two));
            } else {
                for row in part.rows() {
                    self.reject(&part, row, err.reason()).await;
                }
            }
            return;
        }
        match err {
            // Sent, but the run stopped while it waited to retry: no answer, so unconfirmed.
            ApiError::Interrupted { .. } => {}
            // An answer we cannot read (a wrong base URL, a proxy's page) confirms nothing: the
            // rows stay unconfirmed, left to --resume rather than the whole file swallowed.
            ApiError::Decode { .. } => self.set_fatal(err, None),
            _ => {
                let reason = err.reason();
                if matches!(err.status().map(|s| s.as_u16()), Some(401 | 403 | 404)) {
                    self.set_fatal(err, None);
                }
                self.fail(part, reason).await;
            }
        }
    }

    /// Rows the vendor did not take, not for what they hold.
    async fn fail(&self, part: Chunk, error: String) {
        self.settled(&part, part.len());
        self.emit(Event::Failed { chunk: part, error }).await;
    }

    /// Rows that were not delivered and are not to blame: nowhere but in the counts (as
    /// rows read that reached no other end), so a resume sends them again.
    fn not_sent(&self, part: &Chunk) {
        self.settled(part, part.len());
    }

    async fn emit(&self, event: Event) {
        // The outcome writer outlives every sender; a send error means it already stopped.
        let _ = self.events.send(event).await;
    }

    async fn reject(&self, chunk: &Chunk, row: &RowSpan, error: String) {
        self.settled(chunk, 1);
        let record = serde_json::from_slice(chunk.item(row)).unwrap_or(Value::Null);
        self.emit(Event::Rejected {
            row: row.row,
            line: row.line,
            error,
            record,
            original: None,
        })
        .await;
    }

    async fn accept(&self, part: Chunk, reply: BulkReply, steps: &mut Vec<Step>) {
        if reply.unattributed_failures > 0 {
            // The vendor says some rows failed but not which: halve until each is known.
            if part.len() > 1 {
                let (one, two) = part.split();
                steps.push(Step::One(two));
                steps.push(Step::One(one));
            } else {
                for row in part.rows() {
                    self.reject(&part, row, "the vendor reported this item as failed".into())
                        .await;
                }
            }
            return;
        }
        let mut accepted = Vec::with_capacity(part.len());
        let mut indices = Vec::new();
        for (index, row) in part.rows().iter().enumerate() {
            match reply.refused.iter().find(|(i, _)| *i == index) {
                Some((_, reason)) => self.reject(&part, row, reason.clone()).await,
                None => {
                    accepted.push(row.row);
                    indices.push(index);
                }
            }
        }
        self.settled(&part, accepted.len());
        let synced = if part.marks().is_empty() || indices.len() == part.marks().len() {
            part.marks().clone()
        } else {
            part.marks().subset(&indices)
        };
        self.emit(Event::Accepted {
            rows: accepted,
            created: reply.created,
            updated: reply.updated,
            indexing_token: reply.indexing_token,
            synced,
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
        drop(fatal);
        self.halt.set();
    }
}
