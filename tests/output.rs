//! Listing and tables as a user sees them: `--columns` in every format, CSV headers that never
//! drop a field, `--typed-header` round trips, tables fitted to the screen, the pager, and
//! lists that stop half-way. Terminal cases run under util-linux `script`, which gives the
//! binary a pseudo-terminal (skipped where `script` is missing).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::process::{Command as StdCommand, Stdio};

use common::replay::{fixture, Replay, Reply};
use common::{Env, Run, Sandbox, BIN};
use serde_json::{json, Value};

fn items(env: &Env, sandbox: &Sandbox, extra: &[&str]) -> Run {
    let mut args = vec!["items", "list", "--catalog", "cat_demo"];
    args.extend_from_slice(extra);
    env.on(sandbox, "sandbox", &args)
}

/// `items update` of one demo item: `field` is KEY=VALUE.
fn set(env: &Env, sandbox: &Sandbox, item: &str, field: &str) {
    let args = [
        "items",
        "update",
        "--catalog",
        "cat_demo",
        item,
        "--set",
        field,
    ];
    env.on(sandbox, "sandbox", &args).ok();
}

fn keys(record: &Value) -> Vec<&str> {
    record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn columns_pick_fields_in_every_format_and_an_unknown_one_is_a_usage_error() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let json = items(&env, &sandbox, &["--limit", "3", "--columns", "price,sku"])
        .ok()
        .json();
    let json = json.as_array().unwrap();
    assert_eq!(json.len(), 3);
    assert!(json.iter().all(|r| keys(r) == ["price", "sku"]), "{json:?}");
    assert_eq!(json[0], json!({"price": 9.99, "sku": "DEMO-0001"}));

    let ndjson = items(
        &env,
        &sandbox,
        &["--limit", "2", "-o", "ndjson", "--columns", "title"],
    )
    .ok();
    assert_eq!(
        ndjson.stdout,
        "{\"title\":\"Acme Trail Running Shoe\"}\n{\"title\":\"Northwind Trail Running Shoe\"}\n"
    );
    let get = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "items",
                "get",
                "--catalog",
                "cat_demo",
                "item_1",
                "--columns",
                "sku,price",
            ],
        )
        .ok();
    assert_eq!(get.json(), json!({"sku": "DEMO-0001", "price": 9.99}));

    for format in ["json", "ndjson", "csv", "table"] {
        let bad = items(
            &env,
            &sandbox,
            &["--limit", "2", "-o", format, "--columns", "sku,nope"],
        )
        .expect_code(2);
        assert!(bad.stdout.is_empty(), "{format}: {}", bad.stdout);
        assert_eq!(
            bad.error_line(),
            "error: --columns: unknown column 'nope'; available: id, sku, title, brand, category, price"
        );
    }
}

#[test]
fn csv_holds_every_field_of_the_first_page_and_fails_loudly_on_a_later_one() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    // item_2 has a field item_1 lacks, on the same page: the header holds it.
    set(&env, &sandbox, "item_2", "note=second");
    let csv = items(&env, &sandbox, &["--limit", "3", "-o", "csv"]).ok();
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines[0], "id,sku,title,brand,category,price,note");
    assert!(lines[2].ends_with(",second"), "{}", csv.stdout);
    assert!(csv.stderr.is_empty(), "{}", csv.stderr);

    // item_15 is on the second page of 10, with a field the header lacks.
    set(&env, &sandbox, "item_15", "colour=red");
    let failed = items(&env, &sandbox, &["--all", "--limit", "10", "-o", "csv"]).expect_code(1);
    let error = failed.error_line();
    assert!(
        error.contains("record 15 (id item_15)") && error.contains("'colour'"),
        "{error}"
    );
    assert!(failed.stderr.contains("hint: "), "{}", failed.stderr);
    assert_eq!(failed.stdout.lines().count(), 15, "header and rows 1-14");

    // --columns chose the fields: the others are left out on purpose.
    let chosen = items(
        &env,
        &sandbox,
        &[
            "--all",
            "--limit",
            "10",
            "-o",
            "csv",
            "--columns",
            "sku,note",
        ],
    )
    .ok();
    let lines: Vec<&str> = chosen.stdout.lines().collect();
    assert_eq!(lines.len(), 26);
    assert_eq!(lines[0], "sku,note");
    assert_eq!(lines[2], "DEMO-0002,second");
    assert_eq!(lines[15], "DEMO-0015,");
}

