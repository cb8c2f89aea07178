//! One account's decision as plain data: its scores, its route and the facts the CRM shows,
//! decided from its feature values by the scoring model and the routing policy. Which
//! `account_features` columns the decision reads is listed here too, so the SQL side can check
//! the schema and read exactly those cells; reading them out of Arrow batches, and appending
//! the decision columns, is the binary's (`decision` there).

use chrono::NaiveDate;
use pqlsync_core::value::Value;

use crate::route::{self, Account, Event, Held, Policy, Route, TrialStatus, Trigger};
use crate::score::people::Team;
use crate::score::{Condition, Model, Score};
use crate::state::RoutingState;

/// Columns `decide` appends, in order.
pub const DECISION_COLUMNS: &[&str] = &[
    "fit_score",
    "usage_score",
    "pql_score",
    "tier",
    "signals",
    "expansion_score",
    "expansion_signals",
    "motion",
    "owner",
    "lead_stage",
    "deal_stage",
    "task",
    "tasks",
    "route_reason",
    "champion",
];

/// Feature columns routing reads besides the scoring model's.
pub const ROUTING_COLUMNS: &[&str] = &[
    "account_id",
    "seats",
    "help_requested_14d",
    "meeting_booked_14d",
    "trial_status",
    "trial_start",
    "trial_end",
    "subscription_status",
    "mrr",
    "last_seen_at",
    "email_domain",
    "free_email_domain",
];

/// Columns read when the SQL provides them (the bundled SQL does).
pub const OPTIONAL_COLUMNS: &[&str] = &["trial_id", "account_name", "mrr_currency"];

/// Columns a playbook's trigger reads: the time of the latest event of its kind in the 14-day
/// window, and optionally its id (say, the message id). Without an id the event's day is the
/// occurrence: one task per account and day.
pub const EVENT_COLUMNS: &[(Trigger, [&str; 2])] = &[
    (
        Trigger::MeetingBooked,
        ["last_meeting_booked_at", "last_meeting_booked_id"],
    ),
    (
        Trigger::HelpRequested,
        ["last_help_requested_at", "last_help_requested_id"],
    ),
];

/// What the CRM shows about an account besides its score and route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    pub name: Option<String>,
    /// The company domain, unless it is a free-mail provider's.
    pub domain: Option<String>,
    pub seats: i64,
    pub trial_id: Option<String>,
    pub trial_status: String,
    pub trial_start: Option<NaiveDate>,
    pub trial_end: Option<NaiveDate>,
    pub mrr: Option<i64>,
    pub mrr_currency: Option<String>,
}

/// One account's decision.
#[derive(Debug, Clone)]
pub struct Decision {
    pub account_id: String,
    pub score: Score,
    pub route: Route,
    pub facts: Facts,
    /// The account's users, scored, with its champion; `None` when the run reads no users
    /// (`backfill`, or a project without `user_features`).
    pub team: Option<Team>,
}

/// What one account's decision reads besides its feature values.
pub struct Inputs<'a> {
    pub model: &'a Model,
    pub policy: &'a Policy,
    /// The routing memory: each account's last route.
    pub memory: &'a RoutingState,
    /// What HubSpot holds for this account, when it was read back before deciding.
    pub held: Option<&'a Held>,
    pub as_of: NaiveDate,
}

/// Decide one account from its feature values (`get` returns [`Value::Null`] for a column
/// it was not given) and its users (`team`): tasks name and are about its champion.
pub fn decide<'v>(
    inputs: &Inputs,
    account_id: String,
    team: Option<Team>,
    get: impl Fn(&str) -> &'v Value,
) -> Decision {
    let mut score = inputs.model.score(&get);
    let mut account = account_facts(inputs.policy, &account_id, &score, &get);
    account.champion = team.as_ref().and_then(Team::champion).cloned();
    if route::is_customer(inputs.policy, &account) {
        let expansion = inputs.model.expansion(&get);
        account.expansion_score = Some(expansion.score);
        account.expansion_signals = expansion.signals_text();
        score.expansion = Some(expansion);
    }
    let prior = inputs.memory.prior(&account_id, inputs.as_of);
    let route = route::route_with(inputs.policy, &account, prior, inputs.held, inputs.as_of);
    let facts = Facts {
        name: get("account_name").as_str().map(str::to_string),
        domain: get("email_domain")
            .as_str()
            .filter(|_| get("free_email_domain").as_bool() != Some(true))
            .map(str::to_string),
        seats: account.seats,
        trial_id: account.trial_id.clone(),
        trial_status: get("trial_status").as_str().unwrap_or("none").to_string(),
        trial_start: account.trial_start,
        trial_end: get("trial_end").as_date(),
        mrr: get("mrr").as_i64(),
        mrr_currency: get("mrr_currency").as_str().map(str::to_string),
    };
    Decision {
        account_id,
        score,
        route,
        facts,
        team,
    }
}

