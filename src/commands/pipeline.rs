//! What the commands share: a session with the sources registered and the SQL planned
//! ([`Prepared`]), the executed plan at `-vv`, progress bars and spinners.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::prelude::SessionContext;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use chrono::NaiveDate;

use super::Error;
use crate::config::{Config, RunOptions, Verbosity};
use crate::summary::{EngineReport, SetAside, Summary};
use pqlsync_sql::engine::{self, PeakPool};
use pqlsync_sql::features::{self, FeatureError, Params, Project};
use pqlsync_sql::source::{self, DatasetInfo};
use pqlsync_sql::store::Store;
use pqlsync_sql::value::{ArrowKind, FromArray, Kind, Value};
use pqlsync_sync::{STATE_FILE, SyncState};

/// A session with sources registered and the SQL project planned.
pub struct Prepared {
    pub ctx: SessionContext,
    pub pool: std::sync::Arc<PeakPool>,
    pub sources: Vec<DatasetInfo>,
    pub project: Project,
    /// The cluster's scheduler address (`[engine] url`), or `None` for the local engine.
    scheduler: Option<String>,
}

/// With `-vv` (debug), the executed plan of `view` with each operator's metrics (rows, time,
/// spills).
pub fn log_plan(view: &str, plan: &std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let shown = DisplayableExecutionPlan::with_metrics(plan.as_ref()).indent(true);
        tracing::debug!(stage = "features", view, plan = %shown, "executed plan of {view}, with metrics");
    }
}

/// The query session `[engine]` asks for: DataFusion in this process, or a Ballista cluster.
async fn session(
    config: &engine::EngineConfig,
) -> Result<(SessionContext, std::sync::Arc<PeakPool>), Error> {
    match &config.kind {
        engine::EngineKind::Local => {
            Ok(engine::session(config).map_err(FeatureError::execution("the query session"))?)
        }
        #[cfg(feature = "ballista")]
        engine::EngineKind::Ballista { url } => {
            Ok(pqlsync_sql::cluster::session(config, url).await?)
        }
        #[cfg(not(feature = "ballista"))]
        engine::EngineKind::Ballista { .. } => {
            unreachable!("the config refuses kind = \"ballista\" without the feature")
        }
    }
}

/// One session carried over many scoring days in order (`backfill`, `calibrate`). The
/// rollups live in memory: each day extends them by the days since the last, and all of it
/// is settled history (no day is left to read live). A day then costs its own events and
/// its planning, not the 14 or 28 days of its windows, nor all history, nor listing every
/// source file again: the span's events are grouped once. The configured rollups are
/// neither read nor written, and only what `account_features` reads is planned and rolled
/// up ([`Project::reading_into`]): outputs such as `data_quality` are not.
pub struct Days {
    rollups: Store,
    /// The last scoring day to be planned: how far ahead a rollup may be grouped.
    last: NaiveDate,
    prepared: Option<Prepared>,
}

impl Days {
    /// `command` names the rollups in messages; `last` is the last day it will plan.
    pub fn new(command: &str, last: NaiveDate) -> Days {
        Days {
            rollups: Store::in_memory(&format!("{command}'s rollups (in memory)")),
            last,
            prepared: None,
        }
    }

    /// The session planned for `run.as_of`, which must not be before the last day planned.
    async fn plan(&mut self, config: &Config, run: &RunOptions) -> Result<&Prepared, Error> {
        let use_ = RollupUse::Carried(&self.rollups, self.last);
        match &self.prepared {
            Some(p) => p.plan_day(config, run, use_).await?,
            None => self.prepared = Some(Prepared::with_rollups(config, run, use_).await?),
        }
        Ok(self.prepared.as_ref().expect("planned above"))
    }

    /// Plan `day`'s views (`run` as of that day) and start computing its
    /// `account_features`, narrowed by `query` (say, to some accounts), on the runtime's
    /// workers. `day` must not be before the last day started. The contract is checked first.
    pub async fn start(
        &mut self,
        config: &Config,
        run: &RunOptions,
        day: NaiveDate,
        query: impl FnOnce(
            datafusion::prelude::DataFrame,
        ) -> datafusion::error::Result<datafusion::prelude::DataFrame>,
    ) -> Result<Computing, Error> {
        let started = Instant::now();
        let day_run = RunOptions {
            as_of: day,
            ..run.clone()
        };
        let prepared = self.plan(config, &day_run).await?;
        let df = features::account_features(&prepared.ctx).await?;
        let df = query(df).map_err(FeatureError::execution(features::FINAL_VIEW))?;
        Ok(Computing {
            planned_seconds: started.elapsed().as_secs_f64(),
            task: tokio::spawn(compute(df)),
        })
    }
}

