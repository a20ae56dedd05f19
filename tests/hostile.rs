//! A hostile world, end to end: servers on loopback that stall, repeat, echo the token or send
//! gigabytes; inputs that are edited between runs, shared, stalled or huge; signals at awkward
//! moments. Every case ends with its documented exit code, no panic, no token shown, and every
//! row accounted for.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::replay::{Replay, Reply};
use common::{product_csv, Env, Sandbox};
use serde_json::{json, Value};

fn spawn(env: &Env, url: &str, profile: &str, args: &[&str], stdin: Stdio) -> Child {
    env.command()
        .args(["-p", profile, "--base-url", url])
        .args(args)
        .args(["-o", "json"])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start catops")
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits for the child (at most `limit`), returning its exit code, stdout and stderr, and how
/// long it took.
fn finish(mut child: Child, limit: Duration) -> (i32, String, String, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stdout = String::new();
            let mut stderr = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (
                status.code().unwrap_or(-1),
                stdout,
                stderr,
                started.elapsed(),
            );
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("catops did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn accounted(summary: &Value) {
    let n = |key: &str| {
        summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {summary}"))
    };
    assert_eq!(
        n("accepted")
            + n("rejected")
            + n("failed")
            + n("unconfirmed")
            + n("not_sent")
            + n("skipped"),
        n("rows_read"),
        "every row read is in one count: {summary}"
    );
}

// ------------------------------------------------------------------ data loss

#[test]
fn rejects_or_journal_naming_the_input_is_refused_before_anything_is_written() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let csv = product_csv(50);
    env.write("p.csv", &csv);
    #[cfg(unix)]
    std::os::unix::fs::symlink(
        env.home.path().join("p.csv"),
        env.home.path().join("link.csv"),
    )
    .unwrap();
    let url = sandbox.rastro_url();
    for extra in [
        vec!["--rejects", "p.csv"],
        vec!["--rejects", "./p.csv"],
        vec!["--rejects", "link.csv"],
        vec!["--journal", "p.csv"],
        vec!["--rejects", "j", "--journal", "j"],
    ] {
        let mut args = vec!["bulk", "upsert", "p.csv", "--catalog", "cat_demo"];
        args.extend(extra.iter().copied());
        let run = env.at(&url, "sandbox", &args).expect_code(2);
        assert!(
            run.error_line().contains("are the same file"),
            "{extra:?}: {}",
            run.stderr
        );
        assert_eq!(env.read("p.csv"), csv, "{extra:?}: the input is untouched");
    }
    assert!(sandbox.bulk_sizes("rastro").is_empty(), "nothing was sent");
}

/// A server that takes longer over the first version of an item than over the second, as a
/// loaded service may: without waiting, the later row's request is applied first and the
/// earlier row wins.
#[test]
fn the_last_row_for_a_key_wins_whatever_order_requests_are_answered_in() {
    let env = Env::new();
    let mut csv = String::from("sku,title\n");
    for round in 0..6 {
        csv.push_str(&format!("K-1,v{round}\nOTHER-{round},x\n"));
    }
    env.write("dupes.csv", &csv);
    let stored: Arc<Mutex<Option<String>>> = Arc::default();
    let replay = Replay::start({
        let stored = stored.clone();
        move |request| {
            let body = request.json();
            for item in body["items"].as_array().unwrap() {
                if item["sku"] == "K-1" {
                    let title = item["title"].as_str().unwrap().to_string();
                    // v0 is answered last, v5 first.
                    let round: u64 = title[1..].parse().unwrap();
                    std::thread::sleep(Duration::from_millis(30 * (6 - round)));
                    *stored.lock().unwrap() = Some(title);
                }
            }
            Reply::fixture(200, "rastro", "bulk-reply-excerpt.json")
        }
    });
    let run = env
        .at(
            &replay.url,
            "sandbox",
            &[
                "bulk",
                "upsert",
                "dupes.csv",
                "--catalog",
                "c",
                "--batch-size",
                "1",
                "--concurrency",
                "8",
                "-v",
            ],
        )
        .ok();
    assert_eq!(
        stored.lock().unwrap().as_deref(),
        Some("v5"),
        "the last row wins"
    );
    let summary = run.json();
    assert_eq!(summary["duplicates"], 5, "{summary}");
    assert!(
        run.stderr
            .contains("key K-1 is in a request not answered yet"),
        "{}",
        run.stderr
    );
    accounted(&summary);
}

#[test]
fn a_resume_refuses_an_edited_input_and_takes_an_appended_one() {
    let env = Env::new();
    env.write("p.csv", &product_csv(5000));
    // Accepts two requests, then refuses the token: the run stops with 2000 rows journaled.
    let answered = Arc::new(AtomicUsize::new(0));
    let broken = Arc::new(AtomicBool::new(true));
    let replay = Replay::start({
        let (answered, broken) = (answered.clone(), broken.clone());
        move |_| {
            if broken.load(Ordering::Relaxed) && answered.fetch_add(1, Ordering::Relaxed) >= 2 {
                return Reply::json(401, &json!({"detail": "token expired"}));
            }
            Reply::fixture(200, "rastro", "bulk-reply-excerpt.json")
        }
    });
    let args = [
        "bulk",
        "upsert",
        "p.csv",
        "--catalog",
        "c",
        "--journal",
        "p.journal",
        "--concurrency",
        "1",
    ];
    let first = env.at(&replay.url, "sandbox", &args).expect_code(4);
    assert_eq!(first.json()["accepted"], 2000, "{}", first.stdout);
    broken.store(false, Ordering::Relaxed);

    // 100 rows put in front: row numbers now point at other rows.
    let original = env.read("p.csv");
    let (header, rows) = original.split_once('\n').unwrap();
    let mut edited = format!("{header}\n");
    for n in 0..100 {
        edited.push_str(&format!("NEW-{n},New {n},1.00,Brand 0\n"));
    }
    edited.push_str(rows);
    env.write("p.csv", &edited);
    let mut resume = args.to_vec();
    resume.push("--resume");
    let before = replay.received().len();
    let refused = env.at(&replay.url, "sandbox", &resume).expect_code(2);
    assert!(
        refused
            .error_line()
            .contains("is not the input the journal was written for"),
        "{}",
        refused.stderr
    );
    assert_eq!(replay.received().len(), before, "nothing was sent");

    // Rows appended after the part the journal covers resume fine.
    env.write("p.csv", &format!("{original}EXTRA-1,Extra,2.00,Brand 1\n"));
    let resumed = env.at(&replay.url, "sandbox", &resume).ok();
    let summary = resumed.json();
    assert_eq!(summary["skipped"], 2000, "{summary}");
    assert_eq!(summary["accepted"], 3001, "{summary}");

    // stdin cannot be checked up front: it is checked as it is read.
    let mut child = spawn(
        &env,
        &replay.url,
        "sandbox",
        &[
            "bulk",
            "upsert",
            "-",
            "--catalog",
            "c",
            "--journal",
            "p.journal",
            "--resume",
        ],
        Stdio::piped(),
    );
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(edited.as_bytes()).unwrap();
    drop(stdin);
    let (code, _, stderr, _) = finish(child, Duration::from_secs(20));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("stdin is not the input the journal was written for"),
        "{stderr}"
    );
}

