//! Bulk imports end to end: the real binary streaming files into the sandbox over HTTP.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{product_csv, Env, Sandbox};
use serde_json::{json, Value};

/// Every cat_demo item, by sku.
fn demo_items(env: &Env, sandbox: &Sandbox) -> std::collections::HashMap<String, Value> {
    env.demo_items(sandbox)
        .into_iter()
        .map(|item| (item["sku"].as_str().unwrap().to_string(), item))
        .collect()
}

#[test]
fn bulk_upsert_types_csv_values_and_rejects_bad_rows_with_row_and_line() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write(
        "products.csv",
        "sku,title,price:number,tags:array,barcode\n\
         A-1,Trail shoe,89.5,run|trail,00123\n\
         A-2,Sock,cheap,wool,1\n\
         ,No sku,3,x,2\n\
         A-4,Hat,19,,000\n",
    );
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &["bulk", "upsert", "products.csv", "--catalog", "cat_demo"],
        )
        .expect_code(3);
    let summary = run.json();
    assert_eq!(summary["rows_read"], 4);
    assert_eq!(summary["accepted"], 2);
    assert_eq!(summary["created"], 2);
    assert_eq!(summary["rejected"], 2);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["rejects_file"], "products.rejects.ndjson");

    let rejected = env.rejects("products.rejects.ndjson");
    assert_eq!(rejected.len(), 2);
    assert_eq!(
        (rejected[0]["row"].clone(), rejected[0]["line"].clone()),
        (json!(2), json!(3))
    );
    assert!(rejected[0]["error"]
        .as_str()
        .unwrap()
        .contains("'cheap' is not a number"));
    assert_eq!(rejected[0]["record"]["sku"], "A-2");
    assert_eq!(
        (rejected[1]["row"].clone(), rejected[1]["line"].clone()),
        (json!(3), json!(4))
    );
    assert!(rejected[1]["error"]
        .as_str()
        .unwrap()
        .contains("unique field sku is missing"));

    let items = demo_items(&env, &sandbox);
    assert_eq!(items["A-1"]["price"], 89.5);
    assert_eq!(items["A-1"]["tags"], json!(["run", "trail"]));
    assert_eq!(
        items["A-1"]["barcode"], "00123",
        "no guessing: 00123 stays a string"
    );
    assert!(
        items["A-4"].get("tags").is_none(),
        "an empty cell is omitted"
    );
    assert!(!items.contains_key("A-2"));
}

#[test]
fn bulk_upsert_sends_chunks_of_the_batch_size_and_every_row_arrives() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("big.csv", &product_csv(10_000));
    let summary = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "bulk",
                "upsert",
                "big.csv",
                "--catalog",
                "cat_demo",
                "--batch-size",
                "400",
            ],
        )
        .ok()
        .json();
    assert_eq!(summary["accepted"], 10_000);
    assert_eq!(summary["requests"], 25);
    assert_eq!(sandbox.bulk_sizes("rastro"), vec![400; 25]);
    let items = demo_items(&env, &sandbox);
    assert_eq!(items.len(), 10_025);
    assert_eq!(items["P-0009999"]["price"], 499.99);
    assert_eq!(items["P-0000042"]["brand"], "Brand 0");

    // The same file again updates, creating nothing.
    let again = env
        .on(
            &sandbox,
            "sandbox",
            &["bulk", "upsert", "big.csv", "--catalog", "cat_demo"],
        )
        .ok()
        .json();
    assert_eq!(
        (again["created"].clone(), again["updated"].clone()),
        (json!(0), json!(10_000))
    );
    assert_eq!(
        again["requests"], 10,
        "the default batch is rastro's maximum, 1000"
    );
}

#[test]
fn bulk_upsert_splits_a_refused_chunk_to_isolate_the_bad_row() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let mut ndjson = String::new();
    for n in 1..=8 {
        // cat_demo's schema says price is a number; the sandbox refuses the whole request.
        let price = if n == 5 { json!("abc") } else { json!(n) };
        ndjson.push_str(&format!(
            "{}\n",
            json!({"sku": format!("S-{n}"), "price": price})
        ));
    }
    env.write("rows.ndjson", &ndjson);
    let summary = env
        .on(
            &sandbox,
            "sandbox",
            &["bulk", "upsert", "rows.ndjson", "--catalog", "cat_demo"],
        )
        .expect_code(3)
        .json();
    assert_eq!(summary["accepted"], 7);
    assert_eq!(summary["rejected"], 1);
    let rejected = env.rejects("rows.rejects.ndjson");
    assert_eq!(rejected[0]["row"], 5);
    assert_eq!(rejected[0]["line"], 5);
    let error = rejected[0]["error"].as_str().unwrap();
    assert!(
        error.contains("422") && error.contains("field price must be of type number"),
        "{error}"
    );
    let mut sizes = sandbox.bulk_sizes("rastro");
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 1, 2, 2, 4, 4, 8], "8 → 4+4 → 2+2 → 1+1");
    let items = demo_items(&env, &sandbox);
    assert!(items.contains_key("S-4") && items.contains_key("S-6") && !items.contains_key("S-5"));
}

