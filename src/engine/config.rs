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
}

/// The validated `[engine]`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub memory_limit: Option<usize>,
    pub target_partitions: usize,
    pub batch_size: usize,
    pub spill_dir: Option<PathBuf>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            memory_limit: None,
            target_partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 8192,
            spill_dir: None,
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

        Ok(engine)
    }
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
