//! Contract tests: the real binary against a loopback server that replays each vendor's
//! documented replies (tests/fixtures/vendors/<vendor>/, sources in each SOURCES.md). The
//! sandbox was written from the same reading of the docs as the client, so these are what
//! keep a misreading from passing. Request bodies are checked against the vendors' own OpenAPI
//! schemas where they publish one.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::openapi::OpenApi;
use common::replay::{fixture, fixture_path, Received, Replay, Reply};
use common::{Env, Run};
use serde_json::{json, Value};

fn with_env(
    env: &Env,
    replay: &Replay,
    profile: &str,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Run {
    env.at_with(&replay.url, profile, args, |cmd| {
        for (key, value) in vars {
            cmd.env(key, value);
        }
    })
}

fn ids(records: &Value) -> Vec<Value> {
    records
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|r| r["id"].clone())
        .collect()
}

fn every_fixture_is_listed_in_its_sources(vendor: &str) {
    let dir = fixture_path(vendor, "");
    let sources = std::fs::read_to_string(dir.join("SOURCES.md")).expect("SOURCES.md");
    for entry in std::fs::read_dir(&dir).expect("fixture dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name != "SOURCES.md" {
            assert!(
                sources.contains(&format!("| {name} |")),
                "{vendor}/{name} has no line in SOURCES.md"
            );
        }
    }
}

#[test]
fn every_fixture_names_its_source() {
    for vendor in ["clevertap", "rastro", "batch", "catalogix", "catalogian"] {
        every_fixture_is_listed_in_its_sources(vendor);
    }
}

// ---------------------------------------------------------------- clevertap

#[test]
fn clevertap_catalogs_list_reads_content_and_sends_paging_and_the_v2_headers() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "clevertap", "list-catalogs.json"));
    let run = env
        .at(&replay.url, "sandbox-clevertap", &["catalogs", "list"])
        .ok();
    assert_eq!(ids(&run.json()), [json!(123), json!(456)]);
    let requests = replay.received();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v2/catalogs");
    assert_eq!(
        (request.param("page"), request.param("size")),
        (Some("0"), Some("100"))
    );
    // The v2 catalog pages name X-Account-Id + X-CleverTap-Token, and Content-Type even on GET.
    assert!(request.header("X-Account-Id").is_some());
    assert_eq!(request.header("X-CleverTap-Token"), Some("sandbox-token"));
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(request.header("X-CleverTap-Passcode"), None);
}

#[test]
fn clevertap_catalogs_list_all_follows_pages_with_or_without_totals() {
    let env = Env::new();
    let page = |request: &Received, total: Option<u64>| -> Reply {
        let number: u64 = request.param("page").unwrap_or("0").parse().unwrap();
        let size: u64 = request.param("size").unwrap_or("20").parse().unwrap();
        let template = fixture("clevertap", "get-catalog.json");
        let count = 150u64.saturating_sub(number * size).min(size);
        let content: Vec<Value> = (0..count)
            .map(|n| {
                let mut catalog = template.clone();
                catalog["id"] = json!(1000 + number * size + n);
                catalog
            })
            .collect();
        let mut body = json!({ "content": content });
        if let Some(total) = total {
            body["totalElements"] = json!(total);
            body["totalPages"] = json!(total.div_ceil(size));
        }
        Reply::json(200, &body)
    };
    for total in [Some(150), None] {
        let replay = Replay::start(move |request| page(request, total));
        let all = env
            .at(
                &replay.url,
                "sandbox-clevertap",
                &["catalogs", "list", "--all"],
            )
            .ok();
        let listed = ids(&all.json());
        assert_eq!(listed.len(), 150, "totals {total:?}");
        assert_eq!(listed[149], json!(1149));
        assert_eq!(replay.received().len(), 2, "totals {total:?}");
        let first = env
            .at(&replay.url, "sandbox-clevertap", &["catalogs", "list"])
            .ok();
        assert_eq!(ids(&first.json()).len(), 100, "without --all, one page");
    }
    // Only `content`, the one documented key: a page shorter than asked is the last one.
    let replay = Replay::always(Reply::fixture(
        200,
        "clevertap",
        "list-catalogs-content-only.json",
    ));
    let run = env
        .at(
            &replay.url,
            "sandbox-clevertap",
            &["catalogs", "list", "--all"],
        )
        .ok();
    assert_eq!(ids(&run.json()), [json!(123), json!(456)]);
    assert_eq!(replay.received().len(), 1);
}

#[test]
fn clevertap_catalogs_get_prints_the_documented_catalog() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "clevertap", "get-catalog.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-clevertap",
            &["catalogs", "get", "123"],
        )
        .ok();
    assert_eq!(run.json(), fixture("clevertap", "get-catalog.json"));
    assert_eq!(replay.received()[0].path, "/v2/catalogs/123");
}

#[test]
fn clevertap_errors_map_to_exit_codes_and_the_feature_hint() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(
        404,
        "clevertap",
        "error-catalog-not-found.json",
    ));
    let run = env
        .at(&replay.url, "sandbox-clevertap", &["catalogs", "get", "9"])
        .expect_code(5);
    assert!(
        run.error_line().contains("No catalog exists"),
        "{}",
        run.stderr
    );

    for status in [401, 403] {
        let replay = Replay::always(Reply::fixture(
            status,
            "clevertap",
            "error-feature-not-enabled.json",
        ));
        let run = env
            .at(&replay.url, "sandbox-clevertap", &["catalogs", "list"])
            .expect_code(4);
        assert!(run.error_line().contains("Catalog feature is not enabled"));
        assert!(
            run.stderr.contains("hint: ") && run.stderr.contains("Catalogs feature"),
            "the hint names the feature: {}",
            run.stderr
        );
    }
}

