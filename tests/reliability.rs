//! Proof that nothing is lost and nothing leaks: imports under injected faults and crashes end
//! with the sandbox holding exactly the input; bad responses give clear errors; tokens never
//! appear in any output, log, journal or rejects file.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{product_csv, Env, Sandbox};
use serde_json::{json, Value};

const FAULTS: &str = "500=0.05,429=0.05,reset=0.01,seed=42";

/// What `product_csv(n)` holds, by sku: (title, price, brand).
fn expected_products(rows: usize) -> HashMap<String, (String, f64, String)> {
    (0..rows)
        .map(|n| {
            let price: f64 = format!("{}.{:02}", n % 500, n % 100).parse().unwrap();
            (
                format!("P-{n:07}"),
                (format!("Product {n}"), price, format!("Brand {}", n % 7)),
            )
        })
        .collect()
}

/// Every product item of cat_demo, checked field by field against the input, exactly once.
fn assert_rastro_holds_exactly(env: &Env, sandbox: &Sandbox, rows: usize) {
    let items = env.demo_items(sandbox);
    let expected = expected_products(rows);
    let products: Vec<&Value> = items
        .iter()
        .filter(|i| i["sku"].as_str().unwrap().starts_with("P-"))
        .collect();
    assert_eq!(products.len(), rows, "every row once, no duplicate");
    for item in products {
        let sku = item["sku"].as_str().unwrap();
        let (title, price, brand) = &expected[sku];
        assert_eq!(item["title"], *title, "{sku}");
        assert_eq!(item["price"].as_f64().unwrap(), *price, "{sku}");
        assert_eq!(item["brand"], *brand, "{sku}");
    }
}

#[test]
fn rastro_import_of_100k_rows_under_faults_holds_exactly_the_input() {
    let sandbox = Sandbox::start_with(&["--faults", FAULTS]);
    let env = Env::new();
    env.write("p.csv", &product_csv(100_000));
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
                "--max-retries",
                "10",
            ],
        )
        .ok()
        .json();
    assert_eq!(summary["accepted"], 100_000);
    assert!(summary["retries"].as_u64().unwrap() > 0, "{summary}");
    // The listing meets the same faults and must retry through them too.
    assert_rastro_holds_exactly(&env, &sandbox, 100_000);
}

#[test]
fn batch_import_of_100k_rows_under_faults_holds_exactly_the_ids_and_attributes() {
    let sandbox = Sandbox::start_with(&["--faults", FAULTS, "--rate-limits", "off"]);
    let env = Env::new();
    let mut csv = String::from("id,title,rank:integer,tags:array\n");
    for n in 0..100_000 {
        csv.push_str(&format!(
            "m{n},Movie {n},{},t{}|u{}\n",
            n % 977,
            n % 5,
            n % 3
        ));
    }
    env.write("m.csv", &csv);
    let summary = env
        .on(
            &sandbox,
            "sandbox-batch",
            &[
                "bulk",
                "upsert",
                "m.csv",
                "--catalog",
                "demo",
                "--rate",
                "1000",
                "--item-rate",
                "10000000",
                "--max-retries",
                "10",
            ],
        )
        .ok()
        .json();
    assert_eq!(summary["accepted"], 100_000);
    assert!(summary["retries"].as_u64().unwrap() > 0, "{summary}");
    // Through `catops api`, which retries the injected faults a bare GET would meet.
    let stored = env
        .on(
            &sandbox,
            "sandbox-batch",
            &[
                "api",
                "/_sandbox/catalogs/demo/items",
                "--max-retries",
                "10",
            ],
        )
        .ok()
        .json();
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), 100_000);
    for item in stored {
        let id = item["id"].as_str().unwrap();
        let n: u64 = id[1..].parse().unwrap();
        assert_eq!(
            item["attributes"],
            json!({"title": format!("Movie {n}"), "rank": n % 977, "tags": [format!("t{}", n % 5), format!("u{}", n % 3)]}),
            "{id}"
        );
    }
}

