//! `[engine]`: DataFusion limits, parsed and validated here, beside the session they size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use pqlsync_core::setting::Invalid;

/// `[engine]`: DataFusion limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineFile {
    /// Memory the query engine may use, e.g. `"512MB"` or `"4GiB"`; beyond it, sorts and
    /// aggregations spill to disk. Default: unbounded.
    pub memory_limit: Option<String>,
    /// Parallelism of query execution. Default: the number of CPU cores, with or without
    /// `memory_limit` (the memory pool keeps repartitions off DataFusion 55's spill deadlock,
    /// apache/datafusion#24883; see `engine::memory`).
    pub target_partitions: Option<usize>,
    /// Rows per Arrow record batch. Default: 8192.
    pub batch_size: Option<usize>,
    /// Directory for spill files. Default: the system temp directory.
    pub spill_dir: Option<String>,
    /// `"local"` (default): DataFusion in this process. `"ballista"`: the feature and report
    /// queries run on an Apache DataFusion Ballista cluster (a build with the `ballista`
    /// feature); scoring, routing and the sync stay here.
    pub kind: Option<String>,
    /// The Ballista scheduler, `df://host:port`, with `kind = "ballista"`.
    pub url: Option<String>,
    /// With `kind = "ballista"`: how long a query may wait for its cluster job without an
    /// answer before the run fails. Default: 1800 (30 minutes).
    pub job_timeout_secs: Option<u64>,
    /// With `kind = "ballista"`: how often the job process pings the scheduler while it waits
    /// for a job; a scheduler that misses a ping's 20 s answer window ends the run. Default: 15.
    pub heartbeat_secs: Option<u64>,
    /// DataFusion settings by their full name (`"datafusion.execution.batch_size" = 16384`),
    /// applied after pqlsync's own, as `SET` would in datafusion-cli.
    pub datafusion: Option<BTreeMap<String, toml::Value>>,
}

/// Where queries run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// DataFusion in this process.
    #[default]
    Local,
    /// A Ballista cluster; `url` is the scheduler's gRPC address as `df://host:port`.
    Ballista { url: String },
}

/// Whether this binary can talk to a Ballista cluster.
pub const BALLISTA_BUILT: bool = cfg!(feature = "ballista");

/// The validated `[engine]`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub memory_limit: Option<usize>,
    pub target_partitions: usize,
    pub batch_size: usize,
    pub spill_dir: Option<PathBuf>,
    pub kind: EngineKind,
    /// `[engine.datafusion]`, each value as text, checked against DataFusion's options.
    pub datafusion: Vec<(String, String)>,
    /// `[engine] job_timeout_secs`: the longest a cluster query waits for an answer.
    pub job_timeout: std::time::Duration,
    /// `[engine] heartbeat_secs`: how often the job process pings a cluster's scheduler.
    pub heartbeat: std::time::Duration,
}

/// `[engine] job_timeout_secs` by default: a nightly job's queries take minutes, and a job
/// the cluster lost should fail well before the next night's run.
pub const DEFAULT_JOB_TIMEOUT_SECS: u64 = 1800;

/// `[engine] heartbeat_secs` by default: a frozen or unplugged scheduler is noticed within
/// about 35 s (a ping, then HTTP/2's 20 s answer window), while a ping every 15 s costs the
/// scheduler nothing. Ballista's own default is 300 s.
pub const DEFAULT_HEARTBEAT_SECS: u64 = 15;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            memory_limit: None,
            target_partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 8192,
            spill_dir: None,
            kind: EngineKind::Local,
            datafusion: Vec::new(),
            job_timeout: std::time::Duration::from_secs(DEFAULT_JOB_TIMEOUT_SECS),
            heartbeat: std::time::Duration::from_secs(DEFAULT_HEARTBEAT_SECS),
        }
    }
}

