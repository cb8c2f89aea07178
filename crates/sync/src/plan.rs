//! The plan: what a sync would change, record by record and property by property, from the
//! desired records and the sync state. Pure, so `pqlsync plan` shows exactly the rules a run
//! applies:
//! - only properties whose value differs from what HubSpot last confirmed are sent;
//! - values are compared with what HubSpot holds now (read back before deciding), else with
//!   what it last confirmed;
//! - an owner HubSpot already has is kept (a rep's reassignment is never overwritten), and a
//!   company's owner becomes the owner of its deal, lead and task;
//! - a value a person set in HubSpot is never overwritten, except a stage routing moved
//!   forward from it on purpose (a purchase closes a lost deal won) and a lifecycle stage
//!   moving forward; such records are counted as kept;
//! - lifecycle stage only moves forward (HubSpot's order; `other` is never touched);
//! - tasks are created once and then left to the rep.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::lifecycle::lifecycle_forward;
use super::model::{Desired, Link, Record};
use super::state::{SyncState, Synced};
use pqlsync_core::fmt::thousands;
use pqlsync_hubspot::{BATCH_LIMIT, ObjectType};

/// One record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub account: String,
    /// HubSpot id, for records the state knows.
    pub id: Option<String>,
    /// The properties to send.
    pub props: BTreeMap<&'static str, String>,
    /// What HubSpot last confirmed for those properties (updates only).
    pub before: BTreeMap<&'static str, Option<String>>,
}

/// The changes for one object type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectPlan {
    pub creates: Vec<Change>,
    pub updates: Vec<Change>,
    pub unchanged: usize,
    /// Records holding a value a person set in HubSpot that this plan leaves as it is.
    pub kept: usize,
}

/// Everything a sync would write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub objects: BTreeMap<ObjectType, ObjectPlan>,
    pub links: Vec<Link>,
    pub links_existing: usize,
}

const OWNER: &str = "hubspot_owner_id";
const LIFECYCLE_PROP: &str = "lifecyclestage";
/// A person's value of these may be moved on: routing started from HubSpot's stage and moved
/// it forward on purpose, and the lifecycle stage is moved only forward below.
const MOVED_FORWARD: &[&str] = &["dealstage", "hs_pipeline_stage", LIFECYCLE_PROP];

/// Each account's owner: the one its company has in HubSpot, else the routed one.
fn account_owners(
    records: &BTreeMap<ObjectType, Vec<Record>>,
    state: &SyncState,
) -> BTreeMap<String, String> {
    let mut owners = BTreeMap::new();
    for r in records.get(&ObjectType::Companies).into_iter().flatten() {
        let held = state
            .get(ObjectType::Companies, &r.key)
            .and_then(|s| s.current(OWNER))
            .filter(|o| !o.is_empty());
        if let Some(owner) = held.or_else(|| r.props.get(OWNER)) {
            owners.insert(r.account.clone(), owner.clone());
        }
    }
    owners
}

/// Diff `desired` against `state`. Takes the desired records by value: the plan keeps their
/// properties, and cloning them cost a third of a dry run's time after the features.
pub fn plan(desired: Desired, state: &SyncState) -> Plan {
    let Desired {
        mut records, links, ..
    } = desired;
    let owners = account_owners(&records, state);
    let objects = ObjectType::ALL
        .into_iter()
        .map(|object| {
            let records = records.remove(&object).unwrap_or_default();
            (object, object_plan(object, records, &owners, state))
        })
        .collect();
    let (links, links_existing) = new_links(links, state);
    Plan {
        objects,
        links,
        links_existing,
    }
}

/// The changes for one object type's records, in their order.
fn object_plan(
    object: ObjectType,
    records: Vec<Record>,
    owners: &BTreeMap<String, String>,
    state: &SyncState,
) -> ObjectPlan {
    let mut p = ObjectPlan::default();
    for Record {
        key,
        account,
        props,
        ..
    } in records
    {
        let current = state.get(object, &key);
        let props = outgoing(object, &account, props, owners, current);
        p.add(diff(object, key, account, props, current));
    }
    p
}

