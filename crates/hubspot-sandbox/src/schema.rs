//! Portal schema: properties and property groups (properties v3), pipelines and stages
//! (pipelines v3), owners (owners v3).

use serde_json::{Value, json};

use super::error::ApiError;
use super::kinds::Kind;
use super::model::{
    GroupDef, ModificationMetadata, OptionDef, OwnerDef, PipelineDef, PropertyDef, StageDef,
    rfc3339,
};
use super::store::{Store, now};

/// `PropertyCreate.type` values.
const PROPERTY_TYPES: &[&str] = &[
    "bool",
    "date",
    "datetime",
    "enumeration",
    "number",
    "phone_number",
    "string",
];
/// `PropertyCreate.fieldType` values.
const FIELD_TYPES: &[&str] = &[
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
];
/// HubSpot allows up to ten unique-value properties per object.
const MAX_UNIQUE_PROPERTIES: usize = 10;

fn required_string(body: &Value, field: &str, missing: &mut Vec<String>) -> String {
    match body.get(field).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => s.to_string(),
        _ => {
            missing.push(field.to_string());
            String::new()
        }
    }
}

fn missing_error(missing: Vec<String>, schema: &str) -> ApiError {
    ApiError::validation(format!(
        "Invalid input JSON: {schema} is missing required field(s): {}",
        missing.join(", ")
    ))
    .with_context("missingFields", missing)
}

/// HubSpot's internal names: lower case, starting with a letter, letters, digits and `_`.
fn valid_name(name: &str) -> bool {
    name.len() <= 100
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn parse_options(body: &Value) -> Result<Vec<OptionDef>, ApiError> {
    let Some(list) = body.get("options") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(ApiError::validation(
            "Invalid input JSON: `options` must be an array",
        ));
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, o) in list.iter().enumerate() {
        let (Some(label), Some(value)) = (
            o.get("label").and_then(Value::as_str),
            o.get("value").and_then(Value::as_str),
        ) else {
            return Err(ApiError::validation(format!(
                "Invalid input JSON: option {i} needs `label` and `value` (OptionInput)"
            )));
        };
        if out.iter().any(|x: &OptionDef| x.value == value) {
            return Err(ApiError::validation(format!(
                "Option value \"{value}\" appears more than once"
            )));
        }
        out.push(OptionDef {
            label: label.to_string(),
            value: value.to_string(),
            description: o
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            display_order: o
                .get("displayOrder")
                .and_then(Value::as_i64)
                .unwrap_or(i as i64) as i32,
            hidden: o.get("hidden").and_then(Value::as_bool).unwrap_or(false),
        });
    }
    Ok(out)
}

impl Store {
    pub fn list_properties(&self, kind: Kind) -> Value {
        let list: Vec<&PropertyDef> = self.properties[&kind]
            .iter()
            .filter(|p| !p.archived)
            .collect();
        json!({ "results": list })
    }

    pub fn get_property(&self, kind: Kind, name: &str) -> Result<Value, ApiError> {
        self.property(kind, name)
            .map(|p| json!(p))
            .ok_or_else(|| ApiError::not_found(format!("Unable to find property {name} on {kind}")))
    }

