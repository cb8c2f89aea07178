//! Decisions as CRM records: what every company, contact, trial deal, lead and task should hold,
//! and which records should be associated. Pure: ids, owners and stages come in as a
//! `Mapping` already resolved against the portal.
//!
//! Records are keyed by pqlsync's own ids (account, email, trial, activation), never by HubSpot
//! ids, so the desired state does not depend on what HubSpot has assigned yet.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use serde::{Deserialize, Serialize};

use super::lifecycle::furthest_lifecycle;
use super::schema::id_property;
use pqlsync_hubspot::ObjectType;
use pqlsync_rules::decision::Decision;
use pqlsync_rules::route::{DealStage, LeadStage, Motion, Task};
use pqlsync_rules::score::people::{KEY_ACTIONS, Team, User};

/// A contact left out because HubSpot would refuse it, with the account it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    pub account_id: String,
    pub email: String,
    pub reason: &'static str,
}

/// Why HubSpot would refuse `email` as a contact's email, if it would. Sent anyway, such a
/// contact fails its batch on every run (an exit 1 nobody can fix from pqlsync), and its
/// account gets no contact and no lead; caught here, it is reported once per run with its
/// account instead. The rules are HubSpot's syntax check as observed: one `@`, something
/// before it, no whitespace, and a domain of dot-separated labels of letters, digits and
/// hyphens ending in a top-level domain of two or more letters.
pub fn email_problem(email: &str) -> Option<&'static str> {
    if email.len() > 254 {
        return Some("longer than 254 characters");
    }
    if email.chars().any(char::is_whitespace) {
        return Some("contains whitespace");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Some("has no @");
    };
    if local.is_empty() {
        return Some("has nothing before the @");
    }
    if domain.contains('@') {
        return Some("has more than one @");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return Some("has no domain of the form name.tld");
    }
    if !labels
        .iter()
        .all(|l| l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Some("has a character a domain cannot hold");
    }
    let tld = labels[labels.len() - 1];
    if tld.len() < 2 || !tld.chars().all(|c| c.is_ascii_alphabetic()) {
        return Some("has no top-level domain of two or more letters");
    }
    None
}

/// A value clipped to [`STRING_LIMIT`] characters because HubSpot refuses longer strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clipped {
    pub account_id: String,
    pub object: String,
    pub key: String,
    pub property: &'static str,
    /// Its length before clipping, in bytes.
    pub length: usize,
}

/// One identified user of an account, from `sql/outputs/account_contacts.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub account_id: String,
    pub email: String,
    /// The product's user id, which joins the contact to its row of `user_features`.
    pub user_id: Option<String>,
    /// The account's first user: the trial's starter, whom the lead and deal are about.
    pub primary: bool,
    /// When the user was first identified in this account (µs since the epoch, UTC), if the
    /// view says; decides which account a person in several accounts belongs to.
    pub first_identified_at: Option<i64>,
}

/// The account each email belongs to, among the decided accounts. A person can be a user of
/// several accounts, but a HubSpot contact has one `plg_account_id`: it goes to an account
/// where they are the primary user, else to the one they were identified in first, ties to the
/// smallest account id. The rule must not depend on the order accounts arrive in, which
/// parallel execution does not fix — else the contact would move between companies from run
/// to run.
pub fn contact_accounts<'a>(
    contacts: &'a BTreeMap<String, Vec<Contact>>,
    decided: &HashSet<&str>,
) -> HashMap<&'a str, &'a str> {
    let mut best: HashMap<&str, &Contact> = HashMap::new();
    let rank = |c: &'a Contact| {
        (
            !c.primary,
            c.first_identified_at.is_none(),
            c.first_identified_at,
            c.account_id.as_str(),
        )
    };
    for c in contacts.values().flatten() {
        if !decided.contains(c.account_id.as_str()) {
            continue;
        }
        best.entry(c.email.as_str())
            .and_modify(|held| {
                if rank(c) < rank(held) {
                    *held = c;
                }
            })
            .or_insert(c);
    }
    best.into_iter()
        .map(|(email, c)| (email, c.account_id.as_str()))
        .collect()
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
    /// (PQL score, lifecycle stage) an account reaches by score, in lifecycle order.
    pub lifecycle_thresholds: Vec<(u8, String)>,
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
    /// Property name → value. The names are pqlsync's own (see `schema`), so they are static:
    /// a run builds a few hundred thousand records, and owned names were a third of their cost.
    pub props: BTreeMap<&'static str, String>,
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
    /// Contacts not sent because HubSpot would refuse their email.
    pub refused: Vec<Refused>,
    /// Values longer than HubSpot's string properties hold, sent clipped.
    pub clipped: Vec<Clipped>,
    pub records: BTreeMap<ObjectType, Vec<Record>>,
    /// Associations every run makes sure HubSpot holds: made with the default association API,
    /// or with the record when it is created with them (a lead, with its contact and company).
    pub links: Vec<Link>,
    /// Lead key (account) → the primary contact's email; a lead needs one to be created.
    pub lead_contacts: BTreeMap<String, String>,
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
pub const STRING_LIMIT: usize = 65_536;

