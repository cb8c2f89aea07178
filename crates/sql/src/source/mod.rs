//! Sources: turns the configured dataset URLs into DataFusion tables under the `raw` schema
//! (`raw.tracks`, `raw.identifies`, … or, for PostHog, `raw.posthog_events` and
//! `raw.posthog_persons`), checked against the input contract.
//!
//! This module owns its config section (`[sources]`, in `config.rs`), the input contract,
//! object stores for `s3://`, `gs://` and `az://`, dataset layout (one file, a directory, or hive
//! partitions), timestamp normalisation (any unit, any zone, INT96 → microseconds UTC) and
//! pruning partitions by event time. It knows nothing about features: SQL reads `raw.*`.

pub mod config;
pub mod contract;
mod partition;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

pub use config::{Format, Product, SourcesConfig, SourcesFile};
pub use contract::Contract;
pub use partition::{TimePartitioned, TimeRange, partition_filters, time_range};

use crate::store::Location;
use crate::value::{ArrowKind, Kind, timestamp_type};

/// The schema analyst SQL reads raw datasets from.
pub const RAW_SCHEMA: &str = "raw";

/// Partition keys that carry the event date and prune by time.
const DATE_PARTITION_KEYS: &[&str] = &["day", "dt", "date"];

/// Errors registering a dataset. Each names the dataset, its URL or file, and the fix.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("dataset `{dataset}`: {url} is not a valid location: {message}")]
    BadUrl {
        dataset: String,
        url: String,
        message: String,
    },
    #[error(
        "dataset `{dataset}`: no Parquet files at {url} (check [sources] {dataset}; files must end in .parquet or .parquet.zst and the like)"
    )]
    NotFound { dataset: String, url: String },
    #[error("dataset `{dataset}`: cannot list {url}: {message}")]
    Store {
        dataset: String,
        url: String,
        message: String,
    },
    #[error("dataset `{dataset}`: cannot read {file}: {message} (is it a Parquet file?)")]
    Unreadable {
        dataset: String,
        file: String,
        message: String,
    },
    #[error("dataset `{dataset}` at {url}: column `{column}` is missing (expected {expected})")]
    MissingColumn {
        dataset: String,
        url: String,
        column: String,
        expected: &'static str,
    },
    #[error(
        "dataset `{dataset}` at {url}: column `{column}` has type {found}, expected {expected}"
    )]
    WrongType {
        dataset: String,
        url: String,
        column: String,
        found: DataType,
        expected: &'static str,
    },
    #[error(
        "dataset `{dataset}`: column `{column}` is {a} in some files and {b} in {file}; all files of a dataset must agree"
    )]
    ConflictingTypes {
        dataset: String,
        column: String,
        file: String,
        a: DataType,
        b: DataType,
    },
    #[error(
        "dataset `{dataset}`: {file} does not follow the partition layout `{layout}` of the other files"
    )]
    Partition {
        dataset: String,
        file: String,
        layout: String,
    },
    #[error(
        "dataset `{dataset}` at {url} is stale: its newest event is {newest}, more than {max_lag_days} \
         day(s) before the end of the scoring day {as_of}. Scoring it would read every account as \
         gone quiet and close live trials. Check the export; pass --allow-stale to score it \
         anyway, or raise [sources] max_lag_days"
    )]
    Stale {
        dataset: &'static str,
        url: String,
        newest: String,
        as_of: chrono::NaiveDate,
        max_lag_days: u32,
    },
    #[error(
        "dataset `{dataset}`: {dir} is not a date partition ({key}={value} is not YYYY-MM-DD or \
         YYYYMMDD); its rows would be skipped. Move or rename it"
    )]
    BadPartition {
        dataset: String,
        dir: String,
        key: String,
        value: String,
    },
    #[error(
        "dataset `{dataset}`: {file} lacks the required column `{column}` (expected {expected}) \
         that the dataset's other files have; fix or remove that file"
    )]
    MissingInFile {
        dataset: String,
        file: String,
        column: String,
        expected: &'static str,
    },
    #[error(
        "dataset `{dataset}`: {file} cannot be decoded ({message}); its footer reads, but its \
         data does not (a truncated upload, a corrupt page, text that is not UTF-8). Re-export \
         or remove that file"
    )]
    Undecodable {
        dataset: String,
        file: String,
        message: String,
    },
    #[error(
        "dataset `{dataset}`: {file} and {first} have different extensions; a dataset's files \
         must all be `.parquet` or all carry the same compression suffix (`.parquet.zst`). \
         Move one kind to a dataset of its own"
    )]
    MixedExtensions {
        dataset: String,
        file: String,
        first: String,
    },
    #[error("query engine: {0}")]
    Engine(#[source] DataFusionError),
}

