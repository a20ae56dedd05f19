//! The sandbox's rastro bulk, batch and catalogix emulations, over raw HTTP: documented limits, error
//! bodies, rate limits, and the state that a request leaves behind.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::Sandbox;
use serde_json::{json, Value};

const EDIT: &str = "/batch/2.11/catalogs/items/edit";
const DEMO_ITEMS: &str = "/batch/2.11/_sandbox/catalogs/demo/items";
/// `common::TOKEN`, the sandbox's default token.
const BEARER: &str = "Bearer sandbox-token";

fn batch_headers(project: &str) -> [(&'static str, &str); 2] {
    [("Authorization", BEARER), ("X-Batch-Project", project)]
}

/// POST an edit to the demo catalog as `project`; returns status, raw headers and JSON body.
fn edit(sandbox: &Sandbox, project: &str, items: Value) -> (u16, String, Value) {
    let body = json!({"name": "demo", "items": items});
    let (status, head, reply) = sandbox.request("POST", EDIT, &batch_headers(project), Some(&body));
    (status, head, parse(&reply))
}

fn parse(reply: &str) -> Value {
    serde_json::from_str(reply).unwrap_or_else(|err| panic!("not JSON ({err}): {reply:?}"))
}

fn demo_items(sandbox: &Sandbox) -> Value {
    let (status, _, reply) = sandbox.request("GET", DEMO_ITEMS, &batch_headers("p"), None);
    assert_eq!(status, 200, "{reply}");
    parse(&reply)
}

fn adds(count: usize) -> Value {
    (0..count)
        .map(|n| json!({"action": "add", "id": format!("sku-{n:04}"), "attributes": {"rank": n}}))
        .collect()
}

fn retry_after(head: &str) -> Option<u64> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().parse().ok())?
    })
}

#[test]
fn batch_accepts_an_edit_with_202_and_an_indexing_token() {
    let sandbox = Sandbox::start();
    let (status, _, reply) = edit(&sandbox, "p", adds(3));
    assert_eq!(status, 202, "{reply}");
    let token = reply["indexing_token"].as_str().unwrap_or_default();
    assert!(token.len() >= 40, "{reply}");

    // Any API version is served, as a profile may pin another one.
    let body = json!({"name": "demo", "items": adds(1)});
    let (status, _, reply) = sandbox.request(
        "POST",
        "/batch/2.9/catalogs/items/edit",
        &batch_headers("p"),
        Some(&body),
    );
    assert_eq!(status, 202, "{reply}");
    assert_eq!(demo_items(&sandbox).as_array().map(Vec::len), Some(3));
}

#[test]
fn batch_adds_merge_attributes_null_removes_one_and_remove_deletes_the_item() {
    let sandbox = Sandbox::start();
    let (status, _, reply) = edit(
        &sandbox,
        "p",
        json!([
            {"action": "add", "id": "b", "attributes": {"title": "B"}},
            {"action": "add", "id": "a", "attributes": {"title": "Squid Game", "age": 25,
                                                        "cast": ["Lee Jung-jae"]}},
            {"action": "add", "id": "c"},
        ]),
    );
    assert_eq!(status, 202, "{reply}");
    let (status, _, reply) = edit(
        &sandbox,
        "p",
        json!([
            {"action": "add", "id": "a", "attributes": {"age": null, "is_premium": true}},
            {"action": "remove", "id": "b"},
            {"action": "remove", "id": "never-added"},
        ]),
    );
    assert_eq!(status, 202, "{reply}");
    assert_eq!(
        demo_items(&sandbox),
        json!([
            {"id": "a", "attributes": {"title": "Squid Game", "cast": ["Lee Jung-jae"],
                                       "is_premium": true}},
            {"id": "c", "attributes": {}},
        ])
    );
}

#[test]
fn batch_refuses_more_than_200_items_or_none() {
    let sandbox = Sandbox::start();
    for count in [201, 0] {
        let (status, _, reply) = edit(&sandbox, "p", adds(count));
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["error_code"], "INVALID_ITEMS_COUNT", "{reply}");
    }
    let (status, _, reply) = edit(&sandbox, "p", adds(200));
    assert_eq!(status, 202, "{reply}");
}