#[test]
fn a_typed_header_export_imports_back_with_the_same_json_types() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let rastro = |args: &[&str]| env.on(&sandbox, "sandbox", args).ok();
    let create = |name: &str| {
        rastro(&[
            "catalogs",
            "create",
            "--name",
            name,
            "--unique-id-field",
            "sku",
            "--field",
            "sku",
            "-o",
            "json",
        ])
        .json()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let originals = [
        json!({"sku": "00123", "price": 10, "on": true, "tags": ["a", "b|c"], "dims": {"w": 1.5}, "qty": 3}),
        json!({"sku": "X-2", "price": 9.5, "on": false, "tags": [], "dims": null, "note": "a,b \"q\"\nline 2"}),
        json!({"sku": "7", "price": -0.25, "on": true, "tags": ["x"], "dims": [1, "two"], "qty": 0, "note": ""}),
    ];
    let ndjson: String = originals.iter().map(|r| format!("{r}\n")).collect();
    env.write("src.ndjson", &ndjson);
    let source = create("Source");
    rastro(&["bulk", "upsert", "src.ndjson", "--catalog", &source, "-q"]);

    let export = rastro(&[
        "items",
        "list",
        "--catalog",
        &source,
        "--all",
        "-o",
        "csv",
        "--typed-header",
    ]);
    let header = export.stdout.lines().next().unwrap().to_string();
    assert_eq!(
        header,
        "id:string,sku:string,price:number,on:boolean,tags:json,dims:json,qty:number,note:string"
    );
    env.write("export.csv", &export.stdout);
    let copy = create("Copy");
    rastro(&["bulk", "upsert", "export.csv", "--catalog", &copy, "-q"]);

    let copied = rastro(&["items", "list", "--catalog", &copy, "-o", "ndjson"]).ndjson();
    assert_eq!(copied.len(), 3);
    for (original, copied) in originals.iter().zip(&copied) {
        let mut copied = copied.clone();
        copied.as_object_mut().unwrap().remove("id");
        // An empty string exports as an empty cell, which an import leaves out.
        let mut expected = original.clone();
        if expected["note"] == "" {
            expected.as_object_mut().unwrap().remove("note");
        }
        assert_eq!(copied, expected, "same values, same JSON types");
    }

    let refused = env
        .on(
            &sandbox,
            "sandbox",
            &["items", "list", "--catalog", &source, "--typed-header"],
        )
        .expect_code(2);
    assert!(
        refused.error_line().contains("-o csv"),
        "{}",
        refused.stderr
    );
}