/// After a query failed, find the first file of `datasets` that cannot be decoded on its own,
/// to name it: the engine's error names the view it was computing, but a bad page deep in one
/// of thousands of files carries no path. Reads every file in full, so it runs only on that
/// failure path; `None` when every file decodes (the failure was elsewhere).
pub async fn locate_undecodable(
    ctx: &SessionContext,
    datasets: &[DatasetInfo],
) -> Option<SourceError> {
    for info in datasets {
        for (url, shown) in &info.file_urls {
            let read = async {
                // With the file's own extension: DataFusion refuses `.parquet.zst` (PostHog's
                // exports) under the default `.parquet`, which would blame a sound file.
                let options = ParquetReadOptions {
                    file_extension: parquet_suffix(url).unwrap_or(".parquet"),
                    ..ParquetReadOptions::default()
                };
                let df = ctx.read_parquet(url.as_str(), options).await?;
                let mut stream = df.execute_stream().await?;
                while let Some(batch) = stream.next().await {
                    batch?;
                }
                Ok::<_, DataFusionError>(())
            };
            if let Err(e) = read.await {
                return Some(SourceError::Undecodable {
                    dataset: info.name.clone(),
                    file: shown.clone(),
                    message: e.find_root().to_string(),
                });
            }
        }
    }
    None
}

/// The freshness guard: the product events (`tracks`, or PostHog's `events`) must hold an
/// event within `[sources] max_lag_days` days before the end of `as_of`. Only the partitions
/// of that window are read when it does.
pub async fn check_fresh(
    ctx: &SessionContext,
    sources: &SourcesConfig,
    as_of: chrono::NaiveDate,
) -> Result<(), SourceError> {
    let (dataset, location) = sources.event_dataset();
    let end = as_of + chrono::TimeDelta::days(1);
    let start = end - chrono::TimeDelta::days(i64::from(sources.max_lag_days) + 1);
    let newest = |lower: Option<chrono::NaiveDate>| {
        let lower = lower.map_or(String::new(), |d| {
            format!(" AND \"timestamp\" >= TIMESTAMP '{d}T00:00:00Z'")
        });
        format!(
            "SELECT max(\"timestamp\") FROM {RAW_SCHEMA}.{dataset} \
             WHERE \"timestamp\" < TIMESTAMP '{end}T00:00:00Z'{lower}"
        )
    };
    if scalar_time(ctx, &newest(Some(start))).await?.is_some() {
        return Ok(());
    }
    // Stale: read all of it, once, to say how stale.
    let found = scalar_time(ctx, &newest(None)).await?;
    Err(SourceError::Stale {
        dataset,
        url: location.configured.clone(),
        newest: found.map_or_else(
            || "none (no event before it at all)".to_string(),
            |us| {
                chrono::DateTime::from_timestamp_micros(us).map_or_else(
                    || us.to_string(),
                    |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                )
            },
        ),
        as_of,
        max_lag_days: sources.max_lag_days,
    })
}

/// The one timestamp (µs) a query returns, if not null.
async fn scalar_time(ctx: &SessionContext, sql: &str) -> Result<Option<i64>, SourceError> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(SourceError::Engine)?
        .collect()
        .await
        .map_err(SourceError::Engine)?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let column = datafusion::arrow::compute::cast(
        batch.column(0),
        &DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Microsecond, None),
    )
    .map_err(|e| SourceError::Engine(e.into()))?;
    let column = column.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
    Ok((!column.is_null(0)).then(|| column.value(0)))
}

