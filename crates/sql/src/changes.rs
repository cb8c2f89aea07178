//! The change log: what every sync run wrote to HubSpot, kept as Parquet in the state location
//! (`changes/run=RUN_ID/part-NNNNN.parquet`, one part per save of the sync state, each put
//! whole) with a `run.json` per run saying what the run was and how it ended. The sync makes
//! the entries (`pqlsync_sync::journal`) only for what HubSpot confirmed; this module stores
//! them ([`ParquetJournal`]), lists and prunes runs past `[changes] retention_days`, and
//! registers the log as the table `sync.changes` of the analyst session.
//!
//! Run ids start with the UTC time the run started (`20261207T134056Z-1a2b`), so they sort in
//! the order the runs were made and say when without a lookup.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::prelude::{DataFrame, SessionContext, col, lit, when};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};

use crate::store::{Location, Store, StoreError};
use pqlsync_core::setting::Invalid;
use pqlsync_sync::journal::{Entry, Journal, Operation};

/// The directory of the log under the state location.
pub const DIR: &str = "changes";
/// The schema and table the log is registered as: `sync.changes`.
pub const SCHEMA_NAME: &str = "sync";
pub const TABLE: &str = "changes";
const RUN_FILE: &str = "run.json";
const PART_EXTENSION: &str = ".parquet";

/// `[changes]`: whether runs keep a change log, and for how long.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesFile {
    /// Keep a change log of every write the sync makes (default true). Off, `revert` has
    /// nothing to undo.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Days a run's log is kept (default 90); older runs are removed when a run ends, and
    /// can no longer be reverted.
    #[serde(default = "ninety")]
    pub retention_days: u32,
}

fn yes() -> bool {
    true
}

fn ninety() -> u32 {
    90
}

impl Default for ChangesFile {
    fn default() -> Self {
        ChangesFile {
            enabled: true,
            retention_days: ninety(),
        }
    }
}

/// `[changes]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangesConfig {
    pub enabled: bool,
    pub retention_days: u32,
}

impl ChangesFile {
    /// The config, or what is wrong with `[changes] retention_days`.
    pub fn validate(&self) -> Result<ChangesConfig, Invalid> {
        if self.retention_days == 0 {
            return Err(Invalid::new(
                "changes.retention_days",
                "must be at least 1: a run's log is what `changes` and `revert` read",
            ));
        }
        Ok(ChangesConfig {
            enabled: self.enabled,
            retention_days: self.retention_days,
        })
    }
}

/// A new run id for a run started at `now`.
pub fn new_run_id(now: DateTime<Utc>) -> String {
    let random = uuid::Uuid::now_v7().as_u128() as u16;
    format!("{}-{random:04x}", now.format("%Y%m%dT%H%M%SZ"))
}

/// When the run `id` started, from the id itself.
pub fn started_at(id: &str) -> Option<DateTime<Utc>> {
    let stamp = id.split('-').next()?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// What one run was and how it ended: `changes/run=ID/run.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// `run`, or `revert`.
    pub command: String,
    pub as_of: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it wrote: a portal's API URL, or offline recording.
    pub mode: String,
    pub entries: usize,
    /// Why the run ended early, if it did.
    pub stopped: Option<String>,
    /// For a revert: the run it undid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverts: Option<String>,
    /// For a reverted run: the revert that undid it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverted_by: Option<String>,
}

fn run_dir(run_id: &str) -> String {
    format!("{DIR}/run={run_id}")
}

/// The log's columns.
pub fn schema() -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("object", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        text("account_id"),
        text("hubspot_id"),
        Field::new("operation", DataType::Utf8, false),
        text("property"),
        text("previous"),
        text("new"),
        Field::new("status", DataType::Int32, true),
        text("category"),
        text("message"),
    ]))
}

