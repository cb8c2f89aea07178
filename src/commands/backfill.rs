//! `pqlsync backfill --from DATE [--to DATE]`: the score history for past days, as `run`
//! would have written it, so the report has cohorts from before pqlsync was scheduled.

use std::time::Instant;

use futures::StreamExt;

use super::pipeline::{Days, progress};
use super::{Error, Report, to_or_as_of};
use crate::cli::BackfillArgs;
use crate::config::{self, Config, RunOptions};
use pqlsync_core::fmt::thousands;
use pqlsync_rules::state::RoutingState;
use pqlsync_sql::decision::Decider;
use pqlsync_sql::features::{self, FINAL_VIEW, FeatureError};
use pqlsync_sql::history;
use pqlsync_sql::store::Store;

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

impl Report for Backfill {}

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
    run: &RunOptions,
    args: &BackfillArgs,
) -> Result<Backfill, Error> {
    let from = config::date_flag("from", &args.from)?;
    let to = to_or_as_of(args.to.as_deref(), run)?;
    let started = Instant::now();
    if from > to {
        return Err(Error::Usage(format!(
            "--from {from} is after --to {to}: give the first day, then the last"
        )));
    }
    let days = (to - from).num_days() as u64 + 1;
    let held = super::run::locked(config, run, "backfill", args.wait).await?;
    let result = backfill_days(config, run, from, to).await;
    held.release().await;
    let rows = result?;
    Ok(Backfill {
        from,
        to,
        days: days as usize,
        rows,
        history: config.history.configured.clone(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Score and snapshot each day from `from` to `to`; the snapshot rows written. A stop
/// (SIGTERM) ends it between two days, each written whole.
async fn backfill_days(
    config: &Config,
    run: &RunOptions,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<usize, Error> {
    let days = (to - from).num_days() as u64 + 1;
    let store = Store::open(&config.history)?;
    let mut memory = RoutingState::default();
    // The span's events are grouped once: each day extends yesterday's rollups by its own.
    let mut engine = Days::new("backfill", to);
    let bar = progress(run, days, "days");
    let mut rows = 0;
    for day in from.iter_days().take_while(|d| *d <= to) {
        if let Some(reason) = run.halt.reason() {
            return Err(Error::Interrupted(format!(
                "{reason} after {rows} snapshot rows; days before {day} are written whole, \
                 so backfill again from {day}"
            )));
        }
        bar.set_message(day.to_string());
        let day_run = RunOptions {
            as_of: day,
            ..run.clone()
        };
        let started = std::time::Instant::now();
        let prepared = engine.plan(config, &day_run).await?;
        let planned = started.elapsed().as_secs_f64();
        let df = features::account_features(&prepared.ctx).await?;
        let features::Running { mut stream, .. } = features::stream(df).await?;
        let optimized = started.elapsed().as_secs_f64() - planned;
        let mut decider = Decider::new(
            &config.scoring,
            &config.routing,
            day,
            &memory,
            stream.schema(),
        )?;
        let mut snapshot = history::Snapshot::new(&config.history, day, history::Origin::Backfill);
        let mut decided_today = Vec::new();
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(FeatureError::execution(FINAL_VIEW))?;
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
        let computed = started.elapsed().as_secs_f64() - planned - optimized;
        let written = snapshot.commit(&store).await?;
        rows += written;
        crate::logging::stage!(
            run.stages,
            "day",
            day = %day,
            accounts = written,
            // Where a day's time goes: the session planned for the day (its rollups
            // brought up to it), account_features' plan optimized, then run and decided.
            planned_seconds = planned,
            optimized_seconds = optimized,
            computed_seconds = computed,
            "backfilled {day}"
        );
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(rows)
}