/// The properties pqlsync would set on one record, before comparing them with HubSpot's: the
/// account's owner on every record but the company; no owner where HubSpot has one; none of
/// a person's values unless routing moved them forward; no lifecycle stage that is not a move
/// forward.
fn outgoing(
    object: ObjectType,
    account: &str,
    mut props: BTreeMap<&'static str, String>,
    owners: &BTreeMap<String, String>,
    current: Option<&Synced>,
) -> BTreeMap<&'static str, String> {
    if object != ObjectType::Companies
        && let Some(owner) = owners.get(account)
    {
        props.insert(OWNER, owner.clone());
    }
    if current
        .and_then(|c| c.current(OWNER))
        .is_some_and(|o| !o.is_empty())
    {
        props.remove(OWNER);
    }
    if let Some(c) = current {
        for (property, seen) in &c.person {
            if !MOVED_FORWARD.contains(&property.as_str())
                && props
                    .get(property.as_str())
                    .is_some_and(|v| *v != seen.value)
            {
                props.remove(property.as_str());
            }
        }
    }
    if let Some(want) = props.get(LIFECYCLE_PROP)
        && !lifecycle_forward(
            current
                .and_then(|c| c.current(LIFECYCLE_PROP))
                .map(String::as_str)
                .filter(|l| !l.is_empty()),
            want,
        )
    {
        props.remove(LIFECYCLE_PROP);
    }
    props
}

/// What one record comes to. `kept`: HubSpot keeps a value a person set on it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Diff {
    Create(Change),
    Update { change: Change, kept: bool },
    Unchanged { kept: bool },
}

/// Compare one record's outgoing `props` with what HubSpot holds (`current`): a record HubSpot
/// lacks is created whole; a task it has is left to the rep; any other is updated with the
/// properties whose value differs, if any.
fn diff(
    object: ObjectType,
    key: String,
    account: String,
    props: BTreeMap<&'static str, String>,
    current: Option<&Synced>,
) -> Diff {
    let Some(c) = current else {
        return Diff::Create(Change {
            key,
            account,
            id: None,
            props,
            before: BTreeMap::new(),
        });
    };
    if object == ObjectType::Tasks {
        return Diff::Unchanged {
            kept: !c.person.is_empty(),
        };
    }
    let changed: BTreeMap<&'static str, String> = props
        .into_iter()
        .filter(|(k, v)| c.current(k) != Some(v))
        .collect();
    let kept = c.person.keys().any(|k| !changed.contains_key(k.as_str()));
    if changed.is_empty() {
        return Diff::Unchanged { kept };
    }
    let before = changed
        .keys()
        .map(|k| (*k, c.current(k).cloned()))
        .collect();
    Diff::Update {
        change: Change {
            key,
            account,
            id: Some(c.id.clone()),
            props: changed,
            before,
        },
        kept,
    }
}

impl ObjectPlan {
    /// Count one record's result in the plan.
    fn add(&mut self, diff: Diff) {
        match diff {
            Diff::Create(change) => self.creates.push(change),
            Diff::Update { change, kept } => {
                self.updates.push(change);
                self.kept += usize::from(kept);
            }
            Diff::Unchanged { kept } => {
                self.unchanged += 1;
                self.kept += usize::from(kept);
            }
        }
    }
}

/// The associations to create, and how many of the wanted ones HubSpot already holds.
fn new_links(links: Vec<Link>, state: &SyncState) -> (Vec<Link>, usize) {
    let mut new = Vec::new();
    let mut existing = 0;
    for link in links {
        if state.links.contains(&link) {
            existing += 1;
        } else {
            new.push(link);
        }
    }
    (new, existing)
}

impl Plan {
    pub fn object(&self, object: ObjectType) -> ObjectPlan {
        self.objects.get(&object).cloned().unwrap_or_default()
    }

    /// Records and associations to write.
    pub fn writes(&self) -> usize {
        self.objects
            .values()
            .map(|p| p.creates.len() + p.updates.len())
            .sum::<usize>()
            + self.links.len()
    }

