//! CRM object writes and reads (objects v3: `batch/upsert`, `batch/create`, `batch/update`,
//! `batch/read`, and the single-record create, read, update and list).
//!
//! A write is validated whole before anything is applied, as HubSpot does: an unknown
//! property, an invalid value, a duplicate id or an over-long batch fails the entire request
//! with 400 and changes nothing; a unique value held by another record fails it with 409.
//! Only ids that are not found are partial failures (207, or 200 on 2026-09), on update and
//! read.
//!
//! Writes take the dialect of their route: on 2026-09, every non-empty value written is also
//! checked against its property's validation rules (`validations.rs`), and a value a rule
//! refuses fails the request like any invalid value (`VALIDATION_RULE_VIOLATION`).
//!
//! Every applied write (and `/_sandbox/edit`, which is an update) sets the record's
//! last-modified date (`hs_lastmodifieddate`, contacts' `lastmodifieddate`) and `updatedAt`
//! to the time of the write, a create `createdate` too, in HubSpot's datetime format (RFC 3339
//! with milliseconds); a write that makes a task `COMPLETED` sets its completion date, and
//! one that moves it away clears it (`Store::track_completion`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::defaults::{TASK_COMPLETED, TASK_COMPLETION_DATE, TASK_STATUS, association_target};
use super::dialect::Dialect;
use super::error::{ApiError, ErrorDetail};
use super::kinds::Kind;
use super::model::{PropertyDef, Record, rfc3339};
use super::store::{Store, normalise, now};
use super::wire::{ObjectInput, ReadInput, duplicates, duplicates_error};

/// Categories an `AssociationSpec` may carry.
const ASSOCIATION_CATEGORIES: &[&str] = &["HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED"];

/// What one validated input will do.
#[derive(Debug)]
enum Plan {
    Create {
        props: BTreeMap<String, String>,
        associations: Vec<(Kind, u64, i64)>,
        trace: Option<String>,
    },
    Update {
        id: u64,
        props: BTreeMap<String, String>,
        trace: Option<String>,
    },
}

impl Plan {
    fn props(&self) -> &BTreeMap<String, String> {
        match self {
            Plan::Create { props, .. } | Plan::Update { props, .. } => props,
        }
    }

    fn record_id(&self) -> Option<u64> {
        match self {
            Plan::Create { .. } => None,
            Plan::Update { id, .. } => Some(*id),
        }
    }
}

/// One applied input: the record id, whether it was created, the properties written.
struct Applied {
    id: u64,
    new: bool,
    written: Vec<String>,
    trace: Option<String>,
}

fn detail(code: &str, message: String, property: &str) -> ErrorDetail {
    ErrorDetail::new(code, message).with("propertyName", property)
}

/// Where in the batch a detail comes from: its index, and its id or trace id when given.
fn tag(details: Vec<ErrorDetail>, input: &ObjectInput) -> Vec<ErrorDetail> {
    details
        .into_iter()
        .map(|mut d| {
            d = d.with("index", input.index.to_string());
            if let Some(id) = &input.id {
                d = d.with("id", id.clone());
            }
            if let Some(t) = &input.trace {
                d = d.with("objectWriteTraceId", t.clone());
            }
            d
        })
        .collect()
}

/// HubSpot's 400 for invalid property values: a message listing each as
/// `{"isValid":false,"message":...,"error":CODE,"name":property}`, and the same as `errors`.
pub fn property_error(details: Vec<ErrorDetail>) -> ApiError {
    let list: Vec<Value> = details
        .iter()
        .map(|d| {
            json!({
                "isValid": false,
                "message": d.message,
                "error": d.code,
                "name": d.context.get("propertyName").and_then(|v| v.first()),
            })
        })
        .collect();
    ApiError::validation(format!(
        "Property values were not valid: {}",
        serde_json::to_string(&list).unwrap_or_default()
    ))
    .with_errors(details)
}

