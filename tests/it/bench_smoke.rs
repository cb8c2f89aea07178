//! The smoke version of bench/run.sh: DuckDB runs pqlsync's own feature SQL
//! (bench/duckdb_features.py) over a tiny demo dataset and must produce the same
//! `account_features`, value for value. Needs a Python with the `duckdb` package in
//! `PQLSYNC_DUCKDB_PYTHON` (`.ci/run` installs one and sets `PQLSYNC_REQUIRE_DUCKDB`).

use std::path::Path;

use crate::common::*;

#[test]
fn duckdb_computes_the_same_account_features_from_the_same_sql() {
    let Some(python) = std::env::var_os("PQLSYNC_DUCKDB_PYTHON") else {
        skipped(
            "PQLSYNC_REQUIRE_DUCKDB",
            "DuckDB",
            "set PQLSYNC_DUCKDB_PYTHON to a python with the duckdb package",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 250, 30, 21);
    write_config(dir.path(), &data, "");
    let ours = dir.path().join("pqlsync.parquet");
    let o = pqlsync(dir.path())
        .args(["features", "--out"])
        .arg(&ours)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/duckdb_features.py");
    let theirs = dir.path().join("duckdb.parquet");
    let o = std::process::Command::new(&python)
        .arg(&script)
        .arg("--data")
        .arg(&data)
        .arg("--sql")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("sql"))
        .args(["--as-of", AS_OF, "--out"])
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = std::process::Command::new(&python)
        .arg(&script)
        .arg("--compare")
        .arg(&ours)
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("same account_features"),
        "{}",
        stdout(&o)
    );
    // The comparison is not vacuous: a different scoring day differs.
    let other = dir.path().join("other.parquet");
    let o = pqlsync(dir.path())
        .args(["--as-of", "2026-11-18", "features", "--out"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = std::process::Command::new(&python)
        .arg(&script)
        .arg("--compare")
        .arg(&other)
        .arg(&theirs)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("MISMATCH"), "{}", stdout(&o));
}
