//! What a fresh HubSpot portal has: the default properties and property groups of each
//! object, the default deal pipeline ("Sales Pipeline", id `default`) and lead pipeline
//! ("Leads pipeline", id `lead-pipeline-id`), and the HubSpot-defined association types with
//! their real type ids (HubSpot's "association type id values" table, associations v4).
//!
//! Only the properties a sync needs are seeded, not HubSpot's hundreds: a client that checks
//! for a property finds these, and one that writes any other gets `PROPERTY_DOESNT_EXIST`.

use std::collections::BTreeMap;

use super::kinds::Kind;
use super::model::{
    AssociationType, GroupDef, ModificationMetadata, OptionDef, OwnerDef, PipelineDef, PropertyDef,
    StageDef, epoch, rfc3339,
};

/// The default deal pipeline's id.
pub const DEAL_PIPELINE: &str = "default";
/// The default lead pipeline's id.
pub const LEAD_PIPELINE: &str = "lead-pipeline-id";
/// Tasks' queue property: a checkbox whose options are the portal's task queues (by id), so
/// a task in several queues holds their ids `;`-separated.
pub const QUEUE_PROPERTY: &str = "hs_queue_membership_ids";
/// Tasks' status property, and the status that completes a task.
pub const TASK_STATUS: &str = "hs_task_status";
pub const TASK_COMPLETED: &str = "COMPLETED";
/// When a task was completed: a read-only datetime HubSpot sets when `hs_task_status` becomes
/// `COMPLETED` and clears when it moves away. HubSpot's OpenAPI specs name no properties (the
/// tasks spec, `PublicApiSpecs/CRM/Tasks/Rollouts/424/2026-09/tasks.json`, types them as a
/// free map), and its tasks guide lists only the writable ones (`hs_timestamp`,
/// `hs_task_subject`, `hs_task_status`, ...); `hs_task_completion_date` is the internal name
/// of the task property "Completed at" as portals' task properties list it, and the name
/// clients read completion times from.
pub const TASK_COMPLETION_DATE: &str = "hs_task_completion_date";

/// `lifecyclestage` options, in HubSpot's order.
pub const LIFECYCLE_STAGES: &[(&str, &str)] = &[
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
];

/// The HubSpot-defined association types, each with its inverse. Labels of the inverse
/// direction match the forward one ("Primary" both ways).
pub const ASSOCIATION_TYPES: &[AssociationType] = &[
    assoc(Kind::Contacts, Kind::Companies, 279, 280, None),
    assoc(Kind::Contacts, Kind::Companies, 1, 2, Some("Primary")),
    assoc(Kind::Deals, Kind::Companies, 341, 342, None),
    assoc(Kind::Deals, Kind::Companies, 5, 6, Some("Primary")),
    assoc(Kind::Deals, Kind::Contacts, 3, 4, None),
    assoc(Kind::Tasks, Kind::Contacts, 204, 203, None),
    assoc(Kind::Tasks, Kind::Companies, 192, 191, None),
    assoc(Kind::Tasks, Kind::Deals, 216, 215, None),
    assoc(Kind::Leads, Kind::Contacts, 608, 607, None),
    assoc(Kind::Leads, Kind::Contacts, 578, 579, Some("Primary")),
    assoc(Kind::Leads, Kind::Companies, 610, 609, None),
    assoc(Kind::Leads, Kind::Companies, 580, 581, Some("Primary")),
];

const fn assoc(
    from: Kind,
    to: Kind,
    type_id: i64,
    inverse_id: i64,
    label: Option<&'static str>,
) -> AssociationType {
    AssociationType {
        from,
        to,
        type_id,
        inverse_id,
        label,
    }
}

