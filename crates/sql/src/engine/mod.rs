//! The query engine: one DataFusion session sized by `[engine]` (memory pool with spilling,
//! parallelism, batch size, spill directory) with pqlsync's plan rules (joins' string views
//! kept compact, the UTC day of a timestamp by arithmetic), and the JSON functions analyst SQL may call (`json_get_str`, `->>`, …). A
//! leaf below sources and features: it knows nothing of datasets or SQL files.

mod compact;
pub mod config;
mod memory;
pub mod utc_day;

use std::sync::Arc;

use datafusion::error::DataFusionError;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};

pub use config::{BALLISTA_BUILT, EngineConfig, EngineFile, EngineKind};
pub use memory::PeakPool;

/// A DataFusion session sized by `[engine]`: memory pool with spilling, parallelism, batch size.
/// The returned pool reports the peak memory the session reserved.
pub fn session(engine: &EngineConfig) -> Result<(SessionContext, Arc<PeakPool>), DataFusionError> {
    let (state, pool) = state(engine, session_config(engine))?;
    Ok((SessionContext::new_with_state(state), pool))
}

/// The session options pqlsync plans and runs with, wherever the queries run: they travel
/// with each query to a cluster.
pub fn session_config(engine: &EngineConfig) -> SessionConfig {
    let mut config = SessionConfig::new()
        .with_target_partitions(engine.target_partitions)
        .with_batch_size(engine.batch_size)
        .with_information_schema(true);
    let options = config.options_mut();
    // No late materialisation (filters evaluated while decoding Parquet): time windows are
    // already cut to whole files by partition pruning and to row groups by their statistics,
    // so decoding every row of what remains was 7% faster on the 10M benchmark, daily and
    // full refresh alike (`[engine.datafusion]` can turn it back on).
    options.execution.parquet.pushdown_filters = false;
    options.execution.parquet.coerce_int96 = Some("us".into());
    options.sql_parser.dialect = datafusion::config::Dialect::Generic;
    if let Some(limit) = engine.memory_limit {
        // A sort reserves this much up front to merge its spill files; DataFusion's 10 MiB
        // default alone would exceed a small budget.
        options.execution.sort_spill_reservation_bytes = options
            .execution
            .sort_spill_reservation_bytes
            .min(limit / 16);
    }
    apply_datafusion_settings(&mut config, engine);
    config
}

/// `[engine.datafusion]`, applied last so an analyst's setting wins over pqlsync's defaults
/// (and, on a cluster, over Ballista's).
pub fn apply_datafusion_settings(config: &mut SessionConfig, engine: &EngineConfig) {
    let options = config.options_mut();
    for (key, value) in &engine.datafusion {
        options
            .set(key, value)
            .expect("[engine.datafusion] is checked when the config is read");
    }
}

/// A session state with `config`, this process's memory pool and spill directory, the plan
/// rule and pqlsync's SQL functions.
pub fn state(
    engine: &EngineConfig,
    config: SessionConfig,
) -> Result<(SessionState, Arc<PeakPool>), DataFusionError> {
    let pool = Arc::new(PeakPool::new(engine.memory_limit));
    let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::clone(&pool) as _);
    let disk = match &engine.spill_dir {
        Some(dir) => {
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.clone()]))
        }
        None => DiskManagerBuilder::default().with_mode(DiskManagerMode::OsTmpDirectory),
    };
    let runtime = runtime.with_disk_manager_builder(disk).build_arc()?;
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_optimizer_rule(Arc::new(utc_day::UtcDays::default()))
        .with_physical_optimizer_rule(Arc::new(compact::CompactBuildSides))
        .build();
    register_functions(&mut state)?;
    Ok((state, pool))
}

/// The schema `name` of `ctx`'s default catalog, created empty the first time: the tables
/// pqlsync builds from its own files (`crm.*`, `sync.changes`) are registered into it.
pub fn schema_named(
    ctx: &SessionContext,
    name: &str,
) -> Result<Arc<dyn datafusion::catalog::SchemaProvider>, DataFusionError> {
    let catalog = ctx
        .catalog("datafusion")
        .expect("the default catalog exists");
    if let Some(schema) = catalog.schema(name) {
        return Ok(schema);
    }
    let schema: Arc<dyn datafusion::catalog::SchemaProvider> =
        Arc::new(datafusion::catalog::MemorySchemaProvider::new());
    catalog.register_schema(name, Arc::clone(&schema))?;
    Ok(schema)
}

/// The functions analyst SQL may call beyond DataFusion's own: the JSON functions and
/// operators. Every process that plans or runs pqlsync's SQL registers them.
pub fn register_functions(registry: &mut dyn FunctionRegistry) -> Result<(), DataFusionError> {
    // `utc_day` by name too: the plan rule writes it, and a cluster's processes read it back.
    registry.register_udf(utc_day::udf())?;
    datafusion_functions_json::register_all(registry)
}
