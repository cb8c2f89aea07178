//! The portal as the sync needs to know it — which properties exist on each object, the deal
//! and lead pipelines with their stage ids, the owners by email, the association type ids —
//! and the calls that create what is missing (property groups, properties, a pipeline, stages).
//!
//! Stage and association ids are always looked up, never assumed: a relabelled stage keeps its
//! id, and portals differ (`closedwon` exists only in the default pipeline).

use std::collections::{BTreeMap, BTreeSet};

use super::ObjectType;
use super::api::{
    AssociationLabel, Collection, OptionValue, Owner, Pipeline, PipelineInput, PipelineStage,
    Property, PropertyCreate, PropertyGroup, PropertyGroupCreate, PropertyRules, StageInput,
};
use super::client::{CallError, Client};

/// A failed portal call, described for the person running pqlsync.
#[derive(Debug, Clone, thiserror::Error)]
#[error("HubSpot {what}: {message}")]
pub struct PortalError {
    pub what: String,
    pub message: String,
}

fn portal_error(what: impl Into<String>, e: CallError) -> PortalError {
    let message = match e {
        CallError::Stop(s) => s.message,
        CallError::GaveUp(f) => f.message,
        CallError::Rejected(r) => format!(
            "HTTP {}: {}{}",
            r.status,
            r.body.message,
            r.body
                .correlation_id
                .map(|c| format!(" (correlation id {c})"))
                .unwrap_or_default()
        ),
    };
    PortalError {
        what: what.into(),
        message,
    }
}

/// What the portal holds.
#[derive(Debug, Clone, Default)]
pub struct Portal {
    pub properties: BTreeMap<ObjectType, BTreeMap<String, Property>>,
    pub groups: BTreeMap<ObjectType, BTreeSet<String>>,
    pub pipelines: BTreeMap<ObjectType, Vec<Pipeline>>,
    /// Lower-cased email → owner id.
    pub owners: BTreeMap<String, String>,
    pub association_labels: BTreeMap<(ObjectType, ObjectType), Vec<AssociationLabel>>,
}

/// Association directions whose type ids the sync uses when creating records.
pub const ASSOCIATION_PAIRS: &[(ObjectType, ObjectType)] = &[
    (ObjectType::Leads, ObjectType::Contacts),
    (ObjectType::Leads, ObjectType::Companies),
    (ObjectType::Tasks, ObjectType::Contacts),
    (ObjectType::Tasks, ObjectType::Companies),
];

