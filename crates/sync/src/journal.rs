//! The change log as the sync sees it: one [`Entry`] per property a write HubSpot confirmed
//! set (with the value HubSpot held before, as the state knew it), per association HubSpot
//! confirmed, and per record HubSpot refused. Entries are made where outcomes settle, so only
//! what HubSpot answered is logged, and handed to a [`Journal`] just before each save of the
//! sync state: a killed run's log holds every write its saved state holds.
//!
//! How entries are stored (Parquet in the state location, a run's partition, retention) is the
//! journal's business, not the sync's: this crate stays free of Arrow.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::model::Link;
use super::plan::Change;
use super::state::Synced;
use pqlsync_hubspot::{Failure, ObjectType};

/// What a logged write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// A record HubSpot created: every property it was created with.
    Create,
    /// A property of an existing record HubSpot changed.
    Update,
    /// An association HubSpot made between two records.
    Associate,
    /// A write HubSpot refused (or that could not be sent), with its reason.
    Failed,
    /// A record moved to HubSpot's recycling bin (a revert's `--archive-created-tasks`).
    Archive,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Associate => "associate",
            Operation::Failed => "failed",
            Operation::Archive => "archive",
        }
    }

    pub fn parse(s: &str) -> Option<Operation> {
        [
            Operation::Create,
            Operation::Update,
            Operation::Associate,
            Operation::Failed,
            Operation::Archive,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// One row of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When the sync took HubSpot's answer.
    pub at: DateTime<Utc>,
    /// The object type's API name (`companies`, `deals`, …), or `associations` for a failed
    /// association.
    pub object: String,
    /// pqlsync's key of the record (account id, email, trial or activation id).
    pub key: String,
    /// The account the record belongs to, when known.
    pub account: Option<String>,
    pub hubspot_id: Option<String>,
    pub operation: Operation,
    /// The property written; for an association, `association:<object type>`.
    pub property: Option<String>,
    /// What HubSpot held before the write: the value read back this run, else the one pqlsync
    /// last confirmed; `None` when the record was created or the property never had a value.
    pub previous: Option<String>,
    /// The value written; for an association, the other record's key.
    pub new: Option<String>,
    /// For a failure: HubSpot's status, category and message.
    pub status: Option<u16>,
    pub category: Option<String>,
    pub message: Option<String>,
}

impl Entry {
    pub(crate) fn bare(
        at: DateTime<Utc>,
        object: ObjectType,
        key: &str,
        operation: Operation,
    ) -> Entry {
        Entry {
            at,
            object: object.name().to_string(),
            key: key.to_string(),
            account: None,
            hubspot_id: None,
            operation,
            property: None,
            previous: None,
            new: None,
            status: None,
            category: None,
            message: None,
        }
    }
}

/// The entries of a confirmed write of `change` to a record HubSpot gave id `id`, given what
/// the state knew of the record before it (`before`). Pure. A property whose value HubSpot
/// already held is not a change and is left out; a created record logs every property.
pub fn written(
    at: DateTime<Utc>,
    object: ObjectType,
    change: &Change,
    id: &str,
    before: Option<&Synced>,
    created: bool,
) -> Vec<Entry> {
    let operation = if created {
        Operation::Create
    } else {
        Operation::Update
    };
    change
        .props
        .iter()
        .filter_map(|(property, new)| {
            let previous = if created {
                None
            } else {
                before
                    .and_then(|r| r.current(property))
                    .filter(|v| !v.is_empty())
                    .cloned()
            };
            if previous.as_deref() == Some(new.as_str()) {
                return None;
            }
            Some(Entry {
                account: Some(change.account.clone()).filter(|a| !a.is_empty()),
                hubspot_id: Some(id.to_string()),
                property: Some((*property).to_string()),
                previous,
                new: Some(new.clone()),
                ..Entry::bare(at, object, &change.key, operation)
            })
        })
        .collect()
}

/// The entry of an association HubSpot confirmed, from `link.from`'s side.
pub fn associated(
    at: DateTime<Utc>,
    link: &Link,
    account: Option<&str>,
    from_id: Option<&str>,
) -> Entry {
    Entry {
        account: account.map(str::to_string),
        hubspot_id: from_id.map(str::to_string),
        property: Some(format!("association:{}", link.to.name())),
        new: Some(link.to_key.clone()),
        ..Entry::bare(at, link.from, &link.from_key, Operation::Associate)
    }
}

/// The entry of a write HubSpot refused (or that could not be sent): `object` is the object
/// type's name, or `associations`.
pub fn failed(
    at: DateTime<Utc>,
    object: &str,
    key: &str,
    account: Option<&str>,
    operation: &str,
    f: &Failure,
) -> Entry {
    Entry {
        at,
        object: object.to_string(),
        key: key.to_string(),
        account: account.map(str::to_string),
        hubspot_id: None,
        operation: Operation::Failed,
        property: Some(operation.to_string()),
        previous: None,
        new: None,
        status: f.status,
        category: f.category.clone(),
        message: Some(f.message.clone()),
    }
}

/// Where a run's entries go. `append` is called with the entries settled since its last call,
/// before the sync state that holds their writes is saved; an error stops the run, so a state
/// is never saved with writes its log lost.
#[async_trait]
pub trait Journal: Send + Sync {
    /// Where the log is kept, for messages.
    fn url(&self) -> &str;
    async fn append(&self, entries: Vec<Entry>) -> Result<(), String>;
}

/// A journal in memory, for tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct MemoryJournal {
    pub entries: std::sync::Mutex<Vec<Entry>>,
}

