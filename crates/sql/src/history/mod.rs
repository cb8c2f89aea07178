//! Score history: one snapshot row per account per scoring day, kept at `[history] url` as
//! Parquet partitioned by day (`as_of=YYYY-MM-DD/snapshot.parquet`). `run` and `backfill` write
//! it; `report` reads it. The schema is fixed here, not inferred from `account_features`, so
//! days written by different SQL versions still form one table.
//!
//! A day is written whole and replaced whole: the object is put in one piece (a local write is
//! a temporary file renamed into place), so re-running a day never duplicates it and a crash
//! leaves the previous version.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, StringArray, new_null_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::memory::MemTable;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as StorePath;

use crate::store::{Location, Store, StoreError};

/// The table name report SQL reads history as.
pub const TABLE: &str = "history";

/// Errors reading or writing history; each names the location and what to do.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("history at {url}: {message}")]
    Write { url: String, message: String },
    #[error(
        "history at {url}: `account_features` column `{column}` ({found}) cannot be kept as {expected}: {message}"
    )]
    Column {
        url: String,
        column: String,
        found: DataType,
        expected: DataType,
        message: String,
    },
    #[error("history at {url} cannot be read: {message}")]
    Read { url: String, message: String },
}

/// Which command wrote a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Run,
    Backfill,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Run => "run",
            Origin::Backfill => "backfill",
        }
    }
}

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The history columns: name, type, and the decisions column each is taken from (absent
/// optional columns are kept as null). README's "Score history" section lists them.
pub fn columns() -> Vec<(&'static str, DataType)> {
    vec![
        ("as_of", DataType::Date32),
        ("account_id", DataType::Utf8),
        ("fit_score", DataType::Int32),
        ("usage_score", DataType::Int32),
        ("pql_score", DataType::Int32),
        ("tier", DataType::Utf8),
        ("motion", DataType::Utf8),
        ("owner", DataType::Utf8),
        ("lead_stage", DataType::Utf8),
        ("deal_stage", DataType::Utf8),
        ("seats", DataType::Int64),
        ("trial_id", DataType::Utf8),
        ("trial_start", ts()),
        ("trial_end", ts()),
        ("trial_status", DataType::Utf8),
        ("subscription_status", DataType::Utf8),
        ("mrr", DataType::Int64),
        ("mrr_currency", DataType::Utf8),
        ("meeting_booked_14d", DataType::Int64),
        ("expansion_score", DataType::Int32),
        ("tasks", DataType::Utf8),
        ("days_since_last_activity", DataType::Int64),
        ("source", DataType::Utf8),
    ]
}

/// The history schema.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(
        columns()
            .into_iter()
            .map(|(name, t)| Field::new(name, t, !matches!(name, "as_of" | "account_id")))
            .collect::<Vec<_>>(),
    ))
}

/// The objects of one day's snapshot live under this prefix.
fn day_dir(as_of: NaiveDate) -> String {
    format!("as_of={as_of}")
}

const FILE: &str = "snapshot.parquet";

