//! The commands, wired end to end: register sources, plan the SQL, stream `account_features`,
//! decide, write outputs, advance state. Each command returns a [`Summary`]; printing it and
//! choosing an exit code is `lib::run_cli`'s job.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::prelude::{SessionContext, col, lit};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

mod hubspot;

pub use hubspot::{check, setup};

use crate::Error;
use crate::config::{Config, Verbosity};
use crate::decision::{Decider, Decision};
use crate::features::{self, FeatureError, Kind, Params, Project, Value};
use crate::history;
use crate::output::AtomicWriter;
use crate::source::{self, DatasetInfo};
use crate::state::{RoutingState, Store};
use crate::summary::{EngineReport, Summary, thousands};

/// A session with sources registered and the SQL project planned.
pub struct Engine {
    pub ctx: SessionContext,
    pub pool: std::sync::Arc<source::PeakPool>,
    pub sources: Vec<DatasetInfo>,
    pub project: Project,
}

/// Progress notes on stderr for `-v`: each stage with the time since the command started.
struct Log {
    level: Verbosity,
    started: Instant,
}

impl Log {
    fn new(config: &Config) -> Log {
        Log {
            level: config.verbosity,
            started: Instant::now(),
        }
    }

    fn note(&self, message: impl FnOnce() -> String) {
        if self.level >= Verbosity::Verbose {
            eprintln!(
                "[{:>7.3}s] {}",
                self.started.elapsed().as_secs_f64(),
                message()
            );
        }
    }

    /// With `-vv`, the executed plan with each operator's metrics (rows, time, spills).
    fn plan(&self, plan: &std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>) {
        if self.level >= Verbosity::Debug {
            let shown = DisplayableExecutionPlan::with_metrics(plan.as_ref()).indent(true);
            eprintln!("executed plan of account_features, with metrics:\n{shown}");
        }
    }
}

impl Engine {
    /// Register sources and plan the SQL, bringing incremental rollups up to date.
    pub async fn prepare(config: &Config) -> Result<Engine, Error> {
        Engine::prepare_with(config, true).await
    }

    /// Plan only: incremental views over all history, no rollup read or written (`validate`).
    pub async fn plan(config: &Config) -> Result<Engine, Error> {
        Engine::prepare_with(config, false).await
    }

