//! `pqlsync run [--dry-run]`: compute features, score and route every account, write
//! `decisions.parquet`, advance the routing memory and the score history, and sync HubSpot.
//! `--dry-run` is `plan`.

use super::Error;
use super::decide::{Mode, decide};
use crate::config::{Config, RunOptions};
use crate::summary::Summary;

pub async fn run(config: &Config, run: &RunOptions, dry_run: bool) -> Result<Summary, Error> {
    let mode = if dry_run { Mode::DryRun } else { Mode::Run };
    decide(config, run, mode).await
}
