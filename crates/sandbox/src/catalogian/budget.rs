//! catalogian's rate limits (catalogian.com/docs/rate-limits): 600 requests a minute per API
//! key, 100 a minute per IP without a valid one. Every reply carries `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining` and `X-RateLimit-Reset` (unix seconds); a request over the budget
//! gets 429 with `Retry-After` and `{"error": "Rate limit exceeded. Try again in N seconds."}`.
//! The sandbox counts in fixed one-minute windows, each starting at a caller's first request
//! after the last one ended: the one shape the documented Remaining/Reset pair describes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, HeaderValue, StatusCode};

use crate::error::Fail;
use crate::ratelimit::retry_after_secs;

/// Requests a minute for an API key, and for callers without a valid key (the sandbox listens
/// on loopback, so they are all one IP).
pub use catops_spec::catalogian::{
    REQUESTS_PER_MINUTE_PER_IP as PER_IP, REQUESTS_PER_MINUTE_PER_KEY as PER_KEY,
};
const WINDOW_MS: i64 = 60_000;

/// One caller's current window.
#[derive(Clone, Copy, Debug)]
struct Window {
    ends_ms: i64,
    used: u32,
}

/// What one request may do, and the headers that say so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds, rounded up, so a client that waits until then finds a fresh window.
    pub reset: i64,
    /// Milliseconds until the reset, when the request is refused.
    pub refused_for_ms: Option<i64>,
}

impl Verdict {
    pub fn add_headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset));
    }

    /// The documented 429, or None when the request may go on.
    pub fn refusal(&self) -> Option<Fail> {
        let wait_ms = self.refused_for_ms?;
        let seconds = retry_after_secs(std::time::Duration::from_millis(
            wait_ms.max(0).unsigned_abs(),
        ));
        Some(
            Fail::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Rate limit exceeded. Try again in {seconds} seconds."),
            )
            .with_retry_after(seconds),
        )
    }
}

/// Every caller's window; None when `--rate-limits off` lifts the limits (and their headers,
/// which would only count down to a limit that is not there).
pub struct Budgets {
    windows: Option<Mutex<HashMap<&'static str, Window>>>,
}

impl Budgets {
    pub fn new(enforced: bool) -> Budgets {
        Budgets {
            windows: enforced.then(|| Mutex::new(HashMap::new())),
        }
    }

    /// Counts one request of `caller` at `now_ms` against `limit` a minute. Callers are the
    /// sandbox's few fixed keys, so the map stays small.
    pub fn take(&self, caller: &'static str, limit: u32, now_ms: i64) -> Option<Verdict> {
        let mut windows = self
            .windows
            .as_ref()?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let window = windows.entry(caller).or_insert(Window {
            ends_ms: i64::MIN,
            used: 0,
        });
        if now_ms >= window.ends_ms {
            *window = Window {
                ends_ms: now_ms + WINDOW_MS,
                used: 0,
            };
        }
        let refused = window.used >= limit;
        if !refused {
            window.used += 1;
        }
        Some(Verdict {
            limit,
            remaining: limit - window.used,
            reset: (window.ends_ms + 999).div_euclid(1000),
            refused_for_ms: refused.then_some(window.ends_ms - now_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_down_refuses_at_zero_and_starts_again_after_its_reset() {
        let budgets = Budgets::new(true);
        let t0 = 1_710_849_540_500;
        for n in 1..=3 {
            let verdict = budgets.take("key", 3, t0 + n).unwrap();
            assert_eq!(verdict.remaining, 3 - n as u32);
            assert_eq!(verdict.reset, 1_710_849_601, "rounded up to whole seconds");
            assert!(verdict.refusal().is_none());
        }
        let refused = budgets.take("key", 3, t0 + 20_000).unwrap();
        assert_eq!(refused.remaining, 0);
        let fail = refused.refusal().unwrap();
        assert_eq!(fail.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(fail.retry_after, Some(41));
        assert_eq!(
            fail.message,
            "Rate limit exceeded. Try again in 41 seconds."
        );
        // Another caller has a budget of its own.
        assert_eq!(budgets.take("other", 3, t0 + 20_000).unwrap().remaining, 2);
        assert!(budgets
            .take("key", 3, t0 + 60_000)
            .unwrap()
            .refusal()
            .is_some());
        let fresh = budgets.take("key", 3, t0 + 60_001).unwrap();
        assert_eq!((fresh.remaining, fresh.refused_for_ms), (2, None));
        assert_eq!(fresh.reset, 1_710_849_661);
    }

    #[test]
    fn lifted_limits_count_nothing() {
        assert_eq!(Budgets::new(false).take("key", 1, 0), None);
    }
}
