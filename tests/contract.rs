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
fn clevertap_catalog_changes_send_the_whole_catalog_and_who_made_them() {
    let env = Env::new();
    let replay = Replay::start(
        |request| match (request.method.as_str(), request.path.as_str()) {
            ("PUT", path) if path.starts_with("/v2/catalogs/delete/") => {
                Reply::fixture(200, "clevertap", "delete-catalog.json")
            }
            _ => Reply::fixture(200, "clevertap", "get-catalog.json"),
        },
    );
    let by = ["--by", "ops@example.com"];
    let mut args = vec![
        "catalogs",
        "update",
        "123",
        "--description",
        "New",
        "--field",
        "+color:string",
    ];
    args.extend(by);
    let updated = env.at(&replay.url, "sandbox-clevertap", &args).ok();
    assert_eq!(updated.json()["id"], 123);
    let got = replay.received();
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("GET", "/v2/catalogs/123")
    );
    assert_eq!(
        (got[1].method.as_str(), got[1].path.as_str()),
        ("PUT", "/v2/catalogs/123")
    );
    let sent = got[1].json();
    let documented = fixture("clevertap", "get-catalog.json");
    assert_eq!(
        sent["catalogName"], documented["catalogName"],
        "a full update sends what stays"
    );
    assert_eq!(sent["description"], "New");
    assert_eq!(sent["updatedBy"], "ops@example.com");
    let names: Vec<&Value> = sent["catalogSchema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["name"])
        .collect();
    assert_eq!(names, [&json!("brand"), &json!("price"), &json!("color")]);

    let mut args = vec!["catalogs", "delete", "123", "--yes"];
    args.extend(by);
    let deleted = env.at(&replay.url, "sandbox-clevertap", &args).ok();
    assert_eq!(deleted.json(), fixture("clevertap", "delete-catalog.json"));
    let delete = &replay.received()[2];
    assert_eq!(
        (delete.method.as_str(), delete.path.as_str()),
        ("PUT", "/v2/catalogs/delete/123")
    );
    assert_eq!(delete.param("deletedBy"), Some("ops@example.com"));

    let mut args = vec!["catalogs", "filterable", "123", "brand", "off"];
    args.extend(by);
    env.at(&replay.url, "sandbox-clevertap", &args).ok();
    let patch = &replay.received()[3];
    assert_eq!(patch.method, "PATCH");
    assert_eq!(
        patch.path,
        "/v2/catalogs/123/schema/attributes/brand/filterable"
    );
    assert_eq!(
        (patch.param("filterable"), patch.param("updatedBy")),
        (Some("false"), Some("ops@example.com"))
    );

    // Without --by or the profile's user_email nothing is sent.
    let before = replay.received().len();
    let run = env
        .at(
            &replay.url,
            "sandbox-clevertap",
            &["catalogs", "delete", "123", "--yes"],
        )
        .expect_code(2);
    assert!(run.error_line().contains("--by"), "{}", run.stderr);
    assert_eq!(replay.received().len(), before);
}

#[test]
fn clevertap_catalogs_list_sends_its_filters() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "clevertap", "list-catalogs.json"));
    let args = [
        "catalogs",
        "list",
        "--status",
        "ACTIVE",
        "--search",
        "elec",
        "--sort",
        "createdAt:asc",
    ];
    env.at(&replay.url, "sandbox-clevertap", &args).ok();
    let request = &replay.received()[0];
    assert_eq!(request.param("status"), Some("ACTIVE"));
    assert_eq!(request.param("search"), Some("elec"));
    assert_eq!(
        (request.param("sortBy"), request.param("sortOrder")),
        (Some("createdAt"), Some("ASC"))
    );
    let run = env
        .at(
            &replay.url,
            "sandbox-clevertap",
            &["catalogs", "list", "--sort", "price"],
        )
        .expect_code(2);
    assert!(run.error_line().contains("createdAt"), "{}", run.stderr);
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
fn rastro_items_search_and_sort_are_sent_as_its_client_sends_them() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "rastro", "items-page.json"));
    let args = [
        "items",
        "list",
        "--catalog",
        "cat_1",
        "--search",
        "trail shoe",
        "--sort",
        "price:desc",
    ];
    env.at(&replay.url, "sandbox", &args).ok();
    let request = &replay.received()[0];
    assert_eq!(request.param("search"), Some("trail shoe"));
    assert_eq!(
        (request.param("sort_field"), request.param("sort_order")),
        (Some("price"), Some("desc"))
    );
    let run = env
        .at(
            &replay.url,
            "sandbox",
            &[
                "items",
                "list",
                "--catalog",
                "cat_1",
                "--sort",
                "price:down",
            ],
        )
        .expect_code(2);
    assert!(run.stderr.contains("FIELD:desc"), "{}", run.stderr);
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

