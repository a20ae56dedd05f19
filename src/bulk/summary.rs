//! What a run says at its end: the summary JSON on stdout, a line for people on stderr, and
//! the command that resumes it.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::outcomes::Counters;
use super::sync::Plan;
use super::throttle::Rates;

/// Figures the counters do not hold.
pub struct Facts<'a> {
    pub dry_run: bool,
    pub planned_requests: u64,
    pub batch_size: usize,
    pub rates: Rates,
    pub retries: u64,
    pub elapsed: Duration,
    pub rejects_file: Option<&'a Path>,
    /// batch: the summary names the last indexing token.
    pub indexing_token: bool,
    /// Whether requests in flight adapted, and the lowest and highest limit they had.
    pub concurrency: (bool, usize, usize),
    /// `bulk sync`: its counts join the summary.
    pub sync: Option<&'a Plan>,
}

/// SPEC §4's summary. Every row read is in exactly one of accepted, rejected, failed,
/// unconfirmed, not_sent and skipped.
pub fn summary(counters: &Counters, facts: &Facts) -> Value {
    let mut summary = counts(counters, facts);
    if let Some(plan) = facts.sync {
        plan.summarize(&mut summary, Counters::get(&counters.unchanged));
    }
    summary
}

fn counts(counters: &Counters, facts: &Facts) -> Value {
    let get = Counters::get;
    let rejects_file = facts.rejects_file.map(|p| p.display().to_string());
    if facts.dry_run {
        let rows_valid = get(&counters.rows_valid);
        let by_requests = facts
            .rates
            .requests_per_second
            .map_or(0.0, |r| facts.planned_requests.saturating_sub(1) as f64 / r);
        let by_items = facts.rates.items_per_second.map_or(0.0, |r| {
            rows_valid.saturating_sub(facts.batch_size as u64) as f64 / r
        });
        return json!({
            "dry_run": true,
            "rows_read": get(&counters.rows_read),
            "rows_valid": rows_valid,
            "rejected": get(&counters.rejected),
            "requests": facts.planned_requests,
            "batch_size": facts.batch_size,
            "min_seconds": (by_requests.max(by_items) * 10.0).round() / 10.0,
            "rejects_file": rejects_file,
        });
    }
    let reported = counters
        .counts_reported
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut summary = json!({
        "rows_read": get(&counters.rows_read),
        "rows_sent": get(&counters.rows_sent),
        "accepted": get(&counters.accepted),
        "created": reported.then(|| get(&counters.created)),
        "updated": reported.then(|| get(&counters.updated)),
        "failed": get(&counters.failed),
        "rejected": get(&counters.rejected),
        "unconfirmed": get(&counters.unconfirmed),
        "not_sent": counters.not_sent(),
        "requests": get(&counters.requests),
        "retries": facts.retries,
        "elapsed_ms": facts.elapsed.as_millis() as u64,
        "rejects_file": rejects_file,
        "skipped": get(&counters.skipped),
        "duplicates": get(&counters.duplicates),
        "concurrency": {
            "adaptive": facts.concurrency.0,
            "min": facts.concurrency.1,
            "max": facts.concurrency.2,
        },
    });
    if facts.indexing_token {
        // edit-items: the token of an edit tells, through `view`, when it is applied; the
        // last one covers the run.
        let token = counters
            .indexing_token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        summary["indexing_token"] = json!(token);
    }
    summary
}

/// The summary in one line for people.
pub fn human(summary: &Value, destination: &str, elapsed: Duration) -> String {
    let n = |key: &str| summary.get(key).and_then(Value::as_u64).unwrap_or(0);
    if summary["dry_run"] == true {
        let mut line = format!(
            "dry run: {} rows read, {} valid, {} rejected; {} requests to {destination}, at least {} s under the rate limits; nothing sent",
            n("rows_read"),
            n("rows_valid"),
            n("rejected"),
            n("requests"),
            summary["min_seconds"]
        );
        if summary.get("unchanged").is_some() {
            line.push_str(&format!(
                "; sync: {} new, {} changed, {} unchanged, {} to delete",
                n("new"),
                n("changed"),
                n("unchanged"),
                n("to_delete")
            ));
        }
        return line;
    }
    let secs = elapsed.as_secs_f64();
    let mut line = format!(
        "{}: {} rows read, {} accepted",
        destination,
        n("rows_read"),
        n("accepted")
    );
    if let (Some(created), Some(updated)) =
        (summary["created"].as_u64(), summary["updated"].as_u64())
    {
        line.push_str(&format!(" ({created} created, {updated} updated)"));
    }
    line.push_str(&format!(
        ", {} rejected, {} failed",
        n("rejected"),
        n("failed")
    ));
    for (key, words) in [
        ("unchanged", "unchanged (not sent)"),
        ("unconfirmed", "sent without an answer"),
        ("not_sent", "not sent"),
    ] {
        if n(key) > 0 {
            line.push_str(&format!(", {} {words}", n(key)));
        }
    }
    line.push_str(&format!(
        " in {secs:.1} s ({:.0} rows/s, {} requests, {} retries)",
        n("rows_read") as f64 / secs.max(0.001),
        n("requests"),
        n("retries"),
    ));
    if n("skipped") > 0 {
        line.push_str(&format!(
            "; {} rows already done were skipped",
            n("skipped")
        ));
    }
    if n("duplicates") > 0 {
        line.push_str(&format!(
            "; {} rows waited for an earlier row with their key",
            n("duplicates")
        ));
    }
    if let Some(file) = summary["rejects_file"].as_str() {
        line.push_str(&format!("; rejects: {file}"));
    }
    line
}

/// How to send the rows a run did not deliver: the one place the resume command is built.
pub fn resume_hint(journal: Option<&Path>) -> String {
    if journal.is_none() {
        return "no --journal was given, so this run cannot be resumed; upserts are idempotent, so running the whole file again is safe".to_string();
    }
    let mut args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--resume") {
        args.push("--resume".to_string());
    }
    let command: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
    format!("resume with: {}", command.join(" "))
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

pub fn describe_rates(rates: Rates) -> String {
    let mut parts = Vec::new();
    if let Some(rps) = rates.requests_per_second {
        parts.push(format!("{rps:.2} requests/s"));
    }
    if let Some(ips) = rates.items_per_second {
        parts.push(format!("{ips:.0} items/s"));
    }
    parts.join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_plain_words() {
        assert_eq!(shell_quote("products.csv"), "products.csv");
        assert_eq!(shell_quote("--catalog=cat_demo"), "--catalog=cat_demo");
        assert_eq!(shell_quote("my file.csv"), "'my file.csv'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn every_row_read_is_in_one_count() {
        let counters = Counters::default();
        let set = |counter: &std::sync::atomic::AtomicU64, n| {
            counter.store(n, std::sync::atomic::Ordering::Relaxed)
        };
        set(&counters.rows_read, 100);
        set(&counters.accepted, 60);
        set(&counters.rejected, 5);
        set(&counters.failed, 10);
        set(&counters.unconfirmed, 7);
        set(&counters.skipped, 3);
        assert_eq!(counters.not_sent(), 15);
    }
}
