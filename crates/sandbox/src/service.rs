//! The emulated service as a whole, across vendors: how long it takes to answer (`--latency-ms
//! N|MIN..MAX`) and how many requests it can serve at once (`--max-inflight N`). An overloaded
//! service answers 503 with `Retry-After` at once, as real ones do; rate limits (429) are each
//! vendor's own matter and stay apart.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Seconds an overloaded reply asks the client to wait: what an overloaded service behind a
/// load balancer typically says.
pub const OVERLOADED_RETRY_AFTER_SECS: u64 = 1;

/// Each request's delay: `min` when fixed, else uniform in `min..=max` (millisecond steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    pub min: Duration,
    pub max: Duration,
}

impl Latency {
    pub const ZERO: Latency = Latency::fixed(Duration::ZERO);

    pub const fn fixed(delay: Duration) -> Latency {
        Latency {
            min: delay,
            max: delay,
        }
    }

    /// `N` (milliseconds) or `MIN..MAX` (both inclusive, MIN ≤ MAX).
    pub fn parse(raw: &str) -> Result<Latency, String> {
        let ms = |part: &str| {
            part.trim().parse::<u64>().map_err(|_| {
                format!("'{raw}': expected milliseconds N or a range MIN..MAX, e.g. 80..160")
            })
        };
        let (min, max) = match raw.split_once("..") {
            Some((min, max)) => (ms(min)?, ms(max)?),
            None => {
                let fixed = ms(raw)?;
                (fixed, fixed)
            }
        };
        if min > max {
            return Err(format!("'{raw}': the range's minimum is above its maximum"));
        }
        Ok(Latency {
            min: Duration::from_millis(min),
            max: Duration::from_millis(max),
        })
    }

    pub fn is_zero(&self) -> bool {
        self.max.is_zero()
    }

    /// One request's delay.
    pub fn pick(&self) -> Duration {
        if self.min >= self.max {
            return self.min;
        }
        let (min, max) = (self.min.as_millis() as u64, self.max.as_millis() as u64);
        Duration::from_millis(fastrand::u64(min..=max))
    }
}

/// At most `limit` requests served at once; the permit is held until the response is made,
/// latency included (the latency models the service's own time).
pub struct Capacity {
    limit: usize,
    slots: Arc<Semaphore>,
}

impl Capacity {
    pub fn new(limit: usize) -> Capacity {
        Capacity {
            limit,
            slots: Arc::new(Semaphore::new(limit)),
        }
    }

    /// A slot, if one is free.
    pub fn enter(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// What an overloaded service answers at once.
    pub fn overloaded(&self) -> Response {
        crate::faults::error_response(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "overloaded: more than {} requests in flight, retry later",
                self.limit
            ),
            Some(OVERLOADED_RETRY_AFTER_SECS),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_fixed_delay_and_a_range() {
        assert_eq!(
            Latency::parse("100"),
            Ok(Latency::fixed(Duration::from_millis(100)))
        );
        assert_eq!(
            Latency::parse("80..160"),
            Ok(Latency {
                min: Duration::from_millis(80),
                max: Duration::from_millis(160)
            })
        );
        assert_eq!(Latency::parse("0"), Ok(Latency::ZERO));
        assert_eq!(
            Latency::parse("5..5"),
            Ok(Latency::fixed(Duration::from_millis(5)))
        );
    }

    #[test]
    fn refuses_bad_delays_with_one_line() {
        for bad in [
            "160..80", "abc", "", "80..", "..160", "-5", "1.5", "80...160", "80..x",
        ] {
            let err = Latency::parse(bad).unwrap_err();
            assert!(!err.contains('\n'), "{bad}: {err}");
            assert!(err.contains(bad), "{bad}: {err}");
        }
        assert!(Latency::parse("160..80").unwrap_err().contains("minimum"));
    }

    #[test]
    fn picks_within_the_range_and_spreads() {
        let latency = Latency::parse("10..20").unwrap();
        let picks: Vec<u128> = (0..1000).map(|_| latency.pick().as_millis()).collect();
        assert!(picks.iter().all(|ms| (10..=20).contains(ms)));
        assert!(
            picks.contains(&10) && picks.contains(&20),
            "both ends are reached"
        );
        assert_eq!(
            Latency::parse("7").unwrap().pick(),
            Duration::from_millis(7)
        );
    }

    #[test]
    fn a_full_capacity_refuses_until_a_slot_is_freed() {
        let capacity = Capacity::new(2);
        let first = capacity.enter().unwrap();
        let _second = capacity.enter().unwrap();
        assert!(capacity.enter().is_none());
        let refused = capacity.overloaded();
        assert_eq!(refused.status(), 503);
        assert_eq!(refused.headers()["retry-after"], "1");
        drop(first);
        assert!(capacity.enter().is_some());
    }
}
