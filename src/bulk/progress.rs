//! Progress on stderr. On a terminal, a bar of the rows done out of the input's rows (counted
//! once it is read, estimated from its size until then); elsewhere (a CI log), one line at a
//! steady interval, so a long run is not silent for minutes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::outcomes::Counters;
use crate::input::InputTrack;

/// How a run shows its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Off,
    /// A bar redrawn in place: stderr is a terminal.
    Bar,
    /// One line every so often: stderr is a log.
    Lines(Duration),
}

pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    ticker: tokio::task::JoinHandle<()>,
}

/// What the counters say at one moment, for a bar's message or a log line.
struct Snapshot {
    rows_read: u64,
    read_all: bool,
    /// Rows a journal had already (`--resume`): done, but not by this run.
    skipped: u64,
    accepted: u64,
    rejected: u64,
    failed: u64,
    elapsed: Duration,
    bytes_read: u64,
    size: Option<u64>,
}

impl Snapshot {
    fn take(counters: &Counters, track: &InputTrack, size: Option<u64>, started: Instant) -> Self {
        Snapshot {
            rows_read: Counters::get(&counters.rows_read),
            read_all: counters.read_all.load(Ordering::Relaxed),
            skipped: Counters::get(&counters.skipped),
            accepted: Counters::get(&counters.accepted),
            rejected: Counters::get(&counters.rejected),
            failed: Counters::get(&counters.failed),
            elapsed: started.elapsed(),
            bytes_read: track.bytes_read(),
            size,
        }
    }

    /// Rows this run has finished with: answered, or rejected before sending.
    fn finished(&self) -> u64 {
        self.accepted + self.rejected + self.failed
    }

    fn done(&self) -> u64 {
        self.finished() + self.skipped
    }

    /// Rows finished per second since the start, as a whole number.
    fn rate(&self) -> u64 {
        (self.finished() as f64 / self.elapsed.as_secs_f64().max(0.001)).round() as u64
    }

    /// The input's rows: exact once the reader is through, else scaled from the bytes read
    /// so far (the reader runs ahead of the requests, so this firms up early). Unknown for a
    /// stream until its end.
    fn total(&self) -> Option<(u64, bool)> {
        if self.read_all {
            return Some((self.rows_read, true));
        }
        let size = self.size?;
        if self.bytes_read == 0 {
            return None;
        }
        let scaled = self.rows_read as f64 * size as f64 / self.bytes_read as f64;
        Some(((scaled.round() as u64).max(self.rows_read), false))
    }

    /// The time left at the rate so far.
    fn eta(&self) -> Option<Duration> {
        let (total, _) = self.total()?;
        let rate = self.finished() as f64 / self.elapsed.as_secs_f64();
        if !rate.is_normal() {
            return None;
        }
        let left = total.saturating_sub(self.done()) as f64 / rate;
        Some(Duration::from_secs_f64(left.min(1e9)))
    }

    /// The counts, in whole numbers: what the bar shows beside itself.
    fn counts(&self) -> String {
        let mut text = format!("{} accepted, {} rejected", self.accepted, self.rejected);
        if self.failed > 0 {
            text.push_str(&format!(", {} failed", self.failed));
        }
        text.push_str(&format!(", {}/s", self.rate()));
        text
    }

    /// One log line: rows done of how many, the counts, the time left when known.
    fn line(&self) -> String {
        let of = match self.total() {
            Some((total, true)) => format!(" of {total}"),
            Some((total, false)) => format!(" of about {total}"),
            None => String::new(),
        };
        let mut line = format!("progress: {}{of} rows done, {}", self.done(), self.counts());
        if let Some(eta) = self.eta() {
            line.push_str(&format!(", ETA {}", whole_duration(eta)));
        }
        line.push_str(&format!(", {} elapsed", whole_duration(self.elapsed)));
        line
    }
}

/// `1h 02m`, `3m 05s` or `42s`: whole seconds, short enough for a log line.
fn whole_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

impl Progress {
    /// Starts showing progress, or returns `None` for `Mode::Off`.
    pub fn start(
        mode: Mode,
        counters: Arc<Counters>,
        track: Arc<InputTrack>,
        size: Option<u64>,
    ) -> Option<Progress> {
        let started = Instant::now();
        let snapshot = move || Snapshot::take(&counters, &track, size, started);
        match mode {
            Mode::Off => None,
            Mode::Bar => Some(Progress::bar(size, snapshot)),
            Mode::Lines(every) => Some(Progress {
                bar: None,
                ticker: tokio::spawn(async move {
                    let mut ticks =
                        tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                    loop {
                        ticks.tick().await;
                        eprintln!("{}", snapshot().line());
                    }
                }),
            }),
        }
    }

    fn bar(size: Option<u64>, snapshot: impl Fn() -> Snapshot + Send + 'static) -> Progress {
        // Only the message stretches (`wide_msg`, cut to the width left), so a narrow
        // terminal never wraps the line, which would leave a trail of half-redrawn bars.
        let (bar, template) = match size {
            Some(_) => (
                indicatif::ProgressBar::new(0),
                "{bar:16} {percent:>3}% ETA {eta} {wide_msg}",
            ),
            None => (
                indicatif::ProgressBar::new_spinner(),
                "{spinner} {wide_msg}",
            ),
        };
        let style = indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        let bar = bar.with_style(style);
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            loop {
                let now = snapshot();
                if let Some((total, _)) = now.total() {
                    shown.set_length(total);
                }
                shown.set_position(now.done());
                shown.set_message(now.counts());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Progress {
            bar: Some(bar),
            ticker,
        }
    }

    pub fn finish(self) {
        self.ticker.abort();
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(read: u64, done: u64, secs: u64, bytes_read: u64, size: Option<u64>) -> Snapshot {
        Snapshot {
            rows_read: read,
            read_all: size == Some(bytes_read),
            skipped: 0,
            accepted: done,
            rejected: 0,
            failed: 0,
            elapsed: Duration::from_secs(secs),
            bytes_read,
            size,
        }
    }

    #[test]
    fn a_log_line_has_whole_rates_and_an_eta_when_the_size_is_known() {
        // A quarter of the file read: about 4000 rows, 1000 done in 30 s.
        let line = snapshot(1000, 1000, 30, 250, Some(1000)).line();
        assert_eq!(
            line,
            "progress: 1000 of about 4000 rows done, 1000 accepted, 0 rejected, 33/s, ETA 1m 30s, 30s elapsed"
        );
        let read = snapshot(100, 70, 7, 100, Some(100)).line();
        assert_eq!(
            read,
            "progress: 70 of 100 rows done, 70 accepted, 0 rejected, 10/s, ETA 3s, 7s elapsed"
        );
        let streamed = snapshot(9, 7, 3, 100, None).line();
        assert_eq!(
            streamed,
            "progress: 7 rows done, 7 accepted, 0 rejected, 2/s, 3s elapsed"
        );
    }

    #[test]
    fn durations_are_whole_and_short() {
        assert_eq!(whole_duration(Duration::from_millis(42_900)), "42s");
        assert_eq!(whole_duration(Duration::from_secs(185)), "3m 05s");
        assert_eq!(whole_duration(Duration::from_secs(3720)), "1h 02m");
    }
}