/// One scoring day's `account_features`, optimized, physically planned and computed on the
/// runtime's workers while the caller plans the next day's views ([`Days::start`]). A day's
/// time is mostly planning, which is single-threaded; its query, over rollups in memory,
/// barely uses a second core (on `history-180d` it took 6.7 s on one partition and 6.0 s on
/// two), so the two overlap. A plan holds the tables it reads, so planning the next day's
/// views does not change it. The rows of one day are held, never more: the caller takes
/// them ([`Computing::rows`]) before it starts the day after next. Dropped, it stops.
pub struct Computing {
    /// Seconds spent planning the session's views for the day.
    pub planned_seconds: f64,
    task: tokio::task::JoinHandle<Result<Computed, FeatureError>>,
}

/// What a day's query gave, and where its time went.
pub struct Computed {
    /// The schema of the rows, as the query produced them.
    pub schema: datafusion::arrow::datatypes::SchemaRef,
    pub rows: Vec<RecordBatch>,
    /// Seconds spent optimizing and physically planning the query, then running it.
    pub optimized_seconds: f64,
    pub computed_seconds: f64,
}

impl Computing {
    /// The day's rows, once computed. A panic in the query is the caller's, as it was when
    /// the caller ran the query itself.
    pub async fn rows(mut self) -> Result<Computed, Error> {
        let computed = (&mut self.task).await.map_err(|e| {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            FeatureError::execution(features::FINAL_VIEW)(
                datafusion::error::DataFusionError::External(Box::new(e)),
            )
        })?;
        Ok(computed?)
    }
}

impl Drop for Computing {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `df`'s plan optimized and planned, and its rows.
async fn compute(df: datafusion::prelude::DataFrame) -> Result<Computed, FeatureError> {
    use futures::TryStreamExt;
    let started = Instant::now();
    let features::Running { stream, .. } = features::stream(df).await?;
    let optimized_seconds = started.elapsed().as_secs_f64();
    let schema = stream.schema();
    let rows = stream
        .try_collect()
        .await
        .map_err(FeatureError::execution(features::FINAL_VIEW))?;
    Ok(Computed {
        schema,
        rows,
        optimized_seconds,
        computed_seconds: started.elapsed().as_secs_f64() - optimized_seconds,
    })
}

/// A session that plans one day after another (`backfill`, `calibrate`) optimizes each
/// query in one pass, not DataFusion's up to three: on a day's `account_features` over the
/// rollups in memory the second pass changes nothing (`-vv`: "optimizer pass 2 did not make
/// changes") and cost 8 ms of a 105 ms day. `datafusion.optimizer.max_passes` in
/// `[engine.datafusion]` still wins.
fn one_optimizer_pass(ctx: &SessionContext, engine: &engine::EngineConfig) {
    const KEY: &str = "datafusion.optimizer.max_passes";
    if engine.datafusion.iter().all(|(key, _)| key != KEY) {
        let state = ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().optimizer.max_passes = 1;
    }
}

/// What a feature computation does with the rollups of `sql/incremental/`.
#[derive(Clone, Copy)]
enum RollupUse<'a> {
    /// None read or written: incremental views planned over the history they need.
    Planned,
    /// The configured `[incremental]` location, written back (`persist`) or only read.
    Configured { persist: bool },
    /// Rollups in `store`, which the caller keeps from one scoring day to the next, up to
    /// the last day given.
    Carried(&'a Store, NaiveDate),
}

impl Prepared {
    /// Register sources and plan the SQL, bringing incremental rollups up to date.
    pub async fn new(config: &Config, run: &RunOptions) -> Result<Prepared, Error> {
        Prepared::with_rollups(config, run, RollupUse::Configured { persist: true }).await
    }

    /// For a dry run: rollups are read and extended in memory, never written back, so a plan
    /// changes nothing a later run reads.
    pub async fn dry_run(config: &Config, run: &RunOptions) -> Result<Prepared, Error> {
        Prepared::with_rollups(config, run, RollupUse::Configured { persist: false }).await
    }