#[test]
fn two_runs_cannot_share_a_journal() {
    let env = Env::new();
    env.write("p.csv", &product_csv(3000));
    let replay = Replay::start(|_| {
        std::thread::sleep(Duration::from_millis(400));
        Reply::fixture(200, "rastro", "bulk-reply-excerpt.json")
    });
    let args = [
        "bulk",
        "upsert",
        "p.csv",
        "--catalog",
        "c",
        "--journal",
        "shared.journal",
        "--concurrency",
        "1",
    ];
    let first = spawn(&env, &replay.url, "sandbox", &args, Stdio::null());
    let deadline = Instant::now() + Duration::from_secs(10);
    while replay.received().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut resume = args.to_vec();
    resume.push("--resume");
    let second = env.at(&replay.url, "sandbox", &resume).expect_code(2);
    let error = second.error_line();
    assert!(error.contains("is in use by process"), "{error}");
    assert!(
        error.contains(&first.id().to_string()),
        "names the other process: {error}"
    );
    let (code, _, stderr, _) = finish(first, Duration::from_secs(30));
    assert_eq!(code, 0, "{stderr}");
}

// ------------------------------------------------------------------ secrets

#[test]
fn catops_api_masks_an_echoed_token_on_stdout_and_secret_parameters_in_logs() {
    let env = Env::new();
    let token = "sk_live/AbC+123/xyz=";
    let replay = Replay::always(Reply::new(
        200,
        "application/json",
        format!(
            r#"{{"you_sent":"{}","again":"{token}"}}"#,
            token.replace('/', "\\/")
        ),
    ));
    let run = env.run_with(
        &[
            "-p",
            "sandbox",
            "--base-url",
            &replay.url,
            "-v",
            "api",
            "/echo?api_key=k3y&limit=2",
        ],
        |cmd| {
            cmd.env("CATOPS_TOKEN", token);
        },
    );
    let run = run.ok();
    assert!(!run.stdout.contains("AbC"), "{}", run.stdout);
    assert_eq!(run.stdout.trim(), r#"{"you_sent":"***","again":"***"}"#);
    assert!(run.stderr.contains("api_key=***&limit=2"), "{}", run.stderr);
    assert!(!run.stderr.contains("k3y"), "{}", run.stderr);
}

// ------------------------------------------------------------------ hangs and memory

/// A 64 MiB cell, fed through a pipe in 4 KiB pieces: read past in linear time, its row
/// rejected with its line, the rows after it sent.
#[test]
fn a_huge_csv_cell_from_a_pipe_is_rejected_quickly_and_the_rest_goes_on() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let url = sandbox.rastro_url();
    let mut child = spawn(
        &env,
        &url,
        "sandbox",
        &[
            "bulk",
            "upsert",
            "-",
            "--catalog",
            "cat_demo",
            "--rejects",
            "r.ndjson",
        ],
        Stdio::piped(),
    );
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(b"sku,title\nOK-1,first\nHUGE-1,").unwrap();
        let piece = vec![b'x'; 4096];
        for _ in 0..(64 << 20) / 4096 {
            stdin.write_all(&piece).unwrap();
        }
        stdin.write_all(b"\nOK-2,after\n").unwrap();
    });
    let (code, stdout, stderr, took) = finish(child, Duration::from_secs(60));
    writer.join().unwrap();
    assert_eq!(code, 3, "{stderr}");
    assert!(took < Duration::from_secs(30), "{took:?}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&summary["accepted"], &summary["rejected"]),
        (&json!(2), &json!(1))
    );
    let rejected: Value = serde_json::from_str(env.read("r.ndjson").trim()).unwrap();
    assert_eq!(
        (&rejected["row"], &rejected["line"]),
        (&json!(2), &json!(3))
    );
    assert!(rejected["error"]
        .as_str()
        .unwrap()
        .contains("over the 8 MiB a row may hold"));
}

