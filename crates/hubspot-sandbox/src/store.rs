//! The portal's state: records, property definitions and groups, pipelines, owners, task
//! queues and associations. Every operation is synchronous and runs under one lock held by
//! the caller, so a batch is validated and applied atomically, as HubSpot fails or applies a
//! batch whole.
//!
//! The object, schema, association and validation-rule operations live in `objects.rs`,
//! `schema.rs`, `associations.rs` and `validations.rs` as further `impl Store` blocks.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::defaults;
use super::kinds::Kind;
use super::model::{
    Association, GroupDef, OptionDef, OwnerDef, PipelineDef, PropertyDef, Record, rfc3339,
};
use super::rules::Rule;

/// First record id. Ids come from one counter for all object types, so an id names one record
/// in the portal (clients match 207 error contexts by id alone).
const FIRST_RECORD_ID: u64 = 10_000_001;
/// First id for created pipelines and stages (default ones have HubSpot's named ids).
const FIRST_PIPELINE_ID: u64 = 900_000_001;

#[derive(Debug)]
pub struct Store {
    pub objects: BTreeMap<Kind, BTreeMap<u64, Record>>,
    pub properties: BTreeMap<Kind, Vec<PropertyDef>>,
    pub groups: BTreeMap<Kind, Vec<GroupDef>>,
    pub pipelines: BTreeMap<Kind, Vec<PipelineDef>>,
    pub owners: Vec<OwnerDef>,
    /// In the direction and order they were written; the inverse is derived on reading.
    pub associations: Vec<Association>,
    /// (property, value) pairs refused on request (`POST /_sandbox/refuse`), the way HubSpot
    /// refuses values for reasons a client cannot check (a blocked email domain, say).
    pub refused: std::collections::BTreeSet<(String, String)>,
    /// Property validation rules: object → property → rules, by rule type
    /// (`rules.rs` defines them, `validations.rs` serves and enforces them).
    pub validation_rules: BTreeMap<Kind, BTreeMap<String, Vec<Rule>>>,
    next_record: u64,
    next_pipeline: u64,
    /// Record ids by property value, per object type and property, built on first lookup and
    /// kept up to date by `indexed_set`: upserts and uniqueness checks look records up by
    /// value, and a portal of 100,000 records must not be scanned once per input.
    by_value: RefCell<HashMap<(Kind, String), HashMap<String, u64>>>,
    /// Positions in `associations` by either end, so reading a record's associations and
    /// de-duplicating new ones do not scan them all.
    by_end: HashMap<(Kind, u64), Vec<usize>>,
}

impl Store {
    /// A fresh portal with owners for `owner_emails` and the task queues `queue_ids`.
    pub fn new(owner_emails: &[String], queue_ids: &[String]) -> Store {
        let mut store = Store {
            objects: Kind::ALL
                .into_iter()
                .map(|k| (k, BTreeMap::new()))
                .collect(),
            properties: Kind::ALL
                .into_iter()
                .map(|k| (k, defaults::properties(k)))
                .collect(),
            groups: Kind::ALL
                .into_iter()
                .map(|k| (k, defaults::groups(k)))
                .collect(),
            pipelines: Kind::ALL
                .into_iter()
                .map(|k| (k, defaults::pipelines(k)))
                .collect(),
            owners: defaults::owners(owner_emails),
            associations: Vec::new(),
            refused: Default::default(),
            validation_rules: BTreeMap::new(),
            next_record: FIRST_RECORD_ID,
            next_pipeline: FIRST_PIPELINE_ID,
            by_value: RefCell::new(HashMap::new()),
            by_end: HashMap::new(),
        };
        for id in queue_ids {
            store.add_queue(id, None);
        }
        store
    }