impl Portal {
    /// Read everything the sync needs (about a dozen GET requests).
    pub async fn discover(client: &Client) -> Result<Portal, PortalError> {
        let mut portal = Portal::default();
        let api = client.api();
        for object in ObjectType::ALL {
            let list: Collection<Property> = client
                .get(&api.properties(object))
                .await
                .map_err(|e| portal_error(format!("properties of {object}"), e))?;
            portal.properties.insert(
                object,
                list.results
                    .into_iter()
                    .map(|p| (p.name.clone(), p))
                    .collect(),
            );
            let groups: Collection<PropertyGroup> = client
                .get(&api.property_groups(object))
                .await
                .map_err(|e| portal_error(format!("property groups of {object}"), e))?;
            portal
                .groups
                .insert(object, groups.results.into_iter().map(|g| g.name).collect());
        }
        for object in [ObjectType::Deals, ObjectType::Leads] {
            let list: Collection<Pipeline> = client
                .get(&api.pipelines(object))
                .await
                .map_err(|e| portal_error(format!("{object} pipelines"), e))?;
            portal.pipelines.insert(
                object,
                list.results.into_iter().filter(|p| !p.archived).collect(),
            );
        }
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("{}?limit=500&after={a}", api.owners()),
                None => format!("{}?limit=500", api.owners()),
            };
            let page: Collection<Owner> = client
                .get(&path)
                .await
                .map_err(|e| portal_error("owners", e))?;
            for o in page.results {
                if let Some(email) = o.email {
                    portal.owners.insert(email.to_ascii_lowercase(), o.id);
                }
            }
            match page.paging.and_then(|p| p.next) {
                Some(next) => after = Some(next.after),
                None => break,
            }
        }
        for (from, to) in ASSOCIATION_PAIRS {
            let labels: Collection<AssociationLabel> = client
                .get(&format!("{}/labels", api.associations(*from, *to)))
                .await
                .map_err(|e| portal_error(format!("association types {from}→{to}"), e))?;
            portal
                .association_labels
                .insert((*from, *to), labels.results);
        }
        Ok(portal)
    }

    pub fn has_property(&self, object: ObjectType, name: &str) -> bool {
        self.properties
            .get(&object)
            .is_some_and(|p| p.contains_key(name))
    }

    pub fn property(&self, object: ObjectType, name: &str) -> Option<&Property> {
        self.properties.get(&object)?.get(name)
    }

    /// A pipeline by id or label (labels compared case-insensitively).
    pub fn pipeline(&self, object: ObjectType, id_or_label: &str) -> Option<&Pipeline> {
        let list = self.pipelines.get(&object)?;
        list.iter().find(|p| p.id == id_or_label).or_else(|| {
            list.iter()
                .find(|p| p.label.eq_ignore_ascii_case(id_or_label.trim()))
        })
    }

    /// The portal's first lead pipeline (leads have one unless Sales Hub Enterprise adds more).
    pub fn default_pipeline(&self, object: ObjectType) -> Option<&Pipeline> {
        self.pipelines.get(&object)?.first()
    }

    /// The HubSpot-defined association type for creating `from → to`: the "Primary" one where
    /// it exists (a lead's contact must be its primary contact), else the unlabelled default.
    pub fn association_type(&self, from: ObjectType, to: ObjectType) -> Option<i64> {
        let labels = self.association_labels.get(&(from, to))?;
        let hubspot = |l: &&AssociationLabel| l.category == "HUBSPOT_DEFINED";
        labels
            .iter()
            .filter(hubspot)
            .find(|l| {
                l.label
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("primary"))
            })
            .or_else(|| labels.iter().filter(hubspot).find(|l| l.label.is_none()))
            .map(|l| l.type_id)
    }
}

/// The portal admins' validation rules on `object`'s properties (only properties that have
/// any). From API 2026-09 HubSpot enforces them on API writes. `Err` when the API would not
/// say (a token without the scope, a proxy without the endpoint): `hubspot check` reports it
/// and goes on, as the rules only explain refusals, they do not decide readiness.
pub async fn validation_rules(
    client: &Client,
    object: ObjectType,
) -> Result<Vec<PropertyRules>, PortalError> {
    let list: Collection<PropertyRules> = client
        .get(&client.api().property_validations(object))
        .await
        .map_err(|e| portal_error(format!("validation rules of {object}"), e))?;
    Ok(list.results)
}

/// A stage of `pipeline` by id or label.
pub fn stage<'a>(pipeline: &'a Pipeline, id_or_label: &str) -> Option<&'a PipelineStage> {
    pipeline
        .stages
        .iter()
        .filter(|s| !s.archived)
        .find(|s| s.id == id_or_label)
        .or_else(|| {
            pipeline
                .stages
                .iter()
                .filter(|s| !s.archived)
                .find(|s| s.label.eq_ignore_ascii_case(id_or_label.trim()))
        })
}

/// Whether a create call made something or found it there already (HTTP 409).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    Existed,
}

async fn create<B: serde::Serialize, R: serde::de::DeserializeOwned>(
    client: &Client,
    path: &str,
    body: &B,
    what: String,
) -> Result<(Created, Option<R>), PortalError> {
    match client.post::<_, R>(path, body, 1).await {
        Ok((_, r)) => Ok((Created::Created, Some(r))),
        Err(CallError::Rejected(r)) if r.status == 409 => Ok((Created::Existed, None)),
        Err(e) => Err(portal_error(what, e)),
    }
}

pub async fn create_group(
    client: &Client,
    object: ObjectType,
    group: &PropertyGroupCreate,
) -> Result<Created, PortalError> {
    let path = client.api().property_groups(object);
    create::<_, serde_json::Value>(
        client,
        &path,
        group,
        format!("property group {} on {object}", group.name),
    )
    .await
    .map(|(c, _)| c)
}

