//! The bulk pipeline (SPEC §4), as stages joined by bounded channels:
//!
//! reader thread (`read`: parse → type → vendor item → validate → serialise once → chunk)
//!   → chunks channel → dispatcher (here; `concurrency`: how many requests at once)
//!   → sender tasks (`deliver`: rate limits, retries in the HTTP core, split a refused chunk)
//!   → events channel → outcome writer (`outcomes`: journal, rejects file, counts)
//!   → `summary`.
//!
//! Every row read ends accepted, rejected, failed, unconfirmed, not sent or skipped; none is
//! dropped. A signal, a fatal answer or a failed write halts the run: reading and waiting stop
//! at once, requests in flight get a grace period, and the summary says where each row is.

mod chunk;
mod concurrency;
mod deliver;
mod gcra;
mod indexed;
mod inflight;
mod journal;
mod outcomes;
mod paths;
mod progress;
mod read;
mod rejects;
mod summary;
pub mod sync;
mod throttle;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;

use crate::error::{exit, Failure};
use crate::input::{self, InputFormat, InputTrack, Typing};
use crate::vendors::BulkEndpoint;
use chunk::Chunk;
use concurrency::{Controller, Limiter};
use deliver::{Delivery, Pace};
use inflight::KeyTracker;
pub use journal::JournalHeader;
use journal::{Journal, Resumed};
use outcomes::{Counters, Event, Writer};
pub use progress::Mode as ProgressMode;
use progress::Progress;
use read::Reader;
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
    /// Requests in flight: fixed, or adapted to the service (None).
    pub concurrency: Option<usize>,
    pub rates: Rates,
    pub rejects: PathBuf,
    pub journal: Option<PathBuf>,
    pub resume: bool,
    pub dry_run: bool,
    pub progress: ProgressMode,
    pub quiet: bool,
    /// The summary in a line for people on stderr (when stdout does not show it to them).
    pub summary_line: bool,
    pub verbose: bool,
    /// How long requests in flight may still answer after an interrupt.
    pub grace: Duration,
    /// For the journal: whose import this is.
    pub profile: String,
    pub base_url: String,
    /// `--wait-indexed`: how long to wait for the last edit to be applied.
    pub wait_indexed: Option<Duration>,
    /// `bulk sync`: only rows that changed since the state was written are sent.
    pub sync: Option<sync::Plan>,
}

/// How the run ended: the summary for stdout, the exit code, and a fatal error if one stopped it.
pub struct Outcome {
    pub summary: Value,
    pub code: u8,
    pub error: Option<anyhow::Error>,
}

/// The run's stop, set by a signal, a fatal answer or a write that failed; the reader polls
/// it between rows, the async stages await it.
#[derive(Default)]
pub struct Halt {
    flag: AtomicBool,
    notify: Notify,
}

