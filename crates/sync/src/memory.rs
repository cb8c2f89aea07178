//! An in-memory CRM for the sync's tests: a `Crm` that stores records by their unique property,
//! hands out ids, keeps associations, and can be told to behave as HubSpot does when things go
//! wrong — reject every batch holding a given record or association (HubSpot fails the whole
//! batch), stop at the daily limit or on a revoked token, or apply a call and then stop, as a
//! run killed before HubSpot's answer arrives would see it. It logs every call, so tests can
//! say what was sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::schema::id_property;
use pqlsync_hubspot::api::{
    CreateInput, DefaultAssociation, ObjectResult, UpdateInput, UpsertInput,
};
use pqlsync_hubspot::{BatchError, Crm, Failure, ObjectType, Outcome, Stop};

/// A record as the portal holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub id: String,
    pub props: BTreeMap<String, String>,
}

/// One call the sync made: what, on which object type (`from` for associations), how many
/// inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub op: &'static str,
    pub object: ObjectType,
    pub inputs: usize,
}

#[derive(Default)]
struct Portal {
    /// Object type → unique property value → record.
    records: BTreeMap<ObjectType, BTreeMap<String, Held>>,
    /// Associations, by (from id, to id).
    links: BTreeSet<(String, String)>,
    next_id: u64,
    /// Keys of records HubSpot refuses.
    reject: BTreeSet<(ObjectType, String)>,
    /// Keys of records whose associations HubSpot refuses.
    reject_links_of: BTreeSet<String>,
    /// Write calls left today; `None`: no limit.
    writes_left: Option<usize>,
    token_revoked: bool,
    /// Apply the next call of this kind, then answer a stop.
    lose_answer_to: Option<(&'static str, ObjectType)>,
    /// Reads of this object type get an unreadable answer.
    garble_reads_of: Option<ObjectType>,
    /// Records another writer creates just before the next create of their object type.
    created_elsewhere: Option<(ObjectType, Vec<String>)>,
    calls: Vec<Call>,
}

/// See the module documentation.
#[derive(Default)]
pub struct MemoryCrm {
    portal: Mutex<Portal>,
}

fn stop(message: &str) -> Stop {
    Stop {
        message: message.to_string(),
        correlation_id: None,
        credentials: false,
    }
}

fn rejected(key: &str) -> BatchError {
    BatchError::Rejected(Box::new(Failure {
        status: Some(400),
        category: Some("VALIDATION_ERROR".into()),
        message: format!("Property values were not valid: {key}"),
        correlation_id: Some(format!("corr-{key}")),
        body: None,
    }))
}

fn result(id: &str, key_property: &str, key: &str, new: Option<bool>) -> ObjectResult {
    ObjectResult {
        id: id.to_string(),
        properties: BTreeMap::from([(key_property.to_string(), Some(key.to_string()))]),
        new,
        object_write_trace_id: None,
        created_at: None,
        updated_at: None,
    }
}

impl MemoryCrm {
    fn portal(&self) -> MutexGuard<'_, Portal> {
        self.portal.lock().expect("no test panics while holding it")
    }

    /// Reject every batch holding the `object` record with unique property `key`.
    pub fn reject(&self, object: ObjectType, key: &str) {
        self.portal().reject.insert((object, key.to_string()));
    }

    /// Stop rejecting the `object` record `key`, as when its cause is fixed.
    pub fn accept(&self, object: ObjectType, key: &str) {
        self.portal().reject.remove(&(object, key.to_string()));
    }

    /// Reject every association batch holding an association of record `key`.
    pub fn reject_links_of(&self, key: &str) {
        self.portal().reject_links_of.insert(key.to_string());
    }

    /// Allow `n` more write calls, then answer every call with the daily-limit stop.
    pub fn daily_limit_after(&self, n: usize) {
        self.portal().writes_left = Some(n);
    }

    /// Answer every call with the stop of a revoked token (401).
    pub fn revoke_token(&self) {
        self.portal().token_revoked = true;
    }

    /// Answer reads of `object` (or stop doing so) with what the client makes of a 2xx whose
    /// body is not the documented shape: a failure of every record read.
    pub fn garble_reads_of(&self, object: Option<ObjectType>) {
        self.portal().garble_reads_of = object;
    }

    /// Just before the next create of `object`, create `keys` as another writer would (an
    /// overlapping run, a create whose answer was lost).
    pub fn create_elsewhere_before_next_create(&self, object: ObjectType, keys: Vec<String>) {
        self.portal().created_elsewhere = Some((object, keys));
    }

