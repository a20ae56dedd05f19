//! Config file and profiles (SPEC §2), through the real binary.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use common::{Env, Sandbox};
use serde_json::Value;

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn builtin_profiles_exist_without_a_config_file() {
    let env = Env::new();
    let list = env.run(&["profile", "list", "-o", "json"]).ok().json();
    assert_eq!(
        names(&list),
        [
            "sandbox",
            "sandbox-batch",
            "sandbox-catalogix",
            "sandbox-clevertap",
            "sandbox-catalogian"
        ]
    );
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["builtin"] == true));
    assert_eq!(list[0]["base_url"], "embedded");
    assert!(
        !env.config_path().exists(),
        "listing must not create a file"
    );
}

#[test]
fn profile_add_use_show_remove_keep_the_users_comments() {
    let env = Env::new();
    env.write_config(
        "# my catops setup\n[profiles.old] # keep me\nvendor = \"batch\"\nproject_key = \"p1\"\n",
    );

    env.run(&[
        "profile",
        "add",
        "shop",
        "--vendor",
        "rastro",
        "--token-env",
        "SHOP_KEY",
        "--unique-field",
        "sku",
        "--base-url",
        "https://catalogapi.example/api",
    ])
    .ok();
    env.run(&["profile", "use", "shop"]).ok();
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(
        text.contains("# my catops setup") && text.contains("# keep me"),
        "{text}"
    );
    assert!(text.contains("default_profile = \"shop\""), "{text}");

    let shown = env.run(&["profile", "show", "-o", "json"]).ok().json();
    assert_eq!(shown["name"], "shop");
    assert_eq!(shown["vendor"], "rastro");
    assert_eq!(shown["base_url"], "https://catalogapi.example/api");
    assert_eq!(shown["unique_field"], "sku");
    assert_eq!(shown["token_source"], "env SHOP_KEY (not set)");
    assert_eq!(shown["default"], true);

    let list = env.run(&["profile", "list", "-o", "json"]).ok().json();
    assert_eq!(names(&list)[..2], ["old", "shop"]);

    env.run(&["profile", "add", "shop", "--vendor", "rastro"])
        .expect_code(2);
    env.run(&["profile", "remove", "shop"]).ok();
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(!text.contains("shop"), "{text}");
    assert!(text.contains("# keep me"), "{text}");
    env.run(&["profile", "remove", "sandbox"]).expect_code(2);
}

#[test]
fn profile_show_never_prints_the_token() {
    let env = Env::new();
    env.write_config("[profiles.live]\nvendor = \"rastro\"\ntoken = \"tok-SECRET-123\"\n");
    for format in ["json", "table", "csv", "ndjson"] {
        let run = env.run(&["profile", "show", "live", "-o", format]).ok();
        assert!(!run.stdout.contains("tok-SECRET-123") && !run.stderr.contains("tok-SECRET-123"));
        assert!(run.stdout.contains("token (config file)"), "{}", run.stdout);
    }
}

