//! The sandbox's rastro enrichment, catalogian delta feed and clevertap catalogs, over raw
//! HTTP: jobs that progress with time, the delta events that follow cat_demo, scopes,
//! pagination, limits and the vendors' error bodies.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Sandbox, TOKEN};
use serde_json::{json, Value};

const CAT_DEMO: &str = "/rastro/api/public/catalogs/cat_demo";
const ENRICH: &str = "/rastro/api/public/catalogs/cat_demo/enrich";
const BULK: &str = "/rastro/api/public/catalogs/cat_demo/items/bulk";
const SOURCES: &str = "/catalogian/v1/sources";
const DELTA: &str = "/catalogian/v1/sources/src_demo/delta";
const READONLY: &str = "sandbox-readonly";
const SOURCE_KEY: &str = "cat_src_demo";

fn start() -> Sandbox {
    Sandbox::start()
}

fn get(sandbox: &Sandbox, path: &str) -> Value {
    let (status, reply) = sandbox.call_as(TOKEN, "GET", path, None);
    assert_eq!(status, 200, "GET {path}: {reply}");
    reply
}

fn post(sandbox: &Sandbox, path: &str, body: &Value) -> Value {
    let (status, reply) = sandbox.call_as(TOKEN, "POST", path, Some(body));
    assert_eq!(status, 200, "POST {path}: {reply}");
    reply
}

/// The sandbox's PUT replaces the whole item (the stricter reading of rastro's docs), so this
/// reads the item, lays `fields` over it and sends it all, as catops does.
fn put(sandbox: &Sandbox, path: &str, fields: &Value) -> Value {
    let mut body = get(sandbox, path);
    let item = body.as_object_mut().expect("an item object");
    item.shift_remove("id");
    for (key, value) in fields.as_object().expect("fields object") {
        item.insert(key.clone(), value.clone());
    }
    let (status, reply) = sandbox.call_as(TOKEN, "PUT", path, Some(&body));
    assert_eq!(status, 200, "PUT {path}: {reply}");
    reply
}

fn bulk(sandbox: &Sandbox, items: Value) -> Value {
    post(
        sandbox,
        BULK,
        &json!({"unique_field": "sku", "items": items}),
    )
}