#[test]
fn batch_rejects_the_whole_request_when_one_item_breaks_a_rule() {
    let sandbox = Sandbox::start();
    let mut items = adds(5);
    items[3] = json!({"action": "add", "id": "sku-9", "attributes": {"Title": "upper case"}});
    let (status, _, reply) = edit(&sandbox, "p", items);
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["error_code"], "INVALID_PARAMETER");
    let message = reply["error_message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("items[3] (id 'sku-9'): attribute Title:"),
        "{reply}"
    );
    assert!(message.contains("a-z, 0-9 and _"), "{reply}");
    assert_eq!(demo_items(&sandbox), json!([]), "nothing was applied");

    let (status, _, reply) = edit(&sandbox, "p", json!([{"action": "add"}]));
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["error_message"], "items[0]: id is missing");
}

#[test]
fn batch_refuses_malformed_json_with_its_error_body() {
    let sandbox = Sandbox::start();
    let (status, _, reply) =
        sandbox.request_raw("POST", EDIT, &batch_headers("p"), Some("{\"name\": "));
    assert_eq!(status, 400, "{reply}");
    let reply = parse(&reply);
    assert!(reply["error_code"].is_string() && reply["error_message"].is_string());
}

#[test]
fn batch_needs_the_project_header() {
    let sandbox = Sandbox::start();
    let body = json!({"name": "demo", "items": adds(1)});
    let (status, _, reply) =
        sandbox.request("POST", EDIT, &[("Authorization", BEARER)], Some(&body));
    assert_eq!(status, 401, "{reply}");
    assert_eq!(
        parse(&reply),
        json!({"error_message": "Missing X-Batch-Project header",
               "error_code": "MISSING_PROJECT_KEY"})
    );
}

#[test]
fn batch_refuses_a_wrong_token_with_its_documented_error_body() {
    let sandbox = Sandbox::start();
    let body = json!({"name": "demo", "items": adds(1)});
    let documented = json!({"error_message": "The Rest API Key is not valid for this project",
                            "error_code": "AUTHENTICATION_INVALID"});
    for headers in [
        vec![("Authorization", "Bearer wrong"), ("X-Batch-Project", "p")],
        vec![("X-Batch-Project", "p")],
    ] {
        let (status, _, reply) = sandbox.request("POST", EDIT, &headers, Some(&body));
        assert_eq!(status, 401, "{reply}");
        assert_eq!(parse(&reply), documented);
    }
    let (status, _, _) = sandbox.request("GET", DEMO_ITEMS, &[("X-Batch-Project", "p")], None);
    assert_eq!(status, 401);
}

#[test]
fn batch_answers_404_for_an_unknown_catalog() {
    let sandbox = Sandbox::start();
    let body = json!({"name": "MOVIES", "items": adds(1)});
    let (status, _, reply) = sandbox.request("POST", EDIT, &batch_headers("p"), Some(&body));
    assert_eq!(status, 404, "{reply}");
    assert_eq!(parse(&reply)["error_code"], "CATALOG_NOT_FOUND");
    let (status, _, reply) = sandbox.request(
        "GET",
        "/batch/2.11/_sandbox/catalogs/MOVIES/items",
        &batch_headers("p"),
        None,
    );
    assert_eq!(status, 404, "{reply}");
    assert_eq!(parse(&reply)["error_code"], "CATALOG_NOT_FOUND");
}

/// Eight requests of 200 items at once: the documented buckets (5 requests/s, 1000 items/s)
/// hold five of them.
fn burst(sandbox: &Sandbox, project: &str) -> Vec<(u16, String, Value)> {
    (0..8).map(|_| edit(sandbox, project, adds(200))).collect()
}

#[test]
fn batch_rate_limits_a_burst_with_429_and_retry_after_then_accepts_again() {
    let sandbox = Sandbox::start();
    let replies = burst(&sandbox, "busy");
    let statuses: Vec<u16> = replies.iter().map(|r| r.0).collect();
    assert_eq!(&statuses[..5], &[202; 5], "{statuses:?}");
    let (_, head, reply) = replies
        .iter()
        .find(|r| r.0 == 429)
        .unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    assert_eq!(
        reply,
        &json!({"error_message": "Too Many Requests", "error_code": "TOO_MANY_REQUESTS"})
    );
    let wait = retry_after(head).unwrap_or_else(|| panic!("no Retry-After in {head}"));
    assert!(wait >= 1, "{head}");

    // Buckets are per project: another one is not held back.
    let (status, _, reply) = edit(&sandbox, "other", adds(1));
    assert_eq!(status, 202, "{reply}");

    std::thread::sleep(Duration::from_secs(wait));
    let (status, _, reply) = edit(&sandbox, "busy", adds(200));
    assert_eq!(status, 202, "after waiting Retry-After: {reply}");
}

