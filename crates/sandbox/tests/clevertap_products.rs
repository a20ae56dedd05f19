//! clevertap's products emulation, in-process over raw HTTP: the bulk endpoint's limits,
//! headers, per-product failures and error bodies.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{Sandbox, TOKEN};
use serde_json::{json, Value};

const BULK: &str = "/clevertap/v2/catalogs/123/products/bulk";

/// The pair the products pages document.
fn products_headers() -> [(&'static str, &'static str); 2] {
    [
        ("X-CleverTap-Account-Id", "acct"),
        ("X-CleverTap-Passcode", TOKEN),
    ]
}

fn stored(sandbox: &Sandbox) -> Vec<Value> {
    let (status, products) = sandbox.call_json(
        "GET",
        "/clevertap/_sandbox/catalogs/123/products",
        &products_headers(),
        None,
    );
    assert_eq!(status, 200, "{products}");
    products.as_array().unwrap().clone()
}

fn product(identity: &str, brand: &str) -> Value {
    json!({"identity": identity, "name": format!("Product {identity}"),
        "imageUrl": "https://example.com/p.png", "attributes": {"brand": brand, "price": 9.5}})
}

#[test]
fn clevertap_bulk_stores_products_and_replaces_one_with_the_same_identity() {
    let sandbox = Sandbox::start();
    let body = json!({"products": [product("P-1", "Acme"), product("P-2", "Zed")]});
    let (status, reply) = sandbox.call_json("POST", BULK, &products_headers(), Some(&body));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({"status": "success", "processed": 2, "unprocessed": []})
    );
    let again = json!({"products": [product("P-1", "Other")]});
    sandbox.call_json("POST", BULK, &products_headers(), Some(&again));
    let products = stored(&sandbox);
    assert_eq!(products.len(), 2);
    assert_eq!(products[0]["attributes"]["brand"], "Other");
    let log = sandbox.inspect("/_sandbox/requests");
    let sizes: Vec<(u64, u64)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["vendor"] == "clevertap")
        .map(|r| (r["items"].as_u64().unwrap(), r["bytes"].as_u64().unwrap()))
        .collect();
    assert_eq!(sizes[0], (2, body.to_string().len() as u64));
    assert_eq!(sizes.len(), 2);
}

#[test]
fn clevertap_bulk_takes_either_documented_header_pair_and_refuses_others() {
    let sandbox = Sandbox::start();
    let body = json!({"products": [product("P-1", "Acme")]});
    let v2_pair = [("X-Account-Id", "acct"), ("X-CleverTap-Token", TOKEN)];
    let (status, _) = sandbox.call_json("POST", BULK, &v2_pair, Some(&body));
    assert_eq!(status, 200);
    let wrong = [
        ("X-CleverTap-Account-Id", "acct"),
        ("X-CleverTap-Passcode", "nope"),
    ];
    let (status, reply) = sandbox.call_json("POST", BULK, &wrong, Some(&body));
    assert_eq!(status, 401);
    assert_eq!(reply["status"], "fail");
    assert_eq!(reply["code"], "AUTHENTICATION_FAILED");
    let no_account = [("X-CleverTap-Passcode", TOKEN)];
    let (status, reply) = sandbox.call_json("POST", BULK, &no_account, Some(&body));
    assert_eq!(
        (status, reply["code"].as_str()),
        (403, Some("AUTHORIZATION_FAILED"))
    );
}

