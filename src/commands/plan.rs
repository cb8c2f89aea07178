//! `pqlsync plan`: what `run` would do, computed in full but written nowhere: the decisions,
//! and the HubSpot requests by object (`-v` lists every record).

use super::Error;
use super::decide::{Mode, decide};
use crate::config::{Config, RunOptions};
use crate::summary::Summary;

pub async fn plan(config: &Config, run: &RunOptions) -> Result<Summary, Error> {
    decide(config, run, Mode::DryRun).await
}