/// `s` cut to [`STRING_LIMIT`] bytes at a character boundary.
fn clip(s: &str) -> String {
    const LIMIT: usize = STRING_LIMIT;
    if s.len() <= LIMIT {
        return s.to_string();
    }
    let mut end = LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// What every record of one account shares.
struct Account<'a> {
    decision: &'a Decision,
    /// The owner's HubSpot id. An owner the portal does not know (one kept in routing memory
    /// who is no longer an owner there) has no id to write: the records go without one.
    owner: Option<String>,
    /// The lifecycle stage its company and contacts move to.
    lifecycle: Option<String>,
    /// The primary contact's email: whom the deal and lead are about.
    primary: Option<String>,
    /// The champion's email, when it is a contact this run writes: whom new tasks are about.
    champion: Option<String>,
    /// The account's scored users by user id (`None`: the run read no users). A map, not a
    /// scan per contact: an account can have thousands of users.
    users: Option<HashMap<&'a str, &'a User>>,
}

impl Account<'_> {
    fn id(&self) -> &str {
        &self.decision.account_id
    }

    /// The score every record carries.
    fn score(&self, props: &mut BTreeMap<&'static str, String>) {
        let s = &self.decision.score;
        props.insert("pql_score", s.pql.to_string());
        props.insert("pql_tier", s.tier.as_str().into());
    }

    fn owned(&self, props: &mut BTreeMap<&'static str, String>) {
        if let Some(o) = &self.owner {
            props.insert("hubspot_owner_id", o.clone());
        }
    }
}

impl Desired {
    fn push(
        &mut self,
        object: ObjectType,
        key: &str,
        account: &str,
        mut props: BTreeMap<&'static str, String>,
    ) {
        // A longer value would fail the record's batch on every run (the account's name or
        // domain as the product reported it, say): send it clipped, and say so.
        for (property, value) in props.iter_mut() {
            if value.len() > STRING_LIMIT {
                self.clipped.push(Clipped {
                    account_id: account.to_string(),
                    object: object.name().to_string(),
                    key: key.to_string(),
                    property,
                    length: value.len(),
                });
                *value = clip(value);
            }
        }
        self.records.entry(object).or_default().push(Record {
            object,
            key: key.to_string(),
            account: account.to_string(),
            props,
        });
    }
}

fn company(a: &Account) -> BTreeMap<&'static str, String> {
    let (s, r, f) = (&a.decision.score, &a.decision.route, &a.decision.facts);
    let mut company = BTreeMap::new();
    company.insert(id_property(ObjectType::Companies), a.id().to_string());
    if let Some(name) = &f.name {
        company.insert("name", name.clone());
    }
    if let Some(domain) = &f.domain {
        company.insert("domain", domain.clone());
    }
    a.score(&mut company);
    company.insert("pql_fit_score", s.fit.to_string());
    company.insert("pql_usage_score", s.usage.to_string());
    company.insert("pql_signals", clip(&s.signals_text()));
    if let Some(e) = &s.expansion {
        company.insert("plg_expansion_score", e.score.to_string());
        company.insert("plg_expansion_signals", clip(&e.signals_text()));
    }
    company.insert("plg_motion", r.motion.as_str().into());
    company.insert("plg_seats", f.seats.to_string());
    company.insert("plg_lead_stage", r.lead_stage.as_str().into());
    a.owned(&mut company);
    if let Some(l) = &a.lifecycle {
        company.insert("lifecyclestage", l.clone());
    }
    company
}

fn contact(a: &Account, c: &Contact) -> BTreeMap<&'static str, String> {
    let mut contact = BTreeMap::new();
    contact.insert("email", c.email.clone());
    contact.insert("plg_account_id", a.id().to_string());
    a.score(&mut contact);
    if let Some(l) = &a.lifecycle {
        contact.insert("lifecyclestage", l.clone());
    }
    if let Some(users) = &a.users {
        let user = c.user_id.as_deref().and_then(|id| users.get(id).copied());
        person(
            &mut contact,
            user,
            a.champion.as_deref() == Some(c.email.as_str()),
        );
    }
    contact
}

