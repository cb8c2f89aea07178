//! Portal readiness and setup in HubSpot's own terms: what a portal must hold before a sync
//! can write to it (property groups, properties, unique id properties, pipelines and their
//! stages, the lead-to-contact association type, owners), checked against a discovered
//! [`Portal`] and, for `hubspot setup`, created where missing. Which properties, pipelines and
//! stages the PLG sync needs is not decided here: `sync` says so in a [`Requirements`] value,
//! and this module reports per requirement and resolves labels to ids.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::ObjectType;
use super::api::{Pipeline, PipelineInput, PropertyCreate, PropertyGroupCreate, StageInput};
use super::client::Client;
use super::portal::{self, Created, Portal, PortalError};

/// A pipeline the sync writes into and the stages it moves records through.
#[derive(Debug, Clone)]
pub struct PipelineNeed {
    /// `deal` or `lead`, for messages.
    pub kind: &'static str,
    pub object: ObjectType,
    /// Label or id; `None` means the portal's default pipeline for the object.
    pub pipeline: Option<String>,
    /// Each stage: the sync's name for it, and how to create it (its label, order, metadata).
    pub stages: Vec<(&'static str, StageInput)>,
    /// Whether `setup --create-pipelines` may create the pipeline itself (HubSpot creates the
    /// lead pipeline when leads are enabled; only its stages can be added).
    pub creatable: bool,
}

/// Everything a sync needs a portal to have.
#[derive(Debug, Clone)]
pub struct Requirements {
    /// The objects the sync writes, in order.
    pub objects: Vec<ObjectType>,
    /// The property group the sync's properties live in, for each object.
    pub group: PropertyGroupCreate,
    /// Per object, the property records are matched on. Every one but contacts' (`email`,
    /// which HubSpot keeps unique itself) must be a unique-value property, so HubSpot
    /// rejects a second record with the same value instead of the sync creating it.
    pub id_properties: Vec<(ObjectType, String)>,
    /// Every property the sync writes, per object, id properties included, in the order
    /// setup creates them.
    pub properties: Vec<(ObjectType, PropertyCreate)>,
    pub pipelines: Vec<PipelineNeed>,
    /// Leads are created already associated with their primary contact, so the portal must
    /// have that association type.
    pub lead_contact_association: bool,
    /// Owner emails the sync may assign records to.
    pub owners: Vec<String>,
}

/// One requirement, met or not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub ok: bool,
    pub what: String,
}

/// The portal checked against the requirements, with the ids the labels resolved to.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    pub checks: Vec<Check>,
    /// Per object with a pipeline need: the pipeline id, and stage ids by the sync's names.
    pub pipelines: BTreeMap<ObjectType, (String, BTreeMap<&'static str, String>)>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    pub fn missing(&self) -> Vec<Check> {
        self.checks.iter().filter(|c| !c.ok).cloned().collect()
    }
}

/// One line per check: `ok` or `MISSING`, then what.
pub fn render_checks(checks: &[Check]) -> String {
    let mut t = String::new();
    for c in checks {
        let _ = writeln!(
            t,
            "  {} {}",
            if c.ok { "ok     " } else { "MISSING" },
            c.what
        );
    }
    t
}

/// Check `portal` against `req`. Pure: the portal was discovered before.
pub fn readiness(req: &Requirements, portal: &Portal) -> Readiness {
    let mut out = Readiness::default();
    for (object, name) in &req.id_properties {
        let ok = portal
            .property(*object, name)
            .is_some_and(|p| *object == ObjectType::Contacts || p.has_unique_value);
        out.checks.push(Check {
            ok,
            what: format!("{object}.{name} exists as a unique property"),
        });
    }
    let is_id = |object: ObjectType, name: &str| {
        req.id_properties
            .iter()
            .any(|(o, n)| *o == object && n == name)
    };
    for (object, property) in &req.properties {
        if is_id(*object, &property.name) {
            continue;
        }
        out.checks.push(Check {
            ok: portal.has_property(*object, &property.name),
            what: format!("{object}.{} exists", property.name),
        });
    }
    for need in &req.pipelines {
        check_pipeline(need, portal, &mut out);
        if need.object == ObjectType::Leads && req.lead_contact_association {
            out.checks.push(Check {
                ok: portal
                    .association_type(ObjectType::Leads, ObjectType::Contacts)
                    .is_some(),
                what: "a lead-to-contact association type".into(),
            });
        }
    }
    for email in &req.owners {
        let id = portal.owners.get(&email.to_ascii_lowercase());
        out.checks.push(Check {
            ok: id.is_some(),
            what: format!(
                "owner {email}{}",
                id.map(|i| format!(" (id {i})")).unwrap_or_default()
            ),
        });
    }
    out
}

fn find_pipeline<'a>(need: &PipelineNeed, portal: &'a Portal) -> Option<&'a Pipeline> {
    match &need.pipeline {
        Some(p) => portal.pipeline(need.object, p),
        None => portal.default_pipeline(need.object),
    }
}