#[test]
fn sigterm_is_prompt_with_a_stalled_producer_and_an_unread_header() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let url = sandbox.rastro_url();
    for (name, preamble) in [
        ("unread header", &b""[..]),
        ("stalled producer", &b"sku,title\nA-1,one\nA-2,two\n"[..]),
    ] {
        for sig in ["-TERM", "-HUP", "-INT"] {
            let mut child = spawn(
                &env,
                &url,
                "sandbox",
                &[
                    "bulk",
                    "upsert",
                    "-",
                    "--catalog",
                    "cat_demo",
                    "--journal",
                    "s.journal",
                ],
                Stdio::piped(),
            );
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(preamble).unwrap();
            stdin.flush().unwrap();
            std::thread::sleep(Duration::from_millis(500));
            signal(&child, sig);
            let (code, stdout, stderr, took) = finish(child, Duration::from_secs(20));
            drop(stdin);
            assert_eq!(code, 130, "{name} {sig}: {stderr}");
            assert!(took < Duration::from_secs(3), "{name} {sig}: {took:?}");
            if !preamble.is_empty() {
                let summary: Value = serde_json::from_str(&stdout).unwrap();
                accounted(&summary);
                assert!(
                    stderr.contains("hint: resume with:"),
                    "{name} {sig}: {stderr}"
                );
            }
            let _ = std::fs::remove_file(env.home.path().join("s.journal"));
        }
    }
}