    /// `POST /crm/v3/properties/{objectType}` (`PropertyCreate`).
    pub fn create_property(&mut self, kind: Kind, body: &Value) -> Result<Value, ApiError> {
        let mut missing = Vec::new();
        let name = required_string(body, "name", &mut missing);
        let label = required_string(body, "label", &mut missing);
        let ptype = required_string(body, "type", &mut missing);
        let field_type = required_string(body, "fieldType", &mut missing);
        let group = required_string(body, "groupName", &mut missing);
        if !missing.is_empty() {
            return Err(missing_error(missing, "PropertyCreate"));
        }
        if !valid_name(&name) {
            return Err(ApiError::validation(format!(
                "Property name \"{name}\" is not valid: use lower-case letters, digits and underscores, starting with a letter"
            )));
        }
        if !PROPERTY_TYPES.contains(&ptype.as_str()) {
            return Err(ApiError::validation(format!(
                "Property type \"{ptype}\" is not one of: {}",
                PROPERTY_TYPES.join(", ")
            )));
        }
        if !FIELD_TYPES.contains(&field_type.as_str()) {
            return Err(ApiError::validation(format!(
                "Field type \"{field_type}\" is not one of: {}",
                FIELD_TYPES.join(", ")
            )));
        }
        // 409 before the group check: a client creating what exists learns that first.
        if self.properties[&kind].iter().any(|p| p.name == name) {
            return Err(
                ApiError::conflict(format!("Property named '{name}' already exists."))
                    .with_context("name", [name]),
            );
        }
        if !self.groups[&kind]
            .iter()
            .any(|g| g.name == group && !g.archived)
        {
            return Err(ApiError::validation(format!(
                "Property group '{group}' does not exist on {kind}; create it with POST /crm/v3/properties/{kind}/groups"
            ))
            .with_context("groupName", [group]));
        }
        let opts = parse_options(body)?;
        let unique = body
            .get("hasUniqueValue")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if unique {
            if !matches!(ptype.as_str(), "string" | "number") {
                return Err(ApiError::validation(format!(
                    "Only string and number properties can have unique values, not {ptype}"
                )));
            }
            let count = self.properties[&kind]
                .iter()
                .filter(|p| p.has_unique_value && !p.hubspot_defined)
                .count();
            if count >= MAX_UNIQUE_PROPERTIES {
                return Err(ApiError::validation(format!(
                    "{kind} already has {MAX_UNIQUE_PROPERTIES} unique-value properties, HubSpot's limit"
                )));
            }
        }
        let at = rfc3339(now());
        let display_order = body
            .get("displayOrder")
            .and_then(Value::as_i64)
            .unwrap_or(-1) as i32;
        let def = PropertyDef {
            name,
            label,
            kind: ptype,
            field_type,
            group_name: group,
            description: body
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            options: opts,
            display_order,
            has_unique_value: unique,
            hubspot_defined: false,
            calculated: false,
            external_options: body
                .get("externalOptions")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            hidden: body.get("hidden").and_then(Value::as_bool).unwrap_or(false),
            form_field: body
                .get("formField")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            archived: false,
            referenced_object_type: body
                .get("referencedObjectType")
                .and_then(Value::as_str)
                .map(str::to_string),
            modification_metadata: ModificationMetadata {
                archivable: true,
                read_only_definition: false,
                read_only_value: false,
            },
            created_at: at.clone(),
            updated_at: at,
        };
        let out = json!(def);
        self.properties
            .get_mut(&kind)
            .expect("every kind")
            .push(def);
        Ok(out)
    }

    pub fn list_groups(&self, kind: Kind) -> Value {
        let list: Vec<&GroupDef> = self.groups[&kind].iter().filter(|g| !g.archived).collect();
        json!({ "results": list })
    }

    /// `POST /crm/v3/properties/{objectType}/groups` (`PropertyGroupCreate`).
    pub fn create_group(&mut self, kind: Kind, body: &Value) -> Result<Value, ApiError> {
        let mut missing = Vec::new();
        let name = required_string(body, "name", &mut missing);
        let label = required_string(body, "label", &mut missing);
        if !missing.is_empty() {
            return Err(missing_error(missing, "PropertyGroupCreate"));
        }
        if !valid_name(&name) {
            return Err(ApiError::validation(format!(
                "Property group name \"{name}\" is not valid: use lower-case letters, digits and underscores, starting with a letter"
            )));
        }
        if self.groups[&kind].iter().any(|g| g.name == name) {
            return Err(ApiError::conflict(format!(
                "Property group named '{name}' already exists."
            ))
            .with_context("name", [name]));
        }
        let group = GroupDef {
            name,
            label,
            display_order: body
                .get("displayOrder")
                .and_then(Value::as_i64)
                .unwrap_or(-1) as i32,
            archived: false,
        };
        let out = json!(group);
        self.groups.get_mut(&kind).expect("every kind").push(group);
        Ok(out)
    }

