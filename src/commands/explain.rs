//! `pqlsync explain ACCOUNT_ID [--json]`: one account's features, the signals that fired,
//! its score and tier, and its route, with what the previous run decided: what a rep or an
//! analyst asks when a score looks wrong.

use std::fmt::Write as _;

use chrono::NaiveDate;
use datafusion::prelude::{col, lit};

use super::pipeline::Prepared;
use super::{Error, Report};
use crate::cli::ExplainArgs;
use crate::config::{Config, RunOptions};
use pqlsync_hubspot::ObjectType;
use pqlsync_rules::route::Memory;
use pqlsync_rules::score::Model;
use pqlsync_rules::state::RoutingState;
use pqlsync_sql::changes;
use pqlsync_sql::decision::{Decider, Decision};
use pqlsync_sql::features::{self, FINAL_VIEW, FeatureError, contacts};
use pqlsync_sql::people;
use pqlsync_sql::store::Store;
use pqlsync_sql::value::{FromArray, Value};
use pqlsync_sync::{self as sync, STATE_FILE, SyncState};

/// One account explained: as text, or as the JSON document `--json` prints.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
pub struct Explanation {
    #[serde(skip)]
    json: bool,
    doc: serde_json::Value,
    #[serde(skip)]
    text: String,
}

impl Report for Explanation {
    fn always_print(&self) -> bool {
        true
    }
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.json {
            let text = serde_json::to_string_pretty(&self.doc).expect("JSON values serialise");
            writeln!(f, "{text}")
        } else {
            writeln!(f, "{}", self.text)
        }
    }
}

/// `pqlsync explain ACCOUNT_ID`: one account's features, signals, score and route.
pub async fn explain(
    config: &Config,
    run: &RunOptions,
    args: &ExplainArgs,
) -> Result<Explanation, Error> {
    let account_id = args.account_id.as_str();
    let store = Store::open(&config.state)?;
    let memory = RoutingState::load(&store).await?;
    // What HubSpot held when the last run read it back: routing starts from it, as in `run`.
    let synced: SyncState = store.read(STATE_FILE).await?.unwrap_or_default();
    let held = sync::listen::held(&synced);
    let engine = Prepared::new(config, run).await?;
    let df = features::account_features(&engine.ctx).await?;
    let batches = df
        .filter(col("account_id").eq(lit(account_id)))
        .map_err(FeatureError::execution(FINAL_VIEW))?
        .collect()
        .await
        .map_err(FeatureError::execution(FINAL_VIEW))?;
    let Some(batch) = batches.into_iter().find(|b| b.num_rows() > 0) else {
        return Err(Error::NotFound(format!(
            "account `{account_id}` is not in account_features for {} (accounts come from groups with a timestamp before the end of that day)",
            run.as_of
        )));
    };
    let mut decider = Decider::new(
        &config.scoring,
        &config.routing,
        run.as_of,
        &memory,
        batch.schema(),
    )?
    .with_held(&held);
    if people::defined(&engine.ctx)? {
        let contacts = contacts::account_contacts(&engine.ctx).await?;
        let users = people::users(&engine.ctx, &config.people, &contacts, Some(account_id)).await?;
        decider = decider.with_users(&config.people, users.by_account);
    }
    let (_, decisions) = decider.decide(&batch)?;
    let d = &decisions[0];
    let values: Vec<(String, Value)> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| {
            (
                f.name().clone(),
                Value::from_array(c, 0).unwrap_or(Value::Null),
            )
        })
        .collect();
    let prior = memory.prior(account_id, run.as_of);
    let changes = last_changes(&engine, account_id).await?;
    let mut doc = explain_json(run.as_of, d, &values, &in_hubspot(d, &synced));
    doc["changes"] = serde_json::to_value(&changes).expect("plain data");
    let mut text = explain_text(&config.scoring, run.as_of, d, &values, prior, &synced);
    changes_text(&mut text, account_id, &changes);
    Ok(Explanation {
        json: args.json,
        doc,
        text,
    })
}

/// How many of an account's latest change-log entries `explain` shows.
const LAST_CHANGES: usize = 12;

/// The account's latest entries in the change log (`sync.changes`), newest run first.
async fn last_changes(engine: &Prepared, account_id: &str) -> Result<Vec<changes::Row>, Error> {
    let filter = changes::Filter {
        account: Some(account_id.to_string()),
        ..changes::Filter::default()
    };
    let err = FeatureError::execution("sync.changes");
    let batches = changes::select(&engine.ctx, &filter)
        .await
        .and_then(|df| df.limit(0, Some(LAST_CHANGES)))
        .map_err(&err)?
        .collect()
        .await
        .map_err(&err)?;
    Ok(changes::rows(&batches).map_err(err)?)
}