    /// Add task queue `id` (labelled `name`, else "Queue {id}") to the portal. HubSpot checks
    /// tasks' queue property against the portal's queues as it checks any enumeration against
    /// its options, so the queues are kept as that property's options: the properties API and
    /// the enumeration check then see them with nothing else to keep in step. A queue that
    /// exists is left as it is. Returns the queue's option.
    pub fn add_queue(&mut self, id: &str, name: Option<&str>) -> &OptionDef {
        let def = self
            .properties
            .get_mut(&Kind::Tasks)
            .and_then(|list| list.iter_mut().find(|p| p.name == defaults::QUEUE_PROPERTY))
            .expect("tasks have the queue property");
        if let Some(at) = def.options.iter().position(|o| o.value == id) {
            return &def.options[at];
        }
        let display_order = def.options.len() as i32;
        def.options.push(OptionDef {
            label: name.map_or_else(|| format!("Queue {id}"), str::to_string),
            value: id.to_string(),
            description: None,
            display_order,
            hidden: false,
        });
        def.options.last().expect("just pushed")
    }

    pub fn next_record_id(&mut self) -> u64 {
        let id = self.next_record;
        self.next_record += 1;
        id
    }

    pub fn next_pipeline_id(&mut self) -> String {
        let id = self.next_pipeline;
        self.next_pipeline += 1;
        id.to_string()
    }

    pub fn records(&self, kind: Kind) -> &BTreeMap<u64, Record> {
        &self.objects[&kind]
    }

    pub fn records_mut(&mut self, kind: Kind) -> &mut BTreeMap<u64, Record> {
        self.objects.get_mut(&kind).expect("every kind has a table")
    }

    pub fn property(&self, kind: Kind, name: &str) -> Option<&PropertyDef> {
        self.properties[&kind]
            .iter()
            .find(|p| p.name == name && !p.archived)
    }

    pub fn pipeline(&self, kind: Kind, id: &str) -> Option<&PipelineDef> {
        self.pipelines[&kind]
            .iter()
            .find(|p| p.id == id && !p.archived)
    }

    pub fn owner(&self, id: &str) -> Option<&OwnerDef> {
        self.owners.iter().find(|o| o.id == id)
    }

