//! Features: runs the analyst-owned SQL project over the registered sources and hands out
//! `account_features`, one row per account, as a stream of Arrow batches.
//!
//! This module owns the SQL conventions (one view per file, dependency order, typed `$as_of`,
//! `$as_of_date` and `$account_id_key` parameters, read-only queries), the seeds, and the
//! contract of the `account_features` view. It does not know where the data lives (`source`)
//! or what the features mean for a score (`score`).

pub mod config;
pub mod contacts;
pub mod incremental;
mod plan;
mod project;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, SessionState};
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::{CsvReadOptions, DataFrame, SessionContext};

pub use config::{IncrementalConfig, IncrementalFile, SqlFile};
pub use incremental::{Outcome as RollupOutcome, Rollups};
pub use plan::{Param, plan_query};
pub use project::{FINAL_VIEW, Layer, Project, Seed, View, load_reports};

use crate::value::{ArrowKind, Kind};

/// Errors from loading, planning or running the SQL project.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("SQL directory {dir} does not exist (set [sql] dir in the config)")]
    NoSqlDir { dir: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{file}: view files must be named like a SQL identifier (letters, digits, `_`; not starting with a digit)"
    )]
    BadViewName { file: PathBuf },
    #[error("{file}: {message}")]
    Sql { file: PathBuf, message: String },
    #[error(
        "{file}: must hold exactly one SELECT query (found {found}); analyst SQL may not run DDL or DML"
    )]
    NotAQuery { file: PathBuf, found: String },
    #[error("view `{name}` is defined twice: {first} and {second}")]
    DuplicateView {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{file} reads {target}; {layer} views may only read {}", may_read(*.layer))]
    ReadsLaterLayer {
        file: PathBuf,
        layer: Layer,
        target: PathBuf,
    },
    #[error("these views depend on each other in a cycle: {}", display_paths(.files))]
    Cycle { files: Vec<PathBuf> },
    #[error(
        "{dir}/account_features.sql is missing: the project must define the `account_features` view"
    )]
    NoFinalView { dir: PathBuf },
    #[error("{file}: {message}")]
    Incremental { file: PathBuf, message: String },
    #[error("incremental rollup {url}: {message}")]
    Rollup { url: String, message: String },
    #[error("seed {file}: {message}")]
    Seed { file: PathBuf, message: String },
    #[error(
        "{view}: column `{column}` is missing (expected {expected}); add it to sql/features/{view}.sql"
    )]
    MissingColumn {
        view: &'static str,
        column: String,
        expected: &'static str,
    },
    #[error("{view}: column `{column}` has type {found}, expected {expected}")]
    WrongType {
        view: &'static str,
        column: String,
        found: DataType,
        expected: &'static str,
    },
    #[error("account_features: {message}")]
    Contract { message: String },
    /// Another view the job reads (`user_features`, `account_contacts`) does not hold what it must.
    #[error("{view}: {message}")]
    View { view: &'static str, message: String },
    /// A query failed. `view` is what was being computed: `account_features` covers every view
    /// it reads, since DataFusion runs them as one plan.
    #[error("computing {view}: {source}")]
    Execution {
        view: String,
        #[source]
        source: DataFusionError,
    },
    #[error(
        "computing {view} needed more memory than [engine] memory_limit allows; raise memory_limit or lower target_partitions ({message})"
    )]
    OutOfMemory { view: String, message: String },
}

impl FeatureError {
    /// Classify an execution error, so running out of the configured memory says which
    /// setting to change instead of surfacing DataFusion's internals.
    pub fn execution(view: &str) -> impl Fn(DataFusionError) -> FeatureError + Copy + '_ {
        move |e| match e.find_root() {
            DataFusionError::ResourcesExhausted(message) => FeatureError::OutOfMemory {
                view: view.to_string(),
                message: message.clone(),
            },
            _ => FeatureError::Execution {
                view: view.to_string(),
                source: e,
            },
        }
    }
}