    async fn prepare_with(config: &Config, rollups: bool) -> Result<Engine, Error> {
        let log = Log::new(config);
        let (ctx, pool) = source::session(&config.engine)?;
        let sources = source::register_all(&ctx, config).await?;
        log.note(|| {
            let files: usize = sources.iter().map(|s| s.files).sum();
            let bytes: u64 = sources.iter().map(|s| s.bytes).sum();
            format!(
                "registered {} datasets: {files} files, {} bytes",
                sources.len(),
                thousands(bytes as i64)
            )
        });
        let project = Project::load(&config.sql_dir)?;
        let params = Params {
            as_of_date: config.as_of,
            account_id_key: config.sources.account_id_key.clone(),
            report_range: None,
        };
        let store = if rollups {
            Some(Store::open(&config.incremental.location)?)
        } else {
            None
        };
        let rollups = features::register(
            &ctx,
            &project,
            &params,
            &config.extra_free_email_domains,
            store.as_ref().map(|store| features::Rollups {
                store,
                settle_days: config.incremental.settle_days,
                slack_days: config.sources.partition_slack_days,
                sources: &sources,
                full_refresh: config.incremental.full_refresh,
            }),
        )
        .await?;
        for r in &rollups {
            log.note(|| match r.through {
                Some(through) => format!(
                    "rollup {}: {} ({} rows, events before {through}){}",
                    r.view,
                    r.action,
                    thousands(r.rows as i64),
                    if r.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", r.reason)
                    }
                ),
                None => format!("rollup {}: {}: {}", r.view, r.action, r.reason),
            });
        }
        log.note(|| {
            format!(
                "planned {} views and {} seeds from {} (as of {})",
                project.views.len(),
                project.seeds.len(),
                config.sql_dir.display(),
                config.as_of
            )
        });
        Ok(Engine {
            ctx,
            pool,
            sources,
            project,
        })
    }

    /// Fill in what every feature-computing command reports once its output is written:
    /// memory and spills, data quality, sources, the output, the time taken.
    async fn complete(
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
            peak_memory_bytes: self.pool.peak(),
            spill_files,
            spilled_bytes,
        }
    }

    /// Counts from the optional `data_quality` view: one row, every column a count.
    pub async fn data_quality(&self) -> Result<BTreeMap<String, i64>, Error> {
        let mut out = BTreeMap::new();
        if !self
            .ctx
            .table_exist("data_quality")
            .map_err(FeatureError::Execution)?
        {
            return Ok(out);
        }
        let batches = self
            .ctx
            .table("data_quality")
            .await
            .map_err(FeatureError::Execution)?
            .collect()
            .await
            .map_err(FeatureError::execution)?;
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

fn spinner(config: &Config, message: &str) -> ProgressBar {
    let visible = config.verbosity >= Verbosity::Normal && std::io::stderr().is_terminal();
    let bar = if visible {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn sum_column(batch: &RecordBatch, name: &str) -> i64 {
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

/// `pqlsync features`: write `account_features` to a file.
pub async fn features(config: &Config) -> Result<Summary, Error> {
    let started = Instant::now();
    let out = config
        .out
        .clone()
        .unwrap_or_else(|| config.output_dir.join("account_features.parquet"));
    let log = Log::new(config);
    let engine = Engine::prepare(config).await?;
    let bar = spinner(config, "computing account_features");
    let df = features::account_features(&engine.ctx).await?;
    // The executed stream's schema, not the logical one: physical types may differ
    // (e.g. Utf8View for Utf8) and the writer must match the batches.
    let features::Running { plan, mut stream } = features::stream(df).await?;
    let mut writer = AtomicWriter::create(&out, stream.schema())?;
    let mut summary = Summary::new("features", Some(config.as_of));
    let mut duplicates = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(FeatureError::execution)?;
        duplicates += sum_column(&batch, "duplicate_events_14d");
        writer.write(&batch)?;
        summary.accounts += batch.num_rows();
        bar.set_message(format!(
            "computing account_features: {} accounts",
            thousands(summary.accounts as i64)
        ));
    }
    writer.finish()?;
    bar.finish_and_clear();
    log.note(|| format!("wrote {} accounts to {}", summary.accounts, out.display()));
    log.plan(&plan);
    engine
        .complete(config, summary, &plan, duplicates, Some(&out), started)
        .await
}

/// Which decision command is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `pqlsync score`: decisions to a file; state untouched, no sync.
    Score,
    /// `pqlsync run`: decisions to DIR/decisions.parquet, state advanced, HubSpot synced.
    Run,
    /// `pqlsync plan` / `run --dry-run`: decisions and the sync plan, nothing written.
    DryRun,
}

/// `pqlsync score`, `pqlsync run` and `pqlsync plan`.
pub async fn decide(config: &Config, mode: Mode) -> Result<Summary, Error> {
    let started = Instant::now();
    let out: Option<PathBuf> = match mode {
        Mode::Score => Some(
            config
                .out
                .clone()
                .unwrap_or_else(|| config.output_dir.join("scores.parquet")),
        ),
        Mode::Run => Some(
            config
                .out
                .clone()
                .unwrap_or_else(|| config.output_dir.clone())
                .join("decisions.parquet"),
        ),
        Mode::DryRun => None,
    };
    let store = Store::open(&config.state)?;
    let mut memory = RoutingState::load(&store).await?;
    if mode == Mode::Run {
        memory.check_forward(&config.state.configured, config.as_of)?;
    }
    let log = Log::new(config);
    let engine = Engine::prepare(config).await?;
    let bar = spinner(config, "scoring accounts");
    let df = features::account_features(&engine.ctx).await?;
    let features::Running { plan, mut stream } = features::stream(df).await?;
    let mut decider = Decider::new(config, &memory, stream.schema())?;
    let mut writer = match &out {
        Some(path) => Some(AtomicWriter::create(path, decider.output_schema())?),
        None => None,
    };
    let name = match mode {
        Mode::Score => "score",
        Mode::Run => "run",
        Mode::DryRun => "plan",
    };
    let mut summary = Summary::new(name, Some(config.as_of));
    let mut kept: Vec<Decision> = Vec::new();
    let mut duplicates = 0;
    let mut snapshot = (mode == Mode::Run)
        .then(|| history::Snapshot::new(&config.history, config.as_of, history::Origin::Run));
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(FeatureError::execution)?;
        duplicates += sum_column(&batch, "duplicate_events_14d");
        let (decided, decisions) = decider.decide(&batch)?;
        if let Some(w) = writer.as_mut() {
            w.write(&decided)?;
        }
        if let Some(s) = snapshot.as_mut() {
            s.push(&decided)?;
        }
        for d in &decisions {
            summary.count(d);
        }
        if mode != Mode::Score {
            kept.extend(decisions);
        }
        bar.set_message(format!(
            "scoring accounts: {}",
            thousands(summary.accounts as i64)
        ));
    }
    drop(decider);
    if let Some(w) = writer {
        w.finish()?;
    }
    bar.finish_and_clear();
    log.note(|| format!("decided {} accounts", summary.accounts));
    log.plan(&plan);
    if mode == Mode::Run {
        // Only now that the decisions are on disk does the memory move forward.
        for d in &kept {
            memory.record(&d.account_id, d.route.memory.clone());
        }
        memory.save(&store).await?;
        log.note(|| format!("routing memory advanced to {}", config.as_of));
    }
    let mut summary = engine
        .complete(config, summary, &plan, duplicates, out.as_deref(), started)
        .await?;
    log.note(|| "counted data quality".into());
    if mode != Mode::Score {
        let synced = hubspot::sync(config, &engine, &kept, mode == Mode::DryRun, &log).await?;
        log.note(|| "HubSpot sync finished".into());
        if mode == Mode::Run && !synced.owners.is_empty() {
            // Owners HubSpot already had stay the accounts' owners in routing, too.
            for (account, owner) in &synced.owners {
                memory.set_owner(account, config.as_of, owner);
            }
            memory.save(&store).await?;
        }
        if let Some(mut snapshot) = snapshot.take() {
            // After the sync, so the snapshot carries the owners HubSpot already had.
            snapshot.set_owners(&synced.owners)?;
            let rows = snapshot.commit(&Store::open(&config.history)?).await?;
            log.note(|| format!("history for {} written ({rows} accounts)", config.as_of));
        }
        summary
            .outputs
            .extend(synced.report.outputs.iter().cloned());
        summary.plan = synced.plan;
        summary.sync = Some(synced.report);
        summary.seconds = started.elapsed().as_secs_f64();
    }
    Ok(summary)
}

/// What `backfill` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Backfill {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub days: usize,
    /// Snapshot rows written over all days.
    pub rows: usize,
    pub history: String,
    pub seconds: f64,
}