#[test]
fn catalogix_import_of_100k_rows_under_faults_holds_exactly_the_assets() {
    let sandbox = Sandbox::start_with(&["--faults", FAULTS]);
    let env = Env::new();
    let mut csv = String::from("parent_code,front,back\n");
    for n in 0..100_000 {
        csv.push_str(&format!(
            "S{n},https://cdn.example/{n}/f.jpg,https://cdn.example/{n}/b.jpg\n"
        ));
    }
    env.write("a.csv", &csv);
    let summary = env
        .on(
            &sandbox,
            "sandbox-catalogix",
            &[
                "assets",
                "upsert",
                "a.csv",
                "--max-retries",
                "10",
                "--concurrency",
                "8",
            ],
        )
        .ok()
        .json();
    assert_eq!(summary["accepted"], 100_000);
    assert_eq!(
        summary["created"], 100_000,
        "faults happen before the server applies anything"
    );
    assert!(summary["retries"].as_u64().unwrap() > 0, "{summary}");
    let stored = sandbox.inspect("/catalogix/v1/_sandbox/assets?store_uuid=store_demo");
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), 100_000);
    for asset in stored {
        let code = asset["parent_code"].as_str().unwrap();
        let n = &code[1..];
        assert_eq!(asset["asset_type"], "image");
        assert_eq!(
            asset["assets"],
            json!({"front": format!("https://cdn.example/{n}/f.jpg"), "back": format!("https://cdn.example/{n}/b.jpg")}),
            "{code}"
        );
    }
}

#[test]
fn sigkill_at_several_points_then_resume_holds_exactly_the_input() {
    let sandbox = Sandbox::start_with(&["--latency-ms", "25"]);
    let env = Env::new();
    let rows = 30_000;
    env.write("p.csv", &product_csv(rows));
    let base = format!("{}/rastro/api", sandbox.root);
    let args = [
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
        "3",
        "--journal",
        "p.journal",
        "--resume",
    ];
    let mut rng = fastrand::Rng::with_seed(2026);
    for round in 0..4 {
        let requests_before = sandbox.bulk_sizes("rastro").len();
        let mut child = env
            .command()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill after a random number of further requests reached the server.
        let wait_for = requests_before + rng.usize(2..12);
        let deadline = Instant::now() + Duration::from_secs(20);
        while sandbox.bulk_sizes("rastro").len() < wait_for && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..40)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            status.code().is_none(),
            "round {round}: killed mid-import, not finished"
        );
    }
    let summary = env.run(&args).ok().json();
    assert!(summary["skipped"].as_u64().unwrap() > 0, "{summary}");
    assert_rastro_holds_exactly(&env, &sandbox, rows);
}

/// A server that answers every request with `response`, or never answers when it is None.
fn fake_server(response: Option<&'static [u8]>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf);
            match response {
                Some(bytes) => {
                    let _ = stream.write_all(bytes);
                }
                None => held.push(stream),
            }
        }
    });
    url
}