impl EngineConfig {
    /// Validate `[engine]`; a relative `spill_dir` resolves against `base`.
    pub fn from_file(file: &EngineFile, base: &Path) -> Result<EngineConfig, Invalid> {
        let mut engine = EngineConfig::default();
        if let Some(limit) = &file.memory_limit {
            engine.memory_limit =
                Some(parse_bytes(limit).map_err(|m| Invalid::new("engine.memory_limit", m))?);
        }
        if let Some(n) = file.target_partitions {
            if n == 0 {
                return Err(Invalid::new(
                    "engine.target_partitions",
                    "must be at least 1",
                ));
            }
            engine.target_partitions = n;
        }
        if let Some(n) = file.batch_size {
            if n == 0 {
                return Err(Invalid::new("engine.batch_size", "must be at least 1"));
            }
            engine.batch_size = n;
        }
        engine.spill_dir = file.spill_dir.as_deref().map(|d| base.join(d));
        engine.kind = kind(file.kind.as_deref(), file.url.as_deref())?;
        engine.datafusion = datafusion_options(file.datafusion.as_ref())?;
        if let Some(d) = cluster_secs(file.job_timeout_secs, "job_timeout_secs", &engine.kind)? {
            engine.job_timeout = d;
        }
        if let Some(d) = cluster_secs(file.heartbeat_secs, "heartbeat_secs", &engine.kind)? {
            engine.heartbeat = d;
        }

        Ok(engine)
    }
}

/// A cluster-only `[engine] <key>` in whole seconds: at least 1, and an error with the local
/// engine, where it would silently mean nothing.
fn cluster_secs(
    value: Option<u64>,
    key: &str,
    kind: &EngineKind,
) -> Result<Option<std::time::Duration>, Invalid> {
    let at = || format!("engine.{key}");
    match value {
        None => Ok(None),
        Some(_) if *kind == EngineKind::Local => Err(Invalid::new(
            at(),
            "is only read with kind = \"ballista\" (the local engine has no cluster job to \
             watch); remove it or set engine.kind",
        )),
        Some(0) => Err(Invalid::new(at(), "must be at least 1")),
        Some(n) => Ok(Some(std::time::Duration::from_secs(n))),
    }
}

/// `[engine] kind` and `url`.
fn kind(kind: Option<&str>, url: Option<&str>) -> Result<EngineKind, Invalid> {
    match (kind.unwrap_or("local"), url) {
        ("local", None) => Ok(EngineKind::Local),
        ("local", Some(_)) => Err(Invalid::new(
            "engine.url",
            "is only read with kind = \"ballista\"; remove it or set engine.kind",
        )),
        ("ballista", _) if !BALLISTA_BUILT => Err(Invalid::new(
            "engine.kind",
            "\"ballista\" needs a pqlsync built with the `ballista` feature \
             (cargo build --release --features ballista)",
        )),
        ("ballista", None) => Err(Invalid::new(
            "engine.url",
            "is required with kind = \"ballista\": the scheduler, like \"df://scheduler-host:50050\"",
        )),
        ("ballista", Some(url)) => scheduler_url(url)
            .map(|url| EngineKind::Ballista { url })
            .map_err(|m| Invalid::new("engine.url", m)),
        (other, _) => Err(Invalid::new(
            "engine.kind",
            format!("`{other}` is not an engine: use \"local\" or \"ballista\""),
        )),
    }
}

