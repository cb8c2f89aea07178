//! Playbooks: the moments a rep should step in, each a trigger that turns into one HubSpot task
//! in the trigger's queue, once per occurrence.
//!
//! A trigger's rule says when it fires and what one occurrence is (an activation, a crossing of
//! the hot-PQL line, a meeting, a help request, a trial, a cooldown period); the occurrence's
//! key names the task, so the sync creates it once however often a day is re-run. The previous
//! decision ([`Memory`]) carries what fired last, and the tasks fired in the last
//! [`OPEN_DAYS`] days stay wanted, so a task that did not reach HubSpot is retried rather than
//! lost. Every function is pure; templates are rendered here too, at the moment a trigger
//! fires, so a task says what the account looked like when it fired.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

use super::{Account, Motion, TrialStatus, trial_days};
use crate::score::Tier;
use crate::score::people::{KEY_ACTIONS, User};

/// A moment a rep should step in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Green,
    HotPql,
    MeetingBooked,
    HelpRequested,
    TrialEnding,
    Rescue,
    Expansion,
}

impl Trigger {
    pub const ALL: [Trigger; 7] = [
        Trigger::Green,
        Trigger::HotPql,
        Trigger::MeetingBooked,
        Trigger::HelpRequested,
        Trigger::TrialEnding,
        Trigger::Rescue,
        Trigger::Expansion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Green => "green",
            Trigger::HotPql => "hot_pql",
            Trigger::MeetingBooked => "meeting_booked",
            Trigger::HelpRequested => "help_requested",
            Trigger::TrialEnding => "trial_ending",
            Trigger::Rescue => "rescue",
            Trigger::Expansion => "expansion",
        }
    }

    /// How HubSpot shows it (the `plg_trigger` option label).
    pub fn label(self) -> &'static str {
        match self {
            Trigger::Green => "Turned Green",
            Trigger::HotPql => "Hot PQL",
            Trigger::MeetingBooked => "Meeting booked",
            Trigger::HelpRequested => "Help requested",
            Trigger::TrialEnding => "Trial ending",
            Trigger::Rescue => "Trial rescue",
            Trigger::Expansion => "Expansion",
        }
    }

    pub fn parse(s: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether the trigger is about winning a prospect (every one but `expansion`): customers
    /// and disqualified accounts get none of these.
    pub fn is_prospect(self) -> bool {
        self != Trigger::Expansion
    }

    /// What one occurrence is, for `explain` and the docs.
    pub fn once_per(self) -> &'static str {
        match self {
            Trigger::Green => "activation",
            Trigger::HotPql => "crossing of the threshold",
            Trigger::MeetingBooked => "meeting",
            Trigger::HelpRequested => "request",
            Trigger::TrialEnding | Trigger::Rescue => "trial",
            Trigger::Expansion => "cooldown period",
        }
    }
}

/// HubSpot's `hs_task_type` values a playbook may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskType {
    Todo,
    Call,
    Email,
}

impl TaskType {
    pub const ALL: [TaskType; 3] = [TaskType::Todo, TaskType::Call, TaskType::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Todo => "TODO",
            TaskType::Call => "CALL",
            TaskType::Email => "EMAIL",
        }
    }
}

/// HubSpot's `hs_task_priority` values a playbook may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Priority {
    Low,
    Medium,
    High,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "LOW",
            Priority::Medium => "MEDIUM",
            Priority::High => "HIGH",
        }
    }
}

/// One configured playbook: what the task for a trigger looks like and where it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub trigger: Trigger,
    /// HubSpot task queue id (`hs_queue_membership_ids`), if the task goes to a queue.
    pub queue: Option<String>,
    pub task_type: TaskType,
    pub priority: Priority,
    /// Days after the trigger fires that the task is due.
    pub due_days: i64,
    /// Subject and body templates (minijinja); [`TEMPLATE_NAMES`] lists what they may name.
    pub subject: String,
    pub body: String,
}

