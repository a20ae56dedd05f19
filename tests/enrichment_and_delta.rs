//! Enrichment and the catalogian delta feed, end to end
//! against the sandbox, and the story a user would try across them.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{product_csv, Env, Sandbox};
use serde_json::{json, Value};

fn sandbox_item(env: &Env, sandbox: &Sandbox, id: &str) -> Value {
    env.on(
        sandbox,
        "sandbox",
        &["items", "get", "--catalog", "cat_demo", id, "-o", "json"],
    )
    .ok()
    .json()
}

#[test]
fn enrich_start_wait_reaches_completed_and_fills_the_fields() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let run = env.on(
        &sandbox,
        "sandbox",
        &[
            "enrich",
            "start",
            "--catalog",
            "cat_demo",
            "--prompt",
            "Find specs",
            "--field",
            "color",
            "--field",
            "weight_kg:number:Weight in kg",
            "--speed",
            "fast",
            "--allowed-domain",
            "example.com",
            "--no-web-search",
            "--wait",
            "-o",
            "json",
        ],
    );
    let job = run.ok().json();
    assert_eq!(job["status"], "completed");
    assert_eq!(job["total_items"], 25);
    assert_eq!(
        job["completed_items"].as_u64().unwrap() + job["failed_items"].as_u64().unwrap(),
        25
    );
    let enriched: Vec<Value> = env
        .demo_items(&sandbox)
        .into_iter()
        .filter(|i| i.get("color").is_some())
        .collect();
    assert_eq!(
        enriched.len() as u64,
        job["completed_items"].as_u64().unwrap()
    );
    for item in &enriched {
        assert_eq!(
            item["color"],
            format!("color for {}", item["sku"].as_str().unwrap())
        );
        assert!(item["weight_kg"].is_number(), "{item}");
    }

    let job_id = job["job_id"].as_str().unwrap();
    let status = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "enrich",
                "status",
                "--catalog",
                "cat_demo",
                job_id,
                "-o",
                "json",
            ],
        )
        .ok()
        .json();
    assert_eq!(status["status"], "completed");
    env.on(
        &sandbox,
        "sandbox",
        &["enrich", "status", "--catalog", "cat_demo", "job_nope"],
    )
    .expect_code(5);
}

#[test]
fn enrich_cancel_keeps_what_was_done_and_wait_on_it_exits_1() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("p.csv", &product_csv(3_000));
    env.on(
        &sandbox,
        "sandbox",
        &["bulk", "upsert", "p.csv", "--catalog", "cat_demo"],
    )
    .ok();
    let job = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "enrich",
                "start",
                "--catalog",
                "cat_demo",
                "--prompt",
                "p",
                "--field",
                "material",
                "--speed",
                "slow",
                "-o",
                "json",
            ],
        )
        .ok()
        .json();
    let job_id = job["job_id"].as_str().unwrap().to_string();
    assert_eq!(job["status"], "running");
    std::thread::sleep(Duration::from_millis(300));
    let cancelled = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "enrich",
                "cancel",
                "--catalog",
                "cat_demo",
                &job_id,
                "-o",
                "json",
            ],
        )
        .ok()
        .json();
    assert_eq!(cancelled["status"], "cancelled");
    let done = cancelled["completed_items"].as_u64().unwrap();
    assert!(done > 0 && done < 3_025, "{cancelled}");
    let items = env.demo_items(&sandbox);
    let enriched = items.iter().filter(|i| i.get("material").is_some()).count() as u64;
    assert_eq!(
        enriched, done,
        "items done before the cancel keep their data, no more"
    );
    assert!(sandbox_item(&env, &sandbox, "item_3000")
        .get("material")
        .is_none());

    let run = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "enrich",
                "status",
                "--catalog",
                "cat_demo",
                &job_id,
                "--wait",
                "-o",
                "json",
            ],
        )
        .expect_code(1);
    assert_eq!(run.json()["status"], "cancelled");
    assert!(
        run.error_line().contains("ended cancelled"),
        "{}",
        run.stderr
    );
}

