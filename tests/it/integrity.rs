//! The run's integrity guards, offline: one run at a time per state location (the lock and
//! its exit code, waiting, taking over a lock whose holder died), and the days a run refuses
//! (a far-future `--as-of`, exports that stopped arriving), each leaving the state untouched.
//! The same guards against HubSpot (overlapping runs, SIGTERM mid-sync) are in hubspot.rs.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 60, 30, 5);
    write_config(dir.path(), &data, "");
    dir
}

/// Every file under `dir` with its bytes: what "the state is untouched" compares.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Hold the state's lock from this process, as a running `pqlsync run` would.
fn hold_lock(state: &Path) -> File {
    std::fs::create_dir_all(state).unwrap();
    let mut f = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(state.join("pqlsync.lock"))
        .unwrap();
    f.try_lock().expect("the lock is free");
    f.set_len(0).unwrap();
    f.write_all(
        br#"{"host":"cron-host","pid":4242,"command":"run","started_at":"2026-11-26T01:00:00Z"}"#,
    )
    .unwrap();
    f
}

#[test]
fn a_run_on_a_locked_state_exits_3_naming_the_holder_and_changes_nothing() {
    let dir = setup();
    let state = dir.path().join("state");
    let lock = hold_lock(&state);
    let before = snapshot(&state);
    let o = pqlsync(dir.path()).arg("run").output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    for part in [
        "another run holds the state",
        "cron-host",
        "pid 4242",
        "--wait",
    ] {
        assert!(err.contains(part), "lacks {part}: {err}");
    }
    assert_eq!(snapshot(&state), before, "the state changed");
    assert!(!dir.path().join("out/decisions.parquet").exists());
    // Backfill writes history beside the state: the same lock.
    let o = pqlsync(dir.path())
        .args(["backfill", "--from", "2026-11-19"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // A revert writes to HubSpot and the routing memory: the same lock, taken before anything
    // is read.
    let o = pqlsync(dir.path())
        .args(["revert", "--run", "20261126T010000Z-0000"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(snapshot(&state), before, "the state changed");
    drop(lock);
}

#[test]
fn wait_runs_once_the_holder_is_done() {
    let dir = setup();
    let lock = hold_lock(&dir.path().join("state"));
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(lock);
    });
    let started = Instant::now();
    let o = pqlsync(dir.path())
        .args(["run", "--wait", "60"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(started.elapsed() >= Duration::from_millis(1500));
    releaser.join().unwrap();
}

#[test]
fn a_lock_left_by_a_run_that_died_is_taken_over() {
    let dir = setup();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    // What a killed run leaves: its text, without the kernel lock that died with it.
    std::fs::write(
        state.join("pqlsync.lock"),
        r#"{"host":"old-pod","pid":77,"command":"run","started_at":"2026-11-25T03:00:00Z"}"#,
    )
    .unwrap();
    let o = pqlsync(dir.path()).arg("run").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("took over the lock") && stderr(&o).contains("old-pod"),
        "{}",
        stderr(&o)
    );
    // Released on exit: a second run neither waits nor reports a dead holder.
    let o = pqlsync(dir.path()).arg("run").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("took over"), "{}", stderr(&o));
}

#[test]
fn a_far_future_as_of_is_refused_and_leaves_the_state_untouched() {
    let dir = setup();
    let o = pqlsync(dir.path()).arg("run").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let before = snapshot(&dir.path().join("state"));
    let o = pqlsync(dir.path())
        .args(["run", "--as-of", "2031-01-01"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("in the future") && stderr(&o).contains("--allow-future"),
        "{}",
        stderr(&o)
    );
    assert_eq!(snapshot(&dir.path().join("state")), before);
    // The next real day still runs.
    let o = pqlsync(dir.path())
        .args(["run", "--as-of", "2026-11-21"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn stale_exports_stop_the_run_naming_the_newest_event() {
    let dir = setup();
    // The demo exports end on 2026-11-20; five days later they are stale.
    let o = pqlsync(dir.path())
        .args(["run", "--as-of", "2026-11-25"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for part in [
        "is stale",
        "newest event is 2026-11-20T",
        "--allow-stale",
        "max_lag_days",
    ] {
        assert!(err.contains(part), "lacks {part}: {err}");
    }
    assert!(
        snapshot(&dir.path().join("state"))
            .keys()
            .all(|p| p.ends_with("pqlsync.lock"))
    );
    // Two days of lag are within the default; --allow-stale scores anyway.
    for args in [
        &["run", "--as-of", "2026-11-22"][..],
        &["run", "--as-of", "2026-11-25", "--allow-stale"][..],
    ] {
        let o = pqlsync(dir.path()).args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn plan_changes_nothing_a_later_run_reads() {
    let dir = setup();
    let before = snapshot(dir.path());
    for args in [&["plan"][..], &["run", "--dry-run"][..]] {
        let o = pqlsync(dir.path()).args(args).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let after = snapshot(dir.path());
    let added: Vec<_> = after.keys().filter(|p| !before.contains_key(*p)).collect();
    // The lock file is the only trace, and only `run` takes it.
    assert!(added.is_empty(), "a dry run wrote {added:?}");
    assert_eq!(after, before);
}

#[test]
fn a_state_file_from_a_newer_pqlsync_is_refused_not_overwritten() {
    let dir = setup();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let newer = r#"{"version":7,"as_of":"2026-11-19","accounts":{}}"#;
    std::fs::write(state.join("routing.json"), newer).unwrap();
    let o = pqlsync(dir.path()).arg("run").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("routing.json has version 7"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_to_string(state.join("routing.json")).unwrap(),
        newer
    );
    assert!(!dir.path().join("out/decisions.parquet").exists());
}

#[test]
fn temporary_files_of_a_killed_run_are_removed_by_the_next() {
    let dir = setup();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let left = out.join(".pqlsync-AbC123.tmp");
    std::fs::write(&left, b"half a parquet file").unwrap();
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let o = pqlsync(dir.path()).arg("run").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!left.exists());
}

/// Two configs sharing one state location were not told apart: the second was told the state
/// "only moves forward", not that another config had advanced it.
#[test]
fn a_state_advanced_by_another_config_said_only_moves_forward() {
    let dir = setup();
    let o = pqlsync(dir.path()).arg("run").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let routing: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state/routing.json")).unwrap(),
    )
    .unwrap();
    let first = dir.path().join("pqlsync.toml").canonicalize().unwrap();
    assert_eq!(
        routing["advanced_by"]["config"].as_str(),
        Some(first.to_str().unwrap())
    );
    // A second config, same [state] url, a day behind.
    std::fs::copy(dir.path().join("pqlsync.toml"), dir.path().join("eu.toml")).unwrap();
    let before = snapshot(&dir.path().join("state"));
    let o = pqlsync(dir.path())
        .args(["run", "--config", "eu.toml", "--as-of", "2026-11-19"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for needle in [
        &format!("by {}", first.display()) as &str,
        "another config than this run's",
        "eu.toml",
        "give each its own",
    ] {
        assert!(err.contains(needle), "{needle}:\n{err}");
    }
    assert_eq!(snapshot(&dir.path().join("state")), before);
    // Moving forward with the other config works, and says whose state it takes over.
    let o = pqlsync(dir.path())
        .args(["run", "--config", "eu.toml", "--as-of", "2026-11-21"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("was last advanced by another config"),
        "{}",
        stderr(&o)
    );
}
