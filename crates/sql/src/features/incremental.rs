//! Incremental views (`sql/incremental/*.sql`): aggregates over all history, such as when an
//! account was last seen or how many integrations it ever connected, that would otherwise read
//! every day of `tracks` on every run. pqlsync rolls them up instead, the way dbt's incremental
//! models work: the rollup holds the view's rows for all settled days, and each run adds only
//! the days since, then merges the last few unsettled days in live.
//!
//! A view is written for one window of events, `[$increment_from, $increment_to)`, and its
//! header says how two windows' rows combine:
//!
//! ```sql
//! -- @key account_id
//! -- @merge last_seen_at = max, integrations_connected = sum
//! SELECT account_id, max(event_at) AS last_seen_at, … FROM stg_tracks
//! WHERE event_at >= $increment_from AND event_at < $increment_to GROUP BY account_id
//! ```
//!
//! This module owns the rollups at `[incremental] url`: one Parquet file and a manifest per
//! view. The manifest records the SQL it was built with and a digest of every source file it
//! read, per date partition; a changed definition, a late file in a rolled-up day or
//! `--full-refresh` rebuilds it from all history, so a rollup never differs from a full scan.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use datafusion::arrow::array::{BooleanArray, Date32Array};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::logical_expr::{Expr, cast as cast_expr};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::{DataFrame, SessionContext, ident};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;
use serde::{Deserialize, Serialize};

use super::{FeatureError, Param, Params, View, plan};
use crate::source::{DatasetInfo, Inventory};
use crate::store::Store;

/// The placeholders an incremental view filters its events with.
pub const FROM: &str = "increment_from";
pub const TO: &str = "increment_to";

/// How many days of a day-grained rollup one query groups.
const DAYS_AT_ONCE: usize = 4;

/// Bumped when the rollup file's meaning changes, so older rollups are rebuilt. 2: the data is
/// a list of parts.
const FORMAT: u32 = 2;
const MANIFEST: &str = "manifest.json";

/// How an incremental view's rows from two windows combine into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// `@key`: the columns one row per value of which the view returns.
    pub key: Vec<String>,
    /// `@merge`: every other column and how to combine it.
    pub merge: Vec<(String, Merge)>,
    /// `@retain`: keep only the rows of the last days, by a date key.
    pub retain: Option<Retain>,
}

/// `-- @retain day 28 days`: the view's readers never look further back than 28 days before
/// the end of the scoring day, by the date key `day`. The rollup keeps only those rows, and
/// any computation of the view (a build, a bypass, a plan without rollups) reads only the
/// events of those days: a day-grained rollup costs its retention, not all history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retain {
    /// A key column of type DATE: the UTC day of the row's events.
    pub column: String,
    pub days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    Min,
    Max,
    Sum,
}

impl Spec {
    /// Read the `-- @key` and `-- @merge` lines of the view in `file`.
    pub fn parse(file: &Path, sql: &str) -> Result<Spec, FeatureError> {
        let err = |message: String| FeatureError::Incremental {
            file: file.to_path_buf(),
            message,
        };
        let mut key = Vec::new();
        let mut merge = Vec::new();
        let mut retain = None;
        for line in sql.lines() {
            let Some(directive) = line
                .trim()
                .strip_prefix("--")
                .map(str::trim)
                .and_then(|l| l.strip_prefix('@'))
            else {
                continue;
            };
            let (word, rest) = directive
                .split_once(char::is_whitespace)
                .unwrap_or((directive, ""));
            match word {
                "key" => key.extend(
                    rest.split(',')
                        .map(|c| c.trim().to_ascii_lowercase())
                        .filter(|c| !c.is_empty()),
                ),
                "merge" => {
                    for item in rest.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                        let (column, function) = item.split_once('=').ok_or_else(|| {
                            err(format!("`@merge {item}`: write `column = min|max|sum`"))
                        })?;
                        let function = match function.trim().to_ascii_lowercase().as_str() {
                            "min" => Merge::Min,
                            "max" => Merge::Max,
                            "sum" => Merge::Sum,
                            other => {
                                return Err(err(format!(
                                    "`@merge {item}`: `{other}` is not a merge function (min, max or sum)"
                                )));
                            }
                        };
                        merge.push((column.trim().to_ascii_lowercase(), function));
                    }
                }
                "retain" if retain.is_some() => {
                    return Err(err("`@retain` is given more than once".into()));
                }
                "retain" => retain = Some(Retain::parse(rest).map_err(err)?),
                other => {
                    return Err(err(format!(
                        "unknown directive `@{other}` (incremental views take `@key`, `@merge` \
                         and `@retain`)"
                    )));
                }
            }
        }
        if key.is_empty() {
            return Err(err(
                "no `-- @key column` line: say which columns the view returns one row per".into(),
            ));
        }
        for placeholder in [FROM, TO] {
            if !sql.contains(&format!("${placeholder}")) {
                return Err(err(format!(
                    "does not use ${placeholder}: an incremental view must read only events in \
                     [$increment_from, $increment_to), or each increment would count all history again"
                )));
            }
        }
        Ok(Spec { key, merge, retain })
    }

    /// Check the spec against the columns the view returns.
    fn check(&self, view: &View, schema: &SchemaRef) -> Result<(), FeatureError> {
        let err = |message: String| FeatureError::Incremental {
            file: view.path.clone(),
            message,
        };
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        for column in self.key.iter().chain(self.merge.iter().map(|(c, _)| c)) {
            if !names.contains(&column.as_str()) {
                return Err(err(format!(
                    "`{column}` is named in the header but the query returns no such column (it returns {})",
                    names.join(", ")
                )));
            }
        }
        if let Some(r) = &self.retain {
            let field = schema.field_with_name(&r.column).ok();
            match field.map(|f| f.data_type()) {
                _ if !self.key.contains(&r.column) => {
                    return Err(err(format!(
                        "`@retain {}`: the column must be one of the `@key` columns",
                        r.column
                    )));
                }
                Some(DataType::Date32) => {}
                found => {
                    return Err(err(format!(
                        "`@retain {}`: the column must be a DATE (the UTC day of the row's \
                         events, e.g. CAST(event_at AS DATE)), not {}",
                        r.column,
                        found.map_or("missing".into(), ToString::to_string)
                    )));
                }
            }
        }
        for field in schema.fields() {
            let name = field.name();
            let merges: Vec<&Merge> = self
                .merge
                .iter()
                .filter(|(c, _)| c == name)
                .map(|(_, m)| m)
                .collect();
            let is_key = self.key.contains(name);
            match (is_key, merges.as_slice()) {
                (true, []) => {}
                (true, _) => return Err(err(format!("`{name}` is a key; it cannot be merged"))),
                (false, []) => {
                    return Err(err(format!(
                        "column `{name}` has no merge function: add `{name} = min|max|sum` to `-- @merge`"
                    )));
                }
                (false, [Merge::Sum]) if !field.data_type().is_numeric() => {
                    return Err(err(format!(
                        "`{name} = sum`: the column is {}, not a number",
                        field.data_type()
                    )));
                }
                (false, [_]) => {}
                (false, _) => return Err(err(format!("`{name}` is merged more than once"))),
            }
        }
        Ok(())
    }
}