/// The pipeline and each of its stages, resolved to ids where found.
fn check_pipeline(need: &PipelineNeed, portal: &Portal, out: &mut Readiness) {
    let Some(p) = find_pipeline(need, portal) else {
        out.checks.push(Check {
            ok: false,
            what: format!(
                "{} pipeline \"{}\"",
                need.kind,
                need.pipeline.as_deref().unwrap_or("(default)")
            ),
        });
        return;
    };
    out.checks.push(Check {
        ok: true,
        what: format!("{} pipeline \"{}\" (id {})", need.kind, p.label, p.id),
    });
    let mut ids = BTreeMap::new();
    for (name, input) in &need.stages {
        let label = &input.label;
        let found = portal::stage(p, label);
        out.checks.push(Check {
            ok: found.is_some(),
            what: format!(
                "{} stage {name} = \"{label}\"{}",
                need.kind,
                found.map(|s| format!(" (id {})", s.id)).unwrap_or_default()
            ),
        });
        if let Some(s) = found {
            ids.insert(*name, s.id.clone());
        }
    }
    out.pipelines.insert(need.object, (p.id.clone(), ids));
}

/// Create what `req` needs and `portal` lacks: the property group and properties always,
/// pipelines and stages only with `create_pipelines`. Idempotent; returns one line per
/// requirement (`created`, `found`, or `MISSING` with what to do).
pub async fn set_up(
    client: &Client,
    req: &Requirements,
    portal: &Portal,
    create_pipelines: bool,
) -> Result<String, PortalError> {
    let mut t = String::new();
    for object in req.objects.iter().copied() {
        let c = if portal
            .groups
            .get(&object)
            .is_some_and(|g| g.contains(&req.group.name))
        {
            Created::Existed
        } else {
            portal::create_group(client, object, &req.group).await?
        };
        let _ = writeln!(
            t,
            "  {} property group {}.{}",
            said(c),
            object,
            req.group.name
        );
    }
    set_up_properties(client, req, portal, &mut t).await?;
    for need in &req.pipelines {
        set_up_pipeline(client, need, portal, create_pipelines, &mut t).await?;
    }
    Ok(t)
}

fn said(c: Created) -> &'static str {
    if c == Created::Created {
        "created"
    } else {
        "found  "
    }
}

/// Each property in the order the sync's schema lists them, id properties included: found
/// (with a note when its type or uniqueness differs from what the sync writes) or created.
async fn set_up_properties(
    client: &Client,
    req: &Requirements,
    portal: &Portal,
    t: &mut String,
) -> Result<(), PortalError> {
    for (object, property) in &req.properties {
        let object = *object;
        match portal.property(object, &property.name) {
            Some(existing) => {
                let note = if existing.kind != property.kind {
                    format!(
                        " (type {} in the portal, pqlsync writes {})",
                        existing.kind, property.kind
                    )
                } else if property.has_unique_value && !existing.has_unique_value {
                    " (NOT unique: recreate it with unique values, pqlsync matches on it)".into()
                } else {
                    String::new()
                };
                let _ = writeln!(t, "  found   property {object}.{}{note}", property.name);
            }
            None => {
                let c = portal::create_property(client, object, property).await?;
                let _ = writeln!(t, "  {} property {object}.{}", said(c), property.name);
            }
        }
    }
    Ok(())
}

/// A pipeline and its stages: found, created (with `create_pipelines`), or MISSING.
async fn set_up_pipeline(
    client: &Client,
    need: &PipelineNeed,
    portal: &Portal,
    create_pipelines: bool,
    t: &mut String,
) -> Result<(), PortalError> {
    let kind = need.kind;
    let Some(p) = find_pipeline(need, portal) else {
        return create_or_report_pipeline(client, need, create_pipelines, t).await;
    };
    let _ = writeln!(t, "  found   {kind} pipeline \"{}\" (id {})", p.label, p.id);
    for (_, input) in &need.stages {
        let label = &input.label;
        if portal::stage(p, label).is_some() {
            let _ = writeln!(t, "  found   {kind} stage \"{label}\"");
        } else if create_pipelines {
            portal::create_stage(client, need.object, &p.id, input).await?;
            let _ = writeln!(t, "  created {kind} stage \"{label}\"");
        } else {
            let _ = writeln!(
                t,
                "  MISSING {kind} stage \"{label}\" (add it, or rerun with --create-pipelines)"
            );
        }
    }
    Ok(())
}

/// A pipeline the portal lacks: created with all its stages when allowed and possible, else
/// reported with what to do.
async fn create_or_report_pipeline(
    client: &Client,
    need: &PipelineNeed,
    create_pipelines: bool,
    t: &mut String,
) -> Result<(), PortalError> {
    let label = need.pipeline.as_deref().unwrap_or("(default)");
    if !need.creatable {
        let _ = writeln!(
            t,
            "  MISSING {} pipeline: enable leads in HubSpot (Settings > Objects > Leads)",
            need.kind
        );
        return Ok(());
    }
    if !create_pipelines {
        let _ = writeln!(
            t,
            "  MISSING {} pipeline \"{label}\" (rerun with --create-pipelines to create it)",
            need.kind
        );
        return Ok(());
    }
    let input = PipelineInput {
        label: label.to_string(),
        display_order: 99,
        stages: need.stages.iter().map(|(_, s)| s.clone()).collect(),
    };
    let created = portal::create_pipeline(client, need.object, &input).await?;
    let _ = writeln!(
        t,
        "  created {} pipeline \"{label}\"{} with {} stages",
        need.kind,
        created
            .map(|p| format!(" (id {})", p.id))
            .unwrap_or_default(),
        input.stages.len()
    );
    Ok(())
}