impl Playbook {
    /// The trigger's playbook with every default: no queue, the trigger's usual task type
    /// and priority, the default templates.
    pub fn new(trigger: Trigger, due_days: i64) -> Playbook {
        let (task_type, priority) = default_kind(trigger);
        Playbook {
            trigger,
            queue: None,
            task_type,
            priority,
            due_days,
            subject: default_subject(trigger).into(),
            body: DEFAULT_BODY.into(),
        }
    }

    /// Without `[[routing.playbooks]]`, the one task pqlsync always made: a HIGH to-do when
    /// the trial turns Green.
    pub fn green(due_days: i64) -> Playbook {
        Playbook::new(Trigger::Green, due_days)
    }
}

/// The task type and priority a trigger's task gets unless its playbook says otherwise:
/// a call where a live conversation is the point, an email where a nudge is.
pub fn default_kind(trigger: Trigger) -> (TaskType, Priority) {
    match trigger {
        Trigger::Green => (TaskType::Todo, Priority::High),
        Trigger::HotPql => (TaskType::Call, Priority::High),
        Trigger::MeetingBooked => (TaskType::Todo, Priority::High),
        Trigger::HelpRequested => (TaskType::Call, Priority::High),
        Trigger::TrialEnding => (TaskType::Email, Priority::Medium),
        Trigger::Rescue => (TaskType::Email, Priority::Medium),
        Trigger::Expansion => (TaskType::Todo, Priority::Medium),
    }
}

/// The default subject of each trigger's task.
pub fn default_subject(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::Green => "PQL turned Green: account {{ account_id }} scored {{ score }}",
        Trigger::HotPql => "Hot PQL: {{ account }} scored {{ score }}, reach out live",
        Trigger::MeetingBooked => "Meeting booked: {{ account }} (PQL {{ score }})",
        Trigger::HelpRequested => "Help requested: {{ account }} (PQL {{ score }})",
        Trigger::TrialEnding => {
            "Trial ending in {{ days_left }} days: {{ account }} has not checked out"
        }
        Trigger::Rescue => "Rescue: {{ account }} is still Red on trial day {{ trial_day }}",
        Trigger::Expansion => "Expansion: {{ account }} scored {{ expansion_score }} for expansion",
    }
}

/// The default body: the score and the signals that explain it.
pub const DEFAULT_BODY: &str = "PQL {{ score }} ({{ tier }}). {{ signals }}\
{% if expansion_score is not none %}\nExpansion {{ expansion_score }}. {{ expansion_signals }}{% endif %}\
{% if champion is not none %}\nChampion: {{ champion_email }}, engagement {{ champion_score }}\
{% if champion_actions %}; {{ champion_actions }}{% endif %}.{% endif %}";

/// What a subject or body template may name.
pub const TEMPLATE_NAMES: &[(&str, &str)] = &[
    ("account", "the account's name, or its id when it has none"),
    ("account_id", "the account id"),
    ("trigger", "the trigger, e.g. hot_pql"),
    ("score", "the PQL score, 0–100"),
    ("fit_score", "the fit score"),
    ("usage_score", "the usage score"),
    ("tier", "red, yellow or green"),
    ("signals", "the PQL signals that fired, `; `-separated"),
    (
        "expansion_score",
        "the expansion score (customers; none for others)",
    ),
    ("expansion_signals", "the expansion signals that fired"),
    ("seats", "the account's seats"),
    (
        "trial_day",
        "days since the trial started (none without a trial)",
    ),
    (
        "days_left",
        "days until the trial ends (none without a trial)",
    ),
    (
        "champion",
        "the champion (the most engaged user with an email): their email (none without one)",
    ),
    (
        "champion_email",
        "the champion's email (none without a champion)",
    ),
    (
        "champion_score",
        "the champion's engagement score, 0–100 (none without a champion)",
    ),
    (
        "champion_signals",
        "the user signals that fired for the champion, `; `-separated",
    ),
    (
        "champion_actions",
        "the champion's key actions in words, e.g. `invited 2 teammates, connected 1 integration`",
    ),
    (
        "champion_teammates_invited_14d",
        "teammates the champion invited in the window (none without a champion)",
    ),
    (
        "champion_integrations_connected_14d",
        "integrations the champion connected",
    ),
    (
        "champion_paid_feature_events_14d",
        "the champion's paid-feature events",
    ),
    (
        "champion_pricing_page_views_14d",
        "the champion's pricing-page views",
    ),
    ("champion_limit_reached_14d", "plan limits the champion hit"),
];

