//! Test harness: the real `catops` binary, a real sandbox on an ephemeral loopback port, and
//! an isolated HOME so no test sees the developer's config or another test's state.
//!
//! Each file in `tests/` is one concern a user relies on, named for it: `bulk` (imports),
//! `sync` (`bulk sync`: only what changed is sent, guarded deletions, the state),
//! `clevertap_products` (its products import, limited by bytes), `bad_input`,
//! `catalogs_and_items`, `assets_and_products` (catalogix), `enrichment_and_delta`, `profiles`,
//! `http` (retries,
//! timeouts, `catops api` basics), `api` (`catops api`'s fields, headers, output and
//! `--paginate` over each vendor's pages), `sandbox` (the built-in emulator as run from the CLI), `shell`
//! (completions, man pages, help, jq), `contract` (replies as the vendors document them),
//! `hostile` (servers and inputs that misbehave), `reliability` (faults and crashes lose
//! nothing), `readme` (its examples run), `output` (columns, CSV headers, tables, the pager). The emulator's own tests live in crates/sandbox.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command as StdCommand, Stdio};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_catops");
pub const TOKEN: &str = "sandbox-token";

/// `catops sandbox serve` on 127.0.0.1:0, killed when dropped.
pub struct Sandbox {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub root: String,
}

impl Sandbox {
    pub fn start() -> Sandbox {
        Sandbox::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Sandbox {
        let mut child = StdCommand::new(BIN)
            .args(["sandbox", "serve", "--addr", "127.0.0.1:0", "--quiet"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start catops sandbox serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("sandbox stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the ready line");
        let root = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|url| url.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("unexpected ready line: {line:?}"))
            .to_string();
        Sandbox {
            child,
            _stdout: stdout,
            root,
        }
    }

    pub fn rastro_url(&self) -> String {
        format!("{}/rastro/api", self.root)
    }

    /// Loads `count` items into `catalog` through the bulk endpoint, 1000 per request.
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

    pub fn post(&self, path: &str, body: &Value) -> (u16, String) {
        self.post_as(TOKEN, path, body)
    }

    /// A minimal HTTP/1.1 POST, so seeding needs no client of its own.
    pub fn post_as(&self, token: &str, path: &str, body: &Value) -> (u16, String) {
        let addr = self.root.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("connect to sandbox");
        let body = body.to_string();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read response");
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let reply = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default();
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

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An isolated home: its own config and data dirs, and no CATOPS_* from the outside.
pub struct Env {
    pub home: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            home: tempfile::tempdir().expect("temp home"),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.home.path().join(".config/catops/config.toml")
    }

    pub fn write_config(&self, text: &str) {
        let path = self.config_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    pub fn command(&self) -> StdCommand {
        self.command_of(BIN)
    }

    /// `program` (catops, or a tool that runs it) in this home, without CATOPS_* settings.
    pub fn command_of(&self, program: &str) -> StdCommand {
        let mut cmd = StdCommand::new(program);
        for (key, _) in std::env::vars() {
            if key.starts_with("CATOPS_") || key == "NO_COLOR" {
                cmd.env_remove(key);
            }
        }
        cmd.env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join(".config"))
            .env("XDG_DATA_HOME", self.home.path().join(".local/share"))
            .current_dir(self.home.path());
        cmd
    }

    /// Runs `catops ARGS` and captures everything.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, |_| {})
    }

    pub fn run_with(&self, args: &[&str], setup: impl FnOnce(&mut StdCommand)) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        setup(&mut cmd);
        let output = assert_cmd::Command::from_std(cmd)
            .output()
            .expect("run catops");
        Run {
            args: args.iter().map(|a| a.to_string()).collect(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `catops ARGS` against a served sandbox's rastro API.
    pub fn rastro(&self, sandbox: &Sandbox, args: &[&str]) -> Run {
        let base = sandbox.rastro_url();
        let mut full = vec!["-p", "sandbox", "--base-url", &base];
        full.extend_from_slice(args);
        self.run(&full)
    }
}

impl Env {
    /// `catops ... -o json` against a served sandbox's rastro API; must succeed.
    pub fn rastro_json(&self, sandbox: &Sandbox, args: &[&str]) -> Value {
        let mut full = args.to_vec();
        full.extend(["-o", "json"]);
        self.rastro(sandbox, &full).ok().json()
    }

    /// `catops -p sandbox ... -o json` on the embedded sandbox; must succeed.
    pub fn embedded_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["-p", "sandbox"];
        full.extend_from_slice(args);
        full.extend(["-o", "json"]);
        self.run(&full).ok().json()
    }
}

pub struct Run {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn describe(&self) -> String {
        format!(
            "catops {}\nexit: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }

    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code\n{}", self.describe());
        self
    }

    pub fn ok(self) -> Run {
        self.expect_code(0)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("stdout is not JSON ({err})\n{}", self.describe()))
    }

    pub fn ndjson(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("bad NDJSON line ({err})\n{}", self.describe()))
            })
            .collect()
    }

