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
use pqlsync_hubspot::ObjectType;

pub const STATE_FILE: &str = "hubspot.json";
pub const LEDGER_FILE: &str = "failures.json";

/// A record as HubSpot confirmed it, and as HubSpot holds it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Synced {
    pub id: String,
    /// The values pqlsync last wrote (or adopted), as HubSpot confirmed them.
    #[serde(default)]
    pub props: BTreeMap<String, String>,
    /// HubSpot's values of the properties read back before deciding (owner, stages, task
    /// status), as of the last read; `""` for a property HubSpot holds no value for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held: BTreeMap<String, String>,
    /// The values a person (or a workflow) set in HubSpot, differing from pqlsync's, with the
    /// day pqlsync first saw each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub person: BTreeMap<String, Seen>,
    /// The account the record belongs to, once a write of pqlsync's confirmed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// A person's value of one property, and the day pqlsync first saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub value: String,
    pub since: NaiveDate,
}

impl Synced {
    /// What HubSpot holds for `property`: the value read back this run, else the one pqlsync
    /// last confirmed.
    pub fn current(&self, property: &str) -> Option<&String> {
        self.held.get(property).or_else(|| self.props.get(property))
    }
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
    /// Records sent in a create whose outcome HubSpot has not confirmed (the run was killed,
    /// or the answer was lost): they may exist, so the next run looks for them before
    /// creating them again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pending: BTreeMap<ObjectType, BTreeSet<String>>,
    /// The day HubSpot's values were last read back (`held`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_on: Option<NaiveDate>,
    /// What the portal's ids mean, as of the last read: a stage id → pqlsync's stage name, an
    /// owner id → the owner's email. The `crm.*` tables show names with them, offline too.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, String>,
}

impl SyncState {
    pub fn get(&self, object: ObjectType, key: &str) -> Option<&Synced> {
        self.objects.get(&object)?.get(key)
    }

    pub fn id(&self, object: ObjectType, key: &str) -> Option<&str> {
        self.get(object, key).map(|s| s.id.as_str())
    }

    /// HubSpot confirmed `props` on record `key` with `id` (merged into what it confirmed before).
    pub fn confirm<'a, K: AsRef<str> + 'a>(
        &mut self,
        object: ObjectType,
        key: &str,
        id: &str,
        props: impl IntoIterator<Item = (&'a K, &'a String)>,
    ) {
        let entry = self
            .objects
            .entry(object)
            .or_default()
            .entry(key.to_string())
            .or_insert_with(|| Synced {
                id: id.to_string(),
                props: BTreeMap::new(),
                held: BTreeMap::new(),
                person: BTreeMap::new(),
                account: None,
            });
        entry.id = id.to_string();
        for (k, v) in props {
            let k = k.as_ref();
            // HubSpot holds what it just confirmed; a person's earlier value is gone.
            if let Some(held) = entry.held.get_mut(k) {
                held.clone_from(v);
            }
            entry.person.remove(k);
            entry.props.insert(k.to_string(), v.clone());
        }
        self.settle(object, key);
    }

    /// HubSpot no longer has record `key`: forget it and its associations, so the next plan
    /// creates them again.
    pub fn forget(&mut self, object: ObjectType, key: &str) {
        if let Some(records) = self.objects.get_mut(&object) {
            records.remove(key);
        }
        self.links.retain(|l| {
            !((l.from == object && l.from_key == key) || (l.to == object && l.to_key == key))
        });
        self.settle(object, key);
    }

    /// Remember that record `key` belongs to `account`.
    pub fn belongs(&mut self, object: ObjectType, key: &str, account: &str) {
        if let Some(r) = self.objects.get_mut(&object).and_then(|o| o.get_mut(key))
            && r.account.as_deref() != Some(account)
        {
            r.account = Some(account.to_string());
        }
    }

    /// HubSpot holds `values` for record `key`, read on `day`. A value of one of `compared`
    /// that differs from what pqlsync last confirmed is a person's, remembered with the day it
    /// was first seen; one that matches pqlsync's again is no longer a person's.
    pub fn hold(
        &mut self,
        object: ObjectType,
        key: &str,
        values: BTreeMap<String, String>,
        compared: &[&str],
        day: NaiveDate,
    ) {
        let Some(r) = self.objects.get_mut(&object).and_then(|o| o.get_mut(key)) else {
            return;
        };
        for property in compared {
            let held = values.get(*property).map_or("", String::as_str);
            let ours = r.props.get(*property).map_or("", String::as_str);
            if held == ours {
                r.person.remove(*property);
            } else if r.person.get(*property).is_none_or(|p| p.value != held) {
                r.person.insert(
                    property.to_string(),
                    Seen {
                        value: held.to_string(),
                        since: day,
                    },
                );
            }
        }
        r.held = values;
    }

    /// About to send a create of `keys`: remember them until HubSpot answers.
    pub fn mark_pending<'a>(
        &mut self,
        object: ObjectType,
        keys: impl IntoIterator<Item = &'a str>,
    ) {
        let set = self.pending.entry(object).or_default();
        set.extend(keys.into_iter().map(str::to_string));
    }

    /// HubSpot answered for `key` (created it, or refused it for certain).
    pub fn settle(&mut self, object: ObjectType, key: &str) {
        if let Some(set) = self.pending.get_mut(&object) {
            set.remove(key);
            if set.is_empty() {
                self.pending.remove(&object);
            }
        }
    }

    pub fn is_pending(&self, object: ObjectType, key: &str) -> bool {
        self.pending.get(&object).is_some_and(|s| s.contains(key))
    }

    /// What the portal's id `id` of `property` (an owner, a deal or lead stage) means: the
    /// owner's email or pqlsync's stage name as of the last read; else the id itself
    /// (`hubspot:ID` for an owner).
    pub fn name_of(&self, property: &str, id: &str) -> String {
        match self.names.get(&format!("{property}:{id}")) {
            Some(name) => name.clone(),
            None if property == "hubspot_owner_id" => format!("hubspot:{id}"),
            None => id.to_string(),
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
        s.mark_pending(ObjectType::Leads, ["a", "b"]);
        s.confirm(
            ObjectType::Leads,
            "a",
            "9",
            &BTreeMap::<String, String>::new(),
        );
        assert!(!s.is_pending(ObjectType::Leads, "a") && s.is_pending(ObjectType::Leads, "b"));
        s.settle(ObjectType::Leads, "b");
        assert!(
            s.pending.is_empty(),
            "an empty set is dropped, so the file stays clean"
        );
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SyncState>(&json).unwrap(), s);
    }
}
