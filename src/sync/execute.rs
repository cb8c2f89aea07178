//! Running a sync: read back what HubSpot already holds for records new to the state, diff,
//! then write in dependency order — companies, contacts and deals (upserts by unique
//! property), leads (created with their primary contact, as HubSpot requires), tasks, and
//! associations — in batches of 100, several in flight. The state takes a record only when
//! HubSpot confirms it and is saved as the run goes, so a run that is killed resumes where it
//! stopped: upserts are idempotent, and leads and tasks are found again by their unique
//! property before anything is created twice.
//!
//! The run is the same whatever the `Crm` is: HubSpot, or the offline recorder, which hands
//! out placeholder ids.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;

use super::model::{Desired, Link};
use super::plan::{Change, Plan, plan};
use super::schema::id_property;
use super::state::{FailureRecord, STATE_FILE, SyncState};
use crate::hubspot::api::{
    AssociationInput, AssociationSpec, CreateInput, DefaultAssociation, ObjectId, UpdateInput,
    UpsertInput,
};
use crate::hubspot::{BATCH_LIMIT, Crm, Failure, ObjectType, Outcome, Stop};
use crate::state::{StateError, Store};

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Batches in flight at once.
    pub concurrency: usize,
    /// Association type ids for creating leads (to contact, to company), from the portal.
    pub lead_contact_type: Option<i64>,
    pub lead_company_type: Option<i64>,
    /// Object types to write.
    pub objects: Vec<ObjectType>,
}

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

/// An association batch's object types, from and to.
type Pair = (ObjectType, ObjectType);

/// How often the state is saved while a sync runs.
const SAVE_EVERY: Duration = Duration::from_secs(3);

struct Engine<'a> {
    crm: &'a dyn Crm,
    state: &'a mut SyncState,
    store: Option<&'a Store>,
    options: &'a Options,
    report: SyncReport,
    last_save: Instant,
    stop: Option<Stop>,
}

/// Properties as the API's input types hold them.
fn wire(props: &BTreeMap<&'static str, String>) -> BTreeMap<String, String> {
    props
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn chunks<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    items.chunks(BATCH_LIMIT).map(<[T]>::to_vec).collect()
}

/// The id a request may use for record `key`: the one HubSpot confirmed, else whatever the CRM
/// lets a request refer to an unconfirmed record by (nothing, for HubSpot).
fn known_id(crm: &dyn Crm, state: &SyncState, object: ObjectType, key: &str) -> Option<String> {
    state
        .id(object, key)
        .map(str::to_string)
        .or_else(|| crm.unconfirmed_id(object, key))
}