/// What was registered, for `validate` and the run summary.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DatasetInfo {
    pub name: String,
    pub url: Option<String>,
    pub files: usize,
    pub bytes: u64,
    pub partition_columns: Vec<String>,
    /// Optional contract columns the files lack; they read as null.
    pub absent_optional_columns: Vec<String>,
    /// What the files are, by date partition: how incremental rollups tell that data they
    /// were built from has changed.
    #[serde(skip)]
    pub inventory: Inventory,
    /// Each file: its URL for the query engine, and its path as configured (for messages).
    #[serde(skip)]
    pub file_urls: Vec<(String, String)>,
}

/// A dataset's files, summarised: one digest of (path, size, modification time, ETag) per
/// date partition, and one for files outside date partitions. Equal digests mean the same
/// files, unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Per `day=`/`dt=`/`date=` partition value.
    pub by_day: BTreeMap<chrono::NaiveDate, String>,
    /// Files not in a date partition (every file of an unpartitioned dataset); `None` if none.
    pub undated: Option<String>,
}

impl Inventory {
    fn of(url: &ListingTableUrl, files: &[ObjectMeta], date_key: Option<&str>) -> Inventory {
        use sha2::Digest;
        let mut by_day: BTreeMap<chrono::NaiveDate, sha2::Sha256> = BTreeMap::new();
        let mut undated: Option<sha2::Sha256> = None;
        for meta in files {
            let day = date_key.and_then(|key| {
                url.strip_prefix(&meta.location)?
                    .filter_map(|segment| segment.split_once('='))
                    .find(|(k, _)| *k == key)
                    .and_then(|(_, v)| partition_day(v))
            });
            let hasher = match day {
                Some(day) => by_day.entry(day).or_default(),
                None => undated.get_or_insert_with(Default::default),
            };
            let entry = format!(
                "{}\t{}\t{}\t{}\n",
                meta.location,
                meta.size,
                meta.last_modified.to_rfc3339(),
                meta.e_tag.as_deref().unwrap_or("")
            );
            hasher.update(entry.as_bytes());
        }
        let hex = |h: sha2::Sha256| {
            h.finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        Inventory {
            by_day: by_day.into_iter().map(|(d, h)| (d, hex(h))).collect(),
            undated: undated.map(hex),
        }
    }
}

/// A file of a dataset as the user would write it: the configured location (`data/tracks`,
/// `s3://bucket/tracks/`) followed by the file's path below it.
fn show_file(
    configured: &str,
    url: &ListingTableUrl,
    location: &object_store::path::Path,
) -> String {
    match url.strip_prefix(location) {
        Some(parts) => {
            let rest: Vec<&str> = parts.collect();
            if rest.is_empty() {
                configured.to_string()
            } else {
                format!("{}/{}", configured.trim_end_matches('/'), rest.join("/"))
            }
        }
        None => location.to_string(),
    }
}

/// Every value of a date partition key (`day=`, `dt=`, `date=`) must be a date: rows under
/// `day=garbage/` would otherwise fall outside every time range and be skipped unseen.
fn check_date_partitions(
    name: &str,
    url: &ListingTableUrl,
    files: &[ObjectMeta],
    partitions: &[String],
    shown_file: &dyn Fn(&ObjectMeta) -> String,
) -> Result<(), SourceError> {
    let Some(key) = partitions
        .iter()
        .find(|k| DATE_PARTITION_KEYS.contains(&k.as_str()))
    else {
        return Ok(());
    };
    for meta in files {
        let value = url.strip_prefix(&meta.location).and_then(|mut parts| {
            parts.find_map(|segment| {
                segment
                    .split_once('=')
                    .filter(|(k, _)| k == key)
                    .map(|(_, v)| v.to_string())
            })
        });
        if let Some(value) = value
            && partition_day(&value).is_none()
        {
            let file = shown_file(meta);
            let dir = file
                .rsplit_once('/')
                .map_or(file.clone(), |(dir, _)| dir.to_string());
            return Err(SourceError::BadPartition {
                dataset: name.to_string(),
                dir,
                key: key.clone(),
                value,
            });
        }
    }
    Ok(())
}

/// Every file must hold every required column: merging schemas alone would read a file that
/// lacks one as nulls.
fn check_each_file(
    name: &str,
    contract: &Contract,
    schemas: &[(String, SchemaRef)],
) -> Result<(), SourceError> {
    for (file, schema) in schemas {
        for (column, kind) in contract.required {
            if schema.field_with_name(column).is_err() {
                return Err(SourceError::MissingInFile {
                    dataset: name.to_string(),
                    file: file.clone(),
                    column: column.to_string(),
                    expected: kind.describe(),
                });
            }
        }
    }
    Ok(())
}

/// A date partition's value as a day (`2026-11-20`, or `20261120`), URL-decoded.
fn partition_day(value: &str) -> Option<chrono::NaiveDate> {
    let value = value.replace("%2D", "-");
    chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(&value, "%Y%m%d"))
        .ok()
}