#[test]
fn bulk_upsert_reads_json_arrays_ndjson_and_stdin() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write(
        "items.json",
        r#"[{"sku": "J-1", "price": 1, "dims": {"w": 2}}, {"sku": "J-2", "price": 2.5}]"#,
    );
    let summary = env
        .on(
            &sandbox,
            "sandbox",
            &["bulk", "upsert", "items.json", "--catalog", "cat_demo"],
        )
        .ok()
        .json();
    assert_eq!(summary["accepted"], 2);

    let base = format!("{}/rastro/api", sandbox.root);
    for (format, input) in [
        (
            "ndjson",
            "{\"sku\":\"N-1\",\"price\":3}\n{\"sku\":\"N-2\",\"price\":4}\n",
        ),
        ("csv", "sku,price:number\nC-1,5\nC-2,6\n"),
    ] {
        let mut cmd = env.command();
        cmd.args([
            "-p",
            "sandbox",
            "--base-url",
            &base,
            "bulk",
            "upsert",
            "-",
            "--catalog",
            "cat_demo",
            "--format",
            format,
        ]);
        let output = assert_cmd::Command::from_std(cmd)
            .write_stdin(input)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(summary["accepted"], 2, "{format}");
    }
    let items = demo_items(&env, &sandbox);
    assert_eq!(items["J-1"]["dims"], json!({"w": 2}));
    assert_eq!(items["N-2"]["price"], 4);
    assert_eq!(items["C-2"]["price"], 6);
}

#[test]
fn bulk_upsert_retries_500s_429s_and_dropped_connections_and_loses_nothing() {
    let sandbox = Sandbox::start_with(&["--faults", "500=0.15,429=0.05,reset=0.05,seed=7"]);
    let env = Env::new();
    env.write("p.csv", &product_csv(3_000));
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "cat_demo",
                "--batch-size",
                "100",
                "--max-retries",
                "10",
            ],
        )
        .ok();
    let summary = run.json();
    assert_eq!(summary["accepted"], 3_000);
    assert!(summary["retries"].as_u64().unwrap() > 0, "{summary}");
    assert!(
        run.stderr.contains("rate limiting (429); lowering to"),
        "a 429 lowers the rate for the rest of the run: {}",
        run.stderr
    );
    assert_eq!(demo_items(&env, &sandbox).len(), 3_025);
}

#[test]
fn dry_run_validates_and_plans_without_a_request() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("p.csv", "sku,price:number\nD-1,1\nD-2,x\nD-3,3\n");
    let run = env
        .on(
            &sandbox,
            "sandbox-batch",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "demo",
                "--id-field",
                "sku",
                "--dry-run",
            ],
        )
        .expect_code(3);
    let plan = run.json();
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["rows_valid"], 2);
    assert_eq!(plan["rejected"], 1);
    assert_eq!(plan["requests"], 1);
    assert!(sandbox.bulk_sizes("batch").is_empty(), "nothing was sent");
    assert_eq!(env.rejects("p.rejects.ndjson").len(), 1);
}

#[test]
fn a_refused_token_stops_the_import_with_exit_4() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("p.csv", &product_csv(50_000));
    let run = env
        .on_with(
            &sandbox,
            "sandbox",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "cat_demo",
                "--concurrency",
                "1",
            ],
            |c| {
                c.env("CATOPS_TOKEN", "wrong");
            },
        )
        .expect_code(4);
    assert!(
        run.error_line().contains("401 Unauthorized"),
        "{}",
        run.stderr
    );
    let summary = run.json();
    assert_eq!(summary["accepted"], 0);
    // Every row read is in exactly one count: the refused chunks' rows failed (and are in the
    // rejects file), the rest were not sent; the resume command says how to send them.
    let n = |key: &str| summary[key].as_u64().unwrap();
    assert_eq!(
        n("accepted")
            + n("failed")
            + n("rejected")
            + n("unconfirmed")
            + n("not_sent")
            + n("skipped"),
        n("rows_read"),
        "{summary}"
    );
    assert!(n("rows_read") < 50_000, "the run stopped early: {summary}");
    assert_eq!(
        env.rejects("p.rejects.ndjson").len() as u64,
        n("failed") + n("rejected")
    );
    assert!(
        run.stderr.contains("hint: no --journal was given"),
        "{}",
        run.stderr
    );
}