#[test]
fn batch_rate_limits_can_be_turned_off() {
    let sandbox = Sandbox::without_rate_limits();
    let statuses: Vec<u16> = burst(&sandbox, "busy").iter().map(|r| r.0).collect();
    assert_eq!(statuses, [202; 8]);
}

// ---- catalogix

const ASSETS: &str = "/catalogix/v1/assets?store_uuid=store_demo";

fn post_assets(sandbox: &Sandbox, path: &str, items: &Value) -> (u16, Value) {
    let (status, _, reply) =
        sandbox.request("POST", path, &[("Authorization", BEARER)], Some(items));
    (status, parse(&reply))
}

fn demo_assets(sandbox: &Sandbox) -> Value {
    let (status, _, reply) = sandbox.request(
        "GET",
        "/catalogix/v1/_sandbox/assets?store_uuid=store_demo",
        &[("Authorization", BEARER)],
        None,
    );
    assert_eq!(status, 200, "{reply}");
    parse(&reply)
}

fn image(code: &str, name: &str, url: &str) -> Value {
    json!({"parent_code": code, "asset_type": "image", "assets": {name: url}})
}

#[test]
fn catalogix_counts_created_and_updated_assets_and_merges_them() {
    let sandbox = Sandbox::start();
    let first = json!([
        image("SKU001", "Image URL 1", "https://cdn.example.com/img1.jpg"),
        image("SKU002", "Image URL 1", "https://cdn.example.com/img2.jpg"),
    ]);
    let (status, reply) = post_assets(&sandbox, ASSETS, &first);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"]["code"], 0);
    assert_eq!(reply["status"]["message"], "SUCCESS");
    assert!(reply["status"]["request_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(
        reply["data"],
        json!({"created": 2, "updated": 0, "failed": 0, "error_info": []})
    );

    let second = json!([
        image("SKU001", "Image URL 2", "https://cdn.example.com/img1b.jpg"),
        image("SKU001", "Image URL 1", "https://cdn.example.com/img1c.jpg"),
        json!({"parent_code": "SKU001", "asset_type": "video",
               "assets": {"Video": "https://cdn.example.com/v.mp4"}}),
    ]);
    let (status, reply) = post_assets(&sandbox, ASSETS, &second);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["data"]["created"], 1);
    assert_eq!(reply["data"]["updated"], 2);

    // Another channel is another set of assets.
    let (_, reply) = post_assets(&sandbox, &format!("{ASSETS}&channel=WEB"), &first);
    assert_eq!(reply["data"]["created"], 2, "{reply}");

    assert_eq!(
        demo_assets(&sandbox),
        json!([
            {"parent_code": "SKU001", "asset_type": "image", "channel": "SMP",
             "assets": {"Image URL 1": "https://cdn.example.com/img1c.jpg",
                        "Image URL 2": "https://cdn.example.com/img1b.jpg"}},
            {"parent_code": "SKU001", "asset_type": "image", "channel": "WEB",
             "assets": {"Image URL 1": "https://cdn.example.com/img1.jpg"}},
            {"parent_code": "SKU001", "asset_type": "video", "channel": "SMP",
             "assets": {"Video": "https://cdn.example.com/v.mp4"}},
            {"parent_code": "SKU002", "asset_type": "image", "channel": "SMP",
             "assets": {"Image URL 1": "https://cdn.example.com/img2.jpg"}},
            {"parent_code": "SKU002", "asset_type": "image", "channel": "WEB",
             "assets": {"Image URL 1": "https://cdn.example.com/img2.jpg"}},
        ])
    );
}