#[test]
fn enrich_wait_interrupted_leaves_the_job_running_and_prints_the_cancel_command() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("p.csv", &product_csv(3_000));
    env.on(
        &sandbox,
        "sandbox",
        &["bulk", "upsert", "p.csv", "--catalog", "cat_demo"],
    )
    .ok();
    let base = format!("{}/rastro/api", sandbox.root);
    let child = env
        .command()
        .args([
            "-p",
            "sandbox",
            "--base-url",
            &base,
            "enrich",
            "start",
            "--catalog",
            "cat_demo",
            "--prompt",
            "p",
            "--field",
            "x",
            "--speed",
            "slow",
            "--wait",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    let cancel = stderr
        .lines()
        .find_map(|l| l.strip_prefix("hint: cancel it with: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        cancel.contains("enrich cancel --catalog cat_demo job_"),
        "{cancel}"
    );
    let job_id = cancel.rsplit(' ').next().unwrap();
    let status = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "enrich",
                "status",
                "--catalog",
                "cat_demo",
                job_id,
                "-o",
                "json",
            ],
        )
        .ok()
        .json();
    assert_eq!(status["status"], "running", "Ctrl-C leaves the job running");
}

#[test]
fn delta_list_follows_cursors_over_three_pages_and_a_cursor_file_resumes() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    for n in 0..5 {
        env.on(
            &sandbox,
            "sandbox",
            &[
                "items",
                "update",
                "--catalog",
                "cat_demo",
                "item_1",
                "--set",
                &format!("note=v{n}"),
            ],
        )
        .ok();
    }
    let run = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &[
                "delta", "list", "--all", "--limit", "2", "-o", "ndjson", "-v",
            ],
        )
        .ok();
    let events = run.ndjson();
    assert_eq!(events.len(), 5);
    assert!(events
        .iter()
        .all(|e| e["changedKeys"] == json!(["DEMO-0001"])));
    let pages = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("GET ") && l.contains("/delta"))
        .count();
    assert_eq!(pages, 3, "{}", run.stderr);
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "oldest first");

    // One page per run, each run picking up where the previous stopped.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let page = env
            .on(
                &sandbox,
                "sandbox-catalogian",
                &[
                    "delta",
                    "list",
                    "demo-feed",
                    "--limit",
                    "2",
                    "--cursor-file",
                    "cursor",
                    "-o",
                    "ndjson",
                ],
            )
            .ok()
            .ndjson();
        seen.extend(page.iter().map(|e| e["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(
        seen, ids,
        "the cursor file resumes exactly where the last page ended"
    );

    env.on(
        &sandbox,
        "sandbox-catalogian",
        &["delta", "list", "--limit", "201"],
    )
    .expect_code(2);
    env.on(
        &sandbox,
        "sandbox-catalogian",
        &["delta", "list", "--keys-limit", "1001"],
    )
    .expect_code(2);
}

#[test]
fn delta_rows_needs_read_rows_scope() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.on(
        &sandbox,
        "sandbox",
        &[
            "items",
            "update",
            "--catalog",
            "cat_demo",
            "item_2",
            "--set",
            "title=New",
        ],
    )
    .ok();
    let latest = env
        .on_with(
            &sandbox,
            "sandbox-catalogian",
            &["delta", "latest", "-o", "json"],
            |c| {
                c.env("CATOPS_TOKEN", "sandbox-readonly");
            },
        )
        .ok()
        .json();
    let event = latest["id"].as_str().unwrap();
    let run = env
        .on_with(
            &sandbox,
            "sandbox-catalogian",
            &["delta", "rows", event],
            |c| {
                c.env("CATOPS_TOKEN", "sandbox-readonly");
            },
        )
        .expect_code(4);
    assert!(run.error_line().contains("403"), "{}", run.stderr);
    assert!(
        run.stderr.contains("hint:") && run.stderr.contains("read:rows"),
        "{}",
        run.stderr
    );
}

fn update_item(env: &Env, sandbox: &Sandbox, id: &str, set: &str) {
    env.on(
        sandbox,
        "sandbox",
        &["items", "update", "--catalog", "cat_demo", id, "--set", set],
    )
    .ok();
}

fn key_of(row: &Value) -> String {
    row["row_key"].as_str().unwrap().to_string()
}