impl Retain {
    /// `day 28 days`: a column, then a number of days.
    fn parse(rest: &str) -> Result<Retain, String> {
        let usage = || {
            format!("`@retain {rest}`: write `@retain COLUMN N days`, e.g. `@retain day 28 days`")
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (column, days) = match words.as_slice() {
            [column, days] | [column, days, "day" | "days"] => (column, days),
            _ => return Err(usage()),
        };
        let days = days
            .parse::<u32>()
            .ok()
            .filter(|d| *d > 0)
            .ok_or_else(usage)?;
        Ok(Retain {
            column: column.to_ascii_lowercase(),
            days,
        })
    }
}

/// Where rollups live and how far they may advance; `None` in [`super::register`] plans
/// incremental views over all history instead (nothing is read or written).
#[derive(Debug, Clone, Copy)]
pub struct Rollups<'a> {
    pub store: &'a Store,
    /// `[incremental] settle_days`.
    pub settle_days: u32,
    /// `[sources] partition_slack_days`: how far from its partition's day an event may be.
    pub slack_days: u32,
    /// The registered datasets, whose inventories tell whether rolled-up days changed.
    pub sources: &'a [DatasetInfo],
    pub full_refresh: bool,
    /// Write what was built or extended back to the store. A dry run reads the rollups but
    /// must not change what later runs read.
    pub persist: bool,
    /// The last scoring day the caller goes on to (backfill's and calibrate's span, day after
    /// day): a day-grained rollup groups the days up to it ahead, a few weeks per query
    /// series rather than a day at a time, and each day reads the rows of its own days.
    pub ahead: Option<NaiveDate>,
}

/// How many days ahead of the scoring day a day-grained rollup is grouped at most, with
/// [`Rollups::ahead`]: what bounds the memory of rows not yet read.
const AHEAD_DAYS: i64 = 28;

/// What happened to one rollup, for the log and the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub view: String,
    /// `built`, `extended`, `current`, or `bypassed` (the scoring day is before the rollup).
    pub action: &'static str,
    pub reason: String,
    /// Events before this day come from the rollup; later ones are read live.
    pub through: Option<NaiveDate>,
    pub rows: usize,
    /// Wall time spent bringing the rollup up to date and computing the view's rows.
    pub seconds: f64,
}

impl Outcome {
    /// The rollup was left as it is: the view read all the history it needs.
    fn bypassed(view: &str, reason: String, started: std::time::Instant) -> Outcome {
        Outcome {
            view: view.to_string(),
            action: "bypassed",
            reason,
            through: None,
            rows: 0,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    /// Digest of the view's SQL, the staging SQL it reads, its output schema and its sources'
    /// partition columns.
    definition: String,
    /// Exclusive: the rollup covers events before this day's midnight (UTC).
    through: NaiveDate,
    /// The data files, beside the manifest: one for a rollup merged per key, one per increment
    /// for a day-grained (retained) one, whose days never share a key.
    data: Vec<Part>,
    rows: usize,
    /// Per source dataset, the inventory of every file that can hold events before `through`.
    inputs: BTreeMap<String, Inputs>,
    built_at: DateTime<Utc>,
}

/// One data file of a rollup: its rows of the events in `[from, through)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Part {
    file: String,
    from: NaiveDate,
    through: NaiveDate,
    rows: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Inputs {
    by_day: BTreeMap<NaiveDate, String>,
    undated: Option<String>,
}

impl Inputs {
    /// The part of `inventory` that can hold events before `through`: with `slack` days of
    /// slack, partitions up to `through + slack` (exclusive), and every undated file.
    fn covering(inventory: &Inventory, through: NaiveDate, slack: u32) -> Inputs {
        let end = through + TimeDelta::days(i64::from(slack));
        Inputs {
            by_day: inventory
                .by_day
                .range(..end)
                .map(|(d, h)| (*d, h.clone()))
                .collect(),
            undated: inventory.undated.clone(),
        }
    }

    /// Why `now` differs from what the rollup was built from, e.g. `tracks: day 2026-03-02
    /// changed`; `None` if it does not.
    fn change(dataset: &str, then: &Inputs, now: &Inputs) -> Option<String> {
        if then.undated != now.undated {
            return Some(format!("{dataset}: files outside day partitions changed"));
        }
        let days = then.by_day.keys().chain(now.by_day.keys());
        days.into_iter()
            .find(|d| then.by_day.get(d) != now.by_day.get(d))
            .map(|d| {
                let what = match (then.by_day.get(d), now.by_day.get(d)) {
                    (None, _) => "appeared",
                    (_, None) => "disappeared",
                    _ => "changed",
                };
                format!("{dataset}: partition day {d} {what} since the rollup was built")
            })
    }
}

/// The first instant an incremental window can start at: before any real event.
fn beginning() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date")
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
}

fn days_since_epoch(day: NaiveDate) -> i32 {
    (day - epoch()).num_days() as i32
}

fn midnight(day: NaiveDate) -> ScalarValue {
    let micros = day
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp_micros();
    ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into()))
}