/// The contact's own numbers. A contact with no row in `user_features` (identified, never
/// active in this account) is a user with no activity: engagement 0, not a power user, and no
/// last active date to write.
fn person(props: &mut BTreeMap<&'static str, String>, user: Option<&User>, champion: bool) {
    let flag = |b: bool| if b { "true" } else { "false" }.to_string();
    props.insert("plg_champion", flag(champion));
    props.insert("plg_power_user", flag(user.is_some_and(|u| u.power)));
    props.insert(
        "plg_engagement_score",
        user.map_or(0, |u| u.engagement.score).to_string(),
    );
    props.insert(
        "plg_engagement_signals",
        clip(
            &user
                .map(|u| u.engagement.signals_text())
                .unwrap_or_default(),
        ),
    );
    props.insert("plg_events_14d", user.map_or(0, |u| u.events).to_string());
    props.insert(
        "plg_active_days_14d",
        user.map_or(0, |u| u.active_days).to_string(),
    );
    if let Some(day) = user.and_then(|u| u.last_active) {
        props.insert("plg_last_active_date", day.to_string());
    }
    for (i, action) in KEY_ACTIONS.iter().enumerate() {
        // A column user_features does not have is not written, rather than written as 0.
        match user {
            Some(u) => {
                if let Some(n) = u.actions.get(i).copied().flatten() {
                    props.insert(action.property, n.to_string());
                }
            }
            None => {
                props.insert(action.property, "0".into());
            }
        }
    }
}

/// The trial deal, associated with the company and the primary contact.
fn deal(d: &mut Desired, a: &Account, mapping: &Mapping, trial: &str, stage: DealStage) {
    let account = a.id();
    let f = &a.decision.facts;
    let mut deal = BTreeMap::new();
    deal.insert(id_property(ObjectType::Deals), trial.to_string());
    deal.insert("plg_account_id", account.to_string());
    deal.insert(
        "dealname",
        format!("{} — PLG trial", f.name.as_deref().unwrap_or(account)),
    );
    deal.insert("pipeline", mapping.deal_pipeline.clone());
    if let Some(id) = mapping.deal_stages.get(&stage) {
        deal.insert("dealstage", id.clone());
    }
    deal.insert("trial_status", f.trial_status.clone());
    if let Some(day) = f.trial_start {
        deal.insert("trial_start_date", day.to_string());
    }
    if let Some(day) = f.trial_end {
        deal.insert("trial_end_date", day.to_string());
        if matches!(stage, DealStage::ClosedWon | DealStage::ClosedLost) {
            deal.insert("closedate", day.to_string());
        }
    }
    if let Some(mrr) = f.mrr.filter(|m| *m > 0) {
        deal.insert("amount", amount(mrr));
    }
    a.score(&mut deal);
    a.owned(&mut deal);
    d.push(ObjectType::Deals, trial, account, deal);
    d.links.push(Link::new(
        ObjectType::Deals,
        trial,
        ObjectType::Companies,
        account,
    ));
    if let Some(email) = &a.primary {
        d.links.push(Link::new(
            ObjectType::Deals,
            trial,
            ObjectType::Contacts,
            email,
        ));
    }
}

/// The lead, created later with its primary contact `email`, and linked to that contact and
/// to its company: in the create when both ids are known then, else by a later association.
fn lead(d: &mut Desired, a: &Account, mapping: &Mapping, email: &str) {
    let account = a.id();
    let r = &a.decision.route;
    let mut lead = BTreeMap::new();
    lead.insert(id_property(ObjectType::Leads), account.to_string());
    lead.insert(
        "hs_lead_name",
        a.decision
            .facts
            .name
            .clone()
            .unwrap_or_else(|| account.to_string()),
    );
    lead.insert("hs_pipeline", mapping.lead_pipeline.clone());
    if let Some(id) = mapping.lead_stages.get(&r.lead_stage) {
        lead.insert("hs_pipeline_stage", id.clone());
    }
    a.score(&mut lead);
    a.owned(&mut lead);
    d.push(ObjectType::Leads, account, account, lead);
    d.lead_contacts
        .insert(account.to_string(), email.to_string());
    d.links.extend([
        Link::new(ObjectType::Leads, account, ObjectType::Contacts, email),
        Link::new(ObjectType::Leads, account, ObjectType::Companies, account),
    ]);
}

