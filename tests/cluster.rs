//! `[engine] kind = "ballista"`, end to end: a scheduler and two executors started as separate
//! `pqlsync cluster` processes on 127.0.0.1, and the job's queries run on them. The same SQL
//! must give the same `account_features`, the same decisions and the same HubSpot plan as the
//! local engine, from local files and from S3 (moto), which the executors read themselves.
//!
//! Built only with the `ballista` feature (`cargo test --release --features ballista --test
//! cluster`; `.ci/run` runs it with the cluster module's unit tests).

#[path = "it/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::moto::{demo_exports_on_s3, env};
use common::*;
use pqlsync_sql::value::Value;

/// A scheduler and executors, killed when dropped. Their stderr goes to files in `logs`,
/// shown when a test fails.
struct Cluster {
    processes: Vec<Child>,
    url: String,
    logs: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in &mut self.processes {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

impl Cluster {
    fn start(dir: &Path, executors: usize, env: &[(&str, String)]) -> Cluster {
        Cluster::start_with(dir, executors, env, &[])
    }

    /// [`Cluster::start`], each process with the global flags `flags` (`--log-format json`).
    fn start_with(dir: &Path, executors: usize, env: &[(&str, String)], flags: &[&str]) -> Cluster {
        let logs = dir.join("cluster-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let binary = assert_cmd::cargo::cargo_bin("pqlsync");
        let command = |name: &str| {
            let mut c = StdCommand::new(&binary);
            c.args(flags)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stderr(std::fs::File::create(logs.join(format!("{name}.log"))).unwrap());
            for (k, v) in env {
                c.env(k, v);
            }
            c
        };
        let mut scheduler = command("scheduler")
            .args(["cluster", "scheduler", "--bind", "127.0.0.1", "--port", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("scheduler starts");
        // The scheduler prints its address once it has a port.
        let mut line = String::new();
        BufReader::new(scheduler.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("df://"))
            .unwrap_or_else(|| panic!("scheduler said {line:?}"))
            .to_string();
        let mut cluster = Cluster {
            processes: vec![scheduler],
            url,
            logs: logs.clone(),
        };
        let address = cluster.url.trim_start_matches("df://").to_string();
        for i in 0..executors {
            // No port flags: two executors on one host pick free ports.
            let executor = command(&format!("executor-{i}"))
                .args([
                    "cluster",
                    "executor",
                    "--scheduler",
                    &address,
                    "--bind",
                    "127.0.0.1",
                ])
                .arg("--work-dir")
                .arg(dir.join(format!("executor-{i}")))
                .args(["--memory-limit", "1GiB", "--concurrent-tasks", "2"])
                .stdout(std::fs::File::create(logs.join(format!("executor-{i}.out"))).unwrap())
                .spawn()
                .expect("executor starts");
            cluster.processes.push(executor);
        }
        cluster.wait_for_executors(executors);
        cluster
    }

    /// Until every executor has said it is registering (each prints a line as it starts).
    fn wait_for_executors(&self, n: usize) {
        let started = Instant::now();
        loop {
            let up = (0..n)
                .filter(|i| {
                    std::fs::read_to_string(self.logs.join(format!("executor-{i}.out")))
                        .is_ok_and(|s| s.contains("registering with scheduler"))
                })
                .count();
            if up == n {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "executors did not start:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(&self.logs).unwrap().flatten() {
            out.push_str(&format!(
                "--- {}\n{}\n",
                entry.file_name().to_string_lossy(),
                std::fs::read_to_string(entry.path()).unwrap_or_default()
            ));
        }
        out
    }

    fn engine(&self) -> String {
        format!("\n[engine]\nkind = \"ballista\"\nurl = \"{}\"\n", self.url)
    }
}

/// Rows of a features or decisions file, in account order, every column as a value.
fn rows(path: &Path) -> Vec<Vec<(String, Value)>> {
    let mut rows = read_rows(path);
    rows.sort_by_cached_key(|row| format!("{:?}", get(row, "account_id")));
    rows
}

/// What `features`, `score` and `run --dry-run` produce in `dir` with the config there.
struct Results {
    features: Vec<Vec<(String, Value)>>,
    decisions: Vec<Vec<(String, Value)>>,
    plan: serde_json::Value,
}

/// `pqlsync ARGS` in `dir` with the environment `env`, which must succeed, and within a
/// bound: a job the cluster lost must fail the test, not hang it.
fn ok(dir: &Path, env: &[(&str, String)], cluster: Option<&Cluster>, args: &[&str]) {
    let mut cmd = pqlsync(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd
        .args(args)
        .timeout(Duration::from_secs(240))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "pqlsync {args:?}: {}\n{}",
        stderr(&o),
        cluster.map(Cluster::logs).unwrap_or_default()
    );
}

fn results(dir: &Path, env: &[(&str, String)], cluster: Option<&Cluster>) -> Results {
    let run = |args: &[&str]| ok(dir, env, cluster, args);
    run(&["features", "--out", "features.parquet"]);
    run(&["score", "--out", "decisions.parquet"]);
    run(&["run", "--dry-run", "--summary-json", "plan.json"]);
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    // What differs by engine and by run: the engine's own figures, where the data was read
    // from, and timings (each stage's among them).
    for key in ["engine", "sources", "outputs", "stages"] {
        plan.as_object_mut().unwrap().remove(key);
    }
    drop_timings(&mut plan);
    Results {
        features: rows(&dir.join("features.parquet")),
        decisions: rows(&dir.join("decisions.parquet")),
        plan,
    }
}

fn drop_timings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|k, _| !(k.contains("seconds") || k.ends_with("_ms")));
            map.values_mut().for_each(drop_timings);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_timings),
        _ => {}
    }
}

fn assert_same(local: &Results, cluster: &Results) {
    assert!(
        local.features.len() > 50,
        "{} accounts",
        local.features.len()
    );
    assert_eq!(local.features.len(), cluster.features.len());
    for (l, c) in local.features.iter().zip(&cluster.features) {
        assert_eq!(l, c, "account_features differ");
    }
    assert_eq!(local.decisions.len(), cluster.decisions.len());
    for (l, c) in local.decisions.iter().zip(&cluster.decisions) {
        assert_eq!(l, c, "decisions differ");
    }
    assert_eq!(local.plan, cluster.plan, "the HubSpot plans differ");
}

/// The config in `dir` (written for the local run) as a second directory's config with the
/// cluster engine, so both runs have their own state and output.
fn on_cluster(dir: &Path, cluster: &Cluster, rewrite: impl Fn(String) -> String) -> PathBuf {
    let there = dir.join("cluster-run");
    std::fs::create_dir_all(&there).unwrap();
    let config = std::fs::read_to_string(dir.join("pqlsync.toml"))
        .unwrap()
        .replace(
            &dir.join("state").display().to_string(),
            &there.join("state").display().to_string(),
        );
    std::fs::write(
        there.join("pqlsync.toml"),
        rewrite(config) + &cluster.engine(),
    )
    .unwrap();
    there
}

#[test]
fn a_cluster_gives_the_same_features_decisions_and_plan_as_the_local_engine() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 160, 30, 21);
    write_config(dir.path(), &data, "");
    let local = results(dir.path(), &[], None);

