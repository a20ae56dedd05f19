//! The sandbox's catalogix asset listing, removals and products, over raw HTTP: the documented
//! envelopes, limits, paging, headers and error bodies, and the state a request leaves behind.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::Sandbox;
use serde_json::{json, Value};

const BEARER: &str = "Bearer sandbox-token";
const ROOT: &str = "/catalogix/v1";

fn call(sandbox: &Sandbox, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    sandbox.call_json(
        method,
        &format!("{ROOT}{path}"),
        &[("Authorization", BEARER)],
        body,
    )
}

/// `count` parent codes `P000`.. with two image assets each, and one video for `P000`.
fn seed_assets(sandbox: &Sandbox, count: usize) {
    let mut items: Vec<Value> = (0..count)
        .map(|n| {
            json!({"parent_code": format!("P{n:03}"), "asset_type": "image",
                   "assets": {"Image URL 1": format!("https://cdn.example.com/{n}-1.jpg"),
                              "Image URL 2": format!("https://cdn.example.com/{n}-2.jpg")}})
        })
        .collect();
    items.push(json!({"parent_code": "P000", "asset_type": "video",
                      "assets": {"Video URL 1": "https://cdn.example.com/0.mp4"}}));
    for chunk in items.chunks(100) {
        let (status, reply) = call(
            sandbox,
            "POST",
            "/assets?store_uuid=store_demo",
            Some(&json!(chunk)),
        );
        assert_eq!(status, 200, "{reply}");
    }
}

fn list(sandbox: &Sandbox, query: &str) -> (u16, Value) {
    call(
        sandbox,
        "GET",
        &format!("/assets?store_uuid=store_demo{query}"),
        None,
    )
}

#[test]
fn get_assets_pages_groups_by_parent_code_at_most_50_at_a_time() {
    let sandbox = Sandbox::start();
    seed_assets(&sandbox, 120);
    let (status, reply) = list(&sandbox, "");
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"]["code"], 0);
    assert_eq!(reply["status"]["message"], "SUCCESS");
    let data = &reply["data"];
    assert_eq!(
        (&data["total_groups"], &data["returned_groups"]),
        (&json!(120), &json!(50))
    );
    let groups = data["assets"].as_object().unwrap();
    assert_eq!(groups.keys().next().map(String::as_str), Some("P000"));
    let first = &groups["P000"];
    assert_eq!(
        (
            &first["channel"],
            &first["asset_type"],
            &first["store_uuid"]
        ),
        (&json!("SMP"), &json!("image"), &json!("store_demo"))
    );
    let assets = first["assets"].as_array().unwrap();
    assert_eq!(assets[0]["Image URL 1"], "https://cdn.example.com/0-1.jpg");
    assert_eq!(assets[0]["asset_id"].as_str().map(str::len), Some(32));

    let (_, last) = list(&sandbox, "&offset=100&limit=50");
    assert_eq!(last["data"]["returned_groups"], 20);
    let (_, video) = list(&sandbox, "&asset_format=video");
    assert_eq!(video["data"]["total_groups"], 1);
    assert!(video["data"]["assets"]["P000"]["assets"][0]["Video URL 1"].is_string());
    let (_, other) = list(&sandbox, "&channel=WEB");
    assert_eq!(other["data"]["total_groups"], 0);
    // The same asset lists with the same id.
    assert_eq!(list(&sandbox, "").1["data"]["assets"]["P000"], *first);
}

#[test]
fn get_assets_refuses_bad_parameters_in_its_own_error_shape() {
    let sandbox = Sandbox::start();
    for query in ["&limit=51", "&asset_format=gif", "&offset=-1"] {
        let (status, reply) = list(&sandbox, query);
        assert_eq!(status, 400, "{query}: {reply}");
        assert_eq!(reply["status"]["code"], -1, "{reply}");
        assert_eq!(reply["status"]["message"], "ERROR");
        assert_eq!(reply["data"]["error_info"][0]["reason"], "invalid_request");
    }
    let (status, reply) = call(&sandbox, "GET", "/assets", None);
    assert_eq!(status, 400);
    assert_eq!(
        reply["data"]["error_info"][0]["details"],
        "store_uuid is required"
    );
    let (status, reply) = call(&sandbox, "GET", "/assets?store_uuid=nope", None);
    assert_eq!(
        (status, &reply["status"]),
        (404, &json!("error")),
        "{reply}"
    );
}