pub async fn create_property(
    client: &Client,
    object: ObjectType,
    property: &PropertyCreate,
) -> Result<Created, PortalError> {
    let path = client.api().properties(object);
    create::<_, serde_json::Value>(
        client,
        &path,
        property,
        format!("property {} on {object}", property.name),
    )
    .await
    .map(|(c, _)| c)
}

pub async fn create_pipeline(
    client: &Client,
    object: ObjectType,
    pipeline: &PipelineInput,
) -> Result<Option<Pipeline>, PortalError> {
    let path = client.api().pipelines(object);
    create::<_, Pipeline>(
        client,
        &path,
        pipeline,
        format!("{object} pipeline \"{}\"", pipeline.label),
    )
    .await
    .map(|(_, p)| p)
}

pub async fn create_stage(
    client: &Client,
    object: ObjectType,
    pipeline_id: &str,
    stage: &StageInput,
) -> Result<Option<PipelineStage>, PortalError> {
    let path = client.api().pipeline_stages(object, pipeline_id);
    create::<_, PipelineStage>(
        client,
        &path,
        stage,
        format!("{object} stage \"{}\"", stage.label),
    )
    .await
    .map(|(_, s)| s)
}

/// Options of an enumeration property from `(value, label)` pairs.
pub fn options(values: &[(&str, &str)]) -> Vec<OptionValue> {
    values
        .iter()
        .enumerate()
        .map(|(i, (value, label))| OptionValue {
            label: label.to_string(),
            value: value.to_string(),
            display_order: i as i32,
            hidden: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(type_id: i64, label: Option<&str>, category: &str) -> AssociationLabel {
        AssociationLabel {
            category: category.into(),
            type_id,
            label: label.map(str::to_string),
        }
    }

    #[test]
    fn association_types_prefer_primary_then_default_hubspot_defined() {
        let mut p = Portal::default();
        p.association_labels.insert(
            (ObjectType::Leads, ObjectType::Contacts),
            vec![
                label(900, Some("Champion"), "USER_DEFINED"),
                label(608, None, "HUBSPOT_DEFINED"),
                label(578, Some("Primary"), "HUBSPOT_DEFINED"),
            ],
        );
        p.association_labels.insert(
            (ObjectType::Tasks, ObjectType::Contacts),
            vec![label(204, None, "HUBSPOT_DEFINED")],
        );
        assert_eq!(
            p.association_type(ObjectType::Leads, ObjectType::Contacts),
            Some(578)
        );
        assert_eq!(
            p.association_type(ObjectType::Tasks, ObjectType::Contacts),
            Some(204)
        );
        assert_eq!(
            p.association_type(ObjectType::Tasks, ObjectType::Companies),
            None
        );
    }

    #[test]
    fn stages_and_pipelines_resolve_by_id_or_label() {
        let pipeline = Pipeline {
            id: "123".into(),
            label: "PLG Trials".into(),
            stages: vec![
                PipelineStage {
                    id: "555".into(),
                    label: "Test Trial Self-Served".into(),
                    archived: false,
                },
                PipelineStage {
                    id: "closedwon".into(),
                    label: "Won (renamed)".into(),
                    archived: false,
                },
            ],
            archived: false,
        };
        assert_eq!(
            stage(&pipeline, "test trial self-served").map(|s| s.id.as_str()),
            Some("555")
        );
        assert_eq!(
            stage(&pipeline, "closedwon").map(|s| s.id.as_str()),
            Some("closedwon")
        );
        assert_eq!(stage(&pipeline, "Closed Won"), None);
        let mut p = Portal::default();
        p.pipelines.insert(ObjectType::Deals, vec![pipeline]);
        assert!(p.pipeline(ObjectType::Deals, "plg trials").is_some());
        assert!(p.pipeline(ObjectType::Deals, "123").is_some());
        assert!(p.pipeline(ObjectType::Deals, "Sales").is_none());
    }
}