#[test]
fn delta_snapshots_lists_the_seed_and_each_change_newest_first_page_by_page() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    update_item(&env, &sandbox, "item_1", "note=one");
    update_item(&env, &sandbox, "item_2", "note=two");
    let all = env
        .on(&sandbox, "sandbox-catalogian", &["delta", "snapshots"])
        .ok()
        .json();
    let all = all.as_array().unwrap().clone();
    assert_eq!(all.len(), 3, "the seed and one per event: {all:?}");
    assert!(all.iter().all(|s| s["totalRows"] == 25));
    let latest = env
        .on(&sandbox, "sandbox-catalogian", &["delta", "latest"])
        .ok()
        .json();
    assert_eq!(all[0]["createdAt"], latest["detectedAt"], "newest first");

    let run = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &[
                "delta",
                "snapshots",
                "demo-feed",
                "--limit",
                "1",
                "--all",
                "-v",
            ],
        )
        .ok();
    assert_eq!(run.json().as_array().unwrap(), &all);
    let pages = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("GET ") && l.contains("/snapshots?limit=1"))
        .count();
    assert_eq!(pages, 3, "{}", run.stderr);

    // One page per run, each picking up where the last stopped.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let page = env
            .on(
                &sandbox,
                "sandbox-catalogian",
                &[
                    "delta",
                    "snapshots",
                    "--limit",
                    "1",
                    "--cursor-file",
                    "snap.cursor",
                ],
            )
            .ok()
            .json();
        seen.extend(page.as_array().unwrap().iter().cloned());
    }
    assert_eq!(seen, all);
    env.on(
        &sandbox,
        "sandbox-catalogian",
        &["delta", "snapshots", "--limit", "101"],
    )
    .expect_code(2);
}

#[test]
fn delta_snapshot_rows_searches_the_current_snapshot_and_resumes_from_a_cursor_file() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    update_item(&env, &sandbox, "item_3", "brand=Zeta");
    let catalogian = |args: &[&str]| -> Vec<Value> {
        let mut full = vec!["delta", "snapshot-rows"];
        full.extend_from_slice(args);
        let run = env.on(&sandbox, "sandbox-catalogian", &full).ok();
        run.json().as_array().unwrap().clone()
    };
    let rows = catalogian(&["--all", "--limit", "7"]);
    assert_eq!(rows.len(), 25);
    assert_eq!(rows[2]["row_data"]["brand"], "Zeta", "the current snapshot");
    let outdoor = catalogian(&["--search", "outdoor", "--all", "--limit", "3"]);
    assert_eq!(outdoor.len(), 10);
    let zeta = catalogian(&["demo-feed", "--search", "zeta", "--field", "brand"]);
    assert_eq!(zeta.iter().map(key_of).collect::<Vec<_>>(), ["DEMO-0003"]);
    assert!(catalogian(&["--search", "zeta", "--field", "title"]).is_empty());
    let first = catalogian(&["--limit", "10"]);
    assert_eq!(first, rows[..10], "without --all, one page");

    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.extend(catalogian(&[
            "--limit",
            "10",
            "--cursor-file",
            "rows.cursor",
        ]));
    }
    assert_eq!(
        seen, rows,
        "the cursor file resumes where the last page ended"
    );

    let run = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &["delta", "snapshot-rows", "--field", "brand"],
        )
        .expect_code(2);
    assert!(run.stderr.contains("--search"), "{}", run.stderr);
    env.on(
        &sandbox,
        "sandbox-catalogian",
        &["delta", "snapshot-rows", "--limit", "201"],
    )
    .expect_code(2);
    let run = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &["delta", "snapshot-rows", "nope"],
        )
        .expect_code(5);
    assert!(run.error_line().contains("404"), "{}", run.stderr);
}

/// The docs' own example: a source-scoped key, the slug, and no read:rows scope needed.
#[test]
fn delta_snapshot_rows_work_with_a_source_key_and_a_readonly_key() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    for key in ["cat_src_demo", "sandbox-readonly"] {
        let rows = env
            .on_with(
                &sandbox,
                "sandbox-catalogian",
                &["delta", "snapshot-rows", "--search", "acme", "-o", "ndjson"],
                |c| {
                    c.env("CATOPS_TOKEN", key);
                },
            )
            .ok()
            .ndjson();
        assert_eq!(rows.len(), 5, "{key}");
    }
    env.on(&sandbox, "sandbox", &["delta", "snapshots"])
        .expect_code(2);
}