impl std::fmt::Display for Backfill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "backfilled {} day(s), {} to {}: {} account snapshots in {} ({:.1}s)",
            self.days,
            self.from,
            self.to,
            thousands(self.rows as i64),
            self.history,
            self.seconds
        )
    }
}

/// `pqlsync backfill --from --to`: score each past day as `run` would have (features as of
/// that day, routing memory carried from day to day, starting empty at `from`) and write its
/// history snapshot. Neither the routing state nor HubSpot is touched.
pub async fn backfill(
    config: &Config,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<Backfill, Error> {
    let started = Instant::now();
    if from > to {
        return Err(Error::Usage(format!(
            "--from {from} is after --to {to}: give the first day, then the last"
        )));
    }
    let days = (to - from).num_days() as u64 + 1;
    let log = Log::new(config);
    let store = Store::open(&config.history)?;
    let mut memory = RoutingState::default();
    let visible = config.verbosity >= Verbosity::Normal && std::io::stderr().is_terminal();
    let bar = if visible {
        ProgressBar::with_draw_target(Some(days), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} days {msg} [{elapsed} / ~{duration}]")
            .expect("valid template"),
    );
    let mut rows = 0;
    for day in from.iter_days().take_while(|d| *d <= to) {
        bar.set_message(day.to_string());
        let mut day_config = config.clone();
        day_config.as_of = day;
        let engine = Engine::prepare(&day_config).await?;
        let df = features::account_features(&engine.ctx).await?;
        let features::Running { mut stream, .. } = features::stream(df).await?;
        let mut decider = Decider::new(&day_config, &memory, stream.schema())?;
        let mut snapshot = history::Snapshot::new(&config.history, day, history::Origin::Backfill);
        let mut decided_today = Vec::new();
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(FeatureError::execution)?;
            let (decided, decisions) = decider.decide(&batch)?;
            snapshot.push(&decided)?;
            decided_today.extend(
                decisions
                    .into_iter()
                    .map(|d| (d.account_id, d.route.memory)),
            );
        }
        drop(decider);
        for (account, m) in decided_today {
            memory.record(&account, m);
        }
        let written = snapshot.commit(&store).await?;
        rows += written;
        log.note(|| format!("{day}: {written} accounts"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Backfill {
        from,
        to,
        days: days as usize,
        rows,
        history: config.history.configured.clone(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// `pqlsync explain ACCOUNT_ID`: one account's features, signals, score and route.
pub async fn explain(config: &Config, account_id: &str, json: bool) -> Result<String, Error> {
    let store = Store::open(&config.state)?;
    let memory = RoutingState::load(&store).await?;
    let engine = Engine::prepare(config).await?;
    let df = features::account_features(&engine.ctx).await?;
    let batches = df
        .filter(col("account_id").eq(lit(account_id)))
        .map_err(FeatureError::Execution)?
        .collect()
        .await
        .map_err(FeatureError::execution)?;
    let Some(batch) = batches.into_iter().find(|b| b.num_rows() > 0) else {
        return Err(Error::Usage(format!(
            "account `{account_id}` is not in account_features for {} (accounts come from groups with a timestamp before the end of that day)",
            config.as_of
        )));
    };
    let mut decider = Decider::new(config, &memory, batch.schema())?;
    let (_, decisions) = decider.decide(&batch)?;
    let d = &decisions[0];
    let values: Vec<(String, Value)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            (
                f.name().clone(),
                Value::from_array(c, 0).unwrap_or(Value::Null),
            )
        })
        .collect();
    if json {
        return Ok(explain_json(config, d, &values));
    }
    Ok(explain_text(
        config,
        d,
        &values,
        memory.prior(account_id, config.as_of),
    ))
}

fn explain_text(
    config: &Config,
    d: &Decision,
    values: &[(String, Value)],
    prior: Option<&crate::route::Memory>,
) -> String {
    use std::fmt::Write;
    let m = &config.scoring;
    let s = &d.score;
    let mut t = String::new();
    let name = values
        .iter()
        .find(|(n, _)| n == "account_name")
        .map(|(_, v)| v.to_string())
        .filter(|n| n != "null");
    let _ = writeln!(
        t,
        "account {}{}  as of {}",
        d.account_id,
        name.map(|n| format!(" ({n})")).unwrap_or_default(),
        config.as_of
    );
    let _ = writeln!(
        t,
        "\nPQL score {} → {}  (= {:.2} × fit {} + {:.2} × usage {}; Yellow ≥ {}, Green ≥ {})",
        s.pql,
        s.tier.as_str().to_uppercase(),
        m.fit_weight,
        s.fit,
        m.usage_weight(),
        s.usage,
        m.tiers.yellow,
        m.tiers.green
    );
    for (label, fired, total) in [
        ("fit", &s.fit_signals, s.fit),
        ("usage", &s.usage_signals, s.usage),
    ] {
        let _ = writeln!(
            t,
            "\n{label} {total}/100 (sum of signals, clamped to 0–100):"
        );
        if fired.is_empty() {
            let _ = writeln!(t, "  (no signal fired)");
        }
        for f in fired {
            let _ = writeln!(t, "  {}", f.text);
        }
    }
    let r = &d.route;
    let _ = writeln!(t, "\nroute");
    let _ = writeln!(t, "  motion      {}  ({})", r.motion.as_str(), r.reason);
    let _ = writeln!(
        t,
        "  owner       {}",
        r.owner
            .as_deref()
            .unwrap_or("(none: no owner pool configured)")
    );
    let _ = writeln!(t, "  lead stage  {}", r.lead_stage.as_str());
    let _ = writeln!(
        t,
        "  deal stage  {}",
        r.deal_stage.map_or("(no trial, no deal)", |s| s.as_str())
    );
    let _ = writeln!(
        t,
        "  task        {}",
        r.task.as_ref().map_or("none".to_string(), |x| format!(
            "{} (due {})",
            x.subject, x.due
        ))
    );
    match prior {
        Some(p) => {
            let _ = writeln!(
                t,
                "  previously  {} on {}: {} / {} / {}",
                p.tier.as_str(),
                p.as_of,
                p.motion.as_str(),
                p.lead_stage.as_str(),
                p.deal_stage.map_or("-", |s| s.as_str())
            );
        }
        None => {
            let _ = writeln!(t, "  previously  (no run before {})", config.as_of);
        }
    }
    let _ = writeln!(t, "\nfeatures");
    let width = values.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (n, v) in values {
        let _ = writeln!(t, "  {n:<width$}  {v}");
    }
    t
}

fn explain_json(config: &Config, d: &Decision, values: &[(String, Value)]) -> String {
    let features: serde_json::Map<String, serde_json::Value> = values
        .iter()
        .map(|(n, v)| {
            let j = match v {
                Value::Null => serde_json::Value::Null,
                Value::Int(i) => serde_json::json!(i),
                Value::Float(f) => serde_json::json!(f),
                Value::Bool(b) => serde_json::json!(b),
                other => serde_json::json!(other.to_string()),
            };
            (n.clone(), j)
        })
        .collect();
    let fired = |list: &[crate::score::Fired]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|f| serde_json::json!({"points": f.points, "text": f.text}))
            .collect()
    };
    let r = &d.route;
    let doc = serde_json::json!({
        "account_id": d.account_id,
        "as_of": config.as_of.to_string(),
        "fit_score": d.score.fit,
        "usage_score": d.score.usage,
        "pql_score": d.score.pql,
        "tier": d.score.tier.as_str(),
        "fit_signals": fired(&d.score.fit_signals),
        "usage_signals": fired(&d.score.usage_signals),
        "motion": r.motion.as_str(),
        "route_reason": r.reason,
        "owner": r.owner,
        "lead_stage": r.lead_stage.as_str(),
        "deal_stage": r.deal_stage.map(|s| s.as_str()),
        "task": r.task.as_ref().map(|t| serde_json::json!({"subject": t.subject, "due": t.due.to_string(), "owner": t.owner})),
        "features": features,
    });
    serde_json::to_string_pretty(&doc).expect("JSON values serialise")
}

/// `pqlsync validate`: config, sources, SQL and the decision config, without computing.
pub async fn validate(config: &Config) -> Result<String, Error> {
    use std::fmt::Write;
    let engine = Engine::plan(config).await?;
    let df = features::account_features(&engine.ctx).await?;
    let schema = df.schema().as_arrow().clone();
    crate::decision::check_config(config, &schema)?;
    crate::decision::output_schema(&schema)?;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "config {} is valid (as of {})",
        config.path.display(),
        config.as_of
    );
    let _ = writeln!(t, "sources");
    for s in &engine.sources {
        match &s.url {
            Some(url) => {
                let _ = write!(
                    t,
                    "  raw.{:<20} {} files, {} bytes  {url}",
                    s.name,
                    thousands(s.files as i64),
                    thousands(s.bytes as i64)
                );
                if !s.partition_columns.is_empty() {
                    let _ = write!(t, "  partitioned by {}", s.partition_columns.join("/"));
                }
                if !s.absent_optional_columns.is_empty() {
                    let _ = write!(
                        t,
                        "  (absent, read as null: {})",
                        s.absent_optional_columns.join(", ")
                    );
                }
                let _ = writeln!(t);
            }
            None => {
                let _ = writeln!(t, "  raw.{:<20} not configured (empty)", s.name);
            }
        }
    }
    let _ = writeln!(t, "sql views (planning order)");
    for v in &engine.project.views {
        let rel = v.path.strip_prefix(&config.sql_dir).unwrap_or(&v.path);
        let _ = writeln!(t, "  {:<22} {}", v.name, rel.display());
    }
    for s in &engine.project.seeds {
        let _ = writeln!(
            t,
            "  {:<22} seed {}",
            s.name,
            s.path.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    let _ = writeln!(
        t,
        "account_features: {} columns; {} fit and {} usage signals, {} disqualify rules check out",
        schema.fields().len(),
        config.scoring.fit.len(),
        config.scoring.usage.len(),
        config.routing.disqualify.len()
    );
    Ok(t)
}

/// What `report` did.
#[derive(Debug, Clone)]
pub struct ReportRun {
    pub tables: Vec<(String, usize)>,
    pub files: Vec<PathBuf>,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub history_days: usize,
    pub seconds: f64,
}

impl std::fmt::Display for ReportRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "report of trials started {} to {}, from {} day(s) of score history ({:.1}s)",
            self.from, self.to, self.history_days, self.seconds
        )?;
        for (name, rows) in &self.tables {
            writeln!(f, "  {name:<18} {rows:>7} rows")?;
        }
        writeln!(f, "wrote")?;
        for file in &self.files {
            writeln!(f, "  {}", file.display())?;
        }
        Ok(())
    }
}

