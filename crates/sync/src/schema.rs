//! The custom properties pqlsync writes on each object, created by `pqlsync hubspot setup` in
//! one property group. Names are a public interface: HubSpot workflows, lists and reports
//! refer to them, so they never change.

use pqlsync_hubspot::ObjectType;
use pqlsync_hubspot::api::{OptionValue, PropertyCreate, PropertyGroupCreate};
use pqlsync_hubspot::portal::options;
use pqlsync_rules::route::Trigger;
use pqlsync_rules::score::people::KEY_ACTIONS;

/// The property group pqlsync's properties live in.
pub const GROUP: &str = "pqlsync";

pub fn group() -> PropertyGroupCreate {
    PropertyGroupCreate {
        name: GROUP.into(),
        label: "PQL scoring (pqlsync)".into(),
        display_order: -1,
    }
}

/// The unique property each object is matched on (`None`: matched by HubSpot id).
pub fn id_property(object: ObjectType) -> &'static str {
    match object {
        ObjectType::Companies => "plg_account_id",
        ObjectType::Contacts => "email",
        ObjectType::Deals => "plg_trial_id",
        ObjectType::Leads => "plg_account_id",
        ObjectType::Tasks => "plg_task_key",
    }
}

fn text(name: &str, label: &str, description: &str) -> PropertyCreate {
    PropertyCreate {
        name: name.into(),
        label: label.into(),
        kind: "string".into(),
        field_type: "text".into(),
        group_name: GROUP.into(),
        description: description.into(),
        has_unique_value: false,
        options: Vec::new(),
    }
}

fn unique(name: &str, label: &str, description: &str) -> PropertyCreate {
    PropertyCreate {
        has_unique_value: true,
        ..text(name, label, description)
    }
}

fn number(name: &str, label: &str, description: &str) -> PropertyCreate {
    PropertyCreate {
        kind: "number".into(),
        field_type: "number".into(),
        ..text(name, label, description)
    }
}

fn date(name: &str, label: &str, description: &str) -> PropertyCreate {
    PropertyCreate {
        kind: "date".into(),
        field_type: "date".into(),
        ..text(name, label, description)
    }
}

fn select(name: &str, label: &str, description: &str, values: Vec<OptionValue>) -> PropertyCreate {
    PropertyCreate {
        kind: "enumeration".into(),
        field_type: "select".into(),
        options: values,
        ..text(name, label, description)
    }
}

fn flag(name: &str, label: &str, description: &str) -> PropertyCreate {
    PropertyCreate {
        kind: "bool".into(),
        field_type: "booleancheckbox".into(),
        options: options(&[("true", "Yes"), ("false", "No")]),
        ..text(name, label, description)
    }
}

/// The contact's own numbers (`score::people`): what a rep reads to know whom to call.
fn person() -> Vec<PropertyCreate> {
    let mut out = vec![
        number(
            "plg_engagement_score",
            "PLG engagement score",
            "This user's product engagement in the account, 0–100, from the user signals.",
        ),
        PropertyCreate {
            field_type: "textarea".into(),
            ..text(
                "plg_engagement_signals",
                "PLG engagement signals",
                "The user signals behind the engagement score, with their points.",
            )
        },
        flag(
            "plg_champion",
            "PLG champion",
            "The account's most engaged user with an email: whom its tasks are about.",
        ),
        flag(
            "plg_power_user",
            "PLG power user",
            "One of the few users who make most of the account's activity in the last 14 days.",
        ),
        date(
            "plg_last_active_date",
            "PLG last active date",
            "The user's last day with a product event in this account (UTC).",
        ),
        number(
            "plg_events_14d",
            "PLG events (14 days)",
            "The user's product events in the last 14 days.",
        ),
        number(
            "plg_active_days_14d",
            "PLG active days (14 days)",
            "Days with a product event in the last 14 days.",
        ),
    ];
    out.extend(KEY_ACTIONS.iter().map(|a| {
        number(
            a.property,
            a.label,
            &format!(
                "{} in the last 14 days, by this user (`{}` in user_features).",
                a.label
                    .trim_start_matches("PLG ")
                    .trim_end_matches(" (14 days)"),
                a.column
            ),
        )
    }));
    out
}

