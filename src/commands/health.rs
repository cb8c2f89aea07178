//! Score health, for `report` and `run`. The `model_health` report table: the `scored_trials`
//! report table read into [`ScoredTrial`]s, judged month by month by
//! [`pqlsync_calibrate::health`], and laid out as one Arrow table, written and shown like every
//! other report table. And `run`'s look at the score itself, after the day's history is
//! written: PQL thresholds no account reached in the last `[report.health] unreached_runs`
//! days of score history (a threshold left on an old scale stops its playbook without an
//! error), and model health's latest complete month, each one warning line with its figures
//! as log fields and in the summary. Neither changes the exit code, and a failure here is a
//! warning too: the run's work is already done and saved.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;

use super::Error;
use super::pipeline::Prepared;
use crate::config::{self, Config, RunOptions};
use crate::summary::{Recalibrate, ScoreHealth, Unreached};
use pqlsync_calibrate::Window;
use pqlsync_calibrate::health::{self, Baseline, Month, ScoredTrial};
use pqlsync_rules::score::Tier;
use pqlsync_sql::features;
use pqlsync_sql::history;
use pqlsync_sql::report::{MODEL_HEALTH, ReportError, SCORED_TRIALS, Table};
use pqlsync_sql::store::Store;
use pqlsync_sql::value::{FromArray, Value};

/// The checks, or a warning saying why they could not run.
pub async fn check(config: &Config, run: &RunOptions, engine: &Prepared) -> ScoreHealth {
    match checked(config, run, engine).await {
        Ok(health) => health,
        Err(e) => {
            tracing::warn!(
                stage = "health",
                "could not check the score's health (the run's results are saved): {e}"
            );
            ScoreHealth::default()
        }
    }
}

async fn checked(
    config: &Config,
    run: &RunOptions,
    engine: &Prepared,
) -> Result<ScoreHealth, Error> {
    let days: Vec<NaiveDate> = history::days(&Store::open(&config.history)?)
        .await?
        .into_iter()
        .filter(|d| *d <= run.as_of)
        .collect();
    if days.is_empty() {
        return Ok(ScoreHealth::default());
    }
    history::register(&engine.ctx, &config.history, &days)?;
    let mut health = ScoreHealth {
        unreached: unreached(config, engine, &days).await?,
        recalibrate: None,
    };
    for u in &health.unreached {
        tracing::warn!(
            stage = "health",
            key = %u.key,
            threshold = u.threshold,
            highest = u.highest,
            runs = u.runs,
            "{} = {}: no account reached it in the last {} days of score history (the highest \
             PQL score was {}), so what it triggers has not happened. Lower it, or adopt \
             pqlsync calibrate's thresholds with its scorecard",
            u.key,
            u.threshold,
            u.runs,
            u.highest
        );
    }
    health.recalibrate = recalibrate(config, run, engine, days[0]).await?;
    Ok(health)
}

/// Thresholds above the highest PQL score of the last `unreached_runs` days; none until the
/// history has that many days.
async fn unreached(
    config: &Config,
    engine: &Prepared,
    days: &[NaiveDate],
) -> Result<Vec<Unreached>, Error> {
    let runs = config.report.health.unreached_runs as usize;
    if days.len() < runs {
        return Ok(Vec::new());
    }
    let since = days[days.len() - runs];
    let sql = format!(
        "SELECT max(pql_score) AS highest FROM {} WHERE as_of >= DATE '{since}'",
        history::TABLE
    );
    let batches = engine
        .ctx
        .sql(&sql)
        .await
        .map_err(features::FeatureError::execution(history::TABLE))?
        .collect()
        .await
        .map_err(features::FeatureError::execution(history::TABLE))?;
    let highest = batches
        .first()
        .filter(|b| b.num_rows() > 0)
        .and_then(|b| pqlsync_sql::value::Value::from_array(b.column(0), 0).ok())
        .and_then(|v| v.as_i64());
    let Some(highest) = highest.map(|h| h.clamp(0, 100) as u8) else {
        return Ok(Vec::new());
    };
    Ok(
        config::pql_thresholds(&config.scoring, &config.routing, &config.hubspot)
            .into_iter()
            .filter(|(_, threshold, _)| *threshold > highest)
            .map(|(key, threshold, _)| Unreached {
                key,
                threshold,
                highest,
                runs,
            })
            .collect(),
    )
}