/// batch's documented replies by route: the catalog's view (an upsert's column check reads
/// it) and `edit` for the rest.
fn batch_replay(edit: Reply) -> Replay {
    Replay::start(move |request| {
        if request.method == "GET" && request.path == "/catalogs/view" {
            Reply::fixture(200, "batch", "catalog-view.json")
        } else {
            edit.clone()
        }
    })
}

fn posts(replay: &Replay) -> Vec<Received> {
    replay
        .received()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

#[test]
fn batch_bulk_keeps_the_indexing_token_and_every_body_fits_the_openapi_schema() {
    let env = Env::new();
    let schema = OpenApi::batch().request("POST", "/catalogs/items/edit");
    let replay = batch_replay(Reply::fixture(202, "batch", "items-edit-accepted.json"));
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
    let requests = posts(&replay);
    assert_eq!(requests.len(), 3);
    assert_eq!(
        replay.received()[0].path,
        "/catalogs/view",
        "the columns first"
    );
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
        let replay = batch_replay(reply);
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
    // NDJSON: a CSV column the catalog lacks would be refused before any request.
    let mut ndjson = String::new();
    for n in 0..450 {
        ndjson.push_str(&format!("{{\"id\":\"m{n}\",\"colour\":\"red\"}}\n"));
    }
    env.write("colours.ndjson", &ndjson);
    let replay = Replay::always(Reply::fixture(400, "batch", "error-unknown-attribute.json"));
    let args = [
        "bulk",
        "upsert",
        "colours.ndjson",
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

#[test]
fn batch_catalogs_list_follows_next_from_and_prints_every_page() {
    let env = Env::new();
    let replay = Replay::start(|request| match request.param("from") {
        None => Reply::fixture(200, "batch", "catalogs-list-first.json"),
        Some(_) => Reply::fixture(200, "batch", "catalogs-list-last.json"),
    });
    let all = env
        .at(&replay.url, "sandbox-batch", &["catalogs", "list", "--all"])
        .ok()
        .json();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["MOVIES", "SERIES", "SHORTS"]);
    let requests = replay.received();
    assert_eq!(requests[0].path, "/catalogs/list");
    assert_eq!(requests[0].param("limit"), Some("100"), "1 to 100");
    assert_eq!(requests[0].param("from"), None, "omitted on the first call");
    assert_eq!(
        requests[1].param("from"),
        fixture("batch", "catalogs-list-first.json")["next_from"].as_str()
    );
    let first = env
        .at(&replay.url, "sandbox-batch", &["catalogs", "list"])
        .ok()
        .json();
    assert_eq!(
        first,
        fixture("batch", "catalogs-list-first.json")["catalogs"]
    );
}

#[test]
fn batch_catalogs_list_that_cannot_go_on_is_an_error() {
    let env = Env::new();
    let mut page = fixture("batch", "catalogs-list-first.json");
    page.as_object_mut().unwrap().remove("next_from");
    for (reply, says) in [
        (
            Reply::json(200, &page),
            "has_more without a next_from cursor",
        ),
        (
            Reply::json(200, &json!({"items": []})),
            "missing field `catalogs`",
        ),
    ] {
        let replay = Replay::always(reply);
        let run = env
            .at(&replay.url, "sandbox-batch", &["catalogs", "list", "--all"])
            .expect_code(1);
        assert!(run.error_line().contains(says), "{}", run.stderr);
    }
}

#[test]
fn batch_catalogs_get_prints_the_view_as_returned() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "batch", "catalog-view.json"));
    let run = env
        .at(&replay.url, "sandbox-batch", &["catalogs", "get", "MOVIES"])
        .ok();
    assert_eq!(run.json(), fixture("batch", "catalog-view.json"));
    let request = &replay.received()[0];
    assert_eq!(
        (request.path.as_str(), request.param("name")),
        ("/catalogs/view", Some("MOVIES"))
    );
    let replay = Replay::always(Reply::fixture(202, "batch", "items-edit-accepted.json"));
    let run = env
        .at(&replay.url, "sandbox-batch", &["catalogs", "get", "MOVIES"])
        .expect_code(1);
    assert!(
        run.error_line()
            .contains("a catalog without name or fields"),
        "{}",
        run.stderr
    );
}

/// Answers the writes with the documented `{}` (201 for create, 202 for the others) and view
/// with the catalog.
fn batch_catalog_replay() -> Replay {
    Replay::start(|request| match request.path.as_str() {
        "/catalogs/view" => Reply::fixture(200, "batch", "catalog-view.json"),
        "/catalogs/create" => Reply::fixture(201, "batch", "catalogs-write-accepted.json"),
        _ => Reply::fixture(202, "batch", "catalogs-write-accepted.json"),
    })
}

