//! Catalogs and items end to end (rastro, and clevertap's catalogs): the real binary over HTTP
//! against the sandbox, including `--all` lists streamed in flat memory.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Env, Sandbox};
use serde_json::{json, Value};

#[test]
fn catalogs_list_shows_the_demo_catalog() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let list = env.rastro_json(&sandbox, &["catalogs", "list"]);
    let catalogs = list.as_array().expect("a JSON array");
    assert_eq!(catalogs.len(), 1, "{list}");
    assert_eq!(
        (
            &catalogs[0]["id"],
            &catalogs[0]["name"],
            &catalogs[0]["item_count"]
        ),
        (&json!("cat_demo"), &json!("Demo products"), &json!(25))
    );
}

/// The sandbox pages catalogs as rastro does (10 by default); catops asks for 100 a page and
/// follows `total_count`, so a listing is not cut at the server's default.
#[test]
fn catalogs_list_is_not_cut_at_the_default_page_of_ten() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    for n in 0..11 {
        let name = format!("Catalog {n}");
        env.rastro_json(
            &sandbox,
            &[
                "catalogs",
                "create",
                "--name",
                &name,
                "--unique-id-field",
                "sku",
                "--field",
                "sku",
            ],
        );
    }
    let list = env.rastro_json(&sandbox, &["catalogs", "list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(12), "{list}");
    let all = env.rastro_json(&sandbox, &["catalogs", "list", "--all"]);
    assert_eq!(all, list);
}

#[test]
fn catalogs_create_with_fields_then_it_is_listed() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let created = env.rastro_json(
        &sandbox,
        &[
            "catalogs",
            "create",
            "--name",
            "Shoes",
            "--unique-id-field",
            "sku",
            "--field",
            "sku:string",
            "--field",
            "title",
            "--field",
            "price:number",
        ],
    );
    assert_eq!(created["name"], "Shoes");
    assert_eq!(created["unique_id_field"], "sku");
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("cat_"), "{id}");
    let list = env.rastro_json(&sandbox, &["catalogs", "list"]);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id && c["item_count"] == 0));
}

#[test]
fn catalogs_create_from_a_schema_file() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let schema = env.home.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"{"fields":[{"name":"gtin","type":"string"},{"name":"stock","type":"integer"}]}"#,
    )
    .unwrap();
    let created = env.rastro_json(
        &sandbox,
        &[
            "catalogs",
            "create",
            "--name",
            "Stock",
            "--unique-id-field",
            "gtin",
            "--schema",
            schema.to_str().unwrap(),
        ],
    );
    assert_eq!(created["unique_id_field"], "gtin");
}

#[test]
fn catalogs_create_checks_the_unique_field_and_types() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let run = env
        .rastro(
            &sandbox,
            &[
                "catalogs",
                "create",
                "--name",
                "X",
                "--unique-id-field",
                "sku",
                "--field",
                "title",
            ],
        )
        .expect_code(2);
    assert!(
        run.error_line().contains("--unique-id-field sku"),
        "{}",
        run.stderr
    );
    // The vendor's own validation message reaches the user.
    let run = env
        .rastro(
            &sandbox,
            &[
                "catalogs",
                "create",
                "--name",
                "X",
                "--unique-id-field",
                "sku",
                "--field",
                "sku:money",
            ],
        )
        .expect_code(1);
    let line = run.error_line();
    assert!(
        line.contains("rastro: POST /public/catalogs: 422")
            && line.contains("unknown type 'money'"),
        "{line}"
    );
}