/// `local@domain.tld`, without spaces, with a letters-only top-level domain of two or more.
pub fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || domain.contains('@') || s.chars().any(char::is_whitespace) {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// HubSpot takes datetimes as epoch milliseconds or ISO 8601 (a bare date means midnight UTC).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if !s.is_empty()
        && s.trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit())
    {
        return s
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

impl Store {
    /// The first pipeline of `kind`: new deals and leads without one go there.
    fn default_pipeline_id(&self, kind: Kind) -> Option<String> {
        self.pipelines[&kind]
            .iter()
            .find(|p| !p.archived)
            .map(|p| p.id.clone())
    }

    /// Validate `props` about to be written to a record of `kind` whose current values are
    /// `current` (`None` when creating). Returns one detail per refused property, and, where
    /// `api` enforces validation rules, one per rule a valid value breaks.
    fn check_values(
        &self,
        kind: Kind,
        props: &BTreeMap<String, String>,
        current: Option<&BTreeMap<String, String>>,
        api: Dialect,
    ) -> Vec<ErrorDetail> {
        let mut out = Vec::new();
        for (name, value) in props {
            let Some(def) = self.property(kind, name) else {
                out.push(detail(
                    "PROPERTY_DOESNT_EXIST",
                    format!("Property \"{name}\" does not exist"),
                    name,
                ));
                continue;
            };
            if def.modification_metadata.read_only_value {
                out.push(detail(
                    "READ_ONLY_VALUE",
                    format!("\"{name}\" is a read only property; its value cannot be set."),
                    name,
                ));
                continue;
            }
            // "" clears a value, whatever the property's type.
            if value.is_empty() {
                continue;
            }
            // HubSpot refuses surrounding whitespace on every non-string type (changelog,
            // "Enhanced Validations for Non-String Properties", January 2025).
            if def.kind != "string" && value.trim() != value {
                out.push(detail(
                    "LEADING_TRAILING_WHITESPACE",
                    format!("\"{value}\" includes leading or trailing whitespace."),
                    name,
                ));
                continue;
            }
            if let Some((code, message)) = self.check_value(kind, def, value, props, current) {
                out.push(detail(code, message, name));
            } else if api.enforces_validation_rules() {
                out.extend(self.rule_violations(kind, name, value));
            }
        }
        out
    }

    fn check_value(
        &self,
        kind: Kind,
        def: &PropertyDef,
        value: &str,
        props: &BTreeMap<String, String>,
        current: Option<&BTreeMap<String, String>>,
    ) -> Option<(&'static str, String)> {
        if def.referenced_object_type.as_deref() == Some("OWNER") {
            return self
                .owner(value)
                .is_none()
                .then(|| ("INVALID_OPTION", format!("{value} is not a valid owner id")));
        }
        if let Some((pipeline_prop, stage_prop)) = kind.pipeline_properties() {
            if def.name == pipeline_prop {
                return self.pipeline(kind, value).is_none().then(|| {
                    let ids: Vec<&str> = self.pipelines[&kind]
                        .iter()
                        .map(|p| p.id.as_str())
                        .collect();
                    (
                        "INVALID_OPTION",
                        format!(
                            "{value} was not one of the allowed options: [{}]",
                            ids.join(", ")
                        ),
                    )
                });
            }
            if def.name == stage_prop {
                // The stage must belong to the record's pipeline: the one written with it,
                // else the one it has, else the default one (HubSpot's choice for new records).
                let pipeline_id = props
                    .get(pipeline_prop)
                    .filter(|p| !p.is_empty())
                    .cloned()
                    .or_else(|| current.and_then(|c| c.get(pipeline_prop).cloned()))
                    .or_else(|| self.default_pipeline_id(kind))?;
                let pipeline = self.pipeline(kind, &pipeline_id)?;
                return pipeline.stage(value).is_none().then(|| {
                    let ids: Vec<&str> = pipeline.stages.iter().filter(|s| !s.archived).map(|s| s.id.as_str()).collect();
                    (
                        "INVALID_OPTION",
                        format!(
                            "{value} was not one of the allowed options for pipeline {pipeline_id}: [{}]",
                            ids.join(", ")
                        ),
                    )
                });
            }
        }
        if self
            .refused
            .contains(&(def.name.clone(), value.to_string()))
        {
            let code = if def.name == "email" {
                "INVALID_EMAIL"
            } else {
                "INVALID_VALUE"
            };
            return Some((
                code,
                format!("{} {value} is refused by this portal", def.name),
            ));
        }
        if kind == Kind::Contacts && def.name == "email" && !plausible_email(value) {
            return Some(("INVALID_EMAIL", format!("Email address {value} is invalid")));
        }
        match def.kind.as_str() {
            "number" => (!value.parse::<f64>().is_ok_and(f64::is_finite)).then(|| {
                (
                    "INVALID_INTEGER",
                    format!("{value} was not a valid number."),
                )
            }),
            "bool" => (!value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false"))
                .then(|| {
                    (
                        "INVALID_BOOLEAN",
                        format!("{value} was not a valid boolean (\"true\" or \"false\")."),
                    )
                }),
            "datetime" => parse_datetime(value).is_none().then(|| {
                (
                    "INVALID_DATE",
                    format!("{value} is not a valid datetime: use epoch milliseconds or ISO 8601"),
                )
            }),
            // Date properties hold midnight UTC (HubSpot refuses other times of day).
            "date" => match parse_datetime(value) {
                Some(t) if t.timestamp_millis() % 86_400_000 == 0 => None,
                Some(_) => Some((
                    "INVALID_DATE",
                    format!("{value} is not midnight UTC; date properties hold dates only"),
                )),
                None => Some((
                    "INVALID_DATE",
                    format!(
                        "{value} is not a valid date: use YYYY-MM-DD or epoch milliseconds at midnight UTC"
                    ),
                )),
            },
            "enumeration" if !def.external_options => {
                // Multiple checkboxes take `;`-separated values, each an option.
                let values: Vec<&str> = if def.field_type == "checkbox" {
                    value.split(';').collect()
                } else {
                    vec![value]
                };
                let allowed: Vec<&str> = def.options.iter().map(|o| o.value.as_str()).collect();
                values.iter().find(|v| !allowed.contains(v)).map(|bad| {
                    (
                        "INVALID_OPTION",
                        format!(
                            "{bad} was not one of the allowed options: [{}]",
                            allowed.join(", ")
                        ),
                    )
                })
            }
            _ => None,
        }
    }

    /// Properties a new record of `kind` cannot lack.
    fn check_required(&self, kind: Kind, props: &BTreeMap<String, String>) -> Vec<ErrorDetail> {
        let required: &[&str] = match kind {
            // Tasks need a due date (objects v3 tasks: "hs_timestamp is required").
            Kind::Tasks => &["hs_timestamp"],
            _ => &[],
        };
        required
            .iter()
            .filter(|p| props.get(**p).is_none_or(|v| v.is_empty()))
            .map(|p| {
                detail(
                    "REQUIRED_PROPERTY",
                    format!(
                        "Property \"{p}\" is required to create a {}",
                        kind.singular()
                    ),
                    p,
                )
            })
            .collect()
    }

    /// `idProperty` must name a unique property (`hs_object_id` means the record id).
    fn check_id_property(&self, kind: Kind, id_property: &str) -> Result<(), ApiError> {
        if id_property == "hs_object_id" {
            return Ok(());
        }
        match self.property(kind, id_property) {
            Some(p) if p.has_unique_value => Ok(()),
            Some(_) => Err(ApiError::validation(format!(
                "idProperty \"{id_property}\" is not a unique identifier property of {kind}; only properties with hasUniqueValue can identify records"
            ))
            .with_context("idProperty", [id_property.to_string()])),
            None => Err(property_error(vec![detail(
                "PROPERTY_DOESNT_EXIST",
                format!("Property \"{id_property}\" does not exist"),
                id_property,
            )])),
        }
    }

    /// 409 when a unique value is already held by another record or repeated in the batch.
    fn check_unique(&self, kind: Kind, plans: &[Plan]) -> Result<(), ApiError> {
        let uniques: Vec<String> = self.properties[&kind]
            .iter()
            .filter(|p| p.has_unique_value && !p.archived)
            .map(|p| p.name.clone())
            .collect();
        let mut in_batch: HashMap<(String, String), Option<u64>> = HashMap::new();
        for plan in plans {
            let own = plan.record_id();
            for name in &uniques {
                let Some(value) = plan.props().get(name).filter(|v| !v.is_empty()) else {
                    continue;
                };
                let value = normalise(kind, name, value);
                if let Some(holder) = self.find_by_value(kind, name, &value)
                    && Some(holder) != own
                {
                    let message = if kind == Kind::Contacts && name == "email" {
                        format!("Contact already exists. Existing ID: {holder}")
                    } else {
                        format!(
                            "A {} with {name} \"{value}\" already exists. Existing ID: {holder}",
                            kind.singular()
                        )
                    };
                    return Err(ApiError::conflict(message)
                        .with_context("existingId", [holder.to_string()])
                        .with_context("propertyName", [name.clone()]));
                }
                let key = (name.clone(), value.clone());
                match in_batch.get(&key) {
                    Some(other) if other.is_none() || *other != own => {
                        return Err(ApiError::conflict(format!(
                            "Two inputs of the batch give unique property {name} the same value \"{value}\""
                        ))
                        .with_context("propertyName", [name.clone()]));
                    }
                    _ => {
                        in_batch.insert(key, own);
                    }
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, kind: Kind, plan: Plan, at: DateTime<Utc>) -> Applied {
        match plan {
            Plan::Create {
                props,
                associations,
                trace,
            } => {
                let id = self.next_record_id();
                let mut record = Record {
                    id,
                    properties: BTreeMap::new(),
                    created_at: at,
                    updated_at: at,
                    history: BTreeMap::new(),
                };
                let written: Vec<String> = props.keys().cloned().collect();
                for (name, value) in props {
                    if !value.is_empty() {
                        let v = normalise(kind, &name, &value);
                        record.set(&name, v, at);
                    }
                }
                // HubSpot puts new deals and leads in the default pipeline, leads at its first
                // stage, unless told otherwise.
                if let Some((pipeline_prop, stage_prop)) = kind.pipeline_properties() {
                    if !record.properties.contains_key(pipeline_prop)
                        && let Some(p) = self.default_pipeline_id(kind)
                    {
                        record.set(pipeline_prop, p, at);
                    }
                    if kind == Kind::Leads
                        && !record.properties.contains_key(stage_prop)
                        && let Some(first) = record
                            .properties
                            .get(pipeline_prop)
                            .and_then(|p| self.pipeline(kind, p))
                            .and_then(|p| p.stages.iter().find(|s| !s.archived))
                    {
                        record.set(stage_prop, first.id.clone(), at);
                    }
                }
                if kind == Kind::Tasks
                    && record.properties.get(TASK_STATUS).map(String::as_str)
                        == Some(TASK_COMPLETED)
                {
                    record.set(TASK_COMPLETION_DATE, rfc3339(at), at);
                }
                if !record.properties.contains_key("createdate") {
                    record.set("createdate", rfc3339(at), at);
                }
                record.set(kind.modified_property(), rfc3339(at), at);
                record.set("hs_object_id", id.to_string(), at);
                let values: Vec<(String, String)> = record
                    .properties
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                self.records_mut(kind).insert(id, record);
                self.index_new(kind, id, values);
                for (to, to_id, type_id) in associations {
                    self.associate(kind, id, to, to_id, type_id);
                }
                Applied {
                    id,
                    new: true,
                    written,
                    trace,
                }
            }
            Plan::Update { id, props, trace } => {
                let written: Vec<String> = props.keys().cloned().collect();
                let was_completed = self.records(kind)[&id]
                    .properties
                    .get(TASK_STATUS)
                    .is_some_and(|s| s == TASK_COMPLETED);
                for (name, value) in props {
                    let v = normalise(kind, &name, &value);
                    self.indexed_set(kind, id, &name, v, at);
                }
                if kind == Kind::Tasks && written.iter().any(|n| n == TASK_STATUS) {
                    self.track_completion(id, was_completed, at);
                }
                let record = self
                    .records_mut(kind)
                    .get_mut(&id)
                    .expect("planned updates name existing records");
                record.updated_at = at;
                record.set(kind.modified_property(), rfc3339(at), at);
                Applied {
                    id,
                    new: false,
                    written,
                    trace,
                }
            }
        }
    }

    /// After a write of task `id`'s status: HubSpot sets the completion date when the status
    /// becomes `COMPLETED` and clears it when the status moves away (or is cleared). A task
    /// completed again keeps the date it was completed at.
    fn track_completion(&mut self, id: u64, was_completed: bool, at: DateTime<Utc>) {
        let record = &self.records(Kind::Tasks)[&id];
        let completed = record
            .properties
            .get(TASK_STATUS)
            .is_some_and(|s| s == TASK_COMPLETED);
        let dated = record.properties.contains_key(TASK_COMPLETION_DATE);
        if completed && !(was_completed && dated) {
            self.indexed_set(Kind::Tasks, id, TASK_COMPLETION_DATE, rfc3339(at), at);
        } else if !completed && dated {
            self.indexed_set(Kind::Tasks, id, TASK_COMPLETION_DATE, String::new(), at);
        }
    }

    /// A written record as a result: the properties written plus `extra` and the ones HubSpot
    /// always returns; with `new` for upserts and the caller's trace id.
    fn written_view(&self, kind: Kind, applied: &Applied, extra: &[&str], upsert: bool) -> Value {
        let record = &self.records(kind)[&applied.id];
        let mut names: BTreeSet<String> = applied.written.iter().cloned().collect();
        names.extend(extra.iter().map(|s| s.to_string()));
        names.extend(system_properties(kind));
        let names: Vec<String> = names.into_iter().collect();
        let mut v = record.to_json(Some(&names));
        if upsert {
            v["new"] = json!(applied.new);
            // `SimplePublicUpsertObject`'s properties are strings, never null (2026-09
            // objects.json, unlike `SimplePublicObject`'s): a property the input cleared
            // reads back as "", one without a value is left out.
            if let Some(properties) = v["properties"].as_object_mut() {
                properties.retain(|name, value| {
                    if !value.is_null() {
                        true
                    } else if applied.written.contains(name) {
                        *value = json!("");
                        true
                    } else {
                        false
                    }
                });
            }
        }
        if let Some(t) = &applied.trace {
            v["objectWriteTraceId"] = json!(t);
        }
        v
    }

    /// `batch/upsert`: match each input by its `idProperty` value; update a match, else create
    /// with the unique property set to `id`. Leads cannot be created this way.
    pub fn upsert(
        &mut self,
        kind: Kind,
        inputs: Vec<ObjectInput>,
        api: Dialect,
    ) -> Result<Vec<Value>, ApiError> {
        for input in &inputs {
            let Some(p) = &input.id_property else {
                return Err(ApiError::validation(format!(
                    "Upsert needs idProperty on every input: the unique property to match records on (input {})",
                    input.index
                )));
            };
            if p == "hs_object_id" {
                return Err(ApiError::validation(
                    "idProperty for upsert must be a unique property with hasUniqueValue, not hs_object_id",
                ));
            }
            self.check_id_property(kind, p)?;
        }
        // Emails match case-insensitively, so `A@x.com` and `a@x.com` are the same id.
        let by_email = kind == Kind::Contacts
            && inputs
                .iter()
                .all(|i| i.id_property.as_deref() == Some("email"));
        let dup = duplicates(
            inputs.iter().map(|i| i.id.as_deref().unwrap_or_default()),
            |id| {
                if by_email {
                    normalise(kind, "email", id)
                } else {
                    id.to_string()
                }
            },
        );
        if !dup.is_empty() {
            return Err(duplicates_error(dup));
        }
        let mut details = Vec::new();
        let mut plans = Vec::with_capacity(inputs.len());
        let mut uncreatable_leads = Vec::new();
        for input in &inputs {
            let id_property = input.id_property.clone().unwrap_or_default();
            let id = input.id.clone().unwrap_or_default();
            match self.find(kind, &id, Some(&id_property)) {
                Some(rid) => {
                    let current = &self.records(kind)[&rid].properties;
                    details.extend(tag(
                        self.check_values(kind, &input.properties, Some(current), api),
                        input,
                    ));
                    plans.push(Plan::Update {
                        id: rid,
                        props: input.properties.clone(),
                        trace: input.trace.clone(),
                    });
                }
                None => {
                    let mut props = input.properties.clone();
                    props.entry(id_property).or_insert(id.clone());
                    if kind == Kind::Leads {
                        uncreatable_leads.push(id);
                    }
                    details.extend(tag(self.check_values(kind, &props, None, api), input));
                    details.extend(tag(self.check_required(kind, &props), input));
                    plans.push(Plan::Create {
                        props,
                        associations: Vec::new(),
                        trace: input.trace.clone(),
                    });
                }
            }
        }
        if !details.is_empty() {
            return Err(property_error(details));
        }
        if !uncreatable_leads.is_empty() {
            return Err(ApiError::validation(format!(
                "Leads cannot be created by upsert: no lead matches [{}], and a new lead needs an association to a \
                 contact, which upsert cannot carry. Create it with POST /crm/v3/objects/leads/batch/create and an \
                 association to a contact (associationTypeId 578); upsert can update it afterwards",
                uncreatable_leads.join(", ")
            ))
            .with_context("ids", uncreatable_leads));
        }
        self.check_unique(kind, &plans)?;
        let at = now();
        let extra: Vec<String> = inputs
            .iter()
            .filter_map(|i| i.id_property.clone())
            .collect();
        let mut results = Vec::with_capacity(plans.len());
        for (plan, id_property) in plans.into_iter().zip(&extra) {
            let applied = self.apply(kind, plan, at);
            results.push(self.written_view(kind, &applied, &[id_property.as_str()], true));
        }
        Ok(results)
    }

    /// `batch/create` (and the single create): every association target must exist, and a lead
    /// must be associated with a contact.
    pub fn create(
        &mut self,
        kind: Kind,
        inputs: Vec<ObjectInput>,
        api: Dialect,
    ) -> Result<Vec<Value>, ApiError> {
        let mut details = Vec::new();
        let mut bad_types = Vec::new();
        let mut missing = Vec::new();
        let mut leads_without_contact = Vec::new();
        let mut plans = Vec::with_capacity(inputs.len());
        for input in &inputs {
            details.extend(tag(
                self.check_values(kind, &input.properties, None, api),
                input,
            ));
            details.extend(tag(self.check_required(kind, &input.properties), input));
            let mut associations = Vec::new();
            let mut has_contact = false;
            for a in &input.associations {
                if a.types.is_empty() {
                    bad_types.push(format!(
                        "input {}: association to {} has no types",
                        input.index, a.to_id
                    ));
                }
                for (category, type_id) in &a.types {
                    if !ASSOCIATION_CATEGORIES.contains(&category.as_str()) {
                        bad_types.push(format!(
                            "input {}: associationCategory {category} is not one of {}",
                            input.index,
                            ASSOCIATION_CATEGORIES.join(", ")
                        ));
                        continue;
                    }
                    let Some((target, _)) = association_target(kind, *type_id) else {
                        bad_types.push(format!(
                            "input {}: associationTypeId {type_id} is not an association type from {kind}",
                            input.index
                        ));
                        continue;
                    };
                    match a
                        .to_id
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|id| self.records(target).contains_key(id))
                    {
                        Some(to_id) => {
                            associations.push((target, to_id, *type_id));
                            has_contact |= target == Kind::Contacts;
                        }
                        None => missing.push((target, a.to_id.clone())),
                    }
                }
            }
            if kind == Kind::Leads && !has_contact {
                leads_without_contact.push(input);
            }
            plans.push(Plan::Create {
                props: input.properties.clone(),
                associations,
                trace: input.trace.clone(),
            });
        }
        if !details.is_empty() {
            return Err(property_error(details));
        }
        if !bad_types.is_empty() {
            return Err(ApiError::validation(format!(
                "Invalid association types: {}",
                bad_types.join("; ")
            )));
        }
        if !missing.is_empty() {
            let names: Vec<String> = missing
                .iter()
                .map(|(k, id)| format!("{} {id}", k.singular()))
                .collect();
            return Err(ApiError::validation(format!(
                "Association targets do not exist: {}",
                names.join(", ")
            ))
            .with_context("ids", missing.into_iter().map(|(_, id)| id)));
        }
        if !leads_without_contact.is_empty() {
            let which: Vec<String> = leads_without_contact
                .iter()
                .map(|i| {
                    i.trace
                        .clone()
                        .unwrap_or_else(|| format!("input {}", i.index))
                })
                .collect();
            return Err(ApiError::validation(format!(
                "A lead must be associated with an existing contact when it is created: add an association to a \
                 contact with associationTypeId 578 (lead to contact, Primary) or 608 (lead to contact) ({})",
                which.join(", ")
            ))
            .with_context(
                "objectWriteTraceId",
                leads_without_contact.iter().filter_map(|i| i.trace.clone()),
            ));
        }
        self.check_unique(kind, &plans)?;
        let at = now();
        let mut results = Vec::with_capacity(plans.len());
        for plan in plans {
            let applied = self.apply(kind, plan, at);
            let mut v = self.records(kind)[&applied.id].to_json(None);
            if let Some(t) = &applied.trace {
                v["objectWriteTraceId"] = json!(t);
            }
            results.push(v);
        }
        Ok(results)
    }

    /// `batch/update`: updates the records found; returns their results and the ids not found.
    pub fn update(
        &mut self,
        kind: Kind,
        inputs: Vec<ObjectInput>,
        api: Dialect,
    ) -> Result<(Vec<Value>, Vec<String>), ApiError> {
        for p in inputs.iter().filter_map(|i| i.id_property.as_deref()) {
            self.check_id_property(kind, p)?;
        }
        let dup = duplicates(
            inputs.iter().map(|i| i.id.as_deref().unwrap_or_default()),
            |id| id.to_string(),
        );
        if !dup.is_empty() {
            return Err(duplicates_error(dup));
        }
        let mut details = Vec::new();
        let mut plans = Vec::new();
        let mut missing = Vec::new();
        for input in &inputs {
            let id = input.id.clone().unwrap_or_default();
            match self.find(kind, &id, input.id_property.as_deref()) {
                Some(rid) => {
                    let current = &self.records(kind)[&rid].properties;
                    details.extend(tag(
                        self.check_values(kind, &input.properties, Some(current), api),
                        input,
                    ));
                    plans.push(Plan::Update {
                        id: rid,
                        props: input.properties.clone(),
                        trace: input.trace.clone(),
                    });
                }
                None => {
                    details.extend(tag(
                        self.check_values(kind, &input.properties, None, api),
                        input,
                    ));
                    missing.push(id);
                }
            }
        }
        if !details.is_empty() {
            return Err(property_error(details));
        }
        self.check_unique(kind, &plans)?;
        let at = now();
        let mut results = Vec::with_capacity(plans.len());
        for plan in plans {
            let applied = self.apply(kind, plan, at);
            results.push(self.written_view(kind, &applied, &[], false));
        }
        Ok((results, missing))
    }

    /// The properties a read returns: those asked for that exist (HubSpot drops unknown names
    /// from reads), or the object's defaults when none are asked for, plus the ones HubSpot
    /// always returns.
    pub fn read_names(&self, kind: Kind, requested: &[String]) -> Vec<String> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        if requested.is_empty() {
            let defaults: &[&str] = match kind {
                Kind::Companies => &["name", "domain"],
                Kind::Contacts => &["email", "firstname", "lastname"],
                Kind::Deals => &["dealname", "amount", "closedate", "pipeline", "dealstage"],
                Kind::Leads => &["hs_lead_name", "hs_pipeline", "hs_pipeline_stage"],
                Kind::Tasks => &[
                    "hs_task_subject",
                    "hs_task_status",
                    "hs_task_priority",
                    "hs_timestamp",
                ],
            };
            names.extend(defaults.iter().map(|s| s.to_string()));
        } else {
            names.extend(
                requested
                    .iter()
                    .filter(|n| self.property(kind, n).is_some())
                    .cloned(),
            );
        }
        names.extend(system_properties(kind));
        names.into_iter().collect()
    }

    fn read_view(&self, kind: Kind, id: u64, names: &[String], history: &[String]) -> Value {
        let record = &self.records(kind)[&id];
        let mut v = record.to_json(Some(names));
        if !history.is_empty() {
            v["propertiesWithHistory"] = record.history_json(history);
        }
        v
    }

    /// `batch/read`: the records found, and the ids not found.
    pub fn read(
        &self,
        kind: Kind,
        input: &ReadInput,
    ) -> Result<(Vec<Value>, Vec<String>), ApiError> {
        if let Some(p) = &input.id_property {
            self.check_id_property(kind, p)?;
        }
        let by_email = kind == Kind::Contacts && input.id_property.as_deref() == Some("email");
        let dup = duplicates(input.ids.iter().map(String::as_str), |id| {
            if by_email {
                normalise(kind, "email", id)
            } else {
                id.to_string()
            }
        });
        if !dup.is_empty() {
            return Err(duplicates_error(dup));
        }
        let names = self.read_names(kind, &input.properties);
        let history: Vec<String> = input
            .with_history
            .iter()
            .filter(|n| self.property(kind, n).is_some())
            .cloned()
            .collect();
        let mut results = Vec::new();
        let mut missing = Vec::new();
        for id in &input.ids {
            match self.find(kind, id, input.id_property.as_deref()) {
                Some(rid) => results.push(self.read_view(kind, rid, &names, &history)),
                None => missing.push(id.clone()),
            }
        }
        Ok((results, missing))
    }

    /// `GET /crm/v3/objects/{type}/{id}`.
    pub fn get(
        &self,
        kind: Kind,
        id: &str,
        id_property: Option<&str>,
        properties: &[String],
        history: &[String],
    ) -> Result<Value, ApiError> {
        if let Some(p) = id_property {
            self.check_id_property(kind, p)?;
        }
        let rid = self.find(kind, id, id_property).ok_or_else(|| {
            ApiError::not_found(format!(
                "Object not found. objectId are usually numeric. ({} {id})",
                kind.singular()
            ))
            .with_context("ids", [id.to_string()])
        })?;
        let names = self.read_names(kind, properties);
        let history: Vec<String> = history
            .iter()
            .filter(|n| self.property(kind, n).is_some())
            .cloned()
            .collect();
        Ok(self.read_view(kind, rid, &names, &history))
    }

    /// `GET /crm/v3/objects/{type}`: a page of records by ascending id; `after` is the last id
    /// of the previous page.
    pub fn list(
        &self,
        kind: Kind,
        limit: usize,
        after: Option<&str>,
        properties: &[String],
    ) -> Value {
        let names = self.read_names(kind, properties);
        let after: u64 = after.and_then(|a| a.parse().ok()).unwrap_or(0);
        let mut page: Vec<&Record> = self
            .records(kind)
            .range(after + 1..)
            .map(|(_, r)| r)
            .take(limit + 1)
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let results: Vec<Value> = page.iter().map(|r| r.to_json(Some(&names))).collect();
        let mut body = json!({ "results": results });
        if more && let Some(last) = page.last() {
            body["paging"] = json!({"next": {"after": last.id.to_string(), "link": format!("?after={}", last.id)}});
        }
        body
    }
}

/// The properties HubSpot returns with every record.
fn system_properties(kind: Kind) -> [String; 3] {
    [
        "hs_object_id".to_string(),
        "createdate".to_string(),
        kind.modified_property().to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_local_domain_and_tld() {
        for ok in ["a@b.co", "jane.doe+x@mail.example.com", "A@B.IO"] {
            assert!(plausible_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@b.c", "a@@b.co", "a b@c.co", "a@b..co", "a@b.c0m",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn datetimes_take_millis_iso_and_dates() {
        assert!(parse_datetime("1700000000000").is_some());
        assert!(parse_datetime("2024-05-01T09:00:00.000Z").is_some());
        assert!(parse_datetime("2024-05-01T09:00:00").is_some());
        assert_eq!(
            parse_datetime("2024-05-01").map(|t| t.timestamp_millis() % 86_400_000),
            Some(0)
        );
        assert!(parse_datetime("May 1st").is_none());
    }

    fn input(props: &[(&str, &str)]) -> ObjectInput {
        ObjectInput {
            properties: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ObjectInput::default()
        }
    }

    #[test]
    fn values_are_checked_against_types_options_pipelines_and_owners() {
        let store = Store::new(&["o@x.com".to_string()], &[]);
        let codes = |kind: Kind, props: &[(&str, &str)]| -> Vec<String> {
            store
                .check_values(kind, &input(props).properties, None, Dialect::Legacy)
                .into_iter()
                .filter_map(|d| d.code)
                .collect()
        };
        assert!(
            codes(
                Kind::Deals,
                &[
                    ("amount", "12.5"),
                    ("dealstage", "closedwon"),
                    ("closedate", "2024-01-01")
                ]
            )
            .is_empty()
        );
        assert_eq!(
            codes(Kind::Deals, &[("amount", "12,5")]),
            vec!["INVALID_INTEGER"]
        );
        assert_eq!(
            codes(Kind::Deals, &[("dealstage", "new-stage-id")]),
            vec!["INVALID_OPTION"]
        );
        assert_eq!(
            codes(Kind::Leads, &[("hs_pipeline_stage", "closedwon")]),
            vec!["INVALID_OPTION"]
        );
        assert!(codes(Kind::Leads, &[("hs_pipeline_stage", "connected-stage-id")]).is_empty());
        assert_eq!(
            codes(Kind::Contacts, &[("lifecyclestage", "prospect")]),
            vec!["INVALID_OPTION"]
        );
        assert_eq!(
            codes(Kind::Contacts, &[("lifecyclestage", " lead")]),
            vec!["LEADING_TRAILING_WHITESPACE"]
        );
        assert_eq!(
            codes(Kind::Companies, &[("hubspot_owner_id", "1")]),
            vec!["INVALID_OPTION"]
        );
        assert!(
            codes(
                Kind::Companies,
                &[("hubspot_owner_id", "70000001"), ("lifecyclestage", "")]
            )
            .is_empty()
        );
        assert_eq!(
            codes(Kind::Companies, &[("hs_object_id", "5")]),
            vec!["READ_ONLY_VALUE"]
        );
        assert_eq!(
            codes(Kind::Tasks, &[("hs_task_status", "DONE")]),
            vec!["INVALID_OPTION"]
        );
        assert_eq!(
            codes(Kind::Companies, &[("nope", "x")]),
            vec!["PROPERTY_DOESNT_EXIST"]
        );
    }

    #[test]
    fn task_types_priorities_and_queues_are_checked_against_their_options() {
        let mut store = Store::new(&[], &["1001".to_string(), "1002".to_string()]);
        // The value refused in each case, or `None` when the write passes.
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("hs_task_type", "CALL", None),
            ("hs_task_type", "EMAIL", None),
            ("hs_task_type", "TODO", None),
            ("hs_task_type", "PHONE", Some("PHONE")),
            ("hs_task_priority", "LOW", None),
            ("hs_task_priority", "MEDIUM", None),
            ("hs_task_priority", "HIGH", None),
            ("hs_task_priority", "URGENT", Some("URGENT")),
            ("hs_queue_membership_ids", "1001", None),
            ("hs_queue_membership_ids", "1001;1002", None),
            ("hs_queue_membership_ids", "", None),
            ("hs_queue_membership_ids", "999", Some("999")),
            ("hs_queue_membership_ids", "1001;999", Some("999")),
            ("hs_queue_membership_ids", "1003", Some("1003")),
        ];
        let check = |store: &Store, name: &str, value: &str, refused: Option<&str>| {
            let details = store.check_values(
                Kind::Tasks,
                &input(&[(name, value)]).properties,
                None,
                Dialect::Legacy,
            );
            match refused {
                None => assert!(details.is_empty(), "{name}={value:?}: {details:?}"),
                Some(bad) => {
                    assert_eq!(details.len(), 1, "{name}={value:?}: {details:?}");
                    assert_eq!(details[0].code.as_deref(), Some("INVALID_OPTION"));
                    assert!(
                        details[0]
                            .message
                            .starts_with(&format!("{bad} was not one of the allowed options: [")),
                        "{name}={value:?}: {}",
                        details[0].message
                    );
                }
            }
        };
        for (name, value, refused) in cases {
            check(&store, name, value, *refused);
        }
        // A queue added after start is an option from then on.
        store.add_queue("1003", Some("Trial rescue"));
        check(&store, "hs_queue_membership_ids", "1003", None);
        check(&store, "hs_queue_membership_ids", "1002;1003", None);
    }

    #[test]
    fn validation_rules_are_checked_on_2026_09_only() {
        let mut store = Store::new(&[], &[]);
        let rule = |args: &[&str]| json!({ "ruleArguments": args });
        store
            .put_validation_rule(Kind::Companies, "name", "MAX_LENGTH", &rule(&["3"]))
            .unwrap();
        store
            .put_validation_rule(Kind::Deals, "amount", "MAX_NUMBER", &rule(&["10"]))
            .unwrap();
        let codes = |kind: Kind, props: &[(&str, &str)], api: Dialect| -> Vec<String> {
            store
                .check_values(kind, &input(props).properties, None, api)
                .into_iter()
                .filter_map(|d| d.code)
                .collect()
        };
        for api in [Dialect::Legacy, Dialect::V2026_03] {
            assert!(codes(Kind::Companies, &[("name", "Acme")], api).is_empty());
        }
        assert_eq!(
            codes(Kind::Companies, &[("name", "Acme")], Dialect::V2026_09),
            vec!["VALIDATION_RULE_VIOLATION"]
        );
        assert!(codes(Kind::Companies, &[("name", "Ace")], Dialect::V2026_09).is_empty());
        assert!(codes(Kind::Companies, &[("name", "")], Dialect::V2026_09).is_empty());
        // A value of the wrong type is refused for that, not also for its rules.
        assert_eq!(
            codes(Kind::Deals, &[("amount", "many")], Dialect::V2026_09),
            vec!["INVALID_INTEGER"]
        );
        assert_eq!(
            codes(Kind::Deals, &[("amount", "11")], Dialect::V2026_09),
            vec!["VALIDATION_RULE_VIOLATION"]
        );
    }
}