    /// Apply the next `op` call on `object`, then answer a stop instead of its results.
    pub fn lose_answer_to(&self, op: &'static str, object: ObjectType) {
        self.portal().lose_answer_to = Some((op, object));
    }

    /// Set `property` of record `key` to `value`, as a person would in HubSpot.
    pub fn edit(&self, object: ObjectType, key: &str, property: &str, value: &str) {
        let mut portal = self.portal();
        let record = portal
            .records
            .get_mut(&object)
            .and_then(|r| r.get_mut(key))
            .expect("the record exists");
        record.props.insert(property.to_string(), value.to_string());
    }

    /// The records of `object`, by unique property.
    pub fn records(&self, object: ObjectType) -> BTreeMap<String, Held> {
        self.portal()
            .records
            .get(&object)
            .cloned()
            .unwrap_or_default()
    }

    pub fn links(&self) -> usize {
        self.portal().links.len()
    }

    pub fn calls(&self, op: &str, object: ObjectType) -> Vec<usize> {
        self.portal()
            .calls
            .iter()
            .filter(|c| c.op == op && c.object == object)
            .map(|c| c.inputs)
            .collect()
    }

    /// Log the call and answer a stop if the portal is past its limit or the token is revoked.
    fn enter(&self, op: &'static str, object: ObjectType, inputs: usize) -> Result<(), Stop> {
        let mut p = self.portal();
        p.calls.push(Call { op, object, inputs });
        if p.token_revoked {
            return Err(stop(
                "HubSpot rejected the token (401: Authentication credentials not found)",
            ));
        }
        let writing = !matches!(op, "read" | "count");
        if writing && let Some(left) = p.writes_left.as_mut() {
            if *left == 0 {
                return Err(stop("HubSpot's daily API limit is reached"));
            }
            *left -= 1;
        }
        Ok(())
    }

    /// After applying a call: a stop if its answer is to be lost.
    fn answer(&self, op: &'static str, object: ObjectType) -> Result<(), BatchError> {
        let mut p = self.portal();
        if p.lose_answer_to == Some((op, object)) {
            p.lose_answer_to = None;
            return Err(BatchError::Stop(stop("the run was killed")));
        }
        Ok(())
    }
}

impl Portal {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        (1000 + self.next_id).to_string()
    }

    fn key_of(&self, id: &str) -> Option<&str> {
        self.records
            .values()
            .flat_map(|records| records.iter())
            .find(|(_, held)| held.id == id)
            .map(|(key, _)| key.as_str())
    }
}

#[async_trait]
impl Crm for MemoryCrm {
    async fn upsert(
        &self,
        object: ObjectType,
        inputs: Vec<UpsertInput>,
    ) -> Result<Vec<Outcome>, BatchError> {
        self.enter("upsert", object, inputs.len())?;
        let mut p = self.portal();
        let refused = |i: &&UpsertInput| p.reject.contains(&(object, i.id.clone()));
        if let Some(bad) = inputs.iter().find(refused) {
            return Err(rejected(&bad.id));
        }
        let mut out = Vec::new();
        for input in inputs {
            let existing = p.records.get(&object).and_then(|r| r.get(&input.id));
            let (id, new) = match existing {
                Some(held) => (held.id.clone(), false),
                None => (p.new_id(), true),
            };
            let held = p
                .records
                .entry(object)
                .or_default()
                .entry(input.id.clone())
                .or_insert_with(|| Held {
                    id: id.clone(),
                    props: BTreeMap::new(),
                });
            held.props.extend(input.properties);
            out.push(Outcome::Done(Some(result(
                &id,
                &input.id_property,
                &input.id,
                Some(new),
            ))));
        }
        drop(p);
        self.answer("upsert", object)?;
        Ok(out)
    }