/// catalogs/create and update as the pages describe their bodies (no OpenAPI document is
/// published for them): field names `[a-z0-9_]+`, types from the documented enum.
fn batch_field_schema(update: bool) -> Value {
    let mut field = json!({
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-z0-9_]+$", "maxLength": 250},
            "type": {"enum": ["array", "bool", "date", "float", "integer", "string", "url"]},
        },
        "additionalProperties": false,
    });
    if update {
        field["properties"]["action"] = json!({"enum": ["add", "remove"]});
        field["required"] = json!(["name", "action"]);
    } else {
        field["required"] = json!(["name", "type"]);
    }
    json!({
        "type": "object",
        "required": ["name", "fields"],
        "properties": {
            "name": {"type": "string"},
            "fields": {"type": "array", "minItems": 1, "maxItems": 25, "items": field},
        },
        "additionalProperties": false,
    })
}

fn fits(schema: &Value, body: &Value) {
    let validator = jsonschema::draft202012::new(schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{body}: {errors:?}");
}

#[test]
fn batch_catalogs_create_update_and_delete_send_the_documented_bodies() {
    let env = Env::new();
    let replay = batch_catalog_replay();
    let created = env
        .at(
            &replay.url,
            "sandbox-batch",
            &[
                "catalogs",
                "create",
                "--name",
                "MOVIES",
                "--field",
                "title",
                "--field",
                "poster:url",
                "--field",
                "released:date",
            ],
        )
        .ok()
        .json();
    assert_eq!(
        created,
        fixture("batch", "catalog-view.json"),
        "read back with view"
    );
    let received = replay.received();
    assert_eq!(
        (received[0].method.as_str(), received[0].path.as_str()),
        ("POST", "/catalogs/create")
    );
    let body = received[0].json();
    fits(&batch_field_schema(false), &body);
    assert_eq!(body["fields"][1], json!({"name": "poster", "type": "url"}));
    assert_eq!(received[1].param("name"), Some("MOVIES"));

    let replay = batch_catalog_replay();
    env.at(
        &replay.url,
        "sandbox-batch",
        &[
            "catalogs",
            "update",
            "MOVIES",
            "--field",
            "+colour:string",
            "--field",
            "-synopsis",
        ],
    )
    .ok();
    let body = replay.received()[0].json();
    fits(&batch_field_schema(true), &body);
    assert_eq!(
        body["fields"],
        json!([{"name": "colour", "type": "string", "action": "add"},
               {"action": "remove", "name": "synopsis"}])
    );

    let replay = batch_catalog_replay();
    let deleted = env
        .at(
            &replay.url,
            "sandbox-batch",
            &["catalogs", "delete", "MOVIES", "--yes"],
        )
        .ok()
        .json();
    assert_eq!(deleted, json!({"name": "MOVIES", "deleted": true}));
    assert_eq!(replay.received()[0].path, "/catalogs/remove");
    assert_eq!(replay.received()[0].json(), json!({"name": "MOVIES"}));
    // The check can fail: a field off the documented rules is caught.
    let validator = jsonschema::draft202012::new(&batch_field_schema(false)).unwrap();
    assert!(
        !validator.is_valid(&json!({"name": "M", "fields": [{"name": "Title", "type": "string"}]}))
    );
}

#[test]
fn batch_a_write_answered_with_something_else_is_an_error() {
    let env = Env::new();
    let replay = Replay::always(Reply::new(200, "text/html", "<html>proxy</html>"));
    let run = env
        .at(
            &replay.url,
            "sandbox-batch",
            &["catalogs", "delete", "MOVIES", "--yes"],
        )
        .expect_code(1);
    assert!(
        run.error_line()
            .contains("batch: POST /catalogs/remove: unexpected response"),
        "{}",
        run.stderr
    );
    let replay = Replay::always(Reply::fixture(401, "batch", "error-unauthorized.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-batch",
            &["catalogs", "create", "--name", "M", "--field", "title"],
        )
        .expect_code(4);
    assert!(
        run.error_line().contains("not valid for this project"),
        "{}",
        run.stderr
    );
}

/// The edit is accepted; view says `in_progress` (a fixture) for the first `polls` answers,
/// then APPLIED.
fn batch_indexing_replay(in_progress: &'static str, polls: usize) -> Replay {
    let seen = std::sync::atomic::AtomicUsize::new(0);
    Replay::start(move |request| {
        if request.path == "/catalogs/items/edit" {
            return Reply::fixture(202, "batch", "items-edit-accepted.json");
        }
        if request.param("indexing_token").is_none() {
            return Reply::fixture(200, "batch", "catalog-view.json");
        }
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n < polls {
            Reply::fixture(200, "batch", in_progress)
        } else {
            Reply::fixture(200, "batch", "catalog-view-applied.json")
        }
    })
}

#[test]
fn batch_wait_indexed_takes_both_spellings_of_in_progress_until_applied() {
    let env = Env::new();
    let file = env.write("m.csv", "id,title\na,A\nb,B\n");
    let token = fixture("batch", "items-edit-accepted.json")["indexing_token"].clone();
    for in_progress in [
        "catalog-view-in-progress.json",
        "catalog-view-in-process.json",
    ] {
        let replay = batch_indexing_replay(in_progress, 2);
        let run = env
            .at(
                &replay.url,
                "sandbox-batch",
                &[
                    "bulk",
                    "upsert",
                    file.to_str().unwrap(),
                    "--catalog",
                    "MOVIES",
                    "--wait-indexed",
                ],
            )
            .ok();
        assert_eq!(run.json()["indexing_state"], "APPLIED", "{in_progress}");
        let polls: Vec<Received> = replay
            .received()
            .into_iter()
            .filter(|r| r.param("indexing_token").is_some())
            .collect();
        assert_eq!(polls.len(), 3, "{in_progress}: polled until applied");
        assert_eq!(polls[0].param("indexing_token"), token.as_str());
        assert_eq!(polls[0].param("name"), Some("MOVIES"));
    }
}

#[test]
fn batch_wait_indexed_that_runs_out_or_cannot_read_the_state_is_exit_1() {
    let env = Env::new();
    env.write("m.csv", "id,title\na,A\n");
    let args = |timeout: &'static str| {
        vec![
            "bulk",
            "upsert",
            "m.csv",
            "--catalog",
            "MOVIES",
            "--wait-indexed",
            "--wait-timeout",
            timeout,
        ]
    };
    let replay = batch_indexing_replay("catalog-view-in-process.json", usize::MAX);
    let run = env
        .at(&replay.url, "sandbox-batch", &args("1"))
        .expect_code(1);
    assert_eq!(run.json()["indexing_state"], "IN_PROGRESS");
    assert_eq!(run.json()["accepted"], 1, "the import itself went through");
    assert!(
        run.error_line().contains("not applied within 1 s"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("indexing_token="), "{}", run.stderr);
    // A view without the state (the token ignored) is not an answer.
    let replay = batch_indexing_replay("catalog-view.json", usize::MAX);
    let run = env
        .at(&replay.url, "sandbox-batch", &args("30"))
        .expect_code(1);
    assert!(
        run.error_line().contains("no indexing_state"),
        "{}",
        run.stderr
    );
}

#[test]
fn batch_wait_indexed_stops_at_ctrl_c_with_exit_130_and_the_state_seen() {
    let env = Env::new();
    env.write("m.csv", "id,title\na,A\n");
    let replay = batch_indexing_replay("catalog-view-in-process.json", usize::MAX);
    let child = env
        .command()
        .args([
            "-p",
            "sandbox-batch",
            "--base-url",
            &replay.url,
            "-o",
            "json",
        ])
        .args([
            "bulk",
            "upsert",
            "m.csv",
            "--catalog",
            "MOVIES",
            "--wait-indexed",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !replay
        .received()
        .iter()
        .any(|r| r.param("indexing_token").is_some())
    {
        assert!(std::time::Instant::now() < deadline, "never polled");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted while waiting (indexing_state IN_PROGRESS)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: see where it stands: catops api"),
        "{stderr}"
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (&summary["accepted"], &summary["indexing_state"]),
        (&json!(1), &json!("IN_PROGRESS"))
    );
}

#[test]
fn batch_upsert_checks_the_columns_against_the_documented_view_before_any_edit() {
    let env = Env::new();
    env.write(
        "c.csv",
        "id,title,colour,url(poster),date(released)\na,A,red,https://x.example/a,1\n",
    );
    let replay = batch_replay(Reply::fixture(202, "batch", "items-edit-accepted.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-batch",
            &["bulk", "upsert", "c.csv", "--catalog", "MOVIES"],
        )
        .expect_code(2);
    assert!(
        run.error_line().contains(
            "catalog MOVIES has no field for the column colour (its fields: title:string"
        ),
        "{}",
        run.stderr
    );
    assert!(posts(&replay).is_empty(), "nothing was sent");
    assert!(!env.home.path().join("c.rejects.ndjson").exists());
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

#[test]
fn catalogix_assets_list_reads_the_documented_groups_and_pages_by_offset() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "catalogix", "assets-list.json"));
    let run = env
        .at(&replay.url, "sandbox-catalogix", &["assets", "list"])
        .ok();
    let groups = run.json();
    assert_eq!(groups.as_array().unwrap().len(), 1, "{groups}");
    assert_eq!(groups[0]["parent_code"], "SKU001");
    assert_eq!(groups[0]["store_uuid"], "699ec31355208b213e56059a");
    assert_eq!(groups[0]["assets"][1]["asset_id"], "def456");
    let requests = replay.received();
    assert_eq!(requests.len(), 1, "one page without --all");
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/assets")
    );
    for (key, value) in [
        ("store_uuid", "store_demo"),
        ("channel", "SMP"),
        ("asset_format", "image"),
        ("offset", "0"),
        ("limit", "50"),
    ] {
        assert_eq!(request.param(key), Some(value), "{key}");
    }
    assert_eq!(
        request.header("Authorization"),
        Some("Bearer sandbox-token")
    );

    // 10 groups in all, but the server sends the same page again: --all stops, not loops.
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &["assets", "list", "--all"],
        )
        .expect_code(1);
    assert!(
        run.error_line().contains("repeats the page before it"),
        "{}",
        run.stderr
    );
}

#[test]
fn catalogix_assets_list_all_follows_total_groups() {
    let env = Env::new();
    let replay = Replay::start(|request| {
        let offset: u64 = request.param("offset").unwrap().parse().unwrap();
        let limit: u64 = request.param("limit").unwrap().parse().unwrap();
        let mut assets = serde_json::Map::new();
        for n in offset..(offset + limit).min(120) {
            assets.insert(
                format!("P{n:03}"),
                json!({"channel": "SMP", "asset_type": "video", "store_uuid": "s",
                       "assets": [{"Video URL 1": "https://cdn.example.com/v.mp4", "asset_id": format!("id{n}")}]}),
            );
        }
        let mut body = fixture("catalogix", "assets-list.json");
        body["data"] =
            json!({"total_groups": 120, "returned_groups": assets.len(), "assets": assets});
        Reply::json(200, &body)
    });
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &[
                "assets",
                "list",
                "--all",
                "--format",
                "video",
                "--store-uuid",
                "s",
            ],
        )
        .ok();
    let codes: Vec<Value> = run
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["parent_code"].clone())
        .collect();
    assert_eq!(codes.len(), 120);
    assert_eq!((&codes[0], &codes[119]), (&json!("P000"), &json!("P119")));
    let offsets: Vec<String> = replay
        .received()
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r.param("offset").unwrap(),
                r.param("asset_format").unwrap()
            )
        })
        .collect();
    assert_eq!(offsets, ["0:video", "50:video", "100:video"]);
}

