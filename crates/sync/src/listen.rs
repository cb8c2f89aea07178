//! Listening: before anything is decided, read what HubSpot holds now for the records pqlsync
//! manages (the owner of companies, deals, leads and tasks, the deal and lead stages, the
//! lifecycle stage, and whether and when a task was completed), so that what the sales team
//! changed there wins over pqlsync's memory.
//!
//! The records are read by HubSpot id through the batch read endpoint, 100 a request, through
//! the same driver as every other phase. Batch reads, not a search windowed by
//! `hs_lastmodifieddate`: the search index trails writes by seconds to minutes (a window could
//! miss a rep's change made just before the run), caps a query at 10,000 results and a token
//! at 5 searches a second, and returns at most 200 records a page; a batch read sees every
//! record as it is, and at 100 records a request under the 10-second limit (190 requests) it
//! reads about 1,900 records a second against search's 1,000. pqlsync's own daily writes touch
//! most scored records anyway, so a window would read nearly all of them back the next day.
//!
//! A record that cannot be read (a failed batch, a record HubSpot no longer has) is never
//! written blind: its account is held back for the run, listed as a failure (exit 1), and read
//! again next run.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;

use super::driver::{Driver, Progress, Work, chunks};
use super::model::Mapping;
use super::reads::read_by_id;
pub use super::report::{ListenCounts, Listened};
use super::schema::id_property;
use super::state::{SyncState, Synced};
use pqlsync_core::halt::Halt;
use pqlsync_hubspot::{BatchError, Crm, Failure, ObjectType, Outcome};
use pqlsync_rules::route::{DealStage, Held, HeldStage, LeadStage};
use pqlsync_rules::state::StateError;

pub const OWNER: &str = "hubspot_owner_id";
pub const DEAL_STAGE: &str = "dealstage";
pub const LEAD_STAGE: &str = "hs_pipeline_stage";
pub const LIFECYCLE: &str = "lifecyclestage";
pub const TASK_STATUS: &str = "hs_task_status";
pub const TASK_COMPLETED_AT: &str = "hs_task_completion_date";
/// Not properties: the record's `createdAt` and `updatedAt`, kept with the values read.
pub const CREATED_AT: &str = "createdAt";
pub const UPDATED_AT: &str = "updatedAt";

/// What is read back per object type: the properties a person may change (compared with what
/// pqlsync wrote), and those read for the `crm.*` tables only.
pub const LISTENED: &[(ObjectType, &[&str], &[&str])] = &[
    (ObjectType::Companies, &[OWNER, LIFECYCLE], &[]),
    (ObjectType::Deals, &[OWNER, DEAL_STAGE], &["plg_account_id"]),
    (ObjectType::Leads, &[OWNER, LEAD_STAGE], &[]),
    (
        ObjectType::Tasks,
        &[OWNER, TASK_STATUS],
        &[TASK_COMPLETED_AT],
    ),
];

/// The properties of `object` a person may change, and pqlsync compares with its own.
pub fn compared(object: ObjectType) -> &'static [&'static str] {
    LISTENED
        .iter()
        .find(|(o, _, _)| *o == object)
        .map_or(&[], |(_, c, _)| c)
}

/// Read one object type's records by HubSpot id.
struct Listen {
    object: ObjectType,
    properties: Vec<String>,
    day: NaiveDate,
}

#[async_trait]
impl Work for Listen {
    /// (key, HubSpot id)
    type Item = (String, String);

    async fn send(
        &self,
        crm: &dyn Crm,
        items: &[(String, String)],
    ) -> Result<Vec<Outcome>, BatchError> {
        read_by_id(crm, self.object, items, self.properties.clone()).await
    }