#[test]
fn delete_asset_is_served_at_both_documented_paths_and_reports_what_it_missed() {
    let sandbox = Sandbox::start();
    seed_assets(&sandbox, 3);
    let (_, before) = list(&sandbox, "");
    let p0 = before["data"]["assets"]["P000"]["assets"]
        .as_array()
        .unwrap()
        .clone();
    let id = p0[0]["asset_id"].as_str().unwrap().to_string();
    let items = json!([
        {"store_uuid": "store_demo", "channel": "SMP", "parent_code": "P000", "asset_id": [id, "missing"]},
        {"store_uuid": "store_demo", "parent_code": "P001"},
        {"store_uuid": "store_demo", "channel": "SMP"},
    ]);
    let (status, reply) = call(&sandbox, "DELETE", "/asset", Some(&items));
    assert_eq!(status, 200, "{reply}");
    let data = &reply["data"];
    // One asset of P000 and both of P001 (a row without ids deletes the parent's assets).
    assert_eq!(
        (&data["deleted_count"], &data["failed"]),
        (&json!(3), &json!(2)),
        "{reply}"
    );
    let errors = data["error_info"].as_array().unwrap();
    assert_eq!(
        (&errors[0]["index"], &errors[0]["reason"]),
        (&json!(0), &json!("not_found"))
    );
    assert!(errors[0]["details"].as_str().unwrap().contains("missing"));
    assert_eq!(
        (&errors[1]["index"], &errors[1]["reason"]),
        (&json!(2), &json!("invalid_request"))
    );
    let (_, after) = list(&sandbox, "");
    assert_eq!(after["data"]["total_groups"], 2, "{after}");
    assert_eq!(
        after["data"]["assets"]["P000"]["assets"],
        json!([p0[1].clone()])
    );

    let rest = json!([{"store_uuid": "store_demo", "parent_code": "P002"}]);
    let (status, reply) = call(&sandbox, "DELETE", "/assets", Some(&rest));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["data"]["deleted_count"], 2);
}

#[test]
fn unlink_needs_a_parent_code_and_channel_and_unlinks_all_without_an_id() {
    let sandbox = Sandbox::start();
    seed_assets(&sandbox, 2);
    let items = json!([
        {"store_uuid": "store_demo", "parent_code": "P000", "channel": "SMP"},
        {"store_uuid": "store_demo", "parent_code": "P001"},
        {"store_uuid": "unknown", "parent_code": "P001", "channel": "SMP"},
    ]);
    let (status, reply) = call(&sandbox, "POST", "/assets/unlink", Some(&items));
    assert_eq!(status, 200, "{reply}");
    let data = &reply["data"];
    // P000's two images and its video are unlinked.
    assert_eq!(
        (&data["unlinked"], &data["failed"]),
        (&json!(3), &json!(2)),
        "{reply}"
    );
    assert!(data["error_info"][0]["details"]
        .as_str()
        .unwrap()
        .contains("channel is missing"));
    assert!(data["error_info"][1]["details"]
        .as_str()
        .unwrap()
        .contains("Store unknown not found"));
    assert_eq!(list(&sandbox, "").1["data"]["total_groups"], 1);
}

#[test]
fn removals_take_at_most_100_items_and_a_json_array() {
    let sandbox = Sandbox::start();
    let items: Vec<Value> = (0..101)
        .map(|n| json!({"store_uuid": "store_demo", "parent_code": format!("P{n}"), "channel": "SMP"}))
        .collect();
    for (method, path) in [("DELETE", "/asset"), ("POST", "/assets/unlink")] {
        let (status, reply) = call(&sandbox, method, path, Some(&json!(items)));
        assert_eq!(status, 413, "{reply}");
        assert_eq!(
            reply["detail"],
            "The API accepts upto 100 data items at a time"
        );
        let (status, reply) = call(&sandbox, method, path, Some(&json!({"parent_code": "P"})));
        assert_eq!(
            (status, &reply["status"]),
            (400, &json!("error")),
            "{reply}"
        );
    }
}

fn insert(sandbox: &Sandbox, headers: &[(&str, &str)], products: &Value) -> (u16, Value) {
    sandbox.call_json(
        "POST",
        &format!("{ROOT}/products?store_uuid=store_demo"),
        headers,
        Some(products),
    )
}