/// Tasks stay wanted this many days after their trigger fired: a task HubSpot did not
/// confirm (an outage, a failed batch) is sent again by the next runs, and created once.
pub const OPEN_DAYS: i64 = 7;

/// An event older than this when pqlsync first sees it (a first run, an export that arrived
/// late beyond the partition slack) makes no task: the moment to act on it has passed.
pub const EVENT_DAYS: i64 = 3;

/// A product event routing acts on once: a meeting booked, a help request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's message id, or its day when it has none.
    pub id: String,
    pub day: NaiveDate,
}

/// The last occurrence of a trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Last {
    pub key: String,
    pub day: NaiveDate,
}

/// A task for the owner: one occurrence of one trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Stable per occurrence: the sync creates the task once.
    pub key: String,
    pub trigger: Trigger,
    /// The day the trigger fired.
    pub fired: NaiveDate,
    pub owner: Option<String>,
    pub subject: String,
    pub body: String,
    pub due: NaiveDate,
    pub queue: Option<String>,
    pub task_type: TaskType,
    pub priority: Priority,
    /// The contact the task is about: the account's champion when it fired (an email), kept
    /// so that a task re-sent on a later day stays with the person it was written for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// How one trigger came out for one account today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub trigger: Trigger,
    /// Off: no playbook configured for the trigger.
    pub enabled: bool,
    pub fired: bool,
    /// Why it fired, or why not.
    pub why: String,
    /// When it last fired, today included.
    pub last: Option<NaiveDate>,
}

/// The thresholds the triggers read, from `[routing]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub hot_pql_score: u8,
    pub trial_ending_days: i64,
    pub rescue_after_days: i64,
    pub expansion_threshold: u8,
    pub expansion_cooldown_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hot_pql_score: 85,
            trial_ending_days: 2,
            rescue_after_days: 5,
            expansion_threshold: 70,
            expansion_cooldown_days: 30,
        }
    }
}

/// What routing already decided today, which the triggers read.
#[derive(Debug, Clone, Copy)]
pub struct Today<'a> {
    pub as_of: NaiveDate,
    pub motion: Motion,
    pub owner: Option<&'a str>,
    /// The Green activation under way and whether it began today.
    pub green_since: Option<NaiveDate>,
    pub green_continuing: bool,
    /// Since when the PQL score has been at or above the hot line, without a break.
    pub hot_since: Option<NaiveDate>,
    pub hot_continuing: bool,
}

/// Whether a trigger fires today, with the occurrence key when it does.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Fire { key: String, why: String },
    Quiet(String),
}

/// The playbooks' result for one account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fired {
    /// Tasks fired today, in trigger order.
    pub tasks: Vec<Task>,
    /// Tasks fired in the last [`OPEN_DAYS`] days, today's included: what the sync wants.
    pub open: Vec<Task>,
    pub checks: Vec<Check>,
    /// Each trigger's last occurrence, to remember.
    pub last: BTreeMap<Trigger, Last>,
    /// Triggers that fired but whose task could not be rendered for this account: no task,
    /// and the occurrence is not remembered, so it fires again once the template is fixed.
    pub failed: Vec<(Trigger, String)>,
}

