//! `pqlsync run [--dry-run]`: compute features, score and route every account, write
//! `decisions.parquet`, advance the routing memory and the score history, and sync HubSpot.
//! `--dry-run` is `plan`. A run holds the state's lock throughout, and stops at a safe point
//! on SIGTERM.

use std::time::Duration;

use super::Error;
use super::decide::{Mode, decide};
use crate::cli::RunArgs;
use crate::config::{Config, RunOptions};
use crate::summary::Summary;
use pqlsync_sql::lock;
use pqlsync_sql::store::Store;

pub async fn run(config: &Config, run: &RunOptions, args: &RunArgs) -> Result<Summary, Error> {
    if args.dry_run {
        return decide(config, run, Mode::DryRun).await;
    }
    let held = locked(config, run, "run", args.wait).await?;
    clean_temporaries(&super::out_dir(run, &config.output_dir));
    let result = decide(config, run, Mode::Run).await;
    held.release().await;
    result
}

/// Remove the temporary files a killed run left in the output directory (`.pqlsync-*.tmp`,
/// written before being renamed into place). Only a run holding the lock does this, so no
/// other run is writing them; files younger than a minute are left, in case a `score --out`
/// into the same directory is.
fn clean_temporaries(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(60));
        if name.starts_with(".pqlsync-") && name.ends_with(".tmp") && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Take the state's lock for `command` and listen for SIGTERM; says so when a lock left by a
/// run that died is taken over.
pub(super) async fn locked(
    config: &Config,
    run: &RunOptions,
    command: &str,
    wait_secs: u64,
) -> Result<lock::RunLock, Error> {
    let store = Store::open(&config.state)?;
    let held = lock::acquire(&store, command, Duration::from_secs(wait_secs), &run.halt).await?;
    run.halt.on_signals();
    if let Some(dead) = &held.took_over {
        tracing::warn!(
            stage = "lock",
            state = %config.state.configured,
            holder = %dead,
            "took over the lock on {} left by {dead}, which ended without releasing it",
            config.state.configured
        );
    }
    Ok(held)
}
