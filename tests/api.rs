//! `catops api` as `gh api` users expect it: `-f`/`-F` fields, `-H` headers, pretty JSON on a
//! terminal and the exact bytes in a pipe, hints that say only what happened, and
//! `--paginate` pinned to each vendor's documented page shape (replayed from
//! tests/fixtures/vendors/, sources in each SOURCES.md) and run against the sandbox.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::process::{Command, Stdio};

use common::replay::{fixture, Received, Replay, Reply};
use common::{Env, Run, Sandbox, BIN};
use serde_json::{json, Value};

/// `catops -p PROFILE --base-url URL api ARGS`, stdout piped.
fn api(env: &Env, url: &str, profile: &str, args: &[&str]) -> Run {
    let mut full = vec!["-p", profile, "--base-url", url, "api"];
    full.extend_from_slice(args);
    env.run(&full)
}

/// The same with stdout on a terminal (a pseudo-terminal from util-linux `script`): what it
/// printed, line breaks as `\n`.
fn api_on_terminal(env: &Env, url: &str, args: &[&str]) -> String {
    let catops = env.command();
    let mut command = Command::new("script");
    for (key, value) in catops.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let quote = |word: &str| format!("'{}'", word.replace('\'', r"'\''"));
    let mut words = vec![BIN, "-p", "sandbox", "--base-url", url, "api"];
    words.extend_from_slice(args);
    let line: Vec<String> = words.iter().map(|w| quote(w)).collect();
    let output = command
        .args(["-qec", &line.join(" "), "/dev/null"])
        .current_dir(env.home.path())
        .stdin(Stdio::null())
        .output()
        .expect("util-linux script");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n")
}

#[test]
fn fields_make_a_json_body_and_a_post_and_a_get_takes_them_as_its_query() {
    let env = Env::new();
    env.write("desc.txt", "Soft\ncotton\n");
    let replay = Replay::always(Reply::json(200, &json!({"ok": true})));
    api(
        &env,
        &replay.url,
        "sandbox",
        &[
            "/things",
            "-f",
            "name=Tee",
            "-f",
            "code=007",
            "-F",
            "size=42",
            "-F",
            "on=true",
            "-F",
            "gone=null",
            "-F",
            "price=9.50",
            "-F",
            "desc=@desc.txt",
            "-H",
            "X-Trace: abc",
        ],
    )
    .ok();
    let sent = &replay.received()[0];
    assert_eq!(sent.method, "POST", "a body field makes it a POST");
    assert_eq!(
        sent.json(),
        json!({"name": "Tee", "code": "007", "size": 42, "on": true, "gone": null,
               "price": "9.50", "desc": "Soft\ncotton\n"})
    );
    assert_eq!(sent.header("X-Trace"), Some("abc"));
    assert_eq!(sent.header("Content-Type"), Some("application/json"));
    assert_eq!(sent.header("Authorization"), Some("Bearer sandbox-token"));

    api(
        &env,
        &replay.url,
        "sandbox",
        &[
            "-X",
            "GET",
            "/things?a=1",
            "-f",
            "q=red shoes",
            "-F",
            "limit=5",
        ],
    )
    .ok();
    let sent = &replay.received()[1];
    assert_eq!(sent.method, "GET");
    assert!(sent.body.is_empty());
    assert_eq!(
        (sent.param("a"), sent.param("q"), sent.param("limit")),
        (Some("1"), Some("red shoes"), Some("5"))
    );
}

