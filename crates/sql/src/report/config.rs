//! `[report]`: where the cohort and funnel report goes and how many weeks it covers, parsed
//! and validated beside the report.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use pqlsync_core::setting::Invalid;

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFile {
    /// Directory `report` writes to when `--out` is not given (default `out/report`).
    pub dir: Option<String>,
    /// Weeks of trial cohorts a report covers when `--from` is not given (default 26).
    pub weeks: Option<u32>,
    /// `[report.health]`: when model health says "recalibrate".
    pub health: Option<HealthFile>,
}

/// `[report.health]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthFile {
    /// How far below the calibration's holdout AUC a month's AUC may fall (default 0.05).
    pub auc_margin: Option<f64>,
    /// The PSI above which a month's scores drifted (default 0.2).
    pub psi_limit: Option<f64>,
    /// `run` warns of a PQL threshold no account reached in this many runs (default 14).
    pub unreached_runs: Option<u32>,
}

/// The validated `[report.health]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    pub auc_margin: f64,
    pub psi_limit: f64,
    pub unreached_runs: u32,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            auc_margin: 0.05,
            psi_limit: 0.2,
            unreached_runs: 14,
        }
    }
}

impl Health {
    fn from_file(file: Option<&HealthFile>) -> Result<Health, Invalid> {
        let mut health = Health::default();
        let Some(file) = file else {
            return Ok(health);
        };
        if let Some(m) = file.auc_margin {
            if !(m.is_finite() && (0.0..0.5).contains(&m)) {
                return Err(Invalid::new(
                    "report.health.auc_margin",
                    format!("must be from 0 to 0.5 (AUC points), got {m}"),
                ));
            }
            health.auc_margin = m;
        }
        if let Some(p) = file.psi_limit {
            if !(p.is_finite() && p > 0.0) {
                return Err(Invalid::new(
                    "report.health.psi_limit",
                    format!("must be a positive number (0.2 is the usual limit), got {p}"),
                ));
            }
            health.psi_limit = p;
        }
        if let Some(n) = file.unreached_runs {
            if n == 0 {
                return Err(Invalid::new(
                    "report.health.unreached_runs",
                    "must be at least 1",
                ));
            }
            health.unreached_runs = n;
        }
        Ok(health)
    }
}

/// The validated `[report]`.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// `[report] dir`, default `out/report` (under `[output] dir`).
    pub dir: PathBuf,
    /// Cohort weeks a report covers by default.
    pub weeks: u32,
    pub health: Health,
}

impl ReportConfig {
    /// Validate `[report]`; a relative `dir` resolves against `base`, the default is
    /// `report` under `output_dir` (as written, relative to `base` too).
    pub fn from_file(
        file: &ReportFile,
        base: &Path,
        output_dir: &str,
    ) -> Result<ReportConfig, Invalid> {
        let weeks = file.weeks.unwrap_or(26);
        if weeks == 0 {
            return Err(Invalid::new("report.weeks", "must be at least 1"));
        }
        Ok(ReportConfig {
            dir: base.join(
                file.dir
                    .as_deref()
                    .map_or_else(|| Path::new(output_dir).join("report"), PathBuf::from),
            ),
            weeks,
            health: Health::from_file(file.health.as_ref())?,
        })
    }
}
