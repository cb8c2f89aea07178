//! Scale-out on Apache DataFusion Ballista (built with the `ballista` feature). This module
//! owns the three processes of a cluster as pqlsync runs them: the job's client session, whose
//! queries go to a scheduler ([`session`]); the scheduler ([`scheduler`]), which plans them
//! into stages; and executors ([`executor`]), which run the stages. All three share what makes
//! pqlsync's SQL run anywhere: the JSON functions, a codec for the tables the feature pipeline
//! registers ([`Codec`]) and object stores for `s3://`, `gs://` and `az://` from the
//! environment ([`EnvStores`]).
//!
//! It sits above `source` (whose partition-pruning table it encodes) and `engine` (whose
//! session options travel with every query); only the commands use it. Scoring, routing and
//! the sync never come here: they scale with accounts, not events.

mod codec;
mod deadline;
mod stores;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

pub use codec::Codec;
pub use stores::EnvStores;

use crate::engine::{self, EngineConfig, PeakPool};

/// gRPC message limit for plans and task definitions. A plan carries the in-memory tables it
/// reads (seeds, incremental rollups), which grow with accounts; Ballista's 16 MiB default
/// would cap a rollup at roughly 150,000 accounts.
pub const MAX_MESSAGE: usize = 512 * 1024 * 1024;

/// How long the job waits for the scheduler to answer before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors starting or reaching a cluster. Each names the address and what to check.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "cannot reach the Ballista scheduler at {url} ([engine] url): {message}. Start one \
         with `pqlsync cluster scheduler`, or check the address and that this machine can \
         reach it"
    )]
    Unreachable { url: String, message: String },
    #[error("the Ballista session for {url}: {source}")]
    Session {
        url: String,
        #[source]
        source: DataFusionError,
    },
    #[error("cannot bind {addr}: {source} (choose another --bind or --port)")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{value}` is not a scheduler address: write it as HOST:PORT, like scheduler:50050")]
    BadScheduler { value: String },
    #[error("`{value}` is not an address to listen on: give --bind an IP address, like 0.0.0.0")]
    BadBind { value: String },
    #[error(
        "cannot use {dir} as the executor's work directory: {source} (choose another --work-dir)"
    )]
    WorkDir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the {process} stopped: {message}")]
    Stopped {
        process: &'static str,
        message: String,
    },
}

/// The session options of a job whose queries run on a cluster: the local engine's, Ballista's
/// on top, pqlsync's cluster settings, then `[engine.datafusion]` last.
fn cluster_config(engine: &EngineConfig) -> SessionConfig {
    // Ballista's own defaults first (no string views, which Arrow Flight cannot ship whole;
    // sort-merge joins, which spill), then pqlsync's codec and message limit on top.
    // Ballista 55's adaptive planner (on by default) re-plans a job as its stages finish;
    // when a stage's input is empty (an unconfigured dataset's stand-in, a day without
    // events) the re-plan drops stages it cannot cancel ("there are stages to be cancelled
    // but its not implemented", state/aqe/mod.rs), and the job never ends. The static
    // planner runs every stage it planned.
    let mut config = engine::session_config(engine);
    // DataFusion 55 moves leaf expressions (the JSON functions PostHog's staging calls) into
    // projections named `__datafusion_extracted_N`; the protobuf a plan travels in loses their
    // qualifier, and the scheduler refused such a plan ("No field named
    // last_value(__datafusion_extracted_26) …"). Plans for the cluster skip that rewrite.
    config
        .options_mut()
        .optimizer
        .enable_leaf_expression_pushdown = false;
    let mut config = config
        .upgrade_for_ballista()
        .with_ballista_adaptive_query_planner(false)
        .with_ballista_logical_extension_codec(Arc::new(Codec::default()))
        .with_ballista_grpc_client_max_message_size(MAX_MESSAGE)
        // The heartbeat: the job process pings the scheduler over HTTP/2 this often while it
        // waits for a job's status; an unanswered ping (20 s) closes the connection and fails
        // the query, where Ballista's 300 s default left a frozen scheduler unnoticed for
        // minutes.
        .set_usize(
            ballista_core::config::BALLISTA_CLIENT_GRPC_HTTP2_KEEPALIVE_INTERVAL_SECONDS,
            engine.heartbeat.as_secs() as usize,
        );
    // Ballista's upgrade overwrites some DataFusion settings; `[engine.datafusion]` is the
    // analyst's word and must win over those too, on the cluster as locally.
    engine::apply_datafusion_settings(&mut config, engine);
    config
}

