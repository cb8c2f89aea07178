//! `pqlsync report [--from DATE] [--to DATE] [--format F]`: the cohort, activation, funnel
//! and revenue tables over the score history (the analyst SQL in `sql/reports/`), written as
//! CSV, Parquet and one self-contained HTML page.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{Datelike, NaiveDate, TimeDelta};

use super::pipeline::{Prepared, spinner};
use super::{Error, Report, out_dir, to_or_as_of};
use crate::cli::{ReportArgs, ReportFormat};
use crate::config::{self, Config, RunOptions};
use pqlsync_sql::features;
use pqlsync_sql::history;
use pqlsync_sql::report::{Context, Formats, HealthNote, Table};
use pqlsync_sql::store::Store;

/// What `report` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportRun {
    pub tables: Vec<(String, usize)>,
    pub files: Vec<PathBuf>,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub history_days: usize,
    pub seconds: f64,
}

impl Report for ReportRun {}

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
    run: &RunOptions,
    args: &ReportArgs,
) -> Result<ReportRun, Error> {
    let to = to_or_as_of(args.to.as_deref(), run)?;
    let from = args
        .from
        .as_deref()
        .map(|from| config::date_flag("from", from))
        .transpose()?;
    use ReportFormat::{All, Csv, Html, Parquet};
    let formats = Formats {
        csv: matches!(args.format, Csv | All),
        parquet: matches!(args.format, Parquet | All),
        html: matches!(args.format, Html | All),
    };
    let out = out_dir(run, &config.report.dir);
    let started = Instant::now();
    let views = features::load_reports(&config.sql_dir)?;
    let engine = Prepared::new(config, run).await?;
    let days = history_days(config, run).await?;
    let from = from.unwrap_or_else(|| default_from(config, to, days[0]));
    if from > to {
        return Err(Error::Usage(format!(
            "--from {from} is after --to {to}: give the first trial-start day, then the last"
        )));
    }
    history::register(&engine.ctx, &config.history, &days)?;
    let history_days = days.iter().filter(|d| **d <= run.as_of).count();
    crate::logging::stage!(
        run.stages,
        "history",
        days = history_days,
        first = %days[0],
        "registered the score history"
    );
    let bar = spinner(run, "computing the report");
    let tables = tables(config, run, &engine, &views, (from, to), days[0]).await?;
    let context = Context {
        as_of: run.as_of,
        from,
        to,
        history_days,
        history_first: days.first().copied(),
        history_url: config.history.configured.clone(),
        health: health_note(config),
    };
    let written = pqlsync_sql::report::write(&out, &tables, formats, &context)?;
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

/// The days of score history, at least one of them on or before the as-of day.
async fn history_days(config: &Config, run: &RunOptions) -> Result<Vec<NaiveDate>, Error> {
    let days = history::days(&Store::open(&config.history)?).await?;
    if !days.iter().any(|d| *d <= run.as_of) {
        return Err(Error::NotFound(format!(
            "no score history on or before {} at {}: `pqlsync run` adds a day each run; \
             `pqlsync backfill --from YYYY-MM-DD --to {}` fills in past days",
            run.as_of, config.history.configured, run.as_of
        )));
    }
    Ok(days)
}

/// Without `--from`: the Monday `[report] weeks` ISO weeks back from `to`, but not before
/// the history's first day.
fn default_from(config: &Config, to: NaiveDate, first: NaiveDate) -> NaiveDate {
    let monday = to - TimeDelta::days(i64::from(to.weekday().num_days_from_monday()));
    let weeks_back = monday - TimeDelta::weeks(i64::from(config.report.weeks) - 1);
    weeks_back.max(first)
}

/// The report's tables from `sql/reports/`, then the score-health table when the history
/// allows judging it.
async fn tables(
    config: &Config,
    run: &RunOptions,
    engine: &Prepared,
    views: &[features::View],
    range: (NaiveDate, NaiveDate),
    first: NaiveDate,
) -> Result<Vec<Table>, Error> {
    let params = super::pipeline::params(config, run, Some(range));
    let dir = config.sql_dir.join("reports");
    let mut tables = pqlsync_sql::report::compute(&engine.ctx, views, &params, &dir).await?;
    let judged = super::health::judge(
        &tables,
        &super::health::window(config, run, first),
        &super::health::baseline(config),
    )?;
    if let Some(months) = judged {
        super::health::warn_if_flagged(&months);
        tables.push(super::health::table(&months));
    }
    crate::logging::stage!(
        run.stages,
        "report",
        tables = tables.len(),
        "computed the report tables"
    );
    Ok(tables)
}

/// What the page says about how the score-health checks were set up.
fn health_note(config: &Config) -> HealthNote {
    HealthNote {
        at_day: config.provenance.at_day,
        horizon: config.provenance.horizon,
        psi_limit: config.report.health.psi_limit,
        calibrated_auc: config.provenance.holdout_auc.is_some(),
        calibrated_reference: config.provenance.trained.is_some(),
    }
}
