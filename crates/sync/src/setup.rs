//! What the PLG sync needs a portal to hold, said in HubSpot's terms for `hubspot::setup`
//! ([`requirements`]), and the [`Mapping`] from pqlsync's stages and owners to the portal's
//! ids once it holds them ([`mapping`]), or to readable placeholders when no portal is
//! configured ([`offline_mapping`]).

use std::collections::BTreeMap;

use super::config::HubspotConfig;
use super::model::Mapping;
use super::schema::{self, id_property};
use pqlsync_hubspot::ObjectType;
use pqlsync_hubspot::api::StageInput;
use pqlsync_hubspot::portal::Portal;
use pqlsync_hubspot::setup::{PipelineNeed, Readiness, Requirements};

/// The portal's side of `hs` and the owner pools: properties, pipelines, stages, owners.
pub fn requirements(hs: &HubspotConfig, owners: &[String]) -> Requirements {
    let wants = |o: ObjectType| hs.objects.contains(&o);
    let mut pipelines = Vec::new();
    if wants(ObjectType::Deals) {
        pipelines.push(PipelineNeed {
            kind: "deal",
            object: ObjectType::Deals,
            pipeline: Some(hs.deal_pipeline.clone()),
            stages: hs
                .deal_stages
                .iter()
                .enumerate()
                .map(|(i, (stage, label))| (stage.as_str(), deal_stage_input(i, label)))
                .collect(),
            creatable: true,
        });
    }
    if wants(ObjectType::Leads) {
        pipelines.push(PipelineNeed {
            kind: "lead",
            object: ObjectType::Leads,
            pipeline: hs.lead_pipeline.clone(),
            stages: hs
                .lead_stages
                .iter()
                .enumerate()
                .map(|(i, (stage, label))| {
                    let input = StageInput {
                        label: label.clone(),
                        display_order: 10 + i as i32,
                        metadata: BTreeMap::new(),
                    };
                    (stage.as_str(), input)
                })
                .collect(),
            creatable: false,
        });
    }
    Requirements {
        objects: hs.objects.clone(),
        group: schema::group(),
        id_properties: hs
            .objects
            .iter()
            .map(|o| (*o, id_property(*o).to_string()))
            .collect(),
        properties: schema::properties()
            .into_iter()
            .filter(|(o, _)| wants(*o))
            .collect(),
        pipelines,
        lead_contact_association: wants(ObjectType::Leads),
        owners: owners.to_vec(),
    }
}

/// A trial deal stage with the win probability HubSpot forecasts with: a sales-assisted
/// trial is likelier to close than a self-served one.
fn deal_stage_input(order: usize, label: &str) -> StageInput {
    let probability = match label {
        "Closed Won" => "1.0",
        "Closed Lost" => "0.0",
        _ if label.contains("Sales") => "0.4",
        _ => "0.2",
    };
    StageInput {
        label: label.to_string(),
        display_order: order as i32,
        metadata: BTreeMap::from([("probability".to_string(), probability.to_string())]),
    }
}

/// The portal's ids for what `readiness` resolved; only meaningful when it is ready.
pub fn mapping(hs: &HubspotConfig, readiness: &Readiness, portal: &Portal) -> Mapping {
    let mut mapping = Mapping {
        owners: portal.owners.clone(),
        lifecycle: hs.lifecycle.clone(),
        lifecycle_thresholds: hs.lifecycle_thresholds.clone(),
        ..Mapping::default()
    };
    if let Some((id, stages)) = readiness.pipelines.get(&ObjectType::Deals) {
        mapping.deal_pipeline = id.clone();
        for stage in hs.deal_stages.keys() {
            if let Some(id) = stages.get(stage.as_str()) {
                mapping.deal_stages.insert(*stage, id.clone());
            }
        }
    }
    if let Some((id, stages)) = readiness.pipelines.get(&ObjectType::Leads) {
        mapping.lead_pipeline = id.clone();
        for stage in hs.lead_stages.keys() {
            if let Some(id) = stages.get(stage.as_str()) {
                mapping.lead_stages.insert(*stage, id.clone());
            }
        }
    }
    mapping
}

/// Placeholders for offline recording: labels stand in for ids.
pub fn offline_mapping(hs: &HubspotConfig, owners: &[String]) -> Mapping {
    Mapping {
        owners: owners
            .iter()
            .map(|e| (e.to_ascii_lowercase(), format!("{{{{owner:{e}}}}}")))
            .collect(),
        deal_pipeline: format!("{{{{pipeline:{}}}}}", hs.deal_pipeline),
        deal_stages: hs
            .deal_stages
            .iter()
            .map(|(s, l)| (*s, format!("{{{{stage:{l}}}}}")))
            .collect(),
        lead_pipeline: format!(
            "{{{{pipeline:{}}}}}",
            hs.lead_pipeline.as_deref().unwrap_or("leads")
        ),
        lead_stages: hs
            .lead_stages
            .iter()
            .map(|(s, l)| (*s, format!("{{{{stage:{l}}}}}")))
            .collect(),
        lifecycle: hs.lifecycle.clone(),
        lifecycle_thresholds: hs.lifecycle_thresholds.clone(),
    }
}