    async fn create(
        &self,
        object: ObjectType,
        inputs: Vec<CreateInput>,
    ) -> Result<Vec<Outcome>, BatchError> {
        self.enter("create", object, inputs.len())?;
        let mut p = self.portal();
        let key_property = id_property(object);
        if let Some((o, keys)) = p.created_elsewhere.take() {
            if o == object {
                for k in keys {
                    let id = p.new_id();
                    let props = BTreeMap::from([(key_property.to_string(), k.clone())]);
                    p.records
                        .entry(object)
                        .or_default()
                        .insert(k, Held { id, props });
                }
            } else {
                p.created_elsewhere = Some((o, keys));
            }
        }
        let key = |i: &CreateInput| i.properties.get(key_property).cloned().unwrap_or_default();
        for input in &inputs {
            let k = key(input);
            if p.reject.contains(&(object, k.clone())) {
                return Err(rejected(&k));
            }
            // A unique value already taken is a 409 for HubSpot, which fails the batch.
            if p.records.get(&object).is_some_and(|r| r.contains_key(&k)) {
                return Err(BatchError::Rejected(Box::new(Failure {
                    status: Some(409),
                    category: Some("CONFLICT".into()),
                    message: format!("A record with the unique value {k} already exists"),
                    correlation_id: Some(format!("corr-{k}")),
                    body: None,
                })));
            }
        }
        let mut out = Vec::new();
        for input in inputs {
            let id = p.new_id();
            for association in &input.associations {
                p.links.insert((id.clone(), association.to.id.clone()));
            }
            let k = key(&input);
            let held = Held {
                id: id.clone(),
                props: input.properties,
            };
            p.records.entry(object).or_default().insert(k.clone(), held);
            let mut r = result(&id, key_property, &k, Some(true));
            r.object_write_trace_id = Some(input.object_write_trace_id);
            out.push(Outcome::Done(Some(r)));
        }
        drop(p);
        self.answer("create", object)?;
        Ok(out)
    }

    async fn update(
        &self,
        object: ObjectType,
        inputs: Vec<UpdateInput>,
    ) -> Result<Vec<Outcome>, BatchError> {
        self.enter("update", object, inputs.len())?;
        let mut p = self.portal();
        let mut out = Vec::new();
        for input in inputs {
            let records = p.records.entry(object).or_default();
            match records.values_mut().find(|h| h.id == input.id) {
                Some(held) => {
                    held.props.extend(input.properties);
                    out.push(Outcome::Done(Some(result(
                        &input.id,
                        "hs_object_id",
                        &input.id,
                        None,
                    ))));
                }
                None => out.push(Outcome::NotFound),
            }
        }
        Ok(out)
    }

    async fn archive(
        &self,
        object: ObjectType,
        ids: Vec<String>,
    ) -> Result<Vec<Outcome>, BatchError> {
        self.enter("archive", object, ids.len())?;
        let mut p = self.portal();
        let records = p.records.entry(object).or_default();
        records.retain(|_, held| !ids.contains(&held.id));
        Ok(vec![Outcome::Done(None); ids.len()])
    }

    async fn count_with(&self, object: ObjectType, _property: &str) -> Result<Option<u64>, Stop> {
        self.enter("count", object, 1)?;
        Ok(Some(self.records(object).len() as u64))
    }

    async fn read(
        &self,
        object: ObjectType,
        id_property: Option<&str>,
        ids: Vec<String>,
        properties: Vec<String>,
    ) -> Result<Vec<Outcome>, Stop> {
        self.enter("read", object, ids.len())?;
        if self.portal().garble_reads_of == Some(object) {
            let f = Failure::local(
                "unexpected response from /crm/objects/2026-09/leads/batch/read: expected value at line 1 column 1: <html>".into(),
            );
            return Ok(vec![Outcome::Failed(f); ids.len()]);
        }
        let records = self.records(object);
        let found = |id: &String| match id_property {
            Some(_) => records.get(id),
            None => records.values().find(|h| h.id == *id),
        };
        Ok(ids
            .iter()
            .map(|id| match found(id) {
                Some(held) => Outcome::Done(Some(ObjectResult {
                    id: held.id.clone(),
                    properties: properties
                        .iter()
                        .map(|name| (name.clone(), held.props.get(name).cloned()))
                        .collect(),
                    new: None,
                    object_write_trace_id: None,
                    created_at: None,
                    updated_at: None,
                })),
                None => Outcome::NotFound,
            })
            .collect())
    }

    async fn associate(
        &self,
        from: ObjectType,
        _to: ObjectType,
        pairs: Vec<DefaultAssociation>,
    ) -> Result<Vec<Outcome>, BatchError> {
        self.enter("associate", from, pairs.len())?;
        let mut p = self.portal();
        for pair in &pairs {
            for id in [&pair.from.id, &pair.to.id] {
                if let Some(key) = p.key_of(id)
                    && p.reject_links_of.contains(key)
                {
                    return Err(rejected(key));
                }
            }
        }
        let mut out = Vec::new();
        for pair in pairs {
            if p.key_of(&pair.from.id).is_none() || p.key_of(&pair.to.id).is_none() {
                out.push(Outcome::NotFound);
                continue;
            }
            p.links.insert((pair.from.id, pair.to.id));
            out.push(Outcome::Done(None));
        }
        Ok(out)
    }

    /// As HubSpot: a record has no id until it is written.
    fn unconfirmed_id(&self, _object: ObjectType, _key: &str) -> Option<String> {
        None
    }
}