/// How a rollup advances this run.
#[derive(Debug)]
enum Advance {
    /// From nothing, for the reason given.
    Build(String),
    /// From the rollup the manifest describes.
    Extend(Manifest),
    /// Not at all: the rollup is ahead of this scoring day, so the view reads all history.
    Bypass(String),
}

/// Whether to rebuild, extend or bypass a rollup, from its manifest (or why that could not be
/// read) and what this run needs. Pure: `inputs_at(day)` summarises the sources' files up to
/// a day, for comparing with what the rollup was built from.
fn advance(
    manifest: Result<Option<Manifest>, String>,
    full_refresh: bool,
    definition: &str,
    (settled, retained_from): (NaiveDate, Option<NaiveDate>),
    inputs_at: impl Fn(NaiveDate) -> BTreeMap<String, Inputs>,
) -> Advance {
    // A day-grained rollup past the scoring day still serves it if it begins early enough.
    let serves = |m: &Manifest| {
        let begins = m.data.iter().map(|p| p.from).min();
        retained_from.is_some_and(|first| begins.is_some_and(|b| b <= first))
    };
    match manifest {
        _ if full_refresh => Advance::Build("--full-refresh".into()),
        Err(e) => Advance::Build(format!("its manifest could not be read ({e})")),
        Ok(None) => Advance::Build("no rollup yet".into()),
        Ok(Some(m)) if m.format != FORMAT || m.definition != definition => Advance::Build(
            "the view's SQL, the staging SQL it reads, its columns or a source's partitioning changed"
                .into(),
        ),
        Ok(Some(m)) if m.through > settled && !serves(&m) => Advance::Bypass(format!(
            "the rollup covers events before {}, later than this scoring day allows; read all history",
            m.through
        )),
        Ok(Some(m)) => {
            let now = inputs_at(m.through);
            let changed = m
                .inputs
                .iter()
                .find_map(|(name, then)| match now.get(name) {
                    Some(now) => Inputs::change(name, then, now),
                    None => Some(format!("{name} is no longer a source")),
                })
                .or_else(|| {
                    now.keys()
                        .find(|n| !m.inputs.contains_key(*n))
                        .map(|n| format!("{n} is a new source"))
                });
            match changed {
                Some(reason) => Advance::Build(reason),
                None => Advance::Extend(m),
            }
        }
    }
}