/// `entries` of run `run_id` as one batch of [`schema`].
pub fn batch(run_id: &str, entries: &[Entry]) -> Result<RecordBatch, DataFusionError> {
    let text = |f: fn(&Entry) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(entries.iter().map(f)))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![run_id; entries.len()])),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                entries.iter().map(|e| e.at.timestamp_micros()),
            )
            .with_timezone("UTC"),
        ),
        text(|e| Some(e.object.as_str())),
        text(|e| Some(e.key.as_str())),
        text(|e| e.account.as_deref()),
        text(|e| e.hubspot_id.as_deref()),
        text(|e| Some(e.operation.as_str())),
        text(|e| e.property.as_deref()),
        text(|e| e.previous.as_deref()),
        text(|e| e.new.as_deref()),
        Arc::new(Int32Array::from_iter(
            entries.iter().map(|e| e.status.map(i32::from)),
        )),
        text(|e| e.category.as_deref()),
        text(|e| e.message.as_deref()),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// The change log of one run, written to the state location part by part.
#[derive(Debug)]
pub struct ParquetJournal {
    store: Store,
    run_id: String,
    parts: AtomicUsize,
    rows: AtomicUsize,
}

impl ParquetJournal {
    pub fn new(store: Store, run_id: &str) -> ParquetJournal {
        ParquetJournal {
            store,
            run_id: run_id.to_string(),
            parts: AtomicUsize::new(0),
            rows: AtomicUsize::new(0),
        }
    }

    /// The state location the log is kept in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Entries written so far.
    pub fn rows(&self) -> usize {
        self.rows.load(Ordering::SeqCst)
    }

    /// Write the run's `run.json` (again, when it changes).
    pub async fn describe(&self, record: &RunRecord) -> Result<(), StoreError> {
        write_record(&self.store, record).await
    }
}

#[async_trait]
impl Journal for ParquetJournal {
    fn url(&self) -> &str {
        self.store.url()
    }

    async fn append(&self, entries: Vec<Entry>) -> Result<(), String> {
        if entries.is_empty() {
            return Ok(());
        }
        let batch = batch(&self.run_id, &entries).map_err(|e| e.to_string())?;
        let part = self.parts.fetch_add(1, Ordering::SeqCst);
        let file = format!("{}/part-{part:05}{PART_EXTENSION}", run_dir(&self.run_id));
        self.store.put_parquet(&file, &schema(), &[batch]).await?;
        self.rows.fetch_add(entries.len(), Ordering::SeqCst);
        Ok(())
    }
}

/// Replace the `run.json` of `record`'s run.
pub async fn write_record(store: &Store, record: &RunRecord) -> Result<(), StoreError> {
    let file = format!("{}/{RUN_FILE}", run_dir(&record.run_id));
    store.write(&file, record).await
}

/// The run `run_id`'s record, if its log is kept.
pub async fn read_record(store: &Store, run_id: &str) -> Result<Option<RunRecord>, StoreError> {
    store.read(&format!("{}/{RUN_FILE}", run_dir(run_id))).await
}

/// Keep `value` as `file` beside run `run_id`'s log (the routing memory as the run found it,
/// which a revert of the run puts back); removed with the log.
pub async fn keep<T: Serialize>(
    store: &Store,
    run_id: &str,
    file: &str,
    value: &T,
) -> Result<(), StoreError> {
    store
        .write(&format!("{}/{file}", run_dir(run_id)), value)
        .await
}