/// The association types from `from` to `to` (either direction of the table), as
/// `(type id, inverse type id, label)`, the unlabelled default first.
pub fn association_types(from: Kind, to: Kind) -> Vec<(i64, i64, Option<&'static str>)> {
    let mut out: Vec<(i64, i64, Option<&'static str>)> = ASSOCIATION_TYPES
        .iter()
        .filter_map(|a| {
            if a.from == from && a.to == to {
                Some((a.type_id, a.inverse_id, a.label))
            } else if a.from == to && a.to == from {
                Some((a.inverse_id, a.type_id, a.label))
            } else {
                None
            }
        })
        .collect();
    out.sort_by_key(|(_, _, label)| label.is_some());
    out
}

/// The target kind and inverse of association type `type_id` from `from`.
pub fn association_target(from: Kind, type_id: i64) -> Option<(Kind, i64)> {
    ASSOCIATION_TYPES.iter().find_map(|a| {
        if a.from == from && a.type_id == type_id {
            Some((a.to, a.inverse_id))
        } else if a.to == from && a.inverse_id == type_id {
            Some((a.from, a.type_id))
        } else {
            None
        }
    })
}

pub fn options(values: &[(&str, &str)]) -> Vec<OptionDef> {
    values
        .iter()
        .enumerate()
        .map(|(i, (value, label))| OptionDef {
            label: label.to_string(),
            value: value.to_string(),
            description: None,
            display_order: i as i32,
            hidden: false,
        })
        .collect()
}

/// A HubSpot-defined property of `kind`/`field_type` in `group`.
fn prop(name: &str, label: &str, kind: &str, field_type: &str, group: &str) -> PropertyDef {
    let at = rfc3339(epoch());
    PropertyDef {
        name: name.into(),
        label: label.into(),
        kind: kind.into(),
        field_type: field_type.into(),
        group_name: group.into(),
        description: String::new(),
        options: Vec::new(),
        display_order: -1,
        has_unique_value: false,
        hubspot_defined: true,
        calculated: false,
        external_options: false,
        hidden: false,
        form_field: true,
        archived: false,
        referenced_object_type: None,
        modification_metadata: ModificationMetadata {
            archivable: false,
            read_only_definition: true,
            read_only_value: false,
        },
        created_at: at.clone(),
        updated_at: at,
    }
}

fn text(name: &str, label: &str, group: &str) -> PropertyDef {
    prop(name, label, "string", "text", group)
}

fn select(name: &str, label: &str, group: &str, values: &[(&str, &str)]) -> PropertyDef {
    PropertyDef {
        options: options(values),
        ..prop(name, label, "enumeration", "select", group)
    }
}

/// A property HubSpot maintains; writing it is refused (`READ_ONLY_VALUE`).
fn read_only(mut p: PropertyDef) -> PropertyDef {
    p.modification_metadata.read_only_value = true;
    p.form_field = false;
    p
}

/// `hubspot_owner_id`: an enumeration whose options are the portal's owners (HubSpot stores
/// them outside the property: `externalOptions`, `referencedObjectType: OWNER`).
fn owner(group: &str) -> PropertyDef {
    PropertyDef {
        external_options: true,
        referenced_object_type: Some("OWNER".into()),
        ..prop("hubspot_owner_id", "Owner", "enumeration", "select", group)
    }
}

fn system(modified: &str, group: &str) -> Vec<PropertyDef> {
    vec![
        prop("createdate", "Create Date", "datetime", "date", group),
        read_only(prop(
            modified,
            "Last Modified Date",
            "datetime",
            "date",
            group,
        )),
        read_only(prop("hs_object_id", "Record ID", "number", "number", group)),
    ]
}

/// The default properties of `kind`.
pub fn properties(kind: Kind) -> Vec<PropertyDef> {
    let mut list = match kind {
        Kind::Companies => {
            let g = "companyinformation";
            vec![
                text("name", "Company name", g),
                PropertyDef {
                    field_type: "text".into(),
                    ..text("domain", "Company Domain Name", g)
                },
                owner(g),
                PropertyDef {
                    field_type: "radio".into(),
                    ..select("lifecyclestage", "Lifecycle Stage", g, LIFECYCLE_STAGES)
                },
                // HubSpot's industry is an enumeration of ~150 values; a free-text field here
                // keeps the sandbox from refusing values it cannot list.
                text("industry", "Industry", g),
                prop(
                    "numberofemployees",
                    "Number of Employees",
                    "number",
                    "number",
                    g,
                ),
            ]
        }
        Kind::Contacts => {
            let g = "contactinformation";
            vec![
                PropertyDef {
                    has_unique_value: true,
                    ..text("email", "Email", g)
                },
                text("firstname", "First Name", g),
                text("lastname", "Last Name", g),
                text("company", "Company Name", g),
                owner(g),
                PropertyDef {
                    field_type: "radio".into(),
                    ..select("lifecyclestage", "Lifecycle Stage", g, LIFECYCLE_STAGES)
                },
            ]
        }
        Kind::Deals => {
            let g = "dealinformation";
            vec![
                text("dealname", "Deal Name", g),
                // Options of dealstage and pipeline follow the pipelines; validation checks
                // them against the pipelines, not these lists.
                PropertyDef {
                    field_type: "radio".into(),
                    ..prop("dealstage", "Deal Stage", "enumeration", "radio", g)
                },
                prop("pipeline", "Pipeline", "enumeration", "select", g),
                prop("amount", "Amount", "number", "number", g),
                prop("closedate", "Close Date", "datetime", "date", g),
                owner(g),
            ]
        }
        Kind::Leads => {
            let g = "leadinformation";
            vec![
                text("hs_lead_name", "Lead name", g),
                select(
                    "hs_lead_type",
                    "Lead type",
                    g,
                    &[
                        ("NEW_BUSINESS", "New Business"),
                        ("UPSELL", "Upsell"),
                        ("RE_ATTEMPTING", "Re-attempting"),
                    ],
                ),
                prop("hs_pipeline", "Pipeline", "enumeration", "select", g),
                prop(
                    "hs_pipeline_stage",
                    "Lead stage",
                    "enumeration",
                    "select",
                    g,
                ),
                owner(g),
            ]
        }
        Kind::Tasks => {
            let g = "task";
            vec![
                text("hs_task_subject", "Task Title", g),
                PropertyDef {
                    field_type: "textarea".into(),
                    ..text("hs_task_body", "Notes", g)
                },
                prop("hs_timestamp", "Due date", "datetime", "date", g),
                select(
                    TASK_STATUS,
                    "Task Status",
                    g,
                    &[
                        ("NOT_STARTED", "Not Started"),
                        ("IN_PROGRESS", "In Progress"),
                        ("WAITING", "Waiting"),
                        (TASK_COMPLETED, "Completed"),
                        ("DEFERRED", "Deferred"),
                    ],
                ),
                select(
                    "hs_task_priority",
                    "Priority",
                    g,
                    &[
                        ("LOW", "Low"),
                        ("MEDIUM", "Medium"),
                        ("HIGH", "High"),
                        ("NONE", "None"),
                    ],
                ),
                select(
                    "hs_task_type",
                    "Task Type",
                    g,
                    &[
                        ("TODO", "To-do"),
                        ("CALL", "Call"),
                        ("EMAIL", "Email"),
                        ("LINKED_IN", "LinkedIn"),
                        ("MEETING", "Meeting"),
                        ("LINKED_IN_CONNECT", "Sales Navigator - Connection Request"),
                        ("LINKED_IN_MESSAGE", "Sales Navigator - InMail"),
                    ],
                ),
                // No options of its own: the portal's queues are added to it
                // (`Store::add_queue`), from the config and at runtime.
                prop(QUEUE_PROPERTY, "Queue", "enumeration", "checkbox", g),
                owner(g),
                read_only(prop(
                    TASK_COMPLETION_DATE,
                    "Completed at",
                    "datetime",
                    "date",
                    g,
                )),
            ]
        }
    };
    let group = list[0].group_name.clone();
    list.extend(system(kind.modified_property(), &group));
    for (i, p) in list.iter_mut().enumerate() {
        p.display_order = i as i32;
    }
    list
}

/// The default property groups of `kind`.
pub fn groups(kind: Kind) -> Vec<GroupDef> {
    let (name, label) = match kind {
        Kind::Companies => ("companyinformation", "Company information"),
        Kind::Contacts => ("contactinformation", "Contact information"),
        Kind::Deals => ("dealinformation", "Deal information"),
        Kind::Leads => ("leadinformation", "Lead information"),
        Kind::Tasks => ("task", "Task information"),
    };
    vec![GroupDef {
        name: name.into(),
        label: label.into(),
        display_order: 0,
        archived: false,
    }]
}

fn stage(id: &str, label: &str, order: i32, metadata: &[(&str, &str)]) -> StageDef {
    let at = rfc3339(epoch());
    StageDef {
        id: id.into(),
        label: label.into(),
        display_order: order,
        metadata: metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        created_at: at.clone(),
        updated_at: at,
        archived: false,
        write_permissions: "CRM_PERMISSIONS_ENFORCEMENT".into(),
    }
}

/// The default pipelines of `kind` (deals and leads have pipelines; others none).
pub fn pipelines(kind: Kind) -> Vec<PipelineDef> {
    let at = rfc3339(epoch());
    let deal = |id: &str, label: &str, order: i32, p: &str, closed: bool| {
        stage(
            id,
            label,
            order,
            &[
                ("probability", p),
                ("isClosed", if closed { "true" } else { "false" }),
            ],
        )
    };
    let lead = |id: &str, label: &str, order: i32, closed: bool| {
        stage(
            id,
            label,
            order,
            &[("isClosed", if closed { "true" } else { "false" })],
        )
    };
    match kind {
        Kind::Deals => vec![PipelineDef {
            id: DEAL_PIPELINE.into(),
            label: "Sales Pipeline".into(),
            display_order: 0,
            stages: vec![
                deal(
                    "appointmentscheduled",
                    "Appointment Scheduled",
                    0,
                    "0.2",
                    false,
                ),
                deal("qualifiedtobuy", "Qualified To Buy", 1, "0.4", false),
                deal(
                    "presentationscheduled",
                    "Presentation Scheduled",
                    2,
                    "0.6",
                    false,
                ),
                deal(
                    "decisionmakerboughtin",
                    "Decision Maker Bought-In",
                    3,
                    "0.8",
                    false,
                ),
                deal("contractsent", "Contract Sent", 4, "0.9", false),
                deal("closedwon", "Closed Won", 5, "1.0", true),
                deal("closedlost", "Closed Lost", 6, "0.0", true),
            ],
            created_at: at.clone(),
            updated_at: at,
            archived: false,
        }],
        Kind::Leads => vec![PipelineDef {
            id: LEAD_PIPELINE.into(),
            label: "Leads pipeline".into(),
            display_order: 0,
            stages: vec![
                lead("new-stage-id", "New", 0, false),
                lead("attempting-stage-id", "Attempting", 1, false),
                lead("connected-stage-id", "Connected", 2, false),
                lead("qualified-stage-id", "Qualified", 3, true),
                lead("unqualified-stage-id", "Disqualified", 4, true),
            ],
            created_at: at.clone(),
            updated_at: at,
            archived: false,
        }],
        _ => Vec::new(),
    }
}

/// Owners for `emails`: numeric ids from 70000001, user ids from 9000001, names guessed from
/// the address (`jane.doe@x.com` → Jane Doe).
pub fn owners(emails: &[String]) -> Vec<OwnerDef> {
    let at = rfc3339(epoch());
    emails
        .iter()
        .enumerate()
        .map(|(i, email)| {
            let local = email.split('@').next().unwrap_or_default();
            let mut names = local
                .split(['.', '_', '-', '+'])
                .filter(|s| !s.is_empty())
                .map(capitalise);
            let first_name = names.next().unwrap_or_default();
            let last_name = names.collect::<Vec<_>>().join(" ");
            OwnerDef {
                id: (70_000_001 + i as u64).to_string(),
                email: email.trim().to_string(),
                first_name,
                last_name,
                user_id: 9_000_001 + i as i64,
                created_at: at.clone(),
                updated_at: at.clone(),
                archived: false,
                kind: "PERSON".into(),
            }
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn association_types_resolve_both_ways() {
        let lc = association_types(Kind::Leads, Kind::Contacts);
        assert_eq!(lc, vec![(608, 607, None), (578, 579, Some("Primary"))]);
        let cl = association_types(Kind::Contacts, Kind::Leads);
        assert_eq!(cl, vec![(607, 608, None), (579, 578, Some("Primary"))]);
        assert_eq!(
            association_target(Kind::Leads, 578),
            Some((Kind::Contacts, 579))
        );
        assert_eq!(
            association_target(Kind::Companies, 280),
            Some((Kind::Contacts, 279))
        );
        assert_eq!(association_target(Kind::Leads, 1), None);
        assert!(association_types(Kind::Leads, Kind::Tasks).is_empty());
    }

    #[test]
    fn owners_get_ids_and_names() {
        let o = owners(&[
            "jane.doe@example.com".to_string(),
            "max@example.com".to_string(),
        ]);
        assert_eq!(o[0].id, "70000001");
        assert_eq!(
            (o[0].first_name.as_str(), o[0].last_name.as_str()),
            ("Jane", "Doe")
        );
        assert_eq!(o[1].id, "70000002");
        assert_eq!(o[1].last_name, "");
    }

    #[test]
    fn every_kind_has_system_properties_and_a_group() {
        for kind in Kind::ALL {
            let props = properties(kind);
            let group = &groups(kind)[0].name;
            assert!(props.iter().all(|p| &p.group_name == group), "{kind}");
            for name in [
                "hs_object_id",
                "createdate",
                kind.modified_property(),
                "hubspot_owner_id",
            ] {
                assert!(props.iter().any(|p| p.name == name), "{kind} lacks {name}");
            }
        }
        let tasks = properties(Kind::Tasks);
        let completed = tasks
            .iter()
            .find(|p| p.name == TASK_COMPLETION_DATE)
            .expect("tasks have a completion date");
        assert_eq!(completed.kind, "datetime");
        assert!(completed.modification_metadata.read_only_value);
    }
}