    fn settle(&self, progress: &mut Progress<'_>, item: &(String, String), outcome: Outcome) {
        let (key, _) = item;
        let object = self.object;
        let failure = match outcome {
            Outcome::Done(Some(r)) => {
                let mut values: BTreeMap<String, String> = self
                    .properties
                    .iter()
                    .map(|p| {
                        let v = r.properties.get(p).cloned().flatten().unwrap_or_default();
                        (p.clone(), v)
                    })
                    .collect();
                for (name, at) in [(CREATED_AT, r.created_at), (UPDATED_AT, r.updated_at)] {
                    values.insert(name.to_string(), at.unwrap_or_default());
                }
                progress
                    .state
                    .hold(object, key, values, compared(object), self.day);
                progress.unverified.remove(&(object, key.clone()));
                return;
            }
            // HubSpot no longer has it (a portal reset or restore, a person deleting it): the
            // state forgets it, and the model, which still wants it, recreates it this run.
            Outcome::Done(None) | Outcome::NotFound => {
                progress.state.forget(object, key);
                progress.counts(object).gone += 1;
                return;
            }
            Outcome::Failed(f) => Failure {
                message: format!(
                    "could not read what HubSpot holds now, so it is not changed this run: {}",
                    f.message
                ),
                ..f
            },
        };
        progress.fail(object.name(), key, "read", &failure);
        progress.unverified.insert((object, key.clone()));
    }
}

/// The records of `object` the state knows that `read` selects, as (key, HubSpot id).
fn known_records(
    state: &SyncState,
    object: ObjectType,
    read: impl Fn(&Synced) -> bool,
) -> Vec<(String, String)> {
    state
        .objects
        .get(&object)
        .into_iter()
        .flatten()
        .filter(|(_, r)| read(r))
        .map(|(key, r)| (key.clone(), r.id.clone()))
        .collect()
}

/// Whether a task is done with: HubSpot's completed status. A completed task is not read again.
fn completed(r: &Synced) -> bool {
    r.held.get(TASK_STATUS).is_some_and(|s| s == "COMPLETED")
}

