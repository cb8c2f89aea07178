//! `pqlsync score`: decisions to a file (`--out`, default `out/scores.parquet`); the routing
//! memory, the history and HubSpot are left alone, so any day can be scored again.

use super::Error;
use super::decide::{Mode, decide};
use crate::config::{Config, RunOptions};
use crate::summary::Summary;

pub async fn score(config: &Config, run: &RunOptions) -> Result<Summary, Error> {
    decide(config, run, Mode::Score).await
}