/// The datasets to register: each configured one with its contract, then an empty stand-in
/// for each optional dataset nobody configured.
fn wanted(s: &SourcesConfig) -> Vec<(String, Contract, Option<&Location>)> {
    let mut wanted: Vec<(String, Contract, Option<&Location>)> = match &s.product {
        Product::Segment {
            tracks,
            identifies,
            groups,
        } => vec![
            ("tracks".into(), contract::TRACKS, Some(tracks)),
            ("identifies".into(), contract::IDENTIFIES, Some(identifies)),
            ("groups".into(), contract::GROUPS, Some(groups)),
        ],
        Product::Posthog {
            events, persons, ..
        } => vec![
            (
                config::POSTHOG_EVENTS.into(),
                contract::POSTHOG_EVENTS,
                Some(events),
            ),
            (
                config::POSTHOG_PERSONS.into(),
                contract::POSTHOG_PERSONS,
                persons.as_ref(),
            ),
        ],
    };
    wanted.extend([
        (
            "subscriptions".into(),
            contract::SUBSCRIPTIONS,
            s.subscriptions.as_ref(),
        ),
        (
            "subscription_items".into(),
            contract::SUBSCRIPTION_ITEMS,
            s.subscription_items.as_ref(),
        ),
        (
            "customers_metadata".into(),
            contract::CUSTOMERS_METADATA,
            s.customers_metadata.as_ref(),
        ),
    ]);
    for (event, location) in &s.events {
        wanted.push((event.clone(), contract::for_event(event), Some(location)));
    }
    for optional in contract::OPTIONAL_DATASETS {
        if !wanted.iter().any(|(n, _, _)| n == optional.name) {
            wanted.push((optional.name.to_string(), *optional, None));
        }
    }
    wanted
}

/// The `raw` schema of the default catalog, created on first use.
fn raw_schema(ctx: &SessionContext) -> Result<Arc<dyn SchemaProvider>, SourceError> {
    let catalog = ctx
        .catalog("datafusion")
        .expect("the default catalog exists");
    if let Some(schema) = catalog.schema(RAW_SCHEMA) {
        return Ok(schema);
    }
    let schema: Arc<dyn SchemaProvider> = Arc::new(MemorySchemaProvider::new());
    catalog
        .register_schema(RAW_SCHEMA, Arc::clone(&schema))
        .map_err(SourceError::Engine)?;
    Ok(schema)
}