#[test]
fn batch_size_over_the_vendor_limit_is_a_usage_error() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("p.csv", &product_csv(3));
    let run = env
        .on(
            &sandbox,
            "sandbox-batch",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "demo",
                "--batch-size",
                "201",
            ],
        )
        .expect_code(2);
    assert!(run.error_line().contains("limit of 200"), "{}", run.stderr);
    assert!(sandbox.bulk_sizes("batch").is_empty());
}

#[test]
fn batch_upsert_maps_flat_rows_validates_them_and_remove_deletes() {
    let sandbox = Sandbox::start_with(&["--rate-limits", "off"]);
    let env = Env::new();
    let mut csv = String::from("id,title,url(image),date(since):integer,tags:array\n");
    for n in 0..450 {
        csv.push_str(&format!(
            "b{n},Item {n},https://cdn.example/{n}.png,1700000000,a|b\n"
        ));
    }
    csv.push_str("bad,Bad,not a url,1,x\n");
    csv.push_str(&format!(
        "long,Long,https://x.example/l.png,1,{}\n",
        vec!["t"; 16].join("|")
    ));
    env.write("b.csv", &csv);
    let summary = env
        .on(
            &sandbox,
            "sandbox-batch",
            &["bulk", "upsert", "b.csv", "--catalog", "demo"],
        )
        .expect_code(3)
        .json();
    assert_eq!(summary["accepted"], 450);
    assert_eq!(summary["rejected"], 2);
    assert_eq!(
        summary["created"],
        Value::Null,
        "batch does not report counts"
    );
    let mut sizes = sandbox.bulk_sizes("batch");
    sizes.sort_unstable();
    assert_eq!(
        sizes,
        [50, 200, 200],
        "requests run concurrently, so in any order"
    );
    let rejected = env.rejects("b.rejects.ndjson");
    assert!(rejected[0]["error"]
        .as_str()
        .unwrap()
        .contains("url(image)"));
    assert!(rejected[1]["error"]
        .as_str()
        .unwrap()
        .contains("at most 15"));
    let stored = sandbox.inspect("/batch/2.11/_sandbox/catalogs/demo/items");
    assert_eq!(stored.as_array().unwrap().len(), 450);
    let b7 = stored
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "b7")
        .unwrap();
    assert_eq!(
        b7["attributes"],
        json!({"title": "Item 7", "url(image)": "https://cdn.example/7.png", "date(since)": 1700000000, "tags": ["a", "b"]})
    );

    env.write("gone.csv", "id\nb1\nb2\nb3\n");
    env.on(
        &sandbox,
        "sandbox-batch",
        &["bulk", "remove", "gone.csv", "--catalog", "demo"],
    )
    .ok();
    let stored = sandbox.inspect("/batch/2.11/_sandbox/catalogs/demo/items");
    assert_eq!(stored.as_array().unwrap().len(), 447);
}

#[test]
fn batch_default_rate_limits_keep_clear_of_the_sandboxs_429s() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let mut csv = String::from("id,title\n");
    for n in 0..2_000 {
        csv.push_str(&format!("r{n},Row {n}\n"));
    }
    env.write("r.csv", &csv);
    let started = Instant::now();
    let run = env
        .on(
            &sandbox,
            "sandbox-batch",
            &["bulk", "upsert", "r.csv", "--catalog", "demo", "-v"],
        )
        .ok();
    let elapsed = started.elapsed();
    let summary = run.json();
    assert_eq!(summary["accepted"], 2_000);
    assert_eq!(summary["retries"], 0, "{}", run.stderr);
    assert!(!run.stderr.contains(" 429 "), "{}", run.stderr);
    // 10 requests of 200 at 5 requests/s and 1000 items/s: paced over about 1.8 s.
    assert!(elapsed >= Duration::from_millis(1_700), "{elapsed:?}");
}