/// Remove `file` from beside the logs of all but the latest `latest` runs: a copy kept for a
/// revert (the routing memory a run found) is used only while the runs after its own are
/// reverted too, so copies need not live as long as the log.
pub async fn drop_kept_before(store: &Store, latest: usize, file: &str) -> Result<(), StoreError> {
    let ids = run_ids(store).await?;
    for id in &ids[..ids.len().saturating_sub(latest)] {
        let path = store.path(&format!("{}/{file}", run_dir(id)));
        match store.object_store().delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                return Err(StoreError::Store {
                    url: store.url().to_string(),
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// What [`keep`] kept as `file` beside run `run_id`'s log, if anything.
pub async fn kept<T: serde::de::DeserializeOwned>(
    store: &Store,
    run_id: &str,
    file: &str,
) -> Result<Option<T>, StoreError> {
    store.read(&format!("{}/{file}", run_dir(run_id))).await
}

/// The ids of the runs whose log is kept, oldest first (a run killed before its `run.json`
/// was written still has its parts, and is listed).
pub async fn run_ids(store: &Store) -> Result<Vec<String>, StoreError> {
    let err = |message: String| StoreError::Store {
        url: store.url().to_string(),
        message,
    };
    let prefix = store.path(DIR);
    let listed = store
        .object_store()
        .list_with_delimiter(Some(&prefix))
        .await
        .map_err(|e| err(e.to_string()))?;
    let mut ids: Vec<String> = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename()?.strip_prefix("run=").map(str::to_string))
        .collect();
    ids.sort();
    Ok(ids)
}

/// Remove the logs of runs started more than `retention_days` before `now`; the ids removed.
pub async fn prune(
    store: &Store,
    now: DateTime<Utc>,
    retention_days: u32,
) -> Result<Vec<String>, StoreError> {
    let err = |message: String| StoreError::Store {
        url: store.url().to_string(),
        message,
    };
    let cutoff = now - chrono::TimeDelta::days(i64::from(retention_days));
    let mut removed = Vec::new();
    for id in run_ids(store).await? {
        if started_at(&id).is_none_or(|t| t >= cutoff) {
            continue;
        }
        let prefix = store.path(&run_dir(&id));
        let files: Vec<_> = store
            .object_store()
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| err(e.to_string()))?;
        // The run.json goes last: a prune cut short leaves a run that still says what it was.
        let (record, parts): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|p| p.filename() == Some(RUN_FILE));
        for file in parts.into_iter().chain(record) {
            store
                .object_store()
                .delete(&file)
                .await
                .map_err(|e| err(e.to_string()))?;
        }
        if let Some(dir) = store.local_dir() {
            let _ = std::fs::remove_dir(dir.join(run_dir(&id)));
        }
        removed.push(id);
    }
    Ok(removed)
}

/// Register the log kept under `state` as `sync.changes`: empty, never missing, when no run
/// has kept one, so SQL that reads it runs the same on a fresh install.
pub async fn register(ctx: &SessionContext, state: &Location) -> Result<(), DataFusionError> {
    let sync_schema = crate::engine::schema_named(ctx, SCHEMA_NAME)?;
    let table = table(ctx, state).await?;
    sync_schema.deregister_table(TABLE)?;
    sync_schema.register_table(TABLE.to_string(), table)?;
    Ok(())
}

async fn table(
    ctx: &SessionContext,
    state: &Location,
) -> Result<Arc<dyn TableProvider>, DataFusionError> {
    let empty = || -> Result<Arc<dyn TableProvider>, DataFusionError> {
        Ok(Arc::new(MemTable::try_new(schema(), vec![vec![]])?))
    };
    let local = !state.url.contains("://");
    if local && !std::path::Path::new(&state.url).join(DIR).is_dir() {
        return empty();
    }
    let url = format!("{}/{DIR}/", state.url.trim_end_matches('/'));
    let table_url = ListingTableUrl::parse(&url)?;
    crate::source::store_for(ctx, &table_url, state).map_err(DataFusionError::Plan)?;
    let session = ctx.state();
    let format = ParquetFormat::default().with_options(session.table_options().parquet.clone());
    let options = ListingOptions::new(Arc::new(format)).with_file_extension(PART_EXTENSION);
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(schema());
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// Which entries `pqlsync changes` (and `explain`) show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub run: Option<String>,
    pub account: Option<String>,
    pub object: Option<String>,
}

/// The entries of `sync.changes` (registered in `ctx`) that `filter` selects: newest run
/// first, then by record, operation and property, as a listing reads them.
pub async fn select(ctx: &SessionContext, filter: &Filter) -> Result<DataFrame, DataFusionError> {
    let mut df = ctx.table(format!("{SCHEMA_NAME}.{TABLE}")).await?;
    for (column, value) in [
        ("run_id", &filter.run),
        ("account_id", &filter.account),
        ("object", &filter.object),
    ] {
        if let Some(value) = value {
            df = df.filter(col(column).eq(lit(value.as_str())))?;
        }
    }
    // Within a record: what was written to it, then its associations, then what failed, each
    // by property, and a property written twice in a run in the order written. Not by time
    // first: batches of one run settle in any order, and a listing must read the same twice.
    let rank = when(col("operation").eq(lit("create")), lit(0))
        .when(col("operation").eq(lit("update")), lit(1))
        .when(col("operation").eq(lit("archive")), lit(2))
        .when(col("operation").eq(lit("associate")), lit(3))
        .otherwise(lit(4))?;
    df.sort(vec![
        col("run_id").sort(false, true),
        col("object").sort(true, true),
        col("key").sort(true, true),
        rank.sort(true, true),
        col("property").sort(true, true),
        col("at").sort(true, true),
    ])
}

/// One entry read back, for listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub run_id: String,
    pub at: String,
    pub object: String,
    pub key: String,
    pub account_id: Option<String>,
    pub hubspot_id: Option<String>,
    pub operation: String,
    pub property: Option<String>,
    pub previous: Option<String>,
    pub new: Option<String>,
    pub status: Option<i32>,
    pub category: Option<String>,
    pub message: Option<String>,
}

