//! How many requests a bulk run keeps in flight (SPEC §4). `--concurrency N` fixes it;
//! otherwise it adapts to the service the way TCP adapts its window, after Vector's Adaptive
//! Request Concurrency and Netflix's Gradient limiter:
//!
//! - Answers are judged per window of about one round trip. A window whose requests all
//!   filled the limit, and whose mean round trip stays within `RTT_TOLERANCE` of the
//!   no-load round trip, grows the limit: doubling-ish at first (slow start), then by one.
//! - Pushback (429, 5xx, a timeout, a broken connection) cuts it: back to the last good level
//!   in slow start, by a quarter after. After pushback each step up waits a hold that doubles
//!   with every further pushback until `MAX_HOLD` windows pass without any, so a service with
//!   a hard capacity sees a few retries, not a storm.
//! - A mean round trip above the tolerance (requests queueing in the service) cuts it in
//!   proportion to the excess, but never below `QUEUE_FLOOR` (4): a service close by queues
//!   some of even 4 requests, yet with fewer it idles while we turn each answer around (only
//!   pushback goes lower). Answers to requests sent before a cut are not judged again: they
//!   queued behind the old limit.
//!
//! The rate limits (`throttle`, `gcra`) still apply on top: a run held back by them never
//! fills its limit, so the limit does not grow.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The most requests in flight catops will try, adaptive or not.
pub const MAX_LIMIT: usize = 64;
/// Where an adaptive run starts: the fixed default that suits a service close by.
const START: usize = 4;
/// Slow start grows the limit by this factor per window until the first sign of a queue.
const SLOW_START_GROWTH: f64 = 1.5;
/// A mean round trip up to this multiple of the no-load one counts as "holding".
const RTT_TOLERANCE: f64 = 1.5;
/// After slow start, pushback cuts the limit to this share.
const BACKOFF: f64 = 0.75;
/// Fewest answers that make a window: fewer say little about a round trip.
const MIN_SAMPLES: u32 = 3;
/// Latency alone never cuts the limit below this (only pushback does): at or below it a long
/// round trip is not a queue of ours to cut, but the path itself got slower, and its round
/// trip is learnt again.
const QUEUE_FLOOR: usize = START;
/// Longest hold, in windows, between steps up after pushback; as many quiet windows end it.
const MAX_HOLD: u32 = 64;

/// What one request told about the service.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample {
    /// Answered without a retry, in this long.
    Answered(Duration),
    /// The service pushed back at some point during the request.
    Pushback,
}

/// A change of the limit and why, for `-v`.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub from: usize,
    pub to: usize,
    pub reason: String,
}

/// The limit's state machine; pure, so synthetic sequences can drive it.
#[derive(Debug)]
pub struct Controller {
    limit: usize,
    adaptive: bool,
    slow_start: bool,
    /// The no-load round trip in seconds: the lowest window mean.
    base_rtt: Option<f64>,
    window: Window,
    /// The limit before the last growth: where slow start returns on pushback.
    last_good: usize,
    /// After pushback: each step up waits `hold` full windows, doubling with each pushback
    /// met while careful, until `MAX_HOLD` windows pass without any.
    careful: bool,
    hold: u32,
    hold_left: u32,
    quiet: u32,
    /// When the limit was last cut: answers to requests sent before then are stale.
    cut_at: Duration,
    lowest: usize,
    highest: usize,
}

#[derive(Debug, Default)]
struct Window {
    started: Duration,
    samples: u32,
    rtt_sum: f64,
    pushback: bool,
    /// The limit was filled at some point: the run could use more.
    saturated: bool,
}

impl Controller {
    pub fn adaptive() -> Controller {
        Controller::new(START, true)
    }

    pub fn fixed(limit: usize) -> Controller {
        Controller::new(limit.clamp(1, MAX_LIMIT), false)
    }