#[test]
fn a_long_retry_after_does_not_delay_the_exit() {
    let env = Env::new();
    env.write("p.csv", &product_csv(10));
    let replay = Replay::always(
        Reply::json(429, &json!({"detail": "slow down"})).header("Retry-After", "120"),
    );
    let child = spawn(
        &env,
        &replay.url,
        "sandbox",
        &[
            "bulk",
            "upsert",
            "p.csv",
            "--catalog",
            "c",
            "--journal",
            "r.journal",
            "-q",
        ],
        Stdio::null(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while replay.received().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "-TERM");
    let (code, stdout, stderr, took) = finish(child, Duration::from_secs(30));
    assert_eq!(code, 130, "{stderr}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["unconfirmed"], 10, "{summary}");
    accounted(&summary);
    assert!(
        stderr.contains("hint: resume with:"),
        "printed even with -q: {stderr}"
    );
}

/// Requests in flight get the grace period (here --timeout 2 s), then count as unconfirmed;
/// a second signal does not wait at all.
#[test]
fn requests_in_flight_get_a_grace_period_and_a_second_signal_quits_at_once() {
    let env = Env::new();
    env.write("p.csv", &product_csv(3000));
    let replay = Replay::start(|_| {
        std::thread::sleep(Duration::from_secs(30));
        Reply::fixture(200, "rastro", "bulk-reply-excerpt.json")
    });
    let args = [
        "bulk",
        "upsert",
        "p.csv",
        "--catalog",
        "c",
        "--timeout",
        "2",
        "--max-retries",
        "0",
    ];
    // The replay server records a request when it answers, so wait for them by time.
    let child = spawn(&env, &replay.url, "sandbox", &args, Stdio::null());
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, "-INT");
    let (code, stdout, stderr, took) = finish(child, Duration::from_secs(30));
    assert_eq!(code, 130, "{stderr}");
    assert!(
        took < Duration::from_secs(4),
        "at most the grace period: {took:?}"
    );
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    accounted(&summary);

    let child = spawn(
        &env,
        &replay.url,
        "sandbox",
        &["bulk", "upsert", "p.csv", "--catalog", "c"],
        Stdio::null(),
    );
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, "-INT");
    let (code, _, stderr, took) = finish(child, Duration::from_secs(30));
    assert_eq!(code, 130, "{stderr}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(
        stderr.contains("interrupted again: quitting now"),
        "{stderr}"
    );
}

#[test]
fn a_hanging_token_cmd_is_stopped_with_its_children() {
    let env = Env::new();
    let marker = format!("{}", 4000 + std::process::id() % 1000);
    env.write_config(&format!(
        "[profiles.slow]\nvendor = \"rastro\"\nbase_url = \"http://127.0.0.1:9/api\"\ntoken_cmd = \"sleep {marker}.5 & sleep {marker}.5; echo t\"\n"
    ));
    let started = Instant::now();
    let run = env
        .run(&["-p", "slow", "--timeout", "1", "catalogs", "list"])
        .expect_code(2);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        run.error_line()
            .contains("token_cmd printed no token within 1 s"),
        "{}",
        run.stderr
    );
    std::thread::sleep(Duration::from_millis(200));
    let left = std::process::Command::new("pgrep")
        .args(["-f", &format!("sleep {marker}.5")])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "token_cmd's children were left running: {left}"
    );
}

#[test]
fn a_reply_of_gigabytes_is_refused_unless_streamed() {
    let env = Env::new();
    // 100 MiB of a JSON listing that never ends.
    let body: Arc<Vec<u8>> = Arc::new({
        let mut body = b"{\"items\":[".to_vec();
        let item = br#"{"id":"x","title":"padding padding padding padding padding"},"#;
        while body.len() < 100 << 20 {
            body.extend_from_slice(item);
        }
        body
    });
    let replay = Replay::start({
        let body = body.clone();
        move |_| Reply::new(200, "application/json", body.as_slice().to_vec())
    });
    let run = env
        .at(&replay.url, "sandbox", &["items", "list", "--catalog", "c"])
        .expect_code(1);
    assert!(
        run.error_line().contains("the reply is over 64 MiB"),
        "{}",
        run.stderr
    );
    let streamed = env
        .command()
        .args(["-p", "sandbox", "--base-url", &replay.url, "api", "/big"])
        .output()
        .unwrap();
    assert_eq!(streamed.status.code(), Some(0));
    assert_eq!(
        streamed.stdout.len(),
        body.len() + 1,
        "the whole body and a line break"
    );
}