#[test]
fn assets_upsert_turns_csv_columns_into_asset_links() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let mut csv = String::from("parent_code,Image URL 1,Image URL 2\n");
    for n in 0..250 {
        csv.push_str(&format!(
            "SKU{n},https://cdn.example/{n}-1.jpg,https://cdn.example/{n}-2.jpg\n"
        ));
    }
    csv.push_str("SKUX,img.jpg,\n");
    env.write("a.csv", &csv);
    let summary = env
        .on(
            &sandbox,
            "sandbox-catalogix",
            &["assets", "upsert", "a.csv"],
        )
        .expect_code(3)
        .json();
    assert_eq!(summary["accepted"], 250);
    assert_eq!(summary["created"], 250);
    assert_eq!(summary["rejected"], 1);
    let mut sizes = sandbox.bulk_sizes("catalogix");
    sizes.sort_unstable();
    assert_eq!(
        sizes,
        [50, 100, 100],
        "requests run concurrently, so in any order"
    );
    let rejected = env.rejects("a.rejects.ndjson");
    assert_eq!(
        (rejected[0]["row"].clone(), rejected[0]["line"].clone()),
        (json!(251), json!(252))
    );
    let stored = sandbox.inspect("/catalogix/v1/_sandbox/assets?store_uuid=store_demo");
    let sku3 = stored
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["parent_code"] == "SKU3")
        .unwrap();
    assert_eq!(sku3["asset_type"], "image");
    assert_eq!(sku3["channel"], "SMP");
    assert_eq!(sku3["assets"]["Image URL 2"], "https://cdn.example/3-2.jpg");
}

/// Starts a slow import with a journal (and `extra` flags), stops it with `signal` once the
/// sandbox has received a few of its requests, and returns the stopped run's exit code and
/// stderr.
fn interrupted_import(env: &Env, sandbox: &Sandbox, signal: &str, extra: &[&str]) -> (i32, String) {
    let base = format!("{}/rastro/api", sandbox.root);
    let mut child = env
        .command()
        .args([
            "-p",
            "sandbox",
            "--base-url",
            &base,
            "bulk",
            "upsert",
            "p.csv",
            "--catalog",
            "cat_demo",
            "--batch-size",
            "250",
            "--concurrency",
            "2",
            "--journal",
            "p.journal",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while sandbox.bulk_sizes("rastro").len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, stderr)
}

#[test]
fn resume_after_sigkill_finishes_the_import_with_every_row_once() {
    let sandbox = Sandbox::start_with(&["--latency-ms", "40"]);
    let env = Env::new();
    env.write("p.csv", &product_csv(20_000));
    let (code, _) = interrupted_import(&env, &sandbox, "-KILL", &[]);
    assert_eq!(code, -1, "killed by a signal");
    let partial = demo_items(&env, &sandbox).len();
    assert!(
        partial > 25 && partial < 20_025,
        "the kill landed mid-import: {partial}"
    );

    let summary = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "cat_demo",
                "--journal",
                "p.journal",
                "--resume",
            ],
        )
        .ok()
        .json();
    assert!(summary["skipped"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(
        summary["skipped"].as_u64().unwrap() + summary["accepted"].as_u64().unwrap(),
        20_000
    );
    let items = demo_items(&env, &sandbox);
    assert_eq!(items.len(), 20_025);
    assert_eq!(items["P-0019999"]["title"], "Product 19999");
}

#[test]
fn sigint_finishes_in_flight_requests_and_prints_a_resume_command_that_works_even_with_q() {
    let sandbox = Sandbox::start_with(&["--latency-ms", "40"]);
    let env = Env::new();
    env.write("p.csv", &product_csv(20_000));
    // With -q: the chatter goes, what to do next stays.
    let (code, stderr) = interrupted_import(&env, &sandbox, "-INT", &["-q"]);
    assert_eq!(code, 130, "{stderr}");
    assert!(
        !stderr.contains("interrupted: reading stopped"),
        "-q: {stderr}"
    );
    let resume = stderr
        .lines()
        .find_map(|l| l.strip_prefix("hint: resume with: "))
        .unwrap_or_else(|| panic!("no resume command: {stderr}"));
    assert!(resume.ends_with("--resume"), "{resume}");
    // The printed command, run as printed (its words need no shell quoting here).
    let words: Vec<&str> = resume.split(' ').collect();
    let mut cmd = env.command();
    cmd.args(&words[1..]);
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(demo_items(&env, &sandbox).len(), 20_025);
}

#[test]
fn a_journal_of_another_import_is_refused() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("p.csv", &product_csv(10));
    env.on(
        &sandbox,
        "sandbox",
        &[
            "bulk",
            "upsert",
            "p.csv",
            "--catalog",
            "cat_demo",
            "--journal",
            "j",
        ],
    )
    .ok();
    let run = env
        .on(
            &sandbox,
            "sandbox-batch",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "demo",
                "--journal",
                "j",
                "--resume",
            ],
        )
        .expect_code(2);
    assert!(
        run.error_line()
            .contains("belongs to another import: the profile was sandbox, now sandbox-batch; the vendor was rastro, now batch"),
        "{}",
        run.stderr
    );
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "cat_demo",
                "--journal",
                "j",
            ],
        )
        .expect_code(2);
    assert!(run.stderr.contains("--resume"), "{}", run.stderr);
}