/// `catops ARGS` with stdout piped, on a screen described by `vars` (COLUMNS, TERM, locale).
fn on_screen(
    env: &Env,
    sandbox: &Sandbox,
    profile: &str,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Run {
    env.on_with(sandbox, profile, args, |cmd| {
        for name in ["COLUMNS", "TERM", "LC_ALL", "LC_CTYPE", "LANG"] {
            cmd.env_remove(name);
        }
        cmd.envs(vars.iter().copied());
    })
}

#[test]
fn tables_show_default_columns_fitted_to_the_width_without_wrapping() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let utf8 = [("LANG", "C.UTF-8"), ("TERM", "xterm")];
    let args = [
        "items",
        "list",
        "--catalog",
        "cat_demo",
        "--limit",
        "5",
        "-o",
        "table",
    ];
    let table = on_screen(&env, &sandbox, "sandbox", &args, &utf8)
        .ok()
        .stdout;
    let header = table.lines().nth(1).unwrap();
    for column in ["id", "sku", "title", "price"] {
        assert!(header.contains(&format!(" {column} ")), "{table}");
    }
    assert!(
        !table.contains("brand") && !table.contains("category"),
        "{table}"
    );
    assert!(
        table.contains("Northwind Trail Running Shoe") && table.contains('│'),
        "{table}"
    );
    assert_eq!(table.lines().count(), 5 + 4, "a line a row:\n{table}");

    // COLUMNS is the width when stdout is not a terminal: cells are cut, never wrapped.
    let narrow = [("COLUMNS", "40"), ("LANG", "en_US.UTF-8")];
    let table = on_screen(&env, &sandbox, "sandbox", &args, &narrow)
        .ok()
        .stdout;
    assert!(table.lines().all(|l| l.chars().count() <= 40), "{table}");
    assert_eq!(table.lines().count(), 5 + 4, "{table}");
    assert!(table.contains('…'), "{table}");

    // A dumb terminal, or a locale that is not UTF-8, gets ASCII.
    for plain in [
        vec![("COLUMNS", "40"), ("LANG", "C.UTF-8"), ("TERM", "dumb")],
        vec![("COLUMNS", "40"), ("LC_ALL", "C"), ("LANG", "C.UTF-8")],
        vec![("COLUMNS", "40")],
    ] {
        let table = on_screen(&env, &sandbox, "sandbox", &args, &plain)
            .ok()
            .stdout;
        assert!(table.is_ascii(), "{plain:?}:\n{table}");
        assert!(table.contains("...") && table.contains("| "), "{table}");
    }

    // Event ids are never split: the default columns fit 80 characters.
    set(&env, &sandbox, "item_1", "note=x");
    let events = ["delta", "list", "-o", "table"];
    let table = on_screen(&env, &sandbox, "sandbox-catalogian", &events, &utf8)
        .ok()
        .stdout;
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
    assert!(
        table.contains(" evt_000000000001 ") && table.contains(" detectedAt "),
        "{table}"
    );
}

/// Runs the shell command `line` on a pseudo-terminal through util-linux `script`, and
/// returns what the terminal showed; None where `script` is missing.
fn on_terminal(env: &Env, line: &str) -> Option<String> {
    let found = StdCommand::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        eprintln!("skipped: util-linux `script` is not installed");
        return None;
    }
    let output = env
        .command_of("script")
        .args(["-qec", line, "/dev/null"])
        .env("SHELL", "/bin/sh")
        .env("LANG", "C.UTF-8")
        .env("TERM", "xterm")
        .env_remove("COLUMNS")
        .env_remove("PAGER")
        .env_remove("LC_ALL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{line}: {output:?}");
    Some(String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"))
}

#[test]
fn on_a_terminal_tables_fit_it_long_ones_go_through_the_pager_and_more_is_noted() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let list = format!(
        "'{BIN}' -p sandbox --base-url {} items list --catalog cat_demo",
        sandbox.rastro_url()
    );
    // An unsized terminal (0×0) is no width: 80, not one-character columns.
    let Some(shown) = on_terminal(&env, &format!("{list} --limit 3")) else {
        return;
    };
    assert!(shown.contains("┆ Acme Trail Running Shoe "), "{shown}");
    assert!(
        shown.contains("showing 3 of 25 — use --all or --limit"),
        "{shown}"
    );

    // Longer than the terminal: through $CATOPS_PAGER, which gets the whole table.
    let pager = "CATOPS_PAGER='cp /dev/stdin paged.txt'";
    let sized = "stty rows 10 cols 70";
    let shown = on_terminal(&env, &format!("{sized}; {pager} {list} --limit 12 -q")).unwrap();
    let paged = env.read("paged.txt");
    assert_eq!(paged.lines().count(), 12 + 4, "{paged}");
    assert!(paged.lines().all(|l| l.chars().count() <= 70), "{paged}");
    assert!(
        !shown.contains("DEMO-0001"),
        "printed by the pager only: {shown}"
    );

    // $PAGER when CATOPS_PAGER is empty; short tables and pipes print directly.
    std::fs::remove_file(env.home.path().join("paged.txt")).unwrap();
    let pager = "CATOPS_PAGER= PAGER='cp /dev/stdin paged.txt'";
    let shown = on_terminal(&env, &format!("{sized}; {pager} {list} --limit 2 -q")).unwrap();
    assert!(shown.contains("DEMO-0002"), "{shown}");
    let piped = format!("{sized}; {pager} {list} --limit 12 -o table | cat");
    let shown = on_terminal(&env, &piped).unwrap();
    assert!(shown.contains("DEMO-0012"), "{shown}");
    assert!(
        !env.home.path().join("paged.txt").exists(),
        "no pager for these"
    );
    let shown = on_terminal(&env, &format!("{sized}; {pager} {list} --limit 12 -q")).unwrap();
    assert!(env.home.path().join("paged.txt").exists(), "{shown}");

    // A pager that cannot start: the table is printed directly.
    let missing = "CATOPS_PAGER=/nonexistent/pager";
    let shown = on_terminal(&env, &format!("{sized}; {missing} {list} --limit 12")).unwrap();
    assert!(shown.contains("DEMO-0012"), "{shown}");

    // The note goes to a terminal's stderr whatever the format, never with -q.
    let json = on_terminal(&env, &format!("{list} --limit 3 -o json > page.json")).unwrap();
    assert!(
        json.contains("showing 3 of 25 — use --all or --limit"),
        "{json}"
    );
    let page: Value = serde_json::from_str(&env.read("page.json")).unwrap();
    assert_eq!(page.as_array().unwrap().len(), 3);
    let quiet = on_terminal(&env, &format!("{list} --limit 3 -o json -q > page.json")).unwrap();
    assert!(!quiet.contains("showing"), "{quiet}");
}