#[test]
fn catalogs_get_update_and_delete_a_catalog_with_its_items() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let demo = env.rastro_json(&sandbox, &["catalogs", "get", "cat_demo"]);
    assert_eq!(
        (demo["name"].as_str(), demo["item_count"].as_u64()),
        (Some("Demo products"), Some(25))
    );

    let updated = env.rastro_json(
        &sandbox,
        &[
            "catalogs",
            "update",
            "cat_demo",
            "--description",
            "Shop feed",
            "--json",
            r#"{"strict_mode":true}"#,
        ],
    );
    assert_eq!(updated["description"], "Shop feed");
    assert_eq!(updated["strict_mode"], true);
    assert_eq!(updated["name"], "Demo products", "what is not named stays");
    let misspelt = env
        .rastro(
            &sandbox,
            &[
                "catalogs",
                "update",
                "cat_demo",
                "--json",
                r#"{"strictmode":true}"#,
            ],
        )
        .expect_code(1);
    assert!(
        misspelt.error_line().contains("strictmode"),
        "{}",
        misspelt.stderr
    );

    let created = env.rastro_json(
        &sandbox,
        &[
            "catalogs",
            "create",
            "--name",
            "Gone",
            "--unique-id-field",
            "sku",
            "--field",
            "sku",
        ],
    );
    let id = created["id"].as_str().unwrap();
    let refused = env
        .rastro(&sandbox, &["catalogs", "delete", id])
        .expect_code(2);
    assert!(refused.error_line().contains("--yes"), "{}", refused.stderr);
    let planned = env.rastro_json(&sandbox, &["catalogs", "delete", id, "--dry-run"]);
    assert_eq!(planned["id"], id);
    env.rastro_json(&sandbox, &["catalogs", "get", id]);
    let deleted = env.rastro_json(&sandbox, &["catalogs", "delete", id, "--yes"]);
    assert!(
        deleted["message"].as_str().unwrap().contains(id),
        "{deleted}"
    );
    env.rastro(&sandbox, &["catalogs", "get", id])
        .expect_code(5);
    let names: Vec<String> = env
        .rastro_json(&sandbox, &["catalogs", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(!names.contains(&id.to_string()), "{names:?}");
}

#[test]
fn clevertap_catalogs_are_created_filtered_changed_and_deleted() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let on = |args: &[&str]| env.on(&sandbox, "sandbox-clevertap", args);
    let created = on(&[
        "catalogs",
        "create",
        "--name",
        "shoes",
        "--field",
        "brand",
        "--field",
        "price:number",
        "--by",
        "a@example.com",
        "-o",
        "json",
    ])
    .ok()
    .json();
    let id = created["id"].to_string();
    assert_eq!(created["createdBy"], "a@example.com");

    let names = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["catalogs", "list", "-o", "json"];
        full.extend_from_slice(args);
        on(&full)
            .ok()
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["catalogName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&["--search", "SHO"]), ["shoes"]);
    assert_eq!(
        names(&["--sort", "catalogName:asc"]),
        ["apparel_catalog", "electronics_catalog", "shoes"]
    );
    assert_eq!(names(&["--sort", "catalogName:desc"])[0], "shoes");

    let updated = on(&[
        "catalogs",
        "update",
        &id,
        "--field",
        "+color:string",
        "--field",
        "-price",
        "--by",
        "b@example.com",
        "-o",
        "json",
    ])
    .ok()
    .json();
    let fields: Vec<&str> = updated["catalogSchema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["brand", "color"]);
    assert_eq!(
        updated["catalogName"], "shoes",
        "the name stays though only fields changed"
    );
    assert_eq!(updated["updatedBy"], "b@example.com");

    let marked = on(&[
        "catalogs",
        "filterable",
        &id,
        "color",
        "on",
        "--by",
        "b@example.com",
        "-o",
        "json",
    ])
    .ok()
    .json();
    assert_eq!(marked["catalogSchema"][1]["filterable"], true);

    on(&["catalogs", "delete", &id, "--yes", "--by", "c@example.com"]).ok();
    on(&["catalogs", "get", &id]).expect_code(5);
    assert_eq!(names(&[]), ["electronics_catalog", "apparel_catalog"]);
}

#[test]
fn items_list_searches_and_sorts_on_the_server_across_pages() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let skus = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["items", "list", "--catalog", "cat_demo"];
        full.extend_from_slice(args);
        env.rastro_json(&sandbox, &full)
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["sku"].as_str().unwrap().to_string())
            .collect()
    };
    let acme = skus(&[
        "--search",
        "ACME",
        "--sort",
        "price:desc",
        "--all",
        "--limit",
        "2",
    ]);
    assert_eq!(
        acme,
        [
            "DEMO-0021",
            "DEMO-0016",
            "DEMO-0011",
            "DEMO-0006",
            "DEMO-0001"
        ]
    );
    let cheapest = skus(&["--sort", "price", "--limit", "3"]);
    assert_eq!(cheapest, ["DEMO-0001", "DEMO-0002", "DEMO-0003"]);
    assert!(skus(&["--search", "no such thing"]).is_empty());
}

