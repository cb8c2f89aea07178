//! `[engine] kind = "ballista"`, end to end: a scheduler and two executors started as separate
//! `pqlsync cluster` processes on 127.0.0.1, and the job's queries run on them. The same SQL
//! must give the same `account_features`, the same decisions and the same HubSpot plan as the
//! local engine, from local files and from S3 (moto), which the executors read themselves.
//!
//! Built only with the `ballista` feature (`cargo test --release --features ballista --test
//! cluster`; `.ci/run` runs it with the cluster module's unit tests).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use common::moto::{demo_exports_on_s3, env};
use common::*;
use pqlsync::value::Value;

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
        let logs = dir.join("cluster-logs");
        std::fs::create_dir_all(&logs).unwrap();
        let binary = assert_cmd::cargo::cargo_bin("pqlsync");
        let command = |name: &str| {
            let mut c = StdCommand::new(&binary);
            c.current_dir(dir)
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
                .stdout(Stdio::null())
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
                    std::fs::read_to_string(self.logs.join(format!("executor-{i}.log")))
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

fn results(dir: &Path, env: &[(&str, String)], cluster: Option<&Cluster>) -> Results {
    let run = |args: &[&str]| {
        let mut cmd = pqlsync(dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        // A job the cluster lost must fail the test, not hang it.
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
    };
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

/// Send `signal` (`STOP`, `CONT`) to the cluster's executors, by process id.
fn signal_executors(cluster: &Cluster, signal: &str) {
    for p in &cluster.processes[1..] {
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
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 40, 10, 3);
    write_config(dir.path(), &data, "");
    let cluster = Cluster::start(dir.path(), 2, &[]);
    let there = on_cluster(dir.path(), &cluster, |c| c);
    let config = there.join("pqlsync.toml");
    let text = std::fs::read_to_string(&config).unwrap() + "job_timeout_secs = 5\n";
    std::fs::write(&config, text).unwrap();
    signal_executors(&cluster, "STOP");
    let started = Instant::now();
    let o = pqlsync(&there)
        .args(["features", "--out", "f.parquet"])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    signal_executors(&cluster, "CONT");
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