#[test]
fn a_list_that_fails_half_way_still_prints_valid_json_and_exits_non_zero() {
    let env = Env::new();
    let items = Replay::start(|request| match request.param("page") {
        Some("1") => Reply::json(
            200,
            &json!({"items": [{"id": "a", "sku": "A"}, {"id": "b", "sku": "B"}], "total": 6, "page": 1}),
        ),
        _ => Reply::json(500, &json!({"detail": "database on fire"})),
    });
    let run = env.run(&[
        "-p",
        "sandbox",
        "--base-url",
        &items.url,
        "--max-retries",
        "0",
        "items",
        "list",
        "--catalog",
        "c",
        "--all",
        "--limit",
        "2",
        "-o",
        "json",
    ]);
    let run = run.expect_code(1);
    assert_eq!(
        run.json(),
        json!([{"id": "a", "sku": "A"}, {"id": "b", "sku": "B"}])
    );
    assert!(
        run.error_line().contains("database on fire"),
        "{}",
        run.stderr
    );

    // Cursor-paged lists (catalogian) close their array too.
    let snapshots = Replay::start(|request| match request.param("cursor") {
        None => Reply::fixture(200, "catalogian", "snapshots-paged.json"),
        Some(_) => Reply::json(500, &json!({"error": "database on fire"})),
    });
    let run = env
        .run(&[
            "-p",
            "sandbox-catalogian",
            "--base-url",
            &snapshots.url,
            "--max-retries",
            "0",
            "delta",
            "snapshots",
            "s",
            "--all",
            "-o",
            "json",
        ])
        .expect_code(1);
    let first = fixture("catalogian", "snapshots-paged.json")["snapshots"].clone();
    assert_eq!(run.json(), first);
    assert!(run.error_line().contains("500"), "{}", run.stderr);
}

#[test]
fn delta_watch_prints_the_chosen_columns_of_each_event() {
    use std::io::{BufRead, BufReader};
    let sandbox = Sandbox::start();
    let env = Env::new();
    set(&env, &sandbox, "item_1", "note=x");
    let base = format!("{}/catalogian", sandbox.root);
    let watch = |columns: &str| {
        let since = "2000-01-01T00:00:00Z";
        let mut cmd = env.command();
        cmd.args(["-p", "sandbox-catalogian", "--base-url", &base])
            .args(["delta", "watch", "--since", since, "--columns", columns])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().unwrap()
    };
    let mut child = watch("changedKeys,id");
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        line,
        r#"{"changedKeys":["DEMO-0001"],"id":"evt_000000000001"}"#
    );

    let refused = watch("id,nope").wait_with_output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("unknown column 'nope'; available: id,"),
        "{stderr}"
    );
}