/// `pqlsync report`: the report SQL over the score history, written to `out`. Trials that
/// started `from`..=`to`; without `from`, the last `[report] weeks` ISO weeks up to `to`, but
/// not before the history's first day (earlier trials' activation cannot be measured).
pub async fn report(
    config: &Config,
    out: &std::path::Path,
    from: Option<chrono::NaiveDate>,
    to: chrono::NaiveDate,
    formats: crate::report::Formats,
) -> Result<ReportRun, Error> {
    use chrono::Datelike;
    let started = Instant::now();
    let log = Log::new(config);
    let views = features::load_reports(&config.sql_dir)?;
    let engine = Engine::prepare(config).await?;
    let store = Store::open(&config.history)?;
    let days = history::days(&store).await?;
    let history_days = days.iter().filter(|d| **d <= config.as_of).count();
    if history_days == 0 {
        return Err(Error::Usage(format!(
            "no score history on or before {} at {}: `pqlsync run` adds a day each run; \
             `pqlsync backfill --from YYYY-MM-DD --to {}` fills in past days",
            config.as_of, config.history.configured, config.as_of
        )));
    }
    let from = from.unwrap_or_else(|| {
        let monday = to - chrono::TimeDelta::days(i64::from(to.weekday().num_days_from_monday()));
        let weeks_back = monday - chrono::TimeDelta::weeks(i64::from(config.report_weeks) - 1);
        weeks_back.max(days[0])
    });
    if from > to {
        return Err(Error::Usage(format!(
            "--from {from} is after --to {to}: give the first trial-start day, then the last"
        )));
    }
    history::register(&engine.ctx, &config.history, &days)?;
    log.note(|| format!("history: {history_days} day(s) from {}", days[0]));
    let params = Params {
        as_of_date: config.as_of,
        account_id_key: config.sources.account_id_key.clone(),
        report_range: Some((from, to)),
    };
    let bar = spinner(config, "computing the report");
    let dir = config.sql_dir.join("reports");
    let tables = crate::report::compute(&engine.ctx, &views, &params, &dir).await?;
    log.note(|| format!("computed {} report tables", tables.len()));
    let context = crate::report::Context {
        as_of: config.as_of,
        from,
        to,
        history_days,
        history_first: days.first().copied(),
        history_url: config.history.configured.clone(),
    };
    let written = crate::report::write(out, &tables, formats, &context)?;
    bar.finish_and_clear();
    Ok(ReportRun {
        tables: tables.iter().map(|t| (t.name.clone(), t.rows())).collect(),
        files: written.files,
        from,
        to,
        history_days,
        seconds: started.elapsed().as_secs_f64(),
    })
}
