//! `pqlsync revert --run ID [--dry-run] [--archive-created-tasks]`: undo a run after a bad
//! night. The run's change log says what it wrote; HubSpot is read now, by id, and every
//! record that still holds all the run wrote on it is set back to the values it held before,
//! through the sync's batched, rate-limited driver, with the revert's own run id and change
//! log. A record someone changed since is left whole and listed; records the run created stay
//! (untouched tasks are archived on request). Reverting the latest run also puts back the
//! routing memory as the run found it, so the next run routes from before it. The revert
//! holds the state's lock, as `run` does.

use std::collections::BTreeMap;

use datafusion::arrow::array::AsArray;
use datafusion::prelude::{col, lit};

use super::changes::{selected, session, unknown_run};
use super::decide::{ROUTING_BEFORE, ROUTING_COPIES};
use super::hubspot::{client, close_log, counters, journal_mode, portal_state};
use super::{Error, Report};
use crate::cli::RevertArgs;
use crate::config::{Config, RunOptions};
use pqlsync_core::fmt::thousands;
use pqlsync_hubspot::Client;
use pqlsync_rules::state::RoutingState;
use pqlsync_sql::changes::{self, Filter, ParquetJournal, RunRecord};
use pqlsync_sql::features::FeatureError;
use pqlsync_sql::store::Store;
use pqlsync_sync::revert::RevertPlan;
use pqlsync_sync::undo::{self, Undo};
use pqlsync_sync::{Entry, Journal, SyncReport};

const TEMPLATE: &str = include_str!("templates/revert.txt");

/// What a revert did, or (`--dry-run`) would do.
#[derive(Debug, serde::Serialize)]
pub struct Reverted {
    /// The run undone.
    pub reverts: String,
    /// This revert's own run id (its change log), unless a dry run.
    pub run_id: Option<String>,
    pub dry_run: bool,
    /// Records set back (to be set back): object, key, HubSpot id, and property → (what the
    /// run wrote, the value before it).
    pub restored: Vec<RecordChange>,
    /// Records left because something changed on them since the run.
    pub skipped: Vec<RecordChange>,
    /// Records already holding their values from before the run.
    pub already_back: usize,
    /// Records the run created, by object type: how many, how many nobody touched since, how
    /// many this revert archived.
    pub created: BTreeMap<String, CreatedCounts>,
    /// What happened to the routing memory.
    pub routing: String,
    /// Runs after the reverted one, oldest first.
    pub later_runs: Vec<String>,
    pub sync: SyncReport,
    /// The signal that stopped the revert at a safe point, if one did.
    pub interrupted: Option<String>,
    #[serde(skip)]
    text: String,
}