fn tier() -> PropertyCreate {
    select(
        "pql_tier",
        "PQL tier",
        "Activation tier from the PQL score: red, yellow or green.",
        options(&[("red", "Red"), ("yellow", "Yellow"), ("green", "Green")]),
    )
}

fn score() -> PropertyCreate {
    number(
        "pql_score",
        "PQL score",
        "Product-qualified-lead score, 0–100 (fit and usage combined).",
    )
}

/// HubSpot's own properties pqlsync writes, by object; with [`properties`], everything it
/// writes (a test in `model` holds the two to what the sync builds). `hubspot check` reports
/// the portal's validation rules on these.
pub fn hubspot_properties(object: ObjectType) -> &'static [&'static str] {
    match object {
        ObjectType::Companies => &["name", "domain", "lifecyclestage", "hubspot_owner_id"],
        ObjectType::Contacts => &["email", "lifecyclestage"],
        ObjectType::Deals => &[
            "dealname",
            "pipeline",
            "dealstage",
            "closedate",
            "amount",
            "hubspot_owner_id",
        ],
        ObjectType::Leads => &[
            "hs_lead_name",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hubspot_owner_id",
        ],
        ObjectType::Tasks => &[
            "hs_task_subject",
            "hs_task_body",
            "hs_timestamp",
            "hs_task_status",
            "hs_task_priority",
            "hs_task_type",
            "hs_queue_membership_ids",
            "hubspot_owner_id",
        ],
    }
}

/// Whether pqlsync writes `property` on `object`.
pub fn writes(object: ObjectType, property: &str) -> bool {
    hubspot_properties(object).contains(&property)
        || properties()
            .iter()
            .any(|(o, p)| *o == object && p.name == property)
}

