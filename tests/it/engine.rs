//! The query engine as configured by `[engine]` and `[sources]`: partitions pruned by event
//! time, memory bounded by the pool (spilling, same results), parallelism from the cores.

use std::path::Path;
use std::sync::Arc;

use crate::common::*;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use pqlsync::cli::GlobalArgs;
use pqlsync::config::{Config, RunOptions};

fn config(dir: &Path) -> Config {
    load(dir).0
}

fn load(dir: &Path) -> (Config, RunOptions) {
    let global = GlobalArgs {
        config: dir.join("pqlsync.toml"),
        as_of: None,
        out: None,
        verbose: 0,
        quiet: true,
        full_refresh: false,
        summary_json: None,
        allow_future: false,
        allow_stale: false,
        log_format: pqlsync::logging::LogFormat::Text,
    };
    let text = std::fs::read_to_string(dir.join("pqlsync.toml")).unwrap();
    pqlsync::config::from_str(&text, &global.config, &global, &[]).unwrap()
}

fn files_in(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let mut n = 0;
    if let Some(exec) = plan.downcast_ref::<DataSourceExec>()
        && let Some(scan) = exec.data_source().downcast_ref::<FileScanConfig>()
    {
        n += scan.file_groups.iter().map(|g| g.len()).sum::<usize>();
    }
    n + plan.children().iter().map(|c| files_in(c)).sum::<usize>()
}

async fn files_scanned(ctx: &SessionContext, sql: &str) -> usize {
    let plan = ctx
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    files_in(&plan)
}

fn files_under(data: &Path, days: &[&str]) -> usize {
    days.iter()
        .map(|d| parquet_files(&data.join(format!("tracks/day={d}"))).len())
        .sum()
}

#[tokio::test]
async fn time_filters_prune_hive_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 60, 30, 1);
    write_config(dir.path(), &data, "");
    let c = config(dir.path());
    let (ctx, _) = pqlsync_sql::engine::session(&c.engine).unwrap();
    pqlsync_sql::source::register_all(&ctx, &c.sources)
        .await
        .unwrap();
    let all = parquet_files(&data.join("tracks")).len();
    // Select a column: a bare count(*) is answered from Parquet statistics without a scan.
    assert_eq!(files_scanned(&ctx, "SELECT id FROM raw.tracks").await, all);
    // Three event days, widened by the default slack of 2 days on each side.
    let window = "SELECT id FROM raw.tracks WHERE \"timestamp\" >= TIMESTAMP '2026-11-10T00:00:00Z' AND \"timestamp\" < TIMESTAMP '2026-11-13T00:00:00Z'";
    let expected = files_under(
        &data,
        &[
            "2026-11-08",
            "2026-11-09",
            "2026-11-10",
            "2026-11-11",
            "2026-11-12",
            "2026-11-13",
            "2026-11-14",
        ],
    );
    assert_eq!(files_scanned(&ctx, window).await, expected);
    assert!(expected < all / 3, "{expected} of {all}");
    // Before the data: every partition pruned.
    let before = "SELECT id FROM raw.tracks WHERE \"timestamp\" < TIMESTAMP '2026-10-01T00:00:00Z'";
    assert_eq!(files_scanned(&ctx, before).await, 0);
    // Filters on other columns keep every partition.
    assert_eq!(
        files_scanned(
            &ctx,
            "SELECT id FROM raw.tracks WHERE event = 'deal_created'"
        )
        .await,
        all
    );
}

#[tokio::test]
async fn the_feature_window_reads_only_recent_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 40, 45, 2);
    write_config(dir.path(), &data, "");
    let c = config(dir.path());
    let (ctx, _) = pqlsync_sql::engine::session(&c.engine).unwrap();
    pqlsync_sql::source::register_all(&ctx, &c.sources)
        .await
        .unwrap();
    let project =
        pqlsync_sql::features::Project::load(&c.sql_dir, c.sources.format.name()).unwrap();
    let params = pqlsync_sql::features::Params {
        as_of_date: load(dir.path()).1.as_of,
        account_id_key: "account_id".into(),
        group_type: c.sources.group_type().into(),
        report_range: None,
        at_day: 7,
    };
    pqlsync_sql::features::register(&ctx, &project, &params, &[], None)
        .await
        .unwrap();
    // activity_14d covers 2026-11-07..20; with 2 days of slack that is 2026-11-05 onwards.
    // It reads activity_days, which keeps 28 days (its `@retain`), but the window's filter on
    // the `day` key reaches the scan through the CAST of the event time.
    let recent: Vec<String> = (5..=20).map(|d| format!("2026-11-{d:02}")).collect();
    let recent: Vec<&str> = recent.iter().map(String::as_str).collect();
    assert_eq!(
        files_scanned(&ctx, "SELECT * FROM activity_14d").await,
        files_under(&data, &recent)
    );
}

