//! `[sql]` and `[incremental]`: where the analyst SQL lives and how rollups of
//! `sql/incremental/` views advance, parsed beside the code that loads and runs them.

use serde::Deserialize;

use crate::store::Location;

/// `[sql]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlFile {
    /// Directory holding `staging/`, `incremental/`, `features/` (and `seeds/`, `reports/`).
    #[serde(default = "default_sql_dir")]
    pub dir: String,
    /// Extra free-mail domains, on top of `seeds/free_email_domains.csv`.
    #[serde(default)]
    pub extra_free_email_domains: Vec<String>,
}

impl Default for SqlFile {
    fn default() -> Self {
        SqlFile {
            dir: default_sql_dir(),
            extra_free_email_domains: Vec::new(),
        }
    }
}

fn default_sql_dir() -> String {
    "sql".to_string()
}

/// `[incremental]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrementalFile {
    /// Where the rollups of `sql/incremental/` views live (a directory path or object-store
    /// URL). They are a cache of the exports: deleting them costs one full scan. Default:
    /// `incremental` beside the state directory (`.pqlsync/incremental` for the default state).
    pub url: Option<String>,
    /// Days before the end of the scoring day that are still re-read each run instead of
    /// rolled up, because late events may still land in them (default 2). A rollup is also
    /// rebuilt whenever a file it was built from changes.
    pub settle_days: Option<u32>,
}

/// The validated `[incremental]`.
#[derive(Debug, Clone)]
pub struct IncrementalConfig {
    pub location: Location,
    pub settle_days: u32,
}

impl IncrementalConfig {
    /// `[incremental]` with its rollups at `location` (resolved by `config`).
    pub fn from_file(file: &IncrementalFile, location: Location) -> IncrementalConfig {
        IncrementalConfig {
            location,
            settle_days: file.settle_days.unwrap_or(2),
        }
    }
}