#[test]
fn delta_watch_prints_each_new_event_once_until_interrupted() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.on(
        &sandbox,
        "sandbox",
        &[
            "items",
            "update",
            "--catalog",
            "cat_demo",
            "item_1",
            "--set",
            "note=before",
        ],
    )
    .ok();
    let base = format!("{}/catalogian", sandbox.root);
    let mut child = env
        .command()
        .args([
            "-p",
            "sandbox-catalogian",
            "--base-url",
            &base,
            "delta",
            "watch",
            "--interval",
            "0.2",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    env.on(
        &sandbox,
        "sandbox",
        &[
            "items",
            "update",
            "--catalog",
            "cat_demo",
            "item_2",
            "--set",
            "note=one",
        ],
    )
    .ok();
    env.on(
        &sandbox,
        "sandbox",
        &[
            "items",
            "update",
            "--catalog",
            "cat_demo",
            "item_3",
            "--set",
            "note=two",
        ],
    )
    .ok();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut events = Vec::new();
    let started = Instant::now();
    while events.len() < 2 && started.elapsed() < Duration::from_secs(10) {
        let line = lines.next().unwrap().unwrap();
        events.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        events[0]["changedKeys"],
        json!(["DEMO-0002"]),
        "the event from before the watch is not printed"
    );
    assert_eq!(events[1]["changedKeys"], json!(["DEMO-0003"]));
    assert!(rest.is_empty(), "each event once: {rest:?}");
}

#[test]
fn story_import_a_csv_see_its_delta_read_its_rows_enrich_and_see_the_fields() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write(
        "new.csv",
        "sku,title,price:number\nNEW-1,Lamp,30\nNEW-2,Rug,99.5\nDEMO-0001,Renamed shoe,9.99\n",
    );
    env.on(
        &sandbox,
        "sandbox",
        &["bulk", "upsert", "new.csv", "--catalog", "cat_demo"],
    )
    .ok();

    let sources = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &["delta", "sources", "-o", "json"],
        )
        .ok()
        .json();
    assert_eq!(sources[0]["id"], "src_demo");
    let event = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &["delta", "latest", "-o", "json"],
        )
        .ok()
        .json();
    assert_eq!(event["newKeys"], json!(["NEW-1", "NEW-2"]));
    assert_eq!(event["changedKeys"], json!(["DEMO-0001"]));
    assert_eq!(
        (event["newCount"].clone(), event["changedCount"].clone()),
        (json!(2), json!(1))
    );

    let id = event["id"].as_str().unwrap();
    let rows = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &["delta", "rows", "demo-feed", id, "--all", "-o", "json"],
        )
        .ok()
        .json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let renamed = rows.iter().find(|r| r["key"] == "DEMO-0001").unwrap();
    assert_eq!(renamed["changeType"], "changed");
    assert_eq!(renamed["before"]["title"], "Acme Trail Running Shoe");
    assert_eq!(renamed["after"]["title"], "Renamed shoe");
    let new_only = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &["delta", "rows", id, "--change-type", "new", "-o", "ndjson"],
        )
        .ok()
        .ndjson();
    assert_eq!(new_only.len(), 2);
    assert!(new_only.iter().all(|r| r["before"].is_null()));

    let job = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "enrich",
                "start",
                "--catalog",
                "cat_demo",
                "--prompt",
                "Find the material",
                "--field",
                "material",
                "--speed",
                "fast",
                "--wait",
                "-o",
                "json",
            ],
        )
        .ok()
        .json();
    assert_eq!(job["status"], "completed");
    let items = env.demo_items(&sandbox);
    let lamp = items.iter().find(|i| i["sku"] == "NEW-1").unwrap();
    assert!(
        lamp["material"] == "material for NEW-1" || job["failed_items"].as_u64().unwrap() > 0,
        "{lamp}"
    );
    let enriched = items.iter().filter(|i| i.get("material").is_some()).count() as u64;
    assert_eq!(enriched, job["completed_items"].as_u64().unwrap());
}