    let cluster = Cluster::start(dir.path(), 2, &[]);
    let there = on_cluster(dir.path(), &cluster, |c| c);
    let remote = results(&there, &[], Some(&cluster));
    assert_same(&local, &remote);
    // The second run extends the rollup the first wrote, on the cluster too.
    let again = results(&there, &[], Some(&cluster));
    assert_same(&local, &again);
}

/// `config` without its per-event datasets (`[sources.events]`), which the input contract
/// allows: their views read an empty stand-in.
fn without_events(config: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in config.lines() {
        if line.starts_with('[') {
            skipping = line.trim() == "[sources.events]";
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Without per-event datasets `features` waited forever on the cluster (the scheduler could
/// not combine a stage's metrics and never finished the job), while the local engine took a
/// second.
#[test]
fn a_config_without_per_event_datasets_hung_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 160, 30, 21);
    let config = write_config(dir.path(), &data, "");
    let text = without_events(&std::fs::read_to_string(&config).unwrap());
    assert!(!text.contains("rows_imported"), "{text}");
    std::fs::write(&config, text).unwrap();
    let local = results(dir.path(), &[], None);

    let cluster = Cluster::start(dir.path(), 2, &[]);
    let there = on_cluster(dir.path(), &cluster, |c| c);
    let remote = results(&there, &[], Some(&cluster));
    assert_same(&local, &remote);
}

/// PostHog's shape (events and persons models, JSON properties) gives on the cluster what it
/// gives locally.
#[test]
fn posthog_exports_give_the_same_results_on_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data_as(dir.path(), "posthog", 160, 30, 21);
    write_config_as(dir.path(), "posthog", &data, "");
    let local = results(dir.path(), &[], None);
    let cluster = Cluster::start(dir.path(), 2, &[]);
    let there = on_cluster(dir.path(), &cluster, |c| c);
    assert_same(&local, &results(&there, &[], Some(&cluster)));
}

/// Every file under `dir` (its path below `dir` → its text), JSON without its timings.
fn texts(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => std::fs::read_to_string(&path).unwrap(),
            Some("json") => {
                let mut v: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                drop_timings(&mut v);
                if let Some(o) = v.as_object_mut() {
                    o.remove("generated_at");
                    o.remove("config");
                }
                v.to_string()
            }
            _ => continue,
        };
        out.insert(name, text);
    }
    out
}

