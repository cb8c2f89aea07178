//! What the portal holds, in the shapes the specs return: `Property` and `PropertyGroup`
//! (properties v3), `Pipeline` and `PipelineStage` (pipelines v3), `PublicOwner` (owners v3),
//! and records as `SimplePublicObject` (objects v3). The same shapes serve the 2026-03 and
//! 2026-09 paths, whose schemas have the same required fields (checked against
//! `companies.json`, `pipelines.json`, `properties.json` and `crmOwners.json` of each
//! version). Timestamps serialise as RFC 3339.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::kinds::Kind;

/// RFC 3339 with milliseconds and `Z`, as HubSpot writes its timestamps.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The start of the epoch: "The default pipelines will have createdAt = 0" (pipelines v3).
pub fn epoch() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// `Option` of an enumeration property.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionDef {
    pub label: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub display_order: i32,
    pub hidden: bool,
}

/// `PropertyModificationMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationMetadata {
    pub archivable: bool,
    pub read_only_definition: bool,
    pub read_only_value: bool,
}

/// `Property`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyDef {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub field_type: String,
    pub group_name: String,
    pub description: String,
    pub options: Vec<OptionDef>,
    pub display_order: i32,
    pub has_unique_value: bool,
    pub hubspot_defined: bool,
    pub calculated: bool,
    pub external_options: bool,
    pub hidden: bool,
    pub form_field: bool,
    pub archived: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referenced_object_type: Option<String>,
    pub modification_metadata: ModificationMetadata,
    pub created_at: String,
    pub updated_at: String,
}

/// `PropertyGroup`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupDef {
    pub name: String,
    pub label: String,
    pub display_order: i32,
    pub archived: bool,
}

/// `PipelineStage`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageDef {
    pub id: String,
    pub label: String,
    pub display_order: i32,
    pub metadata: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
    pub archived: bool,
    /// Required from 2026-03 on (`PipelineStage` of `pipelines.json`, Rollouts/145896,
    /// 2026-03 and 2026-09: `CRM_PERMISSIONS_ENFORCEMENT`, `INTERNAL_ONLY` or `READ_ONLY`);
    /// an extra field on the legacy paths.
    pub write_permissions: String,
}

/// `Pipeline`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineDef {
    pub id: String,
    pub label: String,
    pub display_order: i32,
    pub stages: Vec<StageDef>,
    pub created_at: String,
    pub updated_at: String,
    pub archived: bool,
}

impl PipelineDef {
    pub fn stage(&self, id: &str) -> Option<&StageDef> {
        self.stages.iter().find(|s| s.id == id && !s.archived)
    }
}

/// `PublicOwner`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerDef {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub user_id: i64,
    pub created_at: String,
    pub updated_at: String,
    pub archived: bool,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A CRM record. Property values are strings, as the API carries them.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: u64,
    pub properties: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every value each property was given, oldest first (for `propertiesWithHistory`).
    pub history: BTreeMap<String, Vec<(String, DateTime<Utc>)>>,
}

impl Record {
    /// Set (or, with `""`, clear) `name`, keeping its history.
    pub fn set(&mut self, name: &str, value: String, at: DateTime<Utc>) {
        self.history
            .entry(name.to_string())
            .or_default()
            .push((value.clone(), at));
        if value.is_empty() {
            self.properties.remove(name);
        } else {
            self.properties.insert(name.to_string(), value);
        }
    }

    /// `propertiesWithHistory` for `names`: `ValueWithTimestamp` lists, newest first.
    pub fn history_json(&self, names: &[String]) -> Value {
        let map: serde_json::Map<String, Value> = names
            .iter()
            .filter_map(|n| {
                let list = self.history.get(n)?;
                let values: Vec<Value> = list
                    .iter()
                    .rev()
                    .map(|(v, at)| json!({"value": v, "timestamp": rfc3339(*at), "sourceType": "API", "sourceId": "sandbox"}))
                    .collect();
                Some((n.clone(), Value::Array(values)))
            })
            .collect();
        Value::Object(map)
    }

    /// `SimplePublicObject` with `properties` limited to `names` (all when `None`). HubSpot
    /// returns requested properties it knows with `null` when unset.
    pub fn to_json(&self, names: Option<&[String]>) -> Value {
        let properties: serde_json::Map<String, Value> = match names {
            None => self
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
            Some(names) => names
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        self.properties
                            .get(n)
                            .map_or(Value::Null, |v| Value::String(v.clone())),
                    )
                })
                .collect(),
        };
        json!({
            "id": self.id.to_string(),
            "properties": properties,
            "createdAt": rfc3339(self.created_at),
            "updatedAt": rfc3339(self.updated_at),
            "archived": false,
        })
    }
}

/// One HubSpot-defined association type between two object types, in both directions: the
/// type id from `from` to `to`, its inverse from `to` to `from`, and its label (`None` for the
/// unlabelled default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssociationType {
    pub from: Kind,
    pub to: Kind,
    pub type_id: i64,
    pub inverse_id: i64,
    pub label: Option<&'static str>,
}

/// A stored association, in the direction it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Association {
    pub from: Kind,
    pub from_id: u64,
    pub to: Kind,
    pub to_id: u64,
    pub type_id: i64,
}
