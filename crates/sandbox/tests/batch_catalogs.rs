//! The sandbox's batch catalogs over raw HTTP (VENDOR-APIS.md §2): create 201 `{}`, list with
//! its cursor, view with `indexing_state`, update and remove 202 `{}`, the documented limits,
//! and item edits held to the stored fields.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::Sandbox;
use serde_json::{json, Value};

const ROOT: &str = "/batch/2.11";
const HEADERS: [(&str, &str); 2] = [
    ("Authorization", "Bearer sandbox-token"),
    ("X-Batch-Project", "p"),
];

fn call(sandbox: &Sandbox, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, _, reply) =
        sandbox.request(method, &format!("{ROOT}{path}"), &HEADERS, body.as_ref());
    let reply = serde_json::from_str(&reply).unwrap_or_else(|err| panic!("{err}: {reply:?}"));
    (status, reply)
}

fn create(sandbox: &Sandbox, name: &str, fields: Value) -> (u16, Value) {
    call(
        sandbox,
        "POST",
        "/catalogs/create",
        Some(json!({"name": name, "fields": fields})),
    )
}

fn edit(sandbox: &Sandbox, catalog: &str, attributes: Value) -> (u16, Value) {
    let items = json!([{"action": "add", "id": "1", "attributes": attributes}]);
    call(
        sandbox,
        "POST",
        "/catalogs/items/edit",
        Some(json!({"name": catalog, "items": items})),
    )
}

#[test]
fn batch_create_answers_201_with_an_empty_object_and_view_shows_the_catalog() {
    let sandbox = Sandbox::start();
    let (status, reply) = create(
        &sandbox,
        "MOVIES",
        json!([{"name": "title", "type": "string"}, {"name": "poster", "type": "url"}]),
    );
    assert_eq!((status, reply), (201, json!({})));
    let (status, view) = call(&sandbox, "GET", "/catalogs/view?name=MOVIES", None);
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["fields"],
        json!([{"name": "title", "type": "string"}, {"name": "poster", "type": "url"}])
    );
    assert_eq!((&view["items"], &view["size"]), (&json!(0), &json!(0)));
    for key in ["created", "updated"] {
        assert!(view[key].as_str().unwrap().ends_with('Z'), "{view}");
    }
    assert!(
        view.get("indexing_state").is_none(),
        "only with a token: {view}"
    );
}

#[test]
fn batch_create_holds_to_the_documented_field_rules_and_limits() {
    let sandbox = Sandbox::start();
    let cases = [
        (json!([{"name": "Title", "type": "string"}]), "[a-z0-9_]+"),
        (json!([{"name": "t", "type": "text"}]), "not one of"),
        (json!([]), "1 to 25 fields"),
        (
            Value::Array(
                (0..26)
                    .map(|n| json!({"name": format!("f{n}"), "type": "string"}))
                    .collect(),
            ),
            "1 to 25 fields",
        ),
        (
            json!([{"name": "t", "type": "string"}, {"name": "t", "type": "bool"}]),
            "named twice",
        ),
    ];
    for (fields, says) in cases {
        let (status, reply) = create(&sandbox, "BAD", fields);
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["error_code"], "INVALID_PARAMETER");
        assert!(
            reply["error_message"].as_str().unwrap().contains(says),
            "{reply}"
        );
    }
    let one = json!([{"name": "t", "type": "string"}]);
    let (status, reply) = create(&sandbox, "demo", one.clone());
    assert_eq!(
        (status, &reply["error_code"]),
        (400, &json!("CATALOG_ALREADY_EXISTS"))
    );
    for n in 0..4 {
        assert_eq!(create(&sandbox, &format!("C{n}"), one.clone()).0, 201);
    }
    let (status, reply) = create(&sandbox, "C5", one);
    assert_eq!(status, 400, "5 catalogs per project, demo included");
    assert_eq!(reply["error_code"], "TOO_MANY_CATALOGS");
}

