//! `pqlsync calibrate [--from] [--to] [--at-day K] [--horizon H]`: the training set from the
//! exports (each trial's features as of the end of its day K, its label from `trial_paid`),
//! handed to `calibrate` for the fit, and the suggestion written as TOML, JSON and HTML. It
//! reads the exports and writes only `--out DIR`: no state, history, rollup or config.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{col, lit};

use super::pipeline::{Computing, Days, Prepared, progress};
use super::{Error, Report, out_dir, to_or_as_of, write_text};
use crate::cli::CalibrateArgs;
use crate::config::{self, Config, RunOptions};
use pqlsync_calibrate::{self as calibrate, Calibration, Example, Exclusion, Window};
use pqlsync_sql::decision;
use pqlsync_sql::features::{FINAL_VIEW, FeatureError};
use pqlsync_sql::value::{FromArray, Value};

/// The view that gives each trial's payment (`sql/outputs/trial_paid.sql`).
const TRIAL_PAID: &str = "trial_paid";
/// Where the files go without `--out`.
const DEFAULT_OUT: &str = "out/calibration";

/// What `calibrate` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CalibrateRun {
    #[serde(flatten)]
    pub calibration: Calibration,
    pub files: Vec<PathBuf>,
}

impl Report for CalibrateRun {}

impl std::fmt::Display for CalibrateRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&calibrate::summary(&self.calibration))?;
        writeln!(
            f,
            "wrote (nothing applied: review, then adopt calibration.toml)"
        )?;
        for file in &self.files {
            writeln!(f, "  {}", file.display())?;
        }
        Ok(())
    }
}

/// One trial from `trial_paid`.
struct Trial {
    account_id: String,
    start: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
}

pub async fn calibrate(
    config: &Config,
    run: &RunOptions,
    args: &CalibrateArgs,
) -> Result<CalibrateRun, Error> {
    let started = Instant::now();
    let window = window(run, args)?;
    let out = out_dir(run, Path::new(DEFAULT_OUT));
    let TrialDays { by_day, excluded } = trial_days(config, run, window).await?;
    let training = training_set(config, run, window, &by_day, excluded).await?;
    let mut calibration = calibrate::calibrate(
        calibrate::Inputs {
            window,
            model: &config.scoring,
            columns: &training.columns,
            excluded: training.excluded,
            feature_seconds: training.seconds,
            thresholds: pql_thresholds(config),
        },
        training.examples,
    )?;
    calibration.seconds = started.elapsed().as_secs_f64();
    let files = write(&out, &calibration)?;
    Ok(CalibrateRun { calibration, files })
}

/// The training window from the flags, checked.
fn window(run: &RunOptions, args: &CalibrateArgs) -> Result<Window, Error> {
    let to = to_or_as_of(args.to.as_deref(), run)?;
    let from = match args.from.as_deref() {
        Some(from) => config::date_flag("from", from)?,
        None => run.as_of - TimeDelta::days(365),
    };
    if from > to {
        return Err(Error::Usage(format!(
            "--from {from} is after --to {to}: give the first trial-start day, then the last"
        )));
    }
    if args.at_day == 0 {
        return Err(Error::Usage(
            "--at-day must be at least 1 (day 1 is the trial's start day)".into(),
        ));
    }
    if args.horizon < args.at_day {
        return Err(Error::Usage(format!(
            "--horizon {} is shorter than --at-day {}: the label window must outlast the day \
             the features are taken",
            args.horizon, args.at_day
        )));
    }
    Ok(Window {
        as_of: run.as_of,
        from,
        to,
        at_day: args.at_day,
        horizon: args.horizon,
    })
}

/// The labelled trials, grouped by the day their features are taken, and the trials left out
/// with their reasons.
struct TrialDays {
    by_day: BTreeMap<NaiveDate, HashMap<String, bool>>,
    excluded: BTreeMap<String, usize>,
}

