//! The built-in sandbox as users run it: embedded in a command, and served with
//! `catops sandbox serve`. The emulation itself is tested in crates/sandbox.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Env, BIN};

#[test]
fn the_embedded_sandbox_needs_no_config_and_keeps_state_between_commands() {
    let env = Env::new();
    let item = env.embedded_json(&["items", "get", "--catalog", "cat_demo", "item_4"]);
    assert_eq!(item["sku"], "DEMO-0004");

    env.embedded_json(&[
        "items",
        "update",
        "--catalog",
        "cat_demo",
        "item_4",
        "--set",
        "title=Changed",
    ]);
    let item = env.embedded_json(&["items", "get", "--catalog", "cat_demo", "item_4"]);
    assert_eq!(
        item["title"], "Changed",
        "a second process sees the first one's change"
    );
    assert!(env
        .home
        .path()
        .join(".local/share/catops/sandbox.sqlite3")
        .exists());

    env.run(&["sandbox", "reset"]).ok();
    let item = env.embedded_json(&["items", "get", "--catalog", "cat_demo", "item_4"]);
    assert_eq!(item["title"], "Initech Trail Running Shoe");
}

#[test]
fn serve_lists_the_batch_and_catalogix_urls_and_the_rate_limit_setting() {
    for (setting, expected) in [("on", "rate limits on"), ("off", "rate limits off")] {
        let mut child = Command::new(BIN)
            .args(["sandbox", "serve", "--addr", "127.0.0.1:0"])
            .args(["--rate-limits", setting])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start catops sandbox serve");
        let mut ready = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut ready).expect("ready line");
        let root = ready
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let last = line.contains("stop with Ctrl-C");
            lines.push(line);
            if last {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let text = lines.concat();
        assert!(
            ready.starts_with("catops sandbox listening on http://"),
            "{ready}"
        );
        assert!(text.contains(&format!("{root}/batch/2.11")), "{text}");
        assert!(text.contains(&format!("{root}/catalogix/v1")), "{text}");
        assert!(text.contains(expected), "{text}");
    }
}

#[test]
fn serve_lists_the_clevertap_and_catalogian_urls_and_the_readonly_token() {
    let mut child = Command::new(BIN)
        .args(["sandbox", "serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start catops sandbox serve");
    let mut ready = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut ready).expect("ready line");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        text.push_str(&line);
        if line.contains("stop with Ctrl-C") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let root = ready.trim().rsplit(' ').next().unwrap_or_default();
    assert!(
        ready.starts_with("catops sandbox listening on http://"),
        "{ready}"
    );
    assert!(text.contains(&format!("{root}/clevertap\n")), "{text}");
    assert!(text.contains(&format!("{root}/catalogian\n")), "{text}");
    assert!(text.contains("sandbox-readonly"), "{text}");
    assert!(text.contains("cat_src_demo"), "{text}");
}