/// A session whose queries run on the cluster at `url` (`df://host:port`), after checking the
/// scheduler answers. The session options are the local engine's, and the client keeps its
/// (idle) memory pool so the summary's shape does not depend on the engine.
pub async fn session(
    engine: &EngineConfig,
    url: &str,
) -> Result<(SessionContext, Arc<PeakPool>), ClusterError> {
    reachable(url).await?;
    let session_err = |source: DataFusionError| ClusterError::Session {
        url: url.to_string(),
        source,
    };
    let config = cluster_config(engine);
    let (state, pool) = engine::state(engine, config).map_err(session_err)?;
    let remote = SessionContext::remote_with_state(url, state)
        .await
        .map_err(session_err)?
        .state();
    // Every query gets a deadline: a job the cluster lost must fail the run, not hang it.
    let planner = deadline::DeadlinePlanner {
        inner: Arc::clone(remote.query_planner()),
        watch: deadline::Watch {
            limit: engine.job_timeout,
            heartbeat: engine.heartbeat,
            scheduler: url.to_string(),
        },
    };
    let ctx = SessionContext::new_with_state(
        SessionStateBuilder::new_from_existing(remote)
            .with_query_planner(Arc::new(planner))
            .build(),
    );
    // Ballista's upgrade replaces the session's scalar functions with its own list.
    engine::register_functions(&mut *ctx.state_ref().write()).map_err(session_err)?;
    Ok((ctx, pool))
}