    fn pipelined(kind: Kind) -> Result<(), ApiError> {
        match kind {
            Kind::Deals | Kind::Leads => Ok(()),
            _ => Err(ApiError::validation(format!(
                "Object type {kind} does not have pipelines; the sandbox has deal and lead pipelines"
            ))),
        }
    }

    pub fn list_pipelines(&self, kind: Kind) -> Result<Value, ApiError> {
        Self::pipelined(kind)?;
        let list: Vec<&PipelineDef> = self.pipelines[&kind]
            .iter()
            .filter(|p| !p.archived)
            .collect();
        Ok(json!({ "results": list }))
    }

    fn find_pipeline(&self, kind: Kind, id: &str) -> Result<&PipelineDef, ApiError> {
        Self::pipelined(kind)?;
        self.pipeline(kind, id).ok_or_else(|| {
            ApiError::not_found(format!("Pipeline {id} of {kind} does not exist"))
                .with_context("pipelineId", [id.to_string()])
        })
    }

    pub fn get_pipeline(&self, kind: Kind, id: &str) -> Result<Value, ApiError> {
        self.find_pipeline(kind, id).map(|p| json!(p))
    }

    pub fn list_stages(&self, kind: Kind, id: &str) -> Result<Value, ApiError> {
        let p = self.find_pipeline(kind, id)?;
        let stages: Vec<&StageDef> = p.stages.iter().filter(|s| !s.archived).collect();
        Ok(json!({ "results": stages }))
    }

    /// A `PipelineStageInput` as a stage with a fresh id. Deal stages need
    /// `metadata.probability`, a string from "0.0" to "1.0" (pipelines v3, deal stages).
    fn stage_input(&mut self, kind: Kind, body: &Value, at: &str) -> Result<StageDef, ApiError> {
        let mut missing = Vec::new();
        let label = required_string(body, "label", &mut missing);
        let display_order = body.get("displayOrder").and_then(Value::as_i64);
        if display_order.is_none() {
            missing.push("displayOrder".into());
        }
        let metadata = match body.get("metadata") {
            Some(Value::Object(m)) => {
                let mut out = std::collections::BTreeMap::new();
                for (k, v) in m {
                    let Some(s) = v.as_str() else {
                        return Err(ApiError::validation(format!(
                            "Invalid input JSON: stage metadata values are strings; `{k}` is not"
                        )));
                    };
                    out.insert(k.clone(), s.to_string());
                }
                out
            }
            _ => {
                missing.push("metadata".into());
                Default::default()
            }
        };
        if !missing.is_empty() {
            return Err(missing_error(missing, "PipelineStageInput"));
        }
        if kind == Kind::Deals {
            match metadata.get("probability").map(|p| p.parse::<f64>()) {
                Some(Ok(p)) if (0.0..=1.0).contains(&p) => {}
                Some(_) => {
                    return Err(ApiError::validation(format!(
                        "Deal stage \"{label}\": metadata.probability must be a number from 0.0 to 1.0, as a string"
                    )));
                }
                None => {
                    return Err(ApiError::validation(format!(
                        "Deal stage \"{label}\" needs metadata.probability (a string from \"0.0\" to \"1.0\")"
                    )));
                }
            }
        }
        Ok(StageDef {
            id: self.next_pipeline_id(),
            label,
            display_order: display_order.unwrap_or(0) as i32,
            metadata,
            created_at: at.to_string(),
            updated_at: at.to_string(),
            archived: false,
            write_permissions: "CRM_PERMISSIONS_ENFORCEMENT".into(),
        })
    }

