//! The deployment examples in `deploy/` and the `Dockerfile` say what they must: the command
//! lines they run parse as pqlsync's CLI (a renamed flag breaks this test, not a customer's
//! schedule), the Kubernetes CronJob never overlaps, takes the token from a Secret and keeps
//! its state on an object store, and the image is built with the toolchain CI uses.

use std::path::Path;

use clap::Parser;
use pqlsync::cli::{Cli, Command};
use pqlsync::logging::LogFormat;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `argv` must parse as a scheduled `run` with JSON logs and yesterday as the scoring day.
fn a_scheduled_run(source: &str, argv: &[String]) {
    let cli = Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{source}: `{}` does not parse:\n{e}", argv.join(" ")));
    assert!(matches!(cli.command, Command::Run(_)), "{source}: {argv:?}");
    assert_eq!(cli.global.log_format, LogFormat::Json, "{source}");
    assert!(cli.global.as_of.is_some(), "{source}: no --as-of");
}

/// The YAML list items under the line `key:` at its indentation + 2.
fn yaml_list(text: &str, key: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| l.trim() != key);
    let head = lines.next().unwrap_or_else(|| panic!("no `{key}`"));
    let indent = head.len() - head.trim_start().len();
    lines
        .take_while(|l| l.len() - l.trim_start().len() > indent && l.trim_start().starts_with("- "))
        .map(|l| l.trim_start()[2..].trim().to_string())
        .collect()
}

#[test]
fn the_cronjob_runs_a_valid_command_one_at_a_time_with_the_token_from_a_secret() {
    let yaml = read("deploy/kubernetes/cronjob.yaml");
    let mut argv = vec!["pqlsync".to_string()];
    argv.extend(yaml_list(&yaml, "args:"));
    assert!(argv.len() > 4, "{argv:?}");
    a_scheduled_run("cronjob.yaml", &argv);
    assert!(yaml.contains("concurrencyPolicy: Forbid"));
    let env = yaml
        .split("- name: HUBSPOT_TOKEN")
        .nth(1)
        .expect("HUBSPOT_TOKEN in the container's env");
    assert!(
        env.trim_start().starts_with("valueFrom:\n") && env.contains("secretKeyRef:"),
        "the token must come from a Secret"
    );
    assert!(yaml.contains("runAsNonRoot: true"));
    // The config in the ConfigMap is valid, and everything a run remembers is on S3.
    let toml: String = yaml
        .split("pqlsync.toml: |\n")
        .nth(1)
        .expect("pqlsync.toml in the ConfigMap")
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let global = Cli::try_parse_from(&argv).unwrap().global;
    let path = Path::new("/etc/pqlsync/pqlsync.toml");
    let env = [("AWS_REGION".to_string(), "us-east-1".to_string())];
    let (config, _) = pqlsync::config::from_str(&toml, path, &global, &env)
        .unwrap_or_else(|e| panic!("the ConfigMap's pqlsync.toml: {e}"));
    for (what, url) in [
        ("state", &config.state.configured),
        ("history", &config.history.configured),
        ("incremental", &config.incremental.location.configured),
    ] {
        assert!(url.starts_with("s3://"), "{what} at {url}");
    }
    assert!(config.engine.memory_limit.is_some());
}

#[test]
fn the_airflow_dag_and_the_cron_line_run_valid_commands() {
    let dag = read("deploy/airflow/pqlsync_dag.py");
    let command: String = dag
        .split("bash_command=(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("a bash_command")
        .split('"')
        .skip(1)
        .step_by(2)
        .collect();
    let argv: Vec<String> = command
        .replace("{{ ds }}", "2026-11-19")
        .split_whitespace()
        .map(String::from)
        .collect();
    a_scheduled_run("pqlsync_dag.py", &argv);
    assert!(dag.contains("max_active_runs=1"));
    assert!(
        !dag.contains("HUBSPOT_TOKEN\":"),
        "the DAG must not pass the token"
    );

    let cron = read("deploy/cron/pqlsync.cron");
    let line = cron
        .lines()
        .find(|l| !l.starts_with('#') && l.contains("pqlsync --config"))
        .expect("a cron line");
    // `m h dom mon dow user command...`, then the command's stderr redirect.
    let command: Vec<String> = line
        .split_whitespace()
        .skip(6)
        .take_while(|w| !w.starts_with("2>"))
        .map(String::from)
        .collect();
    a_scheduled_run("pqlsync.cron", &command);
}

#[test]
fn the_image_is_built_with_the_toolchain_ci_uses_and_runs_as_a_user() {
    let dockerfile = read("Dockerfile");
    let pinned = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("ARG RUST_VERSION="))
        .expect("ARG RUST_VERSION=");
    let rustc = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(rustc.stdout).unwrap();
    assert!(
        version.starts_with(&format!("rustc {pinned} ")),
        "Dockerfile builds with {pinned}, CI with {version}"
    );
    assert!(dockerfile.contains("FROM rust:${RUST_VERSION}-"));
    let runtime = dockerfile
        .lines()
        .rfind(|l| l.starts_with("FROM "))
        .unwrap();
    assert!(runtime.contains(":nonroot"), "{runtime}");
    assert!(dockerfile.contains("\nUSER 65532"));
}