#[test]
fn catalogix_reports_bad_items_in_error_info_and_stores_the_good_ones() {
    let sandbox = Sandbox::start();
    let items = json!([
        image("GOOD1", "Image URL 1", "https://cdn.example.com/1.jpg"),
        image("BAD1", "Image URL 1", "img1.jpg"),
        {"asset_type": "image", "assets": {"a": "https://cdn.example.com/x.jpg"}},
        image("GOOD2", "Image URL 1", "https://cdn.example.com/2.jpg"),
    ]);
    let (status, reply) = post_assets(&sandbox, ASSETS, &items);
    assert_eq!(status, 200, "{reply}");
    let data = &reply["data"];
    assert_eq!(
        (&data["created"], &data["updated"], &data["failed"]),
        (&json!(2), &json!(0), &json!(2)),
        "{reply}"
    );
    let errors = data["error_info"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 2, "{reply}");
    assert_eq!(errors[0]["index"], 1);
    assert_eq!(errors[0]["parent_code"], "BAD1");
    assert!(
        errors[0]["details"]
            .as_str()
            .is_some_and(|e| e.contains("not an http(s) URL")),
        "{reply}"
    );
    assert_eq!(errors[1]["index"], 2);
    assert_eq!(errors[1]["parent_code"], Value::Null);
    assert!(
        errors[1]["details"]
            .as_str()
            .is_some_and(|e| e.contains("parent_code is missing")),
        "{reply}"
    );
    let stored = demo_assets(&sandbox);
    let codes: Vec<&Value> = stored
        .as_array()
        .map(|rows| rows.iter().map(|row| &row["parent_code"]).collect())
        .unwrap_or_default();
    assert_eq!(codes, [&json!("GOOD1"), &json!("GOOD2")]);
}

#[test]
fn catalogix_refuses_more_than_100_items_with_413() {
    let sandbox = Sandbox::start();
    let items: Vec<Value> = (0..101)
        .map(|n| {
            image(
                &format!("P{n}"),
                "Image URL 1",
                "https://cdn.example.com/a.jpg",
            )
        })
        .collect();
    let (status, reply) = post_assets(&sandbox, ASSETS, &json!(items));
    assert_eq!(status, 413, "{reply}");
    assert_eq!(
        reply,
        json!({"status": "error", "detail": "The API accepts upto 100 data items at a time"})
    );
    assert_eq!(demo_assets(&sandbox), json!([]));

    let (status, reply) = post_assets(&sandbox, ASSETS, &json!(items[..100]));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["data"]["created"], 100);
}

#[test]
fn catalogix_needs_a_known_store_and_an_array_body() {
    let sandbox = Sandbox::start();
    let items = json!([image("P", "Image URL 1", "https://cdn.example.com/a.jpg")]);
    let (status, reply) = post_assets(
        &sandbox,
        "/catalogix/v1/assets?store_uuid=699ec31355208b213e56059a",
        &items,
    );
    assert_eq!(status, 404, "{reply}");
    assert_eq!(reply["status"], "error");
    assert!(reply["detail"].is_string(), "{reply}");

    let (status, reply) = post_assets(&sandbox, "/catalogix/v1/assets", &items);
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["status"], "error");

    let (status, reply) = post_assets(&sandbox, ASSETS, &json!({"parent_code": "P"}));
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["status"], "error");
}

#[test]
fn catalogix_refuses_a_wrong_token_with_its_unauthorized_body() {
    let sandbox = Sandbox::start();
    let items = json!([image("P", "Image URL 1", "https://cdn.example.com/a.jpg")]);
    let documented = json!({"status": {"code": -1, "message": "Unauthorized – invalid or missing Bearer token"}});
    for headers in [vec![("Authorization", "Bearer wrong")], vec![]] {
        let (status, _, reply) = sandbox.request("POST", ASSETS, &headers, Some(&items));
        assert_eq!(status, 401, "{reply}");
        assert_eq!(parse(&reply), documented);
    }
}

#[test]
fn both_vendors_take_bodies_of_several_mebibytes() {
    // SPEC §4 chunks reach 5 MiB, past axum's default 2 MB body limit.
    let sandbox = Sandbox::start();
    let long = "x".repeat(10_000);
    let items: Value = (0..200)
        .map(|n| {
            json!({"action": "add", "id": format!("big-{n:03}"),
                   "attributes": {"title": long, "synopsis": long, "description": long}})
        })
        .collect();
    let (status, _, reply) = edit(&sandbox, "p", items);
    assert_eq!(status, 202, "{reply}");

    let url = format!("https://cdn.example.com/{}", "y".repeat(30_000));
    let items: Vec<Value> = (0..100)
        .map(|n| image(&format!("P{n}"), "Image URL 1", &url))
        .collect();
    let (status, reply) = post_assets(&sandbox, ASSETS, &json!(items));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["data"]["created"], 100);
}