    /// Write requests at 100 records per batch (more if HubSpot rejects records).
    pub fn requests(&self) -> usize {
        let batches = |n: usize| n.div_ceil(BATCH_LIMIT);
        // A new lead's links go in its create, not in requests of their own.
        let created_leads: BTreeSet<&str> = self
            .objects
            .get(&ObjectType::Leads)
            .map(|p| p.creates.iter().map(|c| c.key.as_str()).collect())
            .unwrap_or_default();
        let mut links: BTreeMap<(ObjectType, ObjectType), usize> = BTreeMap::new();
        for l in &self.links {
            if l.from == ObjectType::Leads && created_leads.contains(l.from_key.as_str()) {
                continue;
            }
            *links.entry((l.from, l.to)).or_default() += 1;
        }
        self.objects
            .iter()
            .map(|(o, p)| match o {
                ObjectType::Leads => batches(p.creates.len()) + batches(p.updates.len()),
                _ => batches(p.creates.len() + p.updates.len()),
            })
            .sum::<usize>()
            + links.values().map(|n| batches(*n)).sum::<usize>()
    }

    /// The plan for people: counts per object, and with `verbose` every property change.
    pub fn render(&self, verbose: bool) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "HubSpot plan: {} writes in about {} requests",
            thousands(self.writes() as i64),
            thousands(self.requests() as i64)
        );
        for (object, p) in &self.objects {
            let kept = if p.kept > 0 {
                format!("  kept {} (changed in HubSpot)", thousands(p.kept as i64))
            } else {
                String::new()
            };
            let _ = writeln!(
                t,
                "  {:<13} create {:>7}  update {:>7}  unchanged {:>7}{kept}",
                object.name(),
                thousands(p.creates.len() as i64),
                thousands(p.updates.len() as i64),
                thousands(p.unchanged as i64)
            );
        }
        let _ = writeln!(
            t,
            "  {:<13} create {:>7}  existing {:>6}",
            "associations",
            thousands(self.links.len() as i64),
            thousands(self.links_existing as i64)
        );
        if verbose {
            for (object, p) in &self.objects {
                for c in &p.creates {
                    let props: Vec<String> =
                        c.props.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    let _ = writeln!(t, "  + {object} {}: {}", c.key, props.join(", "));
                }
                for c in &p.updates {
                    let props: Vec<String> = c
                        .props
                        .iter()
                        .map(|(k, v)| {
                            let before = c
                                .before
                                .get(k)
                                .cloned()
                                .flatten()
                                .unwrap_or_else(|| "(unset)".into());
                            format!("{k}: {before} → {v}")
                        })
                        .collect();
                    let _ = writeln!(
                        t,
                        "  ~ {object} {} (id {}): {}",
                        c.key,
                        c.id.as_deref().unwrap_or("?"),
                        props.join("; ")
                    );
                }
            }
            for l in &self.links {
                let _ = writeln!(
                    t,
                    "  + association {} {} → {} {}",
                    l.from, l.from_key, l.to, l.to_key
                );
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Record;

    fn props(pairs: &[(&'static str, &str)]) -> BTreeMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    fn desired(object: ObjectType, key: &str, p: &[(&'static str, &str)]) -> Desired {
        let mut d = Desired::default();
        d.records.entry(object).or_default().push(Record {
            object,
            key: key.into(),
            account: "acct".into(),
            props: props(p),
        });
        d
    }

    #[test]
    fn lifecycle_moves_only_forward() {
        let cases = [
            (None, "lead", true),
            (Some(""), "customer", true),
            (Some("lead"), "marketingqualifiedlead", true),
            (Some("marketingqualifiedlead"), "lead", false),
            (Some("customer"), "customer", false),
            (Some("customer"), "salesqualifiedlead", false),
            (Some("other"), "customer", false),
            (Some("lead"), "other", false),
            (None, "custom_stage_123", false),
            (Some("Lead"), "opportunity", true),
        ];
        for (current, desired, want) in cases {
            assert_eq!(
                lifecycle_forward(current, desired),
                want,
                "{current:?} → {desired}"
            );
        }
    }

    #[test]
    fn a_persons_value_in_hubspot_is_kept_unless_routing_moved_it_forward() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let ours = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        // (case, object, pqlsync wrote, HubSpot holds, desired now, sent, kept)
        type Case<'a> = (
            &'a str,
            ObjectType,
            &'a [(&'a str, &'a str)],
            &'a [(&'a str, &'a str)],
            &'a [(&'static str, &'a str)],
            &'a [(&'a str, &'a str)],
            usize,
        );
        let cases: &[Case] = &[
            (
                "HubSpot holds what pqlsync wrote: only the score moves",
                ObjectType::Deals,
                &[("dealstage", "1"), ("pql_score", "40")],
                &[("dealstage", "1")],
                &[("dealstage", "1"), ("pql_score", "45")],
                &[("pql_score", "45")],
                0,
            ),
            (
                "a rep's stage that routing adopted is not rewritten",
                ObjectType::Deals,
                &[("dealstage", "1")],
                &[("dealstage", "lost")],
                &[("dealstage", "lost")],
                &[],
                1,
            ),
            (
                "a purchase moves a lost deal on to won",
                ObjectType::Deals,
                &[("dealstage", "1")],
                &[("dealstage", "lost")],
                &[("dealstage", "won")],
                &[("dealstage", "won")],
                0,
            ),
            (
                "an owner a manager set is never overwritten",
                ObjectType::Companies,
                &[("hubspot_owner_id", "7")],
                &[("hubspot_owner_id", "9")],
                &[("hubspot_owner_id", "7")],
                &[],
                1,
            ),
            (
                "an owner a person cleared stays cleared",
                ObjectType::Companies,
                &[("hubspot_owner_id", "7")],
                &[("hubspot_owner_id", "")],
                &[("hubspot_owner_id", "7")],
                &[],
                1,
            ),
            (
                "marketing's later lifecycle stage stands",
                ObjectType::Companies,
                &[("lifecyclestage", "lead")],
                &[("lifecyclestage", "opportunity")],
                &[("lifecyclestage", "salesqualifiedlead")],
                &[],
                1,
            ),
            (
                "a lifecycle stage still moves forward past a person's",
                ObjectType::Companies,
                &[("lifecyclestage", "lead")],
                &[("lifecyclestage", "opportunity")],
                &[("lifecyclestage", "customer")],
                &[("lifecyclestage", "customer")],
                0,
            ),
        ];
        for (case, object, wrote, holds, want, sent, kept) in cases {
            let mut s = SyncState::default();
            s.confirm(*object, "k", "1", &ours(wrote));
            let compared: Vec<&str> = holds.iter().map(|(k, _)| *k).collect();
            s.hold(*object, "k", ours(holds), &compared, day);
            let p = plan(desired(*object, "k", want), &s);
            let got = p.object(*object);
            let sent_now: Vec<(&str, &str)> = got
                .updates
                .iter()
                .flat_map(|c| c.props.iter().map(|(k, v)| (*k, v.as_str())))
                .collect();
            assert_eq!(sent_now, sent.to_vec(), "{case}");
            assert_eq!(got.kept, *kept, "{case}");
        }
    }

    #[test]
    fn only_changed_properties_are_sent() {
        let d = desired(
            ObjectType::Companies,
            "acct",
            &[
                ("pql_score", "61"),
                ("pql_tier", "yellow"),
                ("name", "Acme"),
            ],
        );
        let mut s = SyncState::default();
        assert_eq!(
            plan(d.clone(), &s)
                .object(ObjectType::Companies)
                .creates
                .len(),
            1
        );
        s.confirm(
            ObjectType::Companies,
            "acct",
            "9",
            &props(&[
                ("pql_score", "54"),
                ("pql_tier", "yellow"),
                ("name", "Acme"),
            ]),
        );
        let p = plan(d.clone(), &s).object(ObjectType::Companies);
        assert_eq!(p.updates.len(), 1);
        assert_eq!(p.updates[0].props, props(&[("pql_score", "61")]));
        assert_eq!(
            p.updates[0].before.get("pql_score"),
            Some(&Some("54".to_string()))
        );
        assert_eq!(p.updates[0].id.as_deref(), Some("9"));
        s.confirm(
            ObjectType::Companies,
            "acct",
            "9",
            &props(&[("pql_score", "61")]),
        );
        let again = plan(d.clone(), &s);
        assert_eq!(again.object(ObjectType::Companies).unchanged, 1);
        assert_eq!(again.writes(), 0);
    }

    #[test]
    fn existing_owners_are_kept_and_inherited() {
        let mut d = desired(ObjectType::Companies, "acct", &[("hubspot_owner_id", "1")]);
        d.records
            .entry(ObjectType::Deals)
            .or_default()
            .push(Record {
                object: ObjectType::Deals,
                key: "trial".into(),
                account: "acct".into(),
                props: props(&[("hubspot_owner_id", "1"), ("dealname", "x")]),
            });
        let mut s = SyncState::default();
        // HubSpot's company already has owner 7 (read back).
        s.confirm(
            ObjectType::Companies,
            "acct",
            "100",
            &props(&[("hubspot_owner_id", "7")]),
        );
        let p = plan(d.clone(), &s);
        assert!(
            p.object(ObjectType::Companies).updates.is_empty(),
            "the company owner is not overwritten"
        );
        assert_eq!(
            p.object(ObjectType::Deals).creates[0]
                .props
                .get("hubspot_owner_id")
                .map(String::as_str),
            Some("7")
        );
        // A deal whose owner a rep changed keeps it too.
        s.confirm(
            ObjectType::Deals,
            "trial",
            "200",
            &props(&[("hubspot_owner_id", "8"), ("dealname", "x")]),
        );
        assert_eq!(plan(d.clone(), &s).writes(), 0);
    }

    #[test]
    fn tasks_are_created_once_and_links_once() {
        let mut d = desired(ObjectType::Tasks, "k", &[("hs_task_subject", "a")]);
        d.links.push(Link::new(
            ObjectType::Tasks,
            "k",
            ObjectType::Companies,
            "acct",
        ));
        let mut s = SyncState::default();
        let p = plan(d.clone(), &s);
        assert_eq!(
            (p.object(ObjectType::Tasks).creates.len(), p.links.len()),
            (1, 1)
        );
        s.confirm(
            ObjectType::Tasks,
            "k",
            "5",
            &props(&[("hs_task_subject", "old")]),
        );
        s.links.insert(d.links[0].clone());
        let p = plan(d.clone(), &s);
        assert_eq!(p.writes(), 0);
        assert_eq!(
            (p.object(ObjectType::Tasks).unchanged, p.links_existing),
            (1, 1)
        );
    }

    #[test]
    fn lifecycle_in_the_plan() {
        let d = desired(
            ObjectType::Contacts,
            "a@x.com",
            &[("lifecyclestage", "lead"), ("pql_score", "5")],
        );
        let mut s = SyncState::default();
        s.confirm(
            ObjectType::Contacts,
            "a@x.com",
            "1",
            &props(&[("lifecyclestage", "marketingqualifiedlead")]),
        );
        let p = plan(d.clone(), &s).object(ObjectType::Contacts);
        assert_eq!(
            p.updates[0].props,
            props(&[("pql_score", "5")]),
            "no backwards move to lead"
        );
    }

    #[test]
    fn request_estimate_batches_by_100() {
        let mut d = Desired::default();
        for i in 0..250 {
            d.records
                .entry(ObjectType::Contacts)
                .or_default()
                .push(Record {
                    object: ObjectType::Contacts,
                    key: format!("{i}@x.com"),
                    account: "a".into(),
                    props: props(&[("email", "x")]),
                });
        }
        let p = plan(d, &SyncState::default());
        assert_eq!(p.writes(), 250);
        assert_eq!(p.requests(), 3);
        assert!(
            p.render(false).contains("contacts      create     250"),
            "{}",
            p.render(false)
        );
    }
    fn synced(
        confirmed: &[(&str, &str)],
        held: &[(&str, &str)],
        person: &[(&str, &str)],
    ) -> Synced {
        let own = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Synced {
            id: "9".into(),
            props: own(confirmed),
            held: own(held),
            person: person
                .iter()
                .map(|(k, v)| {
                    let since = chrono::NaiveDate::from_ymd_opt(2026, 11, 18).unwrap();
                    let value = v.to_string();
                    (k.to_string(), crate::state::Seen { value, since })
                })
                .collect(),
            account: None,
        }
    }

    #[test]
    fn outgoing_properties_follow_owners_people_and_the_lifecycle() {
        let owners: BTreeMap<String, String> = [("acct".to_string(), "7".to_string())].into();
        let none = synced(&[], &[], &[]);
        // (case, object, account, desired, HubSpot's record, sent on)
        type Case<'a> = (
            &'a str,
            ObjectType,
            &'a str,
            &'a [(&'static str, &'a str)],
            Option<Synced>,
            &'a [(&'static str, &'a str)],
        );
        let cases: &[Case] = &[
            (
                "a company keeps its routed owner",
                ObjectType::Companies,
                "acct",
                &[(OWNER, "1"), ("pql_score", "5")],
                None,
                &[(OWNER, "1"), ("pql_score", "5")],
            ),
            (
                "a deal takes its company's owner",
                ObjectType::Deals,
                "acct",
                &[(OWNER, "1"), ("dealname", "x")],
                None,
                &[(OWNER, "7"), ("dealname", "x")],
            ),
            (
                "a task takes it even when routing set none",
                ObjectType::Tasks,
                "acct",
                &[("hs_task_subject", "a")],
                None,
                &[(OWNER, "7"), ("hs_task_subject", "a")],
            ),
            (
                "an account without a company owner keeps the routed one",
                ObjectType::Deals,
                "other",
                &[(OWNER, "1")],
                None,
                &[(OWNER, "1")],
            ),
            (
                "an owner HubSpot has is not sent",
                ObjectType::Deals,
                "acct",
                &[(OWNER, "1"), ("dealname", "x")],
                Some(synced(&[], &[(OWNER, "8")], &[])),
                &[("dealname", "x")],
            ),
            (
                "an owner HubSpot confirmed is not sent either",
                ObjectType::Companies,
                "acct",
                &[(OWNER, "1")],
                Some(synced(&[(OWNER, "1")], &[], &[])),
                &[],
            ),
            (
                "an empty owner in HubSpot is filled",
                ObjectType::Deals,
                "acct",
                &[(OWNER, "1")],
                Some(synced(&[], &[(OWNER, "")], &[])),
                &[(OWNER, "7")],
            ),
            (
                "a person's value stands",
                ObjectType::Companies,
                "acct",
                &[("name", "Acme"), ("pql_score", "5")],
                Some(synced(&[], &[], &[("name", "Acme Corp")])),
                &[("pql_score", "5")],
            ),
            (
                "a person's value pqlsync wants too is left to the diff",
                ObjectType::Companies,
                "acct",
                &[("name", "Acme")],
                Some(synced(&[], &[], &[("name", "Acme")])),
                &[("name", "Acme")],
            ),
            (
                "a stage routing moved on from a person's is sent",
                ObjectType::Deals,
                "other",
                &[("dealstage", "won")],
                Some(synced(&[], &[], &[("dealstage", "lost")])),
                &[("dealstage", "won")],
            ),
            (
                "no lifecycle stage backwards",
                ObjectType::Contacts,
                "acct",
                &[(LIFECYCLE_PROP, "lead"), ("pql_score", "5")],
                Some(synced(
                    &[(LIFECYCLE_PROP, "marketingqualifiedlead")],
                    &[],
                    &[],
                )),
                &[(OWNER, "7"), ("pql_score", "5")],
            ),
            (
                "a lifecycle stage forward",
                ObjectType::Contacts,
                "other",
                &[(LIFECYCLE_PROP, "customer")],
                Some(synced(&[], &[(LIFECYCLE_PROP, "opportunity")], &[])),
                &[(LIFECYCLE_PROP, "customer")],
            ),
            (
                "an empty lifecycle stage is no stage",
                ObjectType::Contacts,
                "other",
                &[(LIFECYCLE_PROP, "lead")],
                Some(synced(&[], &[(LIFECYCLE_PROP, "")], &[])),
                &[(LIFECYCLE_PROP, "lead")],
            ),
            (
                "nothing known of the record",
                ObjectType::Contacts,
                "other",
                &[("pql_score", "5")],
                Some(none),
                &[("pql_score", "5")],
            ),
        ];
        for (case, object, account, want, current, sent) in cases {
            assert_eq!(
                outgoing(*object, account, props(want), &owners, current.as_ref()),
                props(sent),
                "{case}"
            );
        }
    }

    #[test]
    fn a_record_is_created_updated_or_left_as_hubspot_has_it() {
        let change = |id: Option<&str>,
                      sent: &[(&'static str, &str)],
                      before: &[(&'static str, Option<&str>)]| Change {
            key: "k".into(),
            account: "acct".into(),
            id: id.map(str::to_string),
            props: props(sent),
            before: before
                .iter()
                .map(|(k, v)| (*k, v.map(str::to_string)))
                .collect(),
        };
        let held = synced(&[("pql_score", "54"), ("name", "Acme")], &[], &[]);
        let persons = synced(&[("name", "Acme")], &[], &[("name", "Acme Corp")]);
        // (case, object, sent on, HubSpot's record, result)
        type Case<'a> = (
            &'a str,
            ObjectType,
            &'a [(&'static str, &'a str)],
            Option<&'a Synced>,
            Diff,
        );
        let cases: &[Case] = &[
            (
                "a record HubSpot lacks is created whole",
                ObjectType::Companies,
                &[("pql_score", "61"), ("name", "Acme")],
                None,
                Diff::Create(change(None, &[("pql_score", "61"), ("name", "Acme")], &[])),
            ),
            (
                "a task HubSpot has is the rep's",
                ObjectType::Tasks,
                &[("hs_task_subject", "new")],
                Some(&held),
                Diff::Unchanged { kept: false },
            ),
            (
                "a task a person changed is kept",
                ObjectType::Tasks,
                &[("hs_task_subject", "new")],
                Some(&persons),
                Diff::Unchanged { kept: true },
            ),
            (
                "the same values",
                ObjectType::Companies,
                &[("pql_score", "54"), ("name", "Acme")],
                Some(&held),
                Diff::Unchanged { kept: false },
            ),
            (
                "only what differs is sent, with what it was",
                ObjectType::Companies,
                &[("pql_score", "61"), ("name", "Acme"), ("pql_tier", "green")],
                Some(&held),
                Diff::Update {
                    change: change(
                        Some("9"),
                        &[("pql_score", "61"), ("pql_tier", "green")],
                        &[("pql_score", Some("54")), ("pql_tier", None)],
                    ),
                    kept: false,
                },
            ),
            (
                "a person's value left out stands",
                ObjectType::Companies,
                &[("pql_score", "61")],
                Some(&persons),
                Diff::Update {
                    change: change(Some("9"), &[("pql_score", "61")], &[("pql_score", None)]),
                    kept: true,
                },
            ),
            (
                "a person's value sent over does not",
                ObjectType::Companies,
                &[("name", "Acme Inc")],
                Some(&persons),
                Diff::Update {
                    change: change(
                        Some("9"),
                        &[("name", "Acme Inc")],
                        &[("name", Some("Acme"))],
                    ),
                    kept: false,
                },
            ),
        ];
        for (case, object, sent, current, want) in cases {
            assert_eq!(
                diff(*object, "k".into(), "acct".into(), props(sent), *current),
                *want,
                "{case}"
            );
        }
        let mut p = ObjectPlan::default();
        for (_, _, _, _, d) in cases {
            p.add(d.clone());
        }
        assert_eq!(
            (p.creates.len(), p.updates.len(), p.unchanged, p.kept),
            (1, 3, 3, 2)
        );
    }
}
