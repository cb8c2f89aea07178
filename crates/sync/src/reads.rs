//! The read phases of a sync, before anything is written, each a `Work` for the driver:
//! reading back records new to the state (HubSpot may hold them already: a marketing contact,
//! a record from an interrupted run), and reading the current lifecycle stage of records
//! whose stage is about to move (marketing may have moved it since, and it never goes back).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::driver::{Driver, Progress, Work, chunks};
use super::model::Desired;
use super::plan::Plan;
use super::schema::id_property;
use pqlsync_hubspot::{BatchError, Crm, ObjectType, Outcome};
use pqlsync_rules::state::StateError;

/// What is adopted from a record found by read-back, by object type.
const READ_BACK: &[(ObjectType, &[&str])] = &[
    (
        ObjectType::Companies,
        &["hubspot_owner_id", "lifecyclestage"],
    ),
    (ObjectType::Contacts, &["lifecyclestage"]),
    (ObjectType::Deals, &["hubspot_owner_id"]),
    (ObjectType::Leads, &["hubspot_owner_id"]),
    (ObjectType::Tasks, &[]),
];

const LIFECYCLE: &str = "lifecyclestage";

/// Read records by their unique property; adopt the ids and `props` of those found.
struct ReadBack {
    object: ObjectType,
    props: &'static [&'static str],
}

#[async_trait]
impl Work for ReadBack {
    type Item = String;

    async fn send(&self, crm: &dyn Crm, keys: &[String]) -> Result<Vec<Outcome>, BatchError> {
        let properties = self.props.iter().map(|p| p.to_string()).collect();
        let id_property = Some(id_property(self.object));
        Ok(crm
            .read(self.object, id_property, keys.to_vec(), properties)
            .await?)
    }

    fn settle(&self, progress: &mut Progress<'_>, key: &String, outcome: Outcome) {
        match outcome {
            Outcome::Done(Some(r)) => {
                let held: BTreeMap<String, String> = r
                    .properties
                    .iter()
                    .filter(|(k, _)| self.props.contains(&k.as_str()))
                    .filter_map(|(k, v)| {
                        v.clone().filter(|v| !v.is_empty()).map(|v| (k.clone(), v))
                    })
                    .collect();
                progress.state.confirm(self.object, key, &r.id, &held);
                progress.counts(self.object).adopted += 1;
            }
            Outcome::Done(None) | Outcome::NotFound => {}
            // Not known to be absent: creating it could duplicate it.
            Outcome::Failed(f) => {
                let f = pqlsync_hubspot::Failure {
                    message: format!(
                        "could not look it up, so it is not created this run: {}",
                        f.message
                    ),
                    ..f
                };
                progress.fail(self.object.name(), key, "read", &f);
                progress.counts(self.object).failed += 1;
                progress.unverified.insert((self.object, key.clone()));
            }
        }
    }
}

/// Records new to the state may already be in HubSpot: find them by their unique property and
/// adopt their ids, owners and lifecycle stages before deciding what to write.
pub(super) async fn read_back(
    d: &mut Driver<'_>,
    desired: &Desired,
    objects: &[ObjectType],
) -> Result<(), StateError> {
    for &(object, props) in READ_BACK {
        if !objects.contains(&object) || d.stop.is_some() {
            continue;
        }
        let state = &d.progress.state;
        let mut keys: Vec<String> = desired
            .records(object)
            .iter()
            .filter(|r| state.get(object, &r.key).is_none())
            .map(|r| r.key.clone())
            .collect();
        if keys.is_empty() {
            continue;
        }
        // When HubSpot holds no more records with the id property than the state knows,
        // none of the unknown keys can be there (a fresh portal, a portal only pqlsync
        // writes to), except those a killed run may have created: one search instead of a
        // read per 100 records. Contacts made by marketing, or companies linked by hand,
        // raise the count and every unknown key is read. HubSpot's search trails writes by
        // seconds; records written that recently are the pending leads, or upserts of
        // pqlsync's own values, which cannot duplicate.
        match d.crm.count_with(object, id_property(object)).await {
            Err(stop) => {
                d.stop = Some(stop);
                break;
            }
            Ok(Some(held)) if held <= d.progress.state.records(object) as u64 => {
                keys.retain(|k| d.progress.state.is_pending(object, k));
            }
            Ok(_) => {}
        }
        d.drive(&ReadBack { object, props }, chunks(&keys)).await?;
    }
    Ok(())
}

/// Read `keys` of `object` by its unique property now and adopt those found (a create refused
/// because the key is taken); how many were found.
pub(super) async fn read_keys(
    d: &mut Driver<'_>,
    object: ObjectType,
    keys: &[String],
) -> Result<usize, StateError> {
    let props = READ_BACK
        .iter()
        .find(|(o, _)| *o == object)
        .map_or(&[][..], |(_, p)| *p);
    let before = d.progress.counts(object).adopted;
    d.drive(&ReadBack { object, props }, chunks(keys)).await?;
    Ok(d.progress.counts(object).adopted - before)
}

/// Read `properties` of records (key, HubSpot id) by their HubSpot ids: the read phases that
/// know the records (the lifecycle refresh, the read-back before deciding) share it.
pub(super) async fn read_by_id(
    crm: &dyn Crm,
    object: ObjectType,
    items: &[(String, String)],
    properties: Vec<String>,
) -> Result<Vec<Outcome>, BatchError> {
    let ids = items.iter().map(|(_, id)| id.clone()).collect();
    Ok(crm.read(object, None, ids, properties).await?)
}

/// Read the current lifecycle stage of records, by HubSpot id.
struct Lifecycle {
    object: ObjectType,
}

#[async_trait]
impl Work for Lifecycle {
    /// (key, HubSpot id)
    type Item = (String, String);

    async fn send(
        &self,
        crm: &dyn Crm,
        items: &[(String, String)],
    ) -> Result<Vec<Outcome>, BatchError> {
        read_by_id(crm, self.object, items, vec![LIFECYCLE.into()]).await
    }

    fn settle(&self, progress: &mut Progress<'_>, item: &(String, String), outcome: Outcome) {
        let (key, id) = item;
        if let Outcome::Done(Some(r)) = outcome {
            let current = r
                .properties
                .get(LIFECYCLE)
                .cloned()
                .flatten()
                .unwrap_or_default();
            let held = BTreeMap::from([(LIFECYCLE.to_string(), current)]);
            progress.state.confirm(self.object, key, id, &held);
        }
    }
}

/// Before moving a lifecycle stage, read the current one: marketing may have moved it since
/// pqlsync last wrote it, and it must never go backwards. Returns whether any was read, that
/// is whether the plan must be made again.
pub(super) async fn refresh_lifecycle(d: &mut Driver<'_>, plan: &Plan) -> Result<bool, StateError> {
    let mut read = false;
    for object in [ObjectType::Companies, ObjectType::Contacts] {
        if d.stop.is_some() {
            break;
        }
        let targets: Vec<(String, String)> = plan
            .objects
            .get(&object)
            .into_iter()
            .flat_map(|p| &p.updates)
            .filter(|c| c.props.contains_key(LIFECYCLE))
            .filter_map(|c| c.id.clone().map(|id| (c.key.clone(), id)))
            .collect();
        read |= !targets.is_empty();
        d.drive(&Lifecycle { object }, chunks(&targets)).await?;
    }
    Ok(read)
}