#[test]
fn catalogix_assets_list_refuses_unreadable_replies_and_shows_the_get_assets_error() {
    let env = Env::new();
    let replay = Replay::always(Reply::json(
        200,
        &json!({"status": {"code": 0, "message": "SUCCESS"}, "data": {"assets": {}}}),
    ));
    let run = env
        .at(&replay.url, "sandbox-catalogix", &["assets", "list"])
        .expect_code(1);
    assert!(
        run.error_line().contains("missing field `total_groups`"),
        "{}",
        run.stderr
    );

    let replay = Replay::always(Reply::fixture(400, "catalogix", "error-get-assets.json"));
    let run = env
        .at(&replay.url, "sandbox-catalogix", &["assets", "list"])
        .expect_code(1);
    assert!(
        run.error_line()
            .ends_with("store_uuid is required (invalid_request)"),
        "{}",
        run.stderr
    );
}

#[test]
fn catalogix_assets_delete_sends_documented_items_and_reads_the_documented_reply() {
    let env = Env::new();
    env.write("gone.csv", "parent_code,asset_id\nSKU001,id1\nSKU002,id2\n");
    let replay = Replay::always(Reply::fixture(200, "catalogix", "assets-deleted.json"));
    let summary = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &["assets", "delete", "gone.csv", "--yes", "-q"],
        )
        .ok()
        .json();
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&json!(2), &json!(0))
    );
    assert_eq!(summary["created"], Value::Null);
    let requests = replay.received();
    assert_eq!(
        requests.len(),
        1,
        "failed 0 and error_info [{{}}]: no splitting"
    );
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("DELETE", "/asset")
    );
    assert_eq!(
        requests[0].json(),
        json!([
            {"parent_code": "SKU001", "asset_id": ["id1"], "store_uuid": "store_demo", "channel": "SMP"},
            {"parent_code": "SKU002", "asset_id": ["id2"], "store_uuid": "store_demo", "channel": "SMP"}
        ])
    );
}