#[test]
fn batch_list_pages_by_cursor_with_count_on_the_first_page_only() {
    let sandbox = Sandbox::start();
    for name in ["A1", "B2", "C3"] {
        create(&sandbox, name, json!([{"name": "t", "type": "string"}]));
    }
    let (status, first) = call(&sandbox, "GET", "/catalogs/list?limit=2", None);
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (&first["count"], &first["has_more"]),
        (&json!(4), &json!(true))
    );
    let names = |page: &Value| -> Vec<String> {
        page["catalogs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&first), ["A1", "B2"]);
    let cursor = first["next_from"].as_str().unwrap();
    let (_, second) = call(
        &sandbox,
        "GET",
        &format!("/catalogs/list?limit=2&from={cursor}"),
        None,
    );
    assert_eq!(names(&second), ["C3", "demo"]);
    assert_eq!(second["has_more"], false);
    assert!(
        second.get("count").is_none() && second.get("next_from").is_none(),
        "{second}"
    );
    let (_, default) = call(&sandbox, "GET", "/catalogs/list", None);
    assert_eq!(names(&default).len(), 4, "10 by default");
    for bad in ["limit=0", "limit=101", "limit=x", "from=nonsense"] {
        let (status, reply) = call(&sandbox, "GET", &format!("/catalogs/list?{bad}"), None);
        assert_eq!(status, 400, "{bad}: {reply}");
        assert!(reply["error_message"].is_string());
    }
}

#[test]
fn batch_view_says_in_progress_then_applied_for_an_edit_token() {
    let sandbox = Sandbox::start();
    let (status, reply) = edit(&sandbox, "demo", json!({"title": "Squid Game"}));
    assert_eq!(status, 202, "{reply}");
    let token = reply["indexing_token"].as_str().unwrap().to_string();
    let path = format!("/catalogs/view?name=demo&indexing_token={token}");
    let (_, view) = call(&sandbox, "GET", &path, None);
    assert_eq!(view["indexing_state"], "IN_PROGRESS", "{view}");
    assert_eq!(view["items"], 1);
    std::thread::sleep(Duration::from_millis(400));
    let (_, view) = call(&sandbox, "GET", &path, None);
    assert_eq!(view["indexing_state"], "APPLIED", "{view}");
    let (status, reply) = call(
        &sandbox,
        "GET",
        "/catalogs/view?name=demo&indexing_token=unknown",
        None,
    );
    assert_eq!(status, 400, "{reply}");
    let (status, reply) = call(&sandbox, "GET", "/catalogs/view?name=NOPE", None);
    assert_eq!(
        (status, &reply["error_code"]),
        (404, &json!("CATALOG_NOT_FOUND"))
    );
}

#[test]
fn batch_edits_are_held_to_the_catalogs_stored_fields() {
    let sandbox = Sandbox::start();
    let (status, reply) = edit(&sandbox, "demo", json!({"colour": "red"}));
    assert_eq!(status, 400, "{reply}");
    assert_eq!(
        reply["error_message"],
        "items[0] (id '1'): Attribute 'colour' does not exist in the schema of catalog 'demo'"
    );
    let (status, reply) = edit(
        &sandbox,
        "demo",
        json!({"poster": "https://x.example/p.png"}),
    );
    assert_eq!(status, 400, "{reply}");
    assert!(reply["error_message"]
        .as_str()
        .unwrap()
        .contains("url(poster)"));
    let (status, reply) = edit(&sandbox, "demo", json!({"rating": "high"}));
    assert_eq!(status, 400, "{reply}");
}

#[test]
fn batch_update_adds_and_removes_fields_and_remove_deletes_the_catalog() {
    let sandbox = Sandbox::start();
    let (status, reply) = edit(&sandbox, "demo", json!({"title": "A", "rank": 3}));
    assert_eq!(status, 202, "{reply}");
    let update = |fields: Value| {
        call(
            &sandbox,
            "POST",
            "/catalogs/update",
            Some(json!({"name": "demo", "fields": fields})),
        )
    };
    let (status, reply) = update(json!([
        {"action": "add", "name": "colour", "type": "string"},
        {"action": "remove", "name": "rank"},
    ]));
    assert_eq!((status, reply), (202, json!({})));
    let (_, view) = call(&sandbox, "GET", "/catalogs/view?name=demo", None);
    let fields = view["fields"].as_array().unwrap();
    assert!(fields.contains(&json!({"name": "colour", "type": "string"})));
    assert!(!fields.iter().any(|f| f["name"] == "rank"));
    let items = sandbox.inspect("/batch/2.11/_sandbox/catalogs/demo/items");
    assert_eq!(
        items[0]["attributes"],
        json!({"title": "A"}),
        "a removed field's values go"
    );
    assert_eq!(edit(&sandbox, "demo", json!({"colour": "red"})).0, 202);
    for (fields, says) in [
        (
            json!([{"action": "add", "name": "title", "type": "string"}]),
            "already exists",
        ),
        (
            json!([{"action": "remove", "name": "nope"}]),
            "does not exist",
        ),
        (json!([{"action": "add", "name": "x"}]), "needs a type"),
        (json!([{"name": "x", "type": "string"}]), "add or remove"),
    ] {
        let (status, reply) = update(fields);
        assert_eq!(status, 400, "{reply}");
        assert!(
            reply["error_message"].as_str().unwrap().contains(says),
            "{reply}"
        );
    }
    let (status, reply) = call(
        &sandbox,
        "POST",
        "/catalogs/remove",
        Some(json!({"name": "demo"})),
    );
    assert_eq!((status, reply), (202, json!({})));
    let (status, _) = call(&sandbox, "GET", "/catalogs/view?name=demo", None);
    assert_eq!(status, 404);
    let (status, reply) = call(
        &sandbox,
        "POST",
        "/catalogs/remove",
        Some(json!({"name": "demo"})),
    );
    assert_eq!(
        (status, &reply["error_code"]),
        (404, &json!("CATALOG_NOT_FOUND"))
    );
}

#[test]
fn batch_catalog_endpoints_need_the_keys() {
    let sandbox = Sandbox::start();
    let (status, _, reply) = sandbox.request(
        "GET",
        &format!("{ROOT}/catalogs/list"),
        &[("Authorization", "Bearer sandbox-token")],
        None,
    );
    assert_eq!(status, 401, "{reply}");
    assert!(reply.contains("X-Batch-Project"), "{reply}");
}