#[test]
fn malformed_flags_and_the_profiles_own_headers_are_usage_errors_before_any_request() {
    let env = Env::new();
    let replay = Replay::always(Reply::json(200, &json!({})));
    for (args, says) in [
        (vec!["/x", "-d", "{}", "-f", "a=1"], "cannot be used with"),
        (vec!["/x", "-H", "no-colon-here"], "-H takes KEY:VALUE"),
        (vec!["/x", "-H", "bad name: 1"], "not a header name"),
        (
            vec!["/x", "-H", "Authorization: Bearer other"],
            "-H authorization: the profile sends this header itself",
        ),
        (vec!["/x", "-f", "novalue"], "-f takes KEY=VALUE"),
        (vec!["/x", "-F", "a[b]=1"], "nested keys"),
        (
            vec!["/x", "-F", "a=@missing.txt"],
            "cannot read missing.txt",
        ),
        (
            vec!["-X", "POST", "/x", "--paginate"],
            "--paginate follows the pages of a GET",
        ),
        (vec!["/x", "-o", "csv"], "catops api prints JSON"),
        (vec!["/x", "--columns", "id"], "--columns does not apply"),
    ] {
        let run = api(&env, &replay.url, "sandbox", &args).expect_code(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    assert!(replay.received().is_empty(), "nothing was sent");
    let run = api(
        &env,
        &replay.url,
        "sandbox-clevertap",
        &["/x", "-H", "X-CleverTap-Token: t"],
    )
    .expect_code(2);
    assert!(run.stderr.contains("x-clevertap-token"), "{}", run.stderr);
}

#[test]
fn json_is_pretty_on_a_terminal_and_the_bytes_as_sent_in_a_pipe() {
    let env = Env::new();
    let body = r#"{"b":1,  "a":[1,2]}"#;
    let replay = Replay::always(Reply::new(200, "application/json", body));
    let piped = api(&env, &replay.url, "sandbox", &["/x"]).ok();
    assert_eq!(
        piped.stdout,
        format!("{body}\n"),
        "byte for byte, as before"
    );
    let ndjson = api(&env, &replay.url, "sandbox", &["/x", "-o", "ndjson"]).ok();
    assert_eq!(ndjson.stdout, "{\"b\":1,\"a\":[1,2]}\n");
    let shown = api_on_terminal(&env, &replay.url, &["/x"]);
    assert_eq!(shown, "{\n  \"b\": 1,\n  \"a\": [\n    1,\n    2\n  ]\n}\n");
    let replay = Replay::always(Reply::new(200, "text/plain", "plain words"));
    assert_eq!(api_on_terminal(&env, &replay.url, &["/x"]), "plain words\n");
}

#[test]
fn hints_say_a_request_was_retried_only_when_it_was() {
    let env = Env::new();
    let replay = Replay::always(Reply::json(503, &json!({"detail": "down"})));
    let run = api(&env, &replay.url, "sandbox", &["--max-retries", "0", "/x"]).expect_code(1);
    assert!(
        run.stderr
            .contains("hint: the vendor failed, and it was not retried (--max-retries 0)"),
        "{}",
        run.stderr
    );
    assert_eq!(replay.received().len(), 1);

    let replay = Replay::always(Reply::json(503, &json!({"detail": "down"})));
    let run = api(&env, &replay.url, "sandbox", &["--max-retries", "1", "/x"]).expect_code(1);
    assert!(
        run.stderr.contains("also when retried once"),
        "{}",
        run.stderr
    );
    assert_eq!(replay.received().len(), 2);

    // A create is not repeated after a 5xx: it could take effect twice.
    let replay = Replay::always(Reply::json(500, &json!({"detail": "oops"})));
    let run = api(
        &env,
        &replay.url,
        "sandbox",
        &["-X", "POST", "/x", "-d", "{}"],
    )
    .expect_code(1);
    assert!(
        run.stderr.contains("not repeated after a server error"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("retried"), "{}", run.stderr);
    assert_eq!(replay.received().len(), 1);

    let replay = Replay::always(Reply::json(429, &json!({"detail": "slow"})));
    let run = api(&env, &replay.url, "sandbox", &["--max-retries", "0", "/x"]).expect_code(1);
    assert!(
        run.stderr.contains("rate limited, and not retried"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_jq_error_after_a_write_is_exit_1_and_says_the_request_went_through() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let body = r#"{"name":"JqRaw","unique_id_field":"sku","schema_definition":{"fields":[{"name":"sku","type":"string"}]}}"#;
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &["api", "/public/catalogs", "-d", body, "--jq", ".name.x"],
        )
        .expect_code(1);
    assert!(run.error_line().contains("--jq"), "{}", run.stderr);
    assert!(
        run.stderr.contains("hint: the command ran"),
        "{}",
        run.stderr
    );
    let listed = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "api",
                "/public/catalogs?limit=100",
                "--jq",
                ".catalogs[].name",
            ],
        )
        .ok();
    assert!(
        listed.stdout.lines().any(|l| l == "JqRaw"),
        "the POST took effect: {}",
        listed.stdout
    );
}

// ------------------------------------------------------------- --paginate, per vendor

fn ids(elements: &Value) -> Vec<Value> {
    elements
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect()
}

#[test]
fn rastro_pages_by_offset_until_the_total_and_steps_page_too() {
    let env = Env::new();
    let replay = Replay::start(|request: &Received| {
        let offset: u64 = request.param("offset").unwrap_or("0").parse().unwrap();
        let limit: u64 = request.param("limit").unwrap_or("10").parse().unwrap();
        let (key, template, total_key) = if request.path.ends_with("/items") {
            (
                "items",
                fixture("rastro", "items-page.json")["items"][0].clone(),
                "total",
            )
        } else {
            (
                "catalogs",
                fixture("rastro", "catalogs-list.json")["catalogs"][0].clone(),
                "total_count",
            )
        };
        let page: Vec<Value> = (offset..(offset + limit).min(5))
            .map(|n| {
                let mut element = template.clone();
                element["id"] = json!(format!("e{n}"));
                element
            })
            .collect();
        Reply::json(200, &json!({ key: page, total_key: 5 }))
    });
    let run = api(
        &env,
        &replay.url,
        "sandbox",
        &["--paginate", "/public/catalogs?limit=2"],
    )
    .ok();
    assert_eq!(ids(&run.json()), ["e0", "e1", "e2", "e3", "e4"]);
    let offsets: Vec<Option<String>> = replay
        .received()
        .iter()
        .map(|r| r.param("offset").map(str::to_string))
        .collect();
    assert_eq!(
        offsets,
        [None, Some("2".into()), Some("4".into())],
        "the total ends it"
    );
    assert!(replay
        .received()
        .iter()
        .all(|r| r.param("limit") == Some("2")));

    let replay_items = replay.received().len();
    let run = api(
        &env,
        &replay.url,
        "sandbox",
        &[
            "--paginate",
            "/public/catalogs/c/items?page=1&limit=2",
            "-o",
            "ndjson",
        ],
    )
    .ok();
    assert_eq!(run.ndjson().len(), 5);
    let sent = &replay.received()[replay_items..];
    let pages: Vec<(Option<&str>, Option<&str>)> = sent
        .iter()
        .map(|r| (r.param("page"), r.param("offset")))
        .collect();
    assert_eq!(
        pages,
        [
            (Some("1"), None),
            (Some("2"), Some("2")),
            (Some("3"), Some("4"))
        ]
    );
}

#[test]
fn batch_pages_by_the_next_from_cursor_while_has_more() {
    let env = Env::new();
    let first = fixture("batch", "catalogs-list-first.json");
    let cursor = first["next_from"].as_str().unwrap().to_string();
    let replay = Replay::start(|request: &Received| match request.param("from") {
        None => Reply::fixture(200, "batch", "catalogs-list-first.json"),
        Some(_) => Reply::fixture(200, "batch", "catalogs-list-last.json"),
    });
    let run = api(
        &env,
        &replay.url,
        "sandbox-batch",
        &["--paginate", "/catalogs/list?limit=2"],
    )
    .ok();
    let mut expected = first["catalogs"].as_array().unwrap().clone();
    expected.extend(
        fixture("batch", "catalogs-list-last.json")["catalogs"]
            .as_array()
            .unwrap()
            .clone(),
    );
    assert_eq!(run.json(), Value::Array(expected));
    let received = replay.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].param("from"), Some(cursor.as_str()));
    assert_eq!(received[1].param("limit"), Some("2"));

    // A second page without the list fails, and what was printed stays one valid array.
    let replay = Replay::start(|request: &Received| match request.param("from") {
        None => Reply::fixture(200, "batch", "catalogs-list-first.json"),
        Some(_) => Reply::json(200, &json!({"detail": "not a list"})),
    });
    let run = api(
        &env,
        &replay.url,
        "sandbox-batch",
        &["--paginate", "/catalogs/list"],
    )
    .expect_code(1);
    assert_eq!(run.json(), first["catalogs"]);
    assert!(
        run.error_line()
            .contains("--paginate: missing field `catalogs`"),
        "{}",
        run.stderr
    );
}