/// Trials and labels as of the as-of day.
async fn trial_days(config: &Config, run: &RunOptions, window: Window) -> Result<TrialDays, Error> {
    let engine = Prepared::plan(config, run).await?;
    let trials = trials(&engine).await?;
    let no_trial = accounts_without_trial(&engine).await?;
    drop(engine);
    let mut excluded: BTreeMap<String, usize> = BTreeMap::new();
    if no_trial > 0 {
        excluded.insert("no_trial".into(), no_trial);
    }
    let mut by_day: BTreeMap<NaiveDate, HashMap<String, bool>> = BTreeMap::new();
    for t in trials {
        let start_day = t.start.date_naive();
        if start_day < window.from || start_day > window.to {
            continue;
        }
        match window.label(t.start, t.paid_at) {
            Ok(converted) => {
                by_day
                    .entry(window.feature_day(start_day))
                    .or_default()
                    .insert(t.account_id, converted);
            }
            Err(reason) => *excluded.entry(reason.as_str().into()).or_default() += 1,
        }
    }
    crate::logging::stage!(
        run.stages,
        "trials",
        trials = by_day.values().map(HashMap::len).sum::<usize>(),
        days = by_day.len(),
        "found the trials to compute features for"
    );
    Ok(TrialDays { by_day, excluded })
}

/// What the fit learns from: every trial's features as of its day K.
struct TrainingSet {
    examples: Vec<Example>,
    /// The numeric and boolean feature columns, in the view's order.
    columns: Vec<String>,
    excluded: BTreeMap<String, usize>,
    seconds: f64,
}