/// Model health's latest complete month, when it is flagged (and warned about).
async fn recalibrate(
    config: &Config,
    run: &RunOptions,
    engine: &Prepared,
    first: NaiveDate,
) -> Result<Option<Recalibrate>, Error> {
    let views = features::load_reports(&config.sql_dir)?;
    let Some(view) = views.into_iter().find(|v| v.name == SCORED_TRIALS) else {
        return Ok(None);
    };
    let params = super::pipeline::params(config, run, None);
    let dir = config.sql_dir.join("reports");
    let tables = pqlsync_sql::report::compute(&engine.ctx, &[view], &params, &dir).await?;
    let window = window(config, run, first);
    let Some(months) = judge(&tables, &window, &baseline(config))? else {
        return Ok(None);
    };
    warn_if_flagged(&months);
    Ok(
        pqlsync_calibrate::health::latest_flag(&months).map(|m| Recalibrate {
            month: m.month.format("%Y-%m").to_string(),
            reason: m.flag.clone().unwrap_or_default(),
            auc: m.auc,
            baseline_auc: m.baseline_auc,
            psi: m.psi,
        }),
    )
}

/// What `model_health` holds; written above it like a report file's comment block.
const DEFINITIONS: &str = "\
model_health: one row per trial-start month, from scored_trials (each trial's score on its trial
day K). A trial counts as labelled as calibrate counts it: not paying by the end of day K, and its
horizon (H days, [scoring.calibration] horizon, default 30) closed by the as-of day; converted:
paid within H days of the start. auc: how well the day-K score ranks the labelled trials (0.5 is
chance, 1 perfect); baseline_auc: the calibration's holdout AUC, else the first month judged.
psi: population stability index of the day-K scores (ten 10-point bands) against the
calibration's training trials, else the first month; above 0.1 a shift, above 0.2 a shift to act
on. Tier shares and rates are over the labelled trials. complete: every trial of the month has its
label. flag: \"recalibrate\" when a complete month's AUC fell more than [report.health]
auc_margin below the baseline (with at least 10 conversions and 10 non-conversions), or the
month's PSI passed [report.health] psi_limit (with at least 50 scored trials).";

/// The trials of the `scored_trials` table; an error names the column that is not as
/// `sql/reports/scored_trials.sql` defines it.
pub fn scored_trials(table: &Table) -> Result<Vec<ScoredTrial>, ReportError> {
    let bad = |column: &str| ReportError::Sql {
        file: format!("sql/reports/{SCORED_TRIALS}.sql").into(),
        message: format!(
            "column `{column}` is missing or not of its type (trial_start and paid_at \
             timestamps, pql_score an integer, tier text): model_health reads it"
        ),
    };
    let mut out = Vec::with_capacity(table.rows());
    for batch in &table.batches {
        let column = |name: &str| batch.column_by_name(name).ok_or_else(|| bad(name));
        let (start, paid, score, tier) = (
            column("trial_start")?,
            column("paid_at")?,
            column("pql_score")?,
            column("tier")?,
        );
        for row in 0..batch.num_rows() {
            let value = |a: &ArrayRef, name: &str| Value::from_array(a, row).map_err(|_| bad(name));
            let start = value(start, "trial_start")?
                .as_timestamp()
                .ok_or_else(|| bad("trial_start"))?;
            let paid_at = value(paid, "paid_at")?.as_timestamp();
            let score = value(score, "pql_score")?
                .as_i64()
                .map(|s| s.clamp(0, 100) as u8);
            let tier = value(tier, "tier")?.as_str().and_then(Tier::parse);
            out.push(ScoredTrial {
                start,
                paid_at,
                score,
                tier,
            });
        }
    }
    Ok(out)
}

