//! The progress bar on stderr: position is bytes read (so the ETA is honest for any row
//! size), the message counts rows.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::outcomes::Counters;
use crate::input::InputTrack;

pub struct Progress {
    bar: indicatif::ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start(counters: Arc<Counters>, track: Arc<InputTrack>, size: Option<u64>) -> Progress {
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
                shown.set_position(track.bytes_read());
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

    pub fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}