impl Engine<'_> {
    fn counts(&mut self, object: ObjectType) -> &mut Counts {
        self.report
            .objects
            .entry(object.name().to_string())
            .or_default()
    }

    fn fail(&mut self, object: &str, key: &str, operation: &str, f: &Failure) {
        self.report.failures.push(FailureRecord {
            object: object.to_string(),
            key: key.to_string(),
            operation: operation.to_string(),
            status: f.status,
            category: f.category.clone(),
            message: f.message.clone(),
            correlation_id: f.correlation_id.clone(),
        });
    }

    async fn save(&mut self, force: bool) -> Result<(), StateError> {
        if let Some(store) = self.store
            && (force || self.last_save.elapsed() >= SAVE_EVERY)
        {
            store.write(STATE_FILE, &*self.state).await?;
            self.last_save = Instant::now();
        }
        Ok(())
    }

    fn wants(&self, object: ObjectType) -> bool {
        self.options.objects.contains(&object)
    }

    /// Records new to the state may already be in HubSpot (a marketing contact, a record from
    /// an interrupted run): find them by their unique property and adopt their ids, owners and
    /// lifecycle stages before deciding what to write.
    async fn read_back(&mut self, desired: &Desired) -> Result<(), StateError> {
        for (object, props) in READ_BACK {
            if !self.wants(*object) || self.stop.is_some() {
                continue;
            }
            let mut keys: Vec<String> = desired
                .records(*object)
                .iter()
                .filter(|r| self.state.get(*object, &r.key).is_none())
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
            match self.crm.count_with(*object, id_property(*object)).await {
                Err(stop) => {
                    self.stop = Some(stop);
                    break;
                }
                Ok(Some(held)) if held <= self.state.records(*object) as u64 => {
                    keys.retain(|k| self.state.is_pending(*object, k));
                }
                Ok(_) => {}
            }
            let properties: Vec<String> = props.iter().map(|p| p.to_string()).collect();
            let crm = self.crm;
            let object = *object;
            let mut results = futures::stream::iter(chunks(&keys))
                .map(|batch| {
                    let properties = properties.clone();
                    async move {
                        let outcome = crm
                            .read(object, Some(id_property(object)), batch.clone(), properties)
                            .await;
                        (batch, outcome)
                    }
                })
                .buffer_unordered(self.options.concurrency);
            while let Some((batch, outcome)) = results.next().await {
                match outcome {
                    Err(stop) => {
                        self.stop = Some(stop);
                        break;
                    }
                    Ok(outcomes) => {
                        for (key, o) in batch.iter().zip(outcomes) {
                            if let Outcome::Done(Some(r)) = o {
                                let held: BTreeMap<String, String> = r
                                    .properties
                                    .iter()
                                    .filter(|(k, _)| props.contains(&k.as_str()))
                                    .filter_map(|(k, v)| {
                                        v.clone().filter(|v| !v.is_empty()).map(|v| (k.clone(), v))
                                    })
                                    .collect();
                                self.state.confirm(object, key, &r.id, &held);
                                self.counts(object).adopted += 1;
                            }
                        }
                    }
                }
                self.save(false).await?;
            }
        }
        Ok(())
    }

    /// Before moving a lifecycle stage, read the current one: marketing may have moved it
    /// since pqlsync last wrote it, and it must never go backwards. Returns whether any was
    /// read, that is whether the plan must be made again.
    async fn refresh_lifecycle(&mut self, plan: &Plan) -> Result<bool, StateError> {
        let mut read = false;
        for object in [ObjectType::Companies, ObjectType::Contacts] {
            let targets: Vec<(String, String)> = plan
                .object(object)
                .updates
                .iter()
                .filter(|c| c.props.contains_key("lifecyclestage"))
                .filter_map(|c| c.id.clone().map(|id| (c.key.clone(), id)))
                .collect();
            read |= !targets.is_empty();
            for batch in chunks(&targets) {
                let ids: Vec<String> = batch.iter().map(|(_, id)| id.clone()).collect();
                match self
                    .crm
                    .read(object, None, ids, vec!["lifecyclestage".into()])
                    .await
                {
                    Err(stop) => {
                        self.stop = Some(stop);
                        return Ok(read);
                    }
                    Ok(outcomes) => {
                        for ((key, id), o) in batch.iter().zip(outcomes) {
                            if let Outcome::Done(Some(r)) = o {
                                let current = r
                                    .properties
                                    .get("lifecyclestage")
                                    .cloned()
                                    .flatten()
                                    .unwrap_or_default();
                                self.state.confirm(
                                    object,
                                    key,
                                    id,
                                    &BTreeMap::from([("lifecyclestage".to_string(), current)]),
                                );
                            }
                        }
                    }
                }
            }
        }
        Ok(read)
    }

    /// Upsert creates and updates of `object` by its unique property.
    async fn upsert(&mut self, object: ObjectType, plan: &Plan) -> Result<(), StateError> {
        let p = plan.object(object);
        self.counts(object).unchanged += p.unchanged;
        let changes: Vec<Change> = p.creates.iter().chain(&p.updates).cloned().collect();
        let crm = self.crm;
        let id_prop = id_property(object);
        let mut results = futures::stream::iter(chunks(&changes))
            .map(|batch| async move {
                let inputs = batch
                    .iter()
                    .map(|c| UpsertInput {
                        id: c.key.clone(),
                        id_property: id_prop.to_string(),
                        properties: wire(&c.props),
                    })
                    .collect();
                let outcome = crm.upsert(object, inputs).await;
                (batch, outcome)
            })
            .buffer_unordered(self.options.concurrency);
        while let Some((batch, outcome)) = results.next().await {
            let outcomes = match outcome {
                Err(stop) => {
                    self.stop = Some(stop);
                    break;
                }
                Ok(o) => o,
            };
            for (change, o) in batch.iter().zip(outcomes) {
                match o {
                    Outcome::Done(Some(r)) => {
                        self.state
                            .confirm(object, &change.key, &r.id, &change.props);
                        let created = r.new.unwrap_or(change.id.is_none());
                        let c = self.counts(object);
                        if created {
                            c.created += 1
                        } else {
                            c.updated += 1
                        }
                    }
                    Outcome::Failed(f) => {
                        self.counts(object).failed += 1;
                        self.fail(object.name(), &change.key, "upsert", &f);
                    }
                    Outcome::Done(None) | Outcome::NotFound => {
                        self.counts(object).failed += 1;
                        self.fail(
                            object.name(),
                            &change.key,
                            "upsert",
                            &Failure::local("HubSpot returned no record".into()),
                        );
                    }
                }
            }
            self.save(false).await?;
        }
        Ok(())
    }

    /// Leads: new ones are created with their primary contact (HubSpot refuses a lead without
    /// one) and company; existing ones are updated by id.
    async fn leads(&mut self, plan: &Plan, desired: &Desired) -> Result<(), StateError> {
        let object = ObjectType::Leads;
        let p = plan.object(object);
        self.counts(object).unchanged += p.unchanged;
        let mut creates: Vec<(Change, CreateInput, Vec<Link>)> = Vec::new();
        for c in &p.creates {
            let Some(email) = desired.lead_contacts.get(&c.key) else {
                continue;
            };
            let company = known_id(self.crm, self.state, ObjectType::Companies, &c.account);
            let Some(contact) = known_id(self.crm, self.state, ObjectType::Contacts, email) else {
                self.counts(object).pending += 1;
                continue;
            };
            let Some(contact_type) = self.options.lead_contact_type else {
                self.counts(object).failed += 1;
                let f = Failure::local("the portal has no lead-to-contact association type; check that leads are enabled".into());
                self.fail(object.name(), &c.key, "create", &f);
                continue;
            };
            let spec = |type_id| AssociationSpec {
                association_category: "HUBSPOT_DEFINED".into(),
                association_type_id: type_id,
            };
            let mut associations = vec![AssociationInput {
                to: ObjectId { id: contact },
                types: vec![spec(contact_type)],
            }];
            let mut links = vec![Link::new(object, &c.key, ObjectType::Contacts, email)];
            if let (Some(id), Some(type_id)) = (company, self.options.lead_company_type) {
                associations.push(AssociationInput {
                    to: ObjectId { id },
                    types: vec![spec(type_id)],
                });
                links.push(Link::new(object, &c.key, ObjectType::Companies, &c.account));
            }
            let input = CreateInput {
                properties: wire(&c.props),
                associations,
                object_write_trace_id: c.key.clone(),
            };
            creates.push((c.clone(), input, links));
        }
        if !creates.is_empty() {
            // A lead create is not idempotent: should this run die before HubSpot's answer is
            // saved, the next one must look for these leads before creating them again.
            self.state
                .mark_pending(object, creates.iter().map(|(c, _, _)| c.key.as_str()));
            self.save(true).await?;
        }
        let crm = self.crm;
        let mut results = futures::stream::iter(chunks(&creates))
            .map(|batch| async move {
                let inputs = batch.iter().map(|(_, i, _)| i.clone()).collect();
                (batch, crm.create(object, inputs).await)
            })
            .buffer_unordered(self.options.concurrency);
        while let Some((batch, outcome)) = results.next().await {
            let outcomes = match outcome {
                Err(stop) => {
                    self.stop = Some(stop);
                    break;
                }
                Ok(o) => o,
            };
            for ((change, _, links), o) in batch.iter().zip(outcomes) {
                match o {
                    Outcome::Done(Some(r)) => {
                        self.state
                            .confirm(object, &change.key, &r.id, &change.props);
                        self.state.links.extend(links.iter().cloned());
                        self.counts(object).created += 1;
                    }
                    Outcome::Failed(f) => {
                        // Refused for certain (a 4xx): nothing was created. Otherwise it may
                        // have been, and it stays pending.
                        if f.status
                            .is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429)
                        {
                            self.state.settle(object, &change.key);
                        }
                        self.counts(object).failed += 1;
                        self.fail(object.name(), &change.key, "create", &f);
                    }
                    Outcome::Done(None) | Outcome::NotFound => {
                        self.counts(object).failed += 1;
                        self.fail(
                            object.name(),
                            &change.key,
                            "create",
                            &Failure::local("HubSpot returned no record".into()),
                        );
                    }
                }
            }
            self.save(false).await?;
        }
        drop(results);
        if self.stop.is_some() {
            return Ok(());
        }
        let updates = p.updates.clone();
        let mut results = futures::stream::iter(chunks(&updates))
            .map(|batch| async move {
                let inputs = batch
                    .iter()
                    .map(|c| UpdateInput {
                        id: c.id.clone().unwrap_or_default(),
                        properties: wire(&c.props),
                    })
                    .collect();
                (batch, crm.update(object, inputs).await)
            })
            .buffer_unordered(self.options.concurrency);
        while let Some((batch, outcome)) = results.next().await {
            let outcomes = match outcome {
                Err(stop) => {
                    self.stop = Some(stop);
                    break;
                }
                Ok(o) => o,
            };
            for (change, o) in batch.iter().zip(outcomes) {
                match o {
                    Outcome::Done(_) => {
                        let id = change.id.clone().unwrap_or_default();
                        self.state.confirm(object, &change.key, &id, &change.props);
                        self.counts(object).updated += 1;
                    }
                    Outcome::Failed(f) => {
                        self.counts(object).failed += 1;
                        self.fail(object.name(), &change.key, "update", &f);
                    }
                    Outcome::NotFound => {
                        // Deleted in HubSpot: forget it, so the next run creates it again.
                        if let Some(records) = self.state.objects.get_mut(&object) {
                            records.remove(&change.key);
                        }
                        self.counts(object).pending += 1;
                    }
                }
            }
            self.save(false).await?;
        }
        Ok(())
    }

    /// Default associations, grouped by direction. Links whose records are not (yet) in
    /// HubSpot wait for a later run.
    async fn associate(&mut self, links: &[Link]) -> Result<(), StateError> {
        let mut by_pair: BTreeMap<(ObjectType, ObjectType), Vec<(Link, DefaultAssociation)>> =
            BTreeMap::new();
        for link in links {
            if !self.wants(link.from) || !self.wants(link.to) {
                continue;
            }
            let ids = (
                known_id(self.crm, self.state, link.from, &link.from_key),
                known_id(self.crm, self.state, link.to, &link.to_key),
            );
            let (Some(from), Some(to)) = ids else {
                self.report.associations.pending += 1;
                continue;
            };
            by_pair.entry((link.from, link.to)).or_default().push((
                link.clone(),
                DefaultAssociation {
                    from: ObjectId { id: from },
                    to: ObjectId { id: to },
                },
            ));
        }
        let crm = self.crm;
        let work: Vec<(Pair, Vec<(Link, DefaultAssociation)>)> = by_pair
            .into_iter()
            .flat_map(|(pair, items)| chunks(&items).into_iter().map(move |c| (pair, c)))
            .collect();
        let mut results = futures::stream::iter(work)
            .map(|(pair, batch)| async move {
                let inputs = batch.iter().map(|(_, a)| a.clone()).collect();
                let outcome = crm.associate(pair.0, pair.1, inputs).await;
                (batch, outcome)
            })
            .buffer_unordered(self.options.concurrency);
        while let Some((batch, outcome)) = results.next().await {
            let outcomes = match outcome {
                Err(stop) => {
                    self.stop = Some(stop);
                    break;
                }
                Ok(o) => o,
            };
            for ((link, _), o) in batch.iter().zip(outcomes) {
                match o {
                    Outcome::Done(_) => {
                        self.state.links.insert(link.clone());
                        self.report.associations.created += 1;
                    }
                    Outcome::Failed(f) => {
                        self.report.associations.failed += 1;
                        let key = format!(
                            "{}:{} → {}:{}",
                            link.from, link.from_key, link.to, link.to_key
                        );
                        self.fail("associations", &key, "associate", &f);
                    }
                    Outcome::NotFound => self.report.associations.pending += 1,
                }
            }
            self.save(false).await?;
        }
        Ok(())
    }
}

