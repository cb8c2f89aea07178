//! Routing: given an account's facts and score, and what was decided for it last run, decide
//! its motion (self-serve, sales-assisted, disqualified, customer), its owner, its lead and deal
//! stage, and whether the rep gets a task.
//!
//! The rules follow the PLG playbook RevOps teams run in HubSpot: accounts with 50+ seats go to
//! enterprise sales; a help request, a booked meeting or a trial that drags on without reaching
//! Green brings in a human; a trial that ends Red is disqualified; a paid subscription closes
//! the deal. Stages only move forward across lifecycle steps (the trial tier may move freely
//! while the trial is live), so the previous decision ([`Memory`]) is an input. The moments a
//! rep should step in (turning Green, a hot PQL, a meeting, a help request, a trial ending, a
//! trial to rescue, a customer ready to expand) are playbooks (`playbook`), each a task in its
//! queue once per occurrence. Every function here is pure over plain data; persistence of
//! [`Memory`] is the `state` module's job.

pub mod config;
mod held;
mod owner;
pub mod playbook;
mod stage;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use held::{Held, HeldStage};
pub use owner::assign_owner;
pub use playbook::{Check, Event, Last, Playbook, Priority, Task, TaskType, Thresholds, Trigger};
pub use stage::{DealStage, LeadStage, advance_deal, advance_lead};

use crate::score::{Condition, Tier};

/// Who works the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Motion {
    SelfServe,
    SalesAssisted,
    Disqualified,
    Customer,
}

impl Motion {
    pub const ALL: [Motion; 4] = [
        Motion::SelfServe,
        Motion::SalesAssisted,
        Motion::Disqualified,
        Motion::Customer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Motion::SelfServe => "self_serve",
            Motion::SalesAssisted => "sales_assisted",
            Motion::Disqualified => "disqualified",
            Motion::Customer => "customer",
        }
    }
}

/// Trial state as computed by the feature SQL (`trial_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialStatus {
    None,
    Live,
    Ended,
}

impl TrialStatus {
    pub fn parse(s: Option<&str>) -> TrialStatus {
        match s.map(str::trim) {
            Some(s) if s.eq_ignore_ascii_case("live") => TrialStatus::Live,
            Some(s) if s.eq_ignore_ascii_case("ended") => TrialStatus::Ended,
            _ => TrialStatus::None,
        }
    }
}

/// A disqualification rule from `[[routing.disqualify]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub condition: Condition,
    pub reason: String,
}

/// Owner pools (emails until the HubSpot owners API resolves them to ids).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnerPools {
    pub enterprise: Vec<String>,
    pub self_serve: Vec<String>,
}

impl OwnerPools {
    /// Every owner routing may assign, enterprise pool first.
    pub fn all(&self) -> Vec<String> {
        self.enterprise
            .iter()
            .chain(&self.self_serve)
            .cloned()
            .collect()
    }
}

/// The validated `[routing]` config.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub enterprise_seats: i64,
    pub sales_assist_after_days: i64,
    pub task_due_days: i64,
    pub paid_statuses: Vec<String>,
    pub owners: OwnerPools,
    pub disqualify: Vec<Rule>,
    pub thresholds: Thresholds,
    /// The enabled playbooks, one per trigger at most.
    pub playbooks: Vec<Playbook>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            enterprise_seats: 50,
            sales_assist_after_days: 7,
            task_due_days: 1,
            paid_statuses: vec!["active".into(), "past_due".into()],
            owners: OwnerPools::default(),
            disqualify: Vec::new(),
            thresholds: Thresholds::default(),
            playbooks: vec![Playbook::green(1)],
        }
    }
}

impl Policy {
    pub fn playbook(&self, trigger: Trigger) -> Option<&Playbook> {
        self.playbooks.iter().find(|p| p.trigger == trigger)
    }
}