fn changes_text(t: &mut String, account_id: &str, rows: &[changes::Row]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        t,
        "\nlast changes pqlsync made in HubSpot (all: pqlsync changes --account {account_id})"
    );
    let value = |v: &Option<String>| v.as_deref().map_or("(none)".into(), |v| format!("{v:?}"));
    for r in rows {
        let property = r.property.as_deref().unwrap_or("");
        let what = match r.operation.as_str() {
            "associate" => format!("{property} → {}", value(&r.new)),
            "failed" => format!("{property} FAILED: {}", r.message.as_deref().unwrap_or("")),
            _ => format!("{property}: {} → {}", value(&r.previous), value(&r.new)),
        };
        let _ = writeln!(
            t,
            "  {}  {:<9} {:<9} {what}",
            r.run_id, r.object, r.operation
        );
    }
}

/// One property routing reads, as HubSpot holds it and as pqlsync last wrote it.
#[derive(Debug, serde::Serialize)]
struct InHubspot {
    property: &'static str,
    hubspot: String,
    pqlsync: String,
    /// The day pqlsync first saw a person's value there, if HubSpot's is a person's.
    person_since: Option<NaiveDate>,
    /// Which value stands: `same`, `hubspot` (a person's), or `pqlsync` when routing moves a
    /// person's stage on (a purchase closes a lost deal won).
    wins: &'static str,
}

/// HubSpot's value of each property routing reads next to pqlsync's, and which one won; empty
/// until a run has read the account's records back from HubSpot.
fn in_hubspot(d: &Decision, synced: &SyncState) -> Vec<InHubspot> {
    use pqlsync_sync::listen::{DEAL_STAGE, LEAD_STAGE, LIFECYCLE, OWNER};
    let account = d.account_id.as_str();
    let trial = d.facts.trial_id.as_deref().unwrap_or("");
    let decided = |property: &str| match property {
        LEAD_STAGE => Some(d.route.lead_stage.as_str().to_string()),
        DEAL_STAGE => d.route.deal_stage.map(|s| s.as_str().to_string()),
        _ => None,
    };
    let rows = [
        ("owner", ObjectType::Companies, account, OWNER),
        ("lifecycle", ObjectType::Companies, account, LIFECYCLE),
        ("lead stage", ObjectType::Leads, account, LEAD_STAGE),
        ("deal stage", ObjectType::Deals, trial, DEAL_STAGE),
    ];
    let mut out = Vec::new();
    for (label, object, key, property) in rows {
        let Some(r) = synced.get(object, key).filter(|r| !r.held.is_empty()) else {
            continue;
        };
        let name = |v: Option<&String>| match v.filter(|v| !v.is_empty()) {
            Some(id) => synced.name_of(property, id),
            None => "(none)".to_string(),
        };
        let hubspot = name(r.held.get(property));
        let person = r.person.get(property).map(|p| p.since);
        let wins = match (person, decided(property)) {
            (None, _) => "same",
            (Some(_), Some(now)) if now != hubspot => "pqlsync",
            (Some(_), _) => "hubspot",
        };
        out.push(InHubspot {
            property: label,
            pqlsync: name(r.props.get(property)),
            hubspot,
            person_since: person,
            wins,
        });
    }
    out
}

fn hubspot_text(t: &mut String, rows: &[InHubspot], read_on: Option<NaiveDate>) {
    if rows.is_empty() {
        return;
    }
    let read = read_on.map_or(String::new(), |d| format!(", read on {d}"));
    let _ = writeln!(t, "\nin HubSpot (as the last run read it back{read})");
    for r in rows {
        let since = r.person_since.map(|d| d.to_string()).unwrap_or_default();
        let won = match r.wins {
            "same" => "same as pqlsync's".to_string(),
            "pqlsync" => format!("a person's (seen {since}); pqlsync moves it on"),
            _ => format!("a person's (seen {since}): HubSpot's wins"),
        };
        let _ = writeln!(
            t,
            "  {:<11} HubSpot {}, pqlsync wrote {}: {won}",
            r.property, r.hubspot, r.pqlsync
        );
    }
}

fn explain_text(
    m: &Model,
    as_of: NaiveDate,
    d: &Decision,
    values: &[(String, Value)],
    prior: Option<&Memory>,
    synced: &SyncState,
) -> String {
    let mut t = String::new();
    score_text(&mut t, m, as_of, d, values);
    people_text(&mut t, d);
    route_text(&mut t, as_of, d, prior);
    hubspot_text(&mut t, &in_hubspot(d, synced), synced.read_on);
    let _ = writeln!(t, "\nfeatures");
    let width = values.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (n, v) in values {
        let _ = writeln!(t, "  {n:<width$}  {v}");
    }
    t
}

