//! What a sync did, for the run summary and `--summary-json`: counts per object type and for
//! associations, the records that failed (also the failure ledger), why the run stopped early,
//! the request counters the caller fills in from its CRM, and what reading HubSpot back before
//! deciding found (`Listened`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::state::FailureRecord;

/// Counts for one object type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Found in HubSpot by its unique property and adopted (no duplicate created).
    pub adopted: usize,
    pub failed: usize,
    /// Waiting for a record they depend on (e.g. a lead's contact) to be written.
    pub pending: usize,
    /// Holding a value a person set in HubSpot, which the run left as it is.
    #[serde(skip_serializing_if = "is_zero")]
    pub kept: usize,
    /// Confirmed once, but HubSpot no longer has them (found on reading back): recreated.
    #[serde(skip_serializing_if = "is_zero")]
    pub gone: usize,
    /// Moved to HubSpot's recycling bin (a revert's `--archive-created-tasks`).
    #[serde(skip_serializing_if = "is_zero")]
    pub archived: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub mode: String,
    /// The id this run's change log is filed under (`pqlsync changes --run ID`), when one is
    /// kept; and how many entries it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub changes: usize,
    pub objects: BTreeMap<String, Counts>,
    pub associations: Counts,
    pub failures: Vec<FailureRecord>,
    /// Contacts not sent because HubSpot would refuse their email (not failures: they would
    /// fail every run until the product's data is fixed).
    pub refused: Vec<super::model::Refused>,
    /// Values sent clipped to HubSpot's string limit.
    pub clipped: Vec<super::model::Clipped>,
    pub stopped: Option<String>,
    /// The stop was HubSpot refusing the token or its scopes: the run fails (exit 2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped_for_credentials: bool,
    pub warnings: Vec<String>,
    pub requests: u64,
    pub write_requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub outputs: Vec<String>,
    pub seconds: f64,
    /// What was read back from HubSpot before deciding (a portal only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listened: Option<Listened>,
}

impl SyncReport {
    pub fn failed(&self) -> usize {
        self.failures.len()
    }
}

/// What one read-back found, per object type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ListenCounts {
    /// Records read.
    pub read: usize,
    /// Of those, records holding a value a person set (differing from pqlsync's).
    pub changed_in_hubspot: usize,
    /// Records that could not be read: their accounts are not written this run.
    pub unread: usize,
    /// Records pqlsync had confirmed that HubSpot no longer has (a reset or restored portal,
    /// a record deleted there): forgotten, so this run recreates them.
    #[serde(skip_serializing_if = "is_zero")]
    pub gone: usize,
}

/// What the read-back before deciding found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Listened {
    pub objects: BTreeMap<String, ListenCounts>,
    /// Records that could not be read, with HubSpot's reason.
    pub failures: Vec<FailureRecord>,
    /// Accounts with a record that could not be read: nothing of theirs is written this run.
    pub held_back: BTreeSet<String>,
    pub requests: u64,
    pub seconds: f64,
    /// Why reading stopped early (a daily limit, a refused token), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}