/// One day's snapshot being collected from decision batches.
pub struct Snapshot {
    url: String,
    as_of: NaiveDate,
    origin: Origin,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl Snapshot {
    pub fn new(location: &Location, as_of: NaiveDate, origin: Origin) -> Snapshot {
        Snapshot {
            url: location.configured.clone(),
            as_of,
            origin,
            schema: schema(),
            batches: Vec::new(),
        }
    }

    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Keep the history columns of a decisions batch (features plus decision columns).
    pub fn push(&mut self, decided: &RecordBatch) -> Result<(), HistoryError> {
        let rows = decided.num_rows();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        let mut out: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for field in self.schema.fields() {
            let name = field.name().as_str();
            let column: ArrayRef = match name {
                "as_of" => Arc::new(Date32Array::from(vec![
                    (self.as_of - epoch).num_days()
                        as i32;
                    rows
                ])),
                "source" => Arc::new(StringArray::from(vec![self.origin.as_str(); rows])),
                _ => match decided.schema().index_of(name) {
                    Ok(i) => {
                        let source = decided.column(i);
                        cast(source, field.data_type()).map_err(|e| HistoryError::Column {
                            url: self.url.clone(),
                            column: name.to_string(),
                            found: source.data_type().clone(),
                            expected: field.data_type().clone(),
                            message: e.to_string(),
                        })?
                    }
                    Err(_) => new_null_array(field.data_type(), rows),
                },
            };
            out.push(column);
        }
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), out).map_err(|e| {
            HistoryError::Write {
                url: self.url.clone(),
                message: e.to_string(),
            }
        })?;
        self.batches.push(batch);
        Ok(())
    }

    /// Record the owners HubSpot reported for accounts (its owner wins over the routed one,
    /// as in the routing memory).
    pub fn set_owners(
        &mut self,
        owners: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), HistoryError> {
        if owners.is_empty() {
            return Ok(());
        }
        let (account_i, owner_i) = (
            self.schema.index_of("account_id").expect("history column"),
            self.schema.index_of("owner").expect("history column"),
        );
        for batch in &mut self.batches {
            let accounts = batch.column(account_i).as_string::<i32>();
            let current = batch.column(owner_i).as_string::<i32>();
            let updated: StringArray = (0..batch.num_rows())
                .map(|i| {
                    owners
                        .get(accounts.value(i))
                        .map(String::as_str)
                        .or_else(|| current.is_valid(i).then(|| current.value(i)))
                })
                .collect();
            let mut columns = batch.columns().to_vec();
            columns[owner_i] = Arc::new(updated);
            *batch = RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(|e| {
                HistoryError::Write {
                    url: self.url.clone(),
                    message: e.to_string(),
                }
            })?;
        }
        Ok(())
    }

    /// Write the day, replacing any earlier snapshot of it. Returns the rows written.
    pub async fn commit(self, store: &Store) -> Result<usize, HistoryError> {
        let err = |message: String| HistoryError::Write {
            url: self.url.clone(),
            message,
        };
        let rows: usize = self.batches.iter().map(RecordBatch::num_rows).sum();
        let dir = day_dir(self.as_of);
        let file = format!("{dir}/{FILE}");
        store
            .put_parquet(&file, &self.schema, &self.batches)
            .await
            .map_err(err)?;
        let target = store.path(&file);
        // Anything else in the day's directory (an older layout, a stray copy) would be read
        // as a second snapshot of the day.
        let prefix = store.path(&dir);
        let others: Vec<StorePath> = store
            .object_store()
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_filter(|p| futures::future::ready(p != &target))
            .try_collect()
            .await
            .map_err(|e| err(e.to_string()))?;
        for other in others {
            store
                .object_store()
                .delete(&other)
                .await
                .map_err(|e| err(e.to_string()))?;
        }
        Ok(rows)
    }
}

/// The days the history holds, oldest first.
pub async fn days(store: &Store) -> Result<Vec<NaiveDate>, HistoryError> {
    let listed: Vec<StorePath> = store
        .object_store()
        .list(Some(&store.path("")))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .map_err(|e| HistoryError::Read {
            url: store.url().to_string(),
            message: e.to_string(),
        })?;
    let mut days: Vec<NaiveDate> = listed
        .iter()
        .filter(|p| p.filename() == Some(FILE))
        .filter_map(|p| {
            p.parts()
                .filter_map(|part| {
                    part.as_ref()
                        .strip_prefix("as_of=")
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                })
                .next_back()
        })
        .collect();
    days.sort();
    days.dedup();
    Ok(days)
}