// ------------------------------------------------------------------ smaller

#[test]
fn a_full_or_unusable_rejects_file_stops_the_run_with_the_summary() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let url = sandbox.rastro_url();
    env.write("p.csv", "sku,price:number\nOK-1,1\nBAD-1,cheap\nOK-2,2\n");
    // A disk that is full: the rejects line cannot be written, so the run stops there.
    let run = env
        .at(
            &url,
            "sandbox",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "cat_demo",
                "--rejects",
                "/dev/full",
                "--journal",
                "j",
            ],
        )
        .expect_code(1);
    let error = run.error_line();
    assert!(
        error.contains("cannot write the rejects file /dev/full"),
        "{error}"
    );
    accounted(&run.json());
    assert!(
        std::path::Path::new("/dev/full").exists(),
        "a device is never removed"
    );
    // A directory is refused before anything is sent.
    std::fs::create_dir(env.home.path().join("a-directory")).unwrap();
    let run = env
        .at(
            &url,
            "sandbox",
            &[
                "bulk",
                "upsert",
                "p.csv",
                "--catalog",
                "cat_demo",
                "--rejects",
                "a-directory",
            ],
        )
        .expect_code(2);
    assert!(run.error_line().contains("a-directory"), "{}", run.stderr);
}

#[test]
fn bad_numbers_in_a_profile_are_errors_like_the_flags() {
    let env = Env::new();
    for (key, value) in [
        ("concurrency", "0"),
        ("concurrency", "65"),
        ("rate_limit_rps", "-1.0"),
        ("rate_limit_items", "nan"),
    ] {
        env.write_config(&format!(
            "[profiles.p]\nvendor = \"rastro\"\nbase_url = \"embedded\"\ntoken = \"sandbox-token\"\n{key} = {value}\n"
        ));
        let run = env.run(&["-p", "p", "catalogs", "list"]).expect_code(2);
        assert!(
            run.error_line().contains(&format!("{key} = ")),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn undecodable_rows_keep_their_bytes_and_utf16_input_is_named() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let mut csv = b"sku,title\nOK-1,fine\nBAD-1,caf\xe9 latin-1\n".to_vec();
    csv.extend_from_slice(b"OK-2,fine\n");
    std::fs::write(env.home.path().join("latin.csv"), &csv).unwrap();
    let url = sandbox.rastro_url();
    env.at(
        &url,
        "sandbox",
        &["bulk", "upsert", "latin.csv", "--catalog", "cat_demo"],
    )
    .expect_code(3);
    let rejected: Value = serde_json::from_str(env.read("latin.rejects.ndjson").trim()).unwrap();
    use base64::Engine as _;
    let raw = base64::prelude::BASE64_STANDARD
        .decode(rejected["raw_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(raw, b"BAD-1,caf\xe9 latin-1");

    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("sku,title\nA,b\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(env.home.path().join("wide.csv"), utf16).unwrap();
    let run = env
        .at(
            &url,
            "sandbox",
            &["bulk", "upsert", "wide.csv", "--catalog", "cat_demo"],
        )
        .expect_code(2);
    assert!(run.error_line().contains("UTF-16"), "{}", run.stderr);
}

#[test]
fn catops_api_stays_below_the_base_path() {
    let env = Env::new();
    let replay = Replay::always(Reply::json(200, &json!({})));
    for path in ["/../../x", "/%2e%2e/%2e%2e/x"] {
        let run = env
            .run(&["-p", "sandbox", "--base-url", &replay.url, "api", path])
            .expect_code(2);
        assert!(run.error_line().contains("climbs above"), "{}", run.stderr);
    }
    assert!(replay.received().is_empty());
}