#[test]
fn catalogix_assets_delete_falls_back_to_the_mirrors_path() {
    let env = Env::new();
    let mut csv = String::from("asset_id\n");
    for n in 0..150 {
        csv.push_str(&format!("id{n}\n"));
    }
    env.write("ids.csv", &csv);
    // A server that serves delete-asset only at `/assets`, as the mintlify mirror writes it.
    let replay = Replay::start(|request| match request.path.as_str() {
        "/assets" => Reply::fixture(200, "catalogix", "assets-deleted.json"),
        _ => Reply::json(405, &json!({"detail": "Method Not Allowed"})),
    });
    let summary = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &[
                "assets",
                "delete",
                "ids.csv",
                "--yes",
                "--concurrency",
                "1",
                "-q",
            ],
        )
        .ok()
        .json();
    assert_eq!(summary["accepted"], 150);
    let paths: Vec<String> = replay.received().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/asset", "/assets", "/assets"],
        "the second chunk goes straight to /assets"
    );
}

#[test]
fn catalogix_failures_without_an_index_are_found_by_splitting_only_when_failed_is_above_zero() {
    let env = Env::new();
    env.write("un.csv", "parent_code,asset_id\nA,1\nB,2\nBAD,3\nC,4\n");
    let replay = Replay::start(|request| {
        let items = request.json();
        let bad = items
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["parent_code"] == "BAD")
            .count();
        let mut body = fixture("catalogix", "assets-unlinked.json");
        body["data"] = json!({
            "unlinked": items.as_array().unwrap().len() - bad,
            "failed": bad,
            // Untyped entries, no index: which item failed is not said.
            "error_info": if bad > 0 { json!([{"reason": "invalid_request", "details": "unknown parent"}]) } else { json!([{}]) },
        });
        Reply::json(200, &body)
    });
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &["assets", "unlink", "un.csv", "--yes", "--concurrency", "1"],
        )
        .expect_code(3);
    let summary = run.json();
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&json!(3), &json!(1))
    );
    let rejects = env.rejects("un.rejects.ndjson");
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0]["record"]["parent_code"], "BAD");
    let requests = replay.received();
    assert!(requests
        .iter()
        .all(|r| r.method == "POST" && r.path == "/assets/unlink"));
    assert!(
        requests.len() > 1,
        "the chunk was split to find the failed item"
    );

    // The documented reply (failed 0, error_info [{}]) is one request, every row accepted.
    let replay = Replay::always(Reply::fixture(200, "catalogix", "assets-unlinked.json"));
    let summary = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &["assets", "unlink", "un.csv", "--yes", "-q"],
        )
        .ok()
        .json();
    assert_eq!(summary["accepted"], 4);
    assert_eq!(replay.received().len(), 1);
}