/// [`write_config`] with `engine`, over the bundled SQL but for activity_14d.sql counted from
/// the raw events in one query (tests/it/fixtures/activity_14d_raw_events.sql), a view that
/// cannot be rolled up. The bundled views group a few days at a time and need too little
/// memory on data this small to spill; a spill path must still work for analysts' views.
fn write_spilling_config(dir: &Path, data: &Path, engine: &str) {
    let repo_sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let sql = dir.join("sql");
    if !sql.exists() {
        copy_dir(&repo_sql, &sql);
        std::fs::write(
            sql.join("features/activity_14d.sql"),
            include_str!("fixtures/activity_14d_raw_events.sql"),
        )
        .unwrap();
    }
    let path = write_config(dir, data, engine);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("dir = \"{}\"", repo_sql.display()),
        &format!("dir = \"{}\"", sql.display()),
    );
    assert!(text.contains(&sql.display().to_string()), "{text}");
    std::fs::write(&path, text).unwrap();
}

#[test]
fn memory_limit_spills_and_gives_the_same_features() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 1500, 30, 4);
    let run = |name: &str, engine: &str| {
        write_spilling_config(dir.path(), &data, engine);
        let out = dir.path().join(name);
        let o = pqlsync(dir.path())
            .args(["features", "--summary-json", "s.json", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        (o, out)
    };
    let (o, unlimited) = run("unlimited.parquet", "");
    assert!(o.status.success(), "{}", stderr(&o));
    // One partition: which operator gets the last of a tight budget first is then fixed, so
    // the spill is certain (a_bounded_run_on_every_core_never_hangs covers more partitions).
    let (o, limited) = run(
        "limited.parquet",
        "[engine]\nmemory_limit = \"24MB\"\ntarget_partitions = 1\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    let engine = &summary["engine"];
    assert!(
        engine["spilled_bytes"].as_u64().unwrap() > 0,
        "the limited run did not spill: {engine}"
    );
    // Repartitions are never refused, so only they may take the run past the limit.
    assert!(
        engine["peak_memory_bytes"].as_u64().unwrap()
            <= 24_000_000 + engine["repartition_peak_bytes"].as_u64().unwrap(),
        "{engine}"
    );
    let sort = |mut rows: Vec<Vec<(String, pqlsync_sql::value::Value)>>| {
        rows.sort_by_key(|r| get(r, "account_id").to_string());
        rows
    };
    assert_eq!(sort(read_rows(&unlimited)), sort(read_rows(&limited)));
    // Far too little memory fails with a message naming the setting, and writes nothing.
    let (o, tiny) = run("tiny.parquet", "[engine]\nmemory_limit = \"64KB\"\n");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[engine] memory_limit"),
        "{}",
        stderr(&o)
    );
    assert!(!tiny.exists());
}

/// The stress case of apache/datafusion#24883 through the real binary: two partitions whose
/// repartitions' input tasks spill side by side, under budgets from just enough to spilling.
/// With DataFusion 55's own pool this could park every worker for good; pqlsync's never
/// refuses a repartition (engine::memory). Every run must end with the right features: where
/// the budget is too small for two partitions' join build sides, the command computes again
/// on one partition and says so. At least one run must have spilled on two partitions, or
/// the case was not exercised.
#[test]
fn a_bounded_run_on_every_core_never_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 1500, 30, 4);
    let sort = |mut rows: Vec<Vec<(String, pqlsync_sql::value::Value)>>| {
        rows.sort_by_key(|r| get(r, "account_id").to_string());
        rows
    };
    write_spilling_config(dir.path(), &data, "");
    let reference = dir.path().join("unlimited.parquet");
    let o = pqlsync(dir.path())
        .args(["features", "--full-refresh", "--out"])
        .arg(&reference)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = sort(read_rows(&reference));
    let mut spilled = 0;
    for limit in ["40MB", "48MB", "56MB", "40MB", "48MB", "56MB"] {
        let engine = format!("[engine]\nmemory_limit = \"{limit}\"\ntarget_partitions = 2\n");
        write_spilling_config(dir.path(), &data, &engine);
        let out = dir.path().join("limited.parquet");
        let _ = std::fs::remove_file(&out);
        let o = pqlsync(dir.path())
            .args([
                "features",
                "--full-refresh",
                "--summary-json",
                "s.json",
                "--out",
            ])
            .arg(&out)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap();
        // None: killed at the timeout, which is the hang this test exists for.
        assert_eq!(o.status.code(), Some(0), "{limit}: {}", stderr(&o));
        assert_eq!(sort(read_rows(&out)), expected, "{limit}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap())
                .unwrap();
        let engine = &summary["engine"];
        match engine["partitions"].as_u64() {
            Some(2) if engine["spilled_bytes"].as_u64().unwrap() > 0 => spilled += 1,
            Some(2) => {}
            Some(1) => assert!(
                stderr(&o).contains("computing again on one"),
                "{limit}: {}",
                stderr(&o)
            ),
            other => panic!("{limit}: partitions {other:?}"),
        }
    }
    assert!(
        spilled > 0,
        "no run spilled on two partitions, so the case was not exercised"
    );
}

#[test]
fn parallelism_defaults_to_the_cores() {
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        pqlsync_sql::engine::EngineConfig::default().target_partitions,
        cores
    );
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), Path::new("/nowhere"), "");
    assert_eq!(config(dir.path()).engine.target_partitions, cores);
}