/// Register every configured dataset (and empty stand-ins for unconfigured optional ones)
/// as `raw.<name>`.
pub async fn register_all(
    ctx: &SessionContext,
    sources: &SourcesConfig,
) -> Result<Vec<DatasetInfo>, SourceError> {
    let slack_days = sources.partition_slack_days;
    let text = &text_type(&ctx.state());
    // Footers are fetched concurrently across datasets: on object stores that is most of
    // the registration time.
    let registered: Vec<(String, Arc<dyn TableProvider>, DatasetInfo)> =
        futures::stream::iter(wanted(sources).into_iter().map(
            |(name, contract, location)| async move {
                let Some(location) = location else {
                    let info = DatasetInfo {
                        name: name.clone(),
                        url: None,
                        files: 0,
                        bytes: 0,
                        partition_columns: vec![],
                        absent_optional_columns: vec![],
                        inventory: Inventory::default(),
                        file_urls: vec![],
                    };
                    return Ok((name, empty(&contract, text)?, info));
                };
                let (table, info) = open(ctx, &name, &contract, location, slack_days).await?;
                Ok::<_, SourceError>((name, table, info))
            },
        ))
        .buffered(4)
        .try_collect()
        .await?;
    let schema = raw_schema(ctx)?;
    let mut infos = Vec::with_capacity(registered.len());
    for (name, table, info) in registered {
        schema
            .register_table(name, table)
            .map_err(SourceError::Engine)?;
        infos.push(info);
    }
    Ok(infos)
}

fn empty(contract: &Contract, text: &DataType) -> Result<Arc<dyn TableProvider>, SourceError> {
    let fields: Vec<Field> = contract
        .required
        .iter()
        .chain(contract.optional)
        .map(|(name, kind)| Field::new(*name, default_type(*kind, text), true))
        .collect();
    let table = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])
        .map_err(SourceError::Engine)?;
    Ok(Arc::new(table))
}

/// The string type the session's Parquet reader hands out: `Utf8View` in this process,
/// `Utf8` on a Ballista cluster (which turns string views off), so a stand-in column has the
/// type of the columns it sits beside.
fn text_type(state: &SessionState) -> DataType {
    if state
        .config()
        .options()
        .execution
        .parquet
        .schema_force_view_types
    {
        DataType::Utf8View
    } else {
        DataType::Utf8
    }
}

fn default_type(kind: Kind, text: &DataType) -> DataType {
    match kind {
        Kind::Text => text.clone(),
        Kind::Integer | Kind::Number => DataType::Int64,
        Kind::Boolean => DataType::Boolean,
        Kind::Timestamp => timestamp_type(),
    }
}

async fn open(
    ctx: &SessionContext,
    name: &str,
    contract: &Contract,
    location: &Location,
    slack_days: u32,
) -> Result<(Arc<dyn TableProvider>, DatasetInfo), SourceError> {
    let shown = location.configured.clone();
    let bad_url = |message: String| SourceError::BadUrl {
        dataset: name.to_string(),
        url: shown.clone(),
        message,
    };
    let table_url = ListingTableUrl::parse(&location.url).map_err(|e| bad_url(e.to_string()))?;
    let store = store_for(ctx, &table_url, location).map_err(bad_url)?;
    let files = list_parquet(name, &shown, &store, &table_url).await?;
    if files.is_empty() {
        return Err(SourceError::NotFound {
            dataset: name.to_string(),
            url: shown,
        });
    }
    let partitions = partition_layout(name, &shown, &table_url, &files)?;
    let shown_file = |meta: &ObjectMeta| show_file(&shown, &table_url, &meta.location);
    let extension = common_suffix(name, &files, &shown_file)?.to_string();
    check_date_partitions(name, &table_url, &files, &partitions, &shown_file)?;

    let state = ctx.state();
    let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
    let schemas = file_schemas(name, &state, &format, &store, &files, &shown_file).await?;
    let file_schema = merge(name, &schemas)?;
    let (file_schema, absent) =
        apply_contract(name, &shown, contract, file_schema, &text_type(&state))?;
    // After the dataset-wide check, which names a column no file has: this one names the
    // file that lacks a column the others have.
    check_each_file(name, contract, &schemas)?;

    let date_key = partitions
        .iter()
        .find(|k| DATE_PARTITION_KEYS.contains(&k.as_str()));
    let inventory = Inventory::of(&table_url, &files, date_key.map(String::as_str));
    let file_urls = files
        .iter()
        .map(|m| {
            let url = format!("{}{}", table_url.object_store().as_str(), m.location);
            (url, shown_file(m))
        })
        .collect::<Vec<_>>();
    let options = ListingOptions::new(Arc::new(format))
        .with_file_extension(extension)
        .with_table_partition_cols(
            partitions
                .iter()
                .map(|k| (k.clone(), DataType::Utf8))
                .collect(),
        );
    let table = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(file_schema);
    let time_partitioned = match (contract.time_column, date_key) {
        (Some(time_column), Some(key)) => Some((time_column, key.as_str(), slack_days)),
        _ => None,
    };
    let table = table_provider(table, time_partitioned)?;
    let info = DatasetInfo {
        file_urls,
        name: name.to_string(),
        url: Some(shown),
        files: files.len(),
        bytes: files.iter().map(|f| f.size).sum(),
        inventory,
        partition_columns: partitions,
        absent_optional_columns: absent,
    };
    Ok((table, info))
}