/// Every cat_demo item, in id order.
fn items(sandbox: &Sandbox) -> Vec<Value> {
    get(sandbox, &format!("{CAT_DEMO}/items?limit=1000"))["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn events(sandbox: &Sandbox) -> Vec<Value> {
    get(sandbox, &format!("{DELTA}?limit=200"))["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn job_path(job: &Value) -> String {
    format!("{ENRICH}/{}", job["job_id"].as_str().unwrap_or_default())
}

fn done(job: &Value) -> u64 {
    job["completed_items"].as_u64().unwrap_or(0) + job["failed_items"].as_u64().unwrap_or(0)
}

/// Polls a job until it leaves `running`; every poll's progress must not go back.
fn wait_for(sandbox: &Sandbox, job: &Value, within: Duration) -> Value {
    let started = Instant::now();
    let mut last = 0;
    loop {
        let status = get(sandbox, &job_path(job));
        assert!(done(&status) >= last, "progress went back: {status}");
        last = done(&status);
        if status["status"] != "running" {
            return status;
        }
        assert!(started.elapsed() < within, "still running: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn is_two_decimals(value: &Value) -> bool {
    value
        .as_f64()
        .is_some_and(|n| ((n * 100.0).round() / 100.0 - n).abs() < 1e-9)
}

// ---- rastro enrichment

#[test]
fn enrichment_runs_over_time_and_writes_deterministic_values_into_cat_demo() {
    let sandbox = start();
    // 225 items at medium speed (200 items/s): a little over a second.
    sandbox.seed_items("cat_demo", 200);
    let body = json!({
        "prompt": "Find product specifications",
        "output_schema": [
            {"name": "color", "type": "string", "description": "Main color"},
            {"name": "weight", "type": "number", "description": "Weight in kg"},
            {"name": "stock", "type": "integer", "description": "Units in stock"},
            {"name": "in_box", "type": "boolean", "description": "Sold boxed"},
            {"name": "tags", "type": "array", "description": "Tags"},
        ],
        "allowed_domains": ["example.com"],
        "web_search": false,
        "taxonomy": ["Footwear", "Outdoor", "Bags"],
        "predict_taxonomy": true,
        "quality_prompt": "Rate the listing",
    });
    let job = post(&sandbox, ENRICH, &body);
    assert_eq!(job["status"], "running", "{job}");
    assert_eq!(job["total_items"], 225, "{job}");
    let id = job["job_id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("job_") && id[4..].chars().all(|c| c.is_ascii_hexdigit()),
        "{job}"
    );

    let early = get(&sandbox, &job_path(&job));
    assert_eq!(early["status"], "running", "{early}");
    assert!(done(&early) < 225, "{early}");

    let finished = wait_for(&sandbox, &job, Duration::from_secs(5));
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["job_id"], job["job_id"]);
    assert_eq!(finished["total_items"], 225);
    assert_eq!(done(&finished), 225, "{finished}");
    let failed = finished["failed_items"].as_u64().unwrap_or(0);
    assert!(failed >= 1, "about one item in 40 fails: {finished}");

    let all = items(&sandbox);
    let (enriched, untouched): (Vec<&Value>, Vec<&Value>) =
        all.iter().partition(|item| item.get("color").is_some());
    assert_eq!(enriched.len() as u64, 225 - failed);
    assert_eq!(
        untouched.len() as u64,
        failed,
        "a failed item is not written"
    );
    for item in &enriched {
        let sku = item["sku"].as_str().unwrap_or_default();
        assert_eq!(item["color"], format!("color for {sku}"), "{item}");
        assert!(is_two_decimals(&item["weight"]), "{item}");
        assert!(item["stock"].as_u64().is_some_and(|n| n < 1000), "{item}");
        assert!(item["in_box"].is_boolean(), "{item}");
        assert_eq!(item["tags"], json!(["tags-a", "tags-b"]), "{item}");
        let category = item["predicted_category"].as_str().unwrap_or_default();
        assert!(
            ["Footwear", "Outdoor", "Bags"].contains(&category),
            "{item}"
        );
        assert!(
            item["quality_score"].as_u64().is_some_and(|n| n <= 100),
            "{item}"
        );
    }
    for item in &untouched {
        assert!(item.get("quality_score").is_none(), "{item}");
    }
    let stocks: HashSet<String> = enriched.iter().map(|i| i["stock"].to_string()).collect();
    assert!(stocks.len() > 100, "integers are spread over the items");

    // Every enriched item was one changed row of a delta event, in one event per advance.
    let changed: u64 = events(&sandbox)
        .iter()
        .filter(|event| event["newCount"] == 0)
        .map(|event| event["changedCount"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(changed, 225 - failed);

    // Cancelling a finished job returns it as it is.
    let (status, cancelled) =
        sandbox.call_as(TOKEN, "POST", &format!("{}/cancel", job_path(&job)), None);
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled, finished);

    // The values depend only on (field, unique value): another sandbox writes the same.
    let other = start();
    let job = post(
        &other,
        ENRICH,
        &json!({"prompt": "p", "output_schema": body["output_schema"], "speed": "fast",
                "taxonomy": body["taxonomy"], "predict_taxonomy": true,
                "quality_prompt": "q"}),
    );
    wait_for(&other, &job, Duration::from_secs(5));
    let first_25: Vec<Value> = items(&other);
    assert_eq!(first_25.as_slice(), &all[..25]);
}

#[test]
fn a_cancelled_job_keeps_what_it_had_done_and_stops() {
    let sandbox = start();
    sandbox.seed_items("cat_demo", 200);
    // slow is 50 items/s: 225 items take 4.5 s.
    let job = post(
        &sandbox,
        ENRICH,
        &json!({"prompt": "p", "output_schema": [{"name": "material", "type": "string"}],
                "speed": "slow"}),
    );
    std::thread::sleep(Duration::from_millis(300));
    let cancelled = post(
        &sandbox,
        &format!("{}/cancel", job_path(&job)),
        &Value::Null,
    );
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let processed = done(&cancelled);
    assert!((10..225).contains(&processed), "{cancelled}");

    std::thread::sleep(Duration::from_millis(300));
    let later = get(&sandbox, &job_path(&job));
    assert_eq!(later, cancelled, "a cancelled job does not move");
    let enriched: Vec<Value> = items(&sandbox)
        .into_iter()
        .filter(|item| item.get("material").is_some())
        .collect();
    assert_eq!(enriched.len() as u64, cancelled["completed_items"]);
    // Items are processed in id order: the enriched ones are the first ones.
    assert!(enriched.iter().all(
        |item| item["id"].as_str().unwrap_or_default()["item_".len()..]
            .parse::<u64>()
            .is_ok_and(|n| n <= processed)
    ));
    let again = post(
        &sandbox,
        &format!("{}/cancel", job_path(&job)),
        &Value::Null,
    );
    assert_eq!(again, cancelled);
}

#[test]
fn enrichment_progress_survives_a_restart_of_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.sqlite3");
    let job = {
        let sandbox = Sandbox::with_state(state.clone());
        post(
            &sandbox,
            ENRICH,
            &json!({"prompt": "p", "output_schema": [{"name": "x", "type": "integer"}],
                    "speed": "medium"}),
        )
    };
    // Nobody looked while the job ran: 25 items at 200/s are due after 125 ms.
    std::thread::sleep(Duration::from_millis(300));
    let sandbox = Sandbox::with_state(state.clone());
    let status = get(&sandbox, &job_path(&job));
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(done(&status), 25);
}

#[test]
fn enrichment_requests_are_validated_with_422() {
    let sandbox = start();
    let schema = json!([{"name": "w", "type": "string"}]);
    for body in [
        json!({"output_schema": schema}),
        json!({"prompt": "", "output_schema": schema}),
        json!({"prompt": 5, "output_schema": schema}),
        json!({"prompt": "p"}),
        json!({"prompt": "p", "output_schema": []}),
        json!({"prompt": "p", "output_schema": {"name": "w"}}),
        json!({"prompt": "p", "output_schema": [{"type": "string"}]}),
        json!({"prompt": "p", "output_schema": [{"name": "w", "type": "date"}]}),
        json!({"prompt": "p", "output_schema": [{"name": "w"}]}),
        json!({"prompt": "p", "output_schema": schema, "speed": "warp"}),
        json!({"prompt": "p", "output_schema": schema, "speed": 1}),
        json!({"prompt": "p", "output_schema": schema, "allowed_domains": "a.com"}),
        json!({"prompt": "p", "output_schema": schema, "allowed_domains": [1]}),
        json!({"prompt": "p", "output_schema": schema, "web_search": "yes"}),
        json!({"prompt": "p", "output_schema": schema, "predict_taxonomy": 1}),
        json!({"prompt": "p", "output_schema": [{"name": "sku", "type": "string"}]}),
        json!(["not", "an", "object"]),
    ] {
        let (status, reply) = sandbox.call_as(TOKEN, "POST", ENRICH, Some(&body));
        assert_eq!(status, 422, "{body}: {reply}");
        assert!(reply["detail"].is_string(), "{reply}");
    }
    let valid = json!({"prompt": "p", "output_schema": schema});
    let (status, reply) = sandbox.call_as(
        TOKEN,
        "POST",
        "/rastro/api/public/catalogs/cat_nope/enrich",
        Some(&valid),
    );
    assert_eq!(status, 404, "{reply}");
    for path in [
        format!("{ENRICH}/job_000000000000"),
        "/rastro/api/public/catalogs/cat_nope/enrich/job_1".to_string(),
    ] {
        let (status, reply) = sandbox.call_as(TOKEN, "GET", &path, None);
        assert_eq!(status, 404, "{path}: {reply}");
        assert!(reply["detail"].is_string(), "{reply}");
        let (status, _) = sandbox.call_as(TOKEN, "POST", &format!("{path}/cancel"), None);
        assert_eq!(status, 404, "{path}/cancel");
    }
    let (status, reply) = sandbox.call_as(READONLY, "POST", ENRICH, Some(&valid));
    assert_eq!(status, 401, "rastro refuses the readonly token: {reply}");
    assert!(reply["detail"].is_string(), "{reply}");
}

// ---- catalogian delta events

fn is_rfc3339_ms(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() == 24
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && bytes[19] == b'.'
        && text.ends_with('Z')
}

#[test]
fn a_bulk_upsert_and_a_put_on_cat_demo_each_make_one_delta_event_with_rows() {
    let sandbox = start();
    let (status, reply) = sandbox.call_as(TOKEN, "GET", &format!("{DELTA}/latest"), None);
    assert_eq!(status, 404, "no event yet: {reply}");
    assert!(reply["error"].is_string(), "{reply}");

    let counts = bulk(
        &sandbox,
        json!([
            {"sku": "NEW-1", "title": "Lamp", "price": 30.0},
            {"sku": "DEMO-0001", "price": 1.25},
            {"sku": "NEW-2", "title": "Rug"},
            {"sku": "DEMO-0002", "brand": "Northwind"},
        ]),
    );
    assert_eq!(counts, json!({"created": 2, "updated": 2, "failed": 0}));
    let list = get(&sandbox, DELTA);
    assert_eq!(list["sourceId"], "src_demo");
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(list["hasMore"], false);
    assert_eq!(list["nextCursor"], Value::Null);
    let event = &list["events"][0];
    let id = event["id"].as_str().unwrap_or_default();
    assert!(
        id.starts_with("evt_") && id[4..].chars().all(|c| c.is_ascii_digit()),
        "{event}"
    );
    assert!(
        is_rfc3339_ms(event["detectedAt"].as_str().unwrap_or_default()),
        "{event}"
    );
    assert_eq!(event["newCount"], 2);
    assert_eq!(
        event["changedCount"], 1,
        "DEMO-0002 got what it had: unchanged"
    );
    assert_eq!(event["deletedCount"], 0);
    assert_eq!(event["unchangedCount"], 24);
    assert_eq!(event["totalCount"], 27);
    assert_eq!(event["isNoChange"], false);
    assert_eq!(event["newKeys"], json!(["NEW-1", "NEW-2"]));
    assert_eq!(event["changedKeys"], json!(["DEMO-0001"]));
    assert_eq!(event["deletedKeys"], json!([]));
    assert_eq!(&get(&sandbox, &format!("{DELTA}/latest")), event);

    assert_rows_of_the_bulk_event(&sandbox, id);

    put(
        &sandbox,
        &format!("{CAT_DEMO}/items/item_3"),
        &json!({"title": "Renamed"}),
    );
    let all = events(&sandbox);
    assert_eq!(all.len(), 2);
    let event = &all[1];
    assert_eq!(event["changedKeys"], json!(["DEMO-0003"]));
    assert_eq!(
        (
            &event["newCount"],
            &event["changedCount"],
            &event["totalCount"]
        ),
        (&json!(0), &json!(1), &json!(27))
    );
    assert!(event["detectedAt"].as_str() > all[0]["detectedAt"].as_str());
    let rows = get(
        &sandbox,
        &format!("{DELTA}/{}/rows", event["id"].as_str().unwrap_or_default()),
    );
    assert_eq!(
        rows["rows"][0]["before"]["title"],
        "Globex Trail Running Shoe"
    );
    assert_eq!(rows["rows"][0]["after"]["title"], "Renamed");

    // Sending what is already there changes nothing, so no event.
    bulk(
        &sandbox,
        json!([{"sku": "NEW-1", "title": "Lamp"}, {"sku": "DEMO-0001", "price": 1.25}]),
    );
    put(
        &sandbox,
        &format!("{CAT_DEMO}/items/item_3"),
        &json!({"title": "Renamed"}),
    );
    assert_eq!(events(&sandbox).len(), 2);

    assert_the_source_was_checked_at(&sandbox, event);
}

/// The rows of the event `a_bulk_upsert_and_a_put_on_cat_demo_each_make_one_delta_event_with_rows`
/// makes first: whole items before and after, filtered by change type.
fn assert_rows_of_the_bulk_event(sandbox: &Sandbox, id: &str) {
    let rows = get(sandbox, &format!("{DELTA}/{id}/rows"));
    assert_eq!(rows["eventId"], id);
    assert_eq!(rows["count"], 3);
    assert_eq!(rows["hasMore"], false);
    assert_eq!(rows["nextCursor"], Value::Null);
    assert_eq!(
        rows["rows"][0],
        json!({"key": "NEW-1", "changeType": "new", "before": null,
               "after": {"id": "item_26", "sku": "NEW-1", "title": "Lamp", "price": 30.0}})
    );
    assert_eq!(rows["rows"][1]["key"], "DEMO-0001");
    assert_eq!(rows["rows"][1]["changeType"], "changed");
    assert_eq!(rows["rows"][1]["before"]["price"], 9.99);
    assert_eq!(rows["rows"][1]["after"]["price"], 1.25);
    assert_eq!(rows["rows"][1]["after"]["id"], "item_1");
    assert_eq!(
        rows["rows"][1]["after"]["title"], "Acme Trail Running Shoe",
        "after is the whole item"
    );
    let new_only = get(sandbox, &format!("{DELTA}/{id}/rows?changeType=new"));
    let keys: Vec<&Value> = new_only["rows"]
        .as_array()
        .map(|rows| rows.iter().map(|r| &r["key"]).collect())
        .unwrap_or_default();
    assert_eq!(keys, [&json!("NEW-1"), &json!("NEW-2")]);
    let deleted = get(sandbox, &format!("{DELTA}/{id}/rows?changeType=deleted"));
    assert_eq!(deleted["count"], 0);
}

/// The source shows its slug and when it was last checked: at the latest event.
fn assert_the_source_was_checked_at(sandbox: &Sandbox, event: &Value) {
    let sources = get(sandbox, SOURCES);
    assert_eq!(sources.as_array().map(Vec::len), Some(1), "{sources}");
    let source = &sources[0];
    assert_eq!(source["id"], "src_demo");
    assert_eq!(source["slug"], "demo-feed");
    assert_eq!(source["keyField"], "sku");
    assert_eq!(source["checkIntervalMinutes"], 60);
    assert_eq!(source["lastCheckedAt"], event["detectedAt"]);
}

#[test]
fn delta_events_and_rows_page_with_limit_and_cursor() {
    let sandbox = start();
    for n in 0..7 {
        put(
            &sandbox,
            &format!("{CAT_DEMO}/items/item_1"),
            &json!({"note": format!("v{n}")}),
        );
    }
    let all: Vec<String> = events(&sandbox)
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(all.len(), 7);

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut path = format!("{DELTA}?limit=3");
    loop {
        let page = get(&sandbox, &path);
        pages += 1;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        assert_eq!(page["count"], events.len());
        seen.extend(
            events
                .iter()
                .map(|e| e["id"].as_str().unwrap_or_default().to_string()),
        );
        match page["nextCursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["hasMore"], true);
                path = format!("{DELTA}?limit=3&cursor={cursor}");
            }
            None => {
                assert_eq!(page["hasMore"], false);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, all, "oldest first, each once");

    // since: strictly after that event's detectedAt.
    let fourth = &events(&sandbox)[3];
    let since = fourth["detectedAt"].as_str().unwrap_or_default();
    let later = get(&sandbox, &format!("{DELTA}?since={since}"));
    assert_eq!(later["count"], 3, "{later}");
    assert_eq!(later["events"][0]["id"], all[4].as_str());
    let none = get(&sandbox, &format!("{DELTA}?since=2999-01-01T00:00:00Z"));
    assert_eq!(none["count"], 0);

    // Rows page the same way.
    let new_items: Vec<Value> = (0..5)
        .map(|n| json!({"sku": format!("ROW-{n}"), "title": "t"}))
        .collect();
    bulk(&sandbox, json!(new_items));
    let latest = get(&sandbox, &format!("{DELTA}/latest"));
    let event = latest["id"].as_str().unwrap_or_default();
    let mut keys = Vec::new();
    let mut pages = 0;
    let mut path = format!("{DELTA}/{event}/rows?limit=2");
    loop {
        let page = get(&sandbox, &path);
        pages += 1;
        for row in page["rows"].as_array().cloned().unwrap_or_default() {
            keys.push(row["key"].as_str().unwrap_or_default().to_string());
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("{DELTA}/{event}/rows?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(keys, ["ROW-0", "ROW-1", "ROW-2", "ROW-3", "ROW-4"]);

    // A cursor from the events list is not one for rows, nor is a made-up one.
    let first = get(&sandbox, &format!("{DELTA}?limit=1"));
    let cursor = first["nextCursor"].as_str().unwrap_or_default();
    for path in [
        format!("{DELTA}/{event}/rows?cursor={cursor}"),
        format!("{DELTA}?cursor=abc"),
        format!("{DELTA}?since=yesterday"),
    ] {
        let (status, reply) = sandbox.call_as(TOKEN, "GET", &path, None);
        assert_eq!(status, 400, "{path}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
}

#[test]
fn keys_limit_truncates_the_key_lists_but_not_the_counts() {
    let sandbox = start();
    let new_items: Vec<Value> = (0..5)
        .map(|n| json!({"sku": format!("K-{n}"), "title": "t"}))
        .collect();
    bulk(&sandbox, json!(new_items));
    let page = get(&sandbox, &format!("{DELTA}?keysLimit=2"));
    let event = &page["events"][0];
    assert_eq!(event["newKeys"], json!(["K-0", "K-1"]));
    assert_eq!(event["newCount"], 5);
    let latest = get(&sandbox, &format!("{DELTA}/latest?keysLimit=0"));
    assert_eq!(latest["newKeys"], json!([]));
    assert_eq!(latest["newCount"], 5);
    let full = get(&sandbox, &format!("{DELTA}?keysLimit=1000"));
    assert_eq!(
        full["events"][0]["newKeys"].as_array().map(Vec::len),
        Some(5)
    );
}

#[test]
fn delta_parameters_out_of_range_are_400() {
    let sandbox = start();
    put(
        &sandbox,
        &format!("{CAT_DEMO}/items/item_1"),
        &json!({"note": "x"}),
    );
    let event = get(&sandbox, &format!("{DELTA}/latest"))["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for query in [
        "limit=201",
        "limit=0",
        "limit=ten",
        "keysLimit=1001",
        "keysLimit=-1",
    ] {
        let (status, reply) = sandbox.call_as(TOKEN, "GET", &format!("{DELTA}?{query}"), None);
        assert_eq!(status, 400, "{query}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
    for query in ["limit=1001", "limit=0", "changeType=removed"] {
        let path = format!("{DELTA}/{event}/rows?{query}");
        let (status, reply) = sandbox.call_as(TOKEN, "GET", &path, None);
        assert_eq!(status, 400, "{query}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
    get(&sandbox, &format!("{DELTA}?limit=200&keysLimit=1000"));
    get(&sandbox, &format!("{DELTA}/{event}/rows?limit=200"));

    for path in [
        "/catalogian/v1/sources/src_nope/delta".to_string(),
        "/catalogian/v1/sources/src_nope/delta/latest".to_string(),
        format!("{DELTA}/evt_999999999999/rows"),
        format!("{DELTA}/nonsense/rows"),
    ] {
        let (status, reply) = sandbox.call_as(TOKEN, "GET", &path, None);
        assert_eq!(status, 404, "{path}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
}

#[test]
fn rows_need_the_read_rows_scope_which_readonly_and_source_keys_lack() {
    let sandbox = start();
    put(
        &sandbox,
        &format!("{CAT_DEMO}/items/item_2"),
        &json!({"title": "New"}),
    );
    let event = get(&sandbox, &format!("{DELTA}/latest"))["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for key in [READONLY, SOURCE_KEY] {
        let (status, sources) = sandbox.call_as(key, "GET", SOURCES, None);
        assert_eq!(status, 200, "{key}: {sources}");
        assert_eq!(sources[0]["id"], "src_demo");
        let (status, list) = sandbox.call_as(key, "GET", DELTA, None);
        assert_eq!((status, &list["count"]), (200, &json!(1)), "{key}: {list}");
        let (status, latest) = sandbox.call_as(key, "GET", &format!("{DELTA}/latest"), None);
        assert_eq!((status, &latest["id"]), (200, &json!(event)), "{key}");
        let (status, reply) = sandbox.call_as(key, "GET", &format!("{DELTA}/{event}/rows"), None);
        assert_eq!(status, 403, "{key}: {reply}");
        assert_eq!(
            reply,
            json!({"error": "Forbidden — API key lacks required scope read:rows"})
        );
    }
    // The source-scoped key sees exactly its source, by id or by slug.
    let (_, sources) = sandbox.call_as(SOURCE_KEY, "GET", SOURCES, None);
    assert_eq!(sources.as_array().map(Vec::len), Some(1));
    let (status, by_slug) = sandbox.call_as(
        SOURCE_KEY,
        "GET",
        "/catalogian/v1/sources/demo-feed/delta",
        None,
    );
    assert_eq!(status, 200, "{by_slug}");
    assert_eq!(by_slug["sourceId"], "src_demo");

    for headers in [
        vec![("Authorization", "Bearer wrong")],
        vec![("Authorization", "sandbox-token")],
        vec![],
    ] {
        let (status, reply) = sandbox.call_json("GET", SOURCES, &headers, None);
        assert_eq!(status, 401, "{headers:?}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
        let (status, _) = sandbox.call_json("GET", DELTA, &headers, None);
        assert_eq!(status, 401);
    }
}

// ---- clevertap

const CLEVERTAP: &str = "/clevertap/v2/catalogs";

fn clevertap(sandbox: &Sandbox, path: &str, token: Option<&str>, account: bool) -> (u16, Value) {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(token) = token {
        headers.push(("X-CleverTap-Token", token));
    }
    if account {
        headers.push(("X-Account-Id", "ACC-123"));
    }
    sandbox.call_json("GET", path, &headers, None)
}

#[test]
fn clevertap_gets_and_lists_catalogs_as_documented() {
    let sandbox = start();
    let documented = json!({
        "id": 123,
        "catalogName": "electronics_catalog",
        "catalogSchema": [
            {"name": "brand", "type": "string", "filterable": true},
            {"name": "price", "type": "number", "filterable": true}
        ],
        "fieldMappings": {"manufacturer": "brand", "cost": "price"},
        "description": "Product catalog for electronics store",
        "totalProducts": 1500,
        "status": "ACTIVE",
        "createdAt": 1699564800,
        "createdBy": "catalog.admin@example.com",
        "updatedBy": "catalog.editor@example.com",
        "isActive": true,
        "attributeCount": 4,
        "totalColumns": 7
    });
    let (status, catalog) = clevertap(&sandbox, &format!("{CLEVERTAP}/123"), Some(TOKEN), true);
    assert_eq!(status, 200, "{catalog}");
    assert_eq!(catalog, documented);

    // list-catalogs-api: the catalogs are `content`, paged by zero-based `page` and `size`.
    let (status, list) = clevertap(&sandbox, CLEVERTAP, Some(TOKEN), true);
    assert_eq!(status, 200, "{list}");
    let catalogs = list["content"].as_array().cloned().unwrap_or_default();
    assert_eq!(catalogs.len(), 2, "{list}");
    assert_eq!(
        (
            &list["page"],
            &list["size"],
            &list["totalElements"],
            &list["totalPages"]
        ),
        (&json!(0), &json!(20), &json!(2), &json!(1))
    );
    let (_, second) = clevertap(
        &sandbox,
        &format!("{CLEVERTAP}?page=1&size=1"),
        Some(TOKEN),
        true,
    );
    assert_eq!(second["content"][0]["id"], 124, "{second}");
    assert_eq!(second["totalPages"], 2, "{second}");
    let (status, _) = clevertap(
        &sandbox,
        &format!("{CLEVERTAP}?size=101"),
        Some(TOKEN),
        true,
    );
    assert_eq!(status, 400, "size is at most 100");
    assert_eq!(catalogs[0], documented);
    assert_eq!(catalogs[1]["id"], 124);
    assert_eq!(catalogs[1]["catalogName"], "apparel_catalog");
    let (_, apparel) = clevertap(&sandbox, &format!("{CLEVERTAP}/124"), Some(TOKEN), true);
    assert_eq!(apparel, catalogs[1]);
}

#[test]
fn clevertap_answers_each_error_code_with_its_status() {
    let sandbox = start();
    let one = format!("{CLEVERTAP}/123");
    let cases: [(String, Option<&str>, bool, u16, &str); 7] = [
        (one.clone(), None, true, 401, "AUTHENTICATION_FAILED"),
        (
            one.clone(),
            Some("wrong"),
            true,
            401,
            "AUTHENTICATION_FAILED",
        ),
        (
            one.clone(),
            Some(READONLY),
            true,
            401,
            "AUTHENTICATION_FAILED",
        ),
        (
            CLEVERTAP.to_string(),
            None,
            false,
            401,
            "AUTHENTICATION_FAILED",
        ),
        (one.clone(), Some(TOKEN), false, 403, "AUTHORIZATION_FAILED"),
        (
            format!("{CLEVERTAP}/999"),
            Some(TOKEN),
            true,
            404,
            "CATALOG_NOT_FOUND",
        ),
        (
            format!("{CLEVERTAP}/abc"),
            Some(TOKEN),
            true,
            400,
            "INVALID_PARAMETER",
        ),
    ];
    for (path, token, account, status, code) in cases {
        let (got, reply) = clevertap(&sandbox, &path, token, account);
        assert_eq!(got, status, "{path} {token:?} {account}: {reply}");
        assert_eq!(reply["status"], "fail", "{reply}");
        assert_eq!(reply["code"], code, "{reply}");
        assert!(
            reply["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{reply}"
        );
    }
}

// ---- catalogian rate limits

fn rate_headers(head: &str) -> (u32, u32, i64) {
    let header = |name: &str| -> String {
        head.lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} in {head}"))
    };
    (
        header("x-ratelimit-limit").parse().unwrap(),
        header("x-ratelimit-remaining").parse().unwrap(),
        header("x-ratelimit-reset").parse().unwrap(),
    )
}

fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// catalogian.com/docs/rate-limits: 600 requests a minute per key, the X-RateLimit-* headers on
/// every reply, and a 429 with Retry-After and the documented body past the budget.
#[test]
fn catalogian_counts_600_requests_a_minute_per_key_then_429s_with_retry_after() {
    let sandbox = start();
    let bearer = format!("Bearer {TOKEN}");
    let auth = [("Authorization", bearer.as_str())];
    let mut reset = 0;
    for n in 1..=600u32 {
        let (status, head, body) = sandbox.request("GET", SOURCES, &auth, None);
        assert_eq!(status, 200, "request {n}: {body}");
        let (limit, remaining, at) = rate_headers(&head);
        assert_eq!((limit, remaining), (600, 600 - n), "request {n}");
        if n == 1 {
            reset = at;
            let ahead = reset - unix_secs();
            assert!((59..=61).contains(&ahead), "reset {ahead} s ahead");
        }
        assert_eq!(at, reset, "one window");
    }
    let (status, head, body) = sandbox.request("GET", DELTA, &auth, None);
    assert_eq!(status, 429, "{body}");
    assert_eq!(rate_headers(&head), (600, 0, reset));
    let retry_after: i64 = head
        .lines()
        .find_map(|l| l.strip_prefix("retry-after: "))
        .unwrap_or_else(|| panic!("no Retry-After in {head}"))
        .parse()
        .unwrap();
    assert!(
        (1..=61).contains(&retry_after) && (reset - unix_secs() - retry_after).abs() <= 1,
        "Retry-After {retry_after}, reset {reset}"
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"error": format!("Rate limit exceeded. Try again in {retry_after} seconds.")})
    );

    // Another key has its own budget; callers without a valid key share the per-IP 100.
    let (status, head, _) = sandbox.request(
        "GET",
        SOURCES,
        &[("Authorization", &format!("Bearer {READONLY}"))],
        None,
    );
    assert_eq!((status, rate_headers(&head).1), (200, 599));
    let (status, head, _) = sandbox.request("GET", SOURCES, &[], None);
    assert_eq!((status, rate_headers(&head).0), (401, 100));
}

#[test]
fn catalogian_rate_limits_off_send_no_budget_headers() {
    let sandbox = Sandbox::without_rate_limits();
    let bearer = format!("Bearer {TOKEN}");
    let (status, head, _) = sandbox.request("GET", SOURCES, &[("Authorization", &bearer)], None);
    assert_eq!(status, 200);
    assert!(!head.to_ascii_lowercase().contains("x-ratelimit"), "{head}");
}

// ---- catalogian snapshots

const SNAPSHOTS: &str = "/catalogian/v1/sources/src_demo/snapshots";
const SNAPSHOT_ROWS: &str = "/catalogian/v1/sources/src_demo/snapshot-rows";

fn rows_of(page: &Value) -> Vec<Value> {
    page["rows"].as_array().cloned().unwrap_or_default()
}

/// Every row of the current snapshot for `query`, following cursors; and the pages it took.
fn all_snapshot_rows(sandbox: &Sandbox, query: &str) -> (Vec<Value>, usize) {
    let (mut rows, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let mut path = format!("{SNAPSHOT_ROWS}?{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = get(sandbox, &path);
        pages += 1;
        assert_eq!(page["count"], rows_of(&page).len(), "{page}");
        rows.extend(rows_of(&page));
        match page["nextCursor"].as_str() {
            Some(next) if page["hasMore"] == true => cursor = Some(next.to_string()),
            _ => return (rows, pages),
        }
    }
}

#[test]
fn snapshots_are_the_seed_and_one_per_event_newest_first_and_page_by_100_at_most() {
    let sandbox = start();
    let seeded = get(&sandbox, SNAPSHOTS);
    assert_eq!(seeded["sourceId"], "src_demo");
    assert_eq!(seeded["hasMore"], false);
    assert_eq!(seeded["nextCursor"], Value::Null);
    let first = &seeded["snapshots"][0];
    assert_eq!(seeded["count"], 1, "{seeded}");
    assert_eq!(first["totalRows"], 25);
    assert!(first["id"].as_str().unwrap().starts_with("snap_"));
    assert!(is_rfc3339_ms(first["createdAt"].as_str().unwrap()));

    put(
        &sandbox,
        &format!("{CAT_DEMO}/items/item_1"),
        &json!({"price": 1.5}),
    );
    bulk(&sandbox, json!([{"sku": "NEW-1", "title": "Extra"}]));
    let listed = get(&sandbox, SNAPSHOTS);
    let snapshots = listed["snapshots"].as_array().unwrap().clone();
    let totals: Vec<&Value> = snapshots.iter().map(|s| &s["totalRows"]).collect();
    assert_eq!(totals, [&json!(26), &json!(25), &json!(25)], "newest first");
    let ids: Vec<&str> = snapshots
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);
    assert_eq!(
        snapshots[0]["createdAt"],
        get(&sandbox, &format!("{DELTA}/latest"))["detectedAt"],
        "the check that found the change took the snapshot"
    );

    let page = get(&sandbox, &format!("{SNAPSHOTS}?limit=2"));
    assert_eq!(
        (page["count"].clone(), page["hasMore"].clone()),
        (json!(2), json!(true))
    );
    let cursor = page["nextCursor"].as_str().unwrap();
    let rest = get(&sandbox, &format!("{SNAPSHOTS}?limit=2&cursor={cursor}"));
    assert_eq!(rest["snapshots"], json!([snapshots[2]]));
    assert_eq!(rest["hasMore"], false);
    get(&sandbox, &format!("{SNAPSHOTS}?limit=100"));
    for query in ["limit=101", "limit=0", "cursor=nonsense"] {
        let (status, reply) = sandbox.call_as(TOKEN, "GET", &format!("{SNAPSHOTS}?{query}"), None);
        assert_eq!(status, 400, "{query}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
    let (status, reply) = sandbox.call_as(
        TOKEN,
        "GET",
        "/catalogian/v1/sources/src_nope/snapshots",
        None,
    );
    assert_eq!(status, 404, "{reply}");
}

#[test]
fn snapshot_rows_browse_the_current_snapshot_with_search_field_and_cursors() {
    let sandbox = start();
    let first = get(&sandbox, SNAPSHOT_ROWS);
    let rows = rows_of(&first);
    assert_eq!(rows.len(), 25, "limit 50 by default: {first}");
    assert_eq!(first["hasMore"], false);
    assert_eq!(
        first["snapshotId"],
        get(&sandbox, SNAPSHOTS)["snapshots"][0]["id"]
    );
    assert_eq!(rows[0]["row_key"], "DEMO-0001");
    assert_eq!(rows[0]["row_data"]["sku"], "DEMO-0001");
    assert_eq!(
        rows[0]["row_data"]["price"], "9.99",
        "values are strings, as in a feed"
    );
    assert!(rows[0]["row_hash"].as_str().is_some_and(|h| h.len() == 16));
    assert!(rows.iter().all(|r| r["row_data"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_string)));

    let (paged, pages) = all_snapshot_rows(&sandbox, "limit=10");
    assert_eq!((paged.len(), pages), (25, 3));
    assert_eq!(paged, rows, "pages join up to the whole snapshot, in order");

    let (outdoor, _) = all_snapshot_rows(&sandbox, "search=OUTDOOR&limit=3");
    assert_eq!(
        outdoor.len(),
        10,
        "search is case-insensitive across all fields"
    );
    assert!(outdoor
        .iter()
        .all(|r| r["row_data"]["category"] == "Outdoor"));
    let (acme, _) = all_snapshot_rows(&sandbox, "search=acme");
    assert_eq!(acme.len(), 5);
    let (acme_brand, _) = all_snapshot_rows(&sandbox, "search=acme&field=brand");
    assert_eq!(acme_brand, acme);
    let (none, _) = all_snapshot_rows(&sandbox, "search=acme&field=category");
    assert!(none.is_empty(), "field restricts the search to one field");

    // A cursor holds for its search and its snapshot only.
    let page = get(&sandbox, &format!("{SNAPSHOT_ROWS}?search=acme&limit=2"));
    let cursor = page["nextCursor"].as_str().unwrap().to_string();
    let (status, reply) = sandbox.call_as(
        TOKEN,
        "GET",
        &format!("{SNAPSHOT_ROWS}?search=globex&limit=2&cursor={cursor}"),
        None,
    );
    assert_eq!(status, 400, "{reply}");
    put(
        &sandbox,
        &format!("{CAT_DEMO}/items/item_1"),
        &json!({"brand": "Zeta"}),
    );
    let (status, reply) = sandbox.call_as(
        TOKEN,
        "GET",
        &format!("{SNAPSHOT_ROWS}?search=acme&limit=2&cursor={cursor}"),
        None,
    );
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("start again"),
        "{reply}"
    );
    let changed = get(
        &sandbox,
        &format!("{SNAPSHOT_ROWS}?search=zeta&field=brand"),
    );
    assert_eq!(
        rows_of(&changed)[0]["row_key"],
        "DEMO-0001",
        "the newest snapshot"
    );

    for query in ["limit=201", "limit=0", "field=brand"] {
        let (status, reply) =
            sandbox.call_as(TOKEN, "GET", &format!("{SNAPSHOT_ROWS}?{query}"), None);
        assert_eq!(status, 400, "{query}: {reply}");
        assert!(reply["error"].is_string(), "{reply}");
    }
    get(&sandbox, &format!("{SNAPSHOT_ROWS}?limit=200"));
}

/// vendors/catalogian.txt's own example: a source-scoped key and the slug, `read` scope only.
#[test]
fn snapshot_rows_need_only_read_and_take_the_slug_with_a_source_key() {
    let sandbox = start();
    for key in [SOURCE_KEY, READONLY] {
        let (status, page) = sandbox.call_as(
            key,
            "GET",
            "/catalogian/v1/sources/demo-feed/snapshot-rows",
            None,
        );
        assert_eq!(status, 200, "{key}: {page}");
        assert_eq!(rows_of(&page).len(), 25);
        let (status, _) = sandbox.call_as(key, "GET", SNAPSHOTS, None);
        assert_eq!(status, 200, "{key}");
    }
    let (status, reply) = sandbox.call_json("GET", SNAPSHOT_ROWS, &[], None);
    assert_eq!(status, 401, "{reply}");
}

/// The rows of the `n`th delta event (oldest first) of the demo source.
fn rows_of_event(sandbox: &Sandbox, n: usize) -> Vec<Value> {
    let id = events(sandbox)[n]["id"].as_str().unwrap().to_string();
    rows_of(&get(sandbox, &format!("{DELTA}/{id}/rows?limit=200")))
}

#[test]
fn each_event_keeps_the_item_as_its_change_left_it_after_later_changes_and_deletion() {
    let sandbox = start();
    bulk(&sandbox, json!([{"sku": "NEW-1", "title": "Lamp"}]));
    put(
        &sandbox,
        &format!("{CAT_DEMO}/items/item_26"),
        &json!({"title": "Renamed"}),
    );
    bulk(&sandbox, json!([{"sku": "NEW-1", "price": 5.0}]));
    let (status, reply) = sandbox.call_as(TOKEN, "DELETE", CAT_DEMO, None);
    assert_eq!(status, 200, "{reply}");

    let after = |n: usize| rows_of_event(&sandbox, n)[0]["after"].clone();
    let before = |n: usize| rows_of_event(&sandbox, n)[0]["before"].clone();
    assert_eq!(
        after(0),
        json!({"id": "item_26", "sku": "NEW-1", "title": "Lamp"})
    );
    assert_eq!(
        (before(1)["title"].clone(), after(1)["title"].clone()),
        (json!("Lamp"), json!("Renamed"))
    );
    assert_eq!(
        after(2),
        json!({"id": "item_26", "sku": "NEW-1", "title": "Renamed", "price": 5.0})
    );
    let deleted = rows_of_event(&sandbox, 3);
    let row = deleted.iter().find(|row| row["key"] == "NEW-1").unwrap();
    assert_eq!(
        (row["changeType"].as_str(), &row["after"]),
        (Some("deleted"), &Value::Null)
    );
    assert_eq!(row["before"], after(2));
}