#[test]
fn clevertap_pages_by_page_number_until_total_pages_or_a_short_page() {
    let env = Env::new();
    let replay = Replay::start(|request: &Received| {
        let number: u64 = request.param("page").unwrap_or("0").parse().unwrap();
        let size: u64 = request.param("size").unwrap_or("20").parse().unwrap();
        let template = fixture("clevertap", "get-catalog.json");
        let content: Vec<Value> = (number * size..((number + 1) * size).min(5))
            .map(|n| {
                let mut catalog = template.clone();
                catalog["id"] = json!(n);
                catalog
            })
            .collect();
        Reply::json(
            200,
            &json!({"content": content, "totalElements": 5, "totalPages": 5u64.div_ceil(size)}),
        )
    });
    let run = api(
        &env,
        &replay.url,
        "sandbox-clevertap",
        &["--paginate", "/v2/catalogs?size=2"],
    )
    .ok();
    assert_eq!(ids(&run.json()), [0, 1, 2, 3, 4]);
    let pages: Vec<Option<String>> = replay
        .received()
        .iter()
        .map(|r| r.param("page").map(str::to_string))
        .collect();
    assert_eq!(pages, [None, Some("1".into()), Some("2".into())]);

    // Only `content`, the one documented key: a page shorter than `size` is the last.
    let replay = Replay::always(Reply::fixture(
        200,
        "clevertap",
        "list-catalogs-content-only.json",
    ));
    let run = api(
        &env,
        &replay.url,
        "sandbox-clevertap",
        &["--paginate", "/v2/catalogs?size=100"],
    )
    .ok();
    assert_eq!(ids(&run.json()), [123, 456]);
    assert_eq!(replay.received().len(), 1);
}