    /// `POST /crm/v3/pipelines/{objectType}` (`PipelineInput`).
    pub fn create_pipeline(&mut self, kind: Kind, body: &Value) -> Result<Value, ApiError> {
        Self::pipelined(kind)?;
        let mut missing = Vec::new();
        let label = required_string(body, "label", &mut missing);
        let display_order = body.get("displayOrder").and_then(Value::as_i64);
        if display_order.is_none() {
            missing.push("displayOrder".into());
        }
        let stages = body.get("stages").and_then(Value::as_array).cloned();
        if stages.is_none() {
            missing.push("stages".into());
        }
        if !missing.is_empty() {
            return Err(missing_error(missing, "PipelineInput"));
        }
        let stages = stages.unwrap_or_default();
        if stages.is_empty() {
            return Err(ApiError::validation("A pipeline needs at least one stage"));
        }
        if self.pipelines[&kind]
            .iter()
            .any(|p| !p.archived && p.label.eq_ignore_ascii_case(label.trim()))
        {
            return Err(ApiError::conflict(format!(
                "A pipeline labelled '{label}' already exists for {kind}."
            ))
            .with_context("label", [label]));
        }
        let mut seen = std::collections::HashSet::new();
        for s in &stages {
            if let Some(l) = s.get("label").and_then(Value::as_str)
                && !seen.insert(l.trim().to_ascii_lowercase())
            {
                return Err(ApiError::validation(format!(
                    "Stage label \"{l}\" appears more than once; stage labels are unique within a pipeline"
                )));
            }
        }
        let at = rfc3339(now());
        let id = self.next_pipeline_id();
        let mut defs = Vec::with_capacity(stages.len());
        for s in &stages {
            defs.push(self.stage_input(kind, s, &at)?);
        }
        let pipeline = PipelineDef {
            id,
            label,
            display_order: display_order.unwrap_or(0) as i32,
            stages: defs,
            created_at: at.clone(),
            updated_at: at,
            archived: false,
        };
        let out = json!(pipeline);
        self.pipelines
            .get_mut(&kind)
            .expect("every kind")
            .push(pipeline);
        Ok(out)
    }

    /// `POST /crm/v3/pipelines/{objectType}/{pipelineId}/stages` (`PipelineStageInput`).
    pub fn create_stage(
        &mut self,
        kind: Kind,
        pipeline_id: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let existing = self.find_pipeline(kind, pipeline_id)?;
        if let Some(l) = body.get("label").and_then(Value::as_str)
            && existing
                .stages
                .iter()
                .any(|s| !s.archived && s.label.eq_ignore_ascii_case(l.trim()))
        {
            return Err(ApiError::conflict(format!(
                "A stage labelled '{l}' already exists in pipeline {pipeline_id}."
            )));
        }
        let at = rfc3339(now());
        let stage = self.stage_input(kind, body, &at)?;
        let out = json!(stage);
        let pipeline = self
            .pipelines
            .get_mut(&kind)
            .and_then(|list| list.iter_mut().find(|p| p.id == pipeline_id))
            .expect("found above");
        pipeline.stages.push(stage);
        pipeline.updated_at = at;
        Ok(out)
    }

    /// `GET /crm/v3/owners`: filtered by email (case-insensitive), paged by `limit` (default
    /// 100, at most 500) and `after` (an offset, opaque to clients).
    pub fn list_owners(
        &self,
        email: Option<&str>,
        limit: Option<&str>,
        after: Option<&str>,
    ) -> Result<Value, ApiError> {
        let limit = match limit {
            None => 100,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or_else(|| {
                    ApiError::validation(format!("limit must be from 1 to 500, not {l}"))
                })?,
        };
        let offset = match after {
            None | Some("") => 0,
            Some(a) => a.parse::<usize>().map_err(|_| {
                ApiError::validation(format!(
                    "after \"{a}\" is not a paging cursor this endpoint gave"
                ))
            })?,
        };
        let matching: Vec<&OwnerDef> = self
            .owners
            .iter()
            .filter(|o| email.is_none_or(|e| o.email.eq_ignore_ascii_case(e.trim())))
            .collect();
        let page: Vec<&OwnerDef> = matching.iter().skip(offset).take(limit).copied().collect();
        let mut body = json!({ "results": page });
        let next = offset + page.len();
        if next < matching.len() {
            body["paging"] =
                json!({"next": {"after": next.to_string(), "link": format!("?after={next}")}});
        }
        Ok(body)
    }

    pub fn get_owner(&self, id: &str) -> Result<Value, ApiError> {
        self.owner(id)
            .map(|o| json!(o))
            .ok_or_else(|| ApiError::not_found(format!("Owner {id} does not exist")))
    }
}
