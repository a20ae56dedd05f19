//! The embedded sandbox, the HTTP core's retries, timeouts and redaction, and streaming lists.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Env, Sandbox};

#[test]
fn the_embedded_sandbox_needs_no_config_and_keeps_state_between_commands() {
    let env = Env::new();
    let item = env.embedded_json(&["items", "get", "--catalog", "cat_demo", "item_4"]);
    assert_eq!(item["sku"], "DEMO-0004");

    env.embedded_json(&[
        "items",
        "update",
        "--catalog",
        "cat_demo",
        "item_4",
        "--set",
        "title=Changed",
    ]);
    let item = env.embedded_json(&["items", "get", "--catalog", "cat_demo", "item_4"]);
    assert_eq!(
        item["title"], "Changed",
        "a second process sees the first one's change"
    );
    assert!(env
        .home
        .path()
        .join(".local/share/catops/sandbox.sqlite3")
        .exists());

    env.run(&["sandbox", "reset"]).ok();
    let item = env.embedded_json(&["items", "get", "--catalog", "cat_demo", "item_4"]);
    assert_eq!(item["title"], "Initech Trail Running Shoe");
}

#[test]
fn server_errors_and_429s_are_retried_until_the_request_succeeds() {
    let sandbox = Sandbox::start_with(&["--faults", "503=0.3,429=0.1,seed=11"]);
    let env = Env::new();
    let run = env
        .rastro(
            &sandbox,
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--all",
                "--limit",
                "2",
                "-o",
                "json",
                "-v",
                "--max-retries",
                "10",
            ],
        )
        .ok();
    assert_eq!(run.json().as_array().unwrap().len(), 25);
    assert!(run.stderr.contains(" 503 "), "{}", run.stderr);
    assert!(run.stderr.contains("retrying in"), "{}", run.stderr);
}