/// The `model_health` table of `months`.
pub fn table(months: &[Month]) -> Table {
    let f64s = |f: &dyn Fn(&Month) -> Option<f64>| -> ArrayRef {
        Arc::new(months.iter().map(f).collect::<Float64Array>())
    };
    let ints = |f: &dyn Fn(&Month) -> usize| -> ArrayRef {
        Arc::new(months.iter().map(|m| f(m) as i64).collect::<Int64Array>())
    };
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let mut columns: Vec<(String, ArrayRef)> = vec![
        (
            "month".into(),
            Arc::new(
                months
                    .iter()
                    .map(|m| Some((m.month - epoch).num_days() as i32))
                    .collect::<Date32Array>(),
            ),
        ),
        ("trials".into(), ints(&|m| m.trials)),
        ("scored".into(), ints(&|m| m.scored)),
        ("labelled".into(), ints(&|m| m.labelled)),
        ("conversions".into(), ints(&|m| m.conversions)),
        ("conversion_rate".into(), f64s(&|m| m.rate)),
        ("auc".into(), f64s(&|m| m.auc)),
        ("baseline_auc".into(), f64s(&|m| m.baseline_auc)),
        ("psi".into(), f64s(&|m| m.psi)),
    ];
    for (i, tier) in ["green", "yellow", "red"].into_iter().enumerate() {
        columns.push((
            format!("{tier}_share"),
            f64s(&move |m| Some(m.tiers[i].share)),
        ));
        columns.push((format!("{tier}_rate"), f64s(&move |m| m.tiers[i].rate)));
    }
    columns.push((
        "complete".into(),
        Arc::new(
            months
                .iter()
                .map(|m| Some(m.complete))
                .collect::<BooleanArray>(),
        ),
    ));
    columns.push((
        "flag".into(),
        Arc::new(
            months
                .iter()
                .map(|m| m.flag.clone())
                .collect::<StringArray>(),
        ),
    ));
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, a)| Field::new(name, a.data_type().clone(), name != "month"))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .expect("columns of one length and their own types");
    Table {
        name: MODEL_HEALTH.to_string(),
        definitions: DEFINITIONS.to_string(),
        schema,
        batches: vec![batch],
    }
}

/// Judge `scored_trials` when the report has it: the months, or none without the table.
pub fn judge(
    tables: &[Table],
    window: &Window,
    baseline: &Baseline,
) -> Result<Option<Vec<Month>>, ReportError> {
    let Some(scored) = tables.iter().find(|t| t.name == SCORED_TRIALS) else {
        return Ok(None);
    };
    let trials = scored_trials(scored)?;
    Ok(Some(health::months(&trials, window, baseline)))
}

/// One warning when the latest complete month says "recalibrate", with its figures as log
/// fields (`run` and `report` both call it; neither changes its exit code for it).
pub fn warn_if_flagged(months: &[Month]) {
    if let Some(m) = health::latest_flag(months) {
        tracing::warn!(
            stage = "health",
            month = %m.month.format("%Y-%m"),
            auc = m.auc,
            baseline_auc = m.baseline_auc,
            psi = m.psi,
            recalibrate = true,
            "model health, trials started {}: {} (pqlsync calibrate; report.html, \"Model health\")",
            m.month.format("%Y-%m"),
            m.flag.as_deref().unwrap_or_default()
        );
    }
}

/// The label model health judges months by: calibrate's, with the scorecard's day K and
/// horizon (`[scoring.calibration]`, else calibrate's defaults).
pub fn window(config: &Config, run: &RunOptions, first: chrono::NaiveDate) -> Window {
    Window {
        as_of: run.as_of,
        from: first,
        to: run.as_of,
        at_day: config.provenance.at_day,
        horizon: config.provenance.horizon,
    }
}

/// What model health compares months with: the calibration's holdout AUC and training
/// trials, and `[report.health]`'s margins.
pub fn baseline(config: &Config) -> Baseline {
    Baseline {
        auc: config.provenance.holdout_auc,
        trained: config.provenance.trained,
        auc_margin: config.report.health.auc_margin,
        psi_limit: config.report.health.psi_limit,
    }
}