/// Register the history as table [`TABLE`], given its `days` (from [`days`], which the
/// caller already needs). An empty history registers an empty table, so report SQL still
/// plans.
pub fn register(
    ctx: &SessionContext,
    location: &Location,
    days: &[NaiveDate],
) -> Result<usize, HistoryError> {
    let read_err = |message: String| HistoryError::Read {
        url: location.configured.clone(),
        message,
    };
    let table: Arc<dyn TableProvider> = if days.is_empty() {
        Arc::new(MemTable::try_new(schema(), vec![vec![]]).map_err(|e| read_err(e.to_string()))?)
    } else {
        let url = if location.url.ends_with('/') {
            location.url.clone()
        } else {
            format!("{}/", location.url)
        };
        let table_url = ListingTableUrl::parse(&url).map_err(|e| read_err(e.to_string()))?;
        crate::source::store_for(ctx, &table_url, location).map_err(read_err)?;
        let state = ctx.state();
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let options = ListingOptions::new(Arc::new(format)).with_file_extension(FILE);
        let config = ListingTableConfig::new(table_url)
            .with_listing_options(options)
            .with_schema(schema());
        Arc::new(ListingTable::try_new(config).map_err(|e| read_err(e.to_string()))?)
    };
    ctx.register_table(TABLE, table)
        .map_err(|e| read_err(e.to_string()))?;
    Ok(days.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array, StringViewArray};

    fn location(dir: &std::path::Path) -> Location {
        Location {
            configured: dir.display().to_string(),
            url: dir.display().to_string(),
            store_options: vec![],
        }
    }

    fn decided(accounts: &[&str], tier: &str) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("account_id", DataType::Utf8View, false),
            Field::new("seats", DataType::Int64, false),
            Field::new("pql_score", DataType::Int32, false),
            Field::new("tier", DataType::Utf8, false),
            Field::new("unrelated", DataType::Int64, false),
        ]));
        let n = accounts.len();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringViewArray::from(accounts.to_vec())),
                Arc::new(Int64Array::from(vec![3; n])),
                Arc::new(Int32Array::from(vec![55; n])),
                Arc::new(StringArray::from(vec![tier; n])),
                Arc::new(Int64Array::from(vec![0; n])),
            ],
        )
        .unwrap()
    }

    async fn count(ctx: &SessionContext, sql: &str) -> i64 {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .value(0)
    }

    #[tokio::test]
    async fn rerunning_a_day_replaces_it_and_days_read_as_one_table() {
        let dir = tempfile::tempdir().unwrap();
        let loc = location(&dir.path().join("history"));
        let store = Store::open(&loc).unwrap();
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        for (day, tier) in [(19, "red"), (20, "yellow"), (20, "green")] {
            let mut s = Snapshot::new(&loc, d(day), Origin::Backfill);
            s.push(&decided(&["a", "b"], tier)).unwrap();
            s.push(&decided(&["c"], tier)).unwrap();
            assert_eq!(s.commit(&store).await.unwrap(), 3);
        }
        // A stray file in a day's directory is removed by the next write of that day.
        std::fs::write(
            dir.path().join("history/as_of=2026-11-19/old.parquet"),
            b"x",
        )
        .unwrap();
        let mut s = Snapshot::new(&loc, d(19), Origin::Run);
        s.push(&decided(&["a", "b", "c"], "red")).unwrap();
        s.commit(&store).await.unwrap();
        assert!(
            !dir.path()
                .join("history/as_of=2026-11-19/old.parquet")
                .exists()
        );
        // Owners HubSpot reported replace the routed ones.
        let mut s = Snapshot::new(&loc, d(18), Origin::Run);
        s.push(&decided(&["a", "b"], "red")).unwrap();
        s.set_owners(&[("b".to_string(), "rep@example.com".to_string())].into())
            .unwrap();
        s.commit(&store).await.unwrap();

        assert_eq!(days(&store).await.unwrap(), [d(18), d(19), d(20)]);
        let ctx = SessionContext::new();
        let held = days(&store).await.unwrap();
        assert_eq!(register(&ctx, &loc, &held).unwrap(), 3);
        assert_eq!(count(&ctx, "SELECT count(*) FROM history").await, 8);
        assert_eq!(
            count(
                &ctx,
                "SELECT count(*) FROM history WHERE as_of = DATE '2026-11-18' \
                 AND owner = 'rep@example.com' AND account_id = 'b'"
            )
            .await,
            1
        );
        assert_eq!(
            count(
                &ctx,
                "SELECT count(*) FROM history WHERE as_of = DATE '2026-11-20' AND tier = 'green' \
                 AND source = 'backfill' AND seats = 3 AND pql_score = 55 AND trial_id IS NULL"
            )
            .await,
            3
        );
        assert_eq!(
            count(
                &ctx,
                "SELECT count(*) FROM history WHERE as_of = DATE '2026-11-19' AND source = 'run'"
            )
            .await,
            3
        );
    }

    #[tokio::test]
    async fn an_empty_history_is_an_empty_table() {
        let dir = tempfile::tempdir().unwrap();
        let loc = location(dir.path());
        let store = Store::open(&loc).unwrap();
        let ctx = SessionContext::new();
        let held = days(&store).await.unwrap();
        assert_eq!(register(&ctx, &loc, &held).unwrap(), 0);
        assert_eq!(count(&ctx, "SELECT count(*) FROM history").await, 0);
    }
}