#[test]
fn clevertap_bulk_reports_bad_products_one_by_one_and_stores_the_rest() {
    let sandbox = Sandbox::start();
    let body = json!({"products": [
        product("P-1", "Acme"),
        {"identity": "P-2", "name": "Two", "attributes": {"colour": "red"}},
        {"identity": "P-3", "name": "Three", "attributes": {"price": "cheap"}},
        {"identity": "P-4", "name": ""},
    ]});
    let (status, reply) = sandbox.call_json("POST", BULK, &products_headers(), Some(&body));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "partial");
    assert_eq!(reply["processed"], 1);
    let unprocessed = reply["unprocessed"].as_array().unwrap();
    let indexes: Vec<u64> = unprocessed
        .iter()
        .map(|u| u["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 2, 3]);
    assert_eq!(unprocessed[0]["record"]["identity"], "P-2");
    assert!(unprocessed[0]["error"]
        .as_str()
        .unwrap()
        .contains("'colour' is not in the catalog schema"));
    assert!(unprocessed[1]["error"]
        .as_str()
        .unwrap()
        .contains("must be a number"));
    assert_eq!(unprocessed[2]["error"], "name is empty");
    assert_eq!(stored(&sandbox).len(), 1);
}

#[test]
fn clevertap_bulk_refuses_bodies_over_500_kb_unknown_catalogs_and_bad_shapes() {
    let sandbox = Sandbox::start();
    let big: Vec<Value> = (0..600)
        .map(|n| json!({"identity": format!("P-{n}"), "name": "x".repeat(900)}))
        .collect();
    let body = json!({ "products": big });
    assert!(body.to_string().len() > 500_000);
    let (status, reply) = sandbox.call_json("POST", BULK, &products_headers(), Some(&body));
    assert_eq!(
        (status, reply["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );
    assert!(
        stored(&sandbox).is_empty(),
        "nothing of a refused body is stored"
    );

    let one = json!({"products": [product("P-1", "Acme")]});
    let path = "/clevertap/v2/catalogs/999/products/bulk";
    let (status, reply) = sandbox.call_json("POST", path, &products_headers(), Some(&one));
    assert_eq!(
        (status, reply["code"].as_str()),
        (404, Some("CATALOG_NOT_FOUND"))
    );
    let path = "/clevertap/v2/catalogs/abc/products/bulk";
    let (status, _) = sandbox.call_json("POST", path, &products_headers(), Some(&one));
    assert_eq!(status, 400);
    for bad in [json!({"items": []}), json!({"products": []}), json!([1])] {
        let (status, reply) = sandbox.call_json("POST", BULK, &products_headers(), Some(&bad));
        assert_eq!(status, 400, "{bad}");
        assert_eq!(reply["code"], "CATALOG_INVALID_REQUEST", "{bad}");
    }
}

// ---------------------------------------------------------------- signed-URL upload

fn v2_headers() -> [(&'static str, &'static str); 2] {
    [("X-Account-Id", "acct"), ("X-CleverTap-Token", TOKEN)]
}

/// The path and query of a URL the sandbox handed out.
fn local(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    format!("/{}", rest.split_once('/').unwrap().1)
}

fn put_part(sandbox: &Sandbox, url: &str, bytes: &str) -> u16 {
    sandbox.request_raw("PUT", &local(url), &[], Some(bytes)).0
}

fn complete(sandbox: &Sandbox, upload_id: &str, size: usize) -> (u16, Value) {
    let body = json!({"uploadId": upload_id, "catalogId": 123, "fileName": "p.csv",
        "fileSize": size, "completedBy": "ops@example.com"});
    sandbox.call_json(
        "POST",
        "/clevertap/v2/catalogs/signedurl/complete",
        &v2_headers(),
        Some(&body),
    )
}

#[test]
fn clevertap_upload_hands_out_its_own_urls_counts_the_parts_and_starts_a_job() {
    let sandbox = Sandbox::start();
    let path = "/clevertap/v2/catalogs/signedurl?catalogId=123&fileName=p.csv&contentType=text/csv&multiPart=true&totalParts=2";
    let (status, reply) = sandbox.call_json("GET", path, &v2_headers(), None);
    assert_eq!(status, 200, "{reply}");
    let upload_id = reply["uploadId"].as_str().unwrap().to_string();
    let urls: Vec<String> = reply["signedUrls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["signedUrl"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(urls.len(), 2);
    assert!(urls[0].starts_with(&sandbox.root), "{}", urls[0]);

    assert_eq!(put_part(&sandbox, &urls[0], "identity,name\nA,One\n"), 200);
    let (status, reply) = complete(&sandbox, &upload_id, 20);
    assert_eq!(status, 400, "a part is missing: {reply}");
    assert!(reply["error"].as_str().unwrap().contains("1 of 2 parts"));
    // A URL is good for its own upload only: a made-up signature is refused.
    let forged = format!("{}x", urls[1]);
    assert_eq!(put_part(&sandbox, &forged, "B,Two\n"), 403);
    assert_eq!(put_part(&sandbox, &urls[1], "B,Two\n"), 200);
    let (status, reply) = complete(&sandbox, &upload_id, 99);
    assert_eq!(status, 400);
    assert!(reply["error"]
        .as_str()
        .unwrap()
        .contains("26 bytes were uploaded"));

    let (status, reply) = complete(&sandbox, &upload_id, 26);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "PROCESSING");
    assert!(reply["jobId"].as_str().unwrap().starts_with("job_"));
    assert!(reply["estimatedCompletionTime"].is_string());
    let (status, _) = complete(&sandbox, &upload_id, 26);
    assert_eq!(status, 409, "an upload completes once");

    let inspect = format!("/clevertap/_sandbox/uploads/{upload_id}");
    let (_, seen) = sandbox.call_json("GET", &inspect, &v2_headers(), None);
    assert_eq!(seen["partBytes"], json!([20, 6]));
    assert_eq!(seen["job"]["completedBy"], "ops@example.com");
}

#[test]
fn clevertap_upload_checks_its_documented_query_and_the_v2_headers() {
    let sandbox = Sandbox::start();
    let base = "/clevertap/v2/catalogs/signedurl?catalogId=123&fileName=p.csv&contentType=text/csv";
    let cases = [
        (base.to_string(), 400, "multiPart is required"),
        (format!("{base}&multiPart=true"), 400, "totalParts is required"),
        (
            "/clevertap/v2/catalogs/signedurl?catalogId=123&fileName=p.csv&contentType=image/png&multiPart=false".to_string(),
            400,
            "contentType",
        ),
        (
            "/clevertap/v2/catalogs/signedurl?catalogId=999&fileName=p.csv&contentType=text/csv&multiPart=false".to_string(),
            404,
            "No catalog exists",
        ),
    ];
    for (path, want, why) in cases {
        let (status, reply) = sandbox.call_json("GET", &path, &v2_headers(), None);
        assert_eq!(status, want, "{path}: {reply}");
        assert!(
            reply["error"].as_str().unwrap().contains(why),
            "{path}: {reply}"
        );
    }
    let ok = format!("{base}&multiPart=false");
    let (status, reply) = sandbox.call_json("GET", &ok, &products_headers(), None);
    assert_eq!(
        (status, reply["code"].as_str()),
        (401, Some("AUTHENTICATION_FAILED"))
    );
    let (status, reply) = sandbox.call_json("GET", &ok, &v2_headers(), None);
    assert_eq!(status, 200);
    assert!(reply["signedUrl"]
        .as_str()
        .unwrap()
        .contains("/clevertap/_upload/"));
}
