//! `[report]`: where the cohort and funnel report goes and how many weeks it covers, parsed
//! and validated beside the report.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::setting::Invalid;

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFile {
    /// Directory `report` writes to when `--out` is not given (default `out/report`).
    pub dir: Option<String>,
    /// Weeks of trial cohorts a report covers when `--from` is not given (default 26).
    pub weeks: Option<u32>,
}

/// The validated `[report]`.
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// `[report] dir`, default `out/report` (under `[output] dir`).
    pub dir: PathBuf,
    /// Cohort weeks a report covers by default.
    pub weeks: u32,
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
        })
    }
}