/// `[engine.datafusion]`: every key must be a DataFusion setting that takes the value given.
/// The settings pqlsync derives from `[engine]` itself are refused here, so there is one
/// place for each.
fn datafusion_options(
    table: Option<&BTreeMap<String, toml::Value>>,
) -> Result<Vec<(String, String)>, Invalid> {
    const OWN: [(&str, &str); 3] = [
        (
            "datafusion.execution.target_partitions",
            "engine.target_partitions",
        ),
        ("datafusion.execution.batch_size", "engine.batch_size"),
        ("datafusion.runtime.memory_limit", "engine.memory_limit"),
    ];
    let mut out = Vec::new();
    for (key, value) in table.into_iter().flatten() {
        let at = || format!("engine.datafusion.\"{key}\"");
        if let Some((_, own)) = OWN.iter().find(|(k, _)| k == key) {
            return Err(Invalid::new(at(), format!("set {own} instead")));
        }
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(x) => x.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(Invalid::new(
                    at(),
                    format!(
                        "must be a string, number or boolean, not {}",
                        other.type_str()
                    ),
                ));
            }
        };
        let mut probe = datafusion::config::ConfigOptions::new();
        probe.set(key, &text).map_err(|e| {
            Invalid::new(
                at(),
                format!("{e}; see https://datafusion.apache.org/user-guide/configs.html"),
            )
        })?;
        out.push((key.clone(), text));
    }
    Ok(out)
}

/// `df://host:port` checked and returned as given.
fn scheduler_url(url: &str) -> Result<String, String> {
    let rest = url.trim().strip_prefix("df://").ok_or_else(|| {
        format!("`{url}` is not a scheduler address: write it as \"df://host:port\"")
    })?;
    match host_port(rest) {
        Some((host, port)) => Ok(format!("df://{host}:{port}")),
        None => Err(format!(
            "`{url}` needs a host and a port, like \"df://scheduler-host:50050\""
        )),
    }
}

/// `host:port` with a host and a port above 0: a scheduler's address, as the job's
/// `[engine] url` names it (after `df://`) and as an executor's `--scheduler` does.
pub fn host_port(s: &str) -> Option<(&str, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then_some((host, port))
}