#[test]
fn batch_upsert_refuses_a_column_the_catalog_lacks_before_any_write() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let mut csv = String::from("id,title,colour\n");
    for n in 0..1_000 {
        csv.push_str(&format!("c{n},Movie {n},red\n"));
    }
    env.write("c.csv", &csv);
    let args = ["bulk", "upsert", "c.csv", "--catalog", "demo"];
    for dry_run in [false, true] {
        let mut args = args.to_vec();
        if dry_run {
            args.push("--dry-run");
        }
        let run = env.on(&sandbox, "sandbox-batch", &args).expect_code(2);
        assert!(
            run.error_line().contains(
                "catalog demo has no field for the column colour (its fields: title:string"
            ),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("catops catalogs update demo --field +colour:TYPE"),
            "{}",
            run.stderr
        );
        assert!(
            !env.home.path().join("c.rejects.ndjson").exists(),
            "not a reject per row"
        );
    }
    assert!(sandbox.bulk_sizes("batch").is_empty(), "nothing was sent");
    env.on(
        &sandbox,
        "sandbox-batch",
        &["catalogs", "update", "demo", "--field", "+colour:string"],
    )
    .ok();
    let summary = env.on(&sandbox, "sandbox-batch", &args).ok().json();
    assert_eq!(summary["accepted"], 1_000);
}

#[test]
fn batch_upsert_wait_indexed_waits_until_the_last_edit_is_applied() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let movies = format!("{}/examples/movies.csv", env!("CARGO_MANIFEST_DIR"));
    let started = Instant::now();
    let run = env
        .on(
            &sandbox,
            "sandbox-batch",
            &[
                "bulk",
                "upsert",
                &movies,
                "--catalog",
                "demo",
                "--wait-indexed",
            ],
        )
        .ok();
    let summary = run.json();
    assert_eq!(summary["accepted"], 500);
    assert_eq!(summary["indexing_state"], "APPLIED");
    assert!(run.stderr.contains("applied after"), "{}", run.stderr);
    // The sandbox says IN_PROGRESS for 300 ms after an edit.
    assert!(started.elapsed() >= Duration::from_millis(300));
    let token = summary["indexing_token"].as_str().unwrap();
    let view = sandbox.inspect(&format!(
        "/batch/2.11/catalogs/view?name=demo&indexing_token={token}"
    ));
    assert_eq!(view["indexing_state"], "APPLIED");
    assert_eq!(view["items"], 500);
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "cat_demo",
                "--wait-indexed",
            ],
        )
        .expect_code(2);
    assert!(
        run.error_line().contains("--wait-indexed is for"),
        "{}",
        run.stderr
    );
}

/// An import held to 10 requests/s: 25,000 rows (about 800 KB) in 25 requests of 1000.
fn slow_import(env: &Env, sandbox: &Sandbox, extra: &[&str]) -> common::Run {
    env.write("slow.csv", &product_csv(25_000));
    let mut args = vec![
        "bulk",
        "upsert",
        "slow.csv",
        "--catalog",
        "cat_demo",
        "--rate",
        "10",
    ];
    args.extend_from_slice(extra);
    env.on_with(sandbox, "sandbox", &args, |cmd| {
        cmd.env("CATOPS_PROGRESS_INTERVAL", "0.3");
    })
    .ok()
}

