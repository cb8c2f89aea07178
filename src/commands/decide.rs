//! The decision pipeline `score`, `run` and `plan` differ in only by [`Mode`]: stream
//! `account_features`, decide every account, write the decisions, advance the routing memory,
//! then hand the decisions to the HubSpot step and record the day's history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use datafusion::physical_plan::ExecutionPlan;
use futures::StreamExt;

use super::Error;
use super::hubspot;
use super::pipeline::{Prepared, log_plan, spinner, sum_column};
use crate::config::{Config, RunOptions};
use crate::summary::{PeopleSummary, Summary};
use pqlsync_core::fmt::thousands;
use pqlsync_rules::route::Held;
use pqlsync_rules::state::{AdvancedBy, RoutingState, SHARED_STATE_ADVICE};
use pqlsync_sql::changes;
use pqlsync_sql::decision::{Decider, Decision};
use pqlsync_sql::features::{self, FINAL_VIEW, FeatureError, contacts};
use pqlsync_sql::history;
use pqlsync_sql::output::AtomicWriter;
use pqlsync_sql::people::{self, Users};
use pqlsync_sql::source;
use pqlsync_sql::store::Store;
use pqlsync_sync::Contact;

/// Which decision command is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `pqlsync score`: decisions to a file; state untouched, no sync.
    Score,
    /// `pqlsync run`: decisions to DIR/decisions.parquet, state advanced, HubSpot synced.
    Run,
    /// `pqlsync plan` / `run --dry-run`: decisions and the sync plan, nothing written.
    DryRun,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Score => "score",
            Mode::Run => "run",
            Mode::DryRun => "plan",
        }
    }
}

/// What streaming `account_features` through the decider produced.
struct Decided {
    summary: Summary,
    /// The decisions, for the sync (not kept by `score`).
    kept: Vec<Decision>,
    /// Each account's contacts (`account_contacts`), for the sync.
    contacts: BTreeMap<String, Vec<Contact>>,
    duplicates: i64,
    plan: Arc<dyn ExecutionPlan>,
    /// `run`'s history snapshot for the day, committed after the sync.
    snapshot: Option<history::Snapshot>,
}

/// `pqlsync score`, `pqlsync run` and `pqlsync plan`: decide every account, write the
/// decisions, advance the routing memory (`run`), then sync (`run`, `plan`).
pub async fn decide(config: &Config, run: &RunOptions, mode: Mode) -> Result<Summary, Error> {
    let started = Instant::now();
    let out = decisions_file(config, run, mode);
    let store = Store::open(&config.state)?;
    let mut memory = load_memory(config, run, mode, &store).await?;
    // The HubSpot side is checked before anything is written (decisions, routing memory,
    // history): a wrong token or an unreadable sync state must not leave the state advanced.
    // It also reads back what HubSpot holds now, which routing starts from.
    let preflight = match mode {
        Mode::Score => None,
        Mode::Run => hubspot::preflight(config, run, true).await?,
        Mode::DryRun => hubspot::preflight(config, run, false).await?,
    };
    let held = preflight
        .as_ref()
        .map(hubspot::Preflight::held)
        .unwrap_or_default();
    let engine = match mode {
        Mode::DryRun => Prepared::dry_run(config, run).await?,
        Mode::Run | Mode::Score => Prepared::new(config, run).await?,
    };
    if !run.allow_stale {
        source::check_fresh(&engine.ctx, &config.sources, run.as_of).await?;
    }
    let decided =
        decide_or_stop(config, run, mode, &engine, (&memory, &held), out.as_deref()).await?;
    if mode == Mode::Run {
        // Only now that the decisions are on disk does the memory move forward.
        advance(config, run, &store, &mut memory, &decided.kept).await?;
    }
    let Decided {
        summary,
        kept,
        contacts,
        duplicates,
        plan,
        snapshot,
    } = decided;
    let mut summary = engine
        .complete(config, summary, &plan, duplicates, out.as_deref(), started)
        .await?;
    crate::logging::stage!(
        run.stages,
        "quality",
        checks = summary.data_quality.len(),
        "counted data quality"
    );
    if mode == Mode::Score {
        summary.stages = run.stages.seconds();
        return Ok(summary);
    }
    let synced = hubspot::sync(
        config,
        run,
        (&kept, &contacts),
        mode == Mode::DryRun,
        preflight,
    )
    .await?;
    crate::logging::stage!(
        run.stages,
        "sync",
        mode = %synced.report.mode,
        requests = synced.report.requests,
        failed = synced.report.failed(),
        "HubSpot sync finished"
    );
    if mode == Mode::Run && !synced.owners.is_empty() {
        // Owners HubSpot already had stay the accounts' owners in routing, too.
        for (account, owner) in &synced.owners {
            memory.set_owner(account, run.as_of, owner);
        }
        memory.save(&store).await?;
    }
    if let Some(snapshot) = snapshot {
        let context = (config, run, &engine);
        commit_history(context, snapshot, &synced.owners, &mut summary).await?;
    }
    add_sync(&mut summary, synced);
    summary.interrupted = run.halt.reason();
    summary.seconds = started.elapsed().as_secs_f64();
    summary.stages = run.stages.seconds();
    Ok(summary)
}

