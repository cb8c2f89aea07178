//! `pqlsync backfill --from DATE [--to DATE]`: the score history for past days, as `run`
//! would have written it, so the report has cohorts from before pqlsync was scheduled.

use std::time::Instant;

use super::pipeline::{Days, progress};
use super::{Error, Report, to_or_as_of};
use crate::cli::BackfillArgs;
use crate::config::{self, Config, RunOptions};
use pqlsync_core::fmt::thousands;
use pqlsync_rules::state::RoutingState;
use pqlsync_sql::decision::Decider;
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
///
/// Each day's features are optimized and computed while the next day's views are planned
/// ([`Computing`](super::pipeline::Computing)); the day is then decided and written before
/// the day after next is started, so the routing memory still goes from day to day in order.
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
    let mut next = Some(engine.start(config, run, from, Ok).await);
    for day in from.iter_days().take_while(|d| *d <= to) {
        let computing = next.take().expect("started before its day")?;
        if let Some(reason) = run.halt.reason() {
            return Err(Error::Interrupted(format!(
                "{reason} after {rows} snapshot rows; days before {day} are written whole, \
                 so backfill again from {day}"
            )));
        }
        bar.set_message(day.to_string());
        // Planned now, the next day is computed while this one is decided and written; its
        // error, if any, comes after this day is written.
        let tomorrow = day.succ_opt().filter(|d| *d <= to);
        if let Some(tomorrow) = tomorrow {
            next = Some(engine.start(config, run, tomorrow, Ok).await);
        }
        let planned = computing.planned_seconds;
        let waited = Instant::now();
        let computed = computing.rows().await?;
        let waited = waited.elapsed().as_secs_f64();
        let schema = computed.schema;
        let mut decider = Decider::new(&config.scoring, &config.routing, day, &memory, schema)?;
        let mut snapshot = history::Snapshot::new(&config.history, day, history::Origin::Backfill);
        let mut decided_today = Vec::new();
        for batch in &computed.rows {
            let (decided, decisions) = decider.decide(batch)?;
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
        crate::logging::stage!(
            run.stages,
            "day",
            day = %day,
            accounts = written,
            // Where a day's time goes: the session's views planned for the day (its
            // rollups brought up to it); then, while the next day's were planned,
            // account_features' plan optimized and run; then how long deciding the day
            // waited for that.
            planned_seconds = planned,
            optimized_seconds = computed.optimized_seconds,
            computed_seconds = computed.computed_seconds,
            waited_seconds = waited,
            "backfilled {day}"
        );
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(rows)
}
