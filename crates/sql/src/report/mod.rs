//! The cohort and funnel report: runs the analyst-owned `sql/reports/*.sql` over the score
//! history and the feature views, and writes each report table as CSV and/or Parquet plus one
//! self-contained HTML page.
//!
//! Each report file is one table, named after the file. A report may read another; each is
//! executed once, in dependency order, and its result replaces its view, so shared work (e.g.
//! `trial_outcomes`) is not recomputed by every table that counts it. A file's leading `--`
//! comment block is its definitions: written at the top of the CSV, into the Parquet file's
//! metadata and above the table in HTML, so the definitions travel with the figures.

pub mod config;
pub mod crm;
pub mod html;

pub use config::{ReportConfig, ReportFile};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::csv;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::memory::MemTable;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::{DataFrame, SessionContext};
use pqlsync_core::atomic::AtomicFile;

use crate::features::plan_query;
use crate::features::{Params, View};

/// The report table model health reads (each trial's score on its day K), and the one
/// pqlsync computes from it (`commands::health`).
pub const SCORED_TRIALS: &str = "scored_trials";
pub const MODEL_HEALTH: &str = "model_health";

/// Errors computing or writing the report; each names the SQL file or output file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: {message}", file.display())]
    Sql { file: PathBuf, message: String },
    #[error(
        "no report SQL in {}: add one .sql file per report table (see README \"Reports\")",
        dir.display()
    )]
    NoReports { dir: PathBuf },
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

/// Which files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub csv: bool,
    pub parquet: bool,
    pub html: bool,
}

/// One computed report table.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    /// The SQL file's leading comment block, without the `--` markers.
    pub definitions: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// The leading `--` comment lines of a SQL file, markers stripped.
pub fn definitions(sql: &str) -> String {
    let mut lines = Vec::new();
    for line in sql.lines() {
        let trimmed = line.trim_start();
        match trimmed.strip_prefix("--") {
            Some(rest) => lines.push(rest.strip_prefix(' ').unwrap_or(rest).trim_end()),
            None if trimmed.is_empty() && lines.is_empty() => {}
            None => break,
        }
    }
    lines.join("\n")
}

/// Execute every report view in order, each over the materialised results of those before it.
pub async fn compute(
    ctx: &SessionContext,
    views: &[View],
    params: &Params,
    dir: &Path,
) -> Result<Vec<Table>, ReportError> {
    if views.is_empty() {
        return Err(ReportError::NoReports {
            dir: dir.to_path_buf(),
        });
    }
    let bound = params.bound();
    let mut tables = Vec::with_capacity(views.len());
    for view in views {
        let sql_err = |message: String| ReportError::Sql {
            file: view.path.clone(),
            message,
        };
        let state = ctx.state();
        let plan = plan_query(&state, &view.statement, &bound)
            .await
            .map_err(|e| sql_err(e.to_string()))?;
        let df = DataFrame::new(state, plan);
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(|e| sql_err(e.to_string()))?;
        let schema = batches.first().map_or(schema, RecordBatch::schema);
        let table = MemTable::try_new(Arc::clone(&schema), vec![batches.clone()])
            .map_err(|e| sql_err(e.to_string()))?;
        ctx.deregister_table(view.name.as_str())
            .map_err(|e| sql_err(e.to_string()))?;
        ctx.register_table(view.name.as_str(), Arc::new(table))
            .map_err(|e| sql_err(e.to_string()))?;
        tables.push(Table {
            name: view.name.clone(),
            definitions: definitions(&view.sql),
            schema,
            batches,
        });
    }
    Ok(tables)
}

/// What the report wrote.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub files: Vec<PathBuf>,
}

/// The page's facts besides the tables.
#[derive(Debug, Clone)]
pub struct Context {
    pub as_of: chrono::NaiveDate,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    pub history_days: usize,
    pub history_first: Option<chrono::NaiveDate>,
    pub history_url: String,
    /// How model health judged the months, for the page's words.
    pub health: HealthNote,
}

/// Model health's definitions, as the page explains them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthNote {
    pub at_day: u32,
    pub horizon: u32,
    pub psi_limit: f64,
    /// The baseline AUC is the calibration's holdout AUC (else the first judged month's).
    pub calibrated_auc: bool,
    /// PSI's reference is the calibration's training trials (else the first month).
    pub calibrated_reference: bool,
}

/// Write `tables` into `dir` in the chosen formats. Each file is written to a temporary file
/// and renamed into place.
pub fn write(
    dir: &Path,
    tables: &[Table],
    formats: Formats,
    context: &Context,
) -> Result<Written, ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::Write {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut written = Written::default();
    for table in tables {
        if formats.csv {
            let path = dir.join(format!("{}.csv", table.name));
            publish(&path, |file| write_csv(file, table))?;
            written.files.push(path);
        }
        if formats.parquet {
            let path = dir.join(format!("{}.parquet", table.name));
            publish(&path, |file| write_parquet(file, table, context))?;
            written.files.push(path);
        }
    }
    if formats.html {
        let path = dir.join("report.html");
        let page = html::render(tables, context);
        publish(&path, |file| {
            file.write_all(page.as_bytes()).map_err(|e| e.to_string())
        })?;
        written.files.push(path);
    }
    Ok(written)
}

fn publish(
    path: &Path,
    body: impl FnOnce(&mut std::fs::File) -> Result<(), String>,
) -> Result<(), ReportError> {
    let err = |message: String| ReportError::Write {
        path: path.to_path_buf(),
        message,
    };
    let mut file = AtomicFile::create(path).map_err(|e| err(e.to_string()))?;
    body(file.file()).map_err(err)?;
    file.commit().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// CSV with the definitions as `# ` lines first (read it with `comment='#'` in pandas or
/// DuckDB), then a header row.
fn write_csv(file: &mut std::fs::File, table: &Table) -> Result<(), String> {
    let mut out = std::io::BufWriter::new(file);
    for line in table.definitions.lines() {
        writeln!(out, "# {line}").map_err(|e| e.to_string())?;
    }
    let mut writer = csv::WriterBuilder::new()
        .with_header(true)
        .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%SZ".to_string())
        .build(&mut out);
    if table.batches.is_empty() {
        writer
            .write(&RecordBatch::new_empty(Arc::clone(&table.schema)))
            .map_err(|e| e.to_string())?;
    }
    for batch in &table.batches {
        writer.write(batch).map_err(|e| e.to_string())?;
    }
    drop(writer);
    out.flush().map_err(|e| e.to_string())
}

fn write_parquet(file: &mut std::fs::File, table: &Table, context: &Context) -> Result<(), String> {
    let meta = |k: &str, v: String| KeyValue::new(k.to_string(), v);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_key_value_metadata(Some(vec![
            meta("pqlsync.report", table.name.clone()),
            meta("pqlsync.definitions", table.definitions.clone()),
            meta("pqlsync.as_of", context.as_of.to_string()),
            meta(
                "pqlsync.cohort_range",
                format!("{}..{}", context.from, context.to),
            ),
        ]))
        .build();
    let mut writer = ArrowWriter::try_new(file, Arc::clone(&table.schema), Some(props))
        .map_err(|e| e.to_string())?;
    for batch in &table.batches {
        writer.write(batch).map_err(|e| e.to_string())?;
    }
    writer.close().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_the_leading_comment_block() {
        let sql = "\n-- cohorts: one row per week.\n--   indented\n--\n-- last\nSELECT 1 -- not this\n-- nor this\n";
        assert_eq!(
            definitions(sql),
            "cohorts: one row per week.\n  indented\n\nlast"
        );
        assert_eq!(definitions("SELECT 1"), "");
    }
}