#[cfg(test)]
#[async_trait]
impl Journal for MemoryJournal {
    fn url(&self) -> &str {
        "memory"
    }

    async fn append(&self, entries: Vec<Entry>) -> Result<(), String> {
        self.entries.lock().unwrap().extend(entries);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn synced(props: &[(&str, &str)], held: &[(&str, &str)]) -> Synced {
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Synced {
            id: "7".into(),
            props: map(props),
            held: map(held),
            person: BTreeMap::new(),
            account: Some("acme".into()),
        }
    }

    #[test]
    fn a_write_logs_each_changed_property_with_what_hubspot_held_before() {
        let change = Change {
            key: "acme".into(),
            account: "acme".into(),
            id: None,
            props: BTreeMap::from([
                ("plg_pql_score", "80".to_string()),
                ("plg_pql_tier", "Green".to_string()),
                ("hubspot_owner_id", "11".to_string()),
            ]),
            before: BTreeMap::new(),
        };
        // (what the state knew, created, expected (property, previous) in order)
        type Case = (
            Option<Synced>,
            bool,
            Vec<(&'static str, Option<&'static str>)>,
        );
        let cases: [Case; 4] = [
            // A create: nothing before.
            (
                None,
                true,
                vec![
                    ("hubspot_owner_id", None),
                    ("plg_pql_score", None),
                    ("plg_pql_tier", None),
                ],
            ),
            // An update: the read-back value wins over the last confirmed one; an unchanged
            // property is no change.
            (
                Some(synced(
                    &[("plg_pql_score", "40"), ("plg_pql_tier", "Green")],
                    &[("hubspot_owner_id", "10")],
                )),
                false,
                vec![
                    ("hubspot_owner_id", Some("10")),
                    ("plg_pql_score", Some("40")),
                ],
            ),
            // HubSpot held no value ("" when read back): previous is none.
            (
                Some(synced(&[], &[("hubspot_owner_id", "")])),
                false,
                vec![
                    ("hubspot_owner_id", None),
                    ("plg_pql_score", None),
                    ("plg_pql_tier", None),
                ],
            ),
            // An upsert HubSpot says created, though the state knew the record (deleted in
            // HubSpot since): every property is new.
            (
                Some(synced(&[("plg_pql_score", "80")], &[])),
                true,
                vec![
                    ("hubspot_owner_id", None),
                    ("plg_pql_score", None),
                    ("plg_pql_tier", None),
                ],
            ),
        ];
        for (before, created, want) in cases {
            let entries = written(
                at(),
                ObjectType::Companies,
                &change,
                "7",
                before.as_ref(),
                created,
            );
            let got: Vec<(&str, Option<&str>)> = entries
                .iter()
                .map(|e| (e.property.as_deref().unwrap(), e.previous.as_deref()))
                .collect();
            assert_eq!(got, want, "created {created}, before {before:?}");
            let op = if created {
                Operation::Create
            } else {
                Operation::Update
            };
            assert!(entries.iter().all(|e| e.operation == op
                && e.hubspot_id.as_deref() == Some("7")
                && e.account.as_deref() == Some("acme")));
        }
    }

    #[test]
    fn associations_and_failures_say_what_and_why() {
        let link = Link::new(ObjectType::Deals, "t1", ObjectType::Companies, "acme");
        let a = associated(at(), &link, Some("acme"), Some("42"));
        assert_eq!(
            (
                a.object.as_str(),
                a.key.as_str(),
                a.operation,
                a.property.as_deref(),
                a.new.as_deref()
            ),
            (
                "deals",
                "t1",
                Operation::Associate,
                Some("association:companies"),
                Some("acme")
            )
        );
        let f = Failure {
            status: Some(400),
            category: Some("VALIDATION_ERROR".into()),
            ..Failure::local("Property values were not valid".into())
        };
        let e = failed(at(), "contacts", "a@x.io", None, "upsert", &f);
        assert_eq!(e.operation, Operation::Failed);
        assert_eq!(e.property.as_deref(), Some("upsert"));
        assert_eq!(e.status, Some(400));
        assert_eq!(e.category.as_deref(), Some("VALIDATION_ERROR"));
        for op in [
            Operation::Create,
            Operation::Update,
            Operation::Associate,
            Operation::Failed,
        ] {
            assert_eq!(Operation::parse(op.as_str()), Some(op));
        }
    }
}
