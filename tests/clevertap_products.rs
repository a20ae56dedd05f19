//! clevertap products, end to end: `catops bulk upsert` against the sandbox's
//! `POST /v2/catalogs/{id}/products/bulk`, chunked by its 500 KB body limit.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::HashSet;

use common::{Env, Sandbox};
use serde_json::{json, Value};

/// clevertap's documented body limit (create-products-bulk-api: 500 KB), as catops reads it.
const MAX_BODY: u64 = 500_000;

fn stored(env: &Env, sandbox: &Sandbox, catalog: &str) -> Vec<Value> {
    let path = format!("/_sandbox/catalogs/{catalog}/products");
    env.on(sandbox, "sandbox-clevertap", &["api", &path])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// (items, bytes) of each clevertap bulk request the sandbox received.
fn requests(sandbox: &Sandbox) -> Vec<(u64, u64)> {
    sandbox
        .inspect("/_sandbox/requests")
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["vendor"] == "clevertap")
        .map(|r| (r["items"].as_u64().unwrap(), r["bytes"].as_u64().unwrap()))
        .collect()
}

#[test]
fn clevertap_bulk_upsert_chunks_by_500_kb_and_every_product_arrives_once() {
    let env = Env::new();
    let sandbox = Sandbox::start();
    // About 1 KB a product (names under the 1000-character limit): 3000 of them are several 500 KB bodies.
    let mut csv = String::from("sku,name,imageUrl,brand,price:number\n");
    let rows = 3000;
    for n in 0..rows {
        let name = format!("Product {n} {}", "long name ".repeat(95));
        csv.push_str(&format!(
            "P-{n:05},{name},https://example.com/{n}.png,Brand {},{}.5\n",
            n % 7,
            n % 100
        ));
    }
    env.write("products.csv", &csv);
    let args = [
        "bulk",
        "upsert",
        "products.csv",
        "--catalog",
        "123",
        "--id-field",
        "sku",
        "-o",
        "json",
    ];
    let summary = env.on(&sandbox, "sandbox-clevertap", &args).ok().json();
    assert_eq!(summary["accepted"], rows);
    assert_eq!(summary["rejected"], 0);

    let sent = requests(&sandbox);
    assert!(sent.len() >= 6, "3 MB in 500 KB bodies: {sent:?}");
    assert!(sent.iter().all(|(_, bytes)| *bytes <= MAX_BODY), "{sent:?}");
    // Chunks are filled close to the limit, not cut at an item count.
    assert!(sent[0].1 > MAX_BODY - 2_000, "{sent:?}");
    assert_eq!(sent.iter().map(|(items, _)| items).sum::<u64>(), rows);

    let products = stored(&env, &sandbox, "123");
    assert_eq!(products.len() as u64, rows);
    let identities: HashSet<&str> = products
        .iter()
        .map(|p| p["identity"].as_str().unwrap())
        .collect();
    assert_eq!(identities.len() as u64, rows, "each product once");
    assert!(identities.contains("P-00000") && identities.contains("P-02999"));
    assert_eq!(products[1]["imageUrl"], "https://example.com/1.png");
    assert_eq!(
        products[1]["attributes"],
        json!({"brand": "Brand 1", "price": 1.5})
    );
}