    /// A record by HubSpot id (`id_property` absent or `hs_object_id`) or by the value of a
    /// unique property. Contacts' email matches case-insensitively, as HubSpot stores emails
    /// lower-cased.
    pub fn find(&self, kind: Kind, id: &str, id_property: Option<&str>) -> Option<u64> {
        match id_property {
            None | Some("hs_object_id") => id
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| self.records(kind).contains_key(n)),
            Some(p) => self.find_by_value(kind, p, id),
        }
    }

    /// The record (the oldest, should several share it) holding `value` in `property`.
    /// Lose every record and association, keeping the portal's schema (properties, groups,
    /// pipelines, owners, rules), as a portal reset or a restore from before the records were
    /// written leaves it. How many records were lost.
    pub fn wipe(&mut self) -> usize {
        let records = self.objects.values().map(BTreeMap::len).sum();
        // Each object type stays, empty: lookups index the map by type.
        for kind in self.objects.values_mut() {
            kind.clear();
        }
        self.associations.clear();
        self.by_value.borrow_mut().clear();
        self.by_end.clear();
        records
    }

    /// `batch/archive`: move the records of `kind` with these ids to the recycling bin, which
    /// here is out of the portal: reads, searches and lists no longer find them, and their
    /// associations go with them. Ids not found are ignored, as HubSpot answers 204 for them
    /// too. How many records were archived.
    pub fn archive(&mut self, kind: Kind, ids: &[String]) -> usize {
        let gone: Vec<u64> = ids
            .iter()
            .filter_map(|id| id.parse::<u64>().ok())
            .filter(|id| self.records_mut(kind).remove(id).is_some())
            .collect();
        if gone.is_empty() {
            return 0;
        }
        // The value index of the type is rebuilt on its next lookup.
        self.by_value.borrow_mut().retain(|(k, _), _| *k != kind);
        let ends = |a: &Association| {
            (a.from == kind && gone.contains(&a.from_id))
                || (a.to == kind && gone.contains(&a.to_id))
        };
        self.associations.retain(|a| !ends(a));
        self.by_end.clear();
        for (at, a) in self.associations.iter().enumerate() {
            self.by_end.entry((a.from, a.from_id)).or_default().push(at);
            if (a.to, a.to_id) != (a.from, a.from_id) {
                self.by_end.entry((a.to, a.to_id)).or_default().push(at);
            }
        }
        gone.len()
    }

    pub fn find_by_value(&self, kind: Kind, property: &str, value: &str) -> Option<u64> {
        let wanted = normalise(kind, property, value);
        let mut index = self.by_value.borrow_mut();
        let values = index
            .entry((kind, property.to_string()))
            .or_insert_with(|| {
                let mut values = HashMap::new();
                for r in self.records(kind).values() {
                    if let Some(v) = r.properties.get(property) {
                        values.entry(v.clone()).or_insert(r.id);
                    }
                }
                values
            });
        values.get(&wanted).copied()
    }

    /// Index the values of a record just inserted.
    pub fn index_new(&mut self, kind: Kind, id: u64, values: Vec<(String, String)>) {
        let mut index = self.by_value.borrow_mut();
        for (name, value) in values {
            if let Some(map) = index.get_mut(&(kind, name)) {
                let holder = map.entry(value).or_insert(id);
                *holder = (*holder).min(id);
            }
        }
    }

    /// Set `name` on record `id` (which must exist), keeping the value index in step.
    pub fn indexed_set(
        &mut self,
        kind: Kind,
        id: u64,
        name: &str,
        value: String,
        at: DateTime<Utc>,
    ) {
        let record = self
            .objects
            .get_mut(&kind)
            .and_then(|r| r.get_mut(&id))
            .expect("indexed_set names an existing record");
        let old = record.properties.get(name).cloned();
        record.set(name, value, at);
        let new = record.properties.get(name).cloned();
        let mut index = self.by_value.borrow_mut();
        let Some(values) = index.get_mut(&(kind, name.to_string())) else {
            return;
        };
        if let Some(old) = old.filter(|o| Some(o) != new.as_ref())
            && values.get(&old) == Some(&id)
        {
            values.remove(&old);
            // Another record may hold the same value (properties that are not unique).
            if let Some(other) = self.objects[&kind]
                .values()
                .find(|r| r.properties.get(name) == Some(&old))
            {
                values.insert(old, other.id);
            }
        }
        if let Some(new) = new {
            let holder = values.entry(new).or_insert(id);
            *holder = (*holder).min(id);
        }
    }

    /// Stored associations of `kind`/`id` towards `to`, both written directions: target id →
    /// type ids (inverse ids for associations written from the other side).
    pub fn associations_of(&self, kind: Kind, id: u64, to: Kind) -> BTreeMap<u64, Vec<i64>> {
        let mut out: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
        let positions = self.by_end.get(&(kind, id)).map_or(&[][..], Vec::as_slice);
        for a in positions.iter().map(|i| &self.associations[*i]) {
            let found = if a.from == kind && a.from_id == id && a.to == to {
                Some((a.to_id, a.type_id))
            } else if a.to == kind && a.to_id == id && a.from == to {
                defaults::association_target(a.from, a.type_id)
                    .map(|(_, inverse)| (a.from_id, inverse))
            } else {
                None
            };
            if let Some((target, type_id)) = found {
                let types = out.entry(target).or_default();
                if !types.contains(&type_id) {
                    types.push(type_id);
                }
            }
        }
        out
    }

    /// Store `from → to` of `type_id` unless it (or its inverse) is already there. Returns
    /// whether it was new.
    pub fn associate(
        &mut self,
        from: Kind,
        from_id: u64,
        to: Kind,
        to_id: u64,
        type_id: i64,
    ) -> bool {
        let exists = self
            .associations_of(from, from_id, to)
            .get(&to_id)
            .is_some_and(|types| types.contains(&type_id));
        if !exists {
            let at = self.associations.len();
            self.by_end.entry((from, from_id)).or_default().push(at);
            if (to, to_id) != (from, from_id) {
                self.by_end.entry((to, to_id)).or_default().push(at);
            }
            self.associations.push(Association {
                from,
                from_id,
                to,
                to_id,
                type_id,
            });
        }
        !exists
    }

    /// The whole portal as `GET /_sandbox/dump` shows it.
    pub fn dump(&self) -> Value {
        let objects: serde_json::Map<String, Value> = self
            .objects
            .iter()
            .map(|(kind, records)| {
                let list: Vec<Value> = records
                    .values()
                    .map(|r| {
                        json!({
                            "id": r.id.to_string(),
                            "properties": r.properties,
                            "createdAt": rfc3339(r.created_at),
                            "updatedAt": rfc3339(r.updated_at),
                        })
                    })
                    .collect();
                (kind.name().to_string(), Value::Array(list))
            })
            .collect();
        let associations: Vec<Value> = self
            .associations
            .iter()
            .map(|a| {
                json!({
                    "fromType": a.from.name(),
                    "fromId": a.from_id.to_string(),
                    "toType": a.to.name(),
                    "toId": a.to_id.to_string(),
                    "typeId": a.type_id,
                })
            })
            .collect();
        let properties: serde_json::Map<String, Value> = self
            .properties
            .iter()
            .map(|(kind, list)| {
                let names: Vec<&str> = list
                    .iter()
                    .filter(|p| !p.archived)
                    .map(|p| p.name.as_str())
                    .collect();
                (kind.name().to_string(), json!(names))
            })
            .collect();
        let pipelines: serde_json::Map<String, Value> = self
            .pipelines
            .iter()
            .filter(|(_, list)| !list.is_empty())
            .map(|(kind, list)| (kind.name().to_string(), json!(list)))
            .collect();
        let mut dump = json!({
            "objects": objects,
            "associations": associations,
            "properties": properties,
            "pipelines": pipelines,
            "owners": self.owners,
        });
        let rules = self.dump_validation_rules();
        if rules.as_object().is_some_and(|m| !m.is_empty()) {
            dump["validationRules"] = rules;
        }
        dump
    }
}