    /// The `error:` line on stderr. SPEC §6: exactly one, followed only by `hint:` lines.
    pub fn error_line(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        let errors: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].starts_with("error:"))
            .collect();
        assert_eq!(
            errors.len(),
            1,
            "expected one error line\n{}",
            self.describe()
        );
        assert!(
            lines[errors[0] + 1..]
                .iter()
                .all(|l| l.starts_with("hint: ")),
            "only hints may follow the error line\n{}",
            self.describe()
        );
        lines[errors[0]].to_string()
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
            .unwrap()
            .iter()
            .filter(|r| r["vendor"] == vendor)
            .map(|r| r["items"].as_u64().unwrap())
            .collect()
    }
}

impl Env {
    /// `catops -p PROFILE --base-url ...` against a served sandbox, for any built-in profile.
    pub fn on(&self, sandbox: &Sandbox, profile: &str, args: &[&str]) -> Run {
        self.on_with(sandbox, profile, args, |_| {})
    }

    pub fn on_with(
        &self,
        sandbox: &Sandbox,
        profile: &str,
        args: &[&str],
        setup: impl FnOnce(&mut StdCommand),
    ) -> Run {
        let prefix = match profile {
            "sandbox-batch" => "/batch/2.11",
            "sandbox-catalogix" => "/catalogix/v1",
            "sandbox-clevertap" => "/clevertap",
            "sandbox-catalogian" => "/catalogian",
            _ => "/rastro/api",
        };
        let base = format!("{}{prefix}", sandbox.root);
        let mut full = vec!["-p", profile, "--base-url", &base];
        full.extend_from_slice(args);
        self.run_with(&full, setup)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.home.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The rejects file `name`'s lines as JSON, in row order.
    pub fn rejects(&self, name: &str) -> Vec<Value> {
        let mut lines: Vec<Value> = self
            .read(name)
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|err| panic!("{name}: {err}: {line}"))
            })
            .collect();
        lines.sort_by_key(|line| line["row"].as_u64());
        lines
    }

    /// Every item of the sandbox's cat_demo, through `catops items list --all`.
    pub fn demo_items(&self, sandbox: &Sandbox) -> Vec<Value> {
        let args = [
            "items",
            "list",
            "--catalog",
            "cat_demo",
            "--all",
            "-o",
            "ndjson",
        ];
        self.on(sandbox, "sandbox", &args).ok().ndjson()
    }

    /// `catops -p PROFILE --base-url URL ARGS -o json`, for servers other than the sandbox.
    pub fn at(&self, url: &str, profile: &str, args: &[&str]) -> Run {
        self.at_with(url, profile, args, |_| {})
    }

    pub fn at_with(
        &self,
        url: &str,
        profile: &str,
        args: &[&str],
        setup: impl FnOnce(&mut StdCommand),
    ) -> Run {
        let mut full = vec!["-p", profile, "--base-url", url];
        full.extend_from_slice(args);
        full.extend(["-o", "json"]);
        self.run_with(&full, setup)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.home.path().join(name))
            .unwrap_or_else(|err| panic!("read {name}: {err}"))
    }
}

impl Sandbox {
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
}

/// A product CSV of `rows` rows, skus `P-0000001`...: the shape the README's example uses.
pub fn product_csv(rows: usize) -> String {
    let mut csv = String::from("sku,title,price:number,brand\n");
    for n in 0..rows {
        csv.push_str(&format!(
            "P-{n:07},Product {n},{}.{:02},Brand {}\n",
            n % 500,
            n % 100,
            n % 7
        ));
    }
    csv
}
pub mod openapi;
pub mod replay;
