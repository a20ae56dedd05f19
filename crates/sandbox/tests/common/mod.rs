//! Test harness: the emulator in this process on an ephemeral loopback port, spoken to over
//! raw HTTP/1.1 so the tests need no client of their own and see every header and byte.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;

use catops_sandbox::{RateLimits, Running, SandboxOptions, StateLocation};
use serde_json::Value;

pub const TOKEN: &str = catops_sandbox::SANDBOX_TOKEN;

/// The emulator serving on 127.0.0.1:0, stopped when dropped.
pub struct Sandbox {
    _running: Running,
    pub root: String,
}

impl Sandbox {
    /// In memory, rate limits on, no latency: `catops sandbox serve`'s defaults.
    pub fn start() -> Sandbox {
        Sandbox::start_with(SandboxOptions::in_memory())
    }

    pub fn without_rate_limits() -> Sandbox {
        Sandbox::start_with(SandboxOptions {
            rate_limits: RateLimits::Off,
            ..SandboxOptions::in_memory()
        })
    }

    /// State kept in the SQLite file `state`, as `--state` does.
    pub fn with_state(state: PathBuf) -> Sandbox {
        Sandbox::start_with(SandboxOptions {
            state: StateLocation::File(state),
            ..SandboxOptions::in_memory()
        })
    }

    pub fn start_with(options: SandboxOptions) -> Sandbox {
        let running = Running::start(options).expect("start the sandbox");
        let root = running.root.clone();
        Sandbox {
            _running: running,
            root,
        }
    }

    /// Loads `count` items into `catalog` through rastro's bulk endpoint, 1000 per request.
    pub fn seed_items(&self, catalog: &str, count: usize) {
        let mut start = 0;
        while start < count {
            let end = (start + 1000).min(count);
            let items: Vec<Value> = (start..end)
                .map(|n| {
                    serde_json::json!({
                        "sku": format!("SEED-{n:07}"),
                        "title": format!("Seeded product number {n}"),
                        "price": (n % 1000) as f64 + 0.99,
                    })
                })
                .collect();
            let body = serde_json::json!({ "items": items, "unique_field": "sku" });
            let (status, reply) = self.post(
                &format!("/rastro/api/public/catalogs/{catalog}/items/bulk"),
                &body,
            );
            assert_eq!(status, 200, "seeding failed: {reply}");
            start = end;
        }
    }

    /// POST with the sandbox token as a bearer; returns the status and the body.
    pub fn post(&self, path: &str, body: &Value) -> (u16, String) {
        self.post_as(TOKEN, path, body)
    }

    pub fn post_as(&self, token: &str, path: &str, body: &Value) -> (u16, String) {
        let bearer = format!("Bearer {token}");
        let (status, _, reply) =
            self.request("POST", path, &[("Authorization", &bearer)], Some(body));
        (status, reply)
    }

    /// A raw HTTP/1.1 request with exactly the given headers (no Authorization is added), for
    /// checking a vendor's headers and error bodies. Returns the status, the raw header block
    /// and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, String, String) {
        let body = body.map(Value::to_string);
        self.request_raw(method, path, headers, body.as_deref())
    }

    /// Like `request`, with the body as text, so malformed JSON can be sent.
    pub fn request_raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (u16, String, String) {
        let addr = self.root.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("connect to sandbox");
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or_default());
        stream.write_all(request.as_bytes()).expect("send request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        let (head, body) = response
            .split_once("\r\n\r\n")
            .unwrap_or((response.as_str(), ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_string(), body.to_string())
    }
}

impl Sandbox {
    /// GET a sandbox path (vendor or `/_sandbox`) as JSON, with the headers every vendor wants.
    pub fn inspect(&self, path: &str) -> Value {
        let bearer = format!("Bearer {TOKEN}");
        let (status, _, body) = self.request(
            "GET",
            path,
            &[("Authorization", &bearer), ("X-Batch-Project", "tests")],
            None,
        );
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|err| panic!("GET {path}: {err}: {body}"))
    }

    /// Item counts of the bulk requests the sandbox received, in order.
    pub fn bulk_sizes(&self, vendor: &str) -> Vec<u64> {
        self.inspect("/_sandbox/requests")
            .as_array()
            .expect("an array")
            .iter()
            .filter(|r| r["vendor"] == vendor)
            .map(|r| r["items"].as_u64().expect("a count"))
            .collect()
    }

    /// A request with exactly the given headers and an optional JSON body; the status and the
    /// reply as JSON (the test fails when the reply is not JSON).
    pub fn call_json(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (status, _, reply) = self.request(method, path, headers, body);
        let reply = serde_json::from_str(&reply)
            .unwrap_or_else(|err| panic!("{method} {path}: {status}, not JSON ({err}): {reply:?}"));
        (status, reply)
    }

    /// `call_json` with `Authorization: Bearer TOKEN`.
    pub fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let bearer = format!("Bearer {token}");
        self.call_json(method, path, &[("Authorization", &bearer)], body)
    }
}