/// The header, the PQL score and every signal that fired.
fn score_text(
    t: &mut String,
    m: &Model,
    as_of: NaiveDate,
    d: &Decision,
    values: &[(String, Value)],
) {
    let s = &d.score;
    let name = values
        .iter()
        .find(|(n, _)| n == "account_name")
        .map(|(_, v)| v.to_string())
        .filter(|n| n != "null");
    let _ = writeln!(
        t,
        "account {}{}  as of {}",
        d.account_id,
        name.map(|n| format!(" ({n})")).unwrap_or_default(),
        as_of
    );
    let _ = writeln!(
        t,
        "\nPQL score {} → {}  (= {:.2} × fit {} + {:.2} × usage {}; Yellow ≥ {}, Green ≥ {})",
        s.pql,
        s.tier.as_str().to_uppercase(),
        m.fit_weight,
        s.fit,
        m.usage_weight(),
        s.usage,
        m.tiers.yellow,
        m.tiers.green
    );
    for (label, fired, total) in [
        ("fit", &s.fit_signals, s.fit),
        ("usage", &s.usage_signals, s.usage),
    ] {
        let _ = writeln!(
            t,
            "\n{label} {total}/100 (sum of signals, clamped to 0–100):"
        );
        if fired.is_empty() {
            let _ = writeln!(t, "  (no signal fired)");
        }
        for f in fired {
            let _ = writeln!(t, "  {}", f.text);
        }
    }
    if let Some(e) = &s.expansion {
        let _ = writeln!(
            t,
            "\nexpansion {}/100 (paying customer; sum of expansion signals, clamped to 0–100):",
            e.score
        );
        if e.signals.is_empty() {
            let _ = writeln!(t, "  (no signal fired)");
        }
        for f in &e.signals {
            let _ = writeln!(t, "  {}", f.text);
        }
    }
}

/// How many of an account's users `explain` lists, most engaged first.
const USERS_SHOWN: usize = 20;

/// The account's users: engagement, activity, flags and key actions, and why the champion is.
fn people_text(t: &mut String, d: &Decision) {
    let Some(team) = &d.team else {
        return;
    };
    let _ = writeln!(
        t,
        "\npeople ({} users with events ever; most engaged first)",
        team.users.len()
    );
    match (team.champion(), &team.why_champion) {
        (Some(c), Some(why)) => {
            let email = c.email.as_deref().unwrap_or("");
            let _ = writeln!(t, "  champion  {email}: {why}");
        }
        _ => {
            let _ = writeln!(
                t,
                "  champion  (none: no user with an email was active in the window)"
            );
        }
    }
    for (i, u) in team.users.iter().take(USERS_SHOWN).enumerate() {
        let mut flags = Vec::new();
        if team.champion == Some(i) {
            flags.push("champion");
        }
        if u.power {
            flags.push("power user");
        }
        if u.email.is_none() {
            flags.push("no email: not synced");
        }
        let _ = writeln!(
            t,
            "  {:>3}  {} ({})  {} events, {} active days, last active {}{}",
            u.engagement.score,
            u.email.as_deref().unwrap_or("no email"),
            u.user_id,
            u.events,
            u.active_days,
            u.last_active.map_or("never".to_string(), |d| d.to_string()),
            if flags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", flags.join(", "))
            }
        );
        let actions = u.actions_text();
        if !actions.is_empty() {
            let _ = writeln!(t, "       {actions}");
        }
        let signals = u.engagement.signals_text();
        if !signals.is_empty() {
            let _ = writeln!(t, "       {signals}");
        }
    }
    if team.users.len() > USERS_SHOWN {
        let _ = writeln!(
            t,
            "  … and {} more (pqlsync features --view user_features)",
            team.users.len() - USERS_SHOWN
        );
    }
}