/// The routing memory; `run` checks it may move it forward to this day.
async fn load_memory(
    config: &Config,
    run: &RunOptions,
    mode: Mode,
    store: &Store,
) -> Result<RoutingState, Error> {
    let memory = RoutingState::load(store).await?;
    if mode == Mode::Run {
        memory.check_forward(&config.state.configured, run.as_of, &config.path)?;
        warn_other_config(&memory, config);
    }
    Ok(memory)
}

/// The routing memory as a run found it, kept beside the run's change log.
pub(super) const ROUTING_BEFORE: &str = "routing-before.json";
/// How many of the latest runs keep that copy: a week of nightly runs, so that a bad config
/// noticed days later can still be reverted night by night, newest first, with the memory.
/// A copy is the size of `routing.json` (8.9 MB at 24,000 accounts), so not one per
/// run of `[changes] retention_days`.
pub(super) const ROUTING_COPIES: usize = 7;

/// Record every account's routing memory from its decision and save the state.
async fn advance(
    config: &Config,
    run: &RunOptions,
    store: &Store,
    memory: &mut RoutingState,
    decisions: &[Decision],
) -> Result<(), Error> {
    if config.changes.enabled {
        // As this run found it, beside its change log: `revert` puts it back, so that the
        // next run routes from before the reverted one instead of redoing its moves.
        changes::keep(store, &run.run_id, ROUTING_BEFORE, memory).await?;
        changes::drop_kept_before(store, ROUTING_COPIES, ROUTING_BEFORE).await?;
    }
    for d in decisions {
        memory.record(&d.account_id, d.route.memory.clone());
    }
    memory.advanced_by = Some(AdvancedBy::now(&config.path));
    memory.save(store).await?;
    crate::logging::stage!(
        run.stages,
        "state",
        as_of = %run.as_of,
        "advanced the routing memory"
    );
    Ok(())
}

/// [`decide_all`], abandoned at once on a stop request: until the routing memory advances
/// nothing has been written but temporary files, so a stop requested now (SIGTERM) need not
/// wait for the next boundary.
async fn decide_or_stop(
    config: &Config,
    run: &RunOptions,
    mode: Mode,
    engine: &Prepared,
    memory: (&RoutingState, &BTreeMap<String, Held>),
    out: Option<&Path>,
) -> Result<Decided, Error> {
    let decided = tokio::select! {
        decided = decide_all(config, run, mode, engine, memory, out) => decided,
        reason = run.halt.requested() => {
            return Err(Error::Interrupted(format!("{reason} before anything was written")));
        }
    };
    let decided = match decided {
        Ok(decided) => decided,
        Err(e) => return Err(engine.blame_file(e).await),
    };
    crate::logging::stage!(
        run.stages,
        "decide",
        accounts = decided.summary.accounts,
        out = out.map(|o| tracing::field::display(o.display())),
        "computed the features, scores and routes"
    );
    log_plan(FINAL_VIEW, &decided.plan);
    Ok(decided)
}

/// `run`'s history for the day, written after the sync so the snapshot carries the owners
/// HubSpot already had; then the score-health check that reads it.
async fn commit_history(
    (config, run, engine): (&Config, &RunOptions, &Prepared),
    mut snapshot: history::Snapshot,
    owners: &BTreeMap<String, String>,
    summary: &mut Summary,
) -> Result<(), Error> {
    snapshot.set_owners(owners)?;
    let rows = snapshot.commit(&Store::open(&config.history)?).await?;
    crate::logging::stage!(
        run.stages,
        "history",
        as_of = %run.as_of,
        accounts = rows,
        "wrote the score history"
    );
    summary.score_health = super::health::check(config, run, engine).await;
    Ok(())
}

/// The sync's outputs, plan and report in the run summary, and what it clipped or refused as
/// data-quality counts.
fn add_sync(summary: &mut Summary, synced: hubspot::Synced) {
    summary
        .outputs
        .extend(synced.report.outputs.iter().cloned());
    if !synced.report.clipped.is_empty() {
        summary.data_quality.insert(
            "values_clipped_to_hubspot_limit".into(),
            synced.report.clipped.len() as i64,
        );
    }
    if !synced.report.refused.is_empty() {
        summary.data_quality.insert(
            "contacts_with_invalid_email".into(),
            synced.report.refused.len() as i64,
        );
    }
    summary.plan = synced.plan;
    summary.sync = Some(synced.report);
}

