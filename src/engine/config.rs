//! `[engine]`: DataFusion limits, parsed and validated here, beside the session they size.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::setting::Invalid;

/// `[engine]`: DataFusion limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineFile {
    /// Memory the query engine may use, e.g. `"512MB"` or `"4GiB"`; beyond it, sorts and
    /// aggregations spill to disk. Default: unbounded.
    pub memory_limit: Option<String>,
    /// Parallelism of query execution. Default: the number of CPU cores, or 1 when
    /// `memory_limit` is set: in DataFusion 55 a query that spills between two or more
    /// partitions can hang (apache/datafusion#24883), so a bounded run is single-partition
    /// unless you set this.
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
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            memory_limit: None,
            target_partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 8192,
            spill_dir: None,
            kind: EngineKind::Local,
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
        } else if engine.memory_limit.is_some() {
            // DataFusion 55's repartition spill pool can deadlock when two partitions spill at
            // once (apache/datafusion#24883); one partition cannot.
            engine.target_partitions = 1;
        }
        if let Some(n) = file.batch_size {
            if n == 0 {
                return Err(Invalid::new("engine.batch_size", "must be at least 1"));
            }
            engine.batch_size = n;
        }
        engine.spill_dir = file.spill_dir.as_deref().map(|d| base.join(d));
        engine.kind = kind(file.kind.as_deref(), file.url.as_deref())?;

        Ok(engine)
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