// ---- rastro

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

    let item = sandbox.inspect("/rastro/api/public/catalogs/cat_demo/items/item_1");
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

/// The skus of one page of cat_demo's items as `query` asks, and the total.
fn rastro_demo_page(sandbox: &Sandbox, query: &str) -> (Vec<String>, u64) {
    let page = sandbox.inspect(&format!(
        "/rastro/api/public/catalogs/cat_demo/items?{query}"
    ));
    let skus = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sku"].as_str().unwrap().to_string())
        .collect();
    (skus, page["total"].as_u64().unwrap())
}

#[test]
fn rastro_items_are_searched_and_sorted_as_its_client_asks() {
    let sandbox = Sandbox::start();
    let items = |query: &str| rastro_demo_page(&sandbox, query);
    // Seeded: brands cycle Acme, Northwind, Globex, Initech, Umbrella over 25 items.
    let (found, total) = items("search=northWIND&limit=3&offset=0");
    assert_eq!(total, 5, "the total counts what the search matched");
    assert_eq!(found, ["DEMO-0002", "DEMO-0007", "DEMO-0012"]);
    let (found, _) = items("search=northwind&limit=3&offset=3");
    assert_eq!(found, ["DEMO-0017", "DEMO-0022"]);
    let (found, _) = items("search=13.49&limit=5");
    assert_eq!(found, ["DEMO-0002"], "numbers are searched as written");

    let (found, total) = items("sort_field=price&sort_order=desc&limit=2");
    assert_eq!(
        (found, total),
        (vec!["DEMO-0025".to_string(), "DEMO-0024".to_string()], 25)
    );
    let (found, _) = items("sort_field=title&limit=1");
    assert_eq!(found, ["DEMO-0016"], "Acme Canvas Backpack sorts first");
    let (found, _) = items("sort_field=no_such_field&limit=2");
    assert_eq!(
        found,
        ["DEMO-0001", "DEMO-0002"],
        "without the field: by id"
    );

    let (status, _, reply) = sandbox.request(
        "GET",
        "/rastro/api/public/catalogs/cat_demo/items?sort_field=price&sort_order=up",
        &[("Authorization", "Bearer sandbox-token")],
        None,
    );
    assert_eq!(status, 422, "{reply}");
}

/// What `Sandbox::seed_items` loads: SEED-0000000, SEED-0000001, ...
fn seeded(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("SEED-{n:07}")).collect()
}

#[test]
fn rastro_offset_pages_give_every_item_once_as_items_arrive_and_after_a_reset() {
    let sandbox = Sandbox::start();
    let other = sandbox.post(
        "/rastro/api/public/catalogs",
        &json!({"name": "Other", "unique_id_field": "sku",
                "schema_definition": {"fields": [{"name": "sku", "type": "string"}]}}),
    );
    let other: Value = parse(&other.1);
    // Another catalog's items take ids between cat_demo's: ids are not positions.
    sandbox.seed_items(other["id"].as_str().unwrap(), 500);
    sandbox.seed_items("cat_demo", 2000);
    let demo: Vec<String> = (1..=25).map(|n| format!("DEMO-{n:04}")).collect();

    let (first, total) = rastro_demo_page(&sandbox, "offset=0&limit=700");
    assert_eq!(total, 2025);
    let late = json!({"unique_field": "sku", "items": [{"sku": "LATE-1"}, {"sku": "LATE-2"}]});
    assert_eq!(
        sandbox
            .post("/rastro/api/public/catalogs/cat_demo/items/bulk", &late)
            .0,
        200
    );
    let mut walked = first;
    for offset in [700, 1400, 2100] {
        let (page, total) = rastro_demo_page(&sandbox, &format!("offset={offset}&limit=700"));
        assert_eq!(total, 2027);
        walked.extend(page);
    }
    let mut expected = [demo.clone(), seeded(0..2000)].concat();
    expected.extend(["LATE-1".to_string(), "LATE-2".to_string()]);
    assert_eq!(walked, expected, "each item once, new ones at the end");

    // After a reset the same offsets hold other items: a page end remembered before it
    // must not be used.
    assert_eq!(sandbox.post("/_sandbox/reset", &json!({})).0, 204);
    sandbox.seed_items("cat_demo", 2000);
    let (page, total) = rastro_demo_page(&sandbox, "offset=1400&limit=700");
    assert_eq!(total, 2025);
    assert_eq!(page, seeded(1375..2000));
}