/// Motion, owner, stages, task, and what the previous run decided.
fn route_text(t: &mut String, as_of: NaiveDate, d: &Decision, prior: Option<&Memory>) {
    let r = &d.route;
    let _ = writeln!(t, "\nroute");
    let _ = writeln!(t, "  motion      {}  ({})", r.motion.as_str(), r.reason);
    let _ = writeln!(
        t,
        "  owner       {}",
        r.owner
            .as_deref()
            .unwrap_or("(none: no owner pool configured)")
    );
    let _ = writeln!(t, "  lead stage  {}", r.lead_stage.as_str());
    let _ = writeln!(
        t,
        "  deal stage  {}",
        r.deal_stage.map_or("(no trial, no deal)", |s| s.as_str())
    );
    match prior {
        Some(p) => {
            let _ = writeln!(
                t,
                "  previously  {} on {}: {} / {} / {}",
                p.tier.as_str(),
                p.as_of,
                p.motion.as_str(),
                p.lead_stage.as_str(),
                p.deal_stage.map_or("-", |s| s.as_str())
            );
        }
        None => {
            let _ = writeln!(t, "  previously  (no run before {})", as_of);
        }
    }
    let _ = writeln!(t, "\nplaybooks");
    let width = r
        .checks
        .iter()
        .map(|c| c.trigger.as_str().len())
        .max()
        .unwrap_or(0);
    for c in &r.checks {
        let state = match (c.enabled, c.fired) {
            (false, _) => "off  ",
            (true, true) => "FIRED",
            (true, false) => "quiet",
        };
        let last = c
            .last
            .map_or("never fired".to_string(), |d| format!("last fired {d}"));
        let _ = writeln!(
            t,
            "  {:<width$}  {state}  {}; {last}",
            c.trigger.as_str(),
            c.why
        );
    }
    for task in &r.tasks {
        let _ = writeln!(
            t,
            "  task {}: {} (due {}, {} {}{})",
            task.trigger.as_str(),
            task.subject,
            task.due,
            task.task_type.as_str(),
            task.priority.as_str(),
            task.queue
                .as_deref()
                .map_or(String::new(), |q| format!(", queue {q}"))
        );
    }
}

fn explain_json(
    as_of: NaiveDate,
    d: &Decision,
    values: &[(String, Value)],
    hubspot: &[InHubspot],
) -> serde_json::Value {
    let features: serde_json::Map<String, serde_json::Value> = values
        .iter()
        .map(|(n, v)| {
            let j = match v {
                Value::Null => serde_json::Value::Null,
                Value::Int(i) => serde_json::json!(i),
                Value::Float(f) => serde_json::json!(f),
                Value::Bool(b) => serde_json::json!(b),
                other => serde_json::json!(other.to_string()),
            };
            (n.clone(), j)
        })
        .collect();
    let fired = |list: &[pqlsync_rules::score::Fired]| -> Vec<serde_json::Value> {
        list.iter()
            .map(|f| serde_json::json!({"points": f.points, "text": f.text}))
            .collect()
    };
    let r = &d.route;
    serde_json::json!({
        "account_id": d.account_id,
        "as_of": as_of.to_string(),
        "fit_score": d.score.fit,
        "usage_score": d.score.usage,
        "pql_score": d.score.pql,
        "tier": d.score.tier.as_str(),
        "fit_signals": fired(&d.score.fit_signals),
        "usage_signals": fired(&d.score.usage_signals),
        "motion": r.motion.as_str(),
        "route_reason": r.reason,
        "owner": r.owner,
        "lead_stage": r.lead_stage.as_str(),
        "deal_stage": r.deal_stage.map(|s| s.as_str()),
        "expansion_score": d.score.expansion.as_ref().map(|e| e.score),
        "expansion_signals": d.score.expansion.as_ref().map(|e| fired(&e.signals)),
        "tasks": r.tasks.iter().map(|t| serde_json::json!({
            "trigger": t.trigger.as_str(),
            "key": t.key,
            "subject": t.subject,
            "body": t.body,
            "due": t.due.to_string(),
            "owner": t.owner,
            "queue": t.queue,
            "task_type": t.task_type.as_str(),
            "priority": t.priority.as_str(),
        })).collect::<Vec<_>>(),
        "playbooks": r.checks.iter().map(|c| serde_json::json!({
            "trigger": c.trigger.as_str(),
            "enabled": c.enabled,
            "fired": c.fired,
            "why": c.why,
            "last_fired": c.last.map(|d| d.to_string()),
        })).collect::<Vec<_>>(),
        "in_hubspot": hubspot,
        "users": d.team.as_ref().map(users_json),
        "features": features,
    })
}

/// The account's users for `explain --json`, most engaged first.
fn users_json(team: &pqlsync_rules::score::people::Team) -> serde_json::Value {
    use pqlsync_rules::score::people::KEY_ACTIONS;
    let users: Vec<serde_json::Value> = team
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let actions: serde_json::Map<String, serde_json::Value> = KEY_ACTIONS
                .iter()
                .zip(&u.actions)
                .filter_map(|(a, n)| Some((a.column.to_string(), serde_json::json!((*n)?))))
                .collect();
            serde_json::json!({
                "user_id": u.user_id,
                "email": u.email,
                "engagement_score": u.engagement.score,
                "engagement_signals": u.engagement.signals.iter().map(|f| f.text.clone()).collect::<Vec<_>>(),
                "events_14d": u.events,
                "active_days_14d": u.active_days,
                "last_active": u.last_active.map(|d| d.to_string()),
                "champion": team.champion == Some(i),
                "power_user": u.power,
                "key_actions": actions,
            })
        })
        .collect();
    serde_json::json!({
        "champion": team.champion().and_then(|u| u.email.clone()),
        "why_champion": team.why_champion,
        "users": users,
    })
}