/// Evaluate every trigger for one account. `prior_last` and `prior_open` come from the
/// previous decision. Pure.
pub fn evaluate(
    playbooks: &[Playbook],
    thresholds: &Thresholds,
    account: &Account,
    today: Today<'_>,
    prior_last: &BTreeMap<Trigger, Last>,
    prior_open: &[Task],
) -> Fired {
    let as_of = today.as_of;
    let mut fired = Fired {
        last: prior_last.clone(),
        open: prior_open
            .iter()
            .filter(|t| (as_of - t.fired).num_days() < OPEN_DAYS && t.fired < as_of)
            .cloned()
            .collect(),
        ..Fired::default()
    };
    for trigger in Trigger::ALL {
        let playbook = playbooks.iter().find(|p| p.trigger == trigger);
        let last = prior_last.get(&trigger);
        let Some(playbook) = playbook else {
            fired.checks.push(Check {
                trigger,
                enabled: false,
                fired: false,
                why: "no playbook configured".into(),
                last: last.map(|l| l.day),
            });
            continue;
        };
        match outcome(trigger, thresholds, account, &today, last) {
            Outcome::Quiet(why) => fired.checks.push(Check {
                trigger,
                enabled: true,
                fired: false,
                why,
                last: last.map(|l| l.day),
            }),
            Outcome::Fire { key, why } => {
                let task = match task(playbook, account, &today, key.clone()) {
                    Ok(task) => task,
                    Err(e) => {
                        fired.checks.push(Check {
                            trigger,
                            enabled: true,
                            fired: false,
                            why: format!("{why}, but its task was not created: {e}"),
                            last: last.map(|l| l.day),
                        });
                        fired.failed.push((trigger, e));
                        continue;
                    }
                };
                fired.open.retain(|t| t.key != task.key);
                fired.open.push(task.clone());
                fired.tasks.push(task);
                fired.last.insert(trigger, Last { key, day: as_of });
                fired.checks.push(Check {
                    trigger,
                    enabled: true,
                    fired: true,
                    why,
                    last: Some(as_of),
                });
            }
        }
    }
    fired
}

/// One trigger's rule: the prospect gate, then the trigger's own rule. Pure.
fn outcome(
    trigger: Trigger,
    t: &Thresholds,
    a: &Account,
    today: &Today<'_>,
    last: Option<&Last>,
) -> Outcome {
    if trigger.is_prospect()
        && let Some(quiet) = closed_to_prospect_triggers(today.motion)
    {
        return quiet;
    }
    let as_of = today.as_of;
    match trigger {
        Trigger::Green => green(a, today),
        Trigger::HotPql => hot_pql(t, a, today),
        Trigger::MeetingBooked | Trigger::HelpRequested => event(trigger, a, as_of, last),
        Trigger::TrialEnding => trial_ending(t, a, as_of, last),
        Trigger::Rescue => rescue(t, a, as_of, last),
        Trigger::Expansion => expansion(t, a, as_of, last),
    }
}

/// Customers and disqualified accounts get no prospect trigger: why, for such a motion.
fn closed_to_prospect_triggers(motion: Motion) -> Option<Outcome> {
    match motion {
        Motion::Customer => Some(Outcome::Quiet("a customer: no trial triggers".into())),
        Motion::Disqualified => Some(Outcome::Quiet("disqualified: no trial triggers".into())),
        Motion::SelfServe | Motion::SalesAssisted => None,
    }
}

/// The trial part of an occurrence key: `-` for an account without a trial.
fn trial_of(a: &Account) -> &str {
    a.trial_id.as_deref().unwrap_or("-")
}

/// The day the occurrence `key` fired, if it is the trigger's last one.
fn fired_on(last: Option<&Last>, key: &str) -> Option<NaiveDate> {
    last.filter(|l| l.key == key).map(|l| l.day)
}