/// One record of a revert's plan.
#[derive(Debug, serde::Serialize)]
pub struct RecordChange {
    pub object: String,
    pub key: String,
    pub hubspot_id: Option<String>,
    pub account_id: Option<String>,
    pub properties: Vec<PropertyChange>,
    /// Skipped records: the later run that changed them, when one did (else a person or a
    /// workflow in HubSpot).
    pub changed_by: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct PropertyChange {
    pub property: String,
    /// What the run wrote.
    pub wrote: String,
    /// Restored: the value written back. Skipped: what HubSpot holds now (`None`: the record
    /// is gone).
    pub value: Option<String>,
    /// Skipped: this property is one that changed since the run.
    pub changed: bool,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct CreatedCounts {
    pub created: usize,
    pub untouched: usize,
    pub archived: usize,
}

impl Report for Reverted {
    fn failed_records(&self) -> usize {
        self.sync.failed() + usize::from(self.sync.stopped.is_some())
    }

    fn always_print(&self) -> bool {
        true
    }

    fn verdict(&self) -> Result<(), Error> {
        if let Some(reason) = &self.interrupted {
            return Err(Error::Interrupted(format!(
                "{reason}: what was set back is saved and logged; run the revert again to \
                 finish it"
            )));
        }
        if self.sync.stopped_for_credentials {
            return Err(Error::Credentials(format!(
                "{}; what was set back is saved and logged: run the revert again to finish it",
                self.sync
                    .stopped
                    .as_deref()
                    .unwrap_or("HubSpot refused the token")
            )));
        }
        Ok(())
    }
}

impl std::fmt::Display for Reverted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// `pqlsync revert`.
pub async fn revert(
    config: &Config,
    run: &RunOptions,
    args: &RevertArgs,
) -> Result<Reverted, Error> {
    let held = super::run::locked(config, run, "revert", args.wait).await?;
    let result = revert_locked(config, run, args).await;
    held.release().await;
    result
}

/// The run to revert and the runs after it, checked: its log is kept, it wrote to this
/// config's portal, and it was not reverted already.
struct Target {
    record: RunRecord,
    later: Vec<String>,
    base_url: String,
    client: Client,
}

async fn target(
    config: &Config,
    run: &RunOptions,
    store: &Store,
    id: &str,
) -> Result<Target, Error> {
    let state = &config.state.configured;
    let ids = changes::run_ids(store).await?;
    if !ids.iter().any(|i| i == id) {
        return Err(Error::NotFound(unknown_run(id, &ids, state)));
    }
    let Some(record) = changes::read_record(store, id).await? else {
        return Err(Error::NotFound(format!(
            "run {id} has change-log entries in {state} but no run.json saying where it wrote; \
             revert its records by hand (`pqlsync changes --run {id}` lists them)"
        )));
    };
    if let Some(by) = &record.reverted_by {
        return Err(Error::Usage(format!(
            "run {id} was already reverted, by {by}; `pqlsync changes --run {by}` lists what \
             that revert set back"
        )));
    }
    if let Some(of) = &record.reverts {
        return Err(Error::Usage(format!(
            "run {id} is itself the revert of {of}: a revert is not undone by another; run \
             `pqlsync run` to write what today's decisions call for"
        )));
    }
    if record.mode == "offline" {
        return Err(Error::Usage(format!(
            "run {id} ran offline (requests recorded to files, nothing written to HubSpot): \
             there is nothing in HubSpot to revert"
        )));
    }
    let Some(client) = client(config, &run.halt)? else {
        return Err(Error::NoPortal);
    };
    let base_url = journal_mode(&config.hubspot.target);
    if record.mode != base_url {
        return Err(Error::Usage(format!(
            "run {id} wrote to {}, and this config's portal is {base_url}: revert it with the \
             config (and token) it ran with",
            record.mode
        )));
    }
    let later = later_runs(store, &record, &ids).await?;
    Ok(Target {
        record,
        later,
        base_url,
        client,
    })
}

/// The runs after `id` whose decisions stand: not reverts, and not reverted (a run reverted
/// newest first had its memory put back; one reverted out of order is undone by putting back
/// the memory `id` found, which is older still). Oldest first. Ids say when a run started to
/// the second, so one started in the same second counts as later: a run that may have
/// routed from `id`'s memory is never overlooked.
async fn later_runs(store: &Store, of: &RunRecord, ids: &[String]) -> Result<Vec<String>, Error> {
    let second = changes::started_at(&of.run_id);
    let mut later = Vec::new();
    for other in ids.iter().filter(|i| **i != of.run_id) {
        if changes::started_at(other) < second {
            continue;
        }
        let record = changes::read_record(store, other).await?;
        // Within one second, the records' times (to the microsecond) say which came first.
        let before = record
            .as_ref()
            .is_some_and(|r| r.started_at < of.started_at);
        let stands = record.is_none_or(|r| r.reverts.is_none() && r.reverted_by.is_none());
        if stands && !before {
            later.push(other.clone());
        }
    }
    Ok(later)
}

/// Run `id`'s change log, as the sync logged it.
async fn entries(config: &Config, id: &str) -> Result<Vec<Entry>, Error> {
    let filter = Filter {
        run: Some(id.to_string()),
        ..Filter::default()
    };
    let batches = selected(config, &filter).await?;
    let rows = changes::rows(&batches).map_err(FeatureError::execution("sync.changes"))?;
    rows.iter()
        .map(|r| r.entry())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::Usage(format!(
                "the change log in {} cannot be read for a revert: {e}",
                config.state.configured
            ))
        })
}