/// What `features` on two days in a row (the second extends the rollups the first wrote),
/// `backfill`, `report` and `calibrate` write in `dir`.
fn history_outputs(dir: &Path, cluster: Option<&Cluster>) -> HistoryOutputs {
    let run = |args: &[&str]| ok(dir, &[], cluster, args);
    let f = |name: &str| dir.join(name).display().to_string();
    run(&[
        "features",
        "--as-of",
        "2026-11-19",
        "--out",
        &f("day1.parquet"),
    ]);
    run(&[
        "features",
        "--as-of",
        "2026-11-20",
        "--out",
        &f("day2.parquet"),
    ]);
    run(&["backfill", "--from", "2026-11-10", "--to", "2026-11-20"]);
    run(&[
        "report",
        "--from",
        "2026-09-01",
        "--format",
        "csv",
        "--out",
        &f("report"),
    ]);
    run(&["calibrate", "--horizon", "14", "--out", &f("calibration")]);
    HistoryOutputs {
        extended: rows(&dir.join("day2.parquet")),
        report: texts(&dir.join("report")),
        calibration: texts(&dir.join("calibration")),
    }
}

struct HistoryOutputs {
    extended: Vec<Vec<(String, Value)>>,
    report: std::collections::BTreeMap<String, String>,
    calibration: std::collections::BTreeMap<String, String>,
}