/// Every custom property pqlsync writes, by object. Long, but a table: one place declares
/// every property, in the order `hubspot setup` creates them.
#[allow(
    clippy::too_many_lines,
    reason = "plain data: every property pqlsync creates"
)]
pub fn properties() -> Vec<(ObjectType, PropertyCreate)> {
    use ObjectType::*;
    let account = || {
        text(
            "plg_account_id",
            "PLG account id",
            "The product's account id (Segment groupId).",
        )
    };
    let motions = options(&[
        ("self_serve", "Self-serve"),
        ("sales_assisted", "Sales-assisted"),
        ("disqualified", "Disqualified"),
        ("customer", "Customer"),
    ]);
    let stages = options(&[
        ("new", "New"),
        ("interested", "Interested"),
        ("trial_red", "Free Trial Active - Red"),
        ("trial_yellow", "Free Trial Active - Yellow"),
        ("trial_green", "Free Trial Active - Green"),
        ("trial_ended", "Trial Ended"),
        ("self_checked_out", "Self Checked Out"),
        ("disqualified", "Disqualified"),
    ]);
    vec![
        (
            Companies,
            unique(
                "plg_account_id",
                "PLG account id",
                "The product's account id (Segment groupId); pqlsync matches companies on it.",
            ),
        ),
        (Companies, score()),
        (Companies, tier()),
        (
            Companies,
            number(
                "pql_fit_score",
                "PQL fit score",
                "Firmographic fit score, 0–100.",
            ),
        ),
        (
            Companies,
            number(
                "pql_usage_score",
                "PQL usage score",
                "Product usage score, 0–100.",
            ),
        ),
        (
            Companies,
            PropertyCreate {
                field_type: "textarea".into(),
                ..text(
                    "pql_signals",
                    "PQL signals",
                    "The signals behind the PQL score, with their points.",
                )
            },
        ),
        (
            Companies,
            number(
                "plg_expansion_score",
                "PLG expansion score",
                "Paying customers: how far usage outgrows the plan, 0–100 (empty for others).",
            ),
        ),
        (
            Companies,
            PropertyCreate {
                field_type: "textarea".into(),
                ..text(
                    "plg_expansion_signals",
                    "PLG expansion signals",
                    "The signals behind the expansion score, with their points.",
                )
            },
        ),
        (
            Companies,
            select(
                "plg_motion",
                "PLG motion",
                "Who works the account.",
                motions,
            ),
        ),
        (
            Companies,
            number(
                "plg_seats",
                "PLG seats",
                "Identified users of the account in the product.",
            ),
        ),
        (
            Companies,
            select(
                "plg_lead_stage",
                "PLG lead stage",
                "The account's PLG lifecycle stage.",
                stages,
            ),
        ),
        (Contacts, score()),
        (Contacts, tier()),
        (Contacts, account()),
    ]
    .into_iter()
    .chain(person().into_iter().map(|p| (Contacts, p)))
    .chain([
        (
            Deals,
            unique(
                "plg_trial_id",
                "PLG trial id",
                "Identifies the trial this deal tracks; pqlsync matches deals on it.",
            ),
        ),
        (Deals, account()),
        (
            Deals,
            select(
                "trial_status",
                "Trial status",
                "Whether the product trial is live, ended, or none.",
                options(&[("live", "Live"), ("ended", "Ended"), ("none", "None")]),
            ),
        ),
        (
            Deals,
            date(
                "trial_start_date",
                "Trial start date",
                "Day the product trial started (UTC).",
            ),
        ),
        (
            Deals,
            date(
                "trial_end_date",
                "Trial end date",
                "Day the product trial ends or ended (UTC).",
            ),
        ),
        (Deals, score()),
        (Deals, tier()),
        (
            Leads,
            unique(
                "plg_account_id",
                "PLG account id",
                "The product's account id; one lead per account.",
            ),
        ),
        (Leads, score()),
        (Leads, tier()),
        (
            Tasks,
            unique(
                "plg_task_key",
                "PLG task key",
                "Identifies the playbook occurrence (trigger, account, occasion) this task was created for.",
            ),
        ),
        (
            Tasks,
            select(
                "plg_trigger",
                "PLG trigger",
                "The playbook trigger that created this task.",
                options(&Trigger::ALL.map(|t| (t.as_str(), t.label()))),
            ),
        ),
    ])
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_property_names_are_all_there() {
        let have: Vec<(ObjectType, String)> =
            properties().into_iter().map(|(o, p)| (o, p.name)).collect();
        let pinned: &[(ObjectType, &[&str])] = &[
            (
                ObjectType::Companies,
                &[
                    "plg_account_id",
                    "pql_score",
                    "pql_tier",
                    "pql_fit_score",
                    "pql_usage_score",
                    "pql_signals",
                    "plg_motion",
                    "plg_seats",
                ],
            ),
            (
                ObjectType::Contacts,
                &["pql_score", "pql_tier", "plg_account_id"],
            ),
            (
                ObjectType::Deals,
                &[
                    "plg_trial_id",
                    "plg_account_id",
                    "trial_status",
                    "trial_start_date",
                    "trial_end_date",
                    "pql_score",
                    "pql_tier",
                ],
            ),
        ];
        for (object, names) in pinned {
            for name in *names {
                assert!(
                    have.contains(&(*object, name.to_string())),
                    "{object}.{name} missing"
                );
            }
        }
        let uniques: Vec<(ObjectType, String)> = properties()
            .into_iter()
            .filter(|(_, p)| p.has_unique_value)
            .map(|(o, p)| (o, p.name))
            .collect();
        for object in [
            ObjectType::Companies,
            ObjectType::Deals,
            ObjectType::Leads,
            ObjectType::Tasks,
        ] {
            assert!(
                uniques.contains(&(object, id_property(object).to_string())),
                "{object} id property must be unique"
            );
        }
    }
}
