//! Incremental rollups (`sql/incremental/`): a rollup extended day by day gives exactly what
//! a full scan gives, and a late file in a rolled-up day is noticed and rebuilt from.

use std::path::Path;
use std::sync::Arc;

use crate::common::*;
use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn features(
    dir: &Path,
    out: &str,
    args: &[&str],
) -> (String, Vec<Vec<(String, pqlsync_sql::value::Value)>>) {
    let o = pqlsync(dir)
        .args(["-v", "features", "--out", out])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut rows = read_rows(&dir.join(out));
    rows.sort_by_key(|r| get(r, "account_id").to_string());
    (stderr(&o), rows)
}

fn integrations(rows: &[Vec<(String, pqlsync_sql::value::Value)>], account: &str) -> i64 {
    let row = rows
        .iter()
        .find(|r| get(r, "account_id").as_str() == Some(account))
        .expect("account present");
    get(row, "integrations_connected").as_i64().unwrap()
}

/// A copy of the first event of `file` as an `integration_connected` event with a new id,
/// written beside it: a late-arriving file in an old partition.
fn write_late_integration(file: &Path) -> String {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batch = reader.into_iter().next().unwrap().unwrap().slice(0, 1);
    let schema = batch.schema();
    let text = |value: &str, like: &ArrayRef| -> ArrayRef {
        cast(
            &(Arc::new(StringArray::from(vec![value])) as ArrayRef),
            like.data_type(),
        )
        .unwrap()
    };
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| match f.name().as_str() {
            "id" => text("late-integration-1", c),
            "event" => text("integration_connected", c),
            _ => Arc::clone(c),
        })
        .collect();
    let group = batch.column_by_name("context_group_id").unwrap();
    let account = cast(group, &datafusion::arrow::datatypes::DataType::Utf8).unwrap();
    let account = account
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap()
        .value(0)
        .to_string();
    let late = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let path = file.with_file_name("late-arrival.parquet");
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
    writer.write(&late).unwrap();
    writer.close().unwrap();
    account
}

#[test]
fn a_rollup_extended_day_by_day_equals_a_full_scan_and_late_files_rebuild_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 150, 60, 11);
    write_config(dir.path(), &data, "");

    let (log, _) = features(dir.path(), "a.parquet", &["--as-of", "2026-11-10"]);
    assert!(log.contains("rollup lifetime_activity: built"), "{log}");
    let (log, daily) = features(dir.path(), "b.parquet", &[]);
    assert!(
        log.contains("rollup lifetime_activity: extended")
            && log.contains("from 2026-11-09 to 2026-11-19"),
        "{log}"
    );
    let (log, _) = features(dir.path(), "c.parquet", &[]);
    assert!(log.contains("rollup lifetime_activity: current"), "{log}");
    let (log, full) = features(dir.path(), "d.parquet", &["--full-refresh"]);
    assert!(
        log.contains("built") && log.contains("--full-refresh"),
        "{log}"
    );
    assert_eq!(daily, full);
    assert!(
        daily
            .iter()
            .any(|r| get(r, "integrations_connected").as_i64() > Some(0))
    );

    // A late file lands in a day the rollup already holds.
    let old_day = data.join("tracks/day=2026-10-15");
    let file = parquet_files(&old_day)
        .into_iter()
        .next()
        .expect("a file that day");
    let account = write_late_integration(&file);
    let before = integrations(&daily, &account);
    let (log, late) = features(dir.path(), "e.parquet", &[]);
    assert!(
        log.contains("built") && log.contains("tracks: partition day 2026-10-15 changed"),
        "{log}"
    );
    assert_eq!(integrations(&late, &account), before + 1);
    let (_, full) = features(dir.path(), "f.parquet", &["--full-refresh"]);
    assert_eq!(late, full);

    // A scoring day before the rollup reads all history and leaves the rollup alone.
    let (log, past) = features(dir.path(), "g.parquet", &["--as-of", "2026-11-05"]);
    assert!(log.contains("bypassed"), "{log}");
    let (log, _) = features(dir.path(), "h.parquet", &[]);
    assert!(log.contains("rollup lifetime_activity: current"), "{log}");
    assert!(!past.is_empty());
}