#[test]
fn bad_responses_are_clear_errors_with_the_right_exit_code() {
    let env = Env::new();
    let cases: [(&str, Option<&'static [u8]>, i32, &str); 7] = [
        (
            "an HTML page",
            Some(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 27\r\nConnection: close\r\n\r\n<html><body>hi</body></html>"),
            1,
            "an HTML page, not JSON",
        ),
        (
            "an HTML error page",
            Some(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 32\r\nConnection: close\r\n\r\n<html><h1>Bad Gateway</h1></html>"),
            1,
            "502 Bad Gateway: an HTML page, not JSON",
        ),
        (
            "truncated JSON",
            Some(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{\"items\": ["),
            1,
            "unexpected response",
        ),
        (
            "a body cut short",
            Some(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{\"items\": []"),
            1,
            "the connection broke",
        ),
        (
            "the wrong shape",
            Some(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"items\": \"no\"}  "),
            1,
            "unexpected response",
        ),
        (
            "a 404 with garbage",
            Some(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nConnection: close\r\n\r\n\xff\xfe\x00\x01"),
            5,
            "404 Not Found",
        ),
        ("no answer at all", None, 1, "no response within 0.5 s"),
    ];
    for (what, response, code, message) in cases {
        let base = format!("{}/api", fake_server(response));
        let run = env
            .run_with(
                &[
                    "-p",
                    "sandbox",
                    "--base-url",
                    &base,
                    "items",
                    "list",
                    "--catalog",
                    "c",
                    "--timeout",
                    "0.5",
                    "--max-retries",
                    "1",
                ],
                |_| {},
            )
            .expect_code(code);
        assert!(run.error_line().contains(message), "{what}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
    }
}

#[test]
fn the_token_appears_in_no_output_log_journal_or_rejects_file() {
    let secret = "tok-SECRET-9d2e77";
    let sandbox = Sandbox::start_with(&["--token", secret, "--rate-limits", "off"]);
    let env = Env::new();
    env.write("p.csv", "sku,price:number\nS-1,1\nS-2,bad\n");
    env.write(
        "b.csv",
        "id,title,url(image)\nb1,One,https://x.example/1.png\nb2,Two,notaurl\n",
    );
    env.write(
        "a.csv",
        "parent_code,img\nA1,https://cdn.example/a.jpg\nA2,nope\n",
    );
    env.write("gone.csv", "parent_code\nA1\nA9\n");
    env.write(
        "prod.csv",
        "product_code,parent_code,status\nC1,P1,active\nC2,P2,bogus\n",
    );
    // Each command line split at spaces: none of these arguments holds one.
    let runs = [
        ("sandbox", "catalogs list"),
        (
            "sandbox",
            "catalogs create --name N --unique-id-field sku --field sku",
        ),
        ("sandbox", "items list --catalog cat_demo --all --limit 10"),
        ("sandbox", "items get --catalog cat_demo item_1"),
        (
            "sandbox",
            "items update --catalog cat_demo item_1 --set note=x",
        ),
        (
            "sandbox",
            "bulk upsert p.csv --catalog cat_demo --journal p.journal --rejects p.rejects",
        ),
        (
            "sandbox-batch",
            "bulk upsert b.csv --catalog demo --journal b.journal --rejects b.rejects",
        ),
        ("sandbox-batch", "bulk remove b.csv --catalog demo"),
        ("sandbox-batch", "catalogs list"),
        ("sandbox-batch", "catalogs get demo"),
        (
            "sandbox-catalogix",
            "assets upsert a.csv --rejects a.rejects",
        ),
        ("sandbox-catalogix", "assets list --all"),
        (
            "sandbox-catalogix",
            "assets unlink gone.csv --yes --journal u.journal --rejects u.rejects",
        ),
        ("sandbox-catalogix", "assets delete gone.csv --yes"),
        (
            "sandbox-catalogix",
            "bulk upsert prod.csv --journal c.journal --rejects c.rejects",
        ),
        ("sandbox-catalogix", "items list --all"),
        ("sandbox-catalogix", "items get C1"),
        (
            "sandbox",
            "enrich start --catalog cat_demo --prompt p --field f --speed fast --wait",
        ),
        ("sandbox", "enrich status --catalog cat_demo job_missing"),
        ("sandbox-catalogian", "delta sources"),
        ("sandbox-catalogian", "delta list --all"),
        ("sandbox-catalogian", "delta latest"),
        ("sandbox-clevertap", "catalogs get 123"),
        ("sandbox-clevertap", "catalogs list"),
        ("sandbox", "api /public/catalogs"),
        ("sandbox", "profile show"),
    ];
    for (profile, line) in runs {
        let args: Vec<&str> = line.split(' ').collect();
        let mut full = args.clone();
        full.push("-vv");
        let run = env.on_with(&sandbox, profile, &full, |c| {
            c.env("CATOPS_TOKEN", secret);
        });
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{profile} {args:?} leaked the token:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        if profile != "sandbox" || args[0] != "profile" {
            assert!(
                run.stderr.contains(": ***"),
                "{args:?}: the -vv log shows the redacted header:\n{}",
                run.stderr
            );
        }
        if profile == "sandbox-catalogix" {
            assert!(
                run.stderr.contains("> apikey: ***"),
                "{args:?}: the apikey header is shown redacted:\n{}",
                run.stderr
            );
        }
    }
    for file in [
        "u.journal",
        "u.rejects",
        "c.journal",
        "c.rejects",
        "p.journal",
        "p.rejects",
        "b.journal",
        "b.rejects",
        "a.rejects",
    ] {
        let text = env.read(file);
        assert!(!text.is_empty(), "{file} was written");
        assert!(!text.contains(secret), "{file} holds the token");
    }
}
