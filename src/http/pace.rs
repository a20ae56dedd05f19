//! Pacing from the server's own rate-limit headers. A vendor that says how many requests its
//! window has left (`X-RateLimit-Remaining`) and when the window resets (`X-RateLimit-Reset`;
//! catalogian.com/docs/rate-limits) gets no further request once nothing is left, until the
//! reset: catops slows down before a 429 instead of running into one and retrying after it.
//! Only a reply carrying both headers sets a pause, so vendors that send neither are untouched.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, DATE};

const REMAINING: &str = "x-ratelimit-remaining";
const RESET: &str = "x-ratelimit-reset";
/// A reset further ahead than this is waited for only this long; the server's 429 and its
/// `Retry-After` take over from there (a skewed clock or a daily quota must not stall a run).
const MAX_PAUSE: Duration = Duration::from_secs(300);

/// Until when no request may start, and why.
#[derive(Clone, Debug)]
struct Pause {
    until: Instant,
    why: String,
}

/// Shared by every request of one client, so a run's concurrent requests all hold back.
#[derive(Debug, Default)]
pub struct Pacer {
    pause: Mutex<Option<Pause>>,
}

impl Pacer {
    /// Reads a reply's headers: nothing left in the window means a pause until its reset. A
    /// pause is never shortened by a later reply (replies to concurrent requests arrive out of
    /// order); it simply expires.
    pub fn note(&self, headers: &HeaderMap) {
        let Some((wait, why)) = pause_for(headers, SystemTime::now()) else {
            return;
        };
        let until = Instant::now() + wait;
        let mut pause = self.pause.lock().unwrap_or_else(PoisonError::into_inner);
        if pause.as_ref().is_none_or(|old| old.until < until) {
            *pause = Some(Pause { until, why });
        }
    }

    /// How long the next request must wait, and why; None when it may go now.
    pub fn wait(&self) -> Option<(Duration, String)> {
        let mut pause = self.pause.lock().unwrap_or_else(PoisonError::into_inner);
        let left = pause.as_ref()?.until.checked_duration_since(Instant::now());
        match left {
            Some(left) if !left.is_zero() => pause.as_ref().map(|p| (left, p.why.clone())),
            _ => {
                *pause = None;
                None
            }
        }
    }
}

/// The wait that a reply's rate-limit headers call for: none unless `Remaining` is 0 and
/// `Reset` says when the window ends.
fn pause_for(headers: &HeaderMap, now: SystemTime) -> Option<(Duration, String)> {
    let header = |name: &str| headers.get(name)?.to_str().ok().map(str::trim);
    let remaining: f64 = header(REMAINING)?.parse().ok()?;
    if remaining.is_nan() || remaining >= 1.0 {
        return None;
    }
    let raw_reset = header(RESET)?;
    let reset: f64 = raw_reset.parse().ok().filter(|r: &f64| r.is_finite())?;
    let wait = until_reset(reset, server_now(headers).unwrap_or(now))?.min(MAX_PAUSE);
    let why = format!("X-RateLimit-Remaining is 0 until X-RateLimit-Reset {raw_reset}");
    Some((wait, why))
}

/// The docs give `Reset` as a unix time in seconds; other APIs send milliseconds, or the
/// seconds left, so a value is read by its size: below 10^9 it cannot be a recent unix time.
fn until_reset(reset: f64, now: SystemTime) -> Option<Duration> {
    if reset <= 0.0 {
        return None;
    }
    if reset < 1e9 {
        return Duration::try_from_secs_f64(reset).ok();
    }
    let secs = if reset >= 1e12 { reset / 1000.0 } else { reset };
    let at = UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(secs).ok()?)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO)).filter(|w| !w.is_zero())
}

/// The server's clock, from its `Date` header, so the reset is measured on the clock that set
/// it (a client clock a minute off would wait a minute too long, or not at all). `Date` has
/// whole seconds only, which errs towards waiting up to a second longer, never shorter.
fn server_now(headers: &HeaderMap) -> Option<SystemTime> {
    httpdate::parse_http_date(headers.get(DATE)?.to_str().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn nothing_left_pauses_until_the_reset() {
        let now = at(1_710_849_590);
        let reply = headers(&[(REMAINING, "0"), (RESET, "1710849600")]);
        let (wait, why) = pause_for(&reply, now).unwrap();
        assert_eq!(wait, Duration::from_secs(10));
        assert!(why.contains("X-RateLimit-Reset 1710849600"), "{why}");
    }

    #[test]
    fn requests_left_or_headers_missing_mean_no_pause() {
        let now = at(1_710_849_590);
        for reply in [
            headers(&[(REMAINING, "1"), (RESET, "1710849600")]),
            headers(&[(REMAINING, "594"), (RESET, "1710849600")]),
            headers(&[(REMAINING, "0")]),
            headers(&[(RESET, "1710849600")]),
            headers(&[(REMAINING, "none"), (RESET, "1710849600")]),
            headers(&[(REMAINING, "0"), (RESET, "soon")]),
            headers(&[(REMAINING, "0"), (RESET, "1710849000")]),
            headers(&[(REMAINING, "0"), (RESET, "-5")]),
            headers(&[(REMAINING, "0"), (RESET, "1e400")]),
            HeaderMap::new(),
        ] {
            assert_eq!(pause_for(&reply, now), None, "{reply:?}");
        }
    }

    #[test]
    fn reset_in_milliseconds_or_seconds_left_and_the_cap() {
        let now = at(1_710_849_590);
        let millis = headers(&[(REMAINING, "0"), (RESET, "1710849592500")]);
        assert_eq!(
            pause_for(&millis, now).unwrap().0,
            Duration::from_millis(2500)
        );
        let relative = headers(&[(REMAINING, "0"), (RESET, "12")]);
        assert_eq!(
            pause_for(&relative, now).unwrap().0,
            Duration::from_secs(12)
        );
        let far = headers(&[(REMAINING, "0"), (RESET, "1810849600")]);
        assert_eq!(pause_for(&far, now).unwrap().0, MAX_PAUSE);
    }

    #[test]
    fn the_servers_date_is_the_clock_for_its_reset() {
        // Our clock is an hour behind the server's: its Date decides, not our clock.
        let ours = at(1_710_846_000);
        let reply = headers(&[
            (REMAINING, "0"),
            (RESET, "1710849600"),
            ("date", "Tue, 19 Mar 2024 11:59:57 GMT"),
        ]);
        assert_eq!(pause_for(&reply, ours).unwrap().0, Duration::from_secs(3));
    }

    #[test]
    fn a_pause_is_kept_until_it_expires_and_never_shortened() {
        let pacer = Pacer::default();
        assert!(pacer.wait().is_none());
        let reset = |secs: u64| {
            let at = SystemTime::now() + Duration::from_secs(secs);
            at.duration_since(UNIX_EPOCH).unwrap().as_secs().to_string()
        };
        pacer.note(&headers(&[(REMAINING, "0"), (RESET, &reset(30))]));
        let (first, _) = pacer.wait().unwrap();
        assert!(first > Duration::from_secs(28), "{first:?}");
        // An older reply to a concurrent request, read later, does not lift the pause.
        pacer.note(&headers(&[(REMAINING, "5"), (RESET, &reset(30))]));
        pacer.note(&headers(&[(REMAINING, "0"), (RESET, &reset(5))]));
        assert!(pacer.wait().unwrap().0 > Duration::from_secs(28));
    }
}