async fn revert_locked(
    config: &Config,
    run: &RunOptions,
    args: &RevertArgs,
) -> Result<Reverted, Error> {
    let store = Store::open(&config.state)?;
    let target = target(config, run, &store, &args.run).await?;
    let entries = entries(config, &args.run).await?;
    let (mut state, _) = portal_state(&store, &target.base_url).await?;
    let journal = match args.dry_run || !config.changes.enabled {
        true => None,
        false => Some(open_journal(run, &store, &target.record).await?),
    };
    let undo = Undo {
        concurrency: config.hubspot.max_concurrency,
        halt: run.halt.clone(),
        dry_run: args.dry_run,
        archive_created_tasks: args.archive_created_tasks,
    };
    // A dry run saves nothing: no state, no log.
    let files = (!args.dry_run).then_some(&store as &dyn pqlsync_core::files::Files);
    let log = journal.as_ref().map(|j| j as &dyn Journal);
    let result = undo::revert(&target.client, &entries, &mut state, (files, log), &undo).await;
    let (plan, mut report) = close_journal(run, journal.as_ref(), &target.record, result).await?;
    counters(&mut report, &target.client.counters);
    report.mode = format!(
        "{} {} (API {})",
        if args.dry_run {
            "plan against"
        } else {
            "reverted in"
        },
        target.base_url,
        config.hubspot.api_version
    );
    let complete = !args.dry_run && report.stopped.is_none() && report.failed() == 0;
    let routing = routing(&store, &target, args.dry_run, complete).await?;
    if complete {
        let mut record = target.record.clone();
        record.reverted_by = Some(run.run_id.clone());
        changes::write_record(&store, &record).await?;
    }
    let changed_by = later_writes(config, &target.later, &plan).await?;
    let mut out = reverted(args, &target, plan, report, routing, &changed_by);
    out.interrupted = run.halt.reason();
    Ok(out)
}

/// The revert's own change log, its `run.json` saying which run it reverts.
async fn open_journal(
    run: &RunOptions,
    store: &Store,
    of: &RunRecord,
) -> Result<ParquetJournal, Error> {
    let journal = ParquetJournal::new(store.clone(), &run.run_id);
    journal.describe(&revert_record(run, of, None)).await?;
    Ok(journal)
}

fn revert_record(run: &RunOptions, of: &RunRecord, report: Option<&SyncReport>) -> RunRecord {
    RunRecord {
        run_id: run.run_id.clone(),
        command: "revert".into(),
        as_of: of.as_of,
        started_at: run.started_at,
        finished_at: report.map(|_| chrono::Utc::now()),
        mode: of.mode.clone(),
        entries: 0,
        stopped: report.and_then(|r| r.stopped.clone()),
        reverts: Some(of.run_id.clone()),
        reverted_by: None,
    }
}

/// The revert's outcome with its `run.json` saying how it ended (also when it failed).
async fn close_journal(
    run: &RunOptions,
    journal: Option<&ParquetJournal>,
    of: &RunRecord,
    result: Result<(RevertPlan, SyncReport), pqlsync_rules::state::StateError>,
) -> Result<(RevertPlan, SyncReport), Error> {
    let Some(journal) = journal else {
        return Ok(result?);
    };
    let mut result = result;
    let record = revert_record(run, of, result.as_ref().ok().map(|(_, r)| r));
    close_log(journal, record, result.as_mut().map(|(_, r)| r)).await?;
    Ok(result?)
}

/// Put back the routing memory as the reverted run found it, when it is the latest run and
/// the revert completed; else say why it stays.
async fn routing(
    store: &Store,
    target: &Target,
    dry_run: bool,
    complete: bool,
) -> Result<String, Error> {
    let id = &target.record.run_id;
    if !target.later.is_empty() {
        return Ok(format!(
            "left as it is: {} later run(s) ({}) routed from what run {id} decided, and their \
             decisions stand (revert them first, newest first, to roll the memory back past \
             them); the next run routes from the latest",
            target.later.len(),
            target.later.join(", ")
        ));
    }
    let Some(before) = changes::kept::<RoutingState>(store, id, ROUTING_BEFORE).await? else {
        return Ok(format!(
            "left as it is: no copy of it is kept for run {id} (copies are kept for the latest \
             {ROUTING_COPIES} runs, while the change log is on); the next run routes from what \
             run {id} decided"
        ));
    };
    let day = before
        .as_of
        .map_or_else(|| "no day yet".to_string(), |d| d.to_string());
    if dry_run {
        return Ok(format!(
            "would be put back as run {id} found it (as of {day}), so the next run routes \
             from before it"
        ));
    }
    if !complete {
        return Ok(format!(
            "left as run {id} left it until the revert completes: run it again to finish"
        ));
    }
    before.save(store).await?;
    let again = target.record.as_of;
    Ok(format!(
        "put back as run {id} found it (as of {day}): the next run routes from before it, and \
         may run the day {again} again (`pqlsync run --as-of {again}`), which also replaces \
         that day's score history"
    ))
}