/// A value as HubSpot stores it: contacts' email lower-cased and trimmed.
pub fn normalise(kind: Kind, property: &str, value: &str) -> String {
    if kind == Kind::Contacts && property == "email" {
        value.trim().to_ascii_lowercase()
    } else {
        value.to_string()
    }
}

/// The current time, for record and batch timestamps.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_options(store: &Store) -> Vec<(String, String, i32)> {
        store
            .property(Kind::Tasks, defaults::QUEUE_PROPERTY)
            .expect("tasks have the queue property")
            .options
            .iter()
            .map(|o| (o.value.clone(), o.label.clone(), o.display_order))
            .collect()
    }

    #[test]
    fn queues_are_options_of_the_task_queue_property_added_once() {
        let mut store = Store::new(&[], &["1001".to_string(), "1002".to_string()]);
        let def = store
            .property(Kind::Tasks, defaults::QUEUE_PROPERTY)
            .unwrap();
        assert_eq!(
            (
                def.kind.as_str(),
                def.field_type.as_str(),
                def.label.as_str()
            ),
            ("enumeration", "checkbox", "Queue")
        );
        assert_eq!(
            queue_options(&store),
            vec![
                ("1001".into(), "Queue 1001".into(), 0),
                ("1002".into(), "Queue 1002".into(), 1)
            ]
        );
        assert_eq!(
            store.add_queue("1003", Some("Trial rescue")).display_order,
            2
        );
        // Adding a queue again, under any name, leaves it as it was.
        assert_eq!(store.add_queue("1003", Some("Other")).label, "Trial rescue");
        assert_eq!(store.add_queue("1001", None).label, "Queue 1001");
        assert_eq!(queue_options(&store).len(), 3);
        assert!(queue_options(&Store::new(&[], &[])).is_empty());
    }
}