#[test]
fn catalogix_pages_by_offset_with_asset_groups_and_products_in_their_envelope() {
    let env = Env::new();
    let replay = Replay::start(|request: &Received| {
        let offset: usize = request.param("offset").unwrap_or("0").parse().unwrap();
        if request.path == "/products" {
            return if offset == 0 {
                Reply::fixture(200, "catalogix", "products-list.json")
            } else {
                let mut empty = fixture("catalogix", "products-list.json");
                empty["data"]["products"] = json!([]);
                Reply::json(200, &empty)
            };
        }
        let mut page = fixture("catalogix", "assets-list.json");
        let group = page["data"]["assets"]["SKU001"].clone();
        page["data"]["assets"] = json!({ format!("SKU{offset}"): group });
        page["data"]["total_groups"] = json!(3);
        Reply::json(200, &page)
    });
    let group = fixture("catalogix", "assets-list.json")["data"]["assets"]["SKU001"].clone();
    let run = api(
        &env,
        &replay.url,
        "sandbox-catalogix",
        &["--paginate", "/assets?store_uuid=s&limit=1"],
    )
    .ok();
    assert_eq!(
        run.json(),
        json!([{"SKU0": group}, {"SKU1": group}, {"SKU2": group}]),
        "each group as {{parent_code: group}}, until total_groups"
    );
    assert_eq!(replay.received().len(), 3);

    let before = replay.received().len();
    let run = api(
        &env,
        &replay.url,
        "sandbox-catalogix",
        &["--paginate", "/products?store_uuid=s"],
    )
    .ok();
    assert_eq!(
        run.json(),
        fixture("catalogix", "products-list.json")["data"]["products"]
    );
    assert_eq!(
        replay.received().len() - before,
        2,
        "no total and no limit: until an empty page"
    );

    let replay = Replay::always(Reply::fixture(200, "catalogix", "error-get-assets.json"));
    let run = api(
        &env,
        &replay.url,
        "sandbox-catalogix",
        &["--paginate", "/assets"],
    )
    .expect_code(1);
    assert_eq!(run.stdout, "", "no list began, so none is printed");
    assert!(
        run.error_line().contains("--paginate: refused"),
        "{}",
        run.stderr
    );
}