/// `green`: once per Green activation, on the day it begins.
fn green(a: &Account, today: &Today<'_>) -> Outcome {
    match today.green_since {
        None => Outcome::Quiet(format!("tier is {}", a.tier)),
        Some(since) if today.green_continuing => Outcome::Quiet(format!(
            "Green since {since}: fired once for this activation"
        )),
        Some(since) => Outcome::Fire {
            key: format!("{}:{}:{since}", a.account_id, trial_of(a)),
            why: format!("turned Green (PQL {})", a.pql_score),
        },
    }
}

/// `hot_pql`: once per crossing of the hot line, on the day the score reaches it.
fn hot_pql(t: &Thresholds, a: &Account, today: &Today<'_>) -> Outcome {
    match today.hot_since {
        None => Outcome::Quiet(format!("PQL {} < {}", a.pql_score, t.hot_pql_score)),
        Some(since) if today.hot_continuing => Outcome::Quiet(format!(
            "PQL ≥ {} since {since}: fired once for this crossing",
            t.hot_pql_score
        )),
        Some(since) => Outcome::Fire {
            key: format!("{}:hot_pql:{since}", a.account_id),
            why: format!("PQL {} reached {}", a.pql_score, t.hot_pql_score),
        },
    }
}

/// `meeting_booked` and `help_requested`: once per event, unless pqlsync first sees it more
/// than [`EVENT_DAYS`] old.
fn event(trigger: Trigger, a: &Account, as_of: NaiveDate, last: Option<&Last>) -> Outcome {
    let (event, what) = if trigger == Trigger::MeetingBooked {
        (&a.last_meeting, "meeting booked")
    } else {
        (&a.last_help_request, "help request")
    };
    let Some(event) = event else {
        return Outcome::Quiet(format!("no {what} in the last 14 days"));
    };
    let key = format!("{}:{}:{}", a.account_id, trigger.as_str(), event.id);
    if let Some(day) = fired_on(last, &key) {
        return Outcome::Quiet(format!(
            "{what} {} on {}: fired on {day}",
            event.id, event.day
        ));
    }
    let age = (as_of - event.day).num_days();
    if age > EVENT_DAYS {
        return Outcome::Quiet(format!(
            "{what} on {} is {age} days old (> {EVENT_DAYS}): too late for a task",
            event.day
        ));
    }
    Outcome::Fire {
        key,
        why: format!("{what} on {} ({})", event.day, event.id),
    }
}

/// `trial_ending`: once per live trial, within `trial_ending_days` of its end.
fn trial_ending(t: &Thresholds, a: &Account, as_of: NaiveDate, last: Option<&Last>) -> Outcome {
    if a.trial_status != TrialStatus::Live {
        return Outcome::Quiet("no live trial".into());
    }
    let Some(end) = a.trial_end else {
        return Outcome::Quiet("the trial has no end date".into());
    };
    let left = (end - as_of).num_days();
    if left > t.trial_ending_days {
        return Outcome::Quiet(format!(
            "trial ends {end}, in {left} days (> {})",
            t.trial_ending_days
        ));
    }
    let key = format!("{}:trial_ending:{}", a.account_id, trial_of(a));
    match fired_on(last, &key) {
        Some(day) => Outcome::Quiet(format!("fired for this trial on {day}")),
        None => Outcome::Fire {
            key,
            why: format!(
                "trial ends {end}, in {left} days (≤ {}), no checkout",
                t.trial_ending_days
            ),
        },
    }
}

/// `rescue`: once per live trial still Red on trial day `rescue_after_days` or later.
fn rescue(t: &Thresholds, a: &Account, as_of: NaiveDate, last: Option<&Last>) -> Outcome {
    if a.trial_status != TrialStatus::Live {
        return Outcome::Quiet("no live trial".into());
    }
    let Some(day) = trial_days(a, as_of) else {
        return Outcome::Quiet("the trial has no start date".into());
    };
    if day < t.rescue_after_days {
        return Outcome::Quiet(format!("trial day {day} < {}", t.rescue_after_days));
    }
    if a.tier != Tier::Red {
        return Outcome::Quiet(format!("trial day {day}, tier is {}", a.tier));
    }
    let key = format!("{}:rescue:{}", a.account_id, trial_of(a));
    match fired_on(last, &key) {
        Some(fired) => Outcome::Quiet(format!("fired for this trial on {fired}")),
        None => Outcome::Fire {
            key,
            why: format!("still Red on trial day {day}"),
        },
    }
}