    fn new(limit: usize, adaptive: bool) -> Controller {
        Controller {
            limit,
            adaptive,
            slow_start: true,
            base_rtt: None,
            window: Window::default(),
            last_good: limit,
            careful: false,
            hold: 1,
            hold_left: 0,
            quiet: 0,
            cut_at: Duration::ZERO,
            lowest: limit,
            highest: limit,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn is_adaptive(&self) -> bool {
        self.adaptive
    }

    /// The lowest and highest limits so far.
    pub fn range(&self) -> (usize, usize) {
        (self.lowest, self.highest)
    }

    /// Every slot is taken: the run is limited by us, not by its input or the rate limits.
    pub fn saturated(&mut self) {
        self.window.saturated = true;
    }

    /// Takes one answer, `now` being time since the run started; returns a change of the
    /// limit when this answer closed a window that calls for one.
    pub fn observe(&mut self, now: Duration, sample: Sample) -> Option<Change> {
        if !self.adaptive {
            return None;
        }
        match sample {
            // Sent before the last cut: it queued behind the old limit, already judged.
            Sample::Answered(rtt) if now.saturating_sub(rtt) < self.cut_at => return None,
            Sample::Answered(rtt) => {
                self.window.samples += 1;
                self.window.rtt_sum += rtt.as_secs_f64();
            }
            Sample::Pushback => self.window.pushback = true,
        }
        let long_enough = match self.base_rtt {
            // A little short of a whole round trip: answers sent together come back together.
            Some(base) => (now - self.window.started).as_secs_f64() >= base * 0.9,
            None => true,
        };
        let answers = self.window.samples >= MIN_SAMPLES;
        if !(long_enough && (answers || self.window.pushback)) {
            return None;
        }
        let window = std::mem::replace(
            &mut self.window,
            Window {
                started: now,
                ..Window::default()
            },
        );
        let change = self.decide(&window);
        if let Some(change) = &change {
            if change.to < change.from {
                self.cut_at = now;
            }
            self.limit = change.to;
            self.lowest = self.lowest.min(change.to);
            self.highest = self.highest.max(change.to);
        }
        change
    }

    fn decide(&mut self, window: &Window) -> Option<Change> {
        let mean = (window.samples > 0).then(|| window.rtt_sum / f64::from(window.samples));
        let base = self.base_rtt;
        if let Some(mean) = mean {
            // A base that only ever falls does not follow our own queue upwards.
            let relearn =
                self.limit <= QUEUE_FLOOR && base.is_some_and(|b| mean > b * RTT_TOLERANCE);
            if relearn {
                self.slow_start = true;
            }
            self.base_rtt = Some(match base {
                Some(base) if mean > base && !relearn => base,
                _ => mean,
            });
        }
        if window.pushback {
            return self.back_off();
        }
        self.quiet += 1;
        if self.quiet >= MAX_HOLD {
            // Long enough without pushback: whatever limited the service has passed.
            self.careful = false;
        }
        if let (Some(mean), Some(base)) = (mean, self.base_rtt) {
            if mean > base * RTT_TOLERANCE {
                return self.queueing(mean, base);
            }
        }
        if window.saturated {
            return self.grow(mean.or(base));
        }
        None
    }

    fn back_off(&mut self) -> Option<Change> {
        let to = if self.slow_start {
            self.last_good.min(self.limit.saturating_sub(1))
        } else {
            (self.limit as f64 * BACKOFF).floor() as usize
        }
        .max(1);
        // Pushback again while careful: the capacity is near, so probe it half as often.
        self.hold = if self.careful {
            (self.hold * 2).min(MAX_HOLD)
        } else {
            2
        };
        self.hold_left = self.hold;
        self.careful = true;
        self.quiet = 0;
        self.slow_start = false;
        self.change(
            to,
            "the service pushed back (429, 5xx, a timeout or a reset)".into(),
        )
    }

    fn queueing(&mut self, mean: f64, base: f64) -> Option<Change> {
        self.slow_start = false;
        let share = (base * RTT_TOLERANCE / mean).max(0.5);
        let to = ((self.limit as f64 * share).floor() as usize)
            .min(self.limit.saturating_sub(1))
            .max(QUEUE_FLOOR.min(self.limit));
        self.change(
            to,
            format!(
                "round trips rose to {} ms from {} ms: requests are queueing",
                millis(mean),
                millis(base)
            ),
        )
    }

    fn grow(&mut self, rtt: Option<f64>) -> Option<Change> {
        let wanted = if self.slow_start {
            ((self.limit as f64 * SLOW_START_GROWTH).ceil() as usize).max(self.limit + 1)
        } else {
            self.limit + 1
        }
        .min(MAX_LIMIT);
        let to = if !self.careful {
            wanted
        } else if self.hold_left > 0 {
            self.hold_left -= 1;
            self.limit
        } else {
            self.hold_left = self.hold;
            self.limit + 1
        };
        self.last_good = self.limit;
        let rtt = rtt.map_or_else(String::new, |rtt| format!(" near {} ms", millis(rtt)));
        self.change(
            to,
            format!("round trips hold{rtt} and every slot was in use"),
        )
    }

    fn change(&self, to: usize, reason: String) -> Option<Change> {
        (to != self.limit).then_some(Change {
            from: self.limit,
            to,
            reason,
        })
    }
}

fn millis(seconds: f64) -> u64 {
    (seconds * 1000.0).round() as u64
}

/// Slots for requests in flight, as many as the controller allows at the moment.
pub struct Limiter {
    state: Mutex<State>,
    freed: Notify,
    started: Instant,
    verbose: bool,
}

struct State {
    controller: Controller,
    in_flight: usize,
}

/// One request's place in flight; dropping it frees the place.
pub struct Slot {
    limiter: Arc<Limiter>,
}

impl Limiter {
    pub fn new(controller: Controller, verbose: bool) -> Arc<Limiter> {
        Arc::new(Limiter {
            state: Mutex::new(State {
                controller,
                in_flight: 0,
            }),
            freed: Notify::new(),
            started: Instant::now(),
            verbose,
        })
    }

    /// Waits for a free place.
    pub async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            // Registered before the check, so a release between the two is not missed.
            let freed = self.freed.notified();
            {
                let mut state = self.lock();
                if state.in_flight < state.controller.limit() {
                    state.in_flight += 1;
                    if state.in_flight >= state.controller.limit() {
                        state.controller.saturated();
                    }
                    return Slot {
                        limiter: self.clone(),
                    };
                }
                state.controller.saturated();
            }
            freed.await;
        }
    }