/// Sync `desired` through `crm`. The state is updated as HubSpot confirms writes and saved to
/// `store` (when given) as the run goes and at the end. A `Stop` (daily limit, token) ends the
/// run early with everything confirmed so far saved.
pub async fn run(
    crm: &dyn Crm,
    desired: &Desired,
    state: &mut SyncState,
    store: Option<&Store>,
    options: &Options,
) -> Result<SyncReport, StateError> {
    let started = Instant::now();
    let mut e = Engine {
        crm,
        state,
        store,
        options,
        report: SyncReport::default(),
        last_save: Instant::now(),
        stop: None,
    };
    e.read_back(desired).await?;
    // The plan keeps what it takes; leads and tasks still read `desired` below.
    let mut the_plan = plan(desired.clone(), e.state);
    if e.stop.is_none() && e.refresh_lifecycle(&the_plan).await? {
        the_plan = plan(desired.clone(), e.state);
    }
    e.save(true).await?;
    let links_existing = the_plan.links_existing;
    for object in [
        ObjectType::Companies,
        ObjectType::Contacts,
        ObjectType::Deals,
    ] {
        if e.stop.is_none() && e.wants(object) {
            e.upsert(object, &the_plan).await?;
            e.save(true).await?;
        }
    }
    if e.stop.is_none() && e.wants(ObjectType::Leads) {
        e.leads(&the_plan, desired).await?;
        e.save(true).await?;
    }
    if e.stop.is_none() && e.wants(ObjectType::Tasks) {
        e.upsert(ObjectType::Tasks, &the_plan).await?;
        e.save(true).await?;
    }
    if e.stop.is_none() {
        e.report.associations.unchanged += links_existing;
        let links = the_plan.links.clone();
        e.associate(&links).await?;
    }
    e.save(true).await?;
    let mut report = e.report;
    report.stopped = e.stop.map(|s| s.message);
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