/// `expansion`: a paying customer at or above the threshold, at most once per cooldown.
fn expansion(t: &Thresholds, a: &Account, as_of: NaiveDate, last: Option<&Last>) -> Outcome {
    // Only paying customers have an expansion score (`decision` scores them alone).
    let Some(score) = a.expansion_score else {
        return Outcome::Quiet("not a paying customer".into());
    };
    if score < t.expansion_threshold {
        return Outcome::Quiet(format!(
            "expansion score {score} < {}",
            t.expansion_threshold
        ));
    }
    if let Some(l) = last {
        let since = (as_of - l.day).num_days();
        if since < t.expansion_cooldown_days {
            return Outcome::Quiet(format!(
                "fired {} ({since} days ago): cooldown of {} days until {}",
                l.day,
                t.expansion_cooldown_days,
                l.day + TimeDelta::days(t.expansion_cooldown_days)
            ));
        }
    }
    Outcome::Fire {
        key: format!("{}:expansion:{as_of}", a.account_id),
        why: format!("expansion score {score} reached {}", t.expansion_threshold),
    }
}

/// The template context of one account on one day.
fn context(trigger: Trigger, a: &Account, as_of: NaiveDate) -> minijinja::Value {
    use minijinja::Value;
    let opt = |v: Option<i64>| v.map_or(Value::from(()), Value::from);
    let account = minijinja::context! {
        account => a.name.clone().unwrap_or_else(|| a.account_id.clone()),
        account_id => a.account_id.clone(),
        trigger => trigger.as_str(),
        score => a.pql_score,
        fit_score => a.fit_score,
        usage_score => a.usage_score,
        tier => a.tier.as_str(),
        signals => a.signals.clone(),
        expansion_score => opt(a.expansion_score.map(i64::from)),
        expansion_signals => a.expansion_signals.clone(),
        seats => a.seats,
        trial_day => opt(trial_days(a, as_of)),
        days_left => opt(a.trial_end.map(|end| (end - as_of).num_days())),
    };
    minijinja::context! { ..account, ..champion_context(a.champion.as_ref()) }
}

/// The champion's names in a template: `none` (and empty texts) without a champion.
fn champion_context(c: Option<&User>) -> minijinja::Value {
    use minijinja::Value;
    let none = || Value::from(());
    let email = c
        .and_then(|c| c.email.clone())
        .map_or_else(none, Value::from);
    let mut names: BTreeMap<String, Value> = BTreeMap::from([
        ("champion".to_string(), email.clone()),
        ("champion_email".to_string(), email),
        (
            "champion_score".to_string(),
            c.map_or_else(none, |c| Value::from(c.engagement.score)),
        ),
        (
            "champion_signals".to_string(),
            Value::from(c.map(|c| c.engagement.signals_text()).unwrap_or_default()),
        ),
        (
            "champion_actions".to_string(),
            Value::from(c.map(User::actions_text).unwrap_or_default()),
        ),
    ]);
    for action in KEY_ACTIONS {
        let n = c.and_then(|c| c.action(action.column));
        names.insert(
            format!("champion_{}", action.column),
            n.map_or_else(none, Value::from),
        );
    }
    Value::from(names)
}

/// Render `template` for `account`. Templates are checked when the config is read
/// ([`check_template`]), so a failure here is a value the check could not foresee (a division
/// by a value no sample held): that account's failure, never the template's raw text.
pub fn render(
    template: &str,
    trigger: Trigger,
    account: &Account,
    as_of: NaiveDate,
) -> Result<String, String> {
    let env = environment();
    env.render_str(template, context(trigger, account, as_of))
        .map_err(|e| format!("the {} playbook's template failed: {e}", trigger.as_str()))
}

