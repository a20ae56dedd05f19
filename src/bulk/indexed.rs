//! `--wait-indexed`: after a run whose vendor applies edits later than it accepts them
//! (batch), poll until the last accepted edit is applied, so a script's next step (a campaign,
//! an export) sees the new items. The summary says `indexing_state`; a wait that runs out is
//! exit 1, Ctrl-C exit 130, and the edit goes on either way.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{Outcome, Settings};
use crate::error::{exit, Failure};
use crate::vendors::{segment, BulkEndpoint, IndexingState};

/// The first pause between polls, doubled up to `MAX_PAUSE`: edits are "usually" applied "in
/// real time" (edit-items, Processing time), so the first answers come quickly.
const FIRST_PAUSE: Duration = Duration::from_millis(200);
const MAX_PAUSE: Duration = Duration::from_secs(5);

pub async fn wait(settings: &Settings, target: &dyn BulkEndpoint, outcome: &mut Outcome) {
    let Some(limit) = settings.wait_indexed else {
        return;
    };
    if settings.dry_run || outcome.error.is_some() || outcome.code == exit::INTERRUPTED {
        return;
    }
    let Some(indexing) = target.indexing() else {
        return;
    };
    let Some(token) = outcome.summary["indexing_token"]
        .as_str()
        .map(str::to_string)
    else {
        if !settings.quiet {
            eprintln!("no edit was accepted: nothing to wait for");
        }
        return;
    };
    let catalog = target.destination();
    let check_later = format!(
        "see where it stands: catops api '/catalogs/view?name={}&indexing_token={}'",
        segment(&catalog),
        segment(&token)
    );
    if !settings.quiet {
        eprintln!(
            "waiting for {} to apply the last edit…",
            target.http().vendor()
        );
    }
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut last = None;
    loop {
        let polled = tokio::select! {
            polled = indexing.indexing_state(&catalog, &token) => Some(polled),
            () = crate::interrupt::interrupted() => None,
        };
        match polled {
            None => return interrupted(outcome, last, &check_later),
            Some(Err(err)) => {
                outcome.error = Some(err.into());
                return;
            }
            Some(Ok(state)) => {
                outcome.summary["indexing_state"] = json!(state.as_str());
                last = Some(state);
                if state == IndexingState::Applied {
                    if !settings.quiet {
                        eprintln!("applied after {:.1} s", started.elapsed().as_secs_f64());
                    }
                    return;
                }
            }
        }
        if started.elapsed() + pause > limit {
            outcome.error = Some(
                Failure::new(
                    exit::FAILURE,
                    format!(
                        "the last edit was not applied within {} s (indexing_state {})",
                        limit.as_secs(),
                        state_name(last)
                    ),
                )
                .hint(check_later)
                .hint("wait longer with --wait-timeout SECS")
                .into(),
            );
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = crate::interrupt::interrupted() => return interrupted(outcome, last, &check_later),
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

fn state_name(state: Option<IndexingState>) -> &'static str {
    state.map_or("unknown", IndexingState::as_str)
}

/// Ctrl-C while waiting: the edit goes on at the vendor; the summary keeps what was seen.
fn interrupted(outcome: &mut Outcome, last: Option<IndexingState>, check_later: &str) {
    eprintln!(
        "interrupted while waiting (indexing_state {}); the edit goes on",
        state_name(last)
    );
    eprintln!("hint: {check_later}");
    outcome.code = exit::INTERRUPTED;
}
