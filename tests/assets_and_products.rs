//! catalogix's assets (list, delete, unlink) and products (`items list|get`, `bulk upsert`)
//! end to end: the real binary against the sandbox on a loopback port.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{Env, Sandbox};
use serde_json::{json, Value};

const PROFILE: &str = "sandbox-catalogix";

/// Links two images to each of `count` parent codes `P000`.. through `assets upsert`.
fn upsert_images(env: &Env, sandbox: &Sandbox, count: usize) {
    let mut csv = String::from("parent_code,Image URL 1,Image URL 2\n");
    for n in 0..count {
        csv.push_str(&format!(
            "P{n:03},https://cdn.example.com/{n}-1.jpg,https://cdn.example.com/{n}-2.jpg\n"
        ));
    }
    env.write("images.csv", &csv);
    let summary = env
        .on(sandbox, PROFILE, &["assets", "upsert", "images.csv", "-q"])
        .ok()
        .json();
    assert_eq!(summary["accepted"], count);
}

fn listed(env: &Env, sandbox: &Sandbox, args: &[&str]) -> Vec<Value> {
    let mut full = vec!["assets", "list", "-o", "ndjson"];
    full.extend_from_slice(args);
    env.on(sandbox, PROFILE, &full).ok().ndjson()
}

#[test]
fn assets_list_prints_one_record_per_parent_code_and_every_page_with_all() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    upsert_images(&env, &sandbox, 120);
    let first = listed(&env, &sandbox, &[]);
    assert_eq!(first.len(), 50, "one page of the documented 50");
    assert_eq!(first[0]["parent_code"], "P000");
    assert_eq!(first[0]["store_uuid"], "store_demo");
    assert_eq!(
        first[0]["assets"][1]["Image URL 2"],
        "https://cdn.example.com/0-2.jpg"
    );
    let all = listed(&env, &sandbox, &["--all"]);
    assert_eq!(all.len(), 120);
    assert_eq!(all[119]["parent_code"], "P119");
    assert!(listed(&env, &sandbox, &["--format", "video"]).is_empty());
    assert!(listed(&env, &sandbox, &["--channel", "WEB", "--all"]).is_empty());
    let table = env
        .on(
            &sandbox,
            PROFILE,
            &[
                "assets",
                "list",
                "-o",
                "table",
                "--columns",
                "parent_code,asset_type",
            ],
        )
        .ok();
    assert!(
        table.stdout.contains("P049") && !table.stdout.contains("P050"),
        "{}",
        table.stdout
    );
    let bad = env
        .on(&sandbox, PROFILE, &["assets", "list", "--format", "gif"])
        .expect_code(2);
    assert!(bad.stderr.contains("gif"), "{}", bad.stderr);
}

#[test]
fn assets_delete_removes_the_named_ids_and_rejects_the_missing_ones() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    upsert_images(&env, &sandbox, 3);
    let ids: Vec<String> = listed(&env, &sandbox, &[])
        .iter()
        .map(|group| group["assets"][0]["asset_id"].as_str().unwrap().to_string())
        .collect();
    env.write(
        "gone.csv",
        &format!(
            "parent_code,asset_id\nP000,{}\nP001,{}\nP001,not-an-id\n,{}\n",
            ids[0], ids[1], ids[2]
        ),
    );
    let dry = env
        .on(
            &sandbox,
            PROFILE,
            &["assets", "delete", "gone.csv", "--dry-run"],
        )
        .ok();
    assert_eq!(dry.json()["requests"], 1, "{}", dry.stdout);
    assert_eq!(
        listed(&env, &sandbox, &[]).len(),
        3,
        "a dry run deletes nothing"
    );

    let run = env
        .on(
            &sandbox,
            PROFILE,
            &["assets", "delete", "gone.csv", "--yes"],
        )
        .expect_code(3);
    let summary = run.json();
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&json!(3), &json!(1))
    );
    let rejects = env.rejects("gone.rejects.ndjson");
    assert_eq!(rejects[0]["line"], 4);
    assert!(
        rejects[0]["error"].as_str().unwrap().contains("not-an-id"),
        "{rejects:?}"
    );
    let left = listed(&env, &sandbox, &[]);
    let names: Vec<Vec<String>> = left
        .iter()
        .map(|g| {
            g["assets"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|a| {
                    a.as_object()
                        .unwrap()
                        .keys()
                        .filter(|k| *k != "asset_id")
                        .cloned()
                })
                .collect()
        })
        .collect();
    assert_eq!(names, [["Image URL 2"], ["Image URL 2"], ["Image URL 2"]]);
}