#[test]
fn clevertap_a_list_in_another_shape_is_an_error_not_an_empty_list() {
    let env = Env::new();
    let replay = Replay::always(Reply::json(200, &json!({"catalogs": [{"id": 1}]})));
    let run = env
        .at(&replay.url, "sandbox-clevertap", &["catalogs", "list"])
        .expect_code(1);
    let error = run.error_line();
    assert!(
        error.contains("clevertap: GET /v2/catalogs: unexpected response: missing field `content`"),
        "{error}"
    );
    assert!(
        !run.stdout.contains("[]"),
        "nothing printed as if empty: {}",
        run.stdout
    );
}

const PRODUCTS_CSV: &str = "sku,name,imageUrl,brand,price:number\nP-1,Shoe,https://example.com/1.png,Acme,10\nP-2,Boot,,Acme,12\nP-3,Hat,,Zed,3\n";

#[test]
fn clevertap_products_bulk_sends_the_products_headers_and_reads_the_documented_reply() {
    let env = Env::new();
    env.write("products.csv", PRODUCTS_CSV);
    let replay = Replay::always(Reply::fixture(
        200,
        "clevertap",
        "products-bulk-partial.json",
    ));
    let args = [
        "bulk",
        "upsert",
        "products.csv",
        "--catalog",
        "123",
        "--id-field",
        "sku",
    ];
    let run = env
        .at(&replay.url, "sandbox-clevertap", &args)
        .expect_code(3);
    let summary = run.json();
    assert_eq!(
        (summary["accepted"].as_u64(), summary["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    // The entry names its product by record.identity: row 2 is P-2.
    let rejects = env.rejects("products.rejects.ndjson");
    assert_eq!(rejects.len(), 1);
    assert_eq!(
        (rejects[0]["row"].as_u64(), rejects[0]["line"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(
        rejects[0]["error"],
        "Custom attribute price must be a number (509)"
    );
    let requests = replay.received();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v2/catalogs/123/products/bulk");
    // The products pages name the credentials X-CleverTap-Account-Id + X-CleverTap-Passcode.
    assert!(request.header("X-CleverTap-Account-Id").is_some());
    assert_eq!(
        request.header("X-CleverTap-Passcode"),
        Some("sandbox-token")
    );
    assert_eq!(request.header("X-CleverTap-Token"), None);
    assert_eq!(request.header("X-Account-Id"), None);
    assert_eq!(request.header("Content-Type"), Some("application/json"));
    assert_eq!(
        request.json()["products"][0],
        json!({"identity": "P-1", "name": "Shoe", "imageUrl": "https://example.com/1.png",
            "attributes": {"brand": "Acme", "price": 10}})
    );
}

#[test]
fn clevertap_products_bulk_all_processed_is_accepted() {
    let env = Env::new();
    env.write("two.csv", "identity,name\nA,One\nB,Two\n");
    let replay = Replay::always(Reply::fixture(
        200,
        "clevertap",
        "products-bulk-success.json",
    ));
    let args = ["bulk", "upsert", "two.csv", "--catalog", "123"];
    let summary = env.at(&replay.url, "sandbox-clevertap", &args).ok().json();
    assert_eq!(summary["accepted"], 2);
    assert_eq!(summary["created"], Value::Null, "clevertap does not say");
}

#[test]
fn clevertap_products_bulk_reply_of_another_form_confirms_nothing() {
    let env = Env::new();
    env.write("products.csv", PRODUCTS_CSV);
    let args = [
        "bulk",
        "upsert",
        "products.csv",
        "--catalog",
        "123",
        "--id-field",
        "sku",
    ];
    let replies = [
        json!({"success": true}),
        json!({"status": "PROCESSING", "processed": 3}),
        // Counts that do not add up to the products sent.
        json!({"status": "success", "processed": 1, "unprocessed": []}),
    ];
    for reply in replies {
        let replay = Replay::always(Reply::json(200, &reply));
        let run = env
            .at(&replay.url, "sandbox-clevertap", &args)
            .expect_code(1);
        let summary = run.json();
        assert_eq!(summary["accepted"], 0, "{reply}");
        assert_eq!(summary["unconfirmed"], 3, "{reply}");
        assert!(
            run.error_line().contains("unexpected response"),
            "{reply}: {}",
            run.error_line()
        );
    }
}

/// The signed-URL flow against replayed replies; the signed URL points back at the replay
/// server, as an object store's would point at the store.
fn upload_replay(complete: Reply) -> Replay {
    Replay::start(
        move |request| match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/v2/catalogs/signedurl") => {
                let mut reply = fixture("clevertap", "signedurl-single.json");
                let host = request.header("Host").unwrap_or("127.0.0.1");
                reply["signedUrl"] = json!(format!(
                    "http://{host}/bucket/123/products.csv?X-Amz-Signature=0123abcd"
                ));
                Reply::json(200, &reply)
            }
            ("PUT", "/bucket/123/products.csv") => Reply::new(200, "text/plain", ""),
            ("POST", "/v2/catalogs/signedurl/complete") => complete.clone(),
            _ => Reply::json(404, &json!({"status": "fail", "error": "no such route"})),
        },
    )
}

#[test]
fn clevertap_upload_follows_the_documented_signed_url_flow_and_reports_the_job() {
    let env = Env::new();
    env.write("products.csv", PRODUCTS_CSV);
    let replay = upload_replay(Reply::fixture(200, "clevertap", "signedurl-complete.json"));
    let args = [
        "bulk",
        "upsert",
        "products.csv",
        "--catalog",
        "123",
        "--id-field",
        "sku",
        "--upload",
        "--by",
        "ops@example.com",
    ];
    let summary = env.at(&replay.url, "sandbox-clevertap", &args).ok().json();
    assert_eq!(summary["job_id"], "job_4b1d8e60");
    assert_eq!(summary["job_status"], "PROCESSING");
    assert_eq!(summary["estimated_completion_time"], "2026-01-15T10:30:00Z");
    assert_eq!(summary["accepted"], Value::Null);
    let requests = replay.received();
    let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["GET", "PUT", "POST"]);
    let (get, put, post) = (&requests[0], &requests[1], &requests[2]);
    // The upload pages are v2 catalog pages: X-Account-Id + X-CleverTap-Token.
    assert_eq!(get.header("X-CleverTap-Token"), Some("sandbox-token"));
    assert!(get.header("X-Account-Id").is_some());
    assert_eq!(get.param("catalogId"), Some("123"));
    assert_eq!(get.param("fileName"), Some("products.csv"));
    assert_eq!(get.param("contentType"), Some("text/csv"));
    assert_eq!(get.param("multiPart"), Some("false"));
    assert_eq!(get.param("totalParts"), None);
    // A signed URL is its own credential: the passcode never goes to the store.
    for name in [
        "X-CleverTap-Token",
        "X-CleverTap-Passcode",
        "X-Account-Id",
        "X-CleverTap-Account-Id",
    ] {
        assert_eq!(put.header(name), None, "{name}");
    }
    assert_eq!(put.param("X-Amz-Signature"), Some("0123abcd"));
    assert_eq!(put.body, PRODUCTS_CSV.as_bytes());
    assert_eq!(
        put.header("Content-Length"),
        Some(PRODUCTS_CSV.len().to_string().as_str())
    );
    assert_eq!(
        post.json(),
        json!({"uploadId": "upload_7f3a9c2e", "catalogId": 123, "fileName": "products.csv",
            "fileSize": PRODUCTS_CSV.len(), "completedBy": "ops@example.com"})
    );
}

#[test]
fn clevertap_upload_completion_without_a_job_id_is_an_error() {
    let env = Env::new();
    env.write("products.csv", PRODUCTS_CSV);
    let replay = upload_replay(Reply::json(200, &json!({"status": "PROCESSING"})));
    let args = [
        "bulk",
        "upsert",
        "products.csv",
        "--catalog",
        "123",
        "--id-field",
        "sku",
        "--upload",
        "--by",
        "ops@example.com",
    ];
    let run = env
        .at(&replay.url, "sandbox-clevertap", &args)
        .expect_code(1);
    assert!(
        run.error_line()
            .contains("unexpected response: missing field `jobId`"),
        "{}",
        run.error_line()
    );
    assert!(
        run.stdout.is_empty(),
        "no summary as if handed over: {}",
        run.stdout
    );
}

// ---------------------------------------------------------------- rastro

#[test]
fn rastro_catalogs_list_reads_both_documented_shapes_and_pages_by_limit_and_offset() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "rastro", "catalogs-list-excerpt.json"));
    let run = env.at(&replay.url, "sandbox", &["catalogs", "list"]).ok();
    assert_eq!(
        run.json(),
        fixture("rastro", "catalogs-list-excerpt.json")["catalogs"]
    );
    let request = &replay.received()[0];
    assert_eq!(request.path, "/public/catalogs");
    assert_eq!(
        (request.param("limit"), request.param("offset")),
        (Some("100"), Some("0"))
    );

    let replay = Replay::start(|request| {
        let offset: u64 = request.param("offset").unwrap_or("0").parse().unwrap();
        let limit: u64 = request.param("limit").unwrap_or("10").parse().unwrap();
        let mut body = fixture("rastro", "catalogs-list.json");
        let template = body["catalogs"][0].clone();
        let catalogs: Vec<Value> = (offset..(offset + limit).min(150))
            .map(|n| {
                let mut catalog = template.clone();
                catalog["id"] = json!(format!("cat_{n:03}"));
                catalog
            })
            .collect();
        body["catalogs"] = json!(catalogs);
        body["total_count"] = json!(150);
        Reply::json(200, &body)
    });
    let all = env
        .at(&replay.url, "sandbox", &["catalogs", "list", "--all"])
        .ok();
    let listed = ids(&all.json());
    assert_eq!(listed.len(), 150);
    assert_eq!(listed[149], "cat_149");
    let offsets: Vec<String> = replay
        .received()
        .iter()
        .map(|r| r.param("offset").unwrap_or_default().to_string())
        .collect();
    assert_eq!(offsets, ["0", "100"]);
}

