//! Undoing a run, decided: from the run's change-log entries and what HubSpot holds now, which
//! records to set back to the values HubSpot held before the run, and which to leave because
//! HubSpot no longer holds what the run wrote on them (a person, a workflow or a later run
//! changed one of their properties since; such a record is left whole). Pure, so `revert --dry-run` shows exactly the rules `revert` applies.
//!
//! Records the run created are left in place (nothing is deleted); of them, tasks that nobody
//! touched since may be archived when asked. Associations the run made are left.

use std::collections::BTreeMap;

use super::journal::{Entry, Operation};
use pqlsync_hubspot::ObjectType;

/// What HubSpot holds now for the records a run wrote: by (object, key), the properties the
/// run set, as read back by id (`""` for no value). A record missing here is gone from HubSpot.
pub type Now = BTreeMap<(ObjectType, String), BTreeMap<String, String>>;

/// Properties of one record to set back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub object: ObjectType,
    pub key: String,
    pub account: Option<String>,
    pub id: String,
    /// Property → the value to write back (`""` clears a property the run filled).
    pub props: BTreeMap<String, String>,
    /// Property → what the run wrote (what HubSpot holds now), for the log of the revert.
    pub wrote: BTreeMap<String, String>,
}

/// A property left as it is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub object: ObjectType,
    pub key: String,
    pub property: String,
    /// What the run wrote.
    pub wrote: String,
    /// What HubSpot holds now; `None` when the record is gone.
    pub now: Option<String>,
    /// This property changed since the run; without it, another property of the record did.
    pub edited: bool,
}

/// A record the run created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub object: ObjectType,
    pub key: String,
    pub id: String,
    /// Every property still holds what the run wrote: nobody touched it since.
    pub untouched: bool,
}

/// What a revert would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevertPlan {
    pub restores: Vec<Restore>,
    pub skipped: Vec<Skipped>,
    pub created: Vec<Created>,
    /// Records already holding their values from before the run (nothing to write).
    pub already_back: usize,
}

/// One property of one record as the run changed it: the value before its first write in the
/// run, and the value of its last.
struct Changed<'a> {
    account: Option<&'a str>,
    id: &'a str,
    previous: Option<&'a str>,
    wrote: &'a str,
}

/// A record the run created: its id and the values it was created with.
type Made<'a> = (&'a str, BTreeMap<&'a str, &'a str>);

/// The revert of a run whose change log is `entries`, given what HubSpot holds `now`.
pub fn revert_plan(entries: &[Entry], now: &Now) -> RevertPlan {
    let mut changed: BTreeMap<(ObjectType, &str), BTreeMap<&str, Changed<'_>>> = BTreeMap::new();
    let mut created: BTreeMap<(ObjectType, &str), Made<'_>> = BTreeMap::new();
    let mut ordered: Vec<&Entry> = entries.iter().collect();
    ordered.sort_by_key(|e| e.at);
    for e in ordered {
        let (Some(object), Some(property), Some(id)) = (
            ObjectType::parse(&e.object),
            e.property.as_deref(),
            e.hubspot_id.as_deref(),
        ) else {
            continue;
        };
        let wrote = e.new.as_deref().unwrap_or("");
        match e.operation {
            Operation::Create => {
                let c = created
                    .entry((object, &e.key))
                    .or_insert((id, BTreeMap::new()));
                c.1.insert(property, wrote);
            }
            Operation::Update => {
                let props = changed.entry((object, &e.key)).or_default();
                props
                    .entry(property)
                    .and_modify(|c| c.wrote = wrote)
                    .or_insert(Changed {
                        account: e.account.as_deref(),
                        id,
                        previous: e.previous.as_deref(),
                        wrote,
                    });
            }
            // Associations are left (see above); an archive is in the recycling bin, from
            // where HubSpot restores it, not a revert.
            Operation::Associate | Operation::Failed | Operation::Archive => {}
        }
    }
    let mut plan = RevertPlan::default();
    for ((object, key), props) in changed {
        restore(
            &mut plan,
            object,
            key,
            props,
            now.get(&(object, key.to_string())),
        );
    }
    for ((object, key), (id, props)) in created {
        let held = now.get(&(object, key.to_string()));
        let untouched = held.is_some_and(|h| {
            props
                .iter()
                .all(|(p, v)| h.get(*p).map(String::as_str) == Some(*v))
        });
        plan.created.push(Created {
            object,
            key: key.to_string(),
            id: id.to_string(),
            untouched,
        });
    }
    plan
}