#[test]
fn clevertap_rows_that_break_a_rule_are_rejected_with_row_and_line_and_the_rest_stored() {
    let env = Env::new();
    let sandbox = Sandbox::start();
    let huge = "x".repeat(600_000);
    let long_name = "n".repeat(1001);
    let csv = format!(
        "identity,name,brand,colour\n\
         A,Fine,Acme,\n\
         B,{long_name},Acme,\n\
         C,Huge,{huge},\n\
         D,Painted,Acme,red\n\
         ,Nameless,Acme,\n\
         E,Also fine,Zed,\n"
    );
    env.write("mixed.csv", &csv);
    let args = [
        "bulk",
        "upsert",
        "mixed.csv",
        "--catalog",
        "123",
        "-o",
        "json",
    ];
    let run = env.on(&sandbox, "sandbox-clevertap", &args).expect_code(3);
    let summary = run.json();
    assert_eq!(
        (summary["accepted"].as_u64(), summary["rejected"].as_u64()),
        (Some(2), Some(4))
    );
    let rejects = env.rejects("mixed.rejects.ndjson");
    let found: Vec<(u64, u64, String)> = rejects
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["line"].as_u64().unwrap(),
                r["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(found[0].0, 2);
    assert!(
        found[0]
            .2
            .contains("name is 1001 characters, more than 1000"),
        "{found:?}"
    );
    // Over the 500 KB body limit alone: rejected before any request, not a failed request.
    assert_eq!((found[1].0, found[1].1), (3, 4));
    assert!(
        found[1]
            .2
            .contains("more than a request may carry (500 KB)"),
        "{found:?}"
    );
    // The catalog's schema has no `colour`: the sandbox refuses that product alone.
    assert_eq!(found[2].0, 4);
    assert!(
        found[2].2.contains("'colour' is not in the catalog schema"),
        "{found:?}"
    );
    assert_eq!(found[3].0, 5);
    assert!(
        found[3].2.contains("the id field identity is missing"),
        "{found:?}"
    );

    let identities: Vec<String> = stored(&env, &sandbox, "123")
        .iter()
        .map(|p| p["identity"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(identities, ["A", "E"]);
}

#[test]
fn clevertap_bulk_upsert_needs_the_identity_column_and_a_numeric_known_catalog() {
    let env = Env::new();
    let sandbox = Sandbox::start();
    env.write("skus.csv", "sku,name\nP-1,One\n");
    let run = env
        .on(
            &sandbox,
            "sandbox-clevertap",
            &["bulk", "upsert", "skus.csv", "--catalog", "123"],
        )
        .expect_code(2);
    assert!(
        run.error_line().contains("no 'identity' column"),
        "{}",
        run.error_line()
    );

    let args = [
        "bulk",
        "upsert",
        "skus.csv",
        "--catalog",
        "shoes",
        "--id-field",
        "sku",
    ];
    let run = env.on(&sandbox, "sandbox-clevertap", &args).expect_code(2);
    assert!(
        run.error_line().contains("catalog ids are numbers"),
        "{}",
        run.error_line()
    );

    let args = [
        "bulk",
        "upsert",
        "skus.csv",
        "--catalog",
        "999",
        "--id-field",
        "sku",
    ];
    let run = env.on(&sandbox, "sandbox-clevertap", &args).expect_code(5);
    assert!(
        run.error_line().contains("CATALOG_NOT_FOUND")
            || run.error_line().contains("No catalog exists"),
        "{}",
        run.error_line()
    );
    assert!(
        requests(&sandbox).len() == 1,
        "one request, then the run stops"
    );
}

// ---------------------------------------------------------------- --upload

/// What the sandbox received for an upload: its part sizes and its job.
fn upload_seen(env: &Env, sandbox: &Sandbox, upload_id: &str) -> Value {
    let path = format!("/_sandbox/uploads/{upload_id}");
    env.on(sandbox, "sandbox-clevertap", &["api", &path])
        .ok()
        .json()
}

#[test]
fn clevertap_upload_hands_a_file_over_and_reports_the_job_not_accepted_rows() {
    let env = Env::new();
    let sandbox = Sandbox::start();
    let csv = "identity,name,brand\nA,One,Acme\nB,Two,Zed\n";
    env.write("small.csv", csv);
    let args = [
        "bulk",
        "upsert",
        "small.csv",
        "--catalog",
        "123",
        "--upload",
        "--by",
        "ops@example.com",
        "-o",
        "json",
    ];
    let run = env.on(&sandbox, "sandbox-clevertap", &args).ok();
    let summary = run.json();
    assert_eq!(summary["handed_over"], true);
    assert_eq!(summary["accepted"], Value::Null, "nothing is accepted yet");
    assert_eq!(summary["job_status"], "PROCESSING");
    assert_eq!(
        (summary["bytes"].as_u64(), summary["parts"].as_u64()),
        (Some(csv.len() as u64), Some(1))
    );
    assert!(run.stderr.contains("handed over as job"), "{}", run.stderr);
    assert!(run
        .stderr
        .contains("not accepted until clevertap has processed it"));
    let seen = upload_seen(&env, &sandbox, summary["upload_id"].as_str().unwrap());
    assert_eq!(seen["partBytes"], json!([csv.len()]));
    assert_eq!(seen["job"]["jobId"], summary["job_id"]);
    assert_eq!(seen["job"]["completedBy"], "ops@example.com");
    assert_eq!(seen["fileName"], "small.csv");
}

#[test]
fn clevertap_upload_of_100_mb_or_more_goes_in_parts_and_takes_the_profiles_email() {
    let env = Env::new();
    let sandbox = Sandbox::start();
    env.write_config(
        "[profiles.ct]\nvendor = \"clevertap\"\naccount_id = \"acct\"\ntoken = \"sandbox-token\"\nuser_email = \"profile@example.com\"\n",
    );
    // Sparse past its header: 150 MB on the wire, little on disk.
    let path = env.write("big.csv", "identity,name\n");
    let size: u64 = 150_000_000;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(size)
        .unwrap();
    let base = format!("{}/clevertap", sandbox.root);
    let args = [
        "-p",
        "ct",
        "--base-url",
        &base,
        "bulk",
        "upsert",
        "big.csv",
        "--catalog",
        "123",
        "--upload",
        "-o",
        "json",
    ];
    let summary = env.run(&args).ok().json();
    assert_eq!(summary["parts"], 3, "64 MiB parts: {summary}");
    let seen = upload_seen(&env, &sandbox, summary["upload_id"].as_str().unwrap());
    let parts: Vec<u64> = seen["partBytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    assert_eq!(parts, [64 << 20, 64 << 20, size - (128 << 20)]);
    assert_eq!(seen["job"]["completedBy"], "profile@example.com");
    assert_eq!(seen["job"]["fileSize"], size);
}

#[test]
fn clevertap_upload_refuses_stdin_other_formats_a_missing_email_or_id_column() {
    let env = Env::new();
    let sandbox = Sandbox::start();
    env.write("ok.csv", "identity,name\nA,One\n");
    env.write("skus.csv", "sku,name\nA,One\n");
    env.write("rows.json", "[{\"identity\":\"A\",\"name\":\"One\"}]");
    let by = ["--by", "ops@example.com"];
    let cases: [(&[&str], &str); 5] = [
        (&["-", "--upload", by[0], by[1]], "not stdin"),
        (&["rows.json", "--upload", by[0], by[1]], "sends CSV files"),
        (&["ok.csv", "--upload"], "records who completes an upload"),
        (
            &["skus.csv", "--upload", by[0], by[1]],
            "no 'identity' column",
        ),
        (
            &["ok.csv", "--upload", "--journal", "j", by[0], by[1]],
            "cannot be used with",
        ),
    ];
    for (extra, why) in cases {
        let mut args = vec!["bulk", "upsert", "--catalog", "123"];
        args.extend_from_slice(extra);
        let run = env.on(&sandbox, "sandbox-clevertap", &args).expect_code(2);
        assert!(run.stderr.contains(why), "{extra:?}: {}", run.stderr);
    }
    let args = [
        "bulk",
        "upsert",
        "ok.csv",
        "--catalog",
        "cat_demo",
        "--upload",
        "--by",
        "a@b.c",
    ];
    let run = env.on(&sandbox, "sandbox", &args).expect_code(2);
    assert!(
        run.stderr.contains("vendors that can: clevertap"),
        "{}",
        run.stderr
    );
    assert!(
        sandbox
            .inspect("/_sandbox/requests")
            .as_array()
            .unwrap()
            .is_empty(),
        "no bulk request went out"
    );
}