/// The listing table over a dataset's files; for a dataset with a time column and a date
/// partition, wrapped so a filter on the time column prunes partitions (give or take the
/// slack days).
fn table_provider(
    config: ListingTableConfig,
    time_partitioned: Option<(&str, &str, u32)>,
) -> Result<Arc<dyn TableProvider>, SourceError> {
    let listing: Arc<dyn TableProvider> =
        Arc::new(ListingTable::try_new(config).map_err(SourceError::Engine)?);
    Ok(match time_partitioned {
        Some((time_column, key, slack_days)) => Arc::new(TimePartitioned {
            inner: listing,
            time_column: time_column.to_string(),
            partition_column: key.to_string(),
            slack_days: i64::from(slack_days),
        }),
        None => listing,
    })
}

/// Each file's schema, read from its footer. One footer at a time per file, so a bad file is
/// named, and timestamps are normalised before merging so files written with different units
/// still form one table.
async fn file_schemas(
    name: &str,
    state: &SessionState,
    format: &ParquetFormat,
    store: &Arc<dyn ObjectStore>,
    files: &[ObjectMeta],
    shown_file: &(dyn Fn(&ObjectMeta) -> String + Sync),
) -> Result<Vec<(String, SchemaRef)>, SourceError> {
    futures::stream::iter(files.iter().map(|meta| async move {
        let schema = format
            .infer_schema(state, store, std::slice::from_ref(meta))
            .await
            .map_err(|e| SourceError::Unreadable {
                dataset: name.to_string(),
                file: shown_file(meta),
                message: e.to_string(),
            })?;
        Ok::<_, SourceError>((shown_file(meta), normalise(&schema)))
    }))
    .buffer_unordered(32)
    .try_collect::<Vec<_>>()
    .await
    .map(|mut schemas| {
        // In path order, whatever order the footers arrived in, so that a conflict names the
        // same file every run.
        schemas.sort_by(|a, b| a.0.cmp(&b.0));
        schemas
    })
}

/// The object store for a URL, registered in the session on first use.
pub(crate) fn store_for(
    ctx: &SessionContext,
    url: &ListingTableUrl,
    location: &Location,
) -> Result<Arc<dyn ObjectStore>, String> {
    let runtime = ctx.runtime_env();
    if let Ok(store) = runtime.object_store(url) {
        return Ok(store);
    }
    let parsed = url::Url::parse(&location.url).map_err(|e| e.to_string())?;
    let (store, _path) = object_store::parse_url_opts(
        &parsed,
        location
            .store_options
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone())),
    )
    .map_err(|e| e.to_string())?;
    let store: Arc<dyn ObjectStore> = Arc::from(store);
    let base = url::Url::parse(&format!("{}://{}", parsed.scheme(), parsed.authority()))
        .map_err(|e| e.to_string())?;
    runtime.register_object_store(&base, Arc::clone(&store));
    Ok(store)
}

