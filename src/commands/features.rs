//! `pqlsync features`: `account_features` as the analyst SQL computes it, written to a file
//! (`--out`, default `out/account_features.parquet`) for inspection or other tools; with
//! `--view`, any other view of the project the same way (`user_features`, a staging view), the
//! way an analyst runs one dbt model to look at its rows.

use std::time::Instant;

use futures::StreamExt;

use super::Error;
use super::pipeline::{Prepared, log_plan, spinner, sum_column};
use crate::cli::FeaturesArgs;
use crate::config::{Config, RunOptions};
use crate::summary::Summary;
use pqlsync_core::fmt::thousands;
use pqlsync_sql::features::{self, FINAL_VIEW, FeatureError};
use pqlsync_sql::output::AtomicWriter;

/// `pqlsync features`: write `account_features` (or `--view`) to a file.
pub async fn features(
    config: &Config,
    run: &RunOptions,
    args: &FeaturesArgs,
) -> Result<Summary, Error> {
    if let Some(view) = args.view.as_deref().filter(|v| *v != FINAL_VIEW) {
        return one_view(config, run, view).await;
    }
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

/// `features --view VIEW`: any view but `account_features`, written as it is. Only the run
/// summary's engine figures and the rows written are reported: data-quality counts are about
/// `account_features`.
async fn one_view(config: &Config, run: &RunOptions, view: &str) -> Result<Summary, Error> {
    let started = Instant::now();
    let out = run
        .out
        .clone()
        .unwrap_or_else(|| config.output_dir.join(format!("{view}.parquet")));
    let engine = Prepared::new(config, run).await?;
    if !engine
        .ctx
        .table_exist(view)
        .map_err(FeatureError::execution(view))?
    {
        return Err(Error::Usage(format!(
            "--view {view}: no such view in {} (a view is named after its file, e.g. \
             features/user_features.sql is `user_features`; reports are computed by `pqlsync report`)",
            config.sql_dir.display()
        )));
    }
    let bar = spinner(run, &format!("computing {view}"));
    let df = engine
        .ctx
        .table(view)
        .await
        .map_err(FeatureError::execution(view))?;
    let features::Running { plan, mut stream } = features::stream(df).await?;
    let mut writer = AtomicWriter::create(&out, stream.schema())?;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = match batch.map_err(FeatureError::execution(view)) {
            Ok(batch) => batch,
            Err(e) => return Err(engine.blame_file(e.into()).await),
        };
        writer.write(&batch)?;
        rows += batch.num_rows();
    }
    writer.finish()?;
    bar.finish_and_clear();
    crate::logging::stage!(run.stages, "features", view = view, rows = rows, out = %out.display(), "computed the view");
    log_plan(view, &plan);
    let mut summary = Summary::new("features", Some(run.as_of));
    summary.view = Some(crate::summary::ViewRows {
        view: view.to_string(),
        rows,
    });
    summary.engine = engine.report(config, &plan);
    summary.sources = engine.sources.clone();
    summary.outputs.push(out.display().to_string());
    summary.stages = run.stages.seconds();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}