/// The commands beyond a day's run: an incremental run extending the rollups, a backfill, the
/// report over the history it wrote, and a calibration, each the same on the cluster.
#[test]
fn backfill_report_calibrate_and_an_incremental_day_give_the_same_output_on_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = pqlsync(dir.path())
        .args(["demo-data", "--plant", "--out"])
        .arg(&data)
        .args(["--accounts", "1200", "--days", "60", "--history-days", "60"])
        .args(["--seed", "17", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    write_config(dir.path(), &data, "");
    let local = history_outputs(dir.path(), None);
    assert!(local.extended.len() > 100, "{}", local.extended.len());
    assert!(local.report.len() >= 5, "{:?}", local.report.keys());
    assert!(local.calibration.contains_key("calibration.json"));

    let cluster = Cluster::start(dir.path(), 2, &[]);
    let there = on_cluster(dir.path(), &cluster, |c| c);
    let remote = history_outputs(&there, Some(&cluster));
    assert_eq!(
        local.extended, remote.extended,
        "the extended day's features differ"
    );
    assert_eq!(
        local.report.keys().collect::<Vec<_>>(),
        remote.report.keys().collect::<Vec<_>>()
    );
    for (name, text) in &local.report {
        assert_eq!(text, &remote.report[name], "report table {name} differs");
    }
    assert_eq!(
        local.calibration, remote.calibration,
        "the calibrations differ"
    );
}

/// Demo exports of `accounts` accounts in a temporary directory with their config, a cluster
/// of two executors (each process with the global `flags`), and a second directory whose
/// config runs on it: the directory, the exports, the cluster and the second directory.
fn demo_on_cluster(
    accounts: u32,
    days: u32,
    seed: u64,
    flags: &[&str],
) -> (tempfile::TempDir, PathBuf, Cluster, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), accounts, days, seed);
    write_config(dir.path(), &data, "");
    let cluster = Cluster::start_with(dir.path(), 2, &[], flags);
    let there = on_cluster(dir.path(), &cluster, |c| c);
    (dir, data, cluster, there)
}

/// Add `line` to the `[engine]` section the cluster config in `there` ends with.
fn engine_setting(there: &Path, line: &str) {
    let config = there.join("pqlsync.toml");
    let text = std::fs::read_to_string(&config).unwrap() + line + "\n";
    std::fs::write(&config, text).unwrap();
}

/// `pqlsync cluster` processes honour `--log-format json`: every line a scheduler and its
/// executors write while serving a job (Ballista's own log records included) is a JSON object.
#[test]
fn cluster_processes_log_json_lines() {
    let (_dir, _, cluster, there) = demo_on_cluster(40, 10, 3, &["--log-format", "json", "-v"]);
    ok(
        &there,
        &[],
        Some(&cluster),
        &["features", "--out", "f.parquet"],
    );
    let logs = std::fs::read_dir(&cluster.logs).unwrap().flatten();
    let mut lines = 0;
    // Their stderr (`*.log`); stdout (`*.out`) carries each one's address, as for people.
    for entry in logs.filter(|e| e.path().extension().is_some_and(|x| x == "log")) {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for line in text.lines() {
            let event: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", entry.path().display()));
            assert!(
                event["level"].is_string() && event["message"].is_string(),
                "{line}"
            );
            lines += 1;
        }
    }
    assert!(lines >= 3, "{lines} lines:\n{}", cluster.logs());
}

/// A stage that fails on an executor (a data page only the executors decode is corrupt; the
/// footers the scheduler plans from are sound) fails the job, and the run ends at once with
/// exit 2 naming the dataset and the file, as on the local engine.
#[test]
fn a_stage_failing_on_an_executor_fails_the_run_naming_the_file() {
    let (_dir, data, cluster, there) = demo_on_cluster(40, 10, 3, &[]);
    let file = corrupt_data_pages(&data.join("tracks/day=2026-11-19"));
    let started = Instant::now();
    let o = features_job(&there, 120).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}\n{}",
        stderr(&o),
        cluster.logs()
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let err = stderr(&o);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        err.contains("dataset `tracks`") && err.contains(&format!("day=2026-11-19/{name}")),
        "{err}"
    );
}

/// `features --out f.parquet` in `dir`, killed after `secs` so a hang fails the test.
fn features_job(dir: &Path, secs: u64) -> assert_cmd::Command {
    let mut job = pqlsync(dir);
    job.args(["features", "--out", "f.parquet"])
        .timeout(Duration::from_secs(secs));
    job
}