/// For the records a revert skips: the latest later run that wrote each, from their logs.
async fn later_writes(
    config: &Config,
    later: &[String],
    plan: &RevertPlan,
) -> Result<BTreeMap<(String, String), String>, Error> {
    let mut by = BTreeMap::new();
    if plan.skipped.is_empty() || later.is_empty() {
        return Ok(by);
    }
    let ctx = session(config).await?;
    let err = FeatureError::execution("sync.changes");
    let table = format!("{}.{}", changes::SCHEMA_NAME, changes::TABLE);
    let df = ctx.table(table).await.map_err(&err)?;
    let df = df
        .filter(
            col("run_id")
                .in_list(later.iter().map(lit).collect(), false)
                .and(col("operation").eq(lit("update"))),
        )
        .and_then(|df| df.select_columns(&["run_id", "object", "key"]))
        .and_then(|df| df.distinct())
        .map_err(&err)?;
    let batches = df.collect().await.map_err(&err)?;
    let skipped: std::collections::BTreeSet<(String, String)> = plan
        .skipped
        .iter()
        .map(|s| (s.object.name().to_string(), s.key.clone()))
        .collect();
    for b in &batches {
        let text = |i: usize| b.column(i).as_string::<i32>();
        let (runs, objects, keys) = (text(0), text(1), text(2));
        for i in 0..b.num_rows() {
            let record = (objects.value(i).to_string(), keys.value(i).to_string());
            if skipped.contains(&record) {
                let run = runs.value(i).to_string();
                let latest = by.entry(record).or_insert_with(|| run.clone());
                if run > *latest {
                    *latest = run;
                }
            }
        }
    }
    Ok(by)
}

/// The report: the plan as lists of records, counted and rendered.
fn reverted(
    args: &RevertArgs,
    target: &Target,
    plan: RevertPlan,
    sync: SyncReport,
    routing: String,
    changed_by: &BTreeMap<(String, String), String>,
) -> Reverted {
    let restored = plan
        .restores
        .iter()
        .map(|r| RecordChange {
            object: r.object.name().to_string(),
            key: r.key.clone(),
            hubspot_id: Some(r.id.clone()),
            account_id: r.account.clone(),
            properties: r
                .props
                .iter()
                .map(|(p, v)| PropertyChange {
                    property: p.clone(),
                    wrote: r.wrote.get(p).cloned().unwrap_or_default(),
                    value: Some(v.clone()),
                    changed: false,
                })
                .collect(),
            changed_by: None,
        })
        .collect();
    let mut skipped: Vec<RecordChange> = Vec::new();
    for s in &plan.skipped {
        let object = s.object.name().to_string();
        if skipped
            .last()
            .is_none_or(|l| l.object != object || l.key != s.key)
        {
            let by = changed_by.get(&(object.clone(), s.key.clone())).cloned();
            skipped.push(RecordChange {
                object,
                key: s.key.clone(),
                hubspot_id: None,
                account_id: None,
                properties: Vec::new(),
                changed_by: by,
            });
        }
        let last = skipped.last_mut().expect("pushed above");
        last.properties.push(PropertyChange {
            property: s.property.clone(),
            wrote: s.wrote.clone(),
            value: s.now.clone(),
            changed: s.edited,
        });
    }
    let mut created: BTreeMap<String, CreatedCounts> = BTreeMap::new();
    for c in &plan.created {
        let n = created.entry(c.object.name().to_string()).or_default();
        n.created += 1;
        n.untouched += usize::from(c.untouched);
    }
    for (object, counts) in &sync.objects {
        if counts.archived > 0 {
            created.entry(object.clone()).or_default().archived = counts.archived;
        }
    }
    let mut out = Reverted {
        reverts: args.run.clone(),
        run_id: sync.run_id.clone(),
        dry_run: args.dry_run,
        restored,
        skipped,
        already_back: plan.already_back,
        created,
        routing,
        later_runs: target.later.clone(),
        sync,
        interrupted: None,
        text: String::new(),
    };
    out.text = render(&out, &target.record, args);
    out
}

