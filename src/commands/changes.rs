//! `pqlsync changes [--run ID | --last] [--account ID] [--object TYPE] [--out FILE]`: what
//! sync runs wrote to HubSpot, read from the change log in the state location. Without a run,
//! account or object it lists the runs kept; otherwise their entries, grouped by run and
//! record, each property with its value before and after.

use std::collections::BTreeMap;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

use super::{Error, Report};
use crate::cli::ChangesArgs;
use crate::config::{Config, RunOptions};
use pqlsync_core::fmt::thousands;
use pqlsync_hubspot::ObjectType;
use pqlsync_sql::changes::{self, Filter, Row, RunRecord};
use pqlsync_sql::features::FeatureError;
use pqlsync_sql::output::AtomicWriter;
use pqlsync_sql::store::Store;

const TEMPLATE: &str = include_str!("templates/changes.txt");

/// What `changes` found: the runs kept, or the entries selected.
#[derive(Debug, serde::Serialize)]
pub struct Listing {
    pub runs: Vec<RunRecord>,
    pub entries: Vec<Row>,
    pub out: Option<String>,
    #[serde(skip)]
    text: String,
}

impl Report for Listing {
    fn always_print(&self) -> bool {
        true
    }
}

impl std::fmt::Display for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)?;
        if let Some(out) = &self.out {
            writeln!(
                f,
                "wrote {} entries to {out}",
                thousands(self.entries.len() as i64)
            )?;
        }
        Ok(())
    }
}

/// `pqlsync changes`.
pub async fn changes(
    config: &Config,
    run: &RunOptions,
    args: &ChangesArgs,
) -> Result<Listing, Error> {
    if let Some(object) = &args.object
        && object != "associations"
        && ObjectType::parse(object).is_none()
    {
        return Err(Error::Usage(format!(
            "--object {object}: not an object type pqlsync writes; give one of companies, \
             contacts, deals, leads, tasks or associations"
        )));
    }
    let store = state_store(config)?;
    let ids = match &store {
        Some(store) => changes::run_ids(store).await?,
        None => Vec::new(),
    };
    let run_id = chosen_run(args, &ids, &config.state.configured)?;
    let mut records = BTreeMap::new();
    if let Some(store) = &store {
        for id in ids.iter().rev() {
            if let Some(r) = changes::read_record(store, id).await? {
                records.insert(id.clone(), r);
            }
        }
    }
    let filter = Filter {
        run: run_id,
        account: args.account.clone(),
        object: args.object.clone(),
    };
    let listing_runs = filter.run.is_none() && filter.account.is_none() && filter.object.is_none();
    let batches = if listing_runs {
        Vec::new()
    } else {
        selected(config, &filter).await?
    };
    let entries = changes::rows(&batches).map_err(FeatureError::execution("sync.changes"))?;
    let out = match &run.out {
        Some(path) if !listing_runs => {
            write_out(&batches, path)?;
            Some(path.display().to_string())
        }
        _ => None,
    };
    let mut runs: Vec<RunRecord> = if listing_runs {
        ids.iter()
            .rev()
            .filter_map(|id| records.get(id).cloned())
            .collect()
    } else {
        Vec::new()
    };
    // Newest first; ids order runs to the second, their records to the microsecond.
    runs.sort_by_key(|r| std::cmp::Reverse(r.started_at));
    let text = render(config, &filter, &runs, &entries, &records, args.limit);
    Ok(Listing {
        runs,
        entries,
        out,
        text,
    })
}

/// The state location's store, or `None` when a local one does not exist yet (no run has
/// kept anything; opening it would create it).
pub(super) fn state_store(config: &Config) -> Result<Option<Store>, Error> {
    let url = &config.state.url;
    if !url.contains("://") && !std::path::Path::new(url).exists() {
        return Ok(None);
    }
    Ok(Some(Store::open(&config.state)?))
}

/// The run `--run` or `--last` names, checked against the runs kept.
fn chosen_run(args: &ChangesArgs, ids: &[String], state: &str) -> Result<Option<String>, Error> {
    if args.last {
        return match ids.last() {
            Some(id) => Ok(Some(id.clone())),
            None => Err(Error::NotFound(format!(
                "--last: no run has a change log in {state} yet (`pqlsync run` writes one)"
            ))),
        };
    }
    match &args.run {
        Some(id) if !ids.contains(id) => Err(Error::NotFound(unknown_run(id, ids, state))),
        other => Ok(other.clone()),
    }
}

/// Why a run id is not found: never logged, or its log has expired.
pub fn unknown_run(id: &str, ids: &[String], state: &str) -> String {
    let expired = match (changes::started_at(id), ids.first()) {
        (Some(t), Some(oldest)) => changes::started_at(oldest).is_some_and(|o| t < o),
        (Some(_), None) => true,
        (None, _) => false,
    };
    if expired {
        format!(
            "run {id}: its change log is no longer kept in {state} (removed after [changes] \
             retention_days); `pqlsync changes` lists the runs kept"
        )
    } else {
        format!("run {id} has no change log in {state}; `pqlsync changes` lists the runs kept")
    }
}

