//! Decisions as CRM records: what every company, contact, trial deal, lead and task should hold,
//! and which records should be associated. Pure: ids, owners and stages come in as a
//! `Mapping` already resolved against the portal.
//!
//! Records are keyed by pqlsync's own ids (account, email, trial, activation), never by HubSpot
//! ids, so the desired state does not depend on what HubSpot has assigned yet.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::schema::id_property;
use crate::decision::Decision;
use crate::hubspot::ObjectType;
use crate::route::{DealStage, LeadStage};

/// One identified user of an account, from `sql/features/account_contacts.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub account_id: String,
    pub email: String,
    /// The account's first user: the trial's starter, whom the lead and deal are about.
    pub primary: bool,
}

/// How decisions map onto a portal.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    /// Owner (lower-cased email, or `hubspot:<id>` for an owner read back from HubSpot) → owner id.
    pub owners: BTreeMap<String, String>,
    pub deal_pipeline: String,
    pub deal_stages: BTreeMap<DealStage, String>,
    pub lead_pipeline: String,
    pub lead_stages: BTreeMap<LeadStage, String>,
    /// Lifecycle stage to move contacts and companies to (forward only), by lead stage.
    pub lifecycle: BTreeMap<LeadStage, String>,
}

impl Mapping {
    /// The owner id for a routed owner, if the portal knows them.
    pub fn owner_id(&self, owner: &str) -> Option<String> {
        if let Some(id) = owner.strip_prefix("hubspot:") {
            return Some(id.to_string());
        }
        self.owners.get(&owner.to_ascii_lowercase()).cloned()
    }
}

/// A record's desired properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub object: ObjectType,
    pub key: String,
    /// The account the record belongs to.
    pub account: String,
    pub props: BTreeMap<String, String>,
}

/// An association between two records, by their keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Link {
    pub from: ObjectType,
    pub from_key: String,
    pub to: ObjectType,
    pub to_key: String,
}

impl Link {
    pub fn new(from: ObjectType, from_key: &str, to: ObjectType, to_key: &str) -> Link {
        Link {
            from,
            from_key: from_key.to_string(),
            to,
            to_key: to_key.to_string(),
        }
    }
}

/// Everything the portal should hold.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub records: BTreeMap<ObjectType, Vec<Record>>,
    /// Associations made with the default association API.
    pub links: Vec<Link>,
    /// Lead key (account) → the primary contact's email; a lead needs one to be created.
    pub lead_contacts: BTreeMap<String, String>,
    /// Task key → (account, primary contact email if any).
    pub task_targets: BTreeMap<String, (String, Option<String>)>,
    /// Routed owners the portal does not know (reported, not written).
    pub unknown_owners: BTreeSet<String>,
}

