//! When to try a request again: exponential backoff with jitter, and `Retry-After`.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// First retry waits about this long; each further one doubles it.
const BASE_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(20);
/// A `Retry-After` longer than this is cut short: a CI job would rather fail than sleep an hour.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Exponential backoff with equal jitter (half fixed, half random, so retries from parallel
/// requests spread out). A `Retry-After` from the server is a floor we add a little jitter to.
pub fn backoff_delay(attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    let exponential = BASE_DELAY
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_DELAY);
    let backoff = exponential.mul_f64(0.5 + jitter / 2.0);
    match retry_after {
        Some(wait) => wait.min(MAX_RETRY_AFTER) + BASE_DELAY.mul_f64(jitter),
        None => backoff,
    }
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_delay(0, None, 1.0), Duration::from_millis(250));
        assert_eq!(backoff_delay(0, None, 0.0), Duration::from_millis(125));
        assert_eq!(backoff_delay(3, None, 1.0), Duration::from_secs(2));
        assert_eq!(backoff_delay(30, None, 1.0), MAX_DELAY);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let wait = backoff_delay(0, Some(Duration::from_secs(3)), 0.5);
        assert!(wait >= Duration::from_secs(3) && wait < Duration::from_millis(3300));
        let capped = backoff_delay(0, Some(Duration::from_secs(100_000)), 0.0);
        assert_eq!(capped, MAX_RETRY_AFTER);
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("1e300"));
        assert_eq!(retry_after(&headers), None, "absurd values must not panic");
        headers.insert("retry-after", HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&headers), None);
    }
}