/// Set back the properties of one record, if every property the run wrote on it still holds
/// what the run wrote. A record of which any property changed since is left whole: someone
/// (a rep, a workflow, a later run) has worked on it, and half a restore under them is worse
/// than none. pqlsync's own properties on it are put right by the next run with a good
/// config, which diffs against what the state confirmed.
fn restore(
    plan: &mut RevertPlan,
    object: ObjectType,
    key: &str,
    props: BTreeMap<&str, Changed<'_>>,
    held: Option<&BTreeMap<String, String>>,
) {
    let now = |property: &str| held.map(|h| h.get(property).cloned().unwrap_or_default());
    // A property already back at its value before the run (a revert cut short, or a person
    // who set it back by hand) is as the revert would leave it: not an edit, nothing to write.
    let back = |property: &str, c: &Changed<'_>| {
        now(property).as_deref() == Some(c.previous.unwrap_or(""))
    };
    let edited = |property: &str, c: &Changed<'_>| {
        now(property).as_deref() != Some(c.wrote) && !back(property, c)
    };
    if props.iter().any(|(p, c)| edited(p, c)) {
        for (property, c) in &props {
            plan.skipped.push(Skipped {
                object,
                key: key.to_string(),
                property: property.to_string(),
                wrote: c.wrote.to_string(),
                now: now(property),
                edited: edited(property, c),
            });
        }
        return;
    }
    let to_write: BTreeMap<&str, &Changed<'_>> = props
        .iter()
        .filter(|(p, c)| !back(p, c))
        .map(|(p, c)| (*p, c))
        .collect();
    let Some(first) = to_write.values().next() else {
        plan.already_back += 1;
        return;
    };
    plan.restores.push(Restore {
        object,
        key: key.to_string(),
        account: first.account.map(str::to_string),
        id: first.id.to_string(),
        props: to_write
            .iter()
            .map(|(p, c)| (p.to_string(), c.previous.unwrap_or("").to_string()))
            .collect(),
        wrote: to_write
            .iter()
            .map(|(p, c)| (p.to_string(), c.wrote.to_string()))
            .collect(),
    });
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + TimeDelta::seconds(s)
    }

    fn entry(t: i64, op: Operation, key: &str, p: &str, prev: Option<&str>, new: &str) -> Entry {
        Entry {
            at: at(t),
            object: "companies".into(),
            key: key.into(),
            account: Some(key.into()),
            hubspot_id: Some(format!("id-{key}")),
            operation: op,
            property: Some(p.into()),
            previous: prev.map(str::to_string),
            new: Some(new.into()),
            status: None,
            category: None,
            message: None,
        }
    }

    fn now(records: &[(&str, &[(&str, &str)])]) -> Now {
        records
            .iter()
            .map(|(key, props)| {
                let props = props
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                ((ObjectType::Companies, key.to_string()), props)
            })
            .collect()
    }

    #[test]
    fn a_record_is_set_back_only_while_hubspot_holds_all_the_run_wrote_on_it() {
        use Operation::Update;
        // (what HubSpot holds now for `a`, restored (property, value), skipped (property,
        // whether it is the one that changed))
        type Case<'a> = (
            &'a [(&'a str, &'a str)],
            Vec<(&'a str, &'a str)>,
            Vec<(&'a str, bool)>,
        );
        let cases: [Case<'_>; 5] = [
            // Untouched since: both set back; a property the run filled is cleared.
            (
                &[("pql_score", "80"), ("pql_tier", "green")],
                vec![("pql_score", "40"), ("pql_tier", "")],
                vec![],
            ),
            // A person (or a later run) changed the tier since: the record is left whole,
            // the score too, and both are listed.
            (
                &[("pql_score", "80"), ("pql_tier", "yellow")],
                vec![],
                vec![("pql_score", false), ("pql_tier", true)],
            ),
            // A property HubSpot no longer holds a value for is a change too.
            (
                &[("pql_score", ""), ("pql_tier", "green")],
                vec![],
                vec![("pql_score", true), ("pql_tier", false)],
            ),
            // The score is already back (a revert cut short): only the tier is written.
            (
                &[("pql_score", "40"), ("pql_tier", "green")],
                vec![("pql_tier", "")],
                vec![],
            ),
            // Neither holds what the run wrote.
            (
                &[("pql_score", "1"), ("pql_tier", "red")],
                vec![],
                vec![("pql_score", true), ("pql_tier", true)],
            ),
        ];
        let entries = [
            entry(0, Update, "a", "pql_score", Some("40"), "80"),
            entry(0, Update, "a", "pql_tier", None, "green"),
        ];
        for (held, restored, skipped) in cases {
            let plan = revert_plan(&entries, &now(&[("a", held)]));
            let got: Vec<(&str, &str)> = plan
                .restores
                .iter()
                .flat_map(|r| r.props.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .collect();
            assert_eq!(got, restored, "{held:?}");
            let left: Vec<(&str, bool)> = plan
                .skipped
                .iter()
                .map(|s| (s.property.as_str(), s.edited))
                .collect();
            assert_eq!(left, skipped, "{held:?}");
            assert!(plan.restores.iter().all(|r| r.id == "id-a"));
        }
    }

    #[test]
    fn a_property_written_twice_goes_back_to_its_value_before_the_first_write() {
        use Operation::Update;
        // Entries arrive out of order (parts are written as batches settle).
        let entries = [
            entry(2, Update, "a", "pql_score", Some("60"), "80"),
            entry(1, Update, "a", "pql_score", Some("40"), "60"),
        ];
        let plan = revert_plan(&entries, &now(&[("a", &[("pql_score", "80")])]));
        assert_eq!(plan.restores[0].props["pql_score"], "40");
        assert_eq!(plan.restores[0].wrote["pql_score"], "80");
    }

    #[test]
    fn created_records_stay_and_say_whether_anyone_touched_them() {
        use Operation::{Associate, Create};
        let entries = [
            entry(0, Create, "a", "pql_score", None, "80"),
            entry(0, Create, "b", "pql_score", None, "70"),
            entry(0, Create, "gone", "pql_score", None, "70"),
            entry(1, Associate, "a", "association:contacts", None, "x@y.io"),
        ];
        let plan = revert_plan(
            &entries,
            &now(&[("a", &[("pql_score", "80")]), ("b", &[("pql_score", "75")])]),
        );
        assert!(plan.restores.is_empty() && plan.skipped.is_empty());
        let created: Vec<(&str, bool)> = plan
            .created
            .iter()
            .map(|c| (c.key.as_str(), c.untouched))
            .collect();
        assert_eq!(created, [("a", true), ("b", false), ("gone", false)]);
    }

    #[test]
    fn a_record_gone_from_hubspot_is_skipped_not_recreated() {
        let entries = [entry(
            0,
            Operation::Update,
            "a",
            "pql_score",
            Some("40"),
            "80",
        )];
        let plan = revert_plan(&entries, &Now::new());
        assert!(plan.restores.is_empty());
        assert_eq!(plan.skipped[0].now, None);
    }
}