/// Start `features` on the cluster, kill one executor 700 ms in, and return the run's
/// output, how long it took, the directory (with the local engine's `local.parquet`), the
/// cluster run's directory and the cluster's logs.
fn kill_an_executor_mid_job() -> (
    std::process::Output,
    Duration,
    tempfile::TempDir,
    PathBuf,
    String,
) {
    let (dir, _, mut cluster, there) = demo_on_cluster(400, 45, 8, &[]);
    engine_setting(&there, "job_timeout_secs = 30");
    let local = dir.path().join("local.parquet");
    ok(
        dir.path(),
        &[],
        None,
        &["features", "--out", &local.display().to_string()],
    );
    let started = Instant::now();
    let mut job = features_job(&there, 150);
    let handle = std::thread::spawn(move || job.output().unwrap());
    std::thread::sleep(Duration::from_millis(700));
    let mut victim = cluster.processes.pop().unwrap();
    victim.kill().unwrap();
    victim.wait().unwrap();
    let o = handle.join().unwrap();
    let elapsed = started.elapsed();
    let logs = cluster.logs();
    (o, elapsed, dir, there, logs)
}

/// An executor killed mid-job never hangs the run: it completes on the survivor or fails
/// clearly (exit 2) within the deadline.
#[test]
fn an_executor_killed_mid_job_never_hangs_the_run() {
    let (o, elapsed, _, _, logs) = kill_an_executor_mid_job();
    assert!(elapsed < Duration::from_secs(120), "{elapsed:?}");
    match o.status.code() {
        Some(0) => {}
        Some(2) => assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o)),
        other => panic!("exit {other:?}: {}\n{logs}", stderr(&o)),
    }
}

/// Ballista 55 can finish a job whose executor was killed mid-stage with some rows counted
/// twice (`events_14d` 60 where the local engine says 27, `rows_imported_14d` exactly
/// doubled): the stages it re-runs on the survivor add to what the lost executor had already
/// shuffled. pqlsync cannot see this from the client, so README tells operators to rerun a
/// day during which an executor died. Ignored because it fails only sometimes (in two of four
/// runs of this file on 2026-12-06, under its parallel load); run it with `--ignored` to check a
/// new Ballista.
#[test]
#[ignore = "upstream Ballista 55 bug: an executor lost mid-stage can double rows"]
fn an_executor_killed_mid_job_counted_some_rows_twice() {
    for _ in 0..5 {
        let (o, _, dir, there, _) = kill_an_executor_mid_job();
        if o.status.code() == Some(0) {
            assert_eq!(
                rows(&there.join("f.parquet")),
                rows(&dir.path().join("local.parquet")),
                "completed on the survivor, differently"
            );
        }
    }
}

/// Send `signal` (`STOP`, `CONT`) to `processes`, by process id.
fn signal(processes: &[Child], signal: &str) {
    for p in processes {
        let ok = StdCommand::new("kill")
            .arg(format!("-{signal}"))
            .arg(p.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{signal} {}", p.id());
    }
}

/// A job whose executors stopped answering kept the client polling the scheduler forever.
/// With every executor frozen, `features` fails within `[engine] job_timeout_secs`, naming it.
#[test]
fn a_job_on_frozen_executors_was_waited_for_forever() {
    let (_dir, _, cluster, there) = demo_on_cluster(40, 10, 3, &[]);
    engine_setting(&there, "job_timeout_secs = 5");
    signal(&cluster.processes[1..], "STOP");
    let started = Instant::now();
    let o = features_job(&there, 120).output().unwrap();
    let elapsed = started.elapsed();
    signal(&cluster.processes[1..], "CONT");
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}\n{}",
        stderr(&o),
        cluster.logs()
    );
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    let err = stderr(&o);
    assert!(
        err.contains("answered nothing for 5 s ([engine] job_timeout_secs)"),
        "{err}"
    );
    assert!(!there.join("f.parquet").exists());
}