    /// Plan only: incremental views over all history, no rollup read or written (`validate`).
    pub async fn plan(config: &Config, run: &RunOptions) -> Result<Prepared, Error> {
        Prepared::with_rollups(config, run, RollupUse::Planned).await
    }

    async fn with_rollups(
        config: &Config,
        run: &RunOptions,
        rollups: RollupUse<'_>,
    ) -> Result<Prepared, Error> {
        let (ctx, pool) = session(&config.engine).await?;
        if let RollupUse::Carried(..) = rollups {
            one_optimizer_pass(&ctx, &config.engine);
        }
        let sources = source::register_all(&ctx, &config.sources).await?;
        crate::logging::stage!(
            run.stages,
            "sources",
            datasets = sources.len(),
            files = sources.iter().map(|s| s.files).sum::<usize>(),
            bytes = sources.iter().map(|s| s.bytes).sum::<u64>(),
            "registered the sources"
        );
        register_crm(&ctx, config).await?;
        let mut project = Project::load(&config.sql_dir, config.sources.format.name())?;
        if let RollupUse::Carried(..) = rollups {
            // Its queries read account_features only.
            project = project.reading_into(features::FINAL_VIEW);
        }
        let scheduler = match &config.engine.kind {
            engine::EngineKind::Local => None,
            engine::EngineKind::Ballista { url } => Some(url.clone()),
        };
        let prepared = Prepared {
            ctx,
            pool,
            sources,
            project,
            scheduler,
        };
        prepared.plan_day(config, run, rollups).await?;
        Ok(prepared)
    }

    /// Register the project's views for `run.as_of`, bringing the rollups up to date.
    async fn plan_day(
        &self,
        config: &Config,
        run: &RunOptions,
        rollups: RollupUse<'_>,
    ) -> Result<(), Error> {
        let params = params(config, run, None);
        let configured = match rollups {
            RollupUse::Configured { .. } => Some(Store::open(&config.incremental.location)?),
            _ => None,
        };
        let rollups = match (rollups, &configured) {
            (RollupUse::Configured { persist }, Some(store)) => Some(features::Rollups {
                store,
                settle_days: config.incremental.settle_days,
                slack_days: config.sources.partition_slack_days,
                sources: &self.sources,
                full_refresh: run.full_refresh,
                persist,
                ahead: None,
            }),
            (RollupUse::Carried(store, last), _) => Some(features::Rollups {
                store,
                settle_days: 0,
                slack_days: config.sources.partition_slack_days,
                sources: &self.sources,
                full_refresh: false,
                persist: true,
                ahead: Some(last + chrono::TimeDelta::days(1)),
            }),
            _ => None,
        };
        let registered = features::register(
            &self.ctx,
            &self.project,
            &params,
            &config.extra_free_email_domains,
            rollups,
        )
        .await;
        // Bringing a rollup up to date reads events: a file that cannot be decoded is named.
        let rollups = match registered {
            Ok(rollups) => rollups,
            Err(e) => return Err(self.blame_file(e.into()).await),
        };
        for r in &rollups {
            tracing::info!(
                stage = "rollups",
                view = %r.view,
                action = %r.action,
                rows = r.rows,
                seconds = r.seconds,
                through = r.through.map(tracing::field::display),
                reason = %r.reason,
                "rollup {}: {}",
                r.view,
                r.action
            );
        }
        crate::logging::stage!(
            run.stages,
            "plan",
            views = self.project.views.len(),
            seeds = self.project.seeds.len(),
            sql_dir = %config.sql_dir.display(),
            as_of = %run.as_of,
            "planned the SQL and brought the rollups up to date"
        );
        Ok(())
    }

    /// `e`, or, when a query failed on a file that cannot be decoded, the error naming that
    /// dataset and file (the engine's names only the view it was computing).
    ///
    /// Not when a cluster's scheduler failed (killed, frozen): its errors name its address
    /// (`cluster::deadline`), and probing the files through it would fail too and blame a
    /// sound file (`tests/cluster.rs`).
    pub async fn blame_file(&self, e: Error) -> Error {
        let Error::Features(f @ FeatureError::Execution { .. }) = &e else {
            return e;
        };
        if let Some(url) = &self.scheduler
            && f.to_string().contains(url.as_str())
        {
            return e;
        }
        match source::locate_undecodable(&self.ctx, &self.sources).await {
            Some(culprit) => culprit.into(),
            None => e,
        }
    }