#[test]
fn items_list_honours_page_and_limit() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let items = env.rastro_json(
        &sandbox,
        &[
            "items",
            "list",
            "--catalog",
            "cat_demo",
            "--page",
            "2",
            "--limit",
            "10",
        ],
    );
    let skus: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus.len(), 10);
    assert_eq!(skus[0], "DEMO-0011");
    assert_eq!(skus[9], "DEMO-0020");
    // Without --limit, the vendor's default page (100) holds all 25.
    let all = env.rastro_json(&sandbox, &["items", "list", "--catalog", "cat_demo"]);
    assert_eq!(all.as_array().unwrap().len(), 25);
}

#[test]
fn items_list_all_follows_three_pages() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let run = env
        .rastro(
            &sandbox,
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--all",
                "--limit",
                "10",
                "-o",
                "json",
                "-v",
            ],
        )
        .ok();
    let items = run.json();
    let ids: std::collections::BTreeSet<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 25, "every item once");
    let requests: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("GET "))
        .collect();
    assert_eq!(requests.len(), 3, "{}", run.stderr);
    assert!(
        requests[2].contains("page=3") && requests[2].contains(" 200 "),
        "{}",
        run.stderr
    );
}

#[test]
fn items_get_prints_the_item_as_returned() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let item = env.rastro_json(
        &sandbox,
        &["items", "get", "--catalog", "cat_demo", "item_3"],
    );
    assert_eq!(item["id"], "item_3");
    assert_eq!(item["sku"], "DEMO-0003");
    assert_eq!(item["price"], 16.99);
}

#[test]
fn items_update_with_typed_set_values() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let updated = env.rastro_json(
        &sandbox,
        &[
            "items",
            "update",
            "--catalog",
            "cat_demo",
            "item_1",
            "--set",
            "price:number=24.5",
            "--set",
            "barcode=00123",
            "--set",
            "tags:array=sale|new",
            "--set",
            "in_stock:boolean=true",
        ],
    );
    assert_eq!(updated["price"], 24.5);
    assert_eq!(updated["barcode"], "00123", "untyped values stay strings");
    assert_eq!(updated["tags"], json!(["sale", "new"]));
    assert_eq!(updated["in_stock"], true);
    assert_eq!(
        updated["title"], "Acme Trail Running Shoe",
        "other fields untouched"
    );
    let fetched = env.rastro_json(
        &sandbox,
        &["items", "get", "--catalog", "cat_demo", "item_1"],
    );
    assert_eq!(fetched, updated);

    let run = env
        .rastro(
            &sandbox,
            &[
                "items",
                "update",
                "--catalog",
                "cat_demo",
                "item_1",
                "--set",
                "price:number=cheap",
            ],
        )
        .expect_code(2);
    assert!(
        run.error_line().contains("'cheap' is not a number"),
        "{}",
        run.stderr
    );
}

#[test]
fn items_update_with_json_inline_file_and_stdin() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let inline = env.rastro_json(
        &sandbox,
        &[
            "items",
            "update",
            "--catalog",
            "cat_demo",
            "item_2",
            "--json",
            r#"{"title":"Inline"}"#,
        ],
    );
    assert_eq!(inline["title"], "Inline");

    let file = env.home.path().join("fields.json");
    std::fs::write(&file, r#"{"title":"From file","dims":{"w":3}}"#).unwrap();
    let arg = format!("@{}", file.display());
    let from_file = env.rastro_json(
        &sandbox,
        &[
            "items",
            "update",
            "--catalog",
            "cat_demo",
            "item_2",
            "--json",
            &arg,
        ],
    );
    assert_eq!(from_file["dims"], json!({"w": 3}));

    let base = sandbox.rastro_url();
    let mut cmd = env.command();
    cmd.args([
        "-p",
        "sandbox",
        "--base-url",
        &base,
        "items",
        "update",
        "--catalog",
        "cat_demo",
        "item_2",
        "--json",
        "@-",
        "-o",
        "json",
    ]);
    let output = assert_cmd::Command::from_std(cmd)
        .write_stdin(r#"{"title":"From stdin"}"#)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let item: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(item["title"], "From stdin");

    env.rastro(
        &sandbox,
        &[
            "items",
            "update",
            "--catalog",
            "cat_demo",
            "item_2",
            "--json",
            "[1,2]",
        ],
    )
    .expect_code(2);
}

#[test]
fn every_output_format() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let list = |format: &str| {
        env.rastro(
            &sandbox,
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--limit",
                "3",
                "-o",
                format,
            ],
        )
        .ok()
    };

    let lines = list("ndjson").ndjson();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["sku"], "DEMO-0002");

    let csv = list("csv").stdout;
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "id,sku,title,brand,category,price");
    assert_eq!(
        rows[1],
        "item_1,DEMO-0001,Acme Trail Running Shoe,Acme,Footwear,9.99"
    );
    assert_eq!(rows.len(), 4);

    let table = list("table").stdout;
    assert!(
        table.contains("DEMO-0003") && table.contains("price"),
        "{table}"
    );
    assert!(serde_json::from_str::<Value>(&table).is_err());

    // Not a terminal, so JSON is the default.
    let default = env
        .rastro(
            &sandbox,
            &["items", "list", "--catalog", "cat_demo", "--limit", "3"],
        )
        .ok();
    assert_eq!(default.json().as_array().unwrap().len(), 3);

    let single = env
        .rastro(
            &sandbox,
            &[
                "items",
                "get",
                "--catalog",
                "cat_demo",
                "item_1",
                "-o",
                "csv",
            ],
        )
        .ok();
    assert_eq!(single.stdout.lines().count(), 2, "{}", single.stdout);
}