fn may_read(layer: Layer) -> &'static str {
    match layer {
        Layer::Staging => "raw.* tables, seeds and other staging views",
        Layer::Incremental => "raw.* tables, seeds and staging views (not other incremental views)",
        Layer::Features => "raw.* tables, seeds, staging, incremental and other feature views",
        Layer::Outputs => {
            "raw.* tables, seeds, staging, incremental, feature and other output views"
        }
        Layer::Reports => "feature views, the history and other report views",
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The values pqlsync binds into analyst SQL.
#[derive(Debug, Clone)]
pub struct Params {
    /// The scoring day; `$as_of` is the exclusive end of it (the next midnight, UTC).
    pub as_of_date: NaiveDate,
    /// `[sources.stripe] account_id_key`.
    pub account_id_key: String,
    /// `[sources.posthog] group_type`: the PostHog group type whose key is the account id.
    pub group_type: String,
    /// The report's trial-start range, bound as `$report_from` / `$report_to` (dates).
    pub report_range: Option<(NaiveDate, NaiveDate)>,
    /// Trial day K, where model health reads a trial's score (`[scoring.calibration]
    /// at_day`), bound as `$day_k_offset`: K − 1 days, so `start_day + $day_k_offset` is
    /// trial day K (day 1 is the start day).
    pub at_day: u32,
}

impl Params {
    /// `$as_of`: the first instant after the scoring day, in microseconds since the epoch.
    pub fn as_of_micros(&self) -> i64 {
        (self.as_of_date + TimeDelta::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_micros()
    }

    /// The parameters that come from config, not from the scoring day: the only ones an
    /// incremental view may use besides its window, since a rollup outlives one day. A rollup
    /// is rebuilt when one of them changes.
    pub fn settings(&self) -> [Param; 2] {
        [
            Param {
                name: "account_id_key",
                value: ScalarValue::Utf8(Some(self.account_id_key.clone())),
            },
            Param {
                name: "group_type",
                value: ScalarValue::Utf8(Some(self.group_type.clone())),
            },
        ]
    }

    pub fn bound(&self) -> Vec<Param> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let date = |d: NaiveDate| ScalarValue::Date32(Some((d - epoch).num_days() as i32));
        let mut params = vec![
            Param {
                name: "as_of",
                value: ScalarValue::TimestampMicrosecond(
                    Some(self.as_of_micros()),
                    Some("UTC".into()),
                ),
            },
            Param {
                name: "as_of_date",
                value: date(self.as_of_date),
            },
        ];
        params.extend(self.settings());
        params.push(Param {
            name: "day_k_offset",
            value: ScalarValue::IntervalMonthDayNano(Some(
                datafusion::arrow::datatypes::IntervalMonthDayNano::new(
                    0,
                    self.at_day.saturating_sub(1) as i32,
                    0,
                ),
            )),
        });
        if let Some((from, to)) = self.report_range {
            params.push(Param {
                name: "report_from",
                value: date(from),
            });
            params.push(Param {
                name: "report_to",
                value: date(to),
            });
        }
        params
    }
}

/// The columns `account_features` must have, with exactly these names and kinds.
pub const REQUIRED_COLUMNS: &[(&str, Kind)] = &[
    ("account_id", Kind::Text),
    ("seats", Kind::Integer),
    ("events_14d", Kind::Integer),
    ("active_users_14d", Kind::Integer),
    ("active_days_14d", Kind::Integer),
    ("teammates_invited_14d", Kind::Integer),
    ("integrations_connected", Kind::Integer),
    ("deals_created_14d", Kind::Integer),
    ("rows_imported_14d", Kind::Number),
    ("pricing_page_views_14d", Kind::Integer),
    ("paid_feature_events_14d", Kind::Integer),
    ("help_requested_14d", Kind::Integer),
    ("meeting_booked_14d", Kind::Integer),
    ("last_seen_at", Kind::Timestamp),
    ("days_since_last_activity", Kind::Integer),
    ("employees", Kind::Number),
    ("industry", Kind::Text),
    ("email_domain", Kind::Text),
    ("free_email_domain", Kind::Boolean),
    ("trial_start", Kind::Timestamp),
    ("trial_end", Kind::Timestamp),
    ("trial_status", Kind::Text),
    ("subscription_status", Kind::Text),
    ("mrr", Kind::Integer),
];

/// Check `account_features` against [`REQUIRED_COLUMNS`].
pub fn check_contract(schema: &Schema) -> Result<(), FeatureError> {
    check_columns(FINAL_VIEW, REQUIRED_COLUMNS, schema)
}

/// Check a view the job reads (`features/VIEW.sql`) has each `required` column, of its kind.
pub fn check_columns(
    view: &'static str,
    required: &[(&str, Kind)],
    schema: &Schema,
) -> Result<(), FeatureError> {
    for (column, kind) in required {
        let field = schema
            .field_with_name(column)
            .map_err(|_| FeatureError::MissingColumn {
                view,
                column: column.to_string(),
                expected: kind.describe(),
            })?;
        if !kind.accepts(field.data_type()) {
            return Err(FeatureError::WrongType {
                view,
                column: column.to_string(),
                found: field.data_type().clone(),
                expected: kind.describe(),
            });
        }
    }
    Ok(())
}

/// Register the project's seeds and views in `ctx`, planning each view with `params` bound.
/// Sources (`raw.*`) must already be registered. With `rollups`, incremental views' rollups
/// are brought up to date (the only queries run here besides reading seeds); without, they are
/// planned over all history.
pub async fn register(
    ctx: &SessionContext,
    project: &Project,
    params: &Params,
    extra_free_email_domains: &[String],
    rollups: Option<Rollups<'_>>,
) -> Result<Vec<RollupOutcome>, FeatureError> {
    // A session planned for another day before (backfill, calibrate) has them all already:
    // its views are planned again for this day; its seeds, files that hold no day, are kept.
    for name in project.views.iter().map(|v| &v.name) {
        ctx.deregister_table(name.as_str())
            .map_err(FeatureError::execution(name))?;
    }
    for seed in &project.seeds {
        let registered = ctx
            .table_exist(seed.name.as_str())
            .map_err(FeatureError::execution(&seed.name))?;
        if !registered {
            register_seed(ctx, seed, extra_free_email_domains).await?;
        }
    }
    let state = ctx.state();
    let bound = params.bound();
    let staging: Vec<&View> = project
        .views
        .iter()
        .filter(|v| v.layer == Layer::Staging)
        .collect();
    // Staging first, then the incremental views (which read only staging views, raw tables
    // and seeds), then the views that read them, in the project's order. The incremental
    // views run one after another: each already runs on every core, and together under a
    // memory limit they would compete for it.
    let (incremental, others): (Vec<&View>, Vec<&View>) = project
        .views
        .iter()
        .partition(|v| v.layer == Layer::Incremental);
    let (staged, rest): (Vec<&View>, Vec<&View>) =
        others.into_iter().partition(|v| v.layer == Layer::Staging);
    for view in staged {
        register_planned(ctx, &state, view, &bound).await?;
    }
    let mut outcomes = Vec::new();
    for view in incremental {
        outcomes.extend(incremental::register(ctx, view, &staging, params, rollups).await?);
    }
    for view in rest {
        register_planned(ctx, &state, view, &bound).await?;
    }
    Ok(outcomes)
}

/// `view` planned with `bound` and registered under its name.
async fn register_planned(
    ctx: &SessionContext,
    state: &SessionState,
    view: &View,
    bound: &[Param],
) -> Result<(), FeatureError> {
    let plan = plan::plan_query(state, &view.statement, bound)
        .await
        .map_err(|e| FeatureError::Sql {
            file: view.path.clone(),
            message: e.to_string(),
        })?;
    let table = DataFrame::new(state.clone(), plan).into_view();
    ctx.register_table(view.name.as_str(), table)
        .map(|_| ())
        .map_err(|e| FeatureError::Sql {
            file: view.path.clone(),
            message: e.to_string(),
        })
}

/// The seed whose rows `[sql] extra_free_email_domains` extends.
pub const FREE_EMAIL_SEED: &str = "free_email_domains";

async fn register_seed(
    ctx: &SessionContext,
    seed: &Seed,
    extra_free_email_domains: &[String],
) -> Result<(), FeatureError> {
    let err = |message: String| FeatureError::Seed {
        file: seed.path.clone(),
        message,
    };
    let path = seed.path.to_string_lossy();
    // Read here, whatever engine runs the queries: a seed is a file beside the SQL, on this
    // machine only. The table then travels with each query that reads it.
    let df = SessionContext::new()
        .read_csv(path.as_ref(), CsvReadOptions::new().has_header(true))
        .await
        .map_err(|e| err(e.to_string()))?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let mut batches = df.collect().await.map_err(|e| err(e.to_string()))?;
    if seed.name == FREE_EMAIL_SEED && !extra_free_email_domains.is_empty() {
        if schema.fields().len() != 1 || !Kind::Text.accepts(schema.field(0).data_type()) {
            return Err(err("must have one text column `domain`".into()));
        }
        let extra: Vec<String> = extra_free_email_domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .collect();
        let extra: datafusion::arrow::array::ArrayRef =
            Arc::new(datafusion::arrow::array::StringArray::from(extra));
        let column = datafusion::arrow::compute::cast(&extra, schema.field(0).data_type())
            .map_err(|e| err(e.to_string()))?;
        batches.push(
            datafusion::arrow::record_batch::RecordBatch::try_new(schema.clone(), vec![column])
                .map_err(|e| err(e.to_string()))?,
        );
    }
    let table = MemTable::try_new(schema, vec![batches]).map_err(|e| err(e.to_string()))?;
    ctx.register_table(seed.name.as_str(), Arc::new(table))
        .map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// The `account_features` view as a DataFrame, contract-checked.
pub async fn account_features(ctx: &SessionContext) -> Result<DataFrame, FeatureError> {
    let df = ctx
        .table(FINAL_VIEW)
        .await
        .map_err(FeatureError::execution(FINAL_VIEW))?;
    check_contract(df.schema().as_arrow())?;
    Ok(df)
}

/// A running query: its batches, and the physical plan whose metrics can be read afterwards.
pub struct Running {
    pub plan: Arc<dyn ExecutionPlan>,
    pub stream: SendableRecordBatchStream,
}

/// Start streaming a DataFrame's rows.
pub async fn stream(df: DataFrame) -> Result<Running, FeatureError> {
    let task = Arc::new(df.task_ctx());
    let plan = df
        .create_physical_plan()
        .await
        .map_err(FeatureError::execution(FINAL_VIEW))?;
    let stream =
        execute_stream(Arc::clone(&plan), task).map_err(FeatureError::execution(FINAL_VIEW))?;
    Ok(Running { plan, stream })
}

/// Spill files written and bytes spilled by every operator of `plan`.
pub fn spills(plan: &Arc<dyn ExecutionPlan>) -> (usize, usize) {
    let (mut count, mut bytes) = plan.metrics().map_or((0, 0), |m| {
        (m.spill_count().unwrap_or(0), m.spilled_bytes().unwrap_or(0))
    });
    for child in plan.children() {
        let (c, b) = spills(child);
        count += c;
        bytes += b;
    }
    (count, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::timestamp_type;

    #[test]
    fn as_of_is_the_end_of_the_scoring_day() {
        let p = Params {
            as_of_date: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            account_id_key: "account_id".into(),
            group_type: "company".into(),
            report_range: None,
            at_day: 7,
        };
        // 2026-11-21T00:00:00Z
        assert_eq!(p.as_of_micros(), 1_795_219_200_000_000);
        let bound = p.bound();
        assert_eq!(bound[1].value, ScalarValue::Date32(Some(20_777)));
    }

    #[test]
    fn contract_names_the_missing_and_mistyped_column() {
        use datafusion::arrow::datatypes::Field;
        let fields: Vec<Field> = REQUIRED_COLUMNS
            .iter()
            .filter(|(n, _)| *n != "seats")
            .map(|(n, k)| {
                let t = match k {
                    Kind::Text => DataType::Utf8,
                    Kind::Integer | Kind::Number => DataType::Int64,
                    Kind::Boolean => DataType::Boolean,
                    Kind::Timestamp => timestamp_type(),
                };
                Field::new(*n, t, true)
            })
            .collect();
        let err = check_contract(&Schema::new(fields.clone())).unwrap_err();
        assert!(err.to_string().contains("`seats` is missing"), "{err}");
        let mut fields = fields;
        fields.push(Field::new("seats", DataType::Utf8, true));
        let err = check_contract(&Schema::new(fields)).unwrap_err();
        assert!(err.to_string().contains("`seats` has type Utf8"), "{err}");
    }
}