#[test]
fn retry_after_is_honoured() {
    let sandbox = Sandbox::start_with(&["--faults", "429=1.0"]);
    let env = Env::new();
    let started = Instant::now();
    let run = env
        .rastro(&sandbox, &["catalogs", "list", "--max-retries", "1", "-v"])
        .expect_code(1);
    // The sandbox sends Retry-After: 1, so the one retry waited at least a second.
    assert!(started.elapsed() >= Duration::from_secs(1));
    let waited: Vec<u64> = run
        .stderr
        .lines()
        .filter_map(|l| {
            l.split("retrying in ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(waited.len(), 1, "{}", run.stderr);
    assert!(waited[0] >= 1000, "{}", run.stderr);
    assert!(
        run.error_line().contains("429 Too Many Requests"),
        "{}",
        run.stderr
    );
}

#[test]
fn retries_give_up_after_max_retries() {
    let sandbox = Sandbox::start_with(&["--faults", "500=1.0"]);
    let env = Env::new();
    let run = env
        .rastro(
            &sandbox,
            &[
                "items",
                "get",
                "--catalog",
                "cat_demo",
                "item_1",
                "--max-retries",
                "2",
                "-v",
            ],
        )
        .expect_code(1);
    assert_eq!(
        run.stderr.matches("retrying in").count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.error_line()
            .contains("500 Internal Server Error: injected fault"),
        "{}",
        run.stderr
    );
}

#[test]
fn dropped_connections_are_retried() {
    let sandbox = Sandbox::start_with(&["--faults", "reset=0.5,seed=5"]);
    let env = Env::new();
    let run = env
        .rastro(
            &sandbox,
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--all",
                "--limit",
                "5",
                "-o",
                "ndjson",
                "-v",
                "--max-retries",
                "10",
            ],
        )
        .ok();
    assert_eq!(run.ndjson().len(), 25);
    assert!(run.stderr.contains("retrying in"), "{}", run.stderr);
}

#[test]
fn a_creation_is_not_repeated_after_a_server_error() {
    let sandbox = Sandbox::start_with(&["--faults", "500=1.0"]);
    let env = Env::new();
    let run = env
        .rastro(
            &sandbox,
            &[
                "catalogs",
                "create",
                "--name",
                "X",
                "--unique-id-field",
                "sku",
                "--field",
                "sku",
                "-v",
            ],
        )
        .expect_code(1);
    assert!(!run.stderr.contains("retrying"), "{}", run.stderr);
}

#[test]
fn a_hanging_server_hits_the_timeout() {
    let sandbox = Sandbox::start_with(&["--latency-ms", "3000"]);
    let env = Env::new();
    let started = Instant::now();
    let run = env
        .rastro(
            &sandbox,
            &["catalogs", "list", "--timeout", "0.3", "--max-retries", "0"],
        )
        .expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        run.error_line().contains("no response within 0.3 s"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let env = Env::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base = format!("http://127.0.0.1:{port}/rastro/api");
    let run = env
        .run(&[
            "-p",
            "sandbox",
            "--base-url",
            &base,
            "catalogs",
            "list",
            "--max-retries",
            "1",
        ])
        .expect_code(1);
    assert!(
        run.error_line()
            .contains("rastro: GET /public/catalogs: cannot connect"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: check the base URL"),
        "{}",
        run.stderr
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let env = Env::new();
    let run = env
        .run(&[
            "-p",
            "sandbox",
            "--base-url",
            "http://catalog.example.com/api",
            "catalogs",
            "list",
        ])
        .expect_code(2);
    assert!(
        run.error_line().contains("refusing plain-HTTP base URL"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_token_never_appears_with_vv() {
    let secret = "tok-SECRET-5f1c";
    let sandbox = Sandbox::start_with(&["--token", secret]);
    let env = Env::new();
    let base = sandbox.rastro_url();
    let runs = [
        vec!["catalogs", "list"],
        vec![
            "items",
            "list",
            "--catalog",
            "cat_demo",
            "--all",
            "--limit",
            "10",
        ],
        vec!["items", "get", "--catalog", "cat_demo", "item_1"],
        vec![
            "items",
            "update",
            "--catalog",
            "cat_demo",
            "item_1",
            "--set",
            "note=hi",
        ],
        vec!["items", "get", "--catalog", "cat_demo", "item_404"],
        vec![
            "catalogs",
            "create",
            "--name",
            "N",
            "--unique-id-field",
            "sku",
            "--field",
            "sku",
        ],
    ];
    for args in runs {
        let mut full = vec!["-p", "sandbox", "--base-url", &base, "-vv"];
        full.extend(args);
        let run = env.run_with(&full, |c| {
            c.env("CATOPS_TOKEN", secret);
        });
        assert!(
            run.code == 0 || run.code == 5,
            "{}: {}",
            run.code,
            run.stderr
        );
        assert!(
            run.stderr.contains("> authorization: ***"),
            "{}",
            run.stderr
        );
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "token leaked: {}",
            run.stderr
        );
    }
}

/// Runs `catops items list --all -o ndjson`, reading stdout as it comes. Returns the number of
/// lines, when the first arrived, when the process ended, and its peak RSS in KiB.
fn stream_list(
    env: &Env,
    sandbox: &Sandbox,
    catalog: &str,
    limit: &str,
) -> (usize, Duration, Duration, u64) {
    let base = sandbox.rastro_url();
    let mut child = env
        .command()
        .args([
            "-p",
            "sandbox",
            "--base-url",
            &base,
            "items",
            "list",
            "--catalog",
            catalog,
            "--all",
            "--limit",
            limit,
            "-o",
            "ndjson",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        // VmHWM is the process's peak so far; it vanishes once the process has exited.
        std::thread::spawn(move || {
            while let Some(kib) = peak_rss_kib(pid) {
                peak.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let started = Instant::now();
    let mut first = None;
    let mut lines = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        line.unwrap();
        first.get_or_insert_with(|| started.elapsed());
        lines += 1;
    }
    let ended = started.elapsed();
    assert!(child.wait().unwrap().success());
    sampler.join().unwrap();
    (
        lines,
        first.unwrap_or(ended),
        ended,
        peak.load(std::sync::atomic::Ordering::Relaxed),
    )
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn list_all_prints_the_first_record_before_the_last_page_is_fetched() {
    let sandbox = Sandbox::start_with(&["--latency-ms", "150"]);
    sandbox.seed_items("cat_demo", 3000);
    let env = Env::new();
    // 3025 items in pages of 250: 13 pages of at least 150 ms each.
    let (lines, first, ended, _) = stream_list(&env, &sandbox, "cat_demo", "250");
    assert_eq!(lines, 3025);
    assert!(
        ended - first >= Duration::from_millis(1200),
        "first record at {first:?}, end at {ended:?}"
    );
}

#[test]
fn list_all_memory_stays_flat_from_10k_to_100k_items() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let mut peaks = Vec::new();
    for (name, count) in [("small", 10_000), ("large", 100_000)] {
        let (status, reply) = sandbox.post(
            "/rastro/api/public/catalogs",
            &serde_json::json!({"name": name, "unique_id_field": "sku",
                                "schema_definition": {"fields": [{"name": "sku", "type": "string"}]}}),
        );
        assert_eq!(status, 201, "{reply}");
        let id = serde_json::from_str::<serde_json::Value>(&reply).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        sandbox.seed_items(&id, count);
        let (lines, _, _, peak_kb) = stream_list(&env, &sandbox, &id, "1000");
        assert_eq!(lines, count);
        eprintln!("{name}: {count} items, peak RSS {peak_kb} KiB");
        peaks.push(peak_kb);
    }
    let (small, large) = (peaks[0], peaks[1]);
    assert!(small > 0 && large > 0);
    assert!(
        large <= small + small / 5,
        "peak RSS grew from {small} KiB to {large} KiB"
    );
}

#[test]
fn the_sandbox_bulk_endpoint_upserts_by_the_unique_field_within_its_limits() {
    let sandbox = Sandbox::start();
    let path = "/rastro/api/public/catalogs/cat_demo/items/bulk";
    let body = serde_json::json!({"unique_field": "sku", "items": [
        {"sku": "NEW-1", "title": "New one"},
        {"sku": "NEW-2", "title": "New two"},
        {"sku": "DEMO-0001", "price": 1.25},
        {"title": "no sku"},
    ]});
    let (status, reply) = sandbox.post(path, &body);
    assert_eq!(status, 200, "{reply}");
    let counts: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(
        counts,
        serde_json::json!({"created": 2, "updated": 1, "failed": 1})
    );

    let env = Env::new();
    let item = env.rastro_json(
        &sandbox,
        &["items", "get", "--catalog", "cat_demo", "item_1"],
    );
    assert_eq!(item["price"], 1.25);
    assert_eq!(
        item["title"], "Acme Trail Running Shoe",
        "an upsert keeps fields it does not name"
    );

    let too_many: Vec<serde_json::Value> = (0..1001)
        .map(|n| serde_json::json!({"sku": format!("X{n}")}))
        .collect();
    let (status, reply) = sandbox.post(
        path,
        &serde_json::json!({"unique_field": "sku", "items": too_many}),
    );
    assert_eq!(status, 413, "{reply}");
    assert!(reply.contains("at most 1000 items"), "{reply}");

    let (status, _) = sandbox.post(
        path,
        &serde_json::json!({"unique_field": "title", "items": []}),
    );
    assert_eq!(status, 422);
    let (status, reply) = sandbox.post_as("wrong", path, &body);
    assert_eq!(status, 401, "{reply}");
    assert!(reply.contains("detail"), "{reply}");
}

#[test]
fn a_running_sandbox_resets_to_its_seed_over_http() {
    let sandbox = Sandbox::start();
    let bulk = "/rastro/api/public/catalogs/cat_demo/items/bulk";
    let body = serde_json::json!({"unique_field": "sku", "items": [
        {"sku": "NEW-1", "title": "New one"},
        {"sku": "DEMO-0001", "title": "Changed"},
    ]});
    assert_eq!(sandbox.post(bulk, &body).0, 200);
    let total = |sandbox: &Sandbox| {
        sandbox.inspect("/rastro/api/public/catalogs/cat_demo/items?limit=1")["total"].clone()
    };
    let seeded = total(&Sandbox::start());
    assert_ne!(total(&sandbox), seeded);

    let nothing = serde_json::json!({});
    assert_eq!(sandbox.post_as("wrong", "/_sandbox/reset", &nothing).0, 401);
    assert_eq!(sandbox.post("/_sandbox/reset", &nothing).0, 204);
    assert_eq!(total(&sandbox), seeded);
    let item = sandbox.inspect("/rastro/api/public/catalogs/cat_demo/items/item_1");
    assert_eq!(item["title"], "Acme Trail Running Shoe");
    assert!(sandbox.bulk_sizes("rastro").is_empty());
}