#[test]
fn a_limit_over_1000_is_refused_before_any_request() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let run = env
        .rastro(
            &sandbox,
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--limit",
                "1001",
                "-v",
            ],
        )
        .expect_code(2);
    assert!(
        run.error_line().contains("1001 is not in 1..=1000"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("GET "),
        "no request may be sent: {}",
        run.stderr
    );
}

#[test]
fn not_found_exits_5_with_vendor_method_path_and_message() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let run = env
        .rastro(
            &sandbox,
            &["items", "get", "--catalog", "cat_demo", "item_999"],
        )
        .expect_code(5);
    assert_eq!(
        run.error_line(),
        "error: rastro: GET /public/catalogs/cat_demo/items/item_999: 404 Not Found: Item item_999 not found in catalog cat_demo"
    );
    env.rastro(&sandbox, &["items", "list", "--catalog", "cat_nope"])
        .expect_code(5);
}

#[test]
fn a_refused_token_exits_4() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let base = sandbox.rastro_url();
    let run = env
        .run_with(
            &["-p", "sandbox", "--base-url", &base, "catalogs", "list"],
            |c| {
                c.env("CATOPS_TOKEN", "not-the-token");
            },
        )
        .expect_code(4);
    assert!(
        run.error_line()
            .contains("401 Unauthorized: Invalid or missing API key"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn a_command_the_vendor_cannot_do_names_the_vendors_that_can() {
    let env = Env::new();
    let run = env
        .run(&["-p", "sandbox-batch", "items", "list", "--catalog", "demo"])
        .expect_code(2);
    assert!(
        run.error_line()
            .contains("`items list` is not available for batch"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: vendors that can: rastro"),
        "{}",
        run.stderr
    );
}

#[test]
fn ids_that_would_change_the_route_are_refused() {
    let env = Env::new();
    for id in ["..", ".", ""] {
        let run = env
            .run(&["-p", "sandbox", "items", "get", "--catalog", "cat_demo", id])
            .expect_code(2);
        run.error_line();
        let run = env
            .run(&["-p", "sandbox", "items", "list", "--catalog", id])
            .expect_code(2);
        run.error_line();
    }
}

#[test]
fn clevertap_catalogs_get_and_list_with_documented_errors() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let catalog = env
        .on(
            &sandbox,
            "sandbox-clevertap",
            &["catalogs", "get", "123", "-o", "json"],
        )
        .ok()
        .json();
    assert_eq!(catalog["id"], 123);
    assert_eq!(catalog["catalogName"], "electronics_catalog");
    assert_eq!(
        catalog["fieldMappings"],
        json!({"manufacturer": "brand", "cost": "price"})
    );
    assert_eq!(catalog["totalProducts"], 1500);

    let list = env
        .on(
            &sandbox,
            "sandbox-clevertap",
            &["catalogs", "list", "-o", "json"],
        )
        .ok()
        .json();
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&123) && ids.len() >= 2, "{list}");

    let run = env
        .on(&sandbox, "sandbox-clevertap", &["catalogs", "get", "999"])
        .expect_code(5);
    assert!(
        run.error_line().contains("CATALOG_NOT_FOUND"),
        "{}",
        run.stderr
    );
    let run = env
        .on_with(&sandbox, "sandbox-clevertap", &["catalogs", "list"], |c| {
            c.env("CATOPS_TOKEN", "wrong");
        })
        .expect_code(4);
    assert!(
        run.error_line().contains("AUTHENTICATION_FAILED"),
        "{}",
        run.stderr
    );
    // A rastro-only command on a clevertap profile names the vendors that can.
    let run = env
        .on(
            &sandbox,
            "sandbox-clevertap",
            &["enrich", "status", "--catalog", "x", "job_1"],
        )
        .expect_code(2);
    assert!(
        run.stderr.contains("vendors that can: rastro"),
        "{}",
        run.stderr
    );
}