/// Connect to the scheduler's gRPC endpoint, so a wrong address fails before any work.
async fn reachable(url: &str) -> Result<(), ClusterError> {
    let unreachable = |message: String| ClusterError::Unreachable {
        url: url.to_string(),
        message,
    };
    let endpoint = url.replacen("df://", "http://", 1);
    match tokio::time::timeout(CONNECT_TIMEOUT, SchedulerGrpcClient::connect(endpoint)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(chain(&e))),
        Err(_) => Err(unreachable(format!(
            "no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// An error with its causes, since a transport error alone says only "transport error".
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `pqlsync cluster scheduler`.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: String,
    /// `None`: a free port, printed at start.
    pub port: Option<u16>,
}

/// `pqlsync cluster executor`.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `HOST:PORT`.
    pub scheduler: String,
    pub bind: String,
    /// The host the scheduler and other executors reach this one at; default `bind`, or
    /// this machine's name when binding every interface.
    pub external_host: Option<String>,
    /// Arrow Flight port, for shuffle reads; `None`: a free port. The gRPC port is free.
    pub port: Option<u16>,
    /// Where shuffle files and spills go; `None`: a temporary directory removed at exit.
    pub work_dir: Option<PathBuf>,
    /// The executor's memory pool, shared by its tasks; beyond it, they spill to `work_dir`.
    pub memory_limit: Option<usize>,
    /// Tasks run at once; default the number of cores.
    pub concurrent_tasks: Option<usize>,
}

/// A port nothing listens on now, for a process that binds it a moment later.
fn free_port(bind: &str) -> Result<u16, ClusterError> {
    TcpListener::bind((bind, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| ClusterError::Bind {
            addr: format!("{bind}:0"),
            source,
        })
}

/// The state the scheduler plans each job's queries in: Ballista's defaults, with pqlsync's
/// functions and object stores.
fn scheduler_state(
    config: SessionConfig,
    stores: &Arc<EnvStores>,
) -> Result<SessionState, DataFusionError> {
    let state = ballista_core::utils::default_session_builder(config)?;
    let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
        .with_object_store_registry(Arc::clone(stores) as _)
        .build_arc()?;
    let mut state = SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(runtime)
        .build();
    engine::register_functions(&mut state)?;
    Ok(state)
}

/// Run a scheduler until the process is stopped. Prints `df://HOST:PORT` once it is bound.
pub async fn scheduler(options: &SchedulerOptions) -> Result<(), ClusterError> {
    let port = match options.port {
        Some(p) => p,
        None => free_port(&options.bind)?,
    };
    let addr: SocketAddr =
        format!("{}:{port}", options.bind)
            .parse()
            .map_err(|_| ClusterError::BadBind {
                value: options.bind.clone(),
            })?;
    let stores = Arc::new(EnvStores::from_env());
    let mut config = SchedulerConfig {
        bind_host: options.bind.clone(),
        bind_port: port,
        grpc_server_max_decoding_message_size: MAX_MESSAGE as u32,
        grpc_server_max_encoding_message_size: MAX_MESSAGE as u32,
        grpc_client_max_message_size: MAX_MESSAGE as u32,
        ..SchedulerConfig::default()
    };
    config.override_session_builder = Some(Arc::new(move |c| scheduler_state(c, &stores)));
    config.override_logical_codec = Some(Arc::new(Codec::default()));
    let stopped = |e: ballista_core::error::BallistaError| ClusterError::Stopped {
        process: "scheduler",
        message: e.to_string(),
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(stopped)?;
    // Check the port before announcing it, so a taken port is named with the flags to change
    // rather than surfacing as a gRPC transport error.
    drop(
        TcpListener::bind(addr).map_err(|source| ClusterError::Bind {
            addr: addr.to_string(),
            source,
        })?,
    );
    println!("pqlsync cluster scheduler listening on df://{addr}");
    start_server(cluster, addr, Arc::new(config))
        .await
        .map_err(stopped)
}

/// Every function a task may call: Ballista's, and the ones pqlsync's sessions add to
/// DataFusion's (the JSON functions).
fn function_registry() -> Result<BallistaFunctionRegistry, DataFusionError> {
    fn add_missing<F: ?Sized>(into: &mut HashMap<String, Arc<F>>, from: &HashMap<String, Arc<F>>) {
        for (name, f) in from {
            into.entry(name.clone()).or_insert_with(|| Arc::clone(f));
        }
    }
    let mut state = SessionStateBuilder::new().with_default_features().build();
    engine::register_functions(&mut state)?;
    let mut registry = BallistaFunctionRegistry::default();
    add_missing(&mut registry.scalar_functions, state.scalar_functions());
    add_missing(
        &mut registry.aggregate_functions,
        state.aggregate_functions(),
    );
    add_missing(&mut registry.window_functions, state.window_functions());
    Ok(registry)
}

/// Run an executor until the process is stopped.
pub async fn executor(options: &ExecutorOptions) -> Result<(), ClusterError> {
    let bad = || ClusterError::BadScheduler {
        value: options.scheduler.clone(),
    };
    let scheduler = engine::config::host_port(&options.scheduler).ok_or_else(bad)?;
    // The temporary work dir, if any, is kept for the life of the process; removed with it.
    let (work_dir, _temp) = work_dir(options)?;
    let config = executor_config(options, scheduler, &work_dir)?;
    let port = config.port;
    // Like the scheduler's address: on stdout for whoever started it, and as a log event
    // (JSON under --log-format json).
    println!(
        "pqlsync cluster executor on {}:{port} (work dir {}), registering with scheduler {}",
        options.bind,
        work_dir.display(),
        options.scheduler
    );
    tracing::info!(
        stage = "executor",
        bind = %options.bind,
        port,
        work_dir = %work_dir.display(),
        scheduler = %options.scheduler,
        "registering with the scheduler"
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ClusterError::Stopped {
            process: "executor",
            message: e.to_string(),
        })
}

/// The executor's work dir: `--work-dir`, created if needed, or a temporary directory that
/// lives as long as the returned guard.
fn work_dir(
    options: &ExecutorOptions,
) -> Result<(PathBuf, Option<tempfile::TempDir>), ClusterError> {
    if let Some(dir) = &options.work_dir {
        std::fs::create_dir_all(dir).map_err(|source| ClusterError::WorkDir {
            dir: dir.display().to_string(),
            source,
        })?;
        return Ok((dir.clone(), None));
    }
    let temp = tempfile::Builder::new()
        .prefix("pqlsync-executor-")
        .tempdir()
        .map_err(|source| ClusterError::WorkDir {
            dir: std::env::temp_dir().display().to_string(),
            source,
        })?;
    Ok((temp.path().to_path_buf(), Some(temp)))
}

/// Ballista's executor settings from the options: ports, the scheduler, memory, and
/// pqlsync's functions, plan codec and object stores.
fn executor_config(
    options: &ExecutorOptions,
    (scheduler_host, scheduler_port): (&str, u16),
    work_dir: &Path,
) -> Result<ExecutorProcessConfig, ClusterError> {
    let port = match options.port {
        Some(p) => p,
        None => free_port(&options.bind)?,
    };
    let grpc_port = free_port(&options.bind)?;
    let registry = function_registry().map_err(|e| ClusterError::Stopped {
        process: "executor",
        message: e.to_string(),
    })?;
    let stores = Arc::new(EnvStores::from_env());
    let spill_dir = work_dir.to_path_buf();
    let external_host = options.external_host.clone().or_else(|| {
        (options.bind != "0.0.0.0" && options.bind != "::").then(|| options.bind.clone())
    });
    let mut config = ExecutorProcessConfig {
        bind_host: options.bind.clone(),
        external_host,
        port,
        grpc_port,
        scheduler_host: scheduler_host.to_string(),
        scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        work_dir: Some(work_dir.to_string_lossy().into_owned()),
        memory_pool_size: options.memory_limit.map(|b| b as u64),
        grpc_max_decoding_message_size: MAX_MESSAGE as u32,
        grpc_max_encoding_message_size: MAX_MESSAGE as u32,
        print_thread_info: false,
        ..ExecutorProcessConfig::default()
    };
    if let Some(n) = options.concurrent_tasks {
        config.vcores = n;
    }
    config.override_function_registry = Some(Arc::new(registry));
    config.override_logical_codec = Some(Arc::new(Codec::default()));
    config.override_runtime_producer = Some(Arc::new(move |_config: &SessionConfig| {
        RuntimeEnvBuilder::new()
            .with_temp_file_path(spill_dir.clone())
            .with_object_store_registry(Arc::clone(&stores) as _)
            .build_arc()
    }));
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executors_know_pqlsync_s_functions_and_datafusion_s() {
        let registry = function_registry().unwrap();
        for name in ["json_get_str", "json_as_text", "lower", "date_trunc"] {
            assert!(registry.scalar_functions.contains_key(name), "{name}");
        }
        assert!(registry.aggregate_functions.contains_key("count"));
        assert!(registry.window_functions.contains_key("row_number"));
    }

    /// Ballista's session upgrade turned `prefer_hash_join` and string views off after
    /// `[engine.datafusion]` had set them, so a cluster ignored the analyst's settings.
    #[test]
    fn ballista_s_upgrade_overwrote_engine_datafusion() {
        let mut engine = EngineConfig::default();
        let cluster = |engine: &EngineConfig| cluster_config(engine).options().clone();
        let defaults = cluster(&engine);
        assert!(!defaults.optimizer.prefer_hash_join, "Ballista's default");
        assert!(!defaults.execution.parquet.schema_force_view_types);
        engine.datafusion = vec![
            (
                "datafusion.optimizer.prefer_hash_join".into(),
                "true".into(),
            ),
            (
                "datafusion.execution.parquet.schema_force_view_types".into(),
                "true".into(),
            ),
        ];
        let set = cluster(&engine);
        assert!(set.optimizer.prefer_hash_join);
        assert!(set.execution.parquet.schema_force_view_types);
    }

    #[test]
    fn the_heartbeat_is_the_scheduler_connection_s_keepalive() {
        let engine = EngineConfig {
            heartbeat: std::time::Duration::from_secs(7),
            ..EngineConfig::default()
        };
        let config = cluster_config(&engine);
        assert_eq!(
            config
                .ballista_config()
                .grpc_client_http2_keepalive_interval_seconds(),
            7
        );
    }
}