#[test]
fn rastro_catalog_get_update_and_delete_read_the_documented_replies() {
    let env = Env::new();
    let replay = Replay::start(|request| match request.method.as_str() {
        "GET" | "PUT" => Reply::fixture(200, "rastro", "catalog.json"),
        "DELETE" => Reply::fixture(200, "rastro", "catalog-deleted.json"),
        _ => Reply::json(405, &json!({"detail": "Method Not Allowed"})),
    });
    let got = env
        .at(&replay.url, "sandbox", &["catalogs", "get", "cat_123"])
        .ok();
    assert_eq!(got.json(), fixture("rastro", "catalog.json"));

    let args = [
        "catalogs",
        "update",
        "cat_123",
        "--name",
        "Shoes",
        "--json",
        r#"{"strict_mode":true}"#,
    ];
    let updated = env.at(&replay.url, "sandbox", &args).ok();
    assert_eq!(updated.json()["id"], "cat_123");
    let put = &replay.received()[1];
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        ("PUT", "/public/catalogs/cat_123")
    );
    assert_eq!(
        put.json(),
        json!({"strict_mode": true, "name": "Shoes"}),
        "a partial update sends only the keys given"
    );

    let deleted = env
        .at(
            &replay.url,
            "sandbox",
            &["catalogs", "delete", "cat_123", "--yes"],
        )
        .ok();
    assert_eq!(deleted.json(), fixture("rastro", "catalog-deleted.json"));
    assert_eq!(replay.received()[2].method, "DELETE");

    // A get that answers something else than a catalog is an error, not an empty object.
    let replay = Replay::always(Reply::json(200, &json!({"catalogs": []})));
    let run = env
        .at(&replay.url, "sandbox", &["catalogs", "get", "cat_123"])
        .expect_code(1);
    assert!(
        run.error_line().contains("GET /public/catalogs/cat_123"),
        "{}",
        run.stderr
    );
}

