//! `pqlsync validate`: the config, every source against its contract, the SQL project planned
//! in order, and the scoring and routing rules against `account_features`' schema, all without
//! computing anything. What a scheduler runs before the first `run`, and CI after an analyst's
//! SQL change.

use std::fmt::Write as _;

use super::pipeline::Prepared;
use super::{Error, Report};
use crate::config::{Config, RunOptions};
use pqlsync_core::fmt::thousands;
use pqlsync_sql::decision;
use pqlsync_sql::features;
use pqlsync_sql::source::DatasetInfo;

/// What was checked, for people and for `--summary-json`.
#[derive(Debug, serde::Serialize)]
pub struct Validated {
    pub config: String,
    pub as_of: chrono::NaiveDate,
    pub sources: Vec<DatasetInfo>,
    /// SQL views in planning order: name and path relative to the SQL directory.
    pub views: Vec<(String, String)>,
    /// Seed tables: name and file name.
    pub seeds: Vec<(String, String)>,
    pub feature_columns: usize,
    pub fit_signals: usize,
    pub usage_signals: usize,
    pub expansion_signals: usize,
    pub disqualify_rules: usize,
    pub playbooks: usize,
}

impl Report for Validated {}

pub async fn validate(config: &Config, run: &RunOptions) -> Result<Validated, Error> {
    let engine = Prepared::plan(config, run).await?;
    let df = features::account_features(&engine.ctx).await?;
    let schema = df.schema().as_arrow().clone();
    decision::check_config(&config.scoring, &config.routing, &schema)?;
    decision::output_schema(&schema)?;
    Ok(Validated {
        config: config.path.display().to_string(),
        as_of: run.as_of,
        sources: engine.sources.clone(),
        views: engine
            .project
            .views
            .iter()
            .map(|v| {
                let rel = v.path.strip_prefix(&config.sql_dir).unwrap_or(&v.path);
                (v.name.clone(), rel.display().to_string())
            })
            .collect(),
        seeds: engine
            .project
            .seeds
            .iter()
            .map(|s| {
                let file = s.path.file_name().unwrap_or_default();
                (s.name.clone(), file.to_string_lossy().into_owned())
            })
            .collect(),
        feature_columns: schema.fields().len(),
        fit_signals: config.scoring.fit.len(),
        usage_signals: config.scoring.usage.len(),
        expansion_signals: config.scoring.expansion.len(),
        disqualify_rules: config.routing.disqualify.len(),
        playbooks: config.routing.playbooks.len(),
    })
}

impl std::fmt::Display for Validated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "config {} is valid (as of {})", self.config, self.as_of)?;
        writeln!(f, "sources")?;
        for s in &self.sources {
            writeln!(f, "{}", source_line(s))?;
        }
        writeln!(f, "sql views (planning order)")?;
        for (name, path) in &self.views {
            writeln!(f, "  {name:<22} {path}")?;
        }
        for (name, file) in &self.seeds {
            writeln!(f, "  {name:<22} seed {file}")?;
        }
        writeln!(
            f,
            "account_features: {} columns; {} fit, {} usage and {} expansion signals, {} disqualify \
             rules and {} playbooks check out",
            self.feature_columns,
            self.fit_signals,
            self.usage_signals,
            self.expansion_signals,
            self.disqualify_rules,
            self.playbooks
        )
    }
}

fn source_line(s: &DatasetInfo) -> String {
    let Some(url) = &s.url else {
        return format!("  raw.{:<20} not configured (empty)", s.name);
    };
    let mut t = format!(
        "  raw.{:<20} {} files, {} bytes  {url}",
        s.name,
        thousands(s.files as i64),
        thousands(s.bytes as i64)
    );
    if !s.partition_columns.is_empty() {
        let _ = write!(t, "  partitioned by {}", s.partition_columns.join("/"));
    }
    if !s.absent_optional_columns.is_empty() {
        let _ = write!(
            t,
            "  (absent, read as null: {})",
            s.absent_optional_columns.join(", ")
        );
    }
    t
}