#[test]
fn catalogix_assets_delete_and_unlink_refuse_without_yes_off_a_terminal() {
    let env = Env::new();
    env.write("un.csv", "parent_code\nA\n");
    let replay = Replay::always(Reply::fixture(200, "catalogix", "assets-unlinked.json"));
    for command in ["delete", "unlink"] {
        let run = env
            .at(
                &replay.url,
                "sandbox-catalogix",
                &["assets", command, "un.csv"],
            )
            .expect_code(2);
        assert!(
            run.error_line().contains("refusing without --yes"),
            "{}",
            run.stderr
        );
    }
    assert!(replay.received().is_empty(), "nothing was sent");
}

#[test]
fn catalogix_products_insert_sends_the_apikey_and_rejects_the_documented_failure() {
    let env = Env::new();
    env.write(
        "products.csv",
        "product_code,parent_code,Product Name,Category\nCI001,SC001,Blue shirts,Dupatta\n",
    );
    let replay = Replay::always(Reply::fixture(200, "catalogix", "products-inserted.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &[
                "bulk",
                "upsert",
                "products.csv",
                "--catalog",
                "67762d4ce590324df813bd8c",
            ],
        )
        .expect_code(3);
    let summary = run.json();
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&json!(0), &json!(1))
    );
    let rejects = env.rejects("products.rejects.ndjson");
    assert_eq!(rejects[0]["error"], "invalid fields: Category");
    let requests = replay.received();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/products")
    );
    assert_eq!(
        request.param("store_uuid"),
        Some("67762d4ce590324df813bd8c")
    );
    assert_eq!(
        request.header("apikey"),
        Some("sandbox-token"),
        "insert-product-data's header"
    );
    assert_eq!(
        request.header("Authorization"),
        Some("Bearer sandbox-token")
    );
    assert_eq!(
        request.json(),
        json!([{"product_code": "CI001", "parent_code": "SC001", "Product Name": "Blue shirts", "Category": "Dupatta"}])
    );
}

#[test]
fn catalogix_products_insert_counts_created_and_updated_from_the_code_lists() {
    let env = Env::new();
    env.write(
        "products.ndjson",
        "{\"parent_code\":\"A\"}\n{\"product_code\":\"B1\",\"parent_code\":\"B\"}\n",
    );
    let mut body = fixture("catalogix", "products-inserted.json");
    body["data"] = json!({"store_uuid": "store_demo", "failed_products": [],
                          "successful_product_codes": ["A", "B1"], "existing_product_codes": ["B1"]});
    let replay = Replay::always(Reply::json(200, &body));
    let summary = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &["bulk", "upsert", "products.ndjson", "-q"],
        )
        .ok()
        .json();
    assert_eq!(
        (
            &summary["accepted"],
            &summary["created"],
            &summary["updated"]
        ),
        (&json!(2), &json!(1), &json!(1))
    );
    assert_eq!(
        replay.received()[0].param("store_uuid"),
        Some("store_demo"),
        "the profile's store"
    );
}