#[test]
fn rastro_nested_items_print_flat_in_every_format() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "rastro", "items-page-nested.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox",
            &["items", "list", "--catalog", "cat_123"],
        )
        .ok();
    assert_eq!(
        run.json()[0],
        json!({"id": "2b7e9c1e-4f1a-4c8e-9d3b-7a6f5e4d3c2b", "sku": "A1", "title": "Product A", "price": 29.99})
    );
    let request = &replay.received()[0];
    // Both documented paging forms at once: the excerpt's page, the client's offset.
    assert_eq!(
        (
            request.param("page"),
            request.param("limit"),
            request.param("offset")
        ),
        (Some("1"), Some("100"), Some("0"))
    );
    let csv = env.run(&[
        "-p",
        "sandbox",
        "--base-url",
        &replay.url,
        "items",
        "list",
        "--catalog",
        "cat_123",
        "-o",
        "csv",
        "--columns",
        "sku,price",
    ]);
    assert_eq!(csv.ok().stdout, "sku,price\nA1,29.99\nA2,39.99\n");
    let jq = env.at(
        &replay.url,
        "sandbox",
        &["items", "list", "--catalog", "c", "--jq", ".[1].title"],
    );
    assert_eq!(jq.ok().stdout.trim(), "Product B");

    let replay = Replay::always(Reply::fixture(200, "rastro", "item-nested.json"));
    let item = env
        .at(
            &replay.url,
            "sandbox",
            &["items", "get", "--catalog", "c", "item_123"],
        )
        .ok();
    assert_eq!(item.json(), fixture("rastro", "item.json"));
}