/// The facts routing needs about one account, already read out of its feature row.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub account_id: String,
    pub seats: i64,
    pub tier: Tier,
    pub pql_score: u8,
    pub help_requested: bool,
    pub meeting_booked: bool,
    pub trial_status: TrialStatus,
    /// Identifies the trial (and its deal); a different id is a new trial.
    pub trial_id: Option<String>,
    pub trial_start: Option<NaiveDate>,
    pub subscription_status: Option<String>,
    pub mrr: i64,
    /// Any product activity ever (distinguishes Interested from New).
    pub ever_active: bool,
    /// The reason of the first `[[routing.disqualify]]` rule the account matches.
    pub persona_disqualified: Option<String>,
    /// What task templates may name.
    pub name: Option<String>,
    pub fit_score: u8,
    pub usage_score: u8,
    pub signals: String,
    /// The expansion score, for paying customers only.
    pub expansion_score: Option<u8>,
    pub expansion_signals: String,
    pub trial_end: Option<NaiveDate>,
    /// The latest meeting booked and help request of the last 14 days.
    pub last_meeting: Option<Event>,
    pub last_help_request: Option<Event>,
    /// The account's most engaged user with an email, whom tasks are about.
    pub champion: Option<crate::score::people::User>,
}

/// What routing remembers about an account between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    pub as_of: NaiveDate,
    pub motion: Motion,
    pub owner: Option<String>,
    pub lead_stage: LeadStage,
    pub deal_stage: Option<DealStage>,
    pub trial_id: Option<String>,
    pub tier: Tier,
    /// The day the current Green activation began, if Green now.
    pub green_since: Option<NaiveDate>,
    /// The day the PQL score last rose to the hot line, if at or above it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hot_since: Option<NaiveDate>,
    /// Each trigger's last occurrence.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub last: BTreeMap<Trigger, Last>,
    /// Tasks fired in the last `playbook::OPEN_DAYS` days, sent until HubSpot has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<Task>,
}

/// The routing decision for one account.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub motion: Motion,
    pub owner: Option<String>,
    pub lead_stage: LeadStage,
    pub deal_stage: Option<DealStage>,
    /// Tasks fired by today's decision, one per trigger that fired. The tasks the sync wants
    /// are `memory.open`: the last week's, today's included.
    pub tasks: Vec<Task>,
    /// Every trigger: whether it fired, why or why not, when it last fired.
    pub checks: Vec<Check>,
    /// Triggers that fired but whose task template failed for this account (no task made).
    pub task_failures: Vec<(Trigger, String)>,
    /// Why: the rule that set the motion, and any stage that was held back.
    pub reason: String,
    /// What to remember for the next run.
    pub memory: Memory,
}

/// Whether the account pays: a paid subscription status and positive MRR.
pub fn is_customer(policy: &Policy, account: &Account) -> bool {
    account.mrr > 0
        && account.subscription_status.as_deref().is_some_and(|s| {
            policy
                .paid_statuses
                .iter()
                .any(|p| p.eq_ignore_ascii_case(s))
        })
}

/// Days since the trial started, counting the start day as day 0.
pub fn trial_days(account: &Account, as_of: NaiveDate) -> Option<i64> {
    account.trial_start.map(|s| (as_of - s).num_days())
}