/// `"512MB"`, `"4GiB"`, `"1.5G"`, `"1048576"` → bytes. Decimal units are powers of 1000,
/// binary units (`KiB`, `MiB`, `GiB`) powers of 1024.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size like \"512MB\" or \"4GiB\""))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024f64.powi(4),
        other => {
            return Err(format!(
                "`{s}`: unknown unit `{other}` (use B, KB, MB, GB, KiB, MiB, GiB)"
            ));
        }
    };
    let bytes = n * mult;
    if bytes < 1.0 {
        return Err(format!("`{s}` is too small"));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datafusion_settings_are_checked_against_datafusion() {
        let table = |key: &str, value: toml::Value| BTreeMap::from([(key.to_string(), value)]);
        // key, value, the text applied or the start of the error.
        let cases: [(&str, toml::Value, Result<&str, &str>); 6] = [
            (
                "datafusion.execution.parquet.pushdown_filters",
                toml::Value::Boolean(false),
                Ok("false"),
            ),
            (
                "datafusion.execution.skip_partial_aggregation_probe_rows_threshold",
                toml::Value::Integer(50000),
                Ok("50000"),
            ),
            (
                "datafusion.execution.no_such_setting",
                toml::Value::Boolean(true),
                Err("engine.datafusion.\"datafusion.execution.no_such_setting\""),
            ),
            (
                "datafusion.execution.parquet.pushdown_filters",
                toml::Value::String("perhaps".into()),
                Err("engine.datafusion.\"datafusion.execution.parquet.pushdown_filters\""),
            ),
            (
                "datafusion.execution.batch_size",
                toml::Value::Integer(4096),
                Err("engine.datafusion.\"datafusion.execution.batch_size\": set engine.batch_size"),
            ),
            (
                "datafusion.execution.parquet.pushdown_filters",
                toml::Value::Array(vec![]),
                Err("engine.datafusion.\"datafusion.execution.parquet.pushdown_filters\": must be"),
            ),
        ];
        for (key, value, expected) in cases {
            match (datafusion_options(Some(&table(key, value))), expected) {
                (Ok(applied), Ok(text)) => {
                    assert_eq!(applied, [(key.to_string(), text.to_string())])
                }
                (Err(e), Err(start)) => {
                    let shown = format!("{}: {}", e.key, e.message);
                    assert!(shown.starts_with(start), "{shown}");
                }
                (got, want) => panic!("{key}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn cluster_timings_are_read_with_the_cluster_only_and_above_zero() {
        type Set = fn(&mut EngineFile, Option<u64>);
        type Get = fn(&EngineConfig) -> u64;
        let keys: [(&str, Set, Get, u64); 2] = [
            (
                "engine.job_timeout_secs",
                |f, v| f.job_timeout_secs = v,
                |e| e.job_timeout.as_secs(),
                DEFAULT_JOB_TIMEOUT_SECS,
            ),
            (
                "engine.heartbeat_secs",
                |f, v| f.heartbeat_secs = v,
                |e| e.heartbeat.as_secs(),
                DEFAULT_HEARTBEAT_SECS,
            ),
        ];
        for (key, set, get, default) in keys {
            let got = |kind: &str, secs| {
                let mut f = EngineFile {
                    kind: Some(kind.into()),
                    url: (kind == "ballista").then(|| "df://h:50050".into()),
                    ..EngineFile::default()
                };
                set(&mut f, secs);
                EngineConfig::from_file(&f, Path::new("."))
                    .map(|e| get(&e))
                    .map_err(|e| e.key)
            };
            assert_eq!(got("local", None), Ok(default), "{key}");
            assert_eq!(got("local", Some(60)), Err(key.into()));
            if BALLISTA_BUILT {
                assert_eq!(got("ballista", None), Ok(default), "{key}");
                assert_eq!(got("ballista", Some(60)), Ok(60), "{key}");
                assert_eq!(got("ballista", Some(0)), Err(key.into()));
            }
        }
    }

    #[test]
    fn engine_kind_and_url() {
        let ballista = |url: &str| {
            if BALLISTA_BUILT {
                Ok(EngineKind::Ballista { url: url.into() })
            } else {
                Err("engine.kind")
            }
        };
        // Without the feature, any ballista config is refused for its kind first.
        let refused_url = if BALLISTA_BUILT {
            "engine.url"
        } else {
            "engine.kind"
        };
        // kind, url, the engine or the key the error names.
        type Case<'a> = (
            Option<&'a str>,
            Option<&'a str>,
            Result<EngineKind, &'a str>,
        );
        let cases: &[Case] = &[
            (None, None, Ok(EngineKind::Local)),
            (Some("local"), None, Ok(EngineKind::Local)),
            (Some("local"), Some("df://h:50050"), Err("engine.url")),
            (
                Some("ballista"),
                Some("df://h:50050"),
                ballista("df://h:50050"),
            ),
            (
                Some("ballista"),
                Some(" df://10.0.0.1:1 "),
                ballista("df://10.0.0.1:1"),
            ),
            (Some("ballista"), Some("http://h:50050"), Err(refused_url)),
            (Some("ballista"), Some("df://h"), Err(refused_url)),
            (Some("ballista"), Some("df://:50050"), Err(refused_url)),
            (Some("ballista"), None, Err(refused_url)),
            (Some("spark"), None, Err("engine.kind")),
        ];
        for (k, url, want) in cases {
            let got = kind(*k, *url).map_err(|e| e.key.clone());
            assert_eq!(got, want.clone().map_err(String::from), "{k:?} {url:?}");
        }
    }

    #[test]
    fn a_scheduler_address_needs_a_host_and_a_port_above_zero() {
        let cases = [
            ("scheduler:50050", Some(("scheduler", 50050))),
            ("10.0.0.1:1", Some(("10.0.0.1", 1))),
            ("scheduler", None),
            (":50050", None),
            ("scheduler:0", None),
            ("scheduler:65536", None),
            ("scheduler:x", None),
        ];
        for (s, want) in cases {
            assert_eq!(host_port(s), want, "{s}");
        }
    }

    #[test]
    fn without_the_feature_ballista_names_the_feature() {
        if !BALLISTA_BUILT {
            let e = kind(Some("ballista"), Some("df://h:1")).unwrap_err();
            assert!(e.message.contains("--features ballista"), "{e:?}");
        }
    }
}