    /// Fill in what every feature-computing command reports once its output is written:
    /// memory and spills, data quality, sources, the output, the time taken.
    pub async fn complete(
        &self,
        config: &Config,
        mut summary: Summary,
        plan: &std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        duplicate_events: i64,
        out: Option<&std::path::Path>,
        started: Instant,
    ) -> Result<Summary, Error> {
        summary.engine = self.report(config, plan);
        summary.data_quality = self.data_quality().await?;
        summary.set_aside = self.set_aside().await?;
        for s in &summary.set_aside {
            *summary.data_quality.entry(s.check.clone()).or_default() += s.rows;
        }
        warn_set_aside(&summary.set_aside);
        summary
            .data_quality
            .insert("duplicate_events_14d".into(), duplicate_events);
        summary.sources = self.sources.clone();
        if let Some(out) = out {
            summary.outputs.push(out.display().to_string());
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    /// Memory and spilling of a finished query.
    pub fn report(
        &self,
        config: &Config,
        plan: &std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    ) -> EngineReport {
        let (spill_files, spilled_bytes) = features::spills(plan);
        EngineReport {
            memory_limit_bytes: config.engine.memory_limit,
            partitions: config.engine.target_partitions,
            peak_memory_bytes: self.pool.peak(),
            repartition_peak_bytes: self.pool.repartition_peak(),
            spill_files,
            spilled_bytes,
            cluster: match &config.engine.kind {
                engine::EngineKind::Local => None,
                engine::EngineKind::Ballista { url } => Some(url.clone()),
            },
        }
    }

    /// The rows of `query` over the optional output view `view`; none when the project has
    /// no such view.
    async fn optional_view(&self, view: &str, query: &str) -> Result<Vec<RecordBatch>, Error> {
        let failed = FeatureError::execution(view);
        if !self.ctx.table_exist(view).map_err(failed)? {
            return Ok(Vec::new());
        }
        let frame = self.ctx.sql(query).await.map_err(failed)?;
        Ok(frame.collect().await.map_err(failed)?)
    }

    /// Rows the staging views set aside, from the optional `set_aside` view (`check_name`,
    /// `source`, `value`, `row_count`, `reason`), each with its source's configured location.
    pub async fn set_aside(&self) -> Result<Vec<SetAside>, Error> {
        let batches = self
            .optional_view(
                "set_aside",
                "SELECT check_name, source, value, row_count, reason FROM set_aside \
                 ORDER BY 1, 2, 4 DESC, 3",
            )
            .await?;
        let mut out = Vec::new();
        for batch in &batches {
            for row in 0..batch.num_rows() {
                let cell = |i: usize| Value::from_array(batch.column(i), row).ok();
                let text = |i| cell(i).and_then(|v| v.as_str().map(str::to_string));
                let (Some(check), Some(source), Some(rows)) =
                    (text(0), text(1), cell(3).and_then(|v| v.as_i64()))
                else {
                    return Err(FeatureError::Contract {
                        message: "set_aside.sql: check_name and source must be text and \
                                  row_count a count, on every row"
                            .into(),
                    }
                    .into());
                };
                let file = self
                    .sources
                    .iter()
                    .find(|d| d.name == source)
                    .and_then(|d| d.url.clone());
                let value = text(2).unwrap_or_else(|| "NULL".into());
                let reason = text(4).unwrap_or_default();
                out.push(SetAside {
                    check,
                    source,
                    file,
                    value,
                    rows,
                    reason,
                });
            }
        }
        Ok(out)
    }

    /// Counts from the optional `data_quality` view: one row, every column a count.
    pub async fn data_quality(&self) -> Result<BTreeMap<String, i64>, Error> {
        let mut out = BTreeMap::new();
        let batches = self
            .optional_view("data_quality", "SELECT * FROM data_quality")
            .await?;
        for batch in batches.iter().filter(|b| b.num_rows() > 0) {
            for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                let value = Value::from_array(column, 0).ok().and_then(|v| v.as_i64());
                let value = value.ok_or_else(|| FeatureError::Contract {
                    message: format!(
                        "data_quality.sql: column `{}` must be a count",
                        field.name()
                    ),
                })?;
                *out.entry(field.name().clone()).or_default() += value;
            }
        }
        Ok(out)
    }
}

/// One warning per check and value set aside, naming the file; past five values of a check,
/// one line for the rest (the summary JSON lists them all).
fn warn_set_aside(set_aside: &[SetAside]) {
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    for s in set_aside {
        let n = shown.entry(&s.check).or_default();
        *n += 1;
        if *n > 5 {
            continue;
        }
        let file = s.file.as_deref().unwrap_or("(not configured)");
        tracing::warn!(
            stage = "quality",
            check = %s.check,
            source = %s.source,
            file,
            value = %s.value,
            rows = s.rows,
            "{} rows of {} ({file}) set aside ({}): {:?}: {} (README: \"Values pqlsync sets \
             aside\")",
            s.rows,
            s.source,
            s.check,
            s.value,
            s.reason
        );
    }
    for (check, n) in shown.into_iter().filter(|(_, n)| *n > 5) {
        tracing::warn!(
            stage = "quality",
            check,
            values = n,
            "{check}: {} more values set aside (listed under set_aside in --summary-json)",
            n - 5
        );
    }
}

/// The `crm.*` tables (what HubSpot held when the last run read it back) from the sync state
/// at `[state] url`; empty tables when there is none.
async fn register_crm(ctx: &SessionContext, config: &Config) -> Result<(), Error> {
    let url = &config.state.url;
    // Opening a local store creates its directory: a command that writes no state (`validate`,
    // `score`) must not leave one behind.
    let state: SyncState = if !url.contains("://") && !std::path::Path::new(url).exists() {
        SyncState::default()
    } else {
        let store = Store::open(&config.state)?;
        let state: SyncState = store.read(STATE_FILE).await?.unwrap_or_default();
        pqlsync_rules::state::check_version(store.url(), STATE_FILE, state.version, &[0, 1])?;
        state
    };
    pqlsync_sql::report::crm::register(ctx, &state)
        .map_err(FeatureError::execution("the crm tables"))?;
    pqlsync_sql::changes::register(ctx, &config.state)
        .await
        .map_err(FeatureError::execution("sync.changes"))?;
    Ok(())
}

/// A bar on stderr when it is a terminal and the run is not quiet; hidden otherwise.
fn bar(run: &RunOptions, len: Option<u64>, template: &str) -> ProgressBar {
    // Only for a person watching: never in a log file or between JSON lines.
    let visible = run.verbosity >= Verbosity::Normal
        && run.log_format == crate::logging::LogFormat::Text
        && std::io::stderr().is_terminal();
    let bar = if visible {
        ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar
}

/// Progress over `len` steps of `unit` (e.g. "days"), with the step's name as its message.
pub fn progress(run: &RunOptions, len: u64, unit: &str) -> ProgressBar {
    bar(
        run,
        Some(len),
        &format!("{{bar:30}} {{pos}}/{{len}} {unit} {{msg}} [{{elapsed}} / ~{{duration}}]"),
    )
}

pub fn spinner(run: &RunOptions, message: &str) -> ProgressBar {
    let bar = bar(run, None, "{spinner} {msg} [{elapsed}]");
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

pub fn sum_column(batch: &RecordBatch, name: &str) -> i64 {
    let Ok(i) = batch.schema().index_of(name) else {
        return 0;
    };
    let column = batch.column(i);
    if !Kind::Integer.accepts(column.data_type()) {
        return 0;
    }
    match datafusion::arrow::compute::cast(column, &DataType::Int64) {
        Ok(c) => {
            let c = c.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            (0..c.len())
                .filter(|i| c.is_valid(*i))
                .map(|i| c.value(i))
                .sum()
        }
        Err(_) => 0,
    }
}

/// The SQL parameters of `config` on the run's scoring day; `report_range` for the report's
/// trial starts.
pub fn params(
    config: &Config,
    run: &RunOptions,
    report_range: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Params {
    Params {
        as_of_date: run.as_of,
        account_id_key: config.sources.account_id_key.clone(),
        group_type: config.sources.group_type().to_string(),
        report_range,
        at_day: config.provenance.at_day,
    }
}