#[test]
fn rastro_items_list_all_stops_when_a_server_repeats_the_first_page() {
    let env = Env::new();
    // total 150 but every page is the same one item: a server that ignores page and offset.
    let replay = Replay::always(Reply::fixture(200, "rastro", "items-page.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox",
            &["items", "list", "--catalog", "c", "--all"],
        )
        .expect_code(1);
    assert!(
        run.error_line().contains("repeats the page before it"),
        "{}",
        run.stderr
    );
    assert_eq!(replay.received().len(), 2, "it stops at the first repeat");
    assert_eq!(
        run.json().as_array().map(Vec::len),
        Some(1),
        "stdout stays valid JSON"
    );
}

#[test]
fn rastro_items_update_sends_the_whole_item_unless_partial() {
    let env = Env::new();
    let replay = Replay::start(|request| match request.method.as_str() {
        "GET" => Reply::fixture(200, "rastro", "item-nested.json"),
        _ => {
            let mut echoed = request.json();
            echoed["id"] = json!("item_123");
            Reply::json(200, &echoed)
        }
    });
    let args = [
        "items",
        "update",
        "--catalog",
        "c",
        "item_123",
        "--set",
        "price:number=24.99",
        "-v",
    ];
    let run = env.at(&replay.url, "sandbox", &args).ok();
    let requests = replay.received();
    assert_eq!(
        requests
            .iter()
            .map(|r| r.method.as_str())
            .collect::<Vec<_>>(),
        ["GET", "PUT"]
    );
    assert_eq!(
        requests[1].json(),
        json!({"sku": "A1", "title": "Product A", "price": 24.99}),
        "every field goes back, so a replacing PUT drops none"
    );
    assert!(
        run.stderr.contains("price: 29.99 → 24.99"),
        "-v shows the change: {}",
        run.stderr
    );
    assert_eq!(run.json()["title"], "Product A");

    let replay = Replay::start(|request| {
        Reply::json(
            200,
            &json!({"id": "item_123", "price": request.json()["price"]}),
        )
    });
    let mut partial = args.to_vec();
    partial.push("--partial");
    env.at(&replay.url, "sandbox", &partial).ok();
    let requests = replay.received();
    assert_eq!(requests.len(), 1, "--partial does not read the item");
    assert_eq!(requests[0].json(), json!({"price": 24.99}));
}

fn products_csv(env: &Env, rows: usize) -> String {
    env.write("products.csv", &common::product_csv(rows));
    "products.csv".to_string()
}

#[test]
fn rastro_bulk_reads_both_documented_reply_shapes() {
    let env = Env::new();
    let file = products_csv(&env, 20);
    for (fixture_name, created, updated) in [
        ("bulk-reply-excerpt.json", 10, 5),
        ("bulk-reply.json", 10, 5),
    ] {
        let replay = Replay::always(Reply::fixture(200, "rastro", fixture_name));
        let run = env
            .at(
                &replay.url,
                "sandbox",
                &["bulk", "upsert", &file, "--catalog", "c", "-q"],
            )
            .ok();
        let summary = run.json();
        assert_eq!(
            (&summary["created"], &summary["updated"]),
            (&json!(created), &json!(updated)),
            "{fixture_name}"
        );
        assert_eq!(summary["accepted"], 20, "{fixture_name}");
    }
}

#[test]
fn rastro_bulk_an_unknown_reply_stops_the_run_and_leaves_the_rows_to_resume() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let env = Env::new();
    let file = products_csv(&env, 2500);
    // The same server (a resume must go to the one the journal was written for), first
    // answering in a shape no rastro page documents, then as documented.
    let fixed = Arc::new(AtomicBool::new(false));
    let replay = Replay::start({
        let fixed = fixed.clone();
        move |_| {
            if fixed.load(Ordering::Relaxed) {
                Reply::fixture(200, "rastro", "bulk-reply-excerpt.json")
            } else {
                Reply::json(200, &json!({"status": "queued"}))
            }
        }
    });
    let args = [
        "bulk",
        "upsert",
        &file,
        "--catalog",
        "c",
        "--journal",
        "p.journal",
        "--concurrency",
        "1",
    ];
    let run = env.at(&replay.url, "sandbox", &args).expect_code(1);
    let error = run.error_line();
    assert!(error.contains("unexpected response"), "{error}");
    assert!(error.contains("created/updated/failed"), "{error}");
    let summary = run.json();
    assert_eq!(
        summary["accepted"], 0,
        "a reply we cannot read accepts nothing"
    );
    assert_eq!(summary["unconfirmed"], 1000, "the chunk sent: {summary}");
    assert_eq!(
        summary["not_sent"].as_u64().unwrap() + 1000,
        summary["rows_read"].as_u64().unwrap(),
        "{summary}"
    );
    assert!(run.stderr.contains("hint: resume with:"), "{}", run.stderr);
    assert_eq!(
        replay.received().len(),
        1,
        "the run stops at the first unreadable reply"
    );

    fixed.store(true, Ordering::Relaxed);
    let mut resume = args.to_vec();
    resume.push("--resume");
    let resumed = env.at(&replay.url, "sandbox", &resume).ok();
    assert_eq!(resumed.json()["accepted"], 2500, "every row is sent again");
}

#[test]
fn rastro_errors_show_fastapi_details() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(404, "rastro", "error-detail.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox",
            &["items", "get", "--catalog", "cat_nope", "x"],
        )
        .expect_code(5);
    assert!(
        run.error_line()
            .ends_with("404 Not Found: Catalog cat_nope not found"),
        "{}",
        run.stderr
    );
    let replay = Replay::always(Reply::fixture(422, "rastro", "error-validation.json"));
    let run = env
        .at(&replay.url, "sandbox", &["catalogs", "list"])
        .expect_code(1);
    assert!(
        run.error_line().contains("value is not a valid float"),
        "{}",
        run.stderr
    );
}

#[test]
fn rastro_enrichment_replies_print_as_documented() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "rastro", "enrich-completed.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox",
            &["enrich", "status", "--catalog", "c", "job_abc123"],
        )
        .ok();
    assert_eq!(run.json(), fixture("rastro", "enrich-completed.json"));
    let replay = Replay::always(Reply::json(200, &json!({"ok": true})));
    let run = env
        .at(
            &replay.url,
            "sandbox",
            &["enrich", "status", "--catalog", "c", "j"],
        )
        .expect_code(1);
    assert!(
        run.error_line().contains("without job_id or status"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- batch

#[test]
fn batch_bulk_keeps_the_indexing_token_and_every_body_fits_the_openapi_schema() {
    let env = Env::new();
    let schema = OpenApi::batch().request("POST", "/catalogs/items/edit");
    let replay = Replay::always(Reply::fixture(202, "batch", "items-edit-accepted.json"));
    let movies = format!("{}/examples/movies.csv", env!("CARGO_MANIFEST_DIR"));
    let run = env
        .at(
            &replay.url,
            "sandbox-batch",
            &[
                "bulk",
                "upsert",
                &movies,
                "--catalog",
                "MOVIES",
                "--rate",
                "1000",
                "-q",
            ],
        )
        .ok();
    let summary = run.json();
    assert_eq!(summary["accepted"], 500);
    assert_eq!(
        summary["indexing_token"],
        fixture("batch", "items-edit-accepted.json")["indexing_token"]
    );
    let requests = replay.received();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.path, "/catalogs/items/edit");
        assert!(request.header("X-Batch-Project").is_some());
        schema.check(&request.json());
    }
    let removals = env.write("gone.csv", "id\nmov-0001\nmov-0002\n");
    let replay = Replay::always(Reply::fixture(202, "batch", "items-edit-accepted.json"));
    env.at(
        &replay.url,
        "sandbox-batch",
        &[
            "bulk",
            "remove",
            removals.to_str().unwrap(),
            "--catalog",
            "MOVIES",
            "-q",
        ],
    )
    .ok();
    schema.check(&replay.received()[0].json());
    // The check can fail: a body off the schema is caught.
    assert!(!schema.fits(&json!({"name": "MOVIES", "items": [{"id": 1, "action": "add"}]})));
    assert!(!schema.fits(&json!({"name": "MOVIES", "items": []})));
}