#[test]
fn catalogix_products_list_and_get_read_the_documented_reply() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "catalogix", "products-list.json"));
    let listed = env
        .at(&replay.url, "sandbox-catalogix", &["items", "list"])
        .ok()
        .json();
    let product = &fixture("catalogix", "products-list.json")["data"]["products"][0]["CI001"];
    assert_eq!(listed, json!([product]));
    let got = env
        .at(
            &replay.url,
            "sandbox-catalogix",
            &[
                "items",
                "get",
                "CI001",
                "--catalog",
                "67762d4ce590324df813bd8c",
            ],
        )
        .ok()
        .json();
    assert_eq!(&got, product);
    let missing = env
        .at(&replay.url, "sandbox-catalogix", &["items", "get", "CI999"])
        .expect_code(5);
    assert!(
        missing
            .error_line()
            .contains("no product CI999 in store store_demo"),
        "{}",
        missing.stderr
    );
    let requests = replay.received();
    assert_eq!(requests.len(), 3);
    assert!(requests
        .iter()
        .all(|r| r.method == "GET" && r.path == "/products"));
    assert_eq!(
        (
            requests[0].param("store_uuid"),
            requests[0].param("offset"),
            requests[0].param("limit")
        ),
        (Some("store_demo"), Some("0"), Some("100"))
    );
    assert_eq!(
        requests[1].param("store_uuid"),
        Some("67762d4ce590324df813bd8c"),
        "--catalog overrides"
    );
    assert_eq!(requests[1].param("sku_codes"), Some("CI001"));

    let replay = Replay::always(Reply::json(
        200,
        &json!({"status": {"code": 0, "message": "success"}, "data": {"store_uuid": "s", "products": [{"sku": "x"}]}}),
    ));
    let run = env
        .at(&replay.url, "sandbox-catalogix", &["items", "list"])
        .expect_code(1);
    assert!(
        run.error_line().contains("unexpected response"),
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
        let replay = match vendor.as_str() {
            "batch" => batch_replay(reply),
            _ => Replay::always(reply),
        };
        let mut full = args.clone();
        full.extend(["-q", "--rejects", "r.ndjson"]);
        let run = env.at(&replay.url, profile, &full);
        assert!(
            matches!(run.code, 0 | 2 | 3),
            "{input}: exit {}: {}",
            run.code,
            run.stderr
        );
        for request in posts(&replay) {
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

/// snapshot-comparison: the example has no hasMore/nextCursor, so it is one whole list; the
/// pagination page's envelope around the same records is followed with --all.
#[test]
fn catalogian_snapshots_read_the_example_with_and_without_the_cursor_envelope() {
    let env = Env::new();
    let profile = "sandbox-catalogian";
    let replay = Replay::always(Reply::fixture(200, "catalogian", "snapshots.json"));
    let run = env
        .at(&replay.url, profile, &["delta", "snapshots", "s", "--all"])
        .ok();
    let documented = fixture("catalogian", "snapshots.json")["snapshots"].clone();
    assert_eq!(run.json(), documented);
    let received = replay.received();
    assert_eq!(received.len(), 1, "no cursor, no second page");
    assert_eq!(received[0].path, "/v1/sources/s/snapshots");

    let paged = Replay::start(|request| match request.param("cursor") {
        None => Reply::fixture(200, "catalogian", "snapshots-paged.json"),
        Some(_) => Reply::fixture(200, "catalogian", "snapshots.json"),
    });
    let run = env
        .at(
            &paged.url,
            profile,
            &["delta", "snapshots", "s", "--all", "--limit", "100"],
        )
        .ok();
    let ids = ids(&run.json());
    assert_eq!(ids.len(), 6, "two pages: {ids:?}");
    let second = paged.received().pop().unwrap();
    assert_eq!(second.param("cursor"), Some("snap_03"));
    assert_eq!(second.param("limit"), Some("100"));
    let run = env
        .at(
            &paged.url,
            profile,
            &["delta", "snapshots", "s", "--limit", "101"],
        )
        .expect_code(2);
    assert!(run.stderr.contains("101"), "{}", run.stderr);
}

#[test]
fn catalogian_snapshot_rows_send_search_and_field_and_print_the_rows() {
    let env = Env::new();
    let replay = Replay::always(Reply::fixture(200, "catalogian", "snapshot-rows.json"));
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogian",
            &[
                "delta",
                "snapshot-rows",
                "my-product-catalog",
                "--search",
                "Nike",
                "--field",
                "brand",
                "--limit",
                "200",
            ],
        )
        .ok();
    assert_eq!(
        run.json(),
        fixture("catalogian", "snapshot-rows.json")["rows"]
    );
    let request = replay.received().pop().unwrap();
    assert_eq!(request.path, "/v1/sources/my-product-catalog/snapshot-rows");
    assert_eq!(request.param("search"), Some("Nike"));
    assert_eq!(request.param("field"), Some("brand"));
    assert_eq!(request.param("limit"), Some("200"));
    env.at(
        &replay.url,
        "sandbox-catalogian",
        &["delta", "snapshot-rows", "s", "--limit", "201"],
    )
    .expect_code(2);
}

#[test]
fn catalogian_snapshot_replies_in_another_shape_are_errors_not_empty_lists() {
    let env = Env::new();
    let profile = "sandbox-catalogian";
    for (args, body, what) in [
        (
            ["delta", "snapshot-rows", "s"],
            json!({"hasMore": false, "data": [{"row_key": "x"}]}),
            "missing field `rows`",
        ),
        (
            ["delta", "snapshot-rows", "s"],
            json!({"rows": ["sku-1", "sku-2"]}),
            "a row that is not an object",
        ),
        (
            ["delta", "snapshots", "s"],
            json!([{"id": "snap_05"}]),
            "missing field `snapshots`",
        ),
        (
            ["delta", "snapshots", "s"],
            json!({"snapshots": [{"createdAt": "2026-03-19T08:00:00.000Z"}]}),
            "a snapshot without an id",
        ),
        (
            ["delta", "snapshots", "s"],
            json!({"snapshots": [], "hasMore": "yes"}),
            "`hasMore` is not a boolean",
        ),
    ] {
        let replay = Replay::always(Reply::json(200, &body));
        let run = env.at(&replay.url, profile, &args).expect_code(1);
        assert!(run.error_line().contains(what), "{body}: {}", run.stderr);
        assert!(!run.stdout.contains("[]"), "{}", run.stdout);
    }
}

/// rate-limits: the documented 429 is retried after its Retry-After, and its message is shown
/// when the retries run out.
#[test]
fn catalogian_the_documented_429_is_retried_and_its_message_shown() {
    let env = Env::new();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let replay = {
        let calls = calls.clone();
        Replay::start(move |_| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                Reply::fixture(429, "catalogian", "error-rate-limited.json")
                    .header("Retry-After", "1")
            } else {
                Reply::fixture(200, "catalogian", "snapshots.json")
            }
        })
    };
    let run = env
        .at(
            &replay.url,
            "sandbox-catalogian",
            &["delta", "snapshots", "s"],
        )
        .ok();
    assert_eq!(ids(&run.json()).len(), 3);
    assert_eq!(replay.received().len(), 2);

    let refusing = Replay::always(
        Reply::fixture(429, "catalogian", "error-rate-limited.json").header("Retry-After", "0"),
    );
    let run = env
        .at(
            &refusing.url,
            "sandbox-catalogian",
            &["delta", "snapshots", "s", "--max-retries", "0"],
        )
        .expect_code(1);
    assert!(
        run.error_line()
            .ends_with("429 Too Many Requests: Rate limit exceeded. Try again in 12 seconds."),
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

// ---------------------------------------------------------------- tables, all vendors

/// The header of `-o table` on a wide screen, its column names in order.
fn table_header(run: &Run) -> Vec<String> {
    let header = run
        .stdout
        .lines()
        .find(|line| line.chars().any(char::is_alphanumeric))
        .unwrap_or_default();
    header
        .split(['│', '┆', '|'])
        .map(|cell| cell.trim().to_string())
        .filter(|cell| !cell.is_empty())
        .collect()
}

#[test]
fn default_table_columns_are_fields_of_each_vendors_documented_list() {
    let env = Env::new();
    for (profile, args, vendor, file, columns) in [
        (
            "sandbox",
            &["catalogs", "list"][..],
            "rastro",
            "catalogs-list.json",
            &["id", "name", "item_count", "created_at"][..],
        ),
        (
            "sandbox",
            &["items", "list", "--catalog", "c"],
            "rastro",
            "items-page.json",
            &["id", "sku", "title", "price"],
        ),
        (
            "sandbox-batch",
            &["catalogs", "list"],
            "batch",
            "catalogs-list-last.json",
            &["name", "items", "size", "updated"],
        ),
        (
            "sandbox-clevertap",
            &["catalogs", "list"],
            "clevertap",
            "list-catalogs.json",
            &["id", "catalogName", "status", "totalProducts", "createdAt"],
        ),
        // The documented list holds no parent_code (insert requires one, so real ones do).
        (
            "sandbox-catalogix",
            &["items", "list"],
            "catalogix",
            "products-list.json",
            &["product_code", "status", "Category"],
        ),
    ] {
        let replay = Replay::always(Reply::fixture(200, vendor, file));
        let mut full = vec!["-p", profile, "--base-url", &replay.url];
        full.extend_from_slice(args);
        full.extend(["-o", "table"]);
        let run = env
            .run_with(&full, |cmd| {
                cmd.env("COLUMNS", "200");
            })
            .ok();
        assert_eq!(
            table_header(&run),
            columns,
            "{vendor} {file}:\n{}",
            run.stdout
        );
    }
}
