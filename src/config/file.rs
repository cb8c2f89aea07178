//! The configuration file as written by people: the whole of `pqlsync.toml`, made of each
//! component's own section (`[sources]` in `source::config`, `[scoring]` in `score::config`,
//! …) and the few settings that are only places (`[run]`, `[state]`, `[history]`,
//! `[output]`), which `config` resolves itself. Every field has a doc comment because README's
//! config reference is written from them.

use serde::Deserialize;

use pqlsync_rules::{route, score};
use pqlsync_sql::{engine, features, report, source};
use pqlsync_sync as sync;

/// The whole `pqlsync.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Defaults for a run that the command line can override.
    #[serde(default)]
    pub run: RunFile,
    /// Where the product-event and billing exports are.
    pub sources: source::SourcesFile,
    /// Where the analyst-owned SQL lives.
    #[serde(default)]
    pub sql: features::SqlFile,
    /// Query engine limits.
    #[serde(default)]
    pub engine: engine::EngineFile,
    /// Fit and usage scoring. Omitted lists fall back to the built-in defaults.
    #[serde(default)]
    pub scoring: score::config::ScoringFile,
    /// Motion, owner, stage and task rules.
    #[serde(default)]
    pub routing: route::config::RoutingFile,
    /// What the job remembers between runs.
    #[serde(default)]
    pub state: StateFile,
    /// The score history `run` and `backfill` append to and `report` reads.
    #[serde(default)]
    pub history: HistoryFile,
    /// The change log: what each sync run wrote to HubSpot, kept in the state location.
    #[serde(default)]
    pub changes: pqlsync_sql::changes::ChangesFile,
    /// Rollups of `sql/incremental/` views, extended day by day instead of recomputed.
    #[serde(default)]
    pub incremental: features::IncrementalFile,
    /// The cohort and funnel report.
    #[serde(default)]
    pub report: report::ReportFile,
    /// Where run outputs go.
    #[serde(default)]
    pub output: OutputFile,
    /// The HubSpot portal the decisions are synced to.
    #[serde(default)]
    pub hubspot: sync::config::HubspotFile,
}

/// `[run]`: defaults for a run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFile {
    /// Pin the scoring day (`YYYY-MM-DD`, UTC) when `--as-of` is not given; default today (UTC).
    /// Useful for demo data and reproducible reports, not for a scheduled job.
    pub as_of: Option<String>,
}

/// `[state]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Where the job keeps its memory between runs (a directory path or object-store URL).
    #[serde(default = "default_state_url")]
    pub url: String,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile {
            url: default_state_url(),
        }
    }
}

fn default_state_url() -> String {
    ".pqlsync/state".to_string()
}

/// `[history]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryFile {
    /// Where the score history lives (a directory path or object-store URL): Parquet, one
    /// `as_of=YYYY-MM-DD/` directory per scoring day. Default: `history` beside the state
    /// directory (`.pqlsync/history` for the default state).
    pub url: Option<String>,
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// Directory `run` writes `decisions.parquet` to when `--out` is not given.
    #[serde(default = "default_output_dir")]
    pub dir: String,
}

impl Default for OutputFile {
    fn default() -> Self {
        OutputFile {
            dir: default_output_dir(),
        }
    }
}

fn default_output_dir() -> String {
    "out".to_string()
}
