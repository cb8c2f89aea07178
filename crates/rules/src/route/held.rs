//! What HubSpot holds for an account now, as routing takes it: the owner, the trial deal's
//! stage and the lead's stage, each read back from the portal before deciding, and whether a
//! person (a rep, a manager, a workflow) set it rather than pqlsync. HubSpot is where the sales
//! team works, so these values are where routing starts from, not pqlsync's own memory:
//! - the owner HubSpot shows is the account's owner; routing pools only fill an empty one;
//! - stages move only forward from where HubSpot has them;
//! - a person's decision sets the motion: a deal moved to Sales-Assisted makes the trial
//!   sales-assisted, a deal closed lost or a lead disqualified disqualifies the trial, unless
//!   the account pays (Stripe wins: the deal closes won, the lead checks out).
//!
//! Pure data and pure functions; reading the portal is the `sync` module's job.

use chrono::NaiveDate;

use super::{Account, DealStage, LeadStage, Motion};

/// One stage as HubSpot holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldStage<S> {
    pub stage: S,
    /// HubSpot's value differs from the one pqlsync last wrote: a person (or a workflow) set it.
    pub by_person: bool,
    /// The day pqlsync first saw a person's value, when `by_person`.
    pub since: Option<NaiveDate>,
}

/// What HubSpot holds for one account, as read this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    /// The company's owner (email, or `hubspot:ID` for an owner the portal does not list).
    pub owner: Option<String>,
    /// The stages of the account's trial deals, by trial id.
    pub deals: Vec<(String, HeldStage<DealStage>)>,
    pub lead: Option<HeldStage<LeadStage>>,
}

impl Held {
    /// The deal's stage when it is the deal of `account`'s current trial.
    pub fn deal_of(&self, account: &Account) -> Option<HeldStage<DealStage>> {
        let trial = account.trial_id.as_deref()?;
        self.deals
            .iter()
            .find(|(t, _)| t == trial)
            .map(|(_, stage)| *stage)
    }

    /// A person set the lead's stage before the account's current trial started: the new
    /// trial is a new lifecycle event, which may reopen the lead.
    pub fn lead_predates_trial(&self, account: &Account) -> bool {
        self.lead
            .is_some_and(|l| l.by_person && started_after(account, l.since))
    }

    /// The motion a person's change in HubSpot calls for, with the reason; `None` when no
    /// person decided anything routing must follow.
    pub fn person_motion(&self, account: &Account) -> Option<(Motion, String)> {
        let deal = self.deal_of(account).filter(|d| d.by_person);
        let lead = self.lead.filter(|l| l.by_person);
        if deal.is_some_and(|d| d.stage == DealStage::ClosedLost) {
            return Some((
                Motion::Disqualified,
                format!("closed lost in HubSpot by a person{}", on(deal)),
            ));
        }
        // A person's disqualification from before the current trial started does not hold
        // the new trial back: a new trial reopens a disqualified lead, as the stage rules say.
        if let Some(l) = lead.filter(|l| l.stage == LeadStage::Disqualified)
            && !started_after(account, l.since)
        {
            return Some((
                Motion::Disqualified,
                format!("disqualified in HubSpot by a person{}", on(Some(l))),
            ));
        }
        if deal.is_some_and(|d| d.stage == DealStage::TrialSalesAssisted) {
            return Some((
                Motion::SalesAssisted,
                format!("moved to Sales-Assisted in HubSpot by a person{}", on(deal)),
            ));
        }
        None
    }
}

/// The trial started after a person's change was first seen: the change was about an earlier
/// trial.
fn started_after(account: &Account, since: Option<NaiveDate>) -> bool {
    matches!((account.trial_start, since), (Some(start), Some(seen)) if start > seen)
}

fn on<S>(stage: Option<HeldStage<S>>) -> String {
    stage
        .and_then(|s| s.since)
        .map_or_else(String::new, |d| format!(" (seen {d})"))
}

/// The motion after a person's decision: paying wins over everything, a person's
/// disqualification over the rules, and a person's Sales-Assisted over self-serve and over the
/// rules' own reasons for sales-assisted (the reason then says a person did it).
pub fn with_person(rules: (Motion, String), person: Option<(Motion, String)>) -> (Motion, String) {
    match (rules.0, person) {
        (Motion::Customer, _) | (_, None) => rules,
        (_, Some(p)) if p.0 == Motion::Disqualified => p,
        (Motion::SelfServe | Motion::SalesAssisted, Some(p)) => p,
        (_, Some(_)) => rules,
    }
}