/// Features as of each trial's day K: one feature computation per day, only the accounts
/// whose day K it is.
async fn training_set(
    config: &Config,
    run: &RunOptions,
    window: Window,
    by_day: &BTreeMap<NaiveDate, HashMap<String, bool>>,
    mut excluded: BTreeMap<String, usize>,
) -> Result<TrainingSet, Error> {
    let started = Instant::now();
    let mut examples = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    let bar = progress(run, by_day.len() as u64, "days of features");
    // The days come in order, in one session; each extends the last one's rollups by the
    // days between.
    let last = by_day.keys().next_back().copied().unwrap_or(window.to);
    let mut engine = Days::new("calibrate", last);
    // Each day's features are computed while the next day is planned.
    let days: Vec<_> = by_day.iter().collect();
    let mut next = match days.first() {
        Some((day, accounts)) => Some(start(config, run, &mut engine, **day, accounts).await),
        None => None,
    };
    for (i, (day, accounts)) in days.iter().enumerate() {
        let computing = next.take().expect("started before its day")?;
        if let Some(reason) = run.halt.reason() {
            return Err(Error::Interrupted(format!(
                "{reason} while computing features as of {day}; calibrate wrote nothing, run it \
                 again"
            )));
        }
        bar.set_message(day.to_string());
        if let Some((tomorrow, accounts)) = days.get(i + 1) {
            next = Some(start(config, run, &mut engine, **tomorrow, accounts).await);
        }
        let day_examples =
            day_examples(config, computing, window, **day, accounts, &mut columns).await?;
        let missing = accounts.len() - day_examples.len();
        if missing > 0 {
            *excluded
                .entry(Exclusion::NoFeaturesAtDayK.as_str().into())
                .or_default() += missing;
        }
        examples.extend(day_examples);
        bar.inc(1);
    }
    bar.finish_and_clear();
    crate::logging::stage!(
        run.stages,
        "features",
        trials = examples.len(),
        "computed the trials' features"
    );
    Ok(TrainingSet {
        examples,
        columns,
        excluded,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Start computing `account_features` as of `day` for the trials whose day K it is.
async fn start(
    config: &Config,
    run: &RunOptions,
    engine: &mut Days,
    day: NaiveDate,
    accounts: &HashMap<String, bool>,
) -> Result<Computing, Error> {
    let ids: Vec<_> = accounts.keys().map(|a| lit(a.as_str())).collect();
    engine
        .start(config, run, day, |df| {
            df.filter(col("account_id").in_list(ids, false))
        })
        .await
}

/// The examples of the trials whose day K is `day`, from `account_features` as of that day.
/// The first day sets `columns`.
async fn day_examples(
    config: &Config,
    computing: Computing,
    window: Window,
    day: NaiveDate,
    accounts: &HashMap<String, bool>,
    columns: &mut Vec<String>,
) -> Result<Vec<Example>, Error> {
    let computed = computing.rows().await?;
    let schema = computed.schema;
    decision::check_config(&config.scoring, &config.routing, &schema)?;
    if columns.is_empty() {
        *columns = schema
            .fields()
            .iter()
            .filter(|f| f.name() != "account_id")
            .filter(|f| f.data_type().is_numeric() || f.data_type() == &DataType::Boolean)
            .map(|f| f.name().clone())
            .collect();
    }
    let mut examples = Vec::new();
    for batch in &computed.rows {
        examples.extend(examples_of(batch, accounts, day, window)?);
    }
    Ok(examples)
}

/// The config's thresholds on the PQL score outside `[scoring]` (whose tiers calibrate
/// suggests its own way), by key.
fn pql_thresholds(config: &Config) -> Vec<(String, u8)> {
    config::pql_thresholds(&config.scoring, &config.routing, &config.hubspot)
        .into_iter()
        .filter(|(key, _, _)| !key.starts_with("scoring."))
        .map(|(key, value, _)| (key, value))
        .collect()
}

/// Every trial of `trial_paid` as of the as-of day.
async fn trials(engine: &Prepared) -> Result<Vec<Trial>, Error> {
    let view_err = |message: String| {
        Error::Features(FeatureError::Sql {
            file: PathBuf::from(format!("sql/outputs/{TRIAL_PAID}.sql")),
            message,
        })
    };
    let df = engine
        .ctx
        .sql(&format!(
            "SELECT account_id, trial_start, paid_at FROM {TRIAL_PAID} \
             WHERE trial_start IS NOT NULL"
        ))
        .await
        .map_err(|e| {
            view_err(format!(
                "calibrate reads view `{TRIAL_PAID}` with columns account_id, trial_start and \
                 paid_at (one row per trial): {e}"
            ))
        })?;
    let batches = df.collect().await.map_err(|e| view_err(e.to_string()))?;
    let mut out = Vec::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let cell = |i: usize| {
                Value::from_array(batch.column(i), row).map_err(|t| {
                    view_err(format!(
                        "column `{}` has type {t}, which calibrate cannot read",
                        batch.schema().field(i).name()
                    ))
                })
            };
            let (account, start, paid) = (cell(0)?, cell(1)?, cell(2)?);
            let (Some(account), Some(start)) = (account.as_str(), start.as_timestamp()) else {
                continue;
            };
            out.push(Trial {
                account_id: account.to_string(),
                start,
                paid_at: paid.as_timestamp(),
            });
        }
    }
    Ok(out)
}

/// Accounts in `account_features` as of the as-of day that never started a trial.
async fn accounts_without_trial(engine: &Prepared) -> Result<usize, Error> {
    let batches = engine
        .ctx
        .sql(&format!(
            "SELECT count(*) FROM {FINAL_VIEW} WHERE trial_start IS NULL"
        ))
        .await
        .map_err(FeatureError::execution(FINAL_VIEW))?
        .collect()
        .await
        .map_err(FeatureError::execution(FINAL_VIEW))?;
    Ok(batches
        .first()
        .filter(|b| b.num_rows() > 0)
        .and_then(|b| Value::from_array(b.column(0), 0).ok())
        .and_then(|v| v.as_i64())
        .unwrap_or(0) as usize)
}

/// The examples in one batch of `account_features` as of `day`.
fn examples_of(
    batch: &RecordBatch,
    accounts: &HashMap<String, bool>,
    day: NaiveDate,
    window: Window,
) -> Result<Vec<Example>, Error> {
    let schema = batch.schema();
    let id = schema
        .index_of("account_id")
        .map_err(|_| Error::Decision(decision::DecisionError::NullAccount))?;
    let start_day = day - TimeDelta::days(i64::from(window.at_day) - 1);
    let mut out = Vec::new();
    for row in 0..batch.num_rows() {
        let read = |i: usize| {
            Value::from_array(batch.column(i), row).map_err(|found| {
                Error::Decision(decision::DecisionError::UnreadableType {
                    column: schema.field(i).name().clone(),
                    found,
                })
            })
        };
        let Some(account) = read(id)?.as_str().map(str::to_string) else {
            return Err(Error::Decision(decision::DecisionError::NullAccount));
        };
        let Some(converted) = accounts.get(&account) else {
            continue;
        };
        let mut features = HashMap::with_capacity(schema.fields().len());
        for (i, field) in schema.fields().iter().enumerate() {
            if i != id {
                features.insert(field.name().clone(), read(i)?);
            }
        }
        out.push(Example {
            account_id: account,
            start_day,
            converted: *converted,
            features,
        });
    }
    Ok(out)
}

/// Write the three files; their paths.
fn write(out: &Path, c: &Calibration) -> Result<Vec<PathBuf>, Error> {
    let files = [
        ("calibration.toml", calibrate::suggested_toml(c)),
        (
            "calibration.json",
            serde_json::to_string_pretty(c).expect("the calibration serialises") + "\n",
        ),
        ("calibration.html", crate::calibrate::html::render(c)),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = out.join(name);
        write_text(&path, &text)?;
        written.push(path);
    }
    Ok(written)
}