/// Runs `catops items list --all -o ndjson`, reading stdout as it comes. Returns the number of
/// lines, when the first arrived, when the process ended, and its peak RSS in KiB.
fn stream_list(
    env: &Env,
    sandbox: &Sandbox,
    catalog: &str,
    limit: &str,
) -> (usize, Duration, Duration, u64) {
    let base = sandbox.rastro_url();
    let mut child = env
        .command()
        .args([
            "-p",
            "sandbox",
            "--base-url",
            &base,
            "items",
            "list",
            "--catalog",
            catalog,
            "--all",
            "--limit",
            limit,
            "-o",
            "ndjson",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        // VmHWM is the process's peak so far; it vanishes once the process has exited.
        std::thread::spawn(move || {
            while let Some(kib) = peak_rss_kib(pid) {
                peak.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let started = Instant::now();
    let mut first = None;
    let mut lines = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        line.unwrap();
        first.get_or_insert_with(|| started.elapsed());
        lines += 1;
    }
    let ended = started.elapsed();
    assert!(child.wait().unwrap().success());
    sampler.join().unwrap();
    (
        lines,
        first.unwrap_or(ended),
        ended,
        peak.load(std::sync::atomic::Ordering::Relaxed),
    )
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn list_all_prints_the_first_record_before_the_last_page_is_fetched() {
    let sandbox = Sandbox::start_with(&["--latency-ms", "150"]);
    sandbox.seed_items("cat_demo", 3000);
    let env = Env::new();
    // 3025 items in pages of 250: 13 pages of at least 150 ms each.
    let (lines, first, ended, _) = stream_list(&env, &sandbox, "cat_demo", "250");
    assert_eq!(lines, 3025);
    assert!(
        ended - first >= Duration::from_millis(1200),
        "first record at {first:?}, end at {ended:?}"
    );
}

#[test]
fn list_all_memory_stays_flat_from_10k_to_100k_items() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let mut peaks = Vec::new();
    for (name, count) in [("small", 10_000), ("large", 100_000)] {
        let (status, reply) = sandbox.post(
            "/rastro/api/public/catalogs",
            &serde_json::json!({"name": name, "unique_id_field": "sku",
                                "schema_definition": {"fields": [{"name": "sku", "type": "string"}]}}),
        );
        assert_eq!(status, 201, "{reply}");
        let id = serde_json::from_str::<serde_json::Value>(&reply).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        sandbox.seed_items(&id, count);
        let (lines, _, _, peak_kb) = stream_list(&env, &sandbox, &id, "1000");
        assert_eq!(lines, count);
        eprintln!("{name}: {count} items, peak RSS {peak_kb} KiB");
        peaks.push(peak_kb);
    }
    let (small, large) = (peaks[0], peaks[1]);
    assert!(small > 0 && large > 0);
    assert!(
        large <= small + small / 5,
        "peak RSS grew from {small} KiB to {large} KiB"
    );
}

// ---------------------------------------------------------------- batch catalogs

#[test]
fn batch_catalogs_create_get_update_list_and_delete_end_to_end() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let batch = |args: &[&str]| env.on(&sandbox, "sandbox-batch", args);
    let created = batch(&[
        "catalogs",
        "create",
        "--name",
        "MOVIES",
        "--field",
        "title",
        "--field",
        "poster:url",
    ])
    .ok()
    .json();
    assert_eq!(created["name"], "MOVIES");
    assert_eq!(
        created["fields"],
        json!([{"name": "title", "type": "string"}, {"name": "poster", "type": "url"}]),
        "create prints the catalog as view reads it back"
    );
    let updated = batch(&[
        "catalogs",
        "update",
        "MOVIES",
        "--field",
        "+rank:integer",
        "--field",
        "-poster",
    ])
    .ok()
    .json();
    assert_eq!(
        updated["fields"],
        json!([{"name": "title", "type": "string"}, {"name": "rank", "type": "integer"}])
    );
    let got = batch(&["catalogs", "get", "MOVIES"]).ok().json();
    assert_eq!(got["fields"], updated["fields"]);
    let names: Vec<Value> = batch(&["catalogs", "list", "--all"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, [json!("MOVIES"), json!("demo")]);
    let deleted = batch(&["catalogs", "delete", "MOVIES", "--yes"])
        .ok()
        .json();
    assert_eq!(deleted, json!({"name": "MOVIES", "deleted": true}));
    let run = batch(&["catalogs", "get", "MOVIES"]).expect_code(5);
    assert!(
        run.error_line().contains("Catalog 'MOVIES' not found"),
        "{}",
        run.stderr
    );
}

#[test]
fn batch_catalogs_refuse_what_batch_lacks_before_any_request() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let batch = |args: &[&str]| env.on(&sandbox, "sandbox-batch", args);
    let run = batch(&[
        "catalogs",
        "create",
        "--name",
        "M",
        "--field",
        "price:number",
    ])
    .expect_code(2);
    assert!(
        run.error_line().contains("type 'number' is not one of"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: batch field types: array, bool, date"),
        "{}",
        run.stderr
    );
    let run = batch(&[
        "catalogs",
        "create",
        "--name",
        "M",
        "--unique-id-field",
        "sku",
        "--field",
        "sku",
    ])
    .expect_code(2);
    assert!(
        run.error_line().contains("no --unique-id-field"),
        "{}",
        run.stderr
    );
    let run = batch(&["catalogs", "update", "demo", "--name", "Films"]).expect_code(2);
    assert!(
        run.error_line().contains("changes fields only"),
        "{}",
        run.stderr
    );
    // The sandbox's own refusals come back as batch's error body, exit 1.
    let run = batch(&["catalogs", "update", "demo", "--field", "+title:string"]).expect_code(1);
    assert!(
        run.error_line()
            .contains("field title already exists (INVALID_PARAMETER)"),
        "{}",
        run.stderr
    );
    let listed = batch(&["catalogs", "list"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "nothing was created");
}

#[test]
fn items_delete_removes_named_batch_items_only_when_confirmed() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write("b.csv", "id,title\nb1,One\nb2,Two\nb3,Three\n");
    env.on(
        &sandbox,
        "sandbox-batch",
        &["bulk", "upsert", "b.csv", "--catalog", "demo"],
    )
    .ok();
    let stored_ids = || -> Vec<String> {
        let stored = sandbox.inspect("/batch/2.11/_sandbox/catalogs/demo/items");
        let mut ids: Vec<String> = stored
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let delete = ["items", "delete", "--catalog", "demo", "b1", "b2", "b1"];

    // No terminal and no --yes: refused before any request.
    let refused = env.on(&sandbox, "sandbox-batch", &delete).expect_code(2);
    assert!(refused.error_line().contains("refusing without --yes"));
    let dry = env
        .on(
            &sandbox,
            "sandbox-batch",
            &[&delete[..], &["--dry-run"]].concat(),
        )
        .ok()
        .json();
    assert_eq!(dry["would_delete"], json!(["b1", "b2"]));
    assert_eq!(stored_ids(), ["b1", "b2", "b3"], "nothing deleted yet");

    let done = env
        .on(
            &sandbox,
            "sandbox-batch",
            &[&delete[..], &["--yes"]].concat(),
        )
        .ok()
        .json();
    assert_eq!(done["deleted"], 2, "{done}");
    assert!(done["indexing_token"].is_string(), "{done}");
    assert_eq!(stored_ids(), ["b3"]);

    // A vendor without a documented item deletion: exit 2 naming the one that has it.
    let rastro = env
        .rastro(
            &sandbox,
            &[
                "items",
                "delete",
                "--catalog",
                "cat_demo",
                "item_1",
                "--yes",
            ],
        )
        .expect_code(2);
    assert!(
        rastro.stderr.contains("vendors that can: batch"),
        "{}",
        rastro.stderr
    );
}
