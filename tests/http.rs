//! The HTTP core as users meet it: retries, Retry-After, timeouts, refused plain HTTP, and
//! `catops api`'s raw authenticated requests.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use common::replay::{Replay, Reply};
use common::{Env, Sandbox};
use serde_json::json;

#[test]
fn server_errors_and_429s_are_retried_until_the_request_succeeds() {
    let sandbox = Sandbox::start_with(&["--faults", "503=0.3,429=0.1,seed=11"]);
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
                "2",
                "-o",
                "json",
                "-v",
                "--max-retries",
                "10",
            ],
        )
        .ok();
    assert_eq!(run.json().as_array().unwrap().len(), 25);
    assert!(run.stderr.contains(" 503 "), "{}", run.stderr);
    assert!(run.stderr.contains("retrying in"), "{}", run.stderr);
}

#[test]
fn retry_after_is_honoured() {
    let sandbox = Sandbox::start_with(&["--faults", "429=1.0"]);
    let env = Env::new();
    let started = Instant::now();
    let run = env
        .rastro(&sandbox, &["catalogs", "list", "--max-retries", "1", "-v"])
        .expect_code(1);
    // The sandbox sends Retry-After: 1, so the one retry waited at least a second.
    assert!(started.elapsed() >= Duration::from_secs(1));
    let waited: Vec<u64> = run
        .stderr
        .lines()
        .filter_map(|l| {
            l.split("retrying in ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(waited.len(), 1, "{}", run.stderr);
    assert!(waited[0] >= 1000, "{}", run.stderr);
    assert!(
        run.error_line().contains("429 Too Many Requests"),
        "{}",
        run.stderr
    );
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A replay of two catalogian pages (events and rows alike) whose first reply says the
/// window is used up until `reset`; it notes when each request arrived.
fn used_up_window(reset: u64) -> (Replay, std::sync::Arc<std::sync::Mutex<Vec<f64>>>) {
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let noted = arrivals.clone();
    let replay = Replay::start(move |request| {
        noted.lock().unwrap().push(unix_now());
        let first = request.param("cursor").is_none();
        let record = json!({"id": if first { "evt_1" } else { "evt_2" }, "detectedAt": "2026-03-08T20:00:00.000Z"});
        let page = json!({
            "sourceId": "s",
            "count": 1,
            "hasMore": first,
            "nextCursor": if first { json!("c2") } else { json!(null) },
            "events": [record],
            "rows": [record],
        });
        Reply::json(200, &page)
            .header("X-RateLimit-Limit", "600")
            .header("X-RateLimit-Remaining", if first { "0" } else { "599" })
            .header("X-RateLimit-Reset", &reset.to_string())
    });
    (replay, arrivals)
}

/// catalogian.com/docs/rate-limits: every reply carries X-RateLimit-Remaining and -Reset. A
/// reply that says nothing is left holds the next request back until the reset, so the
/// server never has to answer 429; `-v` says why the run paused. Events and snapshot rows
/// page through the same HTTP core.
#[test]
fn a_used_up_rate_limit_window_holds_the_next_request_until_its_reset() {
    for command in ["list", "snapshot-rows"] {
        let reset = unix_now().floor() as u64 + 2;
        let (replay, arrivals) = used_up_window(reset);
        let env = Env::new();
        let run = env
            .at(
                &replay.url,
                "sandbox-catalogian",
                &["delta", command, "s", "--all", "-v"],
            )
            .ok();
        assert_eq!(run.json().as_array().unwrap().len(), 2, "{}", run.stdout);
        let arrivals = arrivals.lock().unwrap().clone();
        assert_eq!(arrivals.len(), 2, "no 429, no retry: {}", run.stderr);
        assert!(
            arrivals[1] >= reset as f64,
            "{command}: the second page was asked for {:.2} s before the reset",
            reset as f64 - arrivals[1]
        );
        assert!(
            run.stderr.contains(&format!(
                "X-RateLimit-Remaining is 0 until X-RateLimit-Reset {reset}; waiting"
            )),
            "{}",
            run.stderr
        );
    }
}

/// A long wait for a reset is cut short by Ctrl-C, like a long Retry-After.
#[test]
fn ctrl_c_ends_a_wait_for_the_rate_limit_reset() {
    let reset = unix_now().floor() as u64 + 120;
    let (replay, arrivals) = used_up_window(reset);
    let env = Env::new();
    let child = env
        .command()
        .args(["-p", "sandbox-catalogian", "--base-url", &replay.url])
        .args(["delta", "list", "s", "--all", "-o", "json", "-v"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while arrivals.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "{stderr}");
    assert!(stderr.contains("X-RateLimit-Remaining is 0"), "{stderr}");
    assert_eq!(
        arrivals.lock().unwrap().len(),
        1,
        "the held request never went"
    );
}

#[test]
fn replies_with_requests_left_are_not_held_back() {
    let reset = unix_now().floor() as u64 + 30;
    let replay = Replay::always(
        Reply::json(
            200,
            &json!({"hasMore": false, "nextCursor": null, "events": []}),
        )
        .header("X-RateLimit-Remaining", "5")
        .header("X-RateLimit-Reset", &reset.to_string()),
    );
    let env = Env::new();
    let started = Instant::now();
    for _ in 0..3 {
        env.at(
            &replay.url,
            "sandbox-catalogian",
            &["delta", "list", "s", "-v"],
        )
        .ok();
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(replay.received().len(), 3);
}

#[test]
fn retries_give_up_after_max_retries() {
    let sandbox = Sandbox::start_with(&["--faults", "500=1.0"]);
    let env = Env::new();
    let run = env
        .rastro(
            &sandbox,
            &[
                "items",
                "get",
                "--catalog",
                "cat_demo",
                "item_1",
                "--max-retries",
                "2",
                "-v",
            ],
        )
        .expect_code(1);
    assert_eq!(
        run.stderr.matches("retrying in").count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.error_line()
            .contains("500 Internal Server Error: injected fault"),
        "{}",
        run.stderr
    );
}

#[test]
fn dropped_connections_are_retried() {
    let sandbox = Sandbox::start_with(&["--faults", "reset=0.5,seed=5"]);
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
                "5",
                "-o",
                "ndjson",
                "-v",
                "--max-retries",
                "10",
            ],
        )
        .ok();
    assert_eq!(run.ndjson().len(), 25);
    assert!(run.stderr.contains("retrying in"), "{}", run.stderr);
}

#[test]
fn a_creation_is_not_repeated_after_a_server_error() {
    let sandbox = Sandbox::start_with(&["--faults", "500=1.0"]);
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
                "sku",
                "-v",
            ],
        )
        .expect_code(1);
    assert!(!run.stderr.contains("retrying"), "{}", run.stderr);
}

#[test]
fn a_hanging_server_hits_the_timeout() {
    let sandbox = Sandbox::start_with(&["--latency-ms", "3000"]);
    let env = Env::new();
    let started = Instant::now();
    let run = env
        .rastro(
            &sandbox,
            &["catalogs", "list", "--timeout", "0.3", "--max-retries", "0"],
        )
        .expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        run.error_line().contains("no response within 0.3 s"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let env = Env::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base = format!("http://127.0.0.1:{port}/rastro/api");
    let run = env
        .run(&[
            "-p",
            "sandbox",
            "--base-url",
            &base,
            "catalogs",
            "list",
            "--max-retries",
            "1",
        ])
        .expect_code(1);
    assert!(
        run.error_line()
            .contains("rastro: GET /public/catalogs: cannot connect"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: check the base URL"),
        "{}",
        run.stderr
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let env = Env::new();
    let run = env
        .run(&[
            "-p",
            "sandbox",
            "--base-url",
            "http://catalog.example.com/api",
            "catalogs",
            "list",
        ])
        .expect_code(2);
    assert!(
        run.error_line().contains("refusing plain-HTTP base URL"),
        "{}",
        run.stderr
    );
}

#[test]
fn api_sends_raw_authenticated_requests_and_exits_by_status() {
    let sandbox = Sandbox::start();
    let env = Env::new();
    let body = env
        .on(&sandbox, "sandbox", &["api", "/public/catalogs"])
        .ok()
        .json();
    assert_eq!(body["catalogs"][0]["id"], "cat_demo");

    let created = env
        .on(
            &sandbox,
            "sandbox",
            &["api", "-X", "POST", "/public/catalogs", "-d",
              r#"{"name":"Raw","unique_id_field":"sku","schema_definition":{"fields":[{"name":"sku","type":"string"}]}}"#],
        )
        .ok()
        .json();
    assert_eq!(created["name"], "Raw");

    let run = env
        .on(
            &sandbox,
            "sandbox",
            &["api", "/public/catalogs/nope/items?limit=5"],
        )
        .expect_code(5);
    assert!(
        run.json()["detail"].as_str().unwrap().contains("nope"),
        "the body is on stdout"
    );
    assert!(run.error_line().contains("404"), "{}", run.stderr);

    env.write(
        "edit.json",
        r#"{"name":"demo","items":[{"action":"add","id":"raw-1","attributes":{"title":"Raw"}}]}"#,
    );
    let reply = env
        .on(
            &sandbox,
            "sandbox-batch",
            &[
                "api",
                "-X",
                "POST",
                "/catalogs/items/edit",
                "-d",
                "@edit.json",
            ],
        )
        .ok()
        .json();
    assert!(reply["indexing_token"].is_string(), "{reply}");

    env.on(&sandbox, "sandbox", &["api", "public/catalogs"])
        .expect_code(2);
    env.on(
        &sandbox,
        "sandbox",
        &["api", "-d", "{not json", "/public/catalogs"],
    )
    .expect_code(2);
}

/// A loopback HTTPS server whose certificate a private CA issued (as a corporate proxy's is):
/// every request gets `{"tls":"ok"}`. Returns its port and the CA's PEM.
fn https_server_of_a_private_ca() -> (u16, String) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::io::{Read, Write};
    use std::sync::Arc;

    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "catops test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, stream);
            // A client that refuses the certificate ends the handshake here: next one.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match tls.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            if head.ends_with(b"\r\n\r\n") {
                let body = r#"{"tls":"ok"}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        }
    });
    (port, ca.pem())
}

#[test]
fn ssl_cert_file_and_dir_add_a_private_ca_to_the_trusted_ones() {
    let (port, ca_pem) = https_server_of_a_private_ca();
    let env = Env::new();
    let ca_file = env.write("corporate-ca.pem", &ca_pem);
    let url = format!("https://127.0.0.1:{port}/rastro/api");
    let api = |setup: &dyn Fn(&mut std::process::Command)| {
        env.run_with(
            &[
                "-p",
                "sandbox",
                "--base-url",
                &url,
                "api",
                "/public/catalogs",
                "--max-retries",
                "0",
            ],
            |cmd| {
                cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
                setup(cmd);
            },
        )
    };
    // Not in the system's store: refused.
    let refused = api(&|_| {}).expect_code(1);
    assert!(
        refused.error_line().to_lowercase().contains("certificate"),
        "{}",
        refused.stderr
    );
    assert!(refused
        .stderr
        .contains("hint: the server's certificate is not trusted"));
    let trusted = api(&|cmd| {
        cmd.env("SSL_CERT_FILE", &ca_file);
    })
    .ok();
    assert_eq!(trusted.json(), json!({"tls": "ok"}));
    let dir = env.home.path().join("certs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("corporate.pem"), &ca_pem).unwrap();
    let from_dir = api(&|cmd| {
        cmd.env("SSL_CERT_DIR", &dir);
    })
    .ok();
    assert_eq!(from_dir.json(), json!({"tls": "ok"}));
    // A variable naming a file that is not there is said plainly, before any request.
    let missing = api(&|cmd| {
        cmd.env("SSL_CERT_FILE", "/no/such/ca.pem");
    })
    .expect_code(2);
    assert!(
        missing
            .error_line()
            .contains("SSL_CERT_FILE=/no/such/ca.pem"),
        "{}",
        missing.stderr
    );
}