async fn list_parquet(
    name: &str,
    shown: &str,
    store: &Arc<dyn ObjectStore>,
    url: &ListingTableUrl,
) -> Result<Vec<ObjectMeta>, SourceError> {
    let store_err = |message: String| SourceError::Store {
        dataset: name.to_string(),
        url: shown.to_string(),
        message,
    };
    if !url.is_collection() {
        return match store.head(url.prefix()).await {
            Ok(meta) => Ok(vec![meta]),
            Err(object_store::Error::NotFound { .. }) => Ok(vec![]),
            Err(e) => Err(store_err(e.to_string())),
        };
    }
    let mut files: Vec<ObjectMeta> = store
        .list(Some(url.prefix()))
        .map_err(|e| store_err(e.to_string()))
        .try_filter(|m| futures::future::ready(parquet_suffix(m.location.as_ref()).is_some()))
        .try_collect()
        .await?;
    files.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(files)
}

/// Compressions PostHog's batch exports name in a Parquet file's extension
/// (`events.parquet.zst`): the compression is inside the Parquet pages, so these files are
/// read as Parquet as they are (<https://posthog.com/docs/cdp/batch-exports/s3#compression>).
const PARQUET_COMPRESSION_SUFFIXES: &[&str] = &["zst", "zstd", "gz", "lz4", "br", "sz", "snappy"];

/// The Parquet extension a file name ends in (`.parquet`, or `.parquet.zst` and the like),
/// or `None` for a file that is not Parquet (`manifest.json`, `_SUCCESS`).
fn parquet_suffix(path: &str) -> Option<&str> {
    if path.ends_with(".parquet") {
        return Some(".parquet");
    }
    let (stem, ext) = path.rsplit_once('.')?;
    (stem.ends_with(".parquet") && PARQUET_COMPRESSION_SUFFIXES.contains(&ext))
        .then(|| &path[stem.len() - ".parquet".len()..])
}

/// The one Parquet extension all of a dataset's files share: the listing table reads files
/// by extension, so a dataset mixing `.parquet` and `.parquet.zst` would lose one kind.
fn common_suffix<'a>(
    name: &str,
    files: &'a [ObjectMeta],
    shown_file: &dyn Fn(&ObjectMeta) -> String,
) -> Result<&'a str, SourceError> {
    let first = parquet_suffix(files[0].location.as_ref()).unwrap_or(".parquet");
    match files
        .iter()
        .find(|m| parquet_suffix(m.location.as_ref()) != Some(first))
    {
        None => Ok(first),
        Some(other) => Err(SourceError::MixedExtensions {
            dataset: name.to_string(),
            file: shown_file(other),
            first: shown_file(&files[0]),
        }),
    }
}

/// The hive partition keys shared by every file, e.g. `["day", "hr"]`; an error names a file
/// that does not follow them.
fn partition_layout(
    name: &str,
    shown: &str,
    url: &ListingTableUrl,
    files: &[ObjectMeta],
) -> Result<Vec<String>, SourceError> {
    let keys_of = |meta: &ObjectMeta| -> Vec<String> {
        let segments: Vec<&str> = url
            .strip_prefix(&meta.location)
            .map(|s| s.collect())
            .unwrap_or_default();
        let dirs = segments.len().saturating_sub(1);
        segments[..dirs]
            .iter()
            .map(|s| match s.split_once('=') {
                Some((k, _)) => k.to_string(),
                None => String::new(),
            })
            .collect()
    };
    let first = keys_of(&files[0]);
    for meta in files {
        let keys = keys_of(meta);
        if keys != first || keys.iter().any(|k| k.is_empty()) {
            return Err(SourceError::Partition {
                dataset: name.to_string(),
                file: show_file(shown, url, &meta.location),
                layout: if first.is_empty() {
                    "<files directly in the dataset folder>".into()
                } else {
                    first.iter().map(|k| format!("{k}=…/")).collect()
                },
            });
        }
    }
    Ok(first)
}

