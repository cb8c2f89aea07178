//! The write phases of a sync, each a `Work` for the driver: upserts of companies, contacts,
//! deals and tasks by their unique property; leads, created with their primary contact (HubSpot
//! refuses a lead without one) and then updated by id; and default associations, by direction,
//! for every link the model wants that HubSpot has not confirmed (whichever run made the
//! records: a lead created while its company could not be written is linked to it later).
//! Each says how its records become a batch call and what an outcome means for the state: a
//! record enters the state only when the CRM confirms it.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::driver::{Driver, Progress, Work, chunks};
use super::model::Link;
use super::plan::{Change, ObjectPlan};
use super::schema::id_property;
use pqlsync_hubspot::api::{
    AssociationInput, AssociationSpec, CreateInput, DefaultAssociation, ObjectId, UpdateInput,
    UpsertInput,
};
use pqlsync_hubspot::{BatchError, Crm, Failure, ObjectType, Outcome};
use pqlsync_rules::state::StateError;

/// Association type ids for creating leads (to contact, to company), from the portal.
#[derive(Debug, Clone, Copy)]
pub(super) struct LeadTypes {
    pub contact: Option<i64>,
    pub company: Option<i64>,
}

/// Properties as the API's input types hold them.
fn wire(props: &BTreeMap<&'static str, String>) -> BTreeMap<String, String> {
    props
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Whether an upsert created the record: as HubSpot says, else (a CRM that cannot say) whether
/// the state knew it.
fn created(new: Option<bool>, known: bool) -> bool {
    new.unwrap_or(!known)
}

/// The id a request may use for record `key`: the one HubSpot confirmed, else whatever the CRM
/// lets a request refer to an unconfirmed record by (nothing, for HubSpot).
fn known_id(d: &Driver<'_>, object: ObjectType, key: &str) -> Option<String> {
    d.progress
        .state
        .id(object, key)
        .map(str::to_string)
        .or_else(|| d.crm.unconfirmed_id(object, key))
}

fn no_record() -> Failure {
    Failure::local("HubSpot returned no record".into())
}

/// Creates and updates of one object type, upserted by its unique property.
struct Upsert {
    object: ObjectType,
}

#[async_trait]
impl Work for Upsert {
    type Item = Change;

    async fn send(&self, crm: &dyn Crm, items: &[Change]) -> Result<Vec<Outcome>, BatchError> {
        let id_property = id_property(self.object);
        let inputs = items
            .iter()
            .map(|c| UpsertInput {
                id: c.key.clone(),
                id_property: id_property.to_string(),
                properties: wire(&c.props),
            })
            .collect();
        crm.upsert(self.object, inputs).await
    }

    fn settle(&self, progress: &mut Progress<'_>, change: &Change, outcome: Outcome) {
        let object = self.object;
        match outcome {
            Outcome::Done(Some(r)) => {
                let is_new = created(r.new, change.id.is_some());
                progress.confirm_write(object, change, &r.id, is_new);
                let c = progress.counts(object);
                if is_new {
                    c.created += 1
                } else {
                    c.updated += 1
                }
            }
            Outcome::Failed(f) => {
                progress.counts(object).failed += 1;
                let account = Some(change.account.as_str());
                progress.fail_write(object.name(), &change.key, account, "upsert", &f);
            }
            Outcome::Done(None) | Outcome::NotFound => {
                progress.counts(object).failed += 1;
                let account = Some(change.account.as_str());
                let f = no_record();
                progress.fail_write(object.name(), &change.key, account, "upsert", &f);
            }
        }
    }
}

/// Upsert the creates and updates of `object`, in that order.
pub(super) async fn upsert(
    d: &mut Driver<'_>,
    object: ObjectType,
    p: ObjectPlan,
) -> Result<(), StateError> {
    d.progress.counts(object).unchanged += p.unchanged;
    let changes: Vec<Change> = p.creates.into_iter().chain(p.updates).collect();
    d.drive(&Upsert { object }, chunks(&changes)).await
}

/// A lead to create, with the associations it is created with (kept in the state once
/// HubSpot confirms the lead).
struct LeadCreate {
    change: Change,
    input: CreateInput,
    links: Vec<Link>,
}

struct CreateLeads;

#[async_trait]
impl Work for CreateLeads {
    type Item = LeadCreate;

    async fn send(&self, crm: &dyn Crm, items: &[LeadCreate]) -> Result<Vec<Outcome>, BatchError> {
        let inputs = items.iter().map(|l| l.input.clone()).collect();
        crm.create(ObjectType::Leads, inputs).await
    }

    fn settle(&self, progress: &mut Progress<'_>, lead: &LeadCreate, outcome: Outcome) {
        let object = ObjectType::Leads;
        let key = &lead.change.key;
        match outcome {
            Outcome::Done(Some(r)) => {
                progress.confirm_write(object, &lead.change, &r.id, true);
                for link in &lead.links {
                    progress.confirm_link(link);
                }
                progress.report.associations.created += lead.links.len();
                progress.counts(object).created += 1;
            }
            // HubSpot keeps `plg_account_id` unique: a 409 says this lead exists already
            // (created by a run whose answer was lost, or by another run). It stays pending and
            // is looked up right after this phase, never created a second time.
            Outcome::Failed(f) if f.status == Some(409) => {
                progress.counts(object).pending += 1;
                progress.conflicts.push((object, key.clone()));
            }
            Outcome::Failed(f) => {
                // Refused for certain: nothing was created. Otherwise it may have been, and it
                // stays pending for the next run to look for.
                if f.certainly_not_applied() {
                    progress.state.settle(object, key);
                }
                progress.counts(object).failed += 1;
                let account = Some(lead.change.account.as_str());
                progress.fail_write(object.name(), key, account, "create", &f);
            }
            Outcome::Done(None) | Outcome::NotFound => {
                progress.counts(object).failed += 1;
                let account = Some(lead.change.account.as_str());
                let f = no_record();
                progress.fail_write(object.name(), key, account, "create", &f);
            }
        }
    }
}

struct UpdateLeads;

#[async_trait]
impl Work for UpdateLeads {
    type Item = Change;

    async fn send(&self, crm: &dyn Crm, items: &[Change]) -> Result<Vec<Outcome>, BatchError> {
        let inputs = items
            .iter()
            .map(|c| UpdateInput {
                id: c.id.clone().unwrap_or_default(),
                properties: wire(&c.props),
            })
            .collect();
        crm.update(ObjectType::Leads, inputs).await
    }

    fn settle(&self, progress: &mut Progress<'_>, change: &Change, outcome: Outcome) {
        let object = ObjectType::Leads;
        match outcome {
            Outcome::Done(_) => {
                let id = change.id.clone().unwrap_or_default();
                progress.confirm_write(object, change, &id, false);
                progress.counts(object).updated += 1;
            }
            Outcome::Failed(f) => {
                progress.counts(object).failed += 1;
                let account = Some(change.account.as_str());
                progress.fail_write(object.name(), &change.key, account, "update", &f);
            }
            Outcome::NotFound => {
                // Deleted in HubSpot: forget it, so the next run creates it again.
                if let Some(records) = progress.state.objects.get_mut(&object) {
                    records.remove(&change.key);
                }
                progress.counts(object).pending += 1;
            }
        }
    }
}

/// The create of lead `c` with its associations, or `None` when it cannot be sent: no primary
/// contact (skipped), a contact without an id yet (pending: the contact is written first), or
/// a portal without a lead-to-contact association type (failed).
fn lead_create(
    d: &mut Driver<'_>,
    c: &Change,
    lead_contacts: &BTreeMap<String, String>,
    types: LeadTypes,
) -> Option<LeadCreate> {
    let object = ObjectType::Leads;
    let email = lead_contacts.get(&c.key)?;
    let company = known_id(d, ObjectType::Companies, &c.account);
    let Some(contact) = known_id(d, ObjectType::Contacts, email) else {
        d.progress.counts(object).pending += 1;
        return None;
    };
    let Some(contact_type) = types.contact else {
        d.progress.counts(object).failed += 1;
        let f = Failure::local(
            "the portal has no lead-to-contact association type; check that leads are enabled"
                .into(),
        );
        let account = Some(c.account.as_str());
        d.progress
            .fail_write(object.name(), &c.key, account, "create", &f);
        return None;
    };
    let association = |id, type_id| AssociationInput {
        to: ObjectId { id },
        types: vec![AssociationSpec {
            association_category: "HUBSPOT_DEFINED".into(),
            association_type_id: type_id,
        }],
    };
    let mut associations = vec![association(contact, contact_type)];
    let mut links = vec![Link::new(object, &c.key, ObjectType::Contacts, email)];
    if let (Some(id), Some(type_id)) = (company, types.company) {
        associations.push(association(id, type_id));
        links.push(Link::new(object, &c.key, ObjectType::Companies, &c.account));
    }
    let input = CreateInput {
        properties: wire(&c.props),
        associations,
        object_write_trace_id: c.key.clone(),
    };
    Some(LeadCreate {
        change: c.clone(),
        input,
        links,
    })
}

/// Leads: new ones created with their primary contact and company, existing ones updated by
/// id (only when every create was answered: a stop ends the phase).
pub(super) async fn leads(
    d: &mut Driver<'_>,
    p: ObjectPlan,
    lead_contacts: &BTreeMap<String, String>,
    types: LeadTypes,
) -> Result<(), StateError> {
    let object = ObjectType::Leads;
    d.progress.counts(object).unchanged += p.unchanged;
    let creates: Vec<LeadCreate> = p
        .creates
        .iter()
        .filter_map(|c| lead_create(d, c, lead_contacts, types))
        .collect();
    if !creates.is_empty() {
        // A lead create is not idempotent: should this run die before HubSpot's answer is
        // saved, the next one must look for these leads before creating them again.
        d.progress
            .state
            .mark_pending(object, creates.iter().map(|l| l.change.key.as_str()));
        d.save(true).await?;
    }
    d.drive(&CreateLeads, chunks(&creates)).await?;
    let conflicts: Vec<String> = std::mem::take(&mut d.progress.conflicts)
        .into_iter()
        .map(|(_, key)| key)
        .collect();
    if !conflicts.is_empty() && d.stop.is_none() {
        let found = super::reads::read_keys(d, object, &conflicts).await?;
        let counts = d.progress.counts(object);
        counts.pending -= found;
    }
    if d.stop.is_some() {
        return Ok(());
    }
    d.drive(&UpdateLeads, chunks(&p.updates)).await
}

/// A default association to make, between two records' ids.
struct Association {
    link: Link,
    ids: DefaultAssociation,
}

/// Default associations of one direction (every batch holds a single pair of object types).
struct Associate;

#[async_trait]
impl Work for Associate {
    type Item = Association;

    async fn send(&self, crm: &dyn Crm, items: &[Association]) -> Result<Vec<Outcome>, BatchError> {
        let Some(first) = items.first() else {
            return Ok(Vec::new());
        };
        let pairs = items.iter().map(|a| a.ids.clone()).collect();
        crm.associate(first.link.from, first.link.to, pairs).await
    }

    fn settle(&self, progress: &mut Progress<'_>, a: &Association, outcome: Outcome) {
        let link = &a.link;
        match outcome {
            Outcome::Done(_) => {
                progress.confirm_link(link);
                progress.report.associations.created += 1;
            }
            Outcome::Failed(f) => {
                progress.report.associations.failed += 1;
                let key = format!(
                    "{}:{} → {}:{}",
                    link.from, link.from_key, link.to, link.to_key
                );
                let account = progress
                    .state
                    .get(link.from, &link.from_key)
                    .and_then(|r| r.account.clone());
                progress.fail_write("associations", &key, account.as_deref(), "associate", &f);
            }
            Outcome::NotFound => progress.report.associations.pending += 1,
        }
    }
}

/// Associate `links` between the object types written (`objects`), grouped by direction.
/// Links whose records are not (yet) in HubSpot wait for a later run; links HubSpot confirmed
/// earlier this run (a lead's, made with its create) are not sent again.
pub(super) async fn associate(
    d: &mut Driver<'_>,
    links: &[Link],
    objects: &[ObjectType],
) -> Result<(), StateError> {
    let mut by_pair: BTreeMap<(ObjectType, ObjectType), Vec<Association>> = BTreeMap::new();
    for link in links {
        if !objects.contains(&link.from) || !objects.contains(&link.to) {
            continue;
        }
        if d.progress.state.links.contains(link) {
            continue;
        }
        let ids = (
            known_id(d, link.from, &link.from_key),
            known_id(d, link.to, &link.to_key),
        );
        let (Some(from), Some(to)) = ids else {
            d.progress.report.associations.pending += 1;
            continue;
        };
        by_pair
            .entry((link.from, link.to))
            .or_default()
            .push(Association {
                link: link.clone(),
                ids: DefaultAssociation {
                    from: ObjectId { id: from },
                    to: ObjectId { id: to },
                },
            });
    }
    let batches = by_pair.values().flat_map(|items| chunks(items)).collect();
    d.drive(&Associate, batches).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsert_counts_as_created_when_hubspot_says_so_else_when_the_state_did_not_know_it() {
        // (HubSpot's `new`, the state knew the record, counted as created)
        let cases = [
            (Some(true), false, true),
            (Some(true), true, true),
            (Some(false), false, false),
            (Some(false), true, false),
            (None, false, true),
            (None, true, false),
        ];
        for (new, known, want) in cases {
            assert_eq!(created(new, known), want, "{new:?} {known}");
        }
    }
}
