//! The sandbox as a service across a network, over raw HTTP: a latency drawn from a range for
//! each request, and a capacity above which it answers 503 with Retry-After at once.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use catops_sandbox::{Latency, SandboxOptions};
use common::{Sandbox, TOKEN};
use serde_json::Value;

const CATALOGS: &str = "/rastro/api/public/catalogs";
const BEARER: &str = "Bearer sandbox-token";

fn start(latency: &str, max_inflight: Option<usize>) -> Arc<Sandbox> {
    Arc::new(Sandbox::start_with(SandboxOptions {
        latency: Latency::parse(latency).unwrap(),
        max_inflight,
        ..SandboxOptions::in_memory()
    }))
}

/// `count` GETs of the catalog list sent at once; each one's status, headers, body and time.
fn at_once(sandbox: &Arc<Sandbox>, count: usize) -> Vec<(u16, String, String, Duration)> {
    let barrier = Arc::new(Barrier::new(count));
    let calls: Vec<_> = (0..count)
        .map(|_| {
            let (sandbox, barrier) = (sandbox.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                let started = Instant::now();
                let (status, head, body) =
                    sandbox.request("GET", CATALOGS, &[("Authorization", BEARER)], None);
                (status, head, body, started.elapsed())
            })
        })
        .collect();
    calls.into_iter().map(|call| call.join().unwrap()).collect()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[test]
fn each_request_waits_a_latency_drawn_from_the_range() {
    let sandbox = start("60..200", None);
    let times: Vec<Duration> = at_once(&sandbox, 24)
        .into_iter()
        .map(|(status, _, body, took)| {
            assert_eq!(status, 200, "{body}");
            took
        })
        .collect();
    let (fastest, slowest) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    assert!(*fastest >= Duration::from_millis(60), "{times:?}");
    // 24 draws from 141 values: all within 40 ms of each other has odds below 1e-12.
    assert!(
        *slowest - *fastest >= Duration::from_millis(40),
        "no spread: {times:?}"
    );
}

#[test]
fn a_fixed_latency_delays_every_request_alike() {
    let sandbox = start("80", None);
    for (status, _, _, took) in at_once(&sandbox, 4) {
        assert_eq!(status, 200);
        assert!(took >= Duration::from_millis(80), "{took:?}");
    }
}

#[test]
fn up_to_max_inflight_requests_are_served_at_once_and_one_more_gets_503_with_retry_after() {
    // The latency holds each request in flight long enough for the others to arrive.
    let sandbox = start("2500", Some(3));
    for (status, _, body, _) in at_once(&sandbox, 3) {
        assert_eq!(status, 200, "three at once fit: {body}");
    }

    let busy = {
        let sandbox = sandbox.clone();
        thread::spawn(move || at_once(&sandbox, 3))
    };
    thread::sleep(Duration::from_millis(800));
    let started = Instant::now();
    let (status, head, body) = sandbox.request("GET", CATALOGS, &[("Authorization", BEARER)], None);
    assert_eq!(status, 503, "{head}\n{body}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "answered at once"
    );
    assert_eq!(header(&head, "retry-after"), Some("1"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("overloaded"),
        "{body}"
    );
    // The sandbox's own routes are not the modelled service: they pass.
    let (status, _, _) = sandbox.request(
        "GET",
        "/_sandbox/requests",
        &[("Authorization", BEARER)],
        None,
    );
    assert_eq!(status, 200);
    for (status, _, body, _) in busy.join().unwrap() {
        assert_eq!(status, 200, "{body}");
    }
    // Once they are done, there is room again.
    let (status, _) = sandbox.call_as(TOKEN, "GET", CATALOGS, None);
    assert_eq!(status, 200);
}