/// The motion and the rule that chose it. `sticky` is the previous motion when the account
/// is still in the same trial. Pure.
pub fn motion(
    policy: &Policy,
    account: &Account,
    sticky: Option<Motion>,
    as_of: NaiveDate,
) -> (Motion, String) {
    if is_customer(policy, account) {
        let status = account.subscription_status.as_deref().unwrap_or("");
        return (
            Motion::Customer,
            format!("paid subscription ({status}, MRR {})", account.mrr),
        );
    }
    if sticky == Some(Motion::Customer) {
        let status = account.subscription_status.as_deref().unwrap_or("none");
        return (
            Motion::Customer,
            format!("was a customer in this trial (subscription now {status})"),
        );
    }
    if let Some(reason) = &account.persona_disqualified {
        return (Motion::Disqualified, format!("disqualified: {reason}"));
    }
    if account.trial_status == TrialStatus::Ended && account.tier == Tier::Red {
        return (Motion::Disqualified, "trial ended Red".into());
    }
    if sticky == Some(Motion::Disqualified) {
        return (
            Motion::Disqualified,
            "stays disqualified for this trial".into(),
        );
    }
    if account.seats >= policy.enterprise_seats {
        return (
            Motion::SalesAssisted,
            format!(
                "seats {} ≥ {} (enterprise)",
                account.seats, policy.enterprise_seats
            ),
        );
    }
    if account.help_requested {
        return (Motion::SalesAssisted, "asked for help".into());
    }
    if account.meeting_booked {
        return (Motion::SalesAssisted, "booked a meeting".into());
    }
    if account.trial_status == TrialStatus::Live
        && account.tier != Tier::Green
        && let Some(days) = trial_days(account, as_of)
        && days >= policy.sales_assist_after_days
    {
        return (
            Motion::SalesAssisted,
            format!(
                "trial day {days} ≥ {} and not Green",
                policy.sales_assist_after_days
            ),
        );
    }
    if account.trial_status == TrialStatus::Ended {
        return (Motion::SalesAssisted, "trial ended without checkout".into());
    }
    if sticky == Some(Motion::SalesAssisted) {
        return (
            Motion::SalesAssisted,
            "stays sales-assisted for this trial".into(),
        );
    }
    if account.tier == Tier::Green {
        return (
            Motion::SelfServe,
            format!(
                "Green and seats {} < {}",
                account.seats, policy.enterprise_seats
            ),
        );
    }
    (Motion::SelfServe, format!("self-serve ({})", account.tier))
}

/// Route one account with nothing read from HubSpot. Pure: the same inputs always give the
/// same decision.
pub fn route(
    policy: &Policy,
    account: &Account,
    prior: Option<&Memory>,
    as_of: NaiveDate,
) -> Route {
    route_with(policy, account, prior, None, as_of)
}

/// Route one account from what HubSpot holds for it now (`held`) and what was decided last
/// run (`prior`): HubSpot's owner and stages win over the memory, and a person's decision
/// there sets the motion (see `held`). Pure.
pub fn route_with(
    policy: &Policy,
    account: &Account,
    prior: Option<&Memory>,
    held: Option<&Held>,
    as_of: NaiveDate,
) -> Route {
    let same_trial = prior.is_some_and(|p| p.trial_id == account.trial_id);
    let sticky = prior.filter(|_| same_trial).map(|p| p.motion);
    let person = held.and_then(|h| h.person_motion(account));
    let (motion, mut reason) = held::with_person(motion(policy, account, sticky, as_of), person);

    let stages = stages(motion, account, prior, held, same_trial);
    if let Some(held_back) = stages.held_back() {
        reason.push_str(&held_back);
    }
    let held_owner = held.and_then(|h| h.owner.as_deref());
    let owner = assign_owner(
        policy,
        account,
        held_owner.or(prior.and_then(|p| p.owner.as_deref())),
    );
    let streaks = streaks(
        &policy.thresholds,
        account,
        motion,
        prior,
        same_trial,
        as_of,
    );

    let no_last = BTreeMap::new();
    let fired = playbook::evaluate(
        &policy.playbooks,
        &policy.thresholds,
        account,
        streaks.today(as_of, motion, owner.as_deref()),
        prior.map_or(&no_last, |p| &p.last),
        prior.map_or(&[], |p| p.open.as_slice()),
    );

    let memory = Memory {
        as_of,
        motion,
        owner: owner.clone(),
        lead_stage: stages.lead,
        deal_stage: stages.deal,
        trial_id: account.trial_id.clone(),
        tier: account.tier,
        green_since: streaks.green_since,
        hot_since: streaks.hot_since,
        last: fired.last,
        open: fired.open,
    };
    Route {
        motion,
        owner,
        lead_stage: stages.lead,
        deal_stage: stages.deal,
        tasks: fired.tasks,
        checks: fired.checks,
        task_failures: fired.failed,
        reason,
        memory,
    }
}