/// A playbook's task, in its queue, associated with the company, the trial deal where there is
/// one, and the person it is about: the champion when it fired (`contact`), if the sync writes
/// that contact, else the primary contact.
fn task(d: &mut Desired, a: &Account, task: &Task, contacts: &HashMap<&str, &str>) {
    let account = a.id();
    let mut t = BTreeMap::new();
    t.insert(id_property(ObjectType::Tasks), task.key.clone());
    t.insert("hs_task_subject", task.subject.clone());
    t.insert("hs_task_body", task.body.clone());
    t.insert("hs_timestamp", format!("{}T09:00:00.000Z", task.due));
    t.insert("hs_task_status", "NOT_STARTED".into());
    t.insert("hs_task_priority", task.priority.as_str().into());
    t.insert("hs_task_type", task.task_type.as_str().into());
    if let Some(queue) = &task.queue {
        t.insert("hs_queue_membership_ids", queue.clone());
    }
    t.insert("plg_trigger", task.trigger.as_str().into());
    a.owned(&mut t);
    d.push(ObjectType::Tasks, &task.key, account, t);
    d.links.push(Link::new(
        ObjectType::Tasks,
        &task.key,
        ObjectType::Companies,
        account,
    ));
    let about = task
        .contact
        .as_deref()
        .filter(|email| contacts.contains_key(email))
        .or(a.primary.as_deref());
    if let Some(email) = about {
        d.links.push(Link::new(
            ObjectType::Tasks,
            &task.key,
            ObjectType::Contacts,
            email,
        ));
    }
    if let (Some(trial), Some(_)) = (&a.decision.facts.trial_id, a.decision.route.deal_stage) {
        d.links.push(Link::new(
            ObjectType::Tasks,
            &task.key,
            ObjectType::Deals,
            trial,
        ));
    }
}

/// The lifecycle stage an account's company and contacts move to: the furthest of the one its
/// lead stage maps to and the one its PQL score reaches. A disqualified account is not
/// qualified by its score. The plan then moves it only forward.
fn lifecycle(mapping: &Mapping, decision: &Decision) -> Option<String> {
    let r = &decision.route;
    let by_stage = mapping.lifecycle.get(&r.lead_stage).map(String::as_str);
    let by_score = (r.motion != Motion::Disqualified)
        .then(|| {
            mapping
                .lifecycle_thresholds
                .iter()
                .rev()
                .find(|(score, _)| decision.score.pql >= *score)
                .map(|(_, stage)| stage.as_str())
        })
        .flatten();
    furthest_lifecycle(by_stage, by_score).map(str::to_string)
}

