//! The output people read, pinned: the run summary, `validate`, `explain` and `plan -v`, each
//! over the same small demo dataset. A change to any of them shows up as a snapshot diff to
//! review (`cargo insta review`, or the `.snap.new` files beside the snapshots) rather than
//! slipping through assertions that only look for a few words.
//!
//! Timings, byte counts and temporary paths are filtered out; everything else must match.
//! `hubspot check` is pinned in tests/hubspot.rs, beside the sandbox it talks to.

use std::path::Path;
use std::sync::LazyLock;

use crate::common::*;

/// One demo dataset for every snapshot: small enough that `plan -v` stays readable.
static DATA: LazyLock<tempfile::TempDir> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    demo_data(dir.path(), 24, 30, 11);
    dir
});

/// A fresh work directory (config, state, out) over the shared demo data.
fn work() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &DATA.path().join("data"), "");
    dir
}

/// Run `args` in `dir`; stdout, then stderr when there is any, as one text.
fn output(dir: &Path, args: &[&str]) -> String {
    let o = pqlsync(dir).args(args).output().unwrap();
    assert!(o.status.success(), "{args:?} failed:\n{}", stderr(&o));
    let mut text = stdout(&o);
    let err = stderr(&o);
    if !err.is_empty() {
        text.push_str("--- stderr\n");
        text.push_str(&err);
    }
    text
}

/// Snapshot settings that hide what changes from run to run or machine to machine.
fn settings(dir: &Path) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    let escape = |p: &Path| regex_escape(&p.display().to_string());
    s.add_filter(&escape(dir), "[work]");
    s.add_filter(&escape(DATA.path()), "[demo]");
    s.add_filter(&escape(Path::new(env!("CARGO_MANIFEST_DIR"))), "[repo]");
    // Log lines' elapsed time, and durations such as "0.4s" or "2.31 s".
    s.add_filter(r"\[\s*\d+\.\d+s\]", "[time]");
    s.add_filter(r"\b\d+\.\d+ ?s\b", "[secs]");
    s.add_filter(r"seconds=\d+(\.\d+)?(e-?\d+)?", "seconds=[secs]");
    // File sizes depend on the Parquet writer's version, not on pqlsync.
    s.add_filter(r"[\d,]+ bytes", "[n] bytes");
    s.add_filter(r"bytes=\d+", "bytes=[n]");
    // Run ids and the times a run started or finished.
    s.add_filter(r"\b\d{8}T\d{6}Z-[0-9a-f]{4}\b", "[run id]");
    s.add_filter(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", "[utc time]");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn run_summary() {
    let dir = work();
    let text = output(dir.path(), &["run"]);
    settings(dir.path()).bind(|| insta::assert_snapshot!(text));
}

/// The change log as `changes` lists it: the runs kept, then one account's entries of the
/// latest run.
#[test]
fn changes_listing() {
    let dir = work();
    output(dir.path(), &["run"]);
    let mut text = output(dir.path(), &["changes"]);
    text.push_str(&output(
        dir.path(),
        &[
            "changes",
            "--last",
            "--account",
            "acct_000003",
            "--limit",
            "40",
        ],
    ));
    settings(dir.path()).bind(|| insta::assert_snapshot!(text));
}

#[test]
fn validate_report() {
    let dir = work();
    let text = output(dir.path(), &["validate"]);
    settings(dir.path()).bind(|| insta::assert_snapshot!(text));
}

#[test]
fn explain_an_account() {
    let dir = work();
    let text = output(dir.path(), &["explain", "acct_000003"]);
    settings(dir.path()).bind(|| insta::assert_snapshot!(text));
}

#[test]
fn plan_verbose() {
    let dir = work();
    let text = output(dir.path(), &["plan", "-v"]);
    settings(dir.path()).bind(|| insta::assert_snapshot!(text));
}

/// `plan -v` listed records in the order the feature stream delivered accounts, which depends
/// on the machine's partitions: the snapshot above would pass on one machine and fail on
/// another, and two runs' recorded requests differed in order.
#[test]
fn plan_order_does_not_depend_on_partitions() {
    let plans: Vec<String> = [
        "target_partitions = 1",
        "target_partitions = 4\nbatch_size = 7",
    ]
    .iter()
    .map(|engine| {
        let dir = tempfile::tempdir().unwrap();
        let extra = format!("[engine]\n{engine}\n");
        write_config(dir.path(), &DATA.path().join("data"), &extra);
        let o = pqlsync(dir.path()).args(["plan", "-v"]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .filter(|l| l.starts_with("    + ") || l.starts_with("    ~ "))
            .map(|l| format!("{l}\n"))
            .collect()
    })
    .collect();
    assert!(plans[0].lines().count() > 100, "{}", plans[0]);
    assert_eq!(plans[0], plans[1]);
}
