//! The shell-facing surface: committed completions and man pages are current, bash completion
//! works in a real bash, `--jq` and `--columns` shape the output, and help shows examples.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Env, Sandbox, BIN};

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn committed_completions_and_man_pages_match_the_cli() {
    let env = Env::new();
    env.run(&["generate-docs", "--out", env.home.path().to_str().unwrap()])
        .ok();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for dir in ["completions", "man"] {
        let generated = files(&env.home.path().join(dir));
        let committed = files(&repo.join(dir));
        let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            names(&committed),
            names(&generated),
            "{dir}/ is stale: run `cargo run -- generate-docs --out .` and commit"
        );
        for (name, content) in &generated {
            assert!(
                committed[name] == *content,
                "{dir}/{name} is stale: run `cargo run -- generate-docs --out .` and commit"
            );
        }
    }
    assert!(repo.join("man/catops-bulk-upsert.1").exists());
}

/// Sources the committed bash completion in a real bash and completes the last of `words`.
fn complete_in_bash(env: &Env, words: &[&str]) -> Vec<String> {
    let repo = env!("CARGO_MANIFEST_DIR");
    let bin_dir = Path::new(BIN).parent().unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source '{repo}/completions/catops.bash'\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         COMP_TYPE=9\n\
         _clap_complete_catops catops \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = quoted.join(" "),
        cword = words.len() - 1,
    );
    // The script calls `catops` by name, as it would on a user's PATH.
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("PATH", path)
        .env("HOME", env.home.path())
        .env("CATOPS_CONFIG", env.config_path())
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_profile_names() {
    let env = Env::new();
    env.write_config(
        "[profiles.shop-eu]\nvendor = \"rastro\"\n[profiles.shop-us]\nvendor = \"batch\"\n",
    );
    assert_eq!(complete_in_bash(&env, &["catops", "bu"]), ["bulk"]);
    assert_eq!(
        complete_in_bash(&env, &["catops", "bulk", "up"]),
        ["upsert"]
    );
    assert_eq!(
        complete_in_bash(&env, &["catops", "-p", "shop"]),
        ["shop-eu", "shop-us"]
    );
    assert!(
        complete_in_bash(&env, &["catops", "-p", "sand"]).contains(&"sandbox-batch".to_string())
    );
}

#[test]
fn completions_command_prints_each_shells_script() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = env.run(&["completions", shell]).ok();
        assert!(run.stdout.contains("catops"), "{shell}: {}", run.stdout);
    }
    env.run(&["completions", "tcsh"]).expect_code(2);
}

#[test]
fn jq_filters_json_output_with_raw_strings() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--limit",
                "3",
                "--jq",
                ".[].sku",
            ],
        )
        .ok();
    assert_eq!(run.stdout, "DEMO-0001\nDEMO-0002\nDEMO-0003\n");
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "items",
                "get",
                "--catalog",
                "cat_demo",
                "item_2",
                "--jq",
                "{sku, price}",
            ],
        )
        .ok();
    assert_eq!(run.stdout, "{\"sku\":\"DEMO-0002\",\"price\":13.49}\n");
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--all",
                "--limit",
                "10",
                "--jq",
                "length",
            ],
        )
        .ok();
    assert_eq!(
        run.stdout, "25\n",
        "the filter sees the whole list, across pages"
    );
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &["api", "/public/catalogs", "--jq", ".catalogs[0].id"],
        )
        .ok();
    assert_eq!(run.stdout, "cat_demo\n");
}

#[test]
fn a_broken_jq_filter_is_exit_2_before_any_request_and_a_failing_one_exit_1_after() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &["items", "list", "--catalog", "cat_demo", "--jq", ".[", "-v"],
        )
        .expect_code(2);
    assert!(
        run.error_line()
            .contains("not a valid filter: expected closing bracket"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("GET "), "no request: {}", run.stderr);
    let run = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "items",
                "get",
                "--catalog",
                "cat_demo",
                "item_1",
                "--jq",
                ".sku.x",
            ],
        )
        .expect_code(1);
    // The request was sent and answered: exit 2 would say nothing was.
    assert!(run.error_line().contains("--jq"), "{}", run.stderr);
    assert!(
        run.stderr.contains("hint: the command ran"),
        "{}",
        run.stderr
    );
}