/// Read the routing facts for one account out of its feature values.
pub fn account_facts<'v>(
    policy: &Policy,
    account_id: &str,
    score: &Score,
    get: impl Fn(&str) -> &'v Value,
) -> Account {
    let int = |name: &str| get(name).as_i64().unwrap_or(0);
    let event = |[at, id]: [&str; 2]| {
        let day = get(at).as_date()?;
        let id = match get(id) {
            Value::Null => day.to_string(),
            v => v.to_string(),
        };
        Some(Event { id, day })
    };
    let trial_status = TrialStatus::parse(get("trial_status").as_str());
    let trial_start = get("trial_start").as_date();
    let trial_id = match (get("trial_id"), trial_status) {
        (Value::Null, TrialStatus::None) => None,
        (Value::Null, _) => Some(format!(
            "{account_id}:{}",
            trial_start.map_or_else(|| "unknown".to_string(), |d| d.to_string())
        )),
        (v, _) => Some(v.to_string()),
    };
    Account {
        account_id: account_id.to_string(),
        seats: int("seats"),
        tier: score.tier,
        pql_score: score.pql,
        help_requested: int("help_requested_14d") > 0,
        meeting_booked: int("meeting_booked_14d") > 0,
        trial_status,
        trial_id,
        trial_start,
        subscription_status: get("subscription_status").as_str().map(str::to_string),
        mrr: int("mrr"),
        ever_active: !get("last_seen_at").is_null(),
        persona_disqualified: policy
            .disqualify
            .iter()
            .find(|r| r.condition.holds(get(&r.condition.feature)))
            .map(|r| r.reason.clone()),
        name: get("account_name").as_str().map(str::to_string),
        fit_score: score.fit,
        usage_score: score.usage,
        signals: score.signals_text(),
        expansion_score: None,
        expansion_signals: String::new(),
        trial_end: get("trial_end").as_date(),
        last_meeting: event(EVENT_COLUMNS[0].1),
        last_help_request: event(EVENT_COLUMNS[1].1),
        champion: None,
    }
}

/// Every feature column the scoring model and the routing policy read from
/// `account_features`, with the config key naming it.
pub fn referenced_features(model: &Model, policy: &Policy) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (list, signals) in [
        ("fit", &model.fit),
        ("usage", &model.usage),
        ("expansion", &model.expansion),
    ] {
        for (i, s) in signals.iter().enumerate() {
            out.push((
                format!("scoring.{list}[{i}].feature"),
                s.condition.feature.clone(),
            ));
        }
    }
    for (i, r) in policy.disqualify.iter().enumerate() {
        out.push((
            format!("routing.disqualify[{i}].feature"),
            r.condition.feature.clone(),
        ));
    }
    out
}

/// Every condition the scoring model and the routing policy test, with the config key naming
/// it, for checks against the `account_features` schema.
pub fn conditions<'a>(model: &'a Model, policy: &'a Policy) -> Vec<(String, &'a Condition)> {
    let mut out: Vec<(String, &Condition)> = Vec::new();
    for (list, sigs) in [
        ("fit", &model.fit),
        ("usage", &model.usage),
        ("expansion", &model.expansion),
    ] {
        for (i, s) in sigs.iter().enumerate() {
            out.push((format!("scoring.{list}[{i}]"), &s.condition));
        }
    }
    for (i, r) in policy.disqualify.iter().enumerate() {
        out.push((format!("routing.disqualify[{i}]"), &r.condition));
    }
    out
}