#[test]
fn catalogian_pages_by_cursor_and_sources_come_whole() {
    let env = Env::new();
    let replay = Replay::start(|request: &Received| {
        if request.path == "/v1/sources" {
            return Reply::fixture(200, "catalogian", "sources.json");
        }
        match request.param("cursor") {
            None => Reply::fixture(200, "catalogian", "snapshots-paged.json"),
            Some(_) => {
                // The published example, without hasMore or nextCursor: the last page.
                let mut last = fixture("catalogian", "snapshots.json");
                for (n, snapshot) in last["snapshots"]
                    .as_array_mut()
                    .unwrap()
                    .iter_mut()
                    .enumerate()
                {
                    snapshot["id"] = json!(format!("snap_0{}", 2 - n as i64));
                }
                Reply::json(200, &last)
            }
        }
    });
    let run = api(
        &env,
        &replay.url,
        "sandbox-catalogian",
        &["--paginate", "/v1/sources/s/snapshots", "--jq", "map(.id)"],
    )
    .ok();
    assert_eq!(
        run.stdout.trim(),
        r#"["snap_05","snap_04","snap_03","snap_02","snap_01","snap_00"]"#
    );
    assert_eq!(replay.received()[1].param("cursor"), Some("snap_03"));

    let before = replay.received().len();
    let run = api(
        &env,
        &replay.url,
        "sandbox-catalogian",
        &["--paginate", "/v1/sources"],
    )
    .ok();
    assert_eq!(run.json(), fixture("catalogian", "sources.json"));
    assert_eq!(replay.received().len() - before, 1);
}

#[test]
fn paginate_against_the_sandbox_lists_what_the_commands_list() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let listed = env.demo_items(&sandbox);
    let raw = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "api",
                "--paginate",
                "/public/catalogs/cat_demo/items?limit=7",
                "-o",
                "ndjson",
            ],
        )
        .ok()
        .ndjson();
    assert!(listed.len() > 7, "more than one page: {}", listed.len());
    let raw_ids: Vec<&Value> = raw.iter().map(|item| &item["id"]).collect();
    let listed_ids: Vec<&Value> = listed.iter().map(|item| &item["id"]).collect();
    assert_eq!(raw_ids, listed_ids);

    // Each change to cat_demo is a delta event of src_demo: three, sent with fields.
    for n in 0..3 {
        let note = format!("note=v{n}");
        let args = [
            "api",
            "-X",
            "PUT",
            "/public/catalogs/cat_demo/items/item_1",
            "-f",
            "sku=DEMO-0001",
            "-f",
            &note,
        ];
        let item = env.on(&sandbox, "sandbox", &args).ok().json();
        assert_eq!(item["note"], format!("v{n}"), "{item}");
    }
    let events = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &["delta", "list", "src_demo", "--all", "-o", "json"],
        )
        .ok()
        .json();
    assert_eq!(events.as_array().unwrap().len(), 3);
    let raw = env
        .on(
            &sandbox,
            "sandbox-catalogian",
            &["api", "--paginate", "/v1/sources/src_demo/delta?limit=1"],
        )
        .ok()
        .json();
    assert_eq!(ids(&raw), ids(&events));
}