#[test]
fn columns_choose_table_and_csv_columns() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let csv = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--limit",
                "2",
                "-o",
                "csv",
                "--columns",
                "price,sku",
            ],
        )
        .ok()
        .stdout;
    assert_eq!(csv, "price,sku\n9.99,DEMO-0001\n13.49,DEMO-0002\n");
    // A column no record has is a typo: exit 2, naming the ones there are.
    let args = [
        "items",
        "list",
        "--catalog",
        "cat_demo",
        "--columns",
        "sku,missing",
    ];
    let missing = env.on(&sandbox, "sandbox", &args).expect_code(2);
    assert!(
        missing
            .error_line()
            .contains("unknown column 'missing'; available: id, sku"),
        "{}",
        missing.stderr
    );
    let table = env
        .on(
            &sandbox,
            "sandbox",
            &[
                "items",
                "list",
                "--catalog",
                "cat_demo",
                "--limit",
                "2",
                "-o",
                "table",
                "--columns",
                "sku,title",
            ],
        )
        .ok()
        .stdout;
    assert!(
        table.contains("sku") && table.contains("Acme Trail Running Shoe"),
        "{table}"
    );
    assert!(
        !table.contains("price") && !table.contains("9.99"),
        "{table}"
    );
}

#[test]
fn help_shows_examples_for_the_common_commands() {
    let env = Env::new();
    for command in [
        vec!["bulk", "upsert", "--help"],
        vec!["items", "list", "--help"],
        vec!["enrich", "start", "--help"],
        vec!["delta", "rows", "--help"],
    ] {
        let run = env.run(&command).ok();
        assert!(
            run.stdout.contains("Examples:\n  catops "),
            "{command:?}: {}",
            run.stdout
        );
    }
}

#[test]
fn help_puts_a_commands_own_options_first_and_lists_exit_codes() {
    let env = Env::new();
    let help = env.run(&["items", "get", "--help"]).ok().stdout;
    let own = help.find("--catalog").unwrap();
    let global = help
        .find("Global options:")
        .expect("a heading for the global flags");
    assert!(own < global, "{help}");
    assert!(help[global..].contains("--profile"), "{help}");
    assert!(
        !help.contains("CATOPS_CONFIG="),
        "an unset variable shows no value: {help}"
    );
    let top = env.run(&["--help"]).ok().stdout;
    for code in ["0 ", "2 ", "3 ", "4 ", "5 ", "130 "] {
        assert!(
            top.contains(&format!("\n  {code}")),
            "exit {code} in --help: {top}"
        );
    }
    let man = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/man/catops-items-list.1"
    ))
    .unwrap();
    let examples = man
        .find(".SH \"EXAMPLES\"\n.nf\n")
        .expect("examples kept line for line");
    assert!(
        man[examples..].contains("catops \\-p sandbox items list"),
        "{man}"
    );
    assert!(man.contains(".SH \"EXIT STATUS\""), "{man}");
}

#[test]
fn every_command_and_flag_has_help() {
    let env = Env::new();
    let mut pending = vec![vec![]];
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = env.run(&args).ok().stdout;
        let lines: Vec<&str> = help.lines().collect();
        let mut section = "";
        for (index, line) in lines.iter().enumerate() {
            if line.ends_with(':') && !line.starts_with(' ') {
                section = line;
                continue;
            }
            let is_entry = matches!(
                section,
                "Commands:" | "Options:" | "Arguments:" | "Global options:"
            ) && line.starts_with("  ")
                && !line.starts_with("      ");
            if !is_entry {
                continue;
            }
            // "  name  help", or (long help) "  name" with the help on the next, deeper line.
            let entry = line.trim_start();
            let next = lines.get(index + 1).copied().unwrap_or("");
            let has_help =
                entry.contains("  ") || (next.starts_with("      ") && !next.trim().is_empty());
            assert!(
                has_help,
                "`catops {}` lists `{entry}` without help",
                path.join(" ")
            );
            if section == "Commands:" {
                let name = entry.split_whitespace().next().unwrap().to_string();
                if name != "help" {
                    let mut child = path.clone();
                    child.push(name);
                    pending.push(child);
                }
            }
        }
    }
}