impl Halt {
    pub fn set(&self) {
        self.flag.store(true, Ordering::Relaxed);
        self.notify.notify_waiters();
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Resolves once the halt is set (at once if it is).
    pub async fn wait(&self) {
        loop {
            // Registered before the check, so a `set` between the two is not missed.
            let notified = self.notify.notified();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

/// How long a stopped reader, not blocked on its input, takes to notice.
const READER_SETTLES: Duration = Duration::from_millis(500);

pub async fn run(settings: &Settings, target: Box<dyn BulkEndpoint>) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let opened = Opened::open(settings, target.as_ref()).await?;
    let target: Arc<dyn BulkEndpoint> = Arc::from(target);
    let ended = run_stages(settings, target.clone(), opened).await?;
    let mut outcome = conclude(settings, target.as_ref(), ended, started.elapsed());
    indexed::wait(settings, target.as_ref(), &mut outcome).await;
    Ok(outcome)
}

/// The files a run works with, opened and checked before any stage starts.
struct Opened {
    journal: Option<Journal>,
    input: OpenedInput,
    sync: SyncSides,
}

/// sync: the reader's filter and the outcome writer's recorder, each on its own connection.
#[derive(Default)]
struct SyncSides {
    filter: Option<sync::Filter>,
    recorder: Option<sync::Recorder>,
}

impl SyncSides {
    fn open(settings: &Settings) -> Result<SyncSides, Failure> {
        let Some(plan) = &settings.sync else {
            return Ok(SyncSides::default());
        };
        Ok(SyncSides {
            filter: Some(plan.filter()?),
            recorder: (!settings.dry_run).then(|| plan.recorder()).transpose()?,
        })
    }
}

/// The input with what the journal says is done, and the rejects file.
struct OpenedInput {
    done: journal::RowSet,
    track: Arc<InputTrack>,
    reader: Box<dyn std::io::BufRead + Send>,
    size: Option<u64>,
    rejects: Rejects,
}

impl Opened {
    /// A journal opened for a run that fails here records nothing, so it goes again.
    async fn open(settings: &Settings, target: &dyn BulkEndpoint) -> anyhow::Result<Opened> {
        paths::check_distinct(
            &settings.input,
            &settings.rejects,
            settings.journal.as_deref(),
        )?;
        let (journal, resumed) = open_journal(settings, target)?;
        let opened = match SyncSides::open(settings) {
            Ok(sync) => OpenedInput::open(settings, resumed)
                .await
                .map(|input| (input, sync)),
            Err(err) => Err(err),
        };
        match opened {
            Ok((input, sync)) => Ok(Opened {
                journal,
                input,
                sync,
            }),
            Err(err) => {
                discard(journal);
                Err(err.into())
            }
        }
    }
}

impl OpenedInput {
    async fn open(settings: &Settings, resumed: Resumed) -> Result<OpenedInput, Failure> {
        let track = Arc::new(resumed_input(settings, resumed.prefix).await?);
        let (reader, size) =
            input::open(&settings.input, track.clone()).map_err(|err| Failure::usage(err.0))?;
        let append_rejects = settings.resume && !resumed.done.is_empty();
        let rejects = Rejects::new(settings.rejects.clone(), append_rejects).map_err(|err| {
            Failure::usage(format!(
                "cannot use {} as the rejects file: {err}",
                settings.rejects.display()
            ))
        })?;
        Ok(OpenedInput {
            done: resumed.done,
            track,
            reader,
            size,
            rejects,
        })
    }
}

/// What the stages leave for the summary.
struct Ended {
    counters: Arc<Counters>,
    planned_requests: u64,
    fatal: Option<(crate::http::ApiError, Option<&'static str>)>,
    read_error: Option<Failure>,
    recorded: outcomes::Recorded,
    interrupted: bool,
    /// Whether requests in flight adapted, and their lowest and highest limit.
    concurrency: (bool, usize, usize),
}

/// Runs reader, dispatcher, senders and outcome writer until the input ends or the run halts.
async fn run_stages(
    settings: &Settings,
    target: Arc<dyn BulkEndpoint>,
    opened: Opened,
) -> anyhow::Result<Ended> {
    let started = start_reading(settings, target.clone(), opened).await?;
    deliver_all(settings, target, started).await
}

/// The pipeline once its reader runs and the input's header was good.
struct Reading {
    halt: Arc<Halt>,
    interrupted: Arc<AtomicBool>,
    watcher: tokio::task::JoinHandle<()>,
    counters: Arc<Counters>,
    reader: std::thread::JoinHandle<read::ReadResult>,
    chunks: mpsc::Receiver<Chunk>,
    events: mpsc::Sender<Event>,
    events_rx: mpsc::Receiver<Event>,
    answered: inflight::Answered,
    journal: Option<Journal>,
    rejects: Rejects,
    track: Arc<InputTrack>,
    input_size: Option<u64>,
    recorder: Option<sync::Recorder>,
}

/// Starts the signal watcher and the reader thread, and waits for the input's header (or a
/// JSON array's bracket): an unusable input is a usage error before any request, and a
/// stalled producer must not keep a signal waiting.
async fn start_reading(
    settings: &Settings,
    target: Arc<dyn BulkEndpoint>,
    opened: Opened,
) -> anyhow::Result<Reading> {
    let halt = Arc::new(Halt::default());
    let interrupted = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_interrupt(
        halt.clone(),
        interrupted.clone(),
        settings.grace,
        settings.quiet,
    ));
    let counters = Arc::new(Counters::default());
    let (keys, answered) = KeyTracker::new();
    // A few chunks ready ahead of the senders; more would only hold memory.
    let (chunks_tx, chunks) = mpsc::channel::<Chunk>(settings.concurrency.unwrap_or(4).clamp(1, 8));
    let (events, events_rx) = mpsc::channel::<Event>(4096);
    let Opened {
        journal,
        input,
        sync,
    } = opened;
    let (header_tx, header_rx) = oneshot::channel();
    let (go_tx, go_rx) = oneshot::channel();
    let reader = Reader {
        input: input.reader,
        input_name: settings.input.clone(),
        format: settings.format,
        typing: settings.typing.clone(),
        target: target.clone(),
        done: input.done,
        batch_size: settings.batch_size,
        chunks: chunks_tx,
        events: events.clone(),
        halt: halt.clone(),
        counters: counters.clone(),
        keys: (!settings.dry_run).then_some(keys),
        track: input.track.clone(),
        verbose: settings.verbose,
        sync: sync.filter,
    }
    .spawn(header_tx, go_rx);
    let header = tokio::select! {
        header = header_rx => header.unwrap_or(Ok(Vec::new())),
        () = halt.wait() => Ok(Vec::new()),
    };
    let checked = match header {
        Err(err) => Err(Failure::usage(err.0).into()),
        Ok(columns) if columns.is_empty() => Ok(()),
        Ok(columns) => tokio::select! {
            checked = target.check_columns(&columns) => checked,
            () = halt.wait() => Ok(()),
        },
    };
    if let Err(err) = checked {
        // Dropping `go` ends the reader before its first row.
        watcher.abort();
        discard(journal);
        return Err(err);
    }
    let _ = go_tx.send(());
    Ok(Reading {
        halt,
        interrupted,
        watcher,
        counters,
        reader,
        chunks,
        events,
        events_rx,
        answered,
        journal,
        rejects: input.rejects,
        track: input.track,
        input_size: input.size,
        recorder: sync.recorder,
    })
}

/// Sends every chunk the reader makes, records the outcomes, and collects how it all ended.
async fn deliver_all(
    settings: &Settings,
    target: Arc<dyn BulkEndpoint>,
    reading: Reading,
) -> anyhow::Result<Ended> {
    let Reading {
        halt,
        interrupted,
        watcher,
        counters,
        reader,
        mut chunks,
        events,
        events_rx,
        answered,
        journal,
        rejects,
        track,
        input_size,
        recorder,
    } = reading;
    let writer = tokio::spawn(
        Writer {
            journal,
            rejects,
            counters: counters.clone(),
            track: track.clone(),
            halt: halt.clone(),
            sync: recorder,
        }
        .run(events_rx),
    );
    let progress = Progress::start(settings.progress, counters.clone(), track, input_size);
    let pace = pace(settings);
    let limiter = pace.limiter.clone();
    let delivery = Arc::new(Delivery::new(
        target,
        pace,
        counters.clone(),
        events.clone(),
        halt.clone(),
        Some(answered),
        settings.quiet,
    ));
    let planned_requests = dispatch(
        settings,
        &mut chunks,
        &delivery,
        &counters,
        &halt,
        &interrupted,
    )
    .await;
    counters
        .unconfirmed
        .store(delivery.unconfirmed(), Ordering::Relaxed);
    let fatal = delivery.take_fatal();
    drop(delivery);
    let concurrency = limiter.report();

    let read_error = finish_reader(reader, &halt).await;
    let _ = events.send(Event::End).await;
    drop(events);
    let recorded = writer
        .await
        .map_err(|err| anyhow::anyhow!("the outcome writer failed: {err}"))?;
    watcher.abort();
    if let Some(progress) = progress {
        progress.finish();
    }
    Ok(Ended {
        counters,
        planned_requests,
        fatal,
        read_error,
        recorded,
        interrupted: interrupted.load(Ordering::Relaxed),
        concurrency,
    })
}

/// How fast requests go: the rate limits, and requests in flight fixed or adapted to the
/// service.
fn pace(settings: &Settings) -> Pace {
    let controller = match settings.concurrency {
        Some(limit) => Controller::fixed(limit),
        None => Controller::adaptive(),
    };
    Pace {
        throttle: Throttle::new(settings.rates, settings.batch_size, rates_store(settings)),
        limiter: Limiter::new(controller, settings.verbose && !settings.quiet),
    }
}

/// Where the rate limits' state lives: shared with other catops processes using the same
/// profile and base URL when there are limits to share.
fn rates_store(settings: &Settings) -> gcra::Store {
    let limited =
        settings.rates.requests_per_second.is_some() || settings.rates.items_per_second.is_some();
    match paths::shared_rates(&settings.profile, &settings.base_url) {
        Some(path) if limited && !settings.dry_run => gcra::Store::shared(&path),
        _ => gcra::Store::memory(),
    }
}

/// The summary (into the journal and on stderr), the error that stopped the run if one did,
/// and the exit code.
fn conclude(
    settings: &Settings,
    target: &dyn BulkEndpoint,
    ended: Ended,
    elapsed: Duration,
) -> Outcome {
    let Ended {
        counters,
        planned_requests,
        fatal,
        read_error,
        recorded,
        interrupted,
        concurrency,
    } = ended;
    let summary = summary::summary(
        &counters,
        &summary::Facts {
            dry_run: settings.dry_run,
            planned_requests,
            batch_size: settings.batch_size,
            rates: settings.rates,
            retries: target.http().retries(),
            elapsed,
            rejects_file: recorded.rejects_file.as_deref(),
            indexing_token: target.reports_indexing_token(),
            concurrency,
            sync: settings.sync.as_ref(),
        },
    );
    let journal_path = recorded.journal.as_ref().map(|j| j.path().to_path_buf());
    if let Some(mut journal) = recorded.journal {
        if recorded.write_error.is_none() {
            let _ = journal.record_summary(&summary);
        }
        journal.close();
    }
    if settings.summary_line {
        eprintln!(
            "{}",
            summary::human(&summary, &target.destination(), elapsed)
        );
    }
    let resume = summary::resume_hint(journal_path.as_deref());
    // What to do next is printed even with -q: it is not chatter.
    if interrupted && fatal.is_none() && read_error.is_none() && recorded.write_error.is_none() {
        eprintln!("hint: {resume}");
    }
    let error: Option<anyhow::Error> = if let Some(err) = read_error {
        Some(err.into())
    } else if let Some(err) = recorded.write_error {
        Some(err.hint(resume).into())
    } else if let Some((err, hint)) = fatal {
        let mut failure = Failure::new(err.exit_code(), err.to_string());
        failure.hints.extend(hint.map(str::to_string));
        failure.hints.extend(err.hints());
        Some(failure.hint(resume).into())
    } else if !interrupted && summary["not_sent"].as_u64().unwrap_or(0) > 0 {
        // Nothing stopped the run, so every row read should have reached an end.
        Some(
            Failure::new(
                exit::FAILURE,
                format!("{} rows were read but not sent", summary["not_sent"]),
            )
            .hint(resume)
            .into(),
        )
    } else {
        None
    };
    Outcome {
        summary,
        code: exit_code(interrupted, &counters),
        error,
    }
}

fn exit_code(interrupted: bool, counters: &Counters) -> u8 {
    if interrupted {
        exit::INTERRUPTED
    } else if Counters::get(&counters.rejected) > 0 || Counters::get(&counters.failed) > 0 {
        exit::PARTIAL
    } else {
        exit::OK
    }
}

/// Opens the journal (not on a dry run), recording whose import this is.
fn open_journal(
    settings: &Settings,
    target: &dyn BulkEndpoint,
) -> anyhow::Result<(Option<Journal>, Resumed)> {
    let Some(path) = settings.journal.as_deref().filter(|_| !settings.dry_run) else {
        return Ok((None, Resumed::default()));
    };
    let header = JournalHeader {
        journal: "catops bulk".to_string(),
        command: settings.command.to_string(),
        vendor: target.http().vendor().to_string(),
        destination: target.destination(),
        input: settings.input.clone(),
        profile: Some(settings.profile.clone()),
        base_url: Some(settings.base_url.clone()),
    };
    let (journal, resumed) = Journal::open(path, &header, settings.resume)?;
    Ok((Some(journal), resumed))
}

/// A journal of a run that stopped before it read a row: it records nothing, so it goes.
fn discard(journal: Option<Journal>) {
    if let Some(journal) = journal {
        journal.discard_if_unused();
    }
}

/// The tracker of the input. A resumed file must begin with the bytes the journal saw, or its
/// rows are not the ones the journal counts as done: checked before anything is sent. stdin
/// cannot be read twice, so it is checked as it is read, and the run stops at a difference.
async fn resumed_input(
    settings: &Settings,
    prefix: Option<input::Prefix>,
) -> Result<InputTrack, Failure> {
    if settings.journal.is_none() || settings.dry_run {
        return Ok(InputTrack::counting());
    }
    let Some(prefix) = prefix.filter(|p| p.bytes > 0) else {
        return Ok(InputTrack::expecting(None));
    };
    if settings.input == "-" {
        return Ok(InputTrack::expecting(Some(prefix)));
    }
    let path = settings.input.clone();
    let same = tokio::task::spawn_blocking(move || input::begins_with(&path, prefix))
        .await
        .map_err(|err| Failure::new(exit::FAILURE, format!("cannot check the input: {err}")))?
        .map_err(|err| Failure::usage(format!("cannot read {}: {err}", settings.input)))?;
    if same {
        Ok(InputTrack::expecting(None))
    } else {
        Err(read::identity_failure(
            &settings.input,
            &InputTrack::expecting(Some(prefix)),
        ))
    }
}

/// Hands chunks to sender tasks, as many at once as the limiter allows, until the input ends or the
/// run halts; then lets the requests in flight end (within the grace period after a signal).
/// Returns the requests a dry run would make.
async fn dispatch(
    settings: &Settings,
    chunks: &mut mpsc::Receiver<Chunk>,
    delivery: &Arc<Delivery>,
    counters: &Counters,
    halt: &Halt,
    interrupted: &AtomicBool,
) -> u64 {
    let mut senders = JoinSet::new();
    let mut planned = 0u64;
    loop {
        let chunk = tokio::select! {
            biased;
            () = halt.wait() => break,
            chunk = chunks.recv() => match chunk {
                Some(chunk) => chunk,
                None => break,
            },
        };
        counters
            .rows_valid
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if settings.dry_run {
            planned += 1;
            continue;
        }
        let slot = tokio::select! {
            biased;
            () = halt.wait() => break,
            slot = delivery.pace.limiter.acquire() => slot,
        };
        let delivery = delivery.clone();
        senders.spawn(async move {
            delivery.deliver(chunk).await;
            drop(slot);
        });
        while senders.try_join_next().is_some() {}
    }
    // Chunks not taken are not sent; closing makes a reader blocked on a full channel stop.
    chunks.close();
    while chunks.try_recv().is_ok() {}
    if interrupted.load(Ordering::Relaxed) {
        let grace = tokio::time::sleep(settings.grace);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                joined = senders.join_next() => if joined.is_none() { break },
                () = &mut grace => {
                    // What has not answered by now stays unconfirmed: a resume sends it again.
                    senders.abort_all();
                    while senders.join_next().await.is_some() {}
                    break;
                }
            }
        }
    } else {
        while senders.join_next().await.is_some() {}
    }
    planned
}

/// Waits for the reader thread and returns what stopped it, if anything did. A panic there is
/// a failure of the run (it may have cut the input short); a reader blocked on an input that
/// sends nothing more is left behind once the run has halted.
async fn finish_reader(
    reader: std::thread::JoinHandle<read::ReadResult>,
    halt: &Halt,
) -> Option<Failure> {
    let deadline = Instant::now() + READER_SETTLES;
    while !reader.is_finished() {
        if halt.is_set() && Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    match reader.join() {
        Ok(Ok(())) => None,
        Ok(Err(failure)) => Some(failure),
        Err(_) => Some(Failure::new(
            exit::FAILURE,
            "the input reader failed (a bug in catops): the run was cut short",
        )),
    }
}

/// The first signal halts the run; the interrupt module quits at once on a second.
async fn watch_interrupt(
    halt: Arc<Halt>,
    interrupted: Arc<AtomicBool>,
    grace: Duration,
    quiet: bool,
) {
    crate::interrupt::interrupted().await;
    interrupted.store(true, Ordering::Relaxed);
    halt.set();
    if !quiet {
        eprintln!(
            "interrupted: reading stopped; requests in flight have {} s to answer (press Ctrl-C again to quit now)",
            grace.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_that_panicked_fails_the_run() {
        let reader = std::thread::spawn(|| -> read::ReadResult { panic!("a bug in a reader") });
        let failure = finish_reader(reader, &Halt::default()).await;
        let failure = failure.expect("the panic is reported, not dropped");
        assert_eq!(failure.code, exit::FAILURE);
        assert!(failure.message.contains("cut short"), "{}", failure.message);
    }

    #[tokio::test]
    async fn a_reader_that_ended_well_reports_nothing() {
        let reader = std::thread::spawn(|| -> read::ReadResult { Ok(()) });
        assert!(finish_reader(reader, &Halt::default()).await.is_none());
    }
}
