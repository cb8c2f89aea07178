//! What a sync did, for the run summary and `--summary-json`: counts per object type and for
//! associations, the records that failed (also the failure ledger), why the run stopped early,
//! and the request counters the caller fills in from its CRM.

use std::collections::BTreeMap;

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
}

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub mode: String,
    pub objects: BTreeMap<String, Counts>,
    pub associations: Counts,
    pub failures: Vec<FailureRecord>,
    /// Contacts not sent because HubSpot would refuse their email (not failures: they would
    /// fail every run until the product's data is fixed).
    pub refused: Vec<super::model::Refused>,
    /// Values sent clipped to HubSpot's string limit.
    pub clipped: Vec<super::model::Clipped>,
    pub stopped: Option<String>,
    pub warnings: Vec<String>,
    pub requests: u64,
    pub write_requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub outputs: Vec<String>,
    pub seconds: f64,
}

impl SyncReport {
    pub fn failed(&self) -> usize {
        self.failures.len()
    }
}