/// The rollup of one incremental view, brought up to date, and the view registered over it.
///
/// It reads top to bottom as a rollup's life: choose ([`advance`], pure), resume
/// ([`Resume`]), catch up and write back ([`catch_up`]), register over it.
pub(super) async fn register(
    ctx: &SessionContext,
    view: &View,
    staging: &[&View],
    params: &Params,
    rollups: Option<Rollups<'_>>,
) -> Result<Option<Outcome>, FeatureError> {
    let started = std::time::Instant::now();
    let spec = Spec::parse(&view.path, &view.sql)?;
    let empty = window_frame(ctx, view, params, beginning(), beginning()).await?;
    let schema: SchemaRef = Arc::new(empty.schema().as_arrow().clone());
    spec.check(view, &schema)?;
    let scoring_end = params.as_of_date + TimeDelta::days(1);
    // The first day whose events the view's readers need: all history, or what it retains.
    let first = match &spec.retain {
        Some(r) => scoring_end - TimeDelta::days(i64::from(r.days)),
        None => beginning(),
    };
    let target = Target {
        ctx,
        view,
        spec,
        schema,
        params,
        first,
    };
    let Some(rollups) = rollups else {
        target.register_live(scoring_end).await?;
        return Ok(None);
    };
    let settled = scoring_end - TimeDelta::days(i64::from(rollups.settle_days));
    let definition = definition(view, staging, &target.schema, rollups.sources, params);
    let inputs_at = |through: NaiveDate| -> BTreeMap<String, Inputs> {
        rollups
            .sources
            .iter()
            .filter(|s| reads(view, staging, &s.name))
            .map(|s| {
                let inputs = Inputs::covering(&s.inventory, through, rollups.slack_days);
                (s.name.clone(), inputs)
            })
            .collect()
    };
    let dir = view.name.clone();
    let manifest = read_manifest(rollups.store, &dir).await;
    // A day-grained rollup may be grouped ahead of the scoring day, and serve it if it holds
    // every day the view retains.
    let retained_from = target.spec.retain.as_ref().map(|_| first);
    let until = match (retained_from, rollups.ahead) {
        (Some(_), Some(ahead)) => settled.max(ahead.min(settled + TimeDelta::days(AHEAD_DAYS))),
        _ => settled,
    };
    let resume = match advance(
        manifest,
        rollups.full_refresh,
        &definition,
        (settled, retained_from),
        inputs_at,
    ) {
        Advance::Bypass(reason) => {
            target.register_live(scoring_end).await?;
            return Ok(Some(Outcome::bypassed(&view.name, reason, started)));
        }
        Advance::Build(reason) => Resume::build(first, reason),
        Advance::Extend(m) => Resume::extend(rollups.store, &dir, &m, &target).await,
    };
    let persist = rollups.persist.then(|| Persist {
        store: rollups.store,
        dir: &dir,
        definition: &definition,
        inputs_at: &inputs_at,
    });
    let (base, action, reason) = catch_up(&target, resume, (settled, until), persist).await?;
    let rows: usize = base.iter().map(RecordBatch::num_rows).sum();
    let current = target.current(base, settled, scoring_end).await?;
    register_rows(ctx, view, &target.schema, current)?;
    Ok(Some(Outcome {
        view: view.name.clone(),
        action,
        reason,
        through: Some(until.max(settled)),
        rows,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// The rollup's manifest, if any. An unreadable one only costs a rebuild (the rollup is a
/// cache), so the error comes back as the reason.
async fn read_manifest(store: &Store, dir: &str) -> Result<Option<Manifest>, String> {
    store
        .read(&format!("{dir}/{MANIFEST}"))
        .await
        .map_err(|e| e.to_string())
}

/// One incremental view being registered: what each step of [`register`] reads.
struct Target<'a> {
    ctx: &'a SessionContext,
    view: &'a View,
    spec: Spec,
    schema: SchemaRef,
    params: &'a Params,
    /// The first day whose events the view needs: `beginning()`, or the first day it retains.
    first: NaiveDate,
}

impl Target<'_> {
    /// The view over the events of `from`..`to`.
    async fn window(&self, from: NaiveDate, to: NaiveDate) -> Result<DataFrame, FeatureError> {
        window_frame(self.ctx, self.view, self.params, from, to).await
    }

    /// Rolled-up `rows` merged per key with the view over `delta`'s events.
    fn merged(&self, rows: Vec<RecordBatch>, delta: DataFrame) -> Result<DataFrame, FeatureError> {
        merged(
            self.ctx,
            &self.view.name,
            &self.spec,
            &self.schema,
            rows,
            delta,
        )
    }

    /// The view registered over all the history it needs read live, as if it were not
    /// incremental.
    async fn register_live(&self, scoring_end: NaiveDate) -> Result<(), FeatureError> {
        let from = self.first.min(scoring_end);
        register_view(self.ctx, self.view, self.window(from, scoring_end).await?)
    }

    /// The view over the events of `from`..`to`, to merge into the rollup. A day-grained
    /// (retained) view's rows of different days never share a key, so its days are grouped a
    /// few at a time: the memory a build needs is a few days' groups (their messages, say),
    /// not the whole span's, which under a memory limit spilled and ran twice as long.
    async fn delta(&self, from: NaiveDate, to: NaiveDate) -> Result<DataFrame, FeatureError> {
        if self.spec.retain.is_none() || from >= to {
            return self.window(from, to).await;
        }
        let exec = FeatureError::execution(&self.view.name);
        let starts: Vec<NaiveDate> = from
            .iter_days()
            .take_while(|d| *d < to)
            .step_by(DAYS_AT_ONCE)
            .collect();
        // One query per few days: a query runs on every core by itself, and each has its
        // fixed costs (planning, opening the files of the days around it).
        let mut rows = Vec::new();
        for start in starts {
            let end = (start + TimeDelta::days(DAYS_AT_ONCE as i64)).min(to);
            let df = self.window(start, end).await?;
            let chunk = collect_logged(&self.view.name, df).await.map_err(exec)?;
            self.check_days(start, end, &chunk)?;
            rows.extend(chunk);
        }
        if rows.is_empty() {
            return self.window(from, to).await;
        }
        self.ctx.read_batches(rows).map_err(exec)
    }

    /// That every row of the events of `from`..`to` is keyed by a day in that range: what lets
    /// a retained view's increments be appended rather than merged (see [`merged`]). A view
    /// whose retained column is another day (when the event was received, say) would count
    /// a key twice.
    fn check_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        rows: &[RecordBatch],
    ) -> Result<(), FeatureError> {
        let Some(r) = &self.spec.retain else {
            return Ok(());
        };
        let range = days_since_epoch(from)..days_since_epoch(to);
        for batch in rows {
            let Some(days) = batch
                .column_by_name(&r.column)
                .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
            else {
                continue;
            };
            if let Some(found) = days.iter().find(|d| !d.is_some_and(|d| range.contains(&d))) {
                let found = found.map_or("NULL".into(), |d| {
                    (epoch() + TimeDelta::days(i64::from(d))).to_string()
                });
                return Err(FeatureError::Sql {
                    file: self.view.path.clone(),
                    message: format!(
                        "`@retain {}`: a row of the events of {from} to {to} (exclusive) has {} \
                         {found}; the column must be the UTC day of the row's events in \
                         [$increment_from, $increment_to), e.g. CAST(event_at AS DATE), and \
                         never NULL",
                        r.column, r.column
                    ),
                });
            }
        }
        Ok(())
    }

    /// The view's rows for the scoring day ending at `end`: the rollup's `base` rows through
    /// `settled` and the live days since, computed once here (a view several features read,
    /// lifetime_activity, would otherwise be grouped from the live days once per reader).
    async fn current(
        &self,
        base: Vec<RecordBatch>,
        settled: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<RecordBatch>, FeatureError> {
        if settled >= end {
            return self.within(base, self.first, end);
        }
        // A day-grained rollup grouped ahead holds days the live part reads again.
        let base = self.within(base, self.first, settled)?;
        let live = self.delta(settled, end).await?;
        self.merged(base, live)?
            .collect()
            .await
            .map_err(FeatureError::execution(&self.view.name))
    }

    /// `rows` of the days in `[from, to)` only, for a day-grained view: without the days
    /// before those it retains, and without the days after the scoring day that a rollup
    /// grouped ahead holds. Another view's rows are all kept.
    fn within(
        &self,
        rows: Vec<RecordBatch>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<RecordBatch>, FeatureError> {
        let Some(r) = &self.spec.retain else {
            return Ok(rows);
        };
        let range = days_since_epoch(from)..days_since_epoch(to);
        let exec = FeatureError::execution(&self.view.name);
        let mut kept = Vec::with_capacity(rows.len());
        for batch in rows {
            let Some(days) = batch
                .column_by_name(&r.column)
                .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
            else {
                kept.push(batch);
                continue;
            };
            let mask: BooleanArray = days
                .iter()
                .map(|d| Some(d.is_some_and(|d| range.contains(&d))))
                .collect();
            kept.push(filter_record_batch(&batch, &mask).map_err(|e| exec(e.into()))?);
        }
        Ok(kept)
    }
}

/// Where the rollup goes on from: its rows through `from` (none when built afresh from the
/// view's first day), and why.
struct Resume {
    from: NaiveDate,
    rows: Vec<RecordBatch>,
    /// The data files `rows` were read from, still needed.
    parts: Vec<Part>,
    built: bool,
    reason: String,
}

impl Resume {
    fn build(first: NaiveDate, reason: String) -> Resume {
        Resume {
            from: first,
            rows: vec![],
            parts: vec![],
            built: true,
            reason,
        }
    }

    /// From the rollup the manifest describes. A data file that cannot be read (removed by
    /// a concurrent run, damaged) only costs a rebuild, and so does a retained rollup that
    /// ends before the days it retains (nothing of it would be kept).
    async fn extend(store: &Store, dir: &str, m: &Manifest, target: &Target<'_>) -> Resume {
        if m.through <= target.first && target.first > beginning() {
            let reason = format!(
                "the rollup ends on {}, before the first day it retains ({})",
                m.through, target.first
            );
            return Resume::build(target.first, reason);
        }
        // A retained rollup's parts wholly before the first day it retains are dropped.
        let parts: Vec<Part> = m
            .data
            .iter()
            .filter(|p| p.through > target.first)
            .cloned()
            .collect();
        match read_rows(store, dir, &parts, &target.schema).await {
            Ok(rows) => Resume {
                from: m.through,
                rows,
                parts,
                built: false,
                reason: String::new(),
            },
            Err(e) => Resume::build(target.first, format!("the rollup could not be read ({e})")),
        }
    }
}

/// Where and how a caught-up rollup is written back (not on a dry run).
struct Persist<'a> {
    store: &'a Store,
    dir: &'a str,
    definition: &'a str,
    /// What the sources' files up to a day are, for the manifest: summarised only when a
    /// rollup is written, not on the runs that find it current.
    inputs_at: &'a dyn Fn(NaiveDate) -> BTreeMap<String, Inputs>,
}

/// The rollup's rows through at least `settled`: when it ends before, the resumed rows merged
/// with the events up to `until` (`settled`, or later for a rollup grouped ahead), written
/// back when `persist` says where; with what was done (`current`, `built`, `extended`) and why.
async fn catch_up(
    target: &Target<'_>,
    resume: Resume,
    (settled, until): (NaiveDate, NaiveDate),
    persist: Option<Persist<'_>>,
) -> Result<(Vec<RecordBatch>, &'static str, String), FeatureError> {
    let Resume {
        from,
        rows,
        parts,
        built,
        reason,
    } = resume;
    if from >= settled && !built {
        return Ok((rows, "current", reason));
    }
    let exec = FeatureError::execution(&target.view.name);
    let delta = target.delta(from.min(until), until).await?;
    // What the new data file holds: the days since, for a day-grained rollup, whose older
    // parts stay as written (a daily run writes a day, not the whole rollup); else all rows.
    let (rows, new, kept) = if target.spec.retain.is_some() {
        let new = delta.collect().await.map_err(exec)?;
        let old = match parts.iter().all(|p| p.from >= target.first) {
            true => rows,
            false => target.within(rows, target.first, NaiveDate::MAX)?,
        };
        let rows: Vec<RecordBatch> = old.into_iter().chain(new.iter().cloned()).collect();
        (rows, new, parts)
    } else {
        let rows = target.merged(rows, delta)?.collect().await.map_err(exec)?;
        (rows.clone(), rows, vec![])
    };
    if let Some(p) = persist {
        let part_from = if target.spec.retain.is_some() {
            from.min(until)
        } else {
            beginning()
        };
        let written = Written {
            rows: &new,
            from: part_from,
            through: until,
            kept,
        };
        write(p, written, &target.schema).await?;
    }
    Ok(if built {
        (rows, "built", reason)
    } else {
        let reason = format!("added events from {from} to {until}");
        (rows, "extended", reason)
    })
}

/// `df`'s rows; with `-vv` (debug), its executed plan with each operator's metrics, to see
/// where a rollup's time goes.
async fn collect_logged(view: &str, df: DataFrame) -> datafusion::error::Result<Vec<RecordBatch>> {
    let task = Arc::new(df.task_ctx());
    let plan = df.create_physical_plan().await?;
    let rows = datafusion::physical_plan::collect(Arc::clone(&plan), task).await?;
    if tracing::enabled!(tracing::Level::DEBUG) {
        let shown = datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(
            plan.as_ref(),
        )
        .indent(true);
        tracing::debug!(stage = "rollups", view, plan = %shown, "executed plan of a part of {view}, with metrics");
    }
    Ok(rows)
}

/// The view's query over events in `[from, to)`.
async fn window_frame(
    ctx: &SessionContext,
    view: &View,
    params: &Params,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<DataFrame, FeatureError> {
    let mut bound = vec![
        Param {
            name: FROM,
            value: midnight(from),
        },
        Param {
            name: TO,
            value: midnight(to),
        },
    ];
    bound.extend(params.settings());
    let state = ctx.state();
    let plan = plan::plan_query(&state, &view.statement, &bound)
        .await
        .map_err(|e| FeatureError::Sql {
            file: view.path.clone(),
            message: format!(
                "{e} (incremental views may use only $increment_from, $increment_to, \
                 $account_id_key and $group_type: a rollup outlives one scoring day)"
            ),
        })?;
    Ok(DataFrame::new(state, plan))
}

/// `rows` as the table `view`, spread over the session's partitions so that its readers
/// still run on every core.
fn register_rows(
    ctx: &SessionContext,
    view: &View,
    schema: &SchemaRef,
    rows: Vec<RecordBatch>,
) -> Result<(), FeatureError> {
    let n = ctx.state().config().target_partitions().max(1);
    let mut partitions: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
    for (i, batch) in rows.into_iter().enumerate() {
        partitions[i % n].push(batch);
    }
    // Every column nullable: the rollup's rows, read back, and the day's may differ in which
    // columns the engine knows to be never NULL.
    let nullable = Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    );
    let table = MemTable::try_new(Arc::new(nullable), partitions)
        .map_err(FeatureError::execution(&view.name))?;
    ctx.register_table(view.name.as_str(), Arc::new(table))
        .map(|_| ())
        .map_err(FeatureError::execution(&view.name))
}

fn register_view(ctx: &SessionContext, view: &View, df: DataFrame) -> Result<(), FeatureError> {
    ctx.register_table(view.name.as_str(), df.into_view())
        .map(|_| ())
        .map_err(|e| FeatureError::Sql {
            file: view.path.clone(),
            message: e.to_string(),
        })
}

/// `rows` and `delta` combined per key with each column's merge function, in the view's
/// column order and types.
fn merged(
    ctx: &SessionContext,
    view: &str,
    spec: &Spec,
    schema: &SchemaRef,
    rows: Vec<RecordBatch>,
    delta: DataFrame,
) -> Result<DataFrame, FeatureError> {
    let exec = FeatureError::execution(view);
    let input = if rows.is_empty() {
        delta
    } else {
        let previous = ctx.read_batches(rows).map_err(exec)?;
        previous.union(delta).map_err(exec)?
    };
    // A retained view's rows are keyed by their day, and `rows` and `delta` never share one
    // (`Target::check_day`): appending is merging, without grouping every row again.
    if spec.retain.is_some() {
        return Ok(input);
    }
    let group: Vec<Expr> = spec.key.iter().map(ident).collect();
    // Aggregate under temporary names, then cast back to the view's types under its names:
    // `sum` widens integers, and the rollup must keep the view's schema.
    let merged_name = |column: &str| format!("merged {column}");
    let aggregates: Vec<Expr> = spec
        .merge
        .iter()
        .map(|(column, function)| {
            let c = ident(column);
            let combined = match function {
                Merge::Min => min(c),
                Merge::Max => max(c),
                Merge::Sum => sum(c),
            };
            combined.alias(merged_name(column))
        })
        .collect();
    let output: Vec<Expr> = schema
        .fields()
        .iter()
        .map(|f| {
            if spec.key.contains(f.name()) {
                ident(f.name())
            } else {
                cast_expr(ident(merged_name(f.name())), f.data_type().clone()).alias(f.name())
            }
        })
        .collect();
    input
        .aggregate(group, aggregates)
        .and_then(|df| df.select(output))
        .map_err(exec)
}

/// Whether `view` (through the staging views it reads) reads `raw.<dataset>`.
fn reads(view: &View, staging: &[&View], dataset: &str) -> bool {
    view.raw_reads.contains(dataset)
        || staging
            .iter()
            .filter(|s| view.depends_on.contains(&s.name))
            .any(|s| s.raw_reads.contains(dataset) || reads(s, staging, dataset))
}

/// A digest of everything that decides what the rollup's rows mean.
fn definition(
    view: &View,
    staging: &[&View],
    schema: &SchemaRef,
    sources: &[DatasetInfo],
    params: &Params,
) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(view.sql.as_bytes());
    // A setting the SQL may read (the account group, the Stripe key) changes what was rolled
    // up, as a change to the SQL does.
    for p in params.settings() {
        h.update(format!("{}={}", p.name, p.value).as_bytes());
    }
    let mut read: Vec<&View> = staging
        .iter()
        .copied()
        .filter(|s| depends(view, staging, &s.name))
        .collect();
    read.sort_by(|a, b| a.name.cmp(&b.name));
    for s in read {
        h.update(s.name.as_bytes());
        h.update(s.sql.as_bytes());
    }
    h.update(format!("{schema:?}").as_bytes());
    for s in sources.iter().filter(|s| reads(view, staging, &s.name)) {
        h.update(s.name.as_bytes());
        h.update(s.partition_columns.join(",").as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn depends(view: &View, staging: &[&View], name: &str) -> bool {
    view.depends_on.contains(name)
        || staging
            .iter()
            .filter(|s| view.depends_on.contains(&s.name))
            .any(|s| depends(s, staging, name))
}

async fn read_rows(
    store: &Store,
    dir: &str,
    parts: &[Part],
    schema: &SchemaRef,
) -> Result<Vec<RecordBatch>, FeatureError> {
    let read = parts.iter().map(|p| read_part(store, dir, &p.file, schema));
    let parts = futures::future::try_join_all(read).await?;
    Ok(parts.into_iter().flatten().collect())
}

async fn read_part(
    store: &Store,
    dir: &str,
    file: &str,
    schema: &SchemaRef,
) -> Result<Vec<RecordBatch>, FeatureError> {
    let err = |message: String| FeatureError::Rollup {
        url: format!("{}/{dir}/{file}", store.url()),
        message,
    };
    let bytes = store
        .object_store()
        .get(&store.path(&format!("{dir}/{file}")))
        .await
        .map_err(|e| err(e.to_string()))?
        .bytes()
        .await
        .map_err(|e| err(e.to_string()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.build())
        .map_err(|e| err(e.to_string()))?;
    let mut batches = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| err(e.to_string()))?;
        if batch.num_columns() != schema.fields().len() {
            return Err(err(
                "its columns differ from the view's; run with --full-refresh".into(),
            ));
        }
        // Parquet may hand strings back as another Arrow string type than the view plans.
        let columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| cast(c, f.data_type()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(e.to_string()))?;
        batches.push(
            RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| err(e.to_string()))?,
        );
    }
    Ok(batches)
}

/// What a catch-up writes: `rows`, the events of `[from, through)` (a new part), after the
/// `kept` parts already written.
struct Written<'a> {
    rows: &'a [RecordBatch],
    from: NaiveDate,
    through: NaiveDate,
    kept: Vec<Part>,
}

/// Write the new part and then the manifest naming it and the kept parts, and remove every
/// other file of the rollup. The manifest is written last, so a crash leaves the old one
/// naming files that still exist. The rows written.
async fn write(p: Persist<'_>, w: Written<'_>, schema: &SchemaRef) -> Result<usize, FeatureError> {
    let (store, dir) = (p.store, p.dir);
    let mut parts = w.kept;
    let n: usize = w.rows.iter().map(RecordBatch::num_rows).sum();
    // A day-grained rollup's quiet day needs no file; a merged rollup always has one.
    if n > 0 || parts.is_empty() {
        let data = format!(
            "rows-{}-{}-{}.parquet",
            w.from,
            w.through,
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let file = format!("{dir}/{data}");
        store
            .put_parquet(&file, schema, w.rows)
            .await
            .map_err(|message| FeatureError::Rollup {
                url: format!("{}/{file}", store.url()),
                message,
            })?;
        parts.push(Part {
            file: data,
            from: w.from,
            through: w.through,
            rows: n,
        });
    }
    let err = |message: String| FeatureError::Rollup {
        url: format!("{}/{dir}/{MANIFEST}", store.url()),
        message,
    };
    let manifest = Manifest {
        format: FORMAT,
        definition: p.definition.to_string(),
        through: w.through,
        rows: parts.iter().map(|p| p.rows).sum(),
        data: parts,
        inputs: (p.inputs_at)(w.through),
        built_at: Utc::now(),
    };
    store
        .write(&format!("{dir}/{MANIFEST}"), &manifest)
        .await
        .map_err(|e| err(e.to_string()))?;
    let mut keep: Vec<StorePath> = manifest
        .data
        .iter()
        .map(|p| store.path(&format!("{dir}/{}", p.file)))
        .collect();
    keep.push(store.path(&format!("{dir}/{MANIFEST}")));
    let stale: Vec<StorePath> = store
        .object_store()
        .list(Some(&store.path(dir)))
        .map_ok(|m| m.location)
        .try_filter(|p| futures::future::ready(!keep.contains(p)))
        .try_collect()
        .await
        .map_err(|e| err(e.to_string()))?;
    for path in stale {
        // Another run may have removed it already.
        let _ = store.object_store().delete(&path).await;
    }
    Ok(manifest.rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "SELECT account_id, max(event_at) AS last_seen_at FROM stg_tracks \
                        WHERE event_at >= $increment_from AND event_at < $increment_to GROUP BY 1";

    fn parse(header: &str) -> Result<Spec, String> {
        Spec::parse(
            Path::new("sql/incremental/x.sql"),
            &format!("{header}\n{BODY}"),
        )
        .map_err(|e| e.to_string())
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn inputs(days: &[(u32, &str)]) -> BTreeMap<String, Inputs> {
        let tracks = Inputs {
            by_day: days.iter().map(|(d, h)| (day(*d), h.to_string())).collect(),
            undated: None,
        };
        BTreeMap::from([("tracks".to_string(), tracks)])
    }

    fn manifest(through: u32, definition: &str) -> Manifest {
        Manifest {
            format: FORMAT,
            definition: definition.into(),
            through: day(through),
            data: vec![Part {
                file: "data.parquet".into(),
                from: day(3),
                through: day(through),
                rows: 1,
            }],
            rows: 1,
            inputs: inputs(&[(1, "a"), (2, "b")]),
            built_at: DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    /// Which way a rollup advances, at each boundary of the choice.
    #[test]
    fn advance_boundaries() {
        let same = |_: NaiveDate| inputs(&[(1, "a"), (2, "b")]);
        let changed = |_: NaiveDate| inputs(&[(1, "a"), (2, "B")]);
        type InputsAt = fn(NaiveDate) -> BTreeMap<String, Inputs>;
        type Case = (
            &'static str,
            Result<Option<Manifest>, String>,
            bool,
            InputsAt,
            Option<u32>,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            // what, manifest, full refresh, inputs, first day retained, expected
            ("fresh", Ok(None), false, same, None, "build: no rollup yet"),
            (
                "unreadable",
                Err("torn".into()),
                false,
                same,
                None,
                "build: its manifest could not be read (torn)",
            ),
            (
                "full refresh",
                Ok(Some(manifest(10, "d"))),
                true,
                same,
                None,
                "build: --full-refresh",
            ),
            (
                "sql changed",
                Ok(Some(manifest(10, "old"))),
                false,
                same,
                None,
                "build: the view's SQL",
            ),
            (
                "through == settled",
                Ok(Some(manifest(18, "d"))),
                false,
                same,
                None,
                "extend",
            ),
            (
                "ahead of the day",
                Ok(Some(manifest(19, "d"))),
                false,
                same,
                None,
                "bypass",
            ),
            (
                "day-grained, ahead, holds every day the scoring day reads",
                Ok(Some(manifest(25, "d"))),
                false,
                same,
                Some(3),
                "extend",
            ),
            (
                "day-grained, ahead, begins after the first day read",
                Ok(Some(manifest(25, "d"))),
                false,
                same,
                Some(2),
                "bypass",
            ),
            (
                "a file changed",
                Ok(Some(manifest(10, "d"))),
                false,
                changed,
                None,
                "build: tracks: partition day 2026-11-02 changed",
            ),
            (
                "unchanged",
                Ok(Some(manifest(10, "d"))),
                false,
                same,
                None,
                "extend",
            ),
        ];
        for (what, m, full, now, retained, want) in cases {
            let got = match advance(m, full, "d", (day(18), retained.map(day)), now) {
                Advance::Build(reason) => format!("build: {reason}"),
                Advance::Extend(_) => "extend".into(),
                Advance::Bypass(_) => "bypass".into(),
            };
            assert!(got.starts_with(want), "{what}: {got}");
        }
    }

    #[test]
    fn headers_name_the_key_and_each_merge() {
        let spec =
            parse("-- @key account_id\n--@merge last_seen_at = MAX, n = sum\n-- @merge m=min")
                .unwrap();
        assert_eq!(spec.key, vec!["account_id"]);
        assert_eq!(
            spec.merge,
            vec![
                ("last_seen_at".to_string(), Merge::Max),
                ("n".to_string(), Merge::Sum),
                ("m".to_string(), Merge::Min)
            ]
        );
    }

    #[test]
    fn retain_names_a_date_key_and_a_number_of_days() {
        let spec =
            parse("-- @key account_id, day\n-- @merge last_seen_at = max\n-- @retain Day 28 days")
                .unwrap();
        let want = Retain {
            column: "day".into(),
            days: 28,
        };
        assert_eq!(spec.retain, Some(want.clone()));
        let spec = parse("-- @key account_id, day\n-- @retain day 28").unwrap();
        assert_eq!(spec.retain, Some(want));
        for (retain, expected) in [
            ("day", "write `@retain COLUMN N days`"),
            ("day 0 days", "write `@retain COLUMN N days`"),
            ("day -3 days", "write `@retain COLUMN N days`"),
            ("day 28 weeks", "write `@retain COLUMN N days`"),
        ] {
            let err = parse(&format!("-- @key account_id, day\n-- @retain {retain}")).unwrap_err();
            assert!(err.contains(expected), "{retain}: {err}");
        }
        let err = parse("-- @key a, day\n-- @retain day 2\n-- @retain day 3").unwrap_err();
        assert!(err.contains("more than once"), "{err}");
    }

    #[test]
    fn bad_headers_say_what_to_write() {
        for (header, expected) in [
            ("-- @merge last_seen_at = max", "no `-- @key column` line"),
            (
                "-- @key account_id\n-- @merge last_seen_at = avg",
                "`avg` is not a merge function",
            ),
            (
                "-- @key account_id\n-- @merge last_seen_at",
                "write `column = min|max|sum`",
            ),
            (
                "-- @key account_id\n-- @unique account_id",
                "unknown directive `@unique`",
            ),
        ] {
            let err = parse(header).unwrap_err();
            assert!(
                err.contains(expected) && err.contains("x.sql"),
                "{header}: {err}"
            );
        }
        let err = Spec::parse(
            Path::new("x.sql"),
            "-- @key a\nSELECT 1 AS a WHERE $increment_to > 0",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("does not use $increment_from"), "{err}");
    }

    #[test]
    fn a_changed_partition_is_named() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
        let then = Inputs {
            by_day: [(day(1), "a".into()), (day(2), "b".into())].into(),
            undated: None,
        };
        assert_eq!(Inputs::change("tracks", &then, &then.clone()), None);
        let mut now = then.clone();
        now.by_day.insert(day(2), "c".into());
        assert_eq!(
            Inputs::change("tracks", &then, &now).unwrap(),
            "tracks: partition day 2026-10-02 changed since the rollup was built"
        );
        now.by_day.insert(day(3), "d".into());
        now.by_day.remove(&day(2));
        assert!(
            Inputs::change("tracks", &then, &now)
                .unwrap()
                .contains("2026-10-02 disappeared")
        );
    }

    #[test]
    fn a_rollup_covers_partitions_up_to_its_end_plus_the_slack() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
        let inventory = Inventory {
            by_day: (1..=10).map(|d| (day(d), format!("h{d}"))).collect(),
            undated: Some("u".into()),
        };
        let inputs = Inputs::covering(&inventory, day(5), 2);
        assert_eq!(
            inputs.by_day.keys().copied().collect::<Vec<_>>(),
            (1..=6).map(day).collect::<Vec<_>>()
        );
        assert_eq!(inputs.undated.as_deref(), Some("u"));
    }
}