/// Timestamps of any unit and zone become microseconds UTC; naive timestamps are taken as UTC.
fn normalise(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Timestamp(_, _) => f.as_ref().clone().with_data_type(timestamp_type()),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn merge(name: &str, schemas: &[(String, SchemaRef)]) -> Result<SchemaRef, SourceError> {
    let mut merged: Vec<Field> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (file, schema) in schemas {
        for field in schema.fields() {
            match index.get(field.name()) {
                None => {
                    index.insert(field.name().clone(), merged.len());
                    merged.push(field.as_ref().clone().with_nullable(true));
                }
                Some(&i) => {
                    let existing = merged[i].data_type();
                    if !compatible(existing, field.data_type()) {
                        return Err(SourceError::ConflictingTypes {
                            dataset: name.to_string(),
                            column: field.name().clone(),
                            file: file.clone(),
                            a: existing.clone(),
                            b: field.data_type().clone(),
                        });
                    }
                    if *existing == DataType::Null {
                        merged[i] = field.as_ref().clone().with_nullable(true);
                    }
                }
            }
        }
    }
    Ok(Arc::new(Schema::new(merged)))
}

fn compatible(a: &DataType, b: &DataType) -> bool {
    a == b
        || *a == DataType::Null
        || *b == DataType::Null
        || [Kind::Text, Kind::Integer]
            .iter()
            .any(|k| k.accepts(a) && k.accepts(b))
}

/// Check required and optional columns; append absent optional ones (they read as null).
fn apply_contract(
    name: &str,
    url: &str,
    contract: &Contract,
    schema: SchemaRef,
    text: &DataType,
) -> Result<(SchemaRef, Vec<String>), SourceError> {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut absent = Vec::new();
    for (required, (column, kind)) in contract
        .required
        .iter()
        .map(|c| (true, c))
        .chain(contract.optional.iter().map(|c| (false, c)))
    {
        match schema.field_with_name(column) {
            Ok(field) if kind.accepts(field.data_type()) => {}
            Ok(field) => {
                return Err(SourceError::WrongType {
                    dataset: name.to_string(),
                    url: url.to_string(),
                    column: column.to_string(),
                    found: field.data_type().clone(),
                    expected: kind.describe(),
                });
            }
            Err(_) if required => {
                return Err(SourceError::MissingColumn {
                    dataset: name.to_string(),
                    url: url.to_string(),
                    column: column.to_string(),
                    expected: kind.describe(),
                });
            }
            Err(_) => {
                absent.push(column.to_string());
                fields.push(Field::new(*column, default_type(*kind, text), true));
            }
        }
    }
    Ok((Arc::new(Schema::new(fields)), absent))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::TimeUnit;

    use super::*;

    #[test]
    fn parquet_files_are_known_by_extension_with_or_without_a_compression_suffix() {
        for (path, suffix) in [
            ("events/day=2026-11-20/a.parquet", Some(".parquet")),
            (
                "events/2026-11-20_events/a.parquet.zst",
                Some(".parquet.zst"),
            ),
            ("x.parquet.lz4", Some(".parquet.lz4")),
            ("x.parquet.gz", Some(".parquet.gz")),
            ("events/manifest.json", None),
            ("x.parquet.json", None),
            ("x.zst", None),
            ("parquet", None),
            ("_SUCCESS", None),
        ] {
            assert_eq!(parquet_suffix(path), suffix, "{path}");
        }
    }

    #[test]
    fn timestamps_of_any_unit_and_zone_normalise_to_micros_utc() {
        let schema = Schema::new(vec![
            Field::new("a", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
            Field::new(
                "b",
                DataType::Timestamp(TimeUnit::Millisecond, Some("+02:00".into())),
                true,
            ),
            Field::new("c", DataType::Utf8, true),
        ]);
        let n = normalise(&schema);
        assert_eq!(n.field(0).data_type(), &timestamp_type());
        assert_eq!(n.field(1).data_type(), &timestamp_type());
        assert_eq!(n.field(2).data_type(), &DataType::Utf8);
    }

    #[test]
    fn merge_names_the_conflicting_file() {
        let a: SchemaRef = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true)]));
        let b: SchemaRef = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let err = merge("tracks", &[("f1".into(), a), ("f2".into(), b)]).unwrap_err();
        assert!(err.to_string().contains("f2"), "{err}");
        assert!(err.to_string().contains("`id`"), "{err}");
    }
}