/// The desired records for `decisions`. Contacts are grouped by account; a person in several
/// accounts is one contact, of the account `contact_accounts` picks.
pub fn build(
    decisions: &[Decision],
    contacts: &BTreeMap<String, Vec<Contact>>,
    mapping: &Mapping,
) -> Desired {
    let mut d = Desired::default();
    let mut sendable: BTreeMap<String, Vec<Contact>> = BTreeMap::new();
    for (account, list) in contacts {
        let (good, bad): (Vec<&Contact>, Vec<&Contact>) =
            list.iter().partition(|c| email_problem(&c.email).is_none());
        d.refused.extend(bad.into_iter().map(|c| Refused {
            account_id: c.account_id.clone(),
            email: c.email.clone(),
            reason: email_problem(&c.email).unwrap_or_default(),
        }));
        sendable.insert(account.clone(), good.into_iter().cloned().collect());
    }
    let contacts = &sendable;
    // foldhash, as DataFusion uses for the same strings: with std's SipHash, hashing every
    // email of the run was a third of `build`'s time.
    let decided: HashSet<&str> = decisions.iter().map(|d| d.account_id.as_str()).collect();
    let account_of = contact_accounts(contacts, &decided);
    // An account can list one email under two user ids.
    let mut written: HashSet<&str> = HashSet::new();
    for decision in decisions {
        let account = decision.account_id.as_str();
        let r = &decision.route;
        let list = contacts.get(account).map(Vec::as_slice).unwrap_or(&[]);
        let ours = |c: &&Contact| account_of.get(c.email.as_str()) == Some(&account);
        let a = Account {
            decision,
            owner: r.owner.as_deref().and_then(|o| mapping.owner_id(o)),
            lifecycle: lifecycle(mapping, decision),
            primary: list
                .iter()
                .filter(ours)
                .find(|c| c.primary)
                .map(|c| c.email.clone()),
            champion: decision
                .team
                .as_ref()
                .and_then(Team::champion)
                .and_then(|u| u.email.as_deref())
                .filter(|email| account_of.get(email) == Some(&account))
                .map(str::to_string),
            users: decision.team.as_ref().map(|t| {
                t.users
                    .iter()
                    .map(|u| (u.user_id.as_str(), u))
                    .collect::<HashMap<_, _>>()
            }),
        };
        d.push(ObjectType::Companies, account, account, company(&a));
        for c in list.iter().filter(ours) {
            if !written.insert(&c.email) {
                continue;
            }
            d.push(ObjectType::Contacts, &c.email, account, contact(&a, c));
            d.links.push(Link::new(
                ObjectType::Contacts,
                &c.email,
                ObjectType::Companies,
                account,
            ));
        }
        if let (Some(trial), Some(stage)) = (&decision.facts.trial_id, r.deal_stage) {
            deal(&mut d, &a, mapping, trial, stage);
        }
        if let Some(email) = &a.primary {
            lead(&mut d, &a, mapping, email);
        }
        // The last week's tasks, not only today's: one HubSpot did not confirm is sent again.
        for open in &r.memory.open {
            task(&mut d, &a, open, &account_of);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bad email@x` and addresses without an `@` reached HubSpot (or were dropped in SQL)
    /// and left their account without a contact and a lead, unreported.
    #[test]
    fn emails_hubspot_would_refuse() {
        let long = format!("{}@example.com", "a".repeat(250));
        let cases: &[(&str, Option<&str>)] = &[
            ("ana@example.com", None),
            ("ana.b+tag@sub.example.co", None),
            ("a@b.io", None),
            ("o'neil@x-y.example", None),
            ("bad email@x.com", Some("contains whitespace")),
            ("bad email@x", Some("contains whitespace")),
            ("no-at-sign", Some("has no @")),
            ("@example.com", Some("has nothing before the @")),
            ("a@@example.com", Some("has more than one @")),
            ("a@b@example.com", Some("has more than one @")),
            ("a@localhost", Some("has no domain of the form name.tld")),
            ("a@example..com", Some("has no domain of the form name.tld")),
            ("a@.example.com", Some("has no domain of the form name.tld")),
            (
                "a@exa_mple.com",
                Some("has a character a domain cannot hold"),
            ),
            (
                "a@example.c",
                Some("has no top-level domain of two or more letters"),
            ),
            (
                "a@example.123",
                Some("has no top-level domain of two or more letters"),
            ),
            (&long, Some("longer than 254 characters")),
        ];
        for (email, want) in cases {
            assert_eq!(email_problem(email), *want, "{email}");
        }
    }

    #[test]
    fn a_refused_email_is_reported_with_its_account_and_the_rest_still_sync() {
        let contacts = BTreeMap::from([(
            "a1".to_string(),
            vec![
                contact("a1", "bad email@x", true, Some(1)),
                contact("a1", "ok@a1.example", false, Some(2)),
            ],
        )]);
        let d = build(&[decision("a1")], &contacts, &Mapping::default());
        assert_eq!(
            d.refused,
            vec![Refused {
                account_id: "a1".into(),
                email: "bad email@x".into(),
                reason: "contains whitespace",
            }]
        );
        let keys: Vec<&str> = d
            .records(ObjectType::Contacts)
            .iter()
            .map(|r| r.key.as_str())
            .collect();
        assert_eq!(keys, ["ok@a1.example"]);
    }

    #[test]
    fn an_over_long_value_is_sent_clipped_and_reported() {
        let mut d = Desired::default();
        let name = "N".repeat(STRING_LIMIT + 10);
        d.push(
            ObjectType::Companies,
            "a1",
            "a1",
            BTreeMap::from([("name", name), ("plg_account_id", "a1".to_string())]),
        );
        let sent = &d.records(ObjectType::Companies)[0].props["name"];
        assert_eq!(sent.len(), STRING_LIMIT);
        assert_eq!(
            d.clipped,
            vec![Clipped {
                account_id: "a1".into(),
                object: "companies".into(),
                key: "a1".into(),
                property: "name",
                length: STRING_LIMIT + 10,
            }]
        );
    }

    /// `hubspot check` reports validation rules on what `schema` says pqlsync writes: a
    /// property the sync starts writing must be listed there too.
    #[test]
    fn lifecycle_is_the_furthest_of_stage_and_score_and_never_for_the_disqualified() {
        use pqlsync_rules::route::Motion;
        let mapping = Mapping {
            lifecycle: BTreeMap::from([
                (LeadStage::Interested, "marketingqualifiedlead".to_string()),
                (LeadStage::TrialGreen, "salesqualifiedlead".to_string()),
                (LeadStage::SelfCheckedOut, "customer".to_string()),
            ]),
            lifecycle_thresholds: vec![
                (60, "marketingqualifiedlead".to_string()),
                (85, "salesqualifiedlead".to_string()),
            ],
            ..Mapping::default()
        };
        let cases = [
            (LeadStage::New, Motion::SelfServe, 59, None),
            (
                LeadStage::New,
                Motion::SelfServe,
                60,
                Some("marketingqualifiedlead"),
            ),
            (
                LeadStage::Interested,
                Motion::SelfServe,
                84,
                Some("marketingqualifiedlead"),
            ),
            (
                LeadStage::Interested,
                Motion::SelfServe,
                85,
                Some("salesqualifiedlead"),
            ),
            (
                LeadStage::TrialGreen,
                Motion::SelfServe,
                72,
                Some("salesqualifiedlead"),
            ),
            (
                LeadStage::SelfCheckedOut,
                Motion::Customer,
                95,
                Some("customer"),
            ),
            (LeadStage::Disqualified, Motion::Disqualified, 90, None),
        ];
        for (stage, motion, pql, want) in cases {
            let mut d = decision("a1");
            d.route.lead_stage = stage;
            d.route.motion = motion;
            d.score.pql = pql;
            assert_eq!(
                lifecycle(&mapping, &d).as_deref(),
                want,
                "{stage:?} {motion:?} PQL {pql}"
            );
        }
    }

    #[test]
    fn every_property_written_is_declared_in_the_schema() {
        use pqlsync_rules::decision::Facts;
        use pqlsync_rules::route::Motion;
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let mut full = decision("a1");
        full.route.motion = Motion::SalesAssisted;
        full.route.owner = Some("ae@example.com".into());
        full.route.lead_stage = LeadStage::TrialGreen;
        full.route.deal_stage = Some(DealStage::ClosedWon);
        full.route.memory.open = vec![Task {
            key: "a1:t1".into(),
            trigger: pqlsync_rules::route::Trigger::HotPql,
            fired: day,
            owner: Some("ae@example.com".into()),
            subject: "Call".into(),
            body: "PQL 90".into(),
            due: day,
            queue: Some("1002".into()),
            task_type: pqlsync_rules::route::TaskType::Call,
            priority: pqlsync_rules::route::Priority::High,
            contact: None,
        }];
        full.score.expansion = Some(pqlsync_rules::score::Expansion {
            score: 70,
            signals: vec![],
        });
        full.facts = Facts {
            name: Some("Acme".into()),
            domain: Some("acme.example".into()),
            seats: 60,
            trial_id: Some("t1".into()),
            trial_status: "ended".into(),
            trial_start: Some(day),
            trial_end: Some(day),
            mrr: Some(4900),
            mrr_currency: Some("usd".into()),
        };
        let mapping = Mapping {
            owners: BTreeMap::from([("ae@example.com".to_string(), "7".to_string())]),
            deal_pipeline: "p".into(),
            deal_stages: BTreeMap::from([(DealStage::ClosedWon, "won".to_string())]),
            lead_pipeline: "lp".into(),
            lead_stages: BTreeMap::from([(LeadStage::TrialGreen, "green".to_string())]),
            lifecycle: BTreeMap::from([(LeadStage::TrialGreen, "salesqualifiedlead".to_string())]),
            lifecycle_thresholds: vec![(60, "marketingqualifiedlead".to_string())],
        };
        full.team = Some(team(&[("u1", "p@acme.example", 80, 30)]));
        full.route.memory.open[0].contact = Some("p@acme.example".into());
        let mut p = contact("a1", "p@acme.example", true, Some(1));
        p.user_id = Some("u1".into());
        let contacts = BTreeMap::from([("a1".to_string(), vec![p])]);
        let d = build(&[full], &contacts, &mapping);
        for object in ObjectType::ALL {
            let records = d.records(object);
            assert!(!records.is_empty(), "the fixture writes no {object}");
            for r in records {
                for property in r.props.keys() {
                    assert!(
                        super::super::schema::writes(object, property),
                        "{object}.{property} is written but not declared in sync::schema"
                    );
                }
            }
        }
    }

    #[test]
    fn amounts_and_clipping() {
        assert_eq!(amount(4900), "49.00");
        assert_eq!(amount(5), "0.05");
        assert_eq!(amount(-1250), "-12.50");
        let long = "é".repeat(40_000);
        let clipped = clip(&long);
        assert!(clipped.len() <= 65_536 && long.starts_with(&clipped));
    }

    /// A scored team of (user id, email, engagement, events), ranked and with its champion.
    fn team(users: &[(&str, &str, u8, i64)]) -> Team {
        use pqlsync_rules::score::people::{Engagement, People};
        let users = users
            .iter()
            .map(|(id, email, score, events)| User {
                user_id: id.to_string(),
                email: (!email.is_empty()).then(|| email.to_string()),
                engagement: Engagement {
                    score: *score,
                    signals: vec![],
                },
                events: *events,
                active_days: 2,
                last_active: chrono::NaiveDate::from_ymd_opt(2026, 11, 19),
                actions: vec![Some(1), Some(0), Some(0), Some(2), None],
                power: false,
            })
            .collect();
        People {
            signals: vec![],
            power_share: 0.8,
            power_max: 3,
        }
        .team(users)
    }

    #[test]
    fn contacts_carry_their_own_numbers_and_tasks_are_about_the_champion() {
        let mut d1 = decision("a1");
        d1.team = Some(team(&[
            ("u1", "first@x.com", 20, 5),
            ("u2", "champ@x.com", 70, 40),
            ("u3", "", 95, 90),
        ]));
        let task = |key: &str, contact: Option<&str>| Task {
            key: key.into(),
            trigger: pqlsync_rules::route::Trigger::HotPql,
            fired: chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            owner: None,
            subject: "s".into(),
            body: "b".into(),
            due: chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            queue: None,
            task_type: pqlsync_rules::route::TaskType::Call,
            priority: pqlsync_rules::route::Priority::High,
            contact: contact.map(str::to_string),
        };
        d1.route.memory.open = vec![
            task("t-champ", Some("champ@x.com")),
            task("t-old", None),
            task("t-gone", Some("left@x.com")),
        ];
        let mut list = vec![
            contact("a1", "first@x.com", true, Some(1)),
            contact("a1", "champ@x.com", false, Some(2)),
            contact("a1", "idle@x.com", false, Some(3)),
        ];
        for (c, id) in list.iter_mut().zip(["u1", "u2", "u9"]) {
            c.user_id = Some(id.into());
        }
        let contacts = BTreeMap::from([("a1".to_string(), list)]);
        let d = build(&[d1], &contacts, &Mapping::default());
        let props = |email: &str| {
            d.records(ObjectType::Contacts)
                .iter()
                .find(|r| r.key == email)
                .unwrap()
                .props
                .clone()
        };
        let champ = props("champ@x.com");
        assert_eq!(champ["plg_champion"], "true");
        assert_eq!(
            champ["plg_power_user"], "true",
            "u3 and u2 make 130 of 135 events"
        );
        assert_eq!(champ["plg_engagement_score"], "70");
        assert_eq!(champ["plg_last_active_date"], "2026-11-19");
        assert_eq!(champ["plg_teammates_invited_14d"], "1");
        assert_eq!(champ["plg_pricing_page_views_14d"], "2");
        assert!(
            !champ.contains_key("plg_limit_reached_14d"),
            "a column user_features lacks is not written"
        );
        assert_eq!(champ["pql_score"], "30", "the account's score stays");
        let first = props("first@x.com");
        assert_eq!(
            (
                first["plg_champion"].as_str(),
                first["plg_engagement_score"].as_str()
            ),
            ("false", "20")
        );
        let idle = props("idle@x.com");
        assert_eq!(idle["plg_engagement_score"], "0");
        assert_eq!(idle["plg_limit_reached_14d"], "0");
        assert!(!idle.contains_key("plg_last_active_date"));
        let about = |key: &str| -> Vec<&str> {
            d.links
                .iter()
                .filter(|l| l.from_key == key && l.to == ObjectType::Contacts)
                .map(|l| l.to_key.as_str())
                .collect()
        };
        assert_eq!(about("t-champ"), ["champ@x.com"]);
        assert_eq!(about("t-old"), ["first@x.com"], "fired before champions");
        assert_eq!(
            about("t-gone"),
            ["first@x.com"],
            "a champion no longer a contact falls back to the primary"
        );
    }

    /// Without users read (backfill, or no user_features view), contacts get no user numbers.
    #[test]
    fn contacts_without_a_team_get_only_the_account_numbers() {
        let contacts = BTreeMap::from([(
            "a1".to_string(),
            vec![contact("a1", "first@x.com", true, Some(1))],
        )]);
        let d = build(&[decision("a1")], &contacts, &Mapping::default());
        let keys: Vec<&str> = d.records(ObjectType::Contacts)[0]
            .props
            .keys()
            .copied()
            .collect();
        assert_eq!(keys, ["email", "plg_account_id", "pql_score", "pql_tier"]);
    }

    fn contact(account: &str, email: &str, primary: bool, since: Option<i64>) -> Contact {
        Contact {
            account_id: account.into(),
            email: email.into(),
            user_id: None,
            primary,
            first_identified_at: since,
        }
    }

    /// Regression: a person in two accounts, primary in neither, went to whichever account the
    /// feature stream delivered first, so their contact changed company between runs.
    #[test]
    fn shared_contact_account_does_not_follow_arrival_order() {
        let cases: &[(&str, &[Contact], Option<&str>)] = &[
            (
                "primary wins over an earlier identify",
                &[
                    contact("a1", "p@x.com", false, Some(1)),
                    contact("a2", "p@x.com", true, Some(9)),
                ],
                Some("a2"),
            ),
            (
                "else the account identified in first",
                &[
                    contact("a1", "p@x.com", false, Some(5)),
                    contact("a2", "p@x.com", false, Some(3)),
                ],
                Some("a2"),
            ),
            (
                "a known time beats an unknown one",
                &[
                    contact("a1", "p@x.com", false, None),
                    contact("a2", "p@x.com", false, Some(3)),
                ],
                Some("a2"),
            ),
            (
                "ties go to the smallest account id",
                &[
                    contact("a2", "p@x.com", true, Some(3)),
                    contact("a1", "p@x.com", true, Some(3)),
                ],
                Some("a1"),
            ),
            (
                "an account without a decision does not hold the contact",
                &[
                    contact("zz", "p@x.com", true, Some(1)),
                    contact("a1", "p@x.com", false, Some(3)),
                ],
                Some("a1"),
            ),
            (
                "nor gets it",
                &[contact("zz", "p@x.com", true, Some(1))],
                None,
            ),
        ];
        let decided: HashSet<&str> = ["a1", "a2"].into_iter().collect();
        for (why, list, want) in cases {
            for order in [list.to_vec(), list.iter().rev().cloned().collect()] {
                let mut by_account: BTreeMap<String, Vec<Contact>> = BTreeMap::new();
                for c in order {
                    by_account.entry(c.account_id.clone()).or_default().push(c);
                }
                let got = contact_accounts(&by_account, &decided);
                assert_eq!(got.get("p@x.com").copied(), *want, "{why}");
            }
        }
    }

    fn decision(account: &str) -> Decision {
        use pqlsync_rules::route::{Memory, Motion, Route};
        use pqlsync_rules::score::{Score, Tier};
        let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        Decision {
            account_id: account.into(),
            score: Score {
                fit: 10,
                usage: 20,
                pql: 30,
                tier: Tier::Red,
                fit_signals: vec![],
                usage_signals: vec![],
                expansion: None,
            },
            route: Route {
                motion: Motion::SelfServe,
                owner: None,
                lead_stage: LeadStage::TrialRed,
                deal_stage: None,
                tasks: vec![],
                checks: vec![],
                task_failures: vec![],
                reason: String::new(),
                memory: Memory {
                    as_of: day,
                    motion: Motion::SelfServe,
                    owner: None,
                    lead_stage: LeadStage::TrialRed,
                    deal_stage: None,
                    trial_id: None,
                    tier: Tier::Red,
                    green_since: None,
                    hot_since: None,
                    last: Default::default(),
                    open: vec![],
                },
            },
            facts: Default::default(),
            team: None,
        }
    }

    type Flat = Vec<(ObjectType, String, BTreeMap<&'static str, String>)>;

    fn sorted(d: &Desired) -> (Flat, Vec<Link>) {
        let mut records: Vec<_> = d
            .records
            .values()
            .flatten()
            .map(|r| (r.object, r.key.clone(), r.props.clone()))
            .collect();
        records.sort();
        let mut links = d.links.clone();
        links.sort();
        (records, links)
    }

    #[test]
    fn records_do_not_depend_on_the_order_decisions_arrive_in() {
        let contacts = BTreeMap::from([
            (
                "a1".to_string(),
                vec![
                    contact("a1", "owner1@x.com", true, Some(1)),
                    contact("a1", "shared@x.com", false, Some(7)),
                ],
            ),
            (
                "a2".to_string(),
                vec![
                    contact("a2", "owner2@x.com", true, Some(2)),
                    contact("a2", "shared@x.com", false, Some(4)),
                ],
            ),
        ]);
        let forward = build(
            &[decision("a1"), decision("a2")],
            &contacts,
            &Mapping::default(),
        );
        let backward = build(
            &[decision("a2"), decision("a1")],
            &contacts,
            &Mapping::default(),
        );
        assert_eq!(sorted(&forward), sorted(&backward));
        let shared = forward
            .records(ObjectType::Contacts)
            .iter()
            .find(|r| r.key == "shared@x.com")
            .unwrap();
        assert_eq!(shared.account, "a2", "identified in a2 first");
    }

    #[test]
    fn a_primary_listed_after_its_own_duplicate_still_gets_the_lead() {
        let contacts = BTreeMap::from([(
            "a1".to_string(),
            vec![
                contact("a1", "p@x.com", false, Some(5)),
                contact("a1", "p@x.com", true, Some(1)),
            ],
        )]);
        let d = build(&[decision("a1")], &contacts, &Mapping::default());
        assert_eq!(d.records(ObjectType::Contacts).len(), 1);
        assert_eq!(
            d.lead_contacts.get("a1").map(String::as_str),
            Some("p@x.com")
        );
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
