//! `bulk sync` end to end (issue 17): only new and changed rows reach the sandbox, the state
//! follows what the vendor accepted, deletions are guarded, and a state is one catalog's.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{product_csv, Env, Sandbox};

fn sync(env: &Env, sandbox: &Sandbox, profile: &str, args: &[&str]) -> common::Run {
    let mut full = vec!["bulk", "sync"];
    full.extend_from_slice(args);
    full.extend(["-o", "json", "--no-progress"]);
    env.on_with(sandbox, profile, &full, |cmd| {
        cmd.stdin(Stdio::null());
    })
}

/// `product_csv(rows)` with the title of every `every`-th row changed.
fn with_changed_titles(rows: usize, every: usize) -> String {
    product_csv(rows)
        .lines()
        .enumerate()
        .map(|(i, line)| match i {
            i if i > 0 && (i - 1) % every == 0 => {
                line.replacen(&format!("Product {}", i - 1), "Renamed", 1)
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn sent(sandbox: &Sandbox, vendor: &str) -> u64 {
    sandbox.bulk_sizes(vendor).iter().sum()
}

#[test]
fn a_second_sync_sends_exactly_the_changed_rows() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("p.csv", &product_csv(10_000));
    let first = sync(
        &env,
        &sandbox,
        "sandbox",
        &["p.csv", "--catalog", "cat_demo"],
    )
    .ok()
    .json();
    assert_eq!(first["accepted"], 10_000);
    assert_eq!(
        (first["unchanged"].as_u64(), first["deleted"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(sent(&sandbox, "rastro"), 10_000);
    let states = env.home.path().join(".local/share/catops/sync");
    let names: Vec<String> = std::fs::read_dir(&states)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("sandbox-cat_demo-") && n.ends_with(".sqlite3")),
        "{names:?}"
    );

    // 1% of the rows change: exactly those go, and the dry run said so first.
    env.write("p.csv", &with_changed_titles(10_000, 100));
    let plan = sync(
        &env,
        &sandbox,
        "sandbox",
        &["p.csv", "--catalog", "cat_demo", "--dry-run"],
    )
    .ok()
    .json();
    assert_eq!(
        (plan["new"].as_u64(), plan["changed"].as_u64()),
        (Some(0), Some(100))
    );
    assert_eq!(plan["unchanged"], 9_900);
    assert_eq!(sent(&sandbox, "rastro"), 10_000, "a dry run sends nothing");
    let second = sync(
        &env,
        &sandbox,
        "sandbox",
        &["p.csv", "--catalog", "cat_demo"],
    )
    .ok()
    .json();
    assert_eq!(second["rows_read"], 10_000);
    assert_eq!(second["rows_sent"], 100);
    assert_eq!(second["accepted"], 100);
    assert_eq!(second["unchanged"], 9_900);
    assert_eq!(sent(&sandbox, "rastro"), 10_100);
    let item = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--all",
                "-o",
                "ndjson",
            ],
        )
        .ok()
        .ndjson()
        .into_iter()
        .find(|item| item["sku"] == "P-0000200")
        .unwrap();
    assert_eq!(item["title"], "Renamed");

    // Nothing changed since: nothing goes. --full sends it all again.
    let third = sync(
        &env,
        &sandbox,
        "sandbox",
        &["p.csv", "--catalog", "cat_demo"],
    )
    .ok()
    .json();
    assert_eq!(
        (third["rows_sent"].as_u64(), third["requests"].as_u64()),
        (Some(0), Some(0))
    );
    let full = sync(
        &env,
        &sandbox,
        "sandbox",
        &["p.csv", "--catalog", "cat_demo", "--full"],
    )
    .ok()
    .json();
    assert_eq!(full["accepted"], 10_000);
}

#[test]
fn deletions_are_guarded_confirmed_and_leave_the_state() {
    let sandbox = Sandbox::start_with(&["--rate-limits", "off"]);
    let env = Env::new();
    let feed = |ids: std::ops::Range<u32>, b1_title: &str| {
        let mut csv = String::from("id,title,brand\n");
        for n in ids {
            let title = if n == 1 {
                b1_title.to_string()
            } else {
                format!("Item {n}")
            };
            csv.push_str(&format!("b{n},{title},Acme\n"));
        }
        csv
    };
    env.write("all.csv", &feed(0..100, "Item 1"));
    let batch = |args: &[&str]| {
        let mut full = args.to_vec();
        full.extend(["--catalog", "demo"]);
        sync(&env, &sandbox, "sandbox-batch", &full)
    };
    batch(&["all.csv"]).ok();
    let stored = || sandbox.inspect("/batch/2.11/_sandbox/catalogs/demo/items");
    assert_eq!(stored().as_array().unwrap().len(), 100);
    let requests = sandbox.bulk_sizes("batch").len();

    // 20 of 100 missing: over the default 10%, the whole run is refused before any request,
    // even the row that changed.
    env.write("cut.csv", &feed(0..80, ""));
    let refused = batch(&["cut.csv", "--delete-missing", "--yes"]).expect_code(2);
    let error = refused.error_line();
    assert!(error.contains("20 of the 100"), "{error}");
    assert!(error.contains("--max-delete 10%"), "{error}");
    assert_eq!(
        sandbox.bulk_sizes("batch").len(),
        requests,
        "nothing was sent"
    );

    // Within the guard, stdin not a terminal: --yes is needed.
    let unasked = batch(&["cut.csv", "--delete-missing", "--max-delete", "20"]).expect_code(2);
    assert!(unasked.error_line().contains("--yes"), "{}", unasked.stderr);
    assert_eq!(sandbox.bulk_sizes("batch").len(), requests);

    let plan = batch(&[
        "cut.csv",
        "--delete-missing",
        "--max-delete",
        "20%",
        "--dry-run",
    ])
    .ok()
    .json();
    assert_eq!(plan["to_delete"], 20);
    assert_eq!(plan["keys_to_delete"][0], "b80");
    assert_eq!(plan["changed"], 1);

    let done = batch(&["cut.csv", "--delete-missing", "--max-delete", "20", "--yes"])
        .ok()
        .json();
    assert_eq!(done["deleted"], 20);
    assert_eq!(done["rows_sent"], 1, "only b1 changed");
    let items = stored();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 80);
    let b1 = items.iter().find(|i| i["id"] == "b1").unwrap();
    assert!(
        b1["attributes"].get("title").is_none(),
        "the title gone from the row was sent as null, so batch dropped it: {b1}"
    );
    assert_eq!(b1["attributes"]["brand"], "Acme");

    // The deleted keys left the state: nothing more to delete.
    let again = batch(&["cut.csv", "--delete-missing", "--yes"]).ok().json();
    assert_eq!(
        (again["deleted"].as_u64(), again["rows_sent"].as_u64()),
        (Some(0), Some(0))
    );

    // Elsewhere --delete-missing is refused, naming who can.
    env.write("p.csv", &product_csv(3));
    let rastro = sync(
        &env,
        &sandbox,
        "sandbox",
        &[
            "p.csv",
            "--catalog",
            "cat_demo",
            "--delete-missing",
            "--yes",
        ],
    )
    .expect_code(2);
    assert!(rastro.error_line().contains("(batch)"), "{}", rastro.stderr);
}

#[test]
fn an_interrupted_sync_run_again_sends_only_what_was_not_accepted_and_none_runs_alongside() {
    let sandbox = Sandbox::start_with(&["--latency-ms", "40"]);
    let env = Env::new();
    env.write("p.csv", &product_csv(20_000));
    let base = format!("{}/rastro/api", sandbox.root);
    let mut child = env
        .command()
        .args([
            "-p",
            "sandbox",
            "--base-url",
            &base,
            "bulk",
            "sync",
            "p.csv",
        ])
        .args([
            "--catalog",
            "cat_demo",
            "--batch-size",
            "250",
            "--concurrency",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sandbox.bulk_sizes("rastro").len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // A second sync of the catalog meanwhile is refused, dry run or not.
    for extra in [None, Some("--dry-run")] {
        let mut args = vec!["p.csv", "--catalog", "cat_demo"];
        args.extend(extra);
        let second = sync(&env, &sandbox, "sandbox", &args).expect_code(2);
        assert!(
            second
                .error_line()
                .contains("another `bulk sync` of this catalog is running"),
            "{}",
            second.error_line()
        );
    }
    child.kill().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    child.wait().unwrap();
    let before = sent(&sandbox, "rastro");
    assert!(before < 20_000, "the kill landed mid-sync: {before}");

    let rerun = sync(
        &env,
        &sandbox,
        "sandbox",
        &["p.csv", "--catalog", "cat_demo"],
    )
    .ok()
    .json();
    let unchanged = rerun["unchanged"].as_u64().unwrap();
    assert!(
        unchanged > 0,
        "what was accepted is not sent again: {rerun}"
    );
    assert!(
        unchanged <= before,
        "only accepted items are in the state: {rerun}"
    );
    assert_eq!(unchanged + rerun["accepted"].as_u64().unwrap(), 20_000);
    let items = env.demo_items(&sandbox);
    assert_eq!(items.len(), 20_025, "25 demo items and every row");
}

#[test]
fn a_state_of_another_catalog_or_profile_is_refused() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("p.csv", &product_csv(5));
    let state = env.home.path().join("ci-cache/feed.sqlite3");
    let state = state.to_str().unwrap();
    sync(
        &env,
        &sandbox,
        "sandbox",
        &["p.csv", "--catalog", "cat_demo", "--state", state],
    )
    .ok();
    assert!(std::path::Path::new(state).exists());
    let other = "cat_other";
    let requests = sandbox.bulk_sizes("rastro").len();
    let refused = sync(
        &env,
        &sandbox,
        "sandbox",
        &["p.csv", "--catalog", other, "--state", state],
    )
    .expect_code(2);
    let error = refused.error_line();
    assert!(error.contains("catalog 'cat_demo'"), "{error}");
    assert!(
        !error.contains("profile"),
        "only what differs is named: {error}"
    );
    env.write("b.csv", "id,title\nb1,One\n");
    let batch = sync(
        &env,
        &sandbox,
        "sandbox-batch",
        &["b.csv", "--catalog", "demo", "--state", state],
    )
    .expect_code(2);
    let error = batch.error_line();
    assert!(
        error.contains("vendor 'rastro'") && error.contains("profile 'sandbox'"),
        "{error}"
    );
    assert_eq!(
        sandbox.bulk_sizes("rastro").len(),
        requests,
        "nothing was sent"
    );
    assert!(sandbox.bulk_sizes("batch").is_empty());
    let catalogian = sync(
        &env,
        &sandbox,
        "sandbox-catalogian",
        &["p.csv", "--catalog", "x"],
    )
    .expect_code(2);
    assert!(
        catalogian
            .error_line()
            .contains("`bulk sync` is not available for catalogian"),
        "{}",
        catalogian.stderr
    );
}

#[test]
fn a_remote_baseline_matches_items_imported_otherwise() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("p.csv", &product_csv(1_500));
    env.on(
        &sandbox,
        "sandbox",
        &[
            "bulk",
            "upsert",
            "p.csv",
            "--catalog",
            "cat_demo",
            "-o",
            "json",
        ],
    )
    .ok();
    let imported = sent(&sandbox, "rastro");
    env.write("p.csv", &with_changed_titles(1_500, 500));
    let first = sync(
        &env,
        &sandbox,
        "sandbox",
        &["p.csv", "--catalog", "cat_demo", "--baseline", "remote"],
    )
    .ok();
    let summary = first.json();
    assert_eq!(summary["unchanged"], 1_497, "{}", first.stderr);
    assert_eq!(summary["rows_sent"], 3);
    assert_eq!(sent(&sandbox, "rastro"), imported + 3);
    assert!(
        first.stderr.contains("baseline: 1525 items"),
        "{}",
        first.stderr
    );

    let batch = sync(
        &env,
        &sandbox,
        "sandbox-batch",
        &["p.csv", "--catalog", "demo", "--baseline", "remote"],
    )
    .expect_code(2);
    assert!(batch.error_line().contains("rastro"), "{}", batch.stderr);
}