/// Where the decisions go: `score` to a scores file, `run` to `decisions.parquet` in the
/// output directory, a dry run nowhere.
fn decisions_file(config: &Config, run: &RunOptions, mode: Mode) -> Option<PathBuf> {
    match mode {
        Mode::Score => Some(
            run.out
                .clone()
                .unwrap_or_else(|| config.output_dir.join("scores.parquet")),
        ),
        Mode::Run => Some(
            run.out
                .clone()
                .unwrap_or_else(|| config.output_dir.clone())
                .join("decisions.parquet"),
        ),
        Mode::DryRun => None,
    }
}

/// Stream `account_features` through the decider, writing decisions (and `run`'s history
/// snapshot) batch by batch.
async fn decide_all(
    config: &Config,
    run: &RunOptions,
    mode: Mode,
    engine: &Prepared,
    (memory, held): (&RoutingState, &BTreeMap<String, Held>),
    out: Option<&Path>,
) -> Result<Decided, Error> {
    let (contacts, users) = read_people(config, run, engine).await?;
    let bar = spinner(run, "scoring accounts");
    let df = features::account_features(&engine.ctx).await?;
    let features::Running { plan, mut stream } = features::stream(df).await?;
    let mut decider = Decider::new(
        &config.scoring,
        &config.routing,
        run.as_of,
        memory,
        stream.schema(),
    )?
    .with_held(held);
    let mut summary = Summary::new(mode.name(), Some(run.as_of));
    if let Some(users) = users {
        summary.people = Some(PeopleSummary::new(&users));
        decider = decider.with_users(&config.people, users.by_account);
    }
    let mut writer = match out {
        Some(path) => Some(AtomicWriter::create(path, decider.output_schema())?),
        None => None,
    };
    let mut kept: Vec<Decision> = Vec::new();
    let mut duplicates = 0;
    let mut snapshot = (mode == Mode::Run)
        .then(|| history::Snapshot::new(&config.history, run.as_of, history::Origin::Run));
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(FeatureError::execution(features::FINAL_VIEW))?;
        duplicates += sum_column(&batch, "duplicate_events_14d");
        let (decided, decisions) = decider.decide(&batch)?;
        if let Some(w) = writer.as_mut() {
            w.write(&decided)?;
        }
        if let Some(s) = snapshot.as_mut() {
            s.push(&decided)?;
        }
        for d in &decisions {
            summary.count(d);
        }
        if mode != Mode::Score {
            kept.extend(decisions);
        }
        bar.set_message(format!(
            "scoring accounts: {}",
            thousands(summary.accounts as i64)
        ));
    }
    drop(decider);
    if let Some(w) = writer {
        w.finish()?;
    }
    bar.finish_and_clear();
    // The stream's order depends on how many partitions the machine ran; the sync sends,
    // records and (with -v) prints records in this order, so fix it to the account id.
    kept.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    Ok(Decided {
        summary,
        kept,
        contacts,
        duplicates,
        plan,
        snapshot,
    })
}

/// Each account's contacts, and its users scored (`None` when the project has no
/// `user_features` view: accounts are then decided without a champion).
pub async fn read_people(
    config: &Config,
    run: &RunOptions,
    engine: &Prepared,
) -> Result<(BTreeMap<String, Vec<Contact>>, Option<Users>), Error> {
    let contacts = contacts::account_contacts(&engine.ctx).await?;
    crate::logging::stage!(
        run.stages,
        "contacts",
        accounts = contacts.len(),
        "read the accounts' contacts"
    );
    if !people::defined(&engine.ctx)? {
        tracing::debug!(
            "the project has no user_features view: accounts are decided without users"
        );
        return Ok((contacts, None));
    }
    let scored = people::users(&engine.ctx, &config.people, &contacts, None).await?;
    crate::logging::stage!(
        run.stages,
        "users",
        users = scored.rows,
        without_email = scored.without_email,
        "scored the accounts' users"
    );
    Ok((contacts, Some(scored)))
}

/// Warn when another config than this run's advanced the state last: configs that share one
/// `[state] url` overwrite each other's routing memory (a config file moved is the harmless
/// case, and the warning says which two paths differ).
fn warn_other_config(memory: &RoutingState, config: &Config) {
    if let Some(by) = memory
        .advanced_by
        .as_ref()
        .filter(|by| by.other_than(&config.path))
    {
        tracing::warn!(
            state = %config.state.configured,
            advanced_by = %by.config,
            host = %by.host,
            "the state at {} was last advanced by another config ({by}) than this run's ({}): \
             {SHARED_STATE_ADVICE} (a config file that moved is harmless)",
            config.state.configured,
            config.path.display()
        );
    }
}