#[test]
fn batch_a_2xx_without_the_token_accepts_nothing() {
    let env = Env::new();
    let file = env.write("ids.csv", "id,title\na,A\nb,B\n");
    for reply in [
        Reply::new(
            200,
            "text/html",
            "<html><body>Welcome to the proxy</body></html>",
        ),
        Reply::json(200, &json!({})),
    ] {
        let replay = Replay::always(reply);
        let run = env
            .at(
                &replay.url,
                "sandbox-batch",
                &[
                    "bulk",
                    "upsert",
                    file.to_str().unwrap(),
                    "--catalog",
                    "demo",
                ],
            )
            .expect_code(1);
        assert!(
            run.error_line()
                .contains("batch: POST /catalogs/items/edit: unexpected response"),
            "{}",
            run.stderr
        );
        assert_eq!(run.json()["accepted"], 0);
    }
}

#[test]
fn batch_a_refusal_of_the_whole_request_stops_after_one_split() {
    let env = Env::new();
    let mut csv = String::from("id,colour\n");
    for n in 0..450 {
        csv.push_str(&format!("m{n},red\n"));
    }
    env.write("colours.csv", &csv);
    let replay = Replay::always(Reply::fixture(400, "batch", "error-unknown-attribute.json"));
    let args = [
        "bulk",
        "upsert",
        "colours.csv",
        "--catalog",
        "MOVIES",
        "--journal",
        "c.journal",
        "--concurrency",
        "1",
        "--rate",
        "1000",
    ];
    let run = env.at(&replay.url, "sandbox-batch", &args).expect_code(1);
    assert!(
        run.error_line()
            .contains("does not exist in the schema of catalog"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("both halves"), "{}", run.stderr);
    assert_eq!(replay.received().len(), 3, "the chunk, then its two halves");
    let summary = run.json();
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(
        summary["failed"], 200,
        "the refused chunk's rows: {summary}"
    );
    let failed = env.read("colours.rejects.ndjson");
    assert_eq!(failed.lines().count(), 200);
    assert!(failed
        .lines()
        .all(|l| l.contains("failed: 400 Bad Request: Attribute 'colour'")));
}

#[test]
fn batch_error_bodies_give_their_message() {
    let env = Env::new();
    let file = env.write("ids.csv", "id\na\n");
    let replay = Replay::always(Reply::fixture(401, "batch", "error-unauthorized.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-batch",
            &[
                "bulk",
                "upsert",
                file.to_str().unwrap(),
                "--catalog",
                "demo",
            ],
        )
        .expect_code(4);
    assert!(
        run.error_line()
            .ends_with("The Rest API Key is not valid for this project (AUTHENTICATION_INVALID)"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- catalogix

fn images_csv(env: &Env, rows: usize) -> String {
    let mut csv = String::from("parent_code,Image URL 1\n");
    for n in 0..rows {
        csv.push_str(&format!("P{n:05},https://cdn.example.com/{n}.jpg\n"));
    }
    env.write("images.csv", &csv);
    "images.csv".to_string()
}

#[test]
fn catalogix_the_documented_success_body_accepts_every_row() {
    let env = Env::new();
    let file = images_csv(&env, 230);
    let schema = OpenApi::catalogix().request("POST", "/assets");
    let replay = Replay::always(Reply::fixture(200, "catalogix", "assets-upserted.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &["assets", "upsert", &file, "-q"],
        )
        .ok();
    let summary = run.json();
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&json!(230), &json!(0))
    );
    let requests = replay.received();
    assert_eq!(
        requests.len(),
        3,
        "100 + 100 + 30, no splitting over `error_info: [{{}}]`"
    );
    for request in &requests {
        assert_eq!(request.path, "/assets");
        assert_eq!(request.param("store_uuid"), Some("store_demo"));
        assert_eq!(request.param("channel"), Some("SMP"));
        schema.check(&request.json());
    }
    assert!(
        !schema.fits(&json!([{"parent_code": "P", "assets": {"a": "https://x/y"}}])),
        "asset_type is required"
    );
}

#[test]
fn catalogix_a_200_with_status_minus_one_accepts_nothing() {
    let env = Env::new();
    let file = images_csv(&env, 230);
    let replay = Replay::always(Reply::fixture(200, "catalogix", "assets-refused.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &["assets", "upsert", &file, "--concurrency", "1"],
        )
        .expect_code(1);
    assert!(
        run.error_line()
            .contains("catalogix: POST /assets: refused: ERROR"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["accepted"], 0);
    assert_eq!(
        replay.received().len(),
        3,
        "the chunk and its halves, all refused alike"
    );
}

#[test]
fn catalogix_error_bodies_of_every_documented_shape() {
    let env = Env::new();
    let file = images_csv(&env, 1);
    let cases = [
        (400, "error-validation.json", 3, "store_uuid is required"),
        (
            400,
            "error-get-assets.json",
            3,
            "store_uuid is required (invalid_request)",
        ),
        (
            401,
            "error-unauthorized.json",
            4,
            "Unauthorized – invalid or missing Bearer token",
        ),
    ];
    for (status, name, code, message) in cases {
        let replay = Replay::always(Reply::fixture(status, "catalogix", name));
        let run = env
            .at(
                &replay.url,
                "sandbox-catalogix",
                &["assets", "upsert", &file],
            )
            .expect_code(code);
        let shown = format!("{}{}", run.stderr, env.read("images.rejects.ndjson"));
        assert!(shown.contains(message), "{name}: {shown}");
    }
    let replay = Replay::always(Reply::fixture(500, "catalogix", "error-internal.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &["assets", "upsert", &file, "--max-retries", "0"],
        )
        .expect_code(3);
    assert!(
        env.read("images.rejects.ndjson")
            .contains("Internal server error"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- both OpenAPI vendors

/// Every file the tests import into batch or catalogix, sent to a server that accepts all:
/// each request body catops builds from them must fit the vendor's request schema.
#[test]
fn every_body_built_from_the_test_inputs_fits_the_openapi_schemas() {
    let env = Env::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<(String, std::path::PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(root.join("tests/fixtures/bad")).expect("bad inputs") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for vendor in ["batch", "catalogix"] {
            if name.starts_with(&format!("{vendor}_")) {
                inputs.push((vendor.to_string(), path.clone()));
            }
        }
    }
    for example in ["movies.csv", "gone.csv"] {
        inputs.push(("batch".into(), root.join("examples").join(example)));
    }
    inputs.push(("catalogix".into(), root.join("examples/images.csv")));
    let batch = OpenApi::batch().request("POST", "/catalogs/items/edit");
    let catalogix = OpenApi::catalogix().request("POST", "/assets");
    let mut bodies = 0;
    for (vendor, path) in &inputs {
        let input = path.to_str().unwrap();
        let (reply, profile, args, schema) = match vendor.as_str() {
            "batch" => (
                Reply::fixture(202, "batch", "items-edit-accepted.json"),
                "sandbox-batch",
                vec![
                    "bulk",
                    if input.ends_with("gone.csv") {
                        "remove"
                    } else {
                        "upsert"
                    },
                    input,
                    "--catalog",
                    "demo",
                    "--rate",
                    "1000",
                    "--item-rate",
                    "100000",
                ],
                &batch,
            ),
            _ => (
                Reply::fixture(200, "catalogix", "assets-upserted.json"),
                "sandbox-catalogix",
                vec!["assets", "upsert", input],
                &catalogix,
            ),
        };
        let replay = Replay::always(reply);
        let mut full = args.clone();
        full.extend(["-q", "--rejects", "r.ndjson"]);
        let run = env.at(&replay.url, profile, &full);
        assert!(
            matches!(run.code, 0 | 2 | 3),
            "{input}: exit {}: {}",
            run.code,
            run.stderr
        );
        for request in replay.received() {
            schema.check(&request.json());
            bodies += 1;
        }
    }
    assert!(bodies >= 20, "only {bodies} bodies were checked");
}

/// The sandbox's replies to batch and catalogix, checked against the documented response
/// schemas, for each status it answers.
#[test]
fn the_sandbox_replies_fit_the_openapi_schemas() {
    let sandbox = common::Sandbox::start();
    let bearer = format!("Bearer {}", common::TOKEN);
    let batch = OpenApi::batch();
    let edit = "/batch/2.11/catalogs/items/edit";
    let headers = [
        ("Authorization", bearer.as_str()),
        ("X-Batch-Project", "contract"),
    ];
    let good = json!({"name": "demo", "items": [{"id": "1", "action": "add", "attributes": {"title": "A"}}]});
    let (status, reply) = sandbox.call_json("POST", edit, &headers, Some(&good));
    assert_eq!(status, 202, "{reply}");
    batch
        .response("POST", "/catalogs/items/edit", 202)
        .check(&reply);
    assert!(reply["indexing_token"].is_string());
    let (status, reply) = sandbox.call_json("POST", edit, &[("X-Batch-Project", "p")], Some(&good));
    assert_eq!(status, 401);
    batch
        .response("POST", "/catalogs/items/edit", 401)
        .check(&reply);
    let bad = json!({"name": "demo", "items": [{"id": "1", "action": "add", "attributes": {"Bad Key": 1}}]});
    let (status, reply) = sandbox.call_json("POST", edit, &headers, Some(&bad));
    assert_eq!(status, 400);
    batch.component("Error").check(&reply);
    let mut limited = None;
    for _ in 0..20 {
        let (status, reply) = sandbox.call_json("POST", edit, &headers, Some(&good));
        if status == 429 {
            limited = Some(reply);
            break;
        }
    }
    let limited = limited.expect("the sandbox enforces 5 requests/s");
    batch
        .response("POST", "/catalogs/items/edit", 429)
        .check(&limited);

    let catalogix = OpenApi::catalogix();
    let assets = "/catalogix/v1/assets?store_uuid=store_demo&channel=SMP";
    let items = json!([
        {"parent_code": "P1", "asset_type": "image", "assets": {"Image URL 1": "https://cdn.example.com/1.jpg"}},
        {"parent_code": "P2", "asset_type": "image", "assets": {"Image URL 1": "not a url"}}
    ]);
    let auth = [("Authorization", bearer.as_str())];
    let (status, reply) = sandbox.call_json("POST", assets, &auth, Some(&items));
    assert_eq!(status, 200, "{reply}");
    catalogix.response("POST", "/assets", 200).check(&reply);
    assert_eq!(reply["data"]["failed"], 1);
    let (status, reply) = sandbox.call_json("POST", "/catalogix/v1/assets", &auth, Some(&items));
    assert_eq!(status, 400, "{reply}");
    catalogix.response("POST", "/assets", 400).check(&reply);
    let (status, reply) = sandbox.call_json("POST", assets, &[], Some(&items));
    assert_eq!(status, 401);
    catalogix.response("POST", "/assets", 401).check(&reply);
    // The checks can fail: the other shapes do not pass for these.
    assert!(!catalogix
        .response("POST", "/assets", 400)
        .fits(&json!({"status": {"code": -1}})));
    assert!(!batch
        .response("POST", "/catalogs/items/edit", 401)
        .fits(&json!({"error": "x"})));
}

// ---------------------------------------------------------------- catalogian

#[test]
fn catalogian_documented_replies_print_their_records() {
    let env = Env::new();
    let replay = Replay::start(|request| {
        let name = match request.path.as_str() {
            "/v1/sources" => "sources.json",
            path if path.ends_with("/delta/latest") => "delta-latest.json",
            path if path.ends_with("/rows") => "rows.json",
            _ => "delta.json",
        };
        Reply::fixture(200, "catalogian", name)
    });
    let profile = "sandbox-catalogian";
    let sources = env.at(&replay.url, profile, &["delta", "sources"]).ok();
    assert_eq!(sources.json(), fixture("catalogian", "sources.json"));
    let events = env.at(&replay.url, profile, &["delta", "list"]).ok();
    assert_eq!(events.json(), fixture("catalogian", "delta.json")["events"]);
    let latest = env.at(&replay.url, profile, &["delta", "latest", "s"]).ok();
    assert_eq!(latest.json(), fixture("catalogian", "delta-latest.json"));
    let rows = env
        .at(
            &replay.url,
            profile,
            &["delta", "rows", "s", "evt_1", "--limit", "200"],
        )
        .ok();
    assert_eq!(rows.json(), fixture("catalogian", "rows.json")["rows"]);
    let last = replay.received().pop().unwrap();
    assert_eq!(last.path, "/v1/sources/s/delta/evt_1/rows");
    assert_eq!(last.param("limit"), Some("200"));
}

#[test]
fn catalogian_rows_pages_are_capped_at_200_and_must_be_under_rows() {
    let env = Env::new();
    let replay = Replay::always(Reply::json(
        200,
        &json!({"hasMore": false, "data": [{"key": "x"}]}),
    ));
    let profile = "sandbox-catalogian";
    let run = env
        .at(
            &replay.url,
            profile,
            &["delta", "rows", "s", "e", "--limit", "201"],
        )
        .expect_code(2);
    assert!(run.stderr.contains("201"), "{}", run.stderr);
    let run = env
        .at(&replay.url, profile, &["delta", "rows", "s", "e"])
        .expect_code(1);
    assert!(
        run.error_line().contains("missing field `rows`"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("[]"), "{}", run.stdout);
}

#[test]
fn catalogian_errors_give_the_scope_hint() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(403, "catalogian", "error-scope.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogian",
            &["delta", "rows", "s", "e"],
        )
        .expect_code(4);
    assert!(
        run.error_line()
            .ends_with("403 Forbidden: API key lacks required scope"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: the key lacks a scope"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------- secrets

#[test]
fn a_one_letter_token_does_not_mangle_messages() {
    let env = Env::new();
    let replay = Replay::always(Reply::json(
        404,
        &json!({"detail": "catalog not found: a is bad"}),
    ));
    let run = with_env(
        &env,
        &replay,
        "sandbox",
        &["items", "get", "--catalog", "cat_a", "x"],
        &[("CATOPS_TOKEN", "a")],
    )
    .expect_code(5);
    let error = run.error_line();
    assert!(
        error.contains(
            "GET /public/catalogs/cat_a/items/x: 404 Not Found: catalog not found: *** is bad"
        ),
        "{error}"
    );
}

#[test]
fn an_echoed_token_is_redacted_in_every_escaped_form() {
    let env = Env::new();
    let token = r#"sk_live/AbC+123/xyz="q\"#;
    let echo = Reply::new(
        400,
        "application/json",
        r#"{"detail":"bad token sk_live\/AbC+123\/xyz=\"q\\ in sk_live%2FAbC%2B123%2Fxyz%3D%22q%5C"}"#,
    );
    let replay = Replay::always(echo);
    let run = with_env(
        &env,
        &replay,
        "sandbox",
        &["-vv", "catalogs", "list"],
        &[("CATOPS_TOKEN", token)],
    )
    .expect_code(1);
    assert!(!run.stderr.contains("AbC"), "{}", run.stderr);
    assert!(run.stderr.contains("bad token ***"), "{}", run.stderr);
}