/// Read what HubSpot holds now for every record of `objects` the state knows (tasks until
/// they are completed) into the state's `held` values, on `day`; remember what `mapping`'s ids
/// mean. A `Stop` (daily limit, token) ends it early: the caller must not decide on it.
pub async fn listen(
    crm: &dyn Crm,
    state: &mut SyncState,
    mapping: &Mapping,
    objects: &[ObjectType],
    concurrency: usize,
    day: NaiveDate,
) -> Result<Listened, StateError> {
    let started = std::time::Instant::now();
    remember_names(state, mapping);
    let mut d = Driver::new(crm, state, None, None, concurrency, Halt::default());
    for &(object, compared, info) in LISTENED {
        if !objects.contains(&object) || d.stop.is_some() {
            continue;
        }
        let items = known_records(d.progress.state, object, |r| {
            !(object == ObjectType::Tasks && completed(r))
        });
        let properties = compared.iter().chain(info).map(|p| p.to_string()).collect();
        let work = Listen {
            object,
            properties,
            day,
        };
        d.drive(&work, chunks(&items)).await?;
    }
    if objects.contains(&ObjectType::Contacts) && d.stop.is_none() {
        contacts_gone(&mut d, day).await?;
    }
    let stop = d.stop.take();
    let unread = std::mem::take(&mut d.progress.unverified);
    let report = d.finish();
    state.read_on = Some(day);
    let mut out = Listened {
        failures: report.failures.clone(),
        stopped: stop.map(|s| s.message),
        ..Listened::default()
    };
    for (name, c) in &report.objects {
        if c.gone > 0 {
            out.objects.entry(name.clone()).or_default().gone = c.gone;
        }
    }
    for (object, records) in &state.objects {
        if !objects.contains(object) || compared(*object).is_empty() {
            continue;
        }
        let counts = out.objects.entry(object.name().to_string()).or_default();
        for (key, r) in records {
            if unread.contains(&(*object, key.clone())) {
                counts.unread += 1;
                out.held_back.insert(account_of(*object, key, r));
            } else if r.held.is_empty() {
                continue;
            } else {
                counts.read += 1;
                counts.changed_in_hubspot += usize::from(!r.person.is_empty());
            }
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Contacts are many and hold nothing a person's change decides, so they are not read back
/// every run: one search counts the portal's contacts, and only when it holds fewer than the
/// state knows (a reset portal, contacts deleted) are the state's contacts read, so the ones
/// HubSpot no longer has are recreated.
async fn contacts_gone(d: &mut Driver<'_>, day: NaiveDate) -> Result<(), StateError> {
    let object = ObjectType::Contacts;
    let known = d.progress.state.records(object) as u64;
    match d.crm.count_with(object, id_property(object)).await {
        Err(stop) => {
            d.stop = Some(stop);
            return Ok(());
        }
        Ok(Some(held)) if held >= known => return Ok(()),
        Ok(_) => {}
    }
    let items = known_records(d.progress.state, object, |_| true);
    let work = Listen {
        object,
        properties: vec![id_property(object).to_string()],
        day,
    };
    d.drive(&work, chunks(&items)).await
}

/// The account a known record belongs to: as a write confirmed it, else its `plg_account_id`,
/// else (companies and leads are keyed by account; tasks by `account:trigger:…`) its key.
pub fn account_of(object: ObjectType, key: &str, r: &Synced) -> String {
    if let Some(a) = r.account.as_ref().or_else(|| r.props.get("plg_account_id")) {
        return a.clone();
    }
    match object {
        ObjectType::Tasks => key.split(':').next().unwrap_or(key).to_string(),
        _ => key.to_string(),
    }
}

/// Keep what the portal's stage and owner ids mean, so the `crm.*` tables can name them
/// without a portal.
fn remember_names(state: &mut SyncState, mapping: &Mapping) {
    for (stage, id) in &mapping.deal_stages {
        state
            .names
            .insert(format!("{DEAL_STAGE}:{id}"), stage.as_str().to_string());
    }
    for (stage, id) in &mapping.lead_stages {
        state
            .names
            .insert(format!("{LEAD_STAGE}:{id}"), stage.as_str().to_string());
    }
    for (email, id) in &mapping.owners {
        if !email.starts_with("hubspot:") {
            state.names.insert(format!("{OWNER}:{id}"), email.clone());
        }
    }
}

/// What HubSpot holds for each account, as routing takes it, from the values read back.
pub fn held(state: &SyncState) -> BTreeMap<String, Held> {
    let name = |property: &str, id: &str| state.names.get(&format!("{property}:{id}"));
    let stage = |r: &Synced, property: &str| {
        let id = r.held.get(property).filter(|v| !v.is_empty())?;
        let person = r.person.get(property);
        Some((
            name(property, id)?.clone(),
            HeldStage {
                stage: (),
                by_person: person.is_some(),
                since: person.map(|p| p.since),
            },
        ))
    };
    let mut out: BTreeMap<String, Held> = BTreeMap::new();
    let records = |object| state.objects.get(&object).into_iter().flatten();
    for (key, r) in records(ObjectType::Companies) {
        if let Some(id) = r.held.get(OWNER).filter(|v| !v.is_empty()) {
            let owner = name(OWNER, id).cloned().unwrap_or(format!("hubspot:{id}"));
            out.entry(account_of(ObjectType::Companies, key, r))
                .or_default()
                .owner = Some(owner);
        }
    }
    for (key, r) in records(ObjectType::Deals) {
        if let Some((s, h)) = stage(r, DEAL_STAGE)
            && let Some(s) = DealStage::parse(&s)
        {
            out.entry(account_of(ObjectType::Deals, key, r))
                .or_default()
                .deals
                .push((key.clone(), with(h, s)));
        }
    }
    for (key, r) in records(ObjectType::Leads) {
        if let Some((s, h)) = stage(r, LEAD_STAGE)
            && let Some(s) = LeadStage::parse(&s)
        {
            out.entry(account_of(ObjectType::Leads, key, r))
                .or_default()
                .lead = Some(with(h, s));
        }
    }
    out
}

fn with<S>(h: HeldStage<()>, stage: S) -> HeldStage<S> {
    HeldStage {
        stage,
        by_person: h.by_person,
        since: h.since,
    }
}