#[test]
fn assets_unlink_without_an_asset_id_unlinks_every_asset_of_the_parent() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    upsert_images(&env, &sandbox, 4);
    env.write("unlink.csv", "parent_code\nP001\nP003\nP404\n");
    let run = env
        .on(
            &sandbox,
            PROFILE,
            &[
                "assets",
                "unlink",
                "unlink.csv",
                "--yes",
                "--journal",
                "u.journal",
            ],
        )
        .expect_code(3);
    let summary = run.json();
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&json!(2), &json!(1))
    );
    assert!(env
        .read("unlink.rejects.ndjson")
        .contains("no assets for P404"));
    let codes: Vec<Value> = listed(&env, &sandbox, &[])
        .iter()
        .map(|g| g["parent_code"].clone())
        .collect();
    assert_eq!(codes, [json!("P000"), json!("P002")]);
    // Without --yes and off a terminal, nothing is sent.
    let refused = env
        .on(&sandbox, PROFILE, &["assets", "unlink", "unlink.csv"])
        .expect_code(2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
}

fn product_csv(rows: usize) -> String {
    let mut csv =
        String::from("product_code,parent_code,Product Name,Category,status,Image URL 1\n");
    for n in 0..rows {
        csv.push_str(&format!(
            "C{n:04},S{:04},Product {n},Shirts,active,https://cdn.example.com/c{n}.jpg\n",
            n / 3
        ));
    }
    csv
}

#[test]
fn products_bulk_upsert_then_items_list_and_get_read_them_back() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let mut csv = product_csv(250);
    csv.push_str("C9999,S9999,Broken,Shirts,sold,\n");
    env.write("products.csv", &csv);
    let summary = env
        .on(&sandbox, PROFILE, &["bulk", "upsert", "products.csv"])
        .expect_code(3)
        .json();
    assert_eq!(
        (
            &summary["accepted"],
            &summary["created"],
            &summary["rejected"]
        ),
        (&json!(250), &json!(250), &json!(1))
    );
    let mut sizes = sandbox.bulk_sizes("catalogix");
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 100, 100]);
    assert!(env
        .read("products.rejects.ndjson")
        .contains("status \\\"sold\\\""));

    let again = env
        .on(&sandbox, PROFILE, &["bulk", "upsert", "products.csv", "-q"])
        .expect_code(3)
        .json();
    assert_eq!(
        (&again["created"], &again["updated"]),
        (&json!(0), &json!(250))
    );

    let page = env
        .on(&sandbox, PROFILE, &["items", "list", "-o", "ndjson"])
        .ok()
        .ndjson();
    assert_eq!(page.len(), 100);
    assert_eq!(page[0]["product_code"], "C0000");
    assert_eq!(
        page[0]["assets"]["images"],
        json!(["https://cdn.example.com/c0.jpg"])
    );
    let second = env
        .on(
            &sandbox,
            PROFILE,
            &[
                "items", "list", "--page", "3", "--limit", "100", "-o", "ndjson",
            ],
        )
        .ok()
        .ndjson();
    assert_eq!(
        (second.len(), &second[0]["product_code"]),
        (50, &json!("C0200"))
    );
    let all = env
        .on(
            &sandbox,
            PROFILE,
            &["items", "list", "--all", "--limit", "40", "-o", "ndjson"],
        )
        .ok()
        .ndjson();
    assert_eq!(all.len(), 250);
    assert_eq!(all[249]["product_code"], "C0249");

    let one = env
        .on(&sandbox, PROFILE, &["items", "get", "C0042"])
        .ok()
        .json();
    assert_eq!(
        (&one["Product Name"], &one["parent_code"]),
        (&json!("Product 42"), &json!("S0014"))
    );
    let missing = env
        .on(&sandbox, PROFILE, &["items", "get", "C9999"])
        .expect_code(5);
    assert!(
        missing.error_line().contains("no product C9999"),
        "{}",
        missing.stderr
    );
    let other_store = env
        .on(
            &sandbox,
            PROFILE,
            &["items", "list", "--catalog", "elsewhere"],
        )
        .expect_code(5);
    assert!(
        other_store
            .error_line()
            .contains("Store elsewhere not found"),
        "{}",
        other_store.stderr
    );
    assert!(
        other_store.stderr.contains("hint: check the store"),
        "{}",
        other_store.stderr
    );
}

#[test]
fn the_new_commands_need_their_vendor_and_rastro_still_needs_a_catalog() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let run = env
        .on(&sandbox, "sandbox-batch", &["assets", "list"])
        .expect_code(2);
    assert!(
        run.stderr.contains("vendors that can: catalogix"),
        "{}",
        run.stderr
    );
    let run = env
        .on(&sandbox, "sandbox-batch", &["items", "list"])
        .expect_code(2);
    assert!(run.stderr.contains("rastro, catalogix"), "{}", run.stderr);
    let run = env
        .on(&sandbox, "sandbox", &["items", "list"])
        .expect_code(2);
    assert!(
        run.error_line().contains("--catalog ID is required"),
        "{}",
        run.stderr
    );
    env.write("p.csv", "sku\nA\n");
    let run = env
        .on(&sandbox, "sandbox", &["bulk", "upsert", "p.csv"])
        .expect_code(2);
    assert!(
        run.error_line().contains("--catalog ID is required"),
        "{}",
        run.stderr
    );
}