impl Desired {
    pub fn records(&self, object: ObjectType) -> &[Record] {
        self.records.get(&object).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Minor units as a decimal amount: 4900 → "49.00".
fn amount(minor: i64) -> String {
    format!(
        "{}{}.{:02}",
        if minor < 0 { "-" } else { "" },
        minor.abs() / 100,
        minor.abs() % 100
    )
}

/// HubSpot's `string` properties hold at most 65,536 characters.
fn clip(s: &str) -> String {
    const LIMIT: usize = 65_536;
    if s.len() <= LIMIT {
        return s.to_string();
    }
    let mut end = LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The desired records for `decisions`. Contacts are grouped by account; a contact shared by
/// two accounts belongs to the one where it is primary, else to the first.
pub fn build(
    decisions: &[Decision],
    contacts: &BTreeMap<String, Vec<Contact>>,
    mapping: &Mapping,
) -> Desired {
    let mut d = Desired::default();
    let push = |d: &mut Desired,
                object: ObjectType,
                key: &str,
                account: &str,
                props: BTreeMap<String, String>| {
        d.records.entry(object).or_default().push(Record {
            object,
            key: key.to_string(),
            account: account.to_string(),
            props,
        });
    };
    let mut seen_emails: BTreeSet<String> = BTreeSet::new();
    // Primary contacts claim their email first.
    let mut owner_of_email: BTreeMap<String, String> = BTreeMap::new();
    for list in contacts.values() {
        for c in list.iter().filter(|c| c.primary) {
            owner_of_email
                .entry(c.email.clone())
                .or_insert_with(|| c.account_id.clone());
        }
    }
    for decision in decisions {
        let account = decision.account_id.as_str();
        let s = &decision.score;
        let r = &decision.route;
        let f = &decision.facts;
        let owner = r.owner.as_deref().and_then(|o| {
            let id = mapping.owner_id(o);
            if id.is_none() {
                d.unknown_owners.insert(o.to_string());
            }
            id
        });
        let lifecycle = mapping.lifecycle.get(&r.lead_stage).cloned();
        let score = |props: &mut BTreeMap<String, String>| {
            props.insert("pql_score".into(), s.pql.to_string());
            props.insert("pql_tier".into(), s.tier.as_str().into());
        };

        let mut company = BTreeMap::new();
        company.insert(
            id_property(ObjectType::Companies).into(),
            account.to_string(),
        );
        if let Some(name) = &f.name {
            company.insert("name".into(), name.clone());
        }
        if let Some(domain) = &f.domain {
            company.insert("domain".into(), domain.clone());
        }
        score(&mut company);
        company.insert("pql_fit_score".into(), s.fit.to_string());
        company.insert("pql_usage_score".into(), s.usage.to_string());
        company.insert("pql_signals".into(), clip(&s.signals_text()));
        company.insert("plg_motion".into(), r.motion.as_str().into());
        company.insert("plg_seats".into(), f.seats.to_string());
        company.insert("plg_lead_stage".into(), r.lead_stage.as_str().into());
        if let Some(o) = &owner {
            company.insert("hubspot_owner_id".into(), o.clone());
        }
        if let Some(l) = &lifecycle {
            company.insert("lifecyclestage".into(), l.clone());
        }
        push(&mut d, ObjectType::Companies, account, account, company);

        let mut primary: Option<String> = None;
        for c in contacts.get(account).map(Vec::as_slice).unwrap_or(&[]) {
            if owner_of_email.get(&c.email).is_some_and(|a| a != account)
                || !seen_emails.insert(c.email.clone())
            {
                continue;
            }
            if c.primary {
                primary = Some(c.email.clone());
            }
            let mut contact = BTreeMap::new();
            contact.insert("email".into(), c.email.clone());
            contact.insert("plg_account_id".into(), account.to_string());
            score(&mut contact);
            if let Some(l) = &lifecycle {
                contact.insert("lifecyclestage".into(), l.clone());
            }
            push(&mut d, ObjectType::Contacts, &c.email, account, contact);
            d.links.push(Link::new(
                ObjectType::Contacts,
                &c.email,
                ObjectType::Companies,
                account,
            ));
        }

        if let (Some(trial), Some(stage)) = (&f.trial_id, r.deal_stage) {
            let mut deal = BTreeMap::new();
            deal.insert(id_property(ObjectType::Deals).into(), trial.clone());
            deal.insert("plg_account_id".into(), account.to_string());
            deal.insert(
                "dealname".into(),
                format!("{} — PLG trial", f.name.as_deref().unwrap_or(account)),
            );
            deal.insert("pipeline".into(), mapping.deal_pipeline.clone());
            if let Some(id) = mapping.deal_stages.get(&stage) {
                deal.insert("dealstage".into(), id.clone());
            }
            deal.insert("trial_status".into(), f.trial_status.clone());
            if let Some(day) = f.trial_start {
                deal.insert("trial_start_date".into(), day.to_string());
            }
            if let Some(day) = f.trial_end {
                deal.insert("trial_end_date".into(), day.to_string());
                if matches!(stage, DealStage::ClosedWon | DealStage::ClosedLost) {
                    deal.insert("closedate".into(), day.to_string());
                }
            }
            if let Some(mrr) = f.mrr.filter(|m| *m > 0) {
                deal.insert("amount".into(), amount(mrr));
            }
            score(&mut deal);
            if let Some(o) = &owner {
                deal.insert("hubspot_owner_id".into(), o.clone());
            }
            push(&mut d, ObjectType::Deals, trial, account, deal);
            d.links.push(Link::new(
                ObjectType::Deals,
                trial,
                ObjectType::Companies,
                account,
            ));
            if let Some(email) = &primary {
                d.links.push(Link::new(
                    ObjectType::Deals,
                    trial,
                    ObjectType::Contacts,
                    email,
                ));
            }
        }

        if let Some(email) = &primary {
            let mut lead = BTreeMap::new();
            lead.insert(id_property(ObjectType::Leads).into(), account.to_string());
            lead.insert(
                "hs_lead_name".into(),
                f.name.clone().unwrap_or_else(|| account.to_string()),
            );
            lead.insert("hs_pipeline".into(), mapping.lead_pipeline.clone());
            if let Some(id) = mapping.lead_stages.get(&r.lead_stage) {
                lead.insert("hs_pipeline_stage".into(), id.clone());
            }
            score(&mut lead);
            if let Some(o) = &owner {
                lead.insert("hubspot_owner_id".into(), o.clone());
            }
            push(&mut d, ObjectType::Leads, account, account, lead);
            d.lead_contacts.insert(account.to_string(), email.clone());
        }

        if let Some(task) = &r.activation {
            let mut t = BTreeMap::new();
            t.insert(id_property(ObjectType::Tasks).into(), task.key.clone());
            t.insert("hs_task_subject".into(), task.subject.clone());
            t.insert(
                "hs_task_body".into(),
                clip(&format!("PQL {} ({}). {}", s.pql, s.tier, s.signals_text())),
            );
            t.insert("hs_timestamp".into(), format!("{}T09:00:00.000Z", task.due));
            t.insert("hs_task_status".into(), "NOT_STARTED".into());
            t.insert("hs_task_priority".into(), "HIGH".into());
            t.insert("hs_task_type".into(), "TODO".into());
            if let Some(o) = &owner {
                t.insert("hubspot_owner_id".into(), o.clone());
            }
            push(&mut d, ObjectType::Tasks, &task.key, account, t);
            d.task_targets
                .insert(task.key.clone(), (account.to_string(), primary.clone()));
            d.links.push(Link::new(
                ObjectType::Tasks,
                &task.key,
                ObjectType::Companies,
                account,
            ));
            if let Some(email) = &primary {
                d.links.push(Link::new(
                    ObjectType::Tasks,
                    &task.key,
                    ObjectType::Contacts,
                    email,
                ));
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_clipping() {
        assert_eq!(amount(4900), "49.00");
        assert_eq!(amount(5), "0.05");
        assert_eq!(amount(-1250), "-12.50");
        let long = "é".repeat(40_000);
        let clipped = clip(&long);
        assert!(clipped.len() <= 65_536 && long.starts_with(&clipped));
    }

    #[test]
    fn owners_resolve_by_email_or_read_back_id() {
        let m = Mapping {
            owners: BTreeMap::from([("ae@example.com".to_string(), "101".to_string())]),
            ..Mapping::default()
        };
        assert_eq!(m.owner_id("AE@example.com").as_deref(), Some("101"));
        assert_eq!(m.owner_id("hubspot:77").as_deref(), Some("77"));
        assert_eq!(m.owner_id("nobody@example.com"), None);
    }
}