    pub fn observe(&self, sample: Sample) {
        let change = self
            .lock()
            .controller
            .observe(self.started.elapsed(), sample);
        if let Some(change) = change {
            if self.verbose {
                eprintln!(
                    "* concurrency {} → {}: {}",
                    change.from, change.to, change.reason
                );
            }
            if change.to > change.from {
                self.freed.notify_one();
            }
        }
    }

    /// For the summary: whether the limit adapted, and its range.
    pub fn report(&self) -> (bool, usize, usize) {
        let state = self.lock();
        let (lowest, highest) = state.controller.range();
        (state.controller.is_adaptive(), lowest, highest)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limiter.lock().in_flight -= 1;
        self.limiter.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a controller through `windows` windows as a simulated service would answer
    /// at the controller's limit: `service(limit)` gives the round trip and whether it
    /// pushed back. Returns the limit after each window.
    fn simulate(
        controller: &mut Controller,
        windows: usize,
        mut service: impl FnMut(usize) -> (Duration, bool),
    ) -> Vec<usize> {
        let mut now = Duration::ZERO;
        let mut limits = Vec::new();
        for _ in 0..windows {
            let (rtt, pushback) = service(controller.limit());
            controller.saturated();
            now += rtt;
            if pushback {
                controller.observe(now, Sample::Pushback);
            }
            for _ in 0..MIN_SAMPLES {
                controller.observe(now, Sample::Answered(rtt));
            }
            limits.push(controller.limit());
        }
        limits
    }

    /// A service `latency` away doing `per_request` of serial work: below the point where
    /// its worker is busy the round trip is the latency, above it requests queue.
    fn serial_service(
        latency_ms: f64,
        per_request_ms: f64,
    ) -> impl FnMut(usize) -> (Duration, bool) {
        move |limit| {
            let busy_at = (latency_ms + per_request_ms) / per_request_ms;
            let queued = (limit as f64 - busy_at).max(0.0) * per_request_ms;
            let rtt = latency_ms + per_request_ms + queued;
            (Duration::from_secs_f64(rtt / 1000.0), false)
        }
    }

    #[test]
    fn it_grows_while_round_trips_hold() {
        let mut controller = Controller::adaptive();
        let limits = simulate(&mut controller, 40, |_| (Duration::from_millis(100), false));
        assert!(limits[0] > START && limits[1] > limits[0], "{limits:?}");
        assert_eq!(*limits.last().unwrap(), MAX_LIMIT, "{limits:?}");
    }

    #[test]
    fn it_settles_where_the_service_starts_queueing() {
        // 100 ms away, 14 ms of serial work: busy from about 8 in flight.
        let mut controller = Controller::adaptive();
        let limits = simulate(&mut controller, 200, serial_service(100.0, 14.0));
        let settled = &limits[100..];
        let (low, high) = (
            *settled.iter().min().unwrap(),
            *settled.iter().max().unwrap(),
        );
        assert!(low >= 8, "keeps the service busy: {settled:?}");
        assert!(high <= 14, "does not pile up a queue: {settled:?}");
    }

    #[test]
    fn a_service_close_by_keeps_a_short_queue_not_one_request() {
        // Next door, 8 ms of serial work: every request beyond the first queues, yet with
        // only one in flight the service would idle while we turn the answer around.
        let mut controller = Controller::adaptive();
        let limits = simulate(&mut controller, 200, serial_service(0.5, 8.0));
        let settled = &limits[50..];
        assert!(settled.iter().all(|&l| l >= 3), "{settled:?}");
        assert!(settled.iter().all(|&l| l <= 8), "{settled:?}");
    }

    #[test]
    fn answers_sent_before_a_cut_do_not_cut_again() {
        let mut controller = Controller::adaptive();
        let mut now = Duration::ZERO;
        // Learn a 10 ms round trip at 4, then grow.
        for _ in 0..3 {
            controller.saturated();
            now += Duration::from_millis(10);
            for _ in 0..MIN_SAMPLES {
                controller.observe(now, Sample::Answered(Duration::from_millis(10)));
            }
        }
        let before = controller.limit();
        // A long queue: one cut.
        now += Duration::from_millis(100);
        for _ in 0..MIN_SAMPLES {
            controller.observe(now, Sample::Answered(Duration::from_millis(100)));
        }
        let cut = controller.limit();
        assert!(cut < before, "{before} → {cut}");
        // The rest of that queue answers later, as slowly: sent before the cut, not judged.
        for step in 1..=10 {
            let at = now + Duration::from_millis(10 * step);
            controller.observe(at, Sample::Answered(Duration::from_millis(100)));
        }
        assert_eq!(controller.limit(), cut);
    }

    #[test]
    fn it_backs_off_on_pushback_and_probes_rarely_above_a_hard_capacity() {
        // A service that answers 503 above 8 requests in flight.
        let mut controller = Controller::adaptive();
        let (mut requests, mut refused) = (0, 0);
        let limits = simulate(&mut controller, 400, |limit| {
            requests += limit;
            refused += limit.saturating_sub(8);
            (Duration::from_millis(50), limit > 8)
        });
        assert!(limits[50..].iter().all(|&l| l <= 9), "{limits:?}");
        assert!(
            limits[50..].iter().all(|&l| l >= 6),
            "keeps near it: {limits:?}"
        );
        assert!(
            refused * 100 <= requests * 2,
            "retries are at most 2% of requests: {refused} of {requests}"
        );
    }

    #[test]
    fn it_recovers_after_the_service_does() {
        let mut controller = Controller::adaptive();
        let mut window = 0;
        let limits = simulate(&mut controller, 150, |limit| {
            window += 1;
            // Overloaded for a while: pushback at any level.
            let overloaded = (20..40).contains(&window);
            (Duration::from_millis(20), overloaded && limit > 1)
        });
        assert!(limits[39] <= 2, "{limits:?}");
        assert!(limits[149] >= 20, "grows back: {limits:?}");
    }

    #[test]
    fn a_path_that_got_slower_for_good_is_learnt_again() {
        let mut controller = Controller::adaptive();
        let mut window = 0;
        let limits = simulate(&mut controller, 120, |_| {
            window += 1;
            let rtt = if window < 30 { 20 } else { 200 };
            (Duration::from_millis(rtt), false)
        });
        assert!(limits[119] >= 20, "{limits:?}");
    }

    #[test]
    fn a_run_that_never_fills_its_slots_does_not_grow() {
        let mut controller = Controller::adaptive();
        let mut now = Duration::ZERO;
        for _ in 0..100 {
            now += Duration::from_millis(10);
            controller.observe(now, Sample::Answered(Duration::from_millis(10)));
        }
        assert_eq!(controller.limit(), START);
    }

    #[test]
    fn a_fixed_limit_never_moves() {
        let mut controller = Controller::fixed(6);
        let limits = simulate(&mut controller, 20, |_| (Duration::from_millis(5), true));
        assert!(limits.iter().all(|&l| l == 6));
        assert_eq!(controller.range(), (6, 6));
    }

    #[tokio::test]
    async fn slots_never_exceed_the_limit_and_free_on_drop() {
        let limiter = Limiter::new(Controller::fixed(2), false);
        let one = limiter.acquire().await;
        let _two = limiter.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(50), limiter.acquire()).await;
        assert!(third.is_err(), "a third place waits");
        drop(one);
        let third = tokio::time::timeout(Duration::from_millis(50), limiter.acquire()).await;
        assert!(third.is_ok(), "a freed place is taken");
    }
}
