//! What the sync knows HubSpot holds: per record, its HubSpot id and the property values
//! HubSpot last confirmed, and the associations it confirmed. A run sends only what differs
//! from this, and a record enters it only after HubSpot accepted the write — so a failed or
//! interrupted run leaves the unconfirmed records to be sent again.
//!
//! The failure ledger lists the records the last run could not write, with HubSpot's reason;
//! they stay out of the state, so the next run retries them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::Link;
use crate::hubspot::ObjectType;

pub const STATE_FILE: &str = "hubspot.json";
pub const LEDGER_FILE: &str = "failures.json";

/// A record as HubSpot confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synced {
    pub id: String,
    #[serde(default)]
    pub props: BTreeMap<String, String>,
}

/// The sync's memory of one portal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    pub version: u32,
    /// The API base URL these ids belong to; ids of another portal mean nothing here.
    pub portal: Option<String>,
    #[serde(default)]
    pub objects: BTreeMap<ObjectType, BTreeMap<String, Synced>>,
    #[serde(default)]
    pub links: BTreeSet<Link>,
}

impl SyncState {
    pub fn get(&self, object: ObjectType, key: &str) -> Option<&Synced> {
        self.objects.get(&object)?.get(key)
    }

    pub fn id(&self, object: ObjectType, key: &str) -> Option<&str> {
        self.get(object, key).map(|s| s.id.as_str())
    }

    /// HubSpot confirmed `props` on record `key` with `id` (merged into what it confirmed before).
    pub fn confirm(
        &mut self,
        object: ObjectType,
        key: &str,
        id: &str,
        props: &BTreeMap<String, String>,
    ) {
        let entry = self
            .objects
            .entry(object)
            .or_default()
            .entry(key.to_string())
            .or_insert_with(|| Synced {
                id: id.to_string(),
                props: BTreeMap::new(),
            });
        entry.id = id.to_string();
        for (k, v) in props {
            entry.props.insert(k.clone(), v.clone());
        }
    }

    pub fn records(&self, object: ObjectType) -> usize {
        self.objects.get(&object).map_or(0, BTreeMap::len)
    }
}

/// One record the last run could not write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub object: String,
    pub key: String,
    pub operation: String,
    pub status: Option<u16>,
    pub category: Option<String>,
    pub message: String,
    pub correlation_id: Option<String>,
}

/// The failure ledger of the last run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub as_of: Option<NaiveDate>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    pub failures: Vec<FailureRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_merge() {
        let mut s = SyncState::default();
        s.confirm(
            ObjectType::Companies,
            "a",
            "1",
            &BTreeMap::from([("x".to_string(), "1".to_string())]),
        );
        s.confirm(
            ObjectType::Companies,
            "a",
            "1",
            &BTreeMap::from([("y".to_string(), "2".to_string())]),
        );
        let r = s.get(ObjectType::Companies, "a").unwrap();
        assert_eq!(r.props.len(), 2);
        assert_eq!(s.id(ObjectType::Companies, "a"), Some("1"));
        assert_eq!(s.records(ObjectType::Contacts), 0);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SyncState>(&json).unwrap(), s);
    }
}