/// Start `features` on a cluster whose executors are frozen, and return once the scheduler
/// holds its job (so what the test then does to the scheduler happens mid-job), with the
/// handle of the job process.
fn job_held_by_the_scheduler(
    cluster: &Cluster,
    there: &Path,
) -> std::thread::JoinHandle<std::process::Output> {
    signal(&cluster.processes[1..], "STOP");
    let mut job = features_job(there, 150);
    let handle = std::thread::spawn(move || job.output().unwrap());
    let started = Instant::now();
    while !cluster.logs().contains("Job submitted") {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no job reached the scheduler:\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    handle
}

/// A scheduler frozen mid-job (a paused VM, a process stuck on a full disk) left the job
/// process waiting on its status stream for Ballista's 300 s keepalive and more. With
/// `[engine] heartbeat_secs`, the first unanswered ping ends the run with exit 2, naming the
/// scheduler, long before `job_timeout_secs`.
#[test]
fn a_frozen_scheduler_kept_the_run_waiting() {
    let (_dir, _, cluster, there) = demo_on_cluster(40, 10, 3, &["-vv"]);
    engine_setting(&there, "job_timeout_secs = 600\nheartbeat_secs = 1");
    let handle = job_held_by_the_scheduler(&cluster, &there);
    let frozen = Instant::now();
    signal(&cluster.processes[..1], "STOP");
    let o = handle.join().unwrap();
    let waited = frozen.elapsed();
    signal(&cluster.processes, "CONT");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(waited < Duration::from_secs(60), "{waited:?}");
    let err = stderr(&o);
    assert!(
        err.contains(&cluster.url) && err.contains("[engine] heartbeat_secs"),
        "{err}"
    );
    assert!(!there.join("f.parquet").exists());
}

/// A scheduler killed mid-job ends the run at once with exit 2, naming the scheduler.
#[test]
fn a_scheduler_killed_mid_job_ends_the_run_naming_it() {
    let (_dir, _, mut cluster, there) = demo_on_cluster(40, 10, 3, &["-vv"]);
    let handle = job_held_by_the_scheduler(&cluster, &there);
    let killed = Instant::now();
    cluster.processes[0].kill().unwrap();
    cluster.processes[0].wait().unwrap();
    let o = handle.join().unwrap();
    let waited = killed.elapsed();
    signal(&cluster.processes[1..], "CONT");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(waited < Duration::from_secs(30), "{waited:?}");
    let err = stderr(&o);
    assert!(err.contains(&cluster.url), "{err}");
    assert!(!there.join("f.parquet").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn executors_read_the_exports_from_s3_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let Some((moto, data, _s3)) = demo_exports_on_s3(dir.path()).await else {
        return;
    };
    write_config(dir.path(), &data, "");
    let local = tokio::task::block_in_place(|| results(dir.path(), &[], None));

    // Only the cluster's processes and the job get the credentials; the exports exist only in
    // the bucket's copy for the cluster run.
    let env = env(moto.port);
    let cluster = Cluster::start(dir.path(), 2, &env);
    let there = on_cluster(dir.path(), &cluster, |c| {
        c.replace(&format!("{}/", data.display()), "s3://exports/segment/")
    });
    let config = std::fs::read_to_string(there.join("pqlsync.toml")).unwrap();
    assert!(config.contains("s3://exports/segment/tracks"), "{config}");
    let remote = tokio::task::block_in_place(|| results(&there, &env, Some(&cluster)));
    assert_same(&local, &remote);
}

#[test]
fn an_unreachable_scheduler_is_a_clear_error_naming_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 20, 10, 3);
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    write_config(
        dir.path(),
        &data,
        &format!("\n[engine]\nkind = \"ballista\"\nurl = \"df://127.0.0.1:{port}\"\n"),
    );
    let o = pqlsync(dir.path())
        .args(["features", "--out", "f.parquet"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("df://127.0.0.1:{port}"))
            && err.contains("pqlsync cluster scheduler"),
        "{err}"
    );
    assert!(!dir.path().join("f.parquet").exists());
}
