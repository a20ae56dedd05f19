//! Client-side rate limits (SPEC §4): a bucket for requests/s and one for items/s, lowered
//! for the rest of the run when the vendor answers 429. The buckets are a GCRA (`gcra`) over a
//! state kept in memory, or in a small file every catops process using the same profile and
//! base URL shares (`shared`), so parallel jobs against one account add up to the limit instead
//! of multiplying it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::gcra::{Bucket, Store};

/// On a 429 the rates drop to this share of what they were...
const LOWER_FACTOR: f64 = 0.8;
/// ...but never below this share of the rates before the first 429, so a run that meets
/// scattered 429s slows down without grinding to a halt.
const FLOOR_FACTOR: f64 = 0.25;
/// At most one lowering per this long: concurrent requests often get 429s together.
const LOWER_AT_MOST_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub requests_per_second: Option<f64>,
    pub items_per_second: Option<f64>,
}

pub struct Throttle {
    rates: Mutex<Rates>,
    store: Store,
    /// Largest item count one acquire may ask for (the chunk size): the items bucket's burst.
    max_items: u32,
    last_lowered: Mutex<Option<Instant>>,
    /// The rates before the first 429 (with no limit set: the request rate seen until then).
    before_429: Mutex<Option<(f64, Option<f64>)>>,
    started: Instant,
}

impl Throttle {
    /// `store`: where the buckets' state lives (`Store::memory()` for this process alone).
    pub fn new(rates: Rates, max_items: usize, store: Store) -> Throttle {
        let max_items = u32::try_from(max_items.max(1)).unwrap_or(u32::MAX);
        Throttle {
            rates: Mutex::new(rates),
            store,
            max_items,
            last_lowered: Mutex::new(None),
            before_429: Mutex::new(None),
            started: Instant::now(),
        }
    }

    pub fn rates(&self) -> Rates {
        *self.rates.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until one request carrying `items` items may go. Bursts are as small as they can
    /// be (one request, one chunk of items): the vendor's own buckets start full, so pacing
    /// from the first request keeps well inside them.
    pub async fn acquire(&self, items: usize) {
        let rates = self.rates();
        let per_second = |rate: Option<f64>| rate.filter(|r| r.is_finite() && *r > 0.0);
        let items = u32::try_from(items.max(1))
            .unwrap_or(u32::MAX)
            .min(self.max_items);
        let buckets = [
            per_second(rates.requests_per_second).map(|rate| Bucket::new(rate, 1, 1)),
            per_second(rates.items_per_second).map(|rate| Bucket::new(rate, items, self.max_items)),
        ];
        if buckets.iter().all(Option::is_none) {
            return;
        }
        let wait = self.store.reserve(buckets);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// After a 429: lower the rates for the rest of the run. With no limit set, the rate seen
    /// so far (`requests_done`) is the starting point. Returns the new rates when lowered.
    pub fn lower(&self, requests_done: u64) -> Option<Rates> {
        let mut last = self.last_lowered.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < LOWER_AT_MOST_EVERY) {
            return None;
        }
        *last = Some(Instant::now());
        let current = self.rates();
        let seen = requests_done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let (base_rps, base_ips) = *self
            .before_429
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert((
                current.requests_per_second.unwrap_or(seen),
                current.items_per_second,
            ));
        let lowered = |now: f64, base: f64| (now * LOWER_FACTOR).max(base * FLOOR_FACTOR);
        let rates = Rates {
            requests_per_second: Some(lowered(
                current.requests_per_second.unwrap_or(base_rps),
                base_rps,
            )),
            items_per_second: current
                .items_per_second
                .zip(base_ips)
                .map(|(now, base)| lowered(now, base)),
        };
        *self.rates.lock().unwrap_or_else(|p| p.into_inner()) = rates;
        Some(rates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_paced_at_the_rate() {
        let throttle = Throttle::new(
            Rates {
                requests_per_second: Some(50.0),
                items_per_second: None,
            },
            10,
            Store::memory(),
        );
        let started = Instant::now();
        for _ in 0..6 {
            throttle.acquire(10).await;
        }
        // The first goes at once, the other five 20 ms apart.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(95), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(400), "{elapsed:?}");
    }

    #[tokio::test]
    async fn items_are_paced_at_the_item_rate() {
        let throttle = Throttle::new(
            Rates {
                requests_per_second: None,
                items_per_second: Some(1000.0),
            },
            100,
            Store::memory(),
        );
        let started = Instant::now();
        for _ in 0..4 {
            throttle.acquire(100).await;
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(295), "{elapsed:?}");
    }

    #[test]
    fn lowering_cuts_the_rates_at_most_every_two_seconds_down_to_a_floor() {
        let throttle = Throttle::new(
            Rates {
                requests_per_second: Some(4.0),
                items_per_second: Some(800.0),
            },
            200,
            Store::memory(),
        );
        let lowered = throttle.lower(10).unwrap();
        assert_eq!(lowered.requests_per_second, Some(3.2));
        assert_eq!(lowered.items_per_second, Some(640.0));
        assert!(throttle.lower(10).is_none(), "not twice within two seconds");
        for _ in 0..20 {
            *throttle.last_lowered.lock().unwrap() = None;
            throttle.lower(10);
        }
        assert_eq!(
            throttle.rates().requests_per_second,
            Some(1.0),
            "floored at a quarter"
        );
        assert_eq!(throttle.rates().items_per_second, Some(200.0));
        let unlimited = Throttle::new(
            Rates {
                requests_per_second: None,
                items_per_second: None,
            },
            200,
            Store::memory(),
        );
        assert!(unlimited.lower(100).unwrap().requests_per_second.is_some());
    }
}
