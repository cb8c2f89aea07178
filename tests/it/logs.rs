//! `--log-format json`: what a log pipeline reads from the real binary. Every line on stderr
//! is one JSON object with a timestamp, a level and (for pqlsync's own events) a stage, for a
//! run, a plan and a failing run alike; the text format stays for people.

use std::collections::BTreeSet;

use crate::common::*;
use serde_json::Value;

/// Every stderr line as JSON, failing on the first that is not an object with a timestamp
/// (RFC 3339, UTC), a level and a message, and on any pqlsync event without a stage.
fn json_lines(o: &std::process::Output) -> Vec<Value> {
    let text = stderr(o);
    assert!(!text.trim().is_empty(), "nothing on stderr");
    text.lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n--- all:\n{text}"));
            let timestamp = event["timestamp"]
                .as_str()
                .unwrap_or_else(|| panic!("{line}"));
            chrono::DateTime::parse_from_rfc3339(timestamp)
                .unwrap_or_else(|e| panic!("timestamp {timestamp}: {e}"));
            assert!(timestamp.ends_with('Z'), "{timestamp}");
            let level = event["level"].as_str().unwrap_or_else(|| panic!("{line}"));
            assert!(
                ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level),
                "{line}"
            );
            assert!(event["message"].is_string(), "{line}");
            if event["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("pqlsync"))
            {
                assert!(
                    event["stage"].is_string(),
                    "pqlsync event without a stage: {line}"
                );
            }
            event
        })
        .collect()
}

/// A directory with `accounts` accounts of demo data and a config for them.
fn demo(accounts: u32, seed: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), accounts, 30, seed);
    write_config(dir.path(), &data, "");
    dir
}

fn stages(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["stage"].as_str()).collect()
}

fn the<'a>(events: &'a [Value], stage: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["stage"] == stage)
        .unwrap_or_else(|| panic!("no {stage} event in {events:#?}"))
}

#[test]
fn a_run_logs_one_json_line_per_event_and_its_report() {
    let dir = demo(200, 5);
    let o = pqlsync(dir.path())
        .args(["--log-format", "json", "run", "--summary-json", "s.json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // The report is a log event, so nothing else shares the log stream.
    assert_eq!(stdout(&o), "");
    let events = json_lines(&o);
    let seen = stages(&events);
    for stage in [
        "start", "sources", "plan", "decide", "state", "quality", "contacts", "records", "sync",
        "history", "report", "exit",
    ] {
        assert!(seen.contains(&stage), "no {stage} event: {seen:?}");
    }
    assert_eq!(seen.first(), Some(&"start"));
    assert_eq!(seen.last(), Some(&"exit"));
    let decide = the(&events, "decide");
    assert!(decide["accounts"].as_u64().unwrap() > 150, "{decide}");
    assert!(decide["seconds"].as_f64().unwrap() >= 0.0, "{decide}");
    let exit = the(&events, "exit");
    assert_eq!(exit["exit_code"], 0, "{exit}");
    assert_eq!(exit["level"], "INFO");
    // The report event carries the same document as --summary-json.
    let report: Value =
        serde_json::from_str(the(&events, "report")["summary"].as_str().unwrap()).unwrap();
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["accounts"], file["accounts"]);
    assert_eq!(report["tiers"], file["tiers"]);
    // Each stage that ended is timed in the summary too.
    let timed: BTreeSet<&str> = file["stages"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for stage in ["sources", "plan", "decide", "sync", "history"] {
        assert!(timed.contains(stage), "{stage} not in {timed:?}");
    }
}

#[test]
fn a_plan_logs_json_lines_too() {
    let dir = demo(100, 6);
    let o = pqlsync(dir.path())
        .args(["--log-format", "json", "-v", "plan"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let events = json_lines(&o);
    let seen = stages(&events);
    for stage in ["sources", "plan", "decide", "sync_plan", "report", "exit"] {
        assert!(seen.contains(&stage), "no {stage} event: {seen:?}");
    }
    // No progress bar or spinner escapes into the stream, even with -v.
    assert!(!stderr(&o).contains('\r'));
}

#[test]
fn a_failing_run_ends_with_an_error_event_naming_the_exit_code() {
    let dir = demo(50, 7);
    // The SQL directory is missing: a config error, exit 2.
    std::fs::write(
        dir.path().join("pqlsync.toml"),
        std::fs::read_to_string(dir.path().join("pqlsync.toml"))
            .unwrap()
            .replace("[sql]\ndir = ", "[sql]\ndir = \"missing\"\n# was "),
    )
    .unwrap();
    let o = pqlsync(dir.path())
        .args(["--log-format", "json", "run"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let events = json_lines(&o);
    let last = events.last().unwrap();
    assert_eq!(last["level"], "ERROR", "{last}");
    assert_eq!(last["stage"], "exit", "{last}");
    assert_eq!(last["exit_code"], 2, "{last}");
    assert!(
        last["message"].as_str().unwrap().contains("missing"),
        "{last}"
    );
    assert!(last["after"].is_string(), "{last}");
}

#[test]
fn text_logs_show_stages_with_v_and_errors_plainly() {
    let dir = demo(50, 8);
    let o = pqlsync(dir.path())
        .args(["-v", "features", "--out", "f.parquet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stderr(&o);
    assert!(text.contains("registered the sources"), "{text}");
    assert!(text.contains("computed account_features"), "{text}");
    assert!(serde_json::from_str::<Value>(text.lines().next().unwrap()).is_err());
    // Without -v, a successful run says nothing on stderr but what needs attention.
    let o = pqlsync(dir.path())
        .args(["features", "--out", "f.parquet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let o = pqlsync(dir.path())
        .args(["--config", "nowhere.toml", "features"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
}

/// Usage errors printed clap's plain text under `--log-format json`: the one line a log
/// pipeline most needs was the one it could not parse.
#[test]
fn usage_errors_were_plain_text_under_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--log-format", "json", "run", "--no-such-flag"][..],
        &["run", "--log-format=json", "--as-of"],
        &["--log-format", "json", "no-such-command"],
    ] {
        let o = pqlsync(dir.path()).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let events = json_lines(&o);
        assert_eq!(events.len(), 1, "{args:?}: {events:?}");
        let e = &events[0];
        assert_eq!(e["level"], "ERROR", "{e}");
        assert_eq!(e["stage"], "exit", "{e}");
        assert_eq!(e["exit_code"], 2, "{e}");
        assert!(!e["message"].as_str().unwrap().is_empty(), "{e}");
    }
    // People still get clap's words, and help is not an error.
    let o = pqlsync(dir.path())
        .args(["run", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("error: unexpected argument '--no-such-flag'"),
        "{}",
        stderr(&o)
    );
    let o = pqlsync(dir.path())
        .args(["--log-format", "json", "run", "--help"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Usage: pqlsync run"), "{}", stdout(&o));
}