impl Row {
    /// The entry this row holds, as the sync crate made it: what a revert plans from. A row
    /// whose time or operation does not read is an error naming it, never skipped, since a
    /// revert that silently left out a write would leave HubSpot half restored.
    pub fn entry(&self) -> Result<Entry, String> {
        let at = DateTime::parse_from_rfc3339(&self.at)
            .map(|t| t.to_utc())
            .map_err(|e| format!("its time {:?} does not read ({e})", self.at));
        let operation = Operation::parse(&self.operation).ok_or_else(|| {
            format!(
                "its operation {:?} is not one pqlsync writes",
                self.operation
            )
        });
        let why = |e: String| {
            format!(
                "run {}, {} {} {}: {e}",
                self.run_id,
                self.object,
                self.key,
                self.property.as_deref().unwrap_or_default()
            )
        };
        Ok(Entry {
            at: at.map_err(why)?,
            object: self.object.clone(),
            key: self.key.clone(),
            account: self.account_id.clone(),
            hubspot_id: self.hubspot_id.clone(),
            operation: operation.map_err(why)?,
            property: self.property.clone(),
            previous: self.previous.clone(),
            new: self.new.clone(),
            status: self.status.and_then(|s| u16::try_from(s).ok()),
            category: self.category.clone(),
            message: self.message.clone(),
        })
    }
}