#[test]
fn a_config_file_readable_by_others_holding_a_token_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.write_config("[profiles.live]\nvendor = \"rastro\"\ntoken = \"t\"\n");
    let run = env.run(&["profile", "list"]).ok();
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    std::fs::set_permissions(env.config_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = env.run(&["profile", "list"]).ok();
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("chmod 600"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_or_unselected_profile_is_a_usage_error() {
    let env = Env::new();
    let run = env.run(&["-p", "nope", "catalogs", "list"]).expect_code(2);
    assert!(
        run.error_line().contains("profile 'nope' not found"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: profiles: sandbox"),
        "{}",
        run.stderr
    );

    let run = env.run(&["catalogs", "list"]).expect_code(2);
    assert!(
        run.error_line().contains("no profile selected"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_mistyped_config_key_is_a_usage_error_naming_the_file() {
    let env = Env::new();
    env.write_config("[profiles.live]\nvendor = \"rastro\"\ntoekn = \"x\"\n");
    let run = env.run(&["profile", "list"]).expect_code(2);
    let line = run.error_line();
    assert!(
        line.contains("config.toml") && line.contains("toekn"),
        "{line}"
    );
}

#[test]
fn token_precedence_is_catops_token_then_token_env_then_token_cmd_then_token() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    env.write_config(&format!(
        "[profiles.cmd]\nvendor = \"rastro\"\nbase_url = \"{url}\"\ntoken_cmd = \"echo sandbox-token\"\ntoken = \"wrong-inline\"\n\
         [profiles.envvar]\nvendor = \"rastro\"\nbase_url = \"{url}\"\ntoken_env = \"SHOP_KEY\"\ntoken_cmd = \"echo wrong-cmd\"\n",
        url = sandbox.rastro_url()
    ));
    // token_cmd beats token.
    env.run(&["-p", "cmd", "catalogs", "list"]).ok();
    // token_env beats token_cmd.
    env.run_with(&["-p", "envvar", "catalogs", "list"], |c| {
        c.env("SHOP_KEY", "sandbox-token");
    })
    .ok();
    // $CATOPS_TOKEN beats all of them.
    let run = env.run_with(&["-p", "envvar", "catalogs", "list"], |c| {
        c.env("SHOP_KEY", "sandbox-token")
            .env("CATOPS_TOKEN", "wrong-env");
    });
    run.expect_code(4);
    // An unset token_env falls through to token_cmd.
    env.run(&["-p", "envvar", "catalogs", "list"])
        .expect_code(4);
}

#[test]
fn catops_profile_env_selects_the_profile() {
    let env = Env::new();
    let shown = env
        .run_with(&["profile", "show", "-o", "json"], |c| {
            c.env("CATOPS_PROFILE", "sandbox-batch");
        })
        .ok()
        .json();
    assert_eq!(shown["name"], "sandbox-batch");
    assert_eq!(shown["vendor"], "batch");
}

#[test]
fn empty_catops_variables_count_as_unset() {
    let env = Env::new();
    env.run(&["profile", "use", "sandbox-batch"]).ok();
    let shown = env
        .run_with(&["profile", "show", "-o", "json"], |c| {
            for var in [
                "CATOPS_CONFIG",
                "CATOPS_PROFILE",
                "CATOPS_BASE_URL",
                "CATOPS_TOKEN",
            ] {
                c.env(var, "");
            }
        })
        .ok()
        .json();
    assert_eq!(
        shown["name"], "sandbox-batch",
        "the default profile, from the default config"
    );
    assert_eq!(shown["base_url"], "embedded");
}

#[test]
fn catops_base_url_is_a_per_run_override_and_never_saved() {
    let env = Env::new();
    env.run_with(&["profile", "add", "shop", "--vendor", "rastro"], |c| {
        c.env("CATOPS_BASE_URL", "http://127.0.0.1:1/ci-only");
    })
    .ok();
    let text = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(!text.contains("ci-only"), "{text}");
    let shown = env
        .run(&["profile", "show", "shop", "-o", "json"])
        .ok()
        .json();
    assert_eq!(shown["base_url"], "https://catalogapi.rastro.ai/api");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.config_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "a new config file is private");
    }
}

#[test]
fn profile_test_gives_a_verdict_and_the_exit_code_for_it() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    for profile in ["sandbox", "sandbox-clevertap", "sandbox-catalogian"] {
        let report = env
            .on(&sandbox, profile, &["profile", "test", "-o", "json"])
            .ok()
            .json();
        assert_eq!(report["authenticated"], true, "{profile}: {report}");
        assert_eq!(report["profile"], profile);
        assert!(
            report["config_file"]
                .as_str()
                .unwrap()
                .ends_with("config.toml"),
            "{report}"
        );
    }
    let refused = env.on_with(
        &sandbox,
        "sandbox",
        &["profile", "test", "-o", "json"],
        |c| {
            c.env("CATOPS_TOKEN", "not-the-token");
        },
    );
    let refused = refused.expect_code(4);
    assert_eq!(refused.json()["authenticated"], false);
    assert!(!refused.stdout.contains("not-the-token") && !refused.stderr.contains("not-the-token"));

    let started = std::time::Instant::now();
    let gone = env
        .run(&[
            "-p",
            "sandbox",
            "--base-url",
            "http://127.0.0.1:9",
            "profile",
            "test",
            "-o",
            "json",
        ])
        .expect_code(1);
    assert_eq!(gone.json()["reachable"], false);
    assert!(gone.stderr.contains("unreachable"), "{}", gone.stderr);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "no retries for a probe"
    );
}

#[test]
fn profile_show_names_the_config_file_and_a_missing_one_is_said_to_be() {
    let env = Env::new();
    let shown = env
        .run(&["profile", "show", "sandbox", "-o", "json"])
        .ok()
        .json();
    assert_eq!(shown["config_exists"], false);
    assert_eq!(
        shown["config_file"],
        env.config_path().display().to_string()
    );
    let missing = env
        .run(&[
            "--config",
            "/nowhere/catops.toml",
            "-p",
            "shop",
            "profile",
            "show",
        ])
        .expect_code(2);
    assert!(
        missing.error_line().contains("does not exist"),
        "{}",
        missing.stderr
    );
}
