//! Ctrl-C, SIGTERM and SIGHUP, alike for every command. The first asks the command to stop,
//! and each command says what stopping means (a bulk run lets the requests in flight answer;
//! `enrich --wait` prints the cancel command); a second one quits at once, with exit 130.

use std::sync::OnceLock;

use tokio::sync::watch;

use crate::error::exit;

/// How many signals have arrived.
static SIGNALS: OnceLock<watch::Receiver<u32>> = OnceLock::new();

/// Starts listening for the signals; call once, inside the runtime, before the command runs.
pub fn listen() {
    SIGNALS.get_or_init(|| {
        let (count, receiver) = watch::channel(0);
        tokio::spawn(watch_signals(count));
        receiver
    });
}

async fn watch_signals(count: watch::Sender<u32>) {
    let Some(mut signals) = Signals::new() else {
        return;
    };
    while signals.next().await {
        let mut seen = 0;
        count.send_modify(|n| {
            *n += 1;
            seen = *n;
        });
        if seen > 1 {
            eprintln!("interrupted again: quitting now");
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    }
}

/// Resolves once the first signal has arrived (at once when it already has); never without
/// `listen`.
pub async fn interrupted() {
    match SIGNALS.get() {
        Some(receiver) => {
            let mut receiver = receiver.clone();
            if receiver.wait_for(|n| *n >= 1).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// SIGINT, SIGTERM and SIGHUP, registered once for the life of the process, so a signal that
/// arrives between two waits is kept.
struct Signals {
    #[cfg(unix)]
    streams: [tokio::signal::unix::Signal; 3],
}

impl Signals {
    fn new() -> Option<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Some(Signals {
                streams: [
                    signal(SignalKind::interrupt()).ok()?,
                    signal(SignalKind::terminate()).ok()?,
                    signal(SignalKind::hangup()).ok()?,
                ],
            })
        }
        #[cfg(not(unix))]
        {
            Some(Signals {})
        }
    }

    /// The next signal; false when signals can no longer be watched.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        {
            let [interrupt, terminate, hangup] = &mut self.streams;
            tokio::select! {
                got = interrupt.recv() => got.is_some(),
                got = terminate.recv() => got.is_some(),
                got = hangup.recv() => got.is_some(),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.is_ok()
        }
    }
}