#[test]
fn insert_products_wants_the_apikey_header_and_reports_each_product() {
    let sandbox = Sandbox::start();
    let products = json!([
        {"product_code": "CI001", "parent_code": "SC001", "Category": "Dupatta", "Image URL 1": "https://a.example/1.jpg"},
        {"product_code": "CI002", "parent_code": "SC001", "status": "sold"},
        {"parent_code": "SC002", "status": "under review"},
    ]);
    // insert-product-data documents only the apikey header.
    let (status, reply) = insert(&sandbox, &[("Authorization", BEARER)], &products);
    assert_eq!(status, 401, "{reply}");
    assert_eq!(reply["status"]["code"], -1);
    let (status, reply) = insert(&sandbox, &[("apikey", "wrong")], &products);
    assert_eq!(status, 401, "{reply}");

    let (status, reply) = insert(&sandbox, &[("apikey", "sandbox-token")], &products);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], json!({"code": 0, "message": "success"}));
    let data = &reply["data"];
    assert_eq!(data["store_uuid"], "store_demo");
    assert_eq!(data["successful_product_codes"], json!(["CI001", "SC002"]));
    assert_eq!(data["existing_product_codes"], json!([]));
    let failed = &data["failed_products"][0];
    assert_eq!(
        failed["metadata"],
        json!({"product_code": "CI002", "errors": ["status"]})
    );
    assert_eq!(failed["index"], 1);

    let again = json!([{"product_code": "CI001", "parent_code": "SC001", "Product Name": "Blue"}]);
    let (_, reply) = insert(&sandbox, &[("apikey", "sandbox-token")], &again);
    assert_eq!(reply["data"]["existing_product_codes"], json!(["CI001"]));
    let (_, reply) = call(
        &sandbox,
        "GET",
        "/products?store_uuid=store_demo&sku_codes=CI001",
        None,
    );
    let product = &reply["data"]["products"][0]["CI001"];
    assert_eq!(product["Category"], "Dupatta", "attributes merge: {reply}");
    assert_eq!(product["Product Name"], "Blue");
    assert_eq!(product["status"], "new");
    assert_eq!(
        product["assets"]["images"],
        json!(["https://a.example/1.jpg"])
    );
}

#[test]
fn retrieve_products_pages_by_offset_and_filters_by_code_and_status() {
    let sandbox = Sandbox::start();
    for chunk in 0..3 {
        let products: Vec<Value> = (0..100)
            .map(|n| {
                let n = chunk * 100 + n;
                json!({"product_code": format!("C{n:03}"), "parent_code": format!("S{:03}", n / 2),
                       "status": if n % 10 == 0 { "active" } else { "new" }})
            })
            .collect();
        let (status, reply) = insert(&sandbox, &[("apikey", "sandbox-token")], &json!(products));
        assert_eq!(status, 200, "{reply}");
    }
    let page = |query: &str| -> Vec<String> {
        let (status, reply) = call(
            &sandbox,
            "GET",
            &format!("/products?store_uuid=store_demo{query}"),
            None,
        );
        assert_eq!(status, 200, "{query}: {reply}");
        assert_eq!(reply["data"]["store_uuid"], "store_demo");
        reply["data"]["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_object().unwrap().keys().next().unwrap().clone())
            .collect()
    };
    let first = page("");
    assert_eq!(first.len(), 100, "the documented default limit");
    assert_eq!(first[0], "C000");
    assert_eq!(
        page("&offset=290&limit=20"),
        (290..300).map(|n| format!("C{n:03}")).collect::<Vec<_>>()
    );
    assert_eq!(page("&sku_codes=C005&sku_codes=C007"), ["C005", "C007"]);
    assert_eq!(
        page("&sku_codes=C005,S010"),
        ["C005", "C020", "C021"],
        "style codes match too"
    );
    assert_eq!(page("&status=active&limit=3"), ["C000", "C010", "C020"]);
    for bad in ["&status=gone", "&limit=1001", "&offset=x"] {
        let (status, reply) = call(
            &sandbox,
            "GET",
            &format!("/products?store_uuid=store_demo{bad}"),
            None,
        );
        assert_eq!(
            (status, &reply["status"]),
            (400, &json!("error")),
            "{bad}: {reply}"
        );
    }
    let (status, _) = call(&sandbox, "GET", "/products", None);
    assert_eq!(status, 400);
}