/// The stages routing settles on, and the lead stage today's facts call for (its target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stages {
    lead: LeadStage,
    lead_target: LeadStage,
    deal: Option<DealStage>,
}

impl Stages {
    /// What the route reason adds when the lead stage was held back from its target.
    fn held_back(&self) -> Option<String> {
        (self.lead != self.lead_target).then(|| {
            format!(
                "; lead stays {} (not back to {})",
                self.lead.as_str(),
                self.lead_target.as_str()
            )
        })
    }
}

/// The lead and deal stages: each moves only forward from where HubSpot holds it, else from
/// the previous decision (the deal's only within the same trial: a new trial is a new deal).
fn stages(
    motion: Motion,
    account: &Account,
    prior: Option<&Memory>,
    held: Option<&Held>,
    same_trial: bool,
) -> Stages {
    let lead_target = stage::lead_target(motion, account);
    let held_lead = held.and_then(|h| h.lead).map(|l| l.stage);
    let lead = advance_lead(
        held_lead.or(prior.map(|p| p.lead_stage)),
        lead_target,
        stage::Transition {
            new_trial: (prior.is_some() && !same_trial && account.trial_id.is_some())
                || held.is_some_and(|h| h.lead_predates_trial(account)),
            // A person's Trial Ended is their call, not a trial that ended and was extended.
            trial_live: account.trial_status == TrialStatus::Live
                && !held.and_then(|h| h.lead).is_some_and(|l| l.by_person),
        },
    );
    let held_deal = held.and_then(|h| h.deal_of(account)).map(|d| d.stage);
    let deal = advance_deal(
        held_deal.or(prior.filter(|_| same_trial).and_then(|p| p.deal_stage)),
        stage::deal_target(motion, account),
    );
    Stages {
        lead,
        lead_target,
        deal,
    }
}

/// The Green activation and the hot-PQL crossing under way today: since when, and whether
/// each carries on from the previous decision (then its trigger has fired already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Streaks {
    green_since: Option<NaiveDate>,
    green_continuing: bool,
    hot_since: Option<NaiveDate>,
    hot_continuing: bool,
}

impl Streaks {
    /// What the triggers read of today's decision.
    fn today<'a>(
        self,
        as_of: NaiveDate,
        motion: Motion,
        owner: Option<&'a str>,
    ) -> playbook::Today<'a> {
        playbook::Today {
            as_of,
            motion,
            owner,
            green_since: self.green_since,
            green_continuing: self.green_continuing,
            hot_since: self.hot_since,
            hot_continuing: self.hot_continuing,
        }
    }
}

/// Today's streaks. Customers and disqualified accounts have none.
fn streaks(
    thresholds: &Thresholds,
    account: &Account,
    motion: Motion,
    prior: Option<&Memory>,
    same_trial: bool,
    as_of: NaiveDate,
) -> Streaks {
    let prospect = !matches!(motion, Motion::Customer | Motion::Disqualified);
    // A Green activation starts when the account turns Green (or a new trial is Green at
    // once); it lasts while it stays Green.
    let green = account.tier == Tier::Green && prospect;
    let continuing = prior
        .filter(|p| same_trial && p.tier == Tier::Green)
        .and_then(|p| p.green_since);
    // A crossing of the hot-PQL line lasts while the score stays at or above it.
    let hot = account.pql_score >= thresholds.hot_pql_score && prospect;
    let hot_continuing = prior.and_then(|p| p.hot_since);
    Streaks {
        green_since: green.then(|| continuing.unwrap_or(as_of)),
        green_continuing: green && continuing.is_some(),
        hot_since: hot.then(|| hot_continuing.unwrap_or(as_of)),
        hot_continuing: hot && hot_continuing.is_some(),
    }
}

#[cfg(test)]
mod tests;