pub(super) async fn session(config: &Config) -> Result<SessionContext, Error> {
    let ctx = SessionContext::new();
    changes::register(&ctx, &config.state)
        .await
        .map_err(FeatureError::execution("sync.changes"))?;
    Ok(ctx)
}

/// The entries `filter` selects, as Arrow batches of [`changes::schema`].
pub(super) async fn selected(config: &Config, filter: &Filter) -> Result<Vec<RecordBatch>, Error> {
    let ctx = session(config).await?;
    let err = FeatureError::execution("sync.changes");
    let df = changes::select(&ctx, filter).await.map_err(&err)?;
    Ok(df.collect().await.map_err(err)?)
}

/// `batches` to `path` (.csv or .parquet), written whole or not at all.
fn write_out(batches: &[RecordBatch], path: &std::path::Path) -> Result<(), Error> {
    let mut writer = AtomicWriter::create(path, changes::schema())?;
    for b in batches {
        writer.write(b)?;
    }
    writer.finish()?;
    Ok(())
}

/// One entry as the listing shows it.
#[derive(serde::Serialize)]
struct Shown {
    operation: String,
    what: String,
}

fn shown(e: &Row) -> Shown {
    let value = |v: &Option<String>| match v {
        Some(v) => format!("{v:?}"),
        None => "(none)".into(),
    };
    let property = e.property.clone().unwrap_or_default();
    let what = match e.operation.as_str() {
        "failed" => format!(
            "{property}: {} {} {}",
            e.status.map(|s| s.to_string()).unwrap_or_default(),
            e.category.clone().unwrap_or_default(),
            e.message.clone().unwrap_or_default()
        ),
        "associate" => format!("{property} → {}", e.new.clone().unwrap_or_default()),
        "create" => format!("{property} = {}", value(&e.new)),
        _ => format!("{property}: {} → {}", value(&e.previous), value(&e.new)),
    };
    Shown {
        operation: if e.operation == "failed" {
            "FAILED".into()
        } else {
            e.operation.clone()
        },
        what,
    }
}

/// A run's record as the listing shows it.
fn run_view(r: &RunRecord) -> serde_json::Value {
    let ended = match (&r.finished_at, &r.stopped) {
        (_, Some(why)) => format!("stopped: {why}"),
        (Some(t), None) => format!("finished {}", t.format("%Y-%m-%d %H:%M:%S UTC")),
        (None, None) => "did not finish (killed, or still running)".into(),
    };
    serde_json::json!({
        "run_id": r.run_id, "command": r.command, "as_of": r.as_of.to_string(),
        "entries": thousands(r.entries as i64), "ended": ended, "mode": r.mode,
        "reverts": r.reverts, "reverted_by": r.reverted_by,
    })
}

fn render(
    config: &Config,
    filter: &Filter,
    runs: &[RunRecord],
    entries: &[Row],
    records: &BTreeMap<String, RunRecord>,
    limit: usize,
) -> String {
    let mut grouped: Vec<serde_json::Value> = Vec::new();
    let mut last: Option<(&str, &str, &str)> = None;
    for e in entries.iter().take(limit) {
        if grouped
            .last()
            .is_none_or(|g| g["run_id"] != e.run_id.as_str())
        {
            grouped.push(serde_json::json!({
                "run_id": e.run_id,
                "record": records.get(&e.run_id).map(run_view),
                "records": [],
            }));
            last = None;
        }
        let run = grouped.last_mut().expect("pushed above");
        let records = run["records"].as_array_mut().expect("an array");
        let this = (e.run_id.as_str(), e.object.as_str(), e.key.as_str());
        if last != Some(this) {
            records.push(serde_json::json!({
                "object": e.object, "key": e.key, "hubspot_id": e.hubspot_id,
                "account_id": e.account_id, "entries": [],
            }));
            last = Some(this);
        }
        let record = records.last_mut().expect("pushed above");
        let list = record["entries"].as_array_mut().expect("an array");
        list.push(serde_json::to_value(shown(e)).expect("plain data"));
    }
    let filtered = [
        filter.run.as_ref().map(|r| format!("run {r}")),
        filter.account.as_ref().map(|a| format!("account {a}")),
        filter.object.as_ref().map(|o| format!("object {o}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let page = serde_json::json!({
        "runs": runs.iter().map(run_view).collect::<Vec<_>>(),
        "entries": grouped,
        "hidden": thousands(entries.len().saturating_sub(limit) as i64),
        "location": config.state.configured,
        "filtered": filtered,
    });
    pqlsync_sql::report::html::render_page(&[("changes.txt", TEMPLATE)], "changes.txt", &page)
}