fn environment() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env
}

/// The names a template may leave absent (`none`): not every account has them. The
/// champion's action counts (`champion_<column>` of [`KEY_ACTIONS`]) are optional numbers too.
const OPTIONAL_NAMES: &[&str] = &[
    "expansion_score",
    "trial_day",
    "days_left",
    "champion",
    "champion_email",
    "champion_score",
];
const NUMBER_NAMES: &[&str] = &[
    "score",
    "fit_score",
    "usage_score",
    "expansion_score",
    "seats",
    "trial_day",
    "days_left",
    "champion_score",
];

/// `champion_<column>`, one of the champion's key-action counts.
fn champion_count(name: &str) -> bool {
    name.strip_prefix("champion_")
        .is_some_and(|c| KEY_ACTIONS.iter().any(|a| a.column == c))
}

fn optional(name: &str) -> bool {
    OPTIONAL_NAMES.contains(&name) || champion_count(name)
}

fn numeric(name: &str) -> bool {
    NUMBER_NAMES.contains(&name) || champion_count(name)
}

/// Check a template: it parses, names only [`TEMPLATE_NAMES`], and renders for the sample
/// decisions an account can produce: the optional names present and absent, and each number
/// in turn at every value from -1 to 100 (scores, seats, trial days, days left), the others
/// at 1, and each optional name absent on its own. A template that fails for one of them (a division by `score - 74`) is refused here,
/// naming the value, rather than failing for the accounts that reach it.
pub fn check_template(template: &str) -> Result<(), String> {
    let env = environment();
    let sample = |present: bool, number: Option<(&str, i64)>| -> BTreeMap<&str, minijinja::Value> {
        TEMPLATE_NAMES
            .iter()
            .map(|(name, _)| {
                let value = match number {
                    Some((n, v)) if n == *name => minijinja::Value::from(v),
                    _ if !present && optional(name) => minijinja::Value::from(()),
                    _ if numeric(name) => minijinja::Value::from(1),
                    _ => minijinja::Value::from("x"),
                };
                (*name, value)
            })
            .collect()
    };
    let names: Vec<&str> = TEMPLATE_NAMES.iter().map(|(n, _)| *n).collect();
    for present in [true, false] {
        env.render_str(template, sample(present, None))
            .map_err(|e| format!("{e} (a template may name {})", names.join(", ")))?;
    }
    for name in names.iter().filter(|n| numeric(n)) {
        for value in -1..=100 {
            env.render_str(template, sample(true, Some((name, value))))
                .map_err(|e| format!("{e} when {name} is {value}"))?;
        }
    }
    // Each optional name absent on its own: a champion whose user_features has no column
    // for one of the key actions still has the others.
    for name in names.iter().filter(|n| optional(n)) {
        let mut one_absent = sample(true, None);
        one_absent.insert(name, minijinja::Value::from(()));
        env.render_str(template, one_absent)
            .map_err(|e| format!("{e} when {name} is none"))?;
    }
    Ok(())
}

fn task(p: &Playbook, a: &Account, today: &Today<'_>, key: String) -> Result<Task, String> {
    let as_of = today.as_of;
    Ok(Task {
        key,
        trigger: p.trigger,
        fired: as_of,
        owner: today.owner.map(str::to_string),
        subject: render(&p.subject, p.trigger, a, as_of)?,
        body: render(&p.body, p.trigger, a, as_of)?,
        due: as_of + TimeDelta::days(p.due_days),
        queue: p.queue.clone(),
        task_type: p.task_type,
        priority: p.priority,
        contact: a.champion.as_ref().and_then(|c| c.email.clone()),
    })
}

#[cfg(test)]
#[path = "playbook_tests.rs"]
mod tests;
