//! Lead and deal stages, and the rules for moving between them.
//!
//! Lifecycle steps only move forward: New → Interested → Free Trial Active (Red/Yellow/Green) →
//! Trial Ended → Disqualified / Self Checked Out. Within the trial step the tier moves freely.
//! Two moves look backwards but are new lifecycle events, not regressions: a new trial reopens
//! the trial step after Trial Ended or Disqualified, and an extended trial (live again) reopens
//! it after Trial Ended. Nothing leaves Self Checked Out: a customer never returns to trial.

use serde::{Deserialize, Serialize};

use super::{Account, Motion, TrialStatus};
use crate::score::Tier;

/// HubSpot lead stage (mirrors the trial deal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStage {
    New,
    Interested,
    TrialRed,
    TrialYellow,
    TrialGreen,
    TrialEnded,
    SelfCheckedOut,
    Disqualified,
}

impl LeadStage {
    pub const ALL: [LeadStage; 8] = [
        LeadStage::New,
        LeadStage::Interested,
        LeadStage::TrialRed,
        LeadStage::TrialYellow,
        LeadStage::TrialGreen,
        LeadStage::TrialEnded,
        LeadStage::SelfCheckedOut,
        LeadStage::Disqualified,
    ];

    pub fn parse(s: &str) -> Option<LeadStage> {
        LeadStage::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStage::New => "new",
            LeadStage::Interested => "interested",
            LeadStage::TrialRed => "trial_red",
            LeadStage::TrialYellow => "trial_yellow",
            LeadStage::TrialGreen => "trial_green",
            LeadStage::TrialEnded => "trial_ended",
            LeadStage::SelfCheckedOut => "self_checked_out",
            LeadStage::Disqualified => "disqualified",
        }
    }

    /// Position in the lifecycle; stages of equal step may replace each other.
    fn step(self) -> u8 {
        match self {
            LeadStage::New => 0,
            LeadStage::Interested => 1,
            LeadStage::TrialRed | LeadStage::TrialYellow | LeadStage::TrialGreen => 2,
            LeadStage::TrialEnded => 3,
            LeadStage::Disqualified => 4,
            LeadStage::SelfCheckedOut => 5,
        }
    }

    pub fn is_trial(self) -> bool {
        self.step() == 2
    }

    pub fn trial(tier: Tier) -> LeadStage {
        match tier {
            Tier::Red => LeadStage::TrialRed,
            Tier::Yellow => LeadStage::TrialYellow,
            Tier::Green => LeadStage::TrialGreen,
        }
    }
}

/// HubSpot deal stage of the trial deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DealStage {
    TrialSelfServed,
    TrialSalesAssisted,
    ClosedWon,
    ClosedLost,
}

impl DealStage {
    pub const ALL: [DealStage; 4] = [
        DealStage::TrialSelfServed,
        DealStage::TrialSalesAssisted,
        DealStage::ClosedWon,
        DealStage::ClosedLost,
    ];

    pub fn parse(s: &str) -> Option<DealStage> {
        DealStage::ALL.into_iter().find(|d| d.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DealStage::TrialSelfServed => "trial_self_served",
            DealStage::TrialSalesAssisted => "trial_sales_assisted",
            DealStage::ClosedWon => "closed_won",
            DealStage::ClosedLost => "closed_lost",
        }
    }
}

/// What happened to the trial since the previous decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transition {
    /// The account started a different trial than last time.
    pub new_trial: bool,
    /// The trial is live now (after Trial Ended, that means it was extended).
    pub trial_live: bool,
}

/// The lead stage the facts call for, before the no-going-back rule.
pub fn lead_target(motion: Motion, account: &Account) -> LeadStage {
    match (motion, account.trial_status) {
        (Motion::Customer, _) => LeadStage::SelfCheckedOut,
        (Motion::Disqualified, _) => LeadStage::Disqualified,
        (_, TrialStatus::Live) => LeadStage::trial(account.tier),
        (_, TrialStatus::Ended) => LeadStage::TrialEnded,
        (_, TrialStatus::None) if account.ever_active => LeadStage::Interested,
        (_, TrialStatus::None) => LeadStage::New,
    }
}

/// Move from `prior` towards `target` without going back a lifecycle step. Pure.
pub fn advance_lead(prior: Option<LeadStage>, target: LeadStage, t: Transition) -> LeadStage {
    let Some(prior) = prior else {
        return target;
    };
    if target.step() >= prior.step() {
        return target;
    }
    let reopens = target.is_trial()
        && match prior {
            LeadStage::TrialEnded => t.new_trial || t.trial_live,
            LeadStage::Disqualified => t.new_trial,
            _ => false,
        };
    if reopens { target } else { prior }
}

/// The deal stage the facts call for; `None` when there is no trial (no deal).
pub fn deal_target(motion: Motion, account: &Account) -> Option<DealStage> {
    account.trial_id.as_ref()?;
    Some(match motion {
        Motion::Customer => DealStage::ClosedWon,
        Motion::Disqualified => DealStage::ClosedLost,
        Motion::SalesAssisted => DealStage::TrialSalesAssisted,
        Motion::SelfServe => DealStage::TrialSelfServed,
    })
}

/// Move the deal of the same trial from `prior` towards `target`. Once a human stepped in the
/// deal stays sales-assisted; Closed Won is final; a lost deal can still be won by a purchase.
pub fn advance_deal(prior: Option<DealStage>, target: Option<DealStage>) -> Option<DealStage> {
    use DealStage::*;
    let Some(prior) = prior else {
        return target;
    };
    let Some(target) = target else {
        return Some(prior);
    };
    Some(match (prior, target) {
        (ClosedWon, _) => ClosedWon,
        (ClosedLost, ClosedWon) => ClosedWon,
        (ClosedLost, _) => ClosedLost,
        (TrialSalesAssisted, TrialSelfServed) => TrialSalesAssisted,
        (_, target) => target,
    })
}
