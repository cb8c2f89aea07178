//! `pqlsync features`: `account_features` as the analyst SQL computes it, written to a file
//! (`--out`, default `out/account_features.parquet`) for inspection or other tools.

use std::time::Instant;

use futures::StreamExt;

use super::Error;
use super::pipeline::{Prepared, log_plan, spinner, sum_column};
use crate::config::{Config, RunOptions};
use crate::summary::Summary;
use pqlsync_core::fmt::thousands;
use pqlsync_sql::features::{self, FINAL_VIEW, FeatureError};
use pqlsync_sql::output::AtomicWriter;

/// `pqlsync features`: write `account_features` to a file.
pub async fn features(config: &Config, run: &RunOptions) -> Result<Summary, Error> {
    let started = Instant::now();
    let out = run
        .out
        .clone()
        .unwrap_or_else(|| config.output_dir.join("account_features.parquet"));
    let engine = Prepared::new(config, run).await?;
    let bar = spinner(run, "computing account_features");
    let df = features::account_features(&engine.ctx).await?;
    // The executed stream's schema, not the logical one: physical types may differ
    // (e.g. Utf8View for Utf8) and the writer must match the batches.
    let features::Running { plan, mut stream } = features::stream(df).await?;
    let mut writer = AtomicWriter::create(&out, stream.schema())?;
    let mut summary = Summary::new("features", Some(run.as_of));
    let mut duplicates = 0;
    while let Some(batch) = stream.next().await {
        let batch = match batch.map_err(FeatureError::execution(FINAL_VIEW)) {
            Ok(batch) => batch,
            Err(e) => return Err(engine.blame_file(e.into()).await),
        };
        duplicates += sum_column(&batch, "duplicate_events_14d");
        writer.write(&batch)?;
        summary.accounts += batch.num_rows();
        bar.set_message(format!(
            "computing account_features: {} accounts",
            thousands(summary.accounts as i64)
        ));
    }
    writer.finish()?;
    bar.finish_and_clear();
    crate::logging::stage!(
        run.stages,
        "features",
        accounts = summary.accounts,
        out = %out.display(),
        "computed account_features"
    );
    log_plan(FINAL_VIEW, &plan);
    let mut summary = engine
        .complete(config, summary, &plan, duplicates, Some(&out), started)
        .await?;
    summary.stages = run.stages.seconds();
    Ok(summary)
}