#[test]
fn bulk_upsert_reports_progress_lines_when_stderr_is_a_log() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let run = slow_import(&env, &sandbox, &[]);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(lines.len() >= 2, "{}", run.stderr);
    for line in &lines {
        // Rows done of the file's rows (estimated from its size until all is read), a whole
        // rate, the time left.
        assert!(
            line.contains(" rows done,") && line.contains(" of "),
            "{line}"
        );
        let rate = line.split(", ").find(|part| part.ends_with("/s")).unwrap();
        assert!(rate.trim_end_matches("/s").parse::<u64>().is_ok(), "{line}");
        assert!(line.contains(", ETA "), "{line}");
    }
    assert!(
        lines.last().unwrap().contains(" of 25000 rows done,"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["accepted"], 25_000);
    // One summary line for people after the progress.
    assert_eq!(run.stderr.matches("rows read").count(), 1, "{}", run.stderr);

    for quiet in ["--no-progress", "-q"] {
        let run = slow_import(&env, &sandbox, &[quiet]);
        assert!(
            !run.stderr.contains("progress: "),
            "{quiet}: {}",
            run.stderr
        );
    }
}

/// What a terminal `cols` wide shows of `catops ARGS` (stdout and stderr both on it), through
/// util-linux `script`; None where there is no `script`.
fn on_terminal(env: &Env, cols: u16, args: &str) -> Option<String> {
    let line = format!("stty cols {cols} rows 40; '{}' {args}", common::BIN);
    let output = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("HOME", env.home.path())
        .env("XDG_DATA_HOME", env.home.path().join(".local/share"))
        .env("XDG_CONFIG_HOME", env.home.path().join(".config"))
        .env_remove("NO_COLOR")
        .current_dir(env.home.path())
        .stdin(Stdio::null())
        .output()
        .ok()?;
    assert!(output.status.success(), "{output:?}");
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The text of a terminal's output, escape sequences removed, one entry per drawn line.
fn drawn_lines(screen: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = screen.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ params final-byte
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain.split(['\r', '\n']).map(str::to_string).collect()
}

#[test]
fn bulk_upsert_on_a_narrow_terminal_draws_one_line_bars_and_one_summary() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("slow.csv", &product_csv(25_000));
    let base = format!("{}/rastro/api", sandbox.root);
    let args =
        format!("-p sandbox --base-url {base} bulk upsert slow.csv --catalog cat_demo --rate 10");
    let Some(screen) = on_terminal(&env, 40, &args) else {
        eprintln!("no `script` here: skipped");
        return;
    };
    let lines = drawn_lines(&screen);
    let bars: Vec<&String> = lines.iter().filter(|l| l.contains("ETA")).collect();
    assert!(!bars.is_empty(), "{screen}");
    for line in &lines {
        assert!(
            line.chars().count() <= 40,
            "wider than the terminal: {line:?}"
        );
    }
    // The summary once: the table on stdout, no line for people beside it.
    assert_eq!(screen.matches("rows_read").count(), 1, "{screen}");
    assert!(!screen.contains("rows read,"), "{screen}");
}

#[test]
fn a_rejects_file_lives_only_as_long_as_its_run_except_under_resume() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let upsert = |extra: &[&str]| {
        let mut args = vec!["bulk", "upsert", "p.csv", "--catalog", "cat_demo"];
        args.extend_from_slice(extra);
        env.on(&sandbox, "sandbox", &args)
    };
    let rejects = env.home.path().join("p.rejects.ndjson");
    env.write("p.csv", "sku,price:number\nR-1,1\nR-2,cheap\n");
    upsert(&[]).expect_code(3);
    assert_eq!(env.rejects("p.rejects.ndjson").len(), 1);
    // Fixed: the next run has no rejects, and the old file is gone with its run.
    env.write("p.csv", "sku,price:number\nR-1,1\nR-2,2\n");
    let clean = upsert(&[]).ok();
    assert!(!rejects.exists(), "a stale rejects file survived");
    assert_eq!(clean.json()["rejects_file"], Value::Null);

    // Under --resume the earlier run's rejects stay (the journal counts them done), and the
    // resumed run's own are added to them.
    env.write("p.csv", "sku,price:number\nR-1,1\nR-2,cheap\n");
    upsert(&["--journal", "p.journal"]).expect_code(3);
    std::fs::write(
        env.home.path().join("p.csv"),
        "sku,price:number\nR-1,1\nR-2,cheap\nR-3,3\nR-4,dear\n",
    )
    .unwrap();
    let resumed = upsert(&["--journal", "p.journal", "--resume"]).expect_code(3);
    assert_eq!(resumed.json()["skipped"], 2);
    let lines = env.rejects("p.rejects.ndjson");
    let rows: Vec<u64> = lines.iter().map(|l| l["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, vec![2, 4]);
}