fn render(r: &Reverted, of: &RunRecord, args: &RevertArgs) -> String {
    let limit = args.limit;
    let properties = |n: &RecordChange| n.properties.len();
    let page = serde_json::json!({
        "r": r,
        "of": {
            "run_id": of.run_id, "as_of": of.as_of.to_string(), "mode": of.mode,
            "entries": thousands(of.entries as i64),
        },
        "restored_properties": thousands(r.restored.iter().map(properties).sum::<usize>() as i64),
        "restored": r.restored.iter().take(limit).map(shown).collect::<Vec<_>>(),
        "restored_hidden": r.restored.len().saturating_sub(limit),
        "skipped": r.skipped.iter().take(limit).map(shown).collect::<Vec<_>>(),
        "skipped_hidden": r.skipped.len().saturating_sub(limit),
        "failures": r.sync.failures.iter().take(limit).collect::<Vec<_>>(),
        "archive_asked": args.archive_created_tasks,
    });
    pqlsync_sql::report::html::render_page(&[("revert.txt", TEMPLATE)], "revert.txt", &page)
}

/// A record as the listing shows it: values quoted, so an empty one is seen.
fn shown(c: &RecordChange) -> serde_json::Value {
    let quoted = |v: &str| format!("{v:?}");
    let properties: Vec<serde_json::Value> = c
        .properties
        .iter()
        .map(|p| {
            serde_json::json!({
                "property": p.property,
                "wrote": quoted(&p.wrote),
                "value": p.value.as_deref().map(quoted),
                "changed": p.changed,
            })
        })
        .collect();
    serde_json::json!({
        "object": c.object, "key": c.key, "hubspot_id": c.hubspot_id,
        "changed_by": c.changed_by, "properties": properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta};

    fn record(id: &str, micros: i64) -> RunRecord {
        let second = changes::started_at(id).unwrap();
        RunRecord {
            run_id: id.into(),
            command: "run".into(),
            as_of: second.date_naive(),
            started_at: second + TimeDelta::microseconds(micros),
            finished_at: None,
            mode: "https://api.hubapi.com".into(),
            entries: 1,
            stopped: None,
            reverts: None,
            reverted_by: None,
        }
    }

    #[tokio::test]
    async fn later_runs_are_those_whose_decisions_stand_ordered_to_the_microsecond() {
        let store = Store::in_memory("state");
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let id = |t: &str, tag: &str| {
            format!(
                "{}-{tag}",
                changes::new_run_id(at(t)).split('-').next().unwrap()
            )
        };
        let target = record(&id("2026-11-21T02:00:00Z", "aaaa"), 500);
        let earlier_same_second = record(&id("2026-11-21T02:00:00Z", "ffff"), 100);
        let later_same_second = record(&id("2026-11-21T02:00:00Z", "0000"), 900);
        let next_night = record(&id("2026-11-22T02:00:00Z", "bbbb"), 0);
        let mut reverted = record(&id("2026-11-23T02:00:00Z", "cccc"), 0);
        let mut revert = record(&id("2026-11-23T09:00:00Z", "dddd"), 0);
        reverted.reverted_by = Some(revert.run_id.clone());
        revert.reverts = Some(reverted.run_id.clone());
        let all = [
            &target,
            &earlier_same_second,
            &later_same_second,
            &next_night,
            &reverted,
            &revert,
        ];
        for r in all {
            changes::write_record(&store, r).await.unwrap();
        }
        let ids = changes::run_ids(&store).await.unwrap();
        let later = later_runs(&store, &target, &ids).await.unwrap();
        assert_eq!(later, [later_same_second.run_id, next_night.run_id]);
    }
}