/// The windowed features come from day-grained rollups (`activity_days`, `imports_days`):
/// a chain of daily runs must give, every day, exactly what a full recomputation gives: day
/// after day, after a gap of several days, and after a day whose files arrived late.
#[test]
fn day_grained_rollups_equal_a_full_recomputation_day_after_day() {
    let root = tempfile::tempdir().unwrap();
    let data = demo_data(root.path(), 150, 60, 23);
    let (daily, full) = (root.path().join("daily"), root.path().join("full"));
    for dir in [&daily, &full] {
        std::fs::create_dir_all(dir).unwrap();
        write_config(dir, &data, "");
    }
    let same_as_full = |as_of: &str, extra: &[&str]| -> String {
        let args: Vec<&str> = [&["--as-of", as_of][..], extra].concat();
        let (log, rows) = features(&daily, &format!("{as_of}.parquet"), &args);
        let full_args: Vec<&str> = [&args[..], &["--full-refresh"]].concat();
        let (_, expected) = features(&full, &format!("{as_of}.parquet"), &full_args);
        assert_eq!(
            rows, expected,
            "{as_of}: daily differs from a full recomputation"
        );
        let active = |r: &Vec<(String, pqlsync_sql::value::Value)>| {
            ["events_14d", "active_users_prev_14d", "rows_imported_14d"]
                .iter()
                .any(|c| get(r, c).as_i64() > Some(0))
        };
        assert!(
            rows.iter().any(active),
            "{as_of}: no activity at all proves nothing"
        );
        log
    };
    let log = same_as_full("2026-11-01", &[]);
    assert!(log.contains("rollup activity_days: built"), "{log}");
    for as_of in ["2026-11-02", "2026-11-03"] {
        let log = same_as_full(as_of, &[]);
        assert!(log.contains("rollup activity_days: extended"), "{log}");
        assert!(log.contains("rollup imports_days: extended"), "{log}");
    }
    // Five days without a run, then one that catches up.
    let log = same_as_full("2026-11-08", &[]);
    assert!(
        log.contains("rollup activity_days: extended")
            && log.contains("from 2026-11-02 to 2026-11-07"),
        "{log}"
    );
    // A day whose files are late: the runs of the next days go without it, then it lands.
    let late = data.join("tracks/day=2026-11-10");
    let aside = root.path().join("late-tracks");
    std::fs::rename(&late, &aside).unwrap();
    for as_of in ["2026-11-09", "2026-11-10", "2026-11-11", "2026-11-12"] {
        same_as_full(as_of, &["--allow-stale"]);
    }
    std::fs::rename(&aside, &late).unwrap();
    let log = same_as_full("2026-11-13", &[]);
    assert!(
        log.contains("rollup activity_days: built")
            && log.contains("tracks: partition day 2026-11-10 appeared"),
        "{log}"
    );
    // A rollup that ends before the days it keeps is rebuilt from them, not extended: the
    // last run rolled up to 2026-11-12, and on 2026-12-11 activity_days keeps 2026-11-14 on
    // (the previous window still holds the data's last week).
    let log = same_as_full("2026-12-11", &["--allow-stale", "--allow-future"]);
    assert!(log.contains("before the first day it retains"), "{log}");
}

/// `backfill` carries its rollups in memory from day to day, grouped up to 28 days ahead of
/// the scoring day: every day it writes must still score as a `score` run on that day does,
/// on the first day, the last day of the first 28 grouped ahead and the day after, and the
/// last day.
#[test]
fn backfill_scores_each_day_as_a_run_on_that_day_would() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 120, 45, 7);
    write_config(dir.path(), &data, "");
    let o = pqlsync(dir.path())
        .args(["backfill", "--from", "2026-10-19", "--to", AS_OF])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let first = find_dir(dir.path(), "as_of=2026-10-19").expect("the first day's snapshot");
    let history = first.parent().unwrap().to_path_buf();
    let key = |r: &Vec<(String, pqlsync_sql::value::Value)>| {
        [
            "account_id",
            "fit_score",
            "usage_score",
            "pql_score",
            "tier",
        ]
        .map(|c| get(r, c).to_string())
    };
    for day in ["2026-10-19", "2026-11-15", "2026-11-16", AS_OF] {
        let out = format!("score-{day}.parquet");
        let o = pqlsync(dir.path())
            .args(["score", "--as-of", day, "--out", &out])
            .output()
            .unwrap();
        assert!(o.status.success(), "{day}: {}", stderr(&o));
        let mut scored: Vec<_> = read_rows(&dir.path().join(&out)).iter().map(key).collect();
        let mut backfilled: Vec<_> = read_rows(&history.join(format!("as_of={day}")))
            .iter()
            .map(key)
            .collect();
        scored.sort();
        backfilled.sort();
        assert!(!scored.is_empty(), "{day}");
        assert_eq!(backfilled, scored, "{day}");
    }
}

/// The first directory named `name` under `root`, if any.
fn find_dir(root: &Path, name: &str) -> Option<std::path::PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .find_map(|p| match p.file_name().is_some_and(|n| n == name) {
            true => Some(p),
            false => find_dir(&p, name),
        })
}
