//! Token buckets for the sandbox's emulated rate limits (vendors/batch.txt names the Token
//! Bucket algorithm). Pure logic: every call takes the current `Instant`, so tests control time.

use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A bucket that starts full, as a client that has been idle would find it.
    pub fn full(capacity: f64, per_second: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            capacity,
            per_second,
            tokens: capacity,
            updated: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        // An `Instant` older than the last one (another thread's clock read) adds nothing.
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.updated = self.updated.max(now);
    }

    /// How long until `n` tokens are available: zero when they are now. A request larger than
    /// the bucket waits for a full bucket, otherwise it could never pass.
    pub fn wait_for(&mut self, n: f64, now: Instant) -> Duration {
        self.refill(now);
        let missing = n.min(self.capacity) - self.tokens;
        if missing <= 0.0 {
            Duration::ZERO
        } else if self.per_second <= 0.0 {
            Duration::MAX
        } else {
            Duration::from_secs_f64(missing / self.per_second)
        }
    }

    /// Takes `n` tokens (at most a full bucket); call after `wait_for` said they are there.
    pub fn take(&mut self, n: f64, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens - n.min(self.capacity)).max(0.0);
    }

    /// A full bucket is the same as a new one, so its owner can forget it.
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

/// Admits a request only when every bucket holds its share, then takes from all of them;
/// otherwise takes nothing and says how long until all of them would.
pub fn acquire(buckets: &mut [(&mut TokenBucket, f64)], now: Instant) -> Result<(), Duration> {
    let wait = buckets
        .iter_mut()
        .map(|(bucket, n)| bucket.wait_for(*n, now))
        .max()
        .unwrap_or(Duration::ZERO);
    if !wait.is_zero() {
        return Err(wait);
    }
    for (bucket, n) in buckets.iter_mut() {
        bucket.take(*n, now);
    }
    Ok(())
}

/// `Retry-After` holds whole seconds: round up, and never say 0, which invites a hot loop.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs_f64().ceil();
    if secs.is_finite() && secs < u64::MAX as f64 {
        (secs as u64).max(1)
    } else {
        u64::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Float arithmetic may land a nanosecond off.
    fn assert_close(actual: Duration, expected: Duration) {
        let diff = actual.abs_diff(expected);
        assert!(
            diff < Duration::from_micros(1),
            "{actual:?} != {expected:?}"
        );
    }

    #[test]
    fn a_new_bucket_is_full_and_empties_as_tokens_are_taken() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::full(5.0, 5.0, t0);
        for _ in 0..5 {
            assert_close(bucket.wait_for(1.0, t0), Duration::ZERO);
            bucket.take(1.0, t0);
        }
        assert_close(bucket.wait_for(1.0, t0), ms(200));
    }

    #[test]
    fn tokens_come_back_at_the_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::full(1000.0, 1000.0, t0);
        bucket.take(1000.0, t0);
        assert_close(bucket.wait_for(200.0, t0), ms(200));
        assert_close(bucket.wait_for(200.0, t0 + ms(100)), ms(100));
        assert_close(bucket.wait_for(200.0, t0 + ms(200)), Duration::ZERO);
    }

    #[test]
    fn refill_stops_at_the_capacity() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::full(5.0, 5.0, t0);
        bucket.take(5.0, t0);
        // An hour idle still only gives a full bucket: 5 requests, not 18000.
        let later = t0 + Duration::from_secs(3600);
        assert!(bucket.is_full(later));
        bucket.take(5.0, later);
        assert_close(bucket.wait_for(1.0, later), ms(200));
    }

    #[test]
    fn a_clock_read_out_of_order_adds_nothing() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::full(5.0, 5.0, t0 + ms(500));
        bucket.take(5.0, t0 + ms(500));
        assert_close(bucket.wait_for(1.0, t0), ms(200));
    }

    #[test]
    fn a_request_larger_than_the_bucket_waits_for_a_full_one() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::full(1000.0, 1000.0, t0);
        assert_close(bucket.wait_for(5000.0, t0), Duration::ZERO);
        bucket.take(5000.0, t0);
        assert_close(bucket.wait_for(5000.0, t0), Duration::from_secs(1));
    }

    #[test]
    fn acquire_takes_from_all_buckets_or_none() {
        let t0 = Instant::now();
        let mut requests = TokenBucket::full(5.0, 5.0, t0);
        let mut items = TokenBucket::full(1000.0, 1000.0, t0);
        assert_eq!(
            acquire(&mut [(&mut requests, 1.0), (&mut items, 800.0)], t0),
            Ok(())
        );
        // The items bucket is short by 600, 0.6 s; the requests bucket must keep its tokens.
        let refused = acquire(&mut [(&mut requests, 1.0), (&mut items, 800.0)], t0);
        assert_close(refused.unwrap_err(), ms(600));
        assert_close(requests.wait_for(4.0, t0), Duration::ZERO);
        assert_close(requests.wait_for(5.0, t0), ms(200));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        assert_eq!(retry_after_secs(ms(1)), 1);
        assert_eq!(retry_after_secs(ms(200)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(1)), 1);
        assert_eq!(retry_after_secs(ms(1001)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::MAX), u64::MAX);
    }
}
