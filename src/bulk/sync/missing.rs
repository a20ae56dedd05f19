//! `--delete-missing`: the keys the state holds that the input lacks. They are counted by a
//! first pass over the input before any request, so `--max-delete` can refuse the whole run
//! while nothing has changed; once the upserts are done they are removed through the vendor's
//! remove action, and leave the state as each request is confirmed.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::super::throttle::Throttle;
use super::super::{rates_store, Settings};
use super::state::Missing;
use super::Counts;
use crate::error::{exit, Failure};
use crate::input::{self, InputTrack, Records};
use crate::vendors::{explain, BulkEndpoint};

/// `--max-delete N|P%`: how many deletions a run may make before it is refused whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxDelete {
    Count(u64),
    Percent(f64),
}

impl MaxDelete {
    /// SPEC: "default 10% of the state".
    pub const DEFAULT: MaxDelete = MaxDelete::Percent(10.0);

    pub fn parse(raw: &str) -> Result<MaxDelete, String> {
        let bad = || format!("'{raw}' is not a count or a percentage (e.g. 500 or 5%)");
        match raw.strip_suffix('%') {
            Some(percent) => match percent.trim().parse::<f64>() {
                Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Ok(MaxDelete::Percent(p)),
                _ => Err(bad()),
            },
            None => raw.trim().parse().map(MaxDelete::Count).map_err(|_| bad()),
        }
    }

    /// The most deletions allowed against a state of `held` keys.
    pub fn limit(self, held: u64) -> u64 {
        match self {
            MaxDelete::Count(n) => n,
            MaxDelete::Percent(p) => (held as f64 * p / 100.0).floor() as u64,
        }
    }
}

impl std::fmt::Display for MaxDelete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxDelete::Count(n) => write!(f, "{n}"),
            MaxDelete::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Reads the whole input once for its keys (a row refused later still holds its key, so its
/// item is not deleted) and returns the keys of the state it lacks, with their count.
pub fn count_missing(
    settings: &Settings,
    target: &dyn BulkEndpoint,
    state: &Path,
) -> Result<(Missing, u64), Failure> {
    let mut missing = Missing::open(state)?;
    let (reader, _) = input::open(&settings.input, Arc::new(InputTrack::counting()))
        .map_err(|err| Failure::usage(err.0))?;
    let records: Records = input::records(settings.format, reader, &settings.typing)
        .map_err(|err| Failure::usage(err.0))?;
    for record in records.flatten() {
        let key = match target.item(record.fields) {
            Ok(item) => target.item_key(&item),
            Err((_, mapped)) => target.item_key(&mapped),
        };
        if let Some(key) = key {
            missing.see(&key)?;
        }
    }
    let count = missing.settle()?;
    Ok((missing, count))
}

/// The deletions' own requests: `remover` is the vendor's remove action for the catalog.
pub struct Deletions<'a> {
    pub settings: &'a Settings,
    pub remover: &'a dyn BulkEndpoint,
    pub counts: &'a Counts,
}

/// Removes the missing keys, a request at a time under the rate limits, forgetting each key
/// once its request is accepted. Stops at the first failure (the rest stay in the state, so
/// the next sync deletes them).
pub async fn delete_missing(
    missing: &mut Missing,
    deletions: Deletions<'_>,
) -> Result<u64, Failure> {
    let Deletions {
        settings,
        remover,
        counts,
    } = deletions;
    let per_request = remover.max_items().min(settings.batch_size).max(1);
    let throttle = Throttle::new(settings.rates, per_request, rates_store(settings));
    let mut deleted = 0u64;
    loop {
        let keys = missing.next(per_request)?;
        if keys.is_empty() {
            return Ok(deleted);
        }
        let body = remover.removal_body(&keys).map_err(|(key, reason)| {
            Failure::new(exit::FAILURE, format!("cannot delete {key}: {reason}"))
        })?;
        let sent = tokio::select! {
            sent = async {
                throttle.acquire(keys.len()).await;
                remover.send(body.into()).await
            } => sent,
            () = crate::interrupt::interrupted() => {
                return Err(Failure::new(exit::INTERRUPTED, format!(
                    "interrupted after {deleted} deletions: the rest are still in the state, so the next sync deletes them"
                )));
            }
        };
        if let Err(err) = sent {
            let (code, hints) = explain(&err);
            let mut failure = Failure::new(
                code,
                format!("deleting missing items stopped after {deleted}: {err}"),
            );
            failure.hints.extend(hints);
            return Err(failure.hint("the rest are still in the state: the next sync deletes them"));
        }
        missing.forget(&keys)?;
        deleted += keys.len() as u64;
        counts
            .deleted
            .fetch_add(keys.len() as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_delete_takes_a_count_or_a_share_of_the_state() {
        assert_eq!(MaxDelete::parse("25"), Ok(MaxDelete::Count(25)));
        assert_eq!(MaxDelete::parse("5%"), Ok(MaxDelete::Percent(5.0)));
        assert!(MaxDelete::parse("150%").is_err());
        assert!(MaxDelete::parse("-3").is_err());
        assert!(MaxDelete::parse("lots").is_err());
        assert_eq!(MaxDelete::DEFAULT.limit(1000), 100);
        assert_eq!(MaxDelete::DEFAULT.limit(9), 0);
        assert_eq!(MaxDelete::Count(7).limit(1), 7);
        assert_eq!(MaxDelete::parse("2.5%").unwrap().to_string(), "2.5%");
    }
}
