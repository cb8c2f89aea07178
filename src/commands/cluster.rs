//! `pqlsync cluster scheduler` and `pqlsync cluster executor`: the two long-running processes
//! of a Ballista cluster, wired with pqlsync's SQL functions, table codec and object stores
//! (the `cluster` module). They read no config file: a cluster serves any job pointed at it.

use super::{Error, Report};
use crate::cli::ClusterArgs;

/// Nothing to report: the processes run until stopped, and say what they listen on as they
/// start.
#[derive(Debug, serde::Serialize)]
pub struct Stopped;

impl Report for Stopped {}

impl std::fmt::Display for Stopped {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

#[cfg(feature = "ballista")]
pub async fn cluster(args: &ClusterArgs) -> Result<Stopped, Error> {
    use crate::cli::ClusterCommand;
    use pqlsync_sql::cluster::{self, ExecutorOptions, SchedulerOptions};
    match &args.command {
        ClusterCommand::Scheduler { bind, port } => {
            let options = SchedulerOptions {
                bind: bind.clone(),
                port: (*port != 0).then_some(*port),
            };
            cluster::scheduler(&options).await?;
        }
        ClusterCommand::Executor {
            scheduler,
            bind,
            external_host,
            port,
            work_dir,
            memory_limit,
            concurrent_tasks,
        } => {
            let memory_limit = memory_limit
                .as_deref()
                .map(pqlsync_sql::engine::config::parse_bytes)
                .transpose()
                .map_err(|m| Error::Usage(format!("--memory-limit: {m}")))?;
            if *concurrent_tasks == Some(0) {
                return Err(Error::Usage("--concurrent-tasks must be at least 1".into()));
            }
            let options = ExecutorOptions {
                scheduler: scheduler.clone(),
                bind: bind.clone(),
                external_host: external_host.clone(),
                port: *port,
                work_dir: work_dir.clone(),
                memory_limit,
                concurrent_tasks: *concurrent_tasks,
            };
            cluster::executor(&options).await?;
        }
    }
    Ok(Stopped)
}

#[cfg(not(feature = "ballista"))]
pub async fn cluster(_args: &ClusterArgs) -> Result<Stopped, Error> {
    Err(Error::Usage(
        "`pqlsync cluster` needs a pqlsync built with the `ballista` feature \
         (cargo build --release --features ballista)"
            .into(),
    ))
}