/// `batches` of [`schema`]'s columns as rows.
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<Row>, DataFusionError> {
    let mut out = Vec::new();
    for b in batches {
        let text = |name: &str| -> Result<ArrayRef, DataFusionError> {
            let c = b.column_by_name(name).ok_or_else(|| {
                DataFusionError::Plan(format!("sync.changes has no column {name}"))
            })?;
            Ok(datafusion::arrow::compute::cast(c, &DataType::Utf8)?)
        };
        let names = [
            "run_id",
            "at",
            "object",
            "key",
            "account_id",
            "hubspot_id",
            "operation",
            "property",
            "previous",
            "new",
            "status",
            "category",
            "message",
        ];
        let columns = names
            .iter()
            .map(|n| text(n))
            .collect::<Result<Vec<_>, _>>()?;
        let columns: Vec<&StringArray> = columns.iter().map(|c| c.as_string::<i32>()).collect();
        for i in 0..b.num_rows() {
            let get = |c: usize| {
                columns[c]
                    .is_valid(i)
                    .then(|| columns[c].value(i).to_string())
            };
            let must = |c: usize| get(c).unwrap_or_default();
            out.push(Row {
                run_id: must(0),
                at: must(1),
                object: must(2),
                key: must(3),
                account_id: get(4),
                hubspot_id: get(5),
                operation: must(6),
                property: get(7),
                previous: get(8),
                new: get(9),
                status: get(10).and_then(|s| s.parse().ok()),
                category: get(11),
                message: get(12),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(dir: &std::path::Path) -> Location {
        Location {
            configured: dir.display().to_string(),
            url: format!("{}/", dir.display()),
            store_options: vec![],
        }
    }

    fn entry(key: &str, property: &str, previous: Option<&str>, new: &str) -> Entry {
        Entry {
            at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            object: "companies".into(),
            key: key.into(),
            account: Some(key.into()),
            hubspot_id: Some("7".into()),
            operation: if previous.is_some() {
                Operation::Update
            } else {
                Operation::Create
            },
            property: Some(property.into()),
            previous: previous.map(str::to_string),
            new: Some(new.into()),
            status: None,
            category: None,
            message: None,
        }
    }

    async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn a_run_id_says_when_the_run_started_and_ids_sort_by_it() {
        let t = DateTime::parse_from_rfc3339("2026-12-07T13:40:56Z")
            .unwrap()
            .to_utc();
        let id = new_run_id(t);
        assert!(id.starts_with("20261207T134056Z-"), "{id}");
        assert_eq!(started_at(&id), Some(t));
        assert!(new_run_id(t + chrono::TimeDelta::seconds(1)) > id);
        assert_eq!(started_at("not-a-run"), None);
    }

    #[test]
    fn retention_must_keep_a_day() {
        let file = ChangesFile {
            enabled: true,
            retention_days: 0,
        };
        let e = file.validate().unwrap_err();
        assert_eq!(e.key, "changes.retention_days", "{e:?}");
        assert_eq!(
            ChangesFile::default().validate().unwrap().retention_days,
            90
        );
    }

    #[tokio::test]
    async fn each_part_a_run_writes_reads_back_as_sync_changes() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = SessionContext::new();
        register(&ctx, &location(dir.path())).await.unwrap();
        assert_eq!(
            rows(&ctx, "SELECT count(*) AS n FROM sync.changes").await[3],
            "| 0 |",
            "no log yet: an empty table"
        );
        let store = Store::open(&location(dir.path())).unwrap();
        let journal = ParquetJournal::new(store.clone(), "20261207T134056Z-0001");
        journal
            .append(vec![entry("acme", "pql_score", None, "80")])
            .await
            .unwrap();
        journal
            .append(vec![entry("acme", "pql_score", Some("80"), "91")])
            .await
            .unwrap();
        journal.append(vec![]).await.unwrap();
        assert_eq!(journal.rows(), 2);
        register(&ctx, &location(dir.path())).await.unwrap();
        let got = rows(
            &ctx,
            "SELECT run_id, key, operation, previous, new FROM sync.changes ORDER BY new",
        )
        .await;
        assert_eq!(
            got[3..5],
            [
                "| 20261207T134056Z-0001 | acme | create    |          | 80  |",
                "| 20261207T134056Z-0001 | acme | update    | 80       | 91  |",
            ]
        );
        assert_eq!(run_ids(&store).await.unwrap(), ["20261207T134056Z-0001"]);
        // What a revert reads back is what the sync logged, to the microsecond.
        let ctx = SessionContext::new();
        register(&ctx, &location(dir.path())).await.unwrap();
        let filter = Filter {
            run: Some("20261207T134056Z-0001".into()),
            ..Filter::default()
        };
        let batches = select(&ctx, &filter)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut read: Vec<Entry> = super::rows(&batches)
            .unwrap()
            .iter()
            .map(|r| r.entry().unwrap())
            .collect();
        read.sort_by(|a, b| a.new.cmp(&b.new));
        assert_eq!(
            read,
            [
                entry("acme", "pql_score", None, "80"),
                entry("acme", "pql_score", Some("80"), "91")
            ]
        );
    }

    #[tokio::test]
    async fn runs_older_than_the_retention_are_removed_and_newer_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&location(dir.path())).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-12-07T00:00:00Z")
            .unwrap()
            .to_utc();
        let days_ago = |d: i64| new_run_id(now - chrono::TimeDelta::days(d));
        let (old, edge, new) = (days_ago(91), days_ago(89), days_ago(1));
        for id in [&old, &edge, &new] {
            let journal = ParquetJournal::new(store.clone(), id);
            journal
                .append(vec![entry("acme", "pql_score", None, "1")])
                .await
                .unwrap();
            let record = RunRecord {
                run_id: id.clone(),
                command: "run".into(),
                as_of: now.date_naive(),
                started_at: started_at(id).unwrap(),
                finished_at: None,
                mode: "offline".into(),
                entries: 1,
                stopped: None,
                reverts: None,
                reverted_by: None,
            };
            journal.describe(&record).await.unwrap();
        }
        assert_eq!(
            prune(&store, now, 90).await.unwrap(),
            std::slice::from_ref(&old)
        );
        assert_eq!(run_ids(&store).await.unwrap(), [edge.clone(), new.clone()]);
        assert!(read_record(&store, &old).await.unwrap().is_none());
        assert_eq!(
            read_record(&store, &new).await.unwrap().unwrap().run_id,
            new
        );
        assert!(!dir.path().join(run_dir(&old)).exists());
    }
}
