//! Undoing a run, carried out: read what HubSpot holds now for the records the run changed
//! (by id, through the batch driver), decide with [`super::revert::revert_plan`], then write
//! the values back by id through the same driver, each write logged like any other (the revert
//! is a run with its own change log) and confirmed into the sync state, so the next run diffs
//! against the restored values instead of remembering the reverted ones.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;

use super::driver::{Driver, Progress, Work, chunks};
use super::journal::{Entry, Journal, Operation};
use super::report::SyncReport;
use super::revert::{Created, Now, Restore, RevertPlan, revert_plan};
use super::state::SyncState;
use pqlsync_core::files::Files;
use pqlsync_core::halt::Halt;
use pqlsync_hubspot::api::UpdateInput;
use pqlsync_hubspot::{BatchError, Crm, ObjectType, Outcome};
use pqlsync_rules::state::StateError;

/// Read, by HubSpot id, the properties a run wrote on one object type's records.
struct ReadNow {
    object: ObjectType,
    properties: Vec<String>,
    found: Mutex<Now>,
}

#[async_trait]
impl Work for ReadNow {
    /// (key, HubSpot id)
    type Item = (String, String);

    async fn send(
        &self,
        crm: &dyn Crm,
        items: &[(String, String)],
    ) -> Result<Vec<Outcome>, BatchError> {
        super::reads::read_by_id(crm, self.object, items, self.properties.clone()).await
    }

    fn settle(&self, progress: &mut Progress<'_>, item: &(String, String), outcome: Outcome) {
        let (key, _) = item;
        match outcome {
            Outcome::Done(Some(r)) => {
                let values = self
                    .properties
                    .iter()
                    .map(|p| {
                        let v = r.properties.get(p).cloned().flatten().unwrap_or_default();
                        (p.clone(), v)
                    })
                    .collect();
                let mut found = self.found.lock().expect("not poisoned");
                found.insert((self.object, key.clone()), values);
            }
            // Gone from HubSpot: absent from `found`, so the plan skips it.
            Outcome::Done(None) | Outcome::NotFound => {}
            Outcome::Failed(f) => progress.fail(self.object.name(), key, "read", &f),
        }
    }
}

/// Per object type: the records to read, as (key, HubSpot id), and the properties to read.
type Wanted = BTreeMap<ObjectType, (BTreeSet<(String, String)>, BTreeSet<String>)>;

/// What HubSpot holds now for every record `entries` updated or created, read by id.
async fn read_now(d: &mut Driver<'_>, entries: &[Entry]) -> Result<Now, StateError> {
    let mut wanted = Wanted::new();
    for e in entries {
        if !matches!(e.operation, Operation::Create | Operation::Update) {
            continue;
        }
        let (Some(object), Some(id), Some(property)) = (
            ObjectType::parse(&e.object),
            e.hubspot_id.clone(),
            e.property.clone(),
        ) else {
            continue;
        };
        let w = wanted.entry(object).or_default();
        w.0.insert((e.key.clone(), id));
        w.1.insert(property);
    }
    let mut now = Now::new();
    for (object, (records, properties)) in wanted {
        let work = ReadNow {
            object,
            properties: properties.into_iter().collect(),
            found: Mutex::new(Now::new()),
        };
        let items: Vec<(String, String)> = records.into_iter().collect();
        d.drive(&work, chunks(&items)).await?;
        now.append(&mut work.found.into_inner().expect("not poisoned"));
    }
    Ok(now)
}

/// Write restores of one object type back by id.
struct Restoring {
    object: ObjectType,
}

#[async_trait]
impl Work for Restoring {
    type Item = Restore;

    async fn send(&self, crm: &dyn Crm, items: &[Restore]) -> Result<Vec<Outcome>, BatchError> {
        let inputs = items
            .iter()
            .map(|r| UpdateInput {
                id: r.id.clone(),
                properties: r.props.clone(),
            })
            .collect();
        crm.update(self.object, inputs).await
    }

    fn settle(&self, progress: &mut Progress<'_>, r: &Restore, outcome: Outcome) {
        let object = self.object;
        match outcome {
            Outcome::Done(_) => {
                let at = Utc::now();
                for (property, value) in &r.props {
                    progress.entries.push(Entry {
                        at,
                        object: object.name().to_string(),
                        key: r.key.clone(),
                        account: r.account.clone(),
                        hubspot_id: Some(r.id.clone()),
                        operation: Operation::Update,
                        property: Some(property.clone()),
                        previous: r.wrote.get(property).cloned().filter(|v| !v.is_empty()),
                        new: Some(value.clone()).filter(|v| !v.is_empty()),
                        status: None,
                        category: None,
                        message: None,
                    });
                }
                progress.state.confirm(object, &r.key, &r.id, &r.props);
                progress.counts(object).updated += 1;
            }
            Outcome::NotFound => progress.counts(object).pending += 1,
            Outcome::Failed(f) => {
                progress.counts(object).failed += 1;
                let account = r.account.as_deref();
                progress.fail_write(object.name(), &r.key, account, "update", &f);
            }
        }
    }
}

/// Move the tasks a run created, and nobody touched since, to HubSpot's recycling bin.
struct Archiving {
    object: ObjectType,
}

#[async_trait]
impl Work for Archiving {
    type Item = Created;

    async fn send(&self, crm: &dyn Crm, items: &[Created]) -> Result<Vec<Outcome>, BatchError> {
        let ids = items.iter().map(|c| c.id.clone()).collect();
        crm.archive(self.object, ids).await
    }

    fn settle(&self, progress: &mut Progress<'_>, c: &Created, outcome: Outcome) {
        let object = self.object;
        match outcome {
            Outcome::Done(_) | Outcome::NotFound => {
                let account = progress
                    .state
                    .get(object, &c.key)
                    .and_then(|s| s.account.clone());
                let mut entry = Entry::bare(Utc::now(), object, &c.key, Operation::Archive);
                entry.account = account;
                entry.hubspot_id = Some(c.id.clone());
                progress.entries.push(entry);
                // Forgotten, so a later run that calls for the task creates it again.
                progress.state.forget(object, &c.key);
                progress.counts(object).archived += 1;
            }
            Outcome::Failed(f) => {
                progress.counts(object).failed += 1;
                progress.fail_write(object.name(), &c.key, None, "archive", &f);
            }
        }
    }
}

/// How a revert runs.
#[derive(Debug, Clone, Default)]
pub struct Undo {
    pub concurrency: usize,
    pub halt: Halt,
    /// Read HubSpot and plan; write nothing.
    pub dry_run: bool,
    /// Archive the tasks the run created that nobody touched since.
    pub archive_created_tasks: bool,
}

/// Undo the run whose change log is `entries`: read HubSpot now, plan, and (unless
/// `dry_run`) write back every record that still holds all the run wrote on it, and archive
/// the untouched tasks it created when asked. The plan, and the report of what was written;
/// the state is saved to `store` and the writes logged to `journal` as the driver goes, as in
/// a sync.
pub async fn revert(
    crm: &dyn Crm,
    entries: &[Entry],
    state: &mut SyncState,
    (store, journal): (Option<&dyn Files>, Option<&dyn Journal>),
    undo: &Undo,
) -> Result<(RevertPlan, SyncReport), StateError> {
    let started = std::time::Instant::now();
    let halt = undo.halt.clone();
    let mut d = Driver::new(crm, state, store, journal, undo.concurrency, halt);
    let now = read_now(&mut d, entries).await?;
    let plan = revert_plan(entries, &now);
    if d.stop.is_none() && !undo.dry_run {
        let mut by_object: BTreeMap<ObjectType, Vec<Restore>> = BTreeMap::new();
        for r in &plan.restores {
            by_object.entry(r.object).or_default().push(r.clone());
        }
        for (object, restores) in by_object {
            if d.stop.is_none() {
                d.drive(&Restoring { object }, chunks(&restores)).await?;
            }
        }
        let tasks: Vec<Created> = archivable(&plan, undo).cloned().collect();
        if d.stop.is_none() && !tasks.is_empty() {
            let work = Archiving {
                object: ObjectType::Tasks,
            };
            d.drive(&work, chunks(&tasks)).await?;
        }
    }
    d.save(true).await?;
    let mut report = d.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok((plan, report))
}

/// The tasks a revert archives: created by the run, untouched since, and only when asked.
pub fn archivable<'a>(plan: &'a RevertPlan, undo: &Undo) -> impl Iterator<Item = &'a Created> {
    let asked = undo.archive_created_tasks;
    plan.created
        .iter()
        .filter(move |c| asked && c.untouched && c.object == ObjectType::Tasks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execute::tests::{desired, options};
    use crate::journal::MemoryJournal;
    use crate::memory::MemoryCrm;

    fn logged(journal: &MemoryJournal) -> Vec<Entry> {
        journal.entries.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn a_revert_sets_back_what_the_run_changed_but_never_a_persons_later_edit() {
        let n = 3;
        let crm = MemoryCrm::default();
        let mut state = SyncState::default();
        let all = options(&ObjectType::ALL);
        crate::run(&crm, &desired(n), &mut state, None, None, &all)
            .await
            .unwrap();
        // The bad run: every company's score moves; then a rep edits one of them.
        let mut bad = desired(n);
        for c in bad.records.get_mut(&ObjectType::Companies).unwrap() {
            c.props.insert("pql_score", "99".into());
        }
        let run_log = MemoryJournal::default();
        crate::run(&crm, &bad, &mut state, None, Some(&run_log), &all)
            .await
            .unwrap();
        let entries = logged(&run_log);
        assert_eq!(entries.len(), n);
        let edited = crate::execute::tests::account(1);
        crm.edit(ObjectType::Companies, &edited, "pql_score", "12");

        let undo_log = MemoryJournal::default();
        let dry = Undo {
            concurrency: 1,
            dry_run: true,
            ..Undo::default()
        };
        let to = (None, Some(&undo_log as &dyn Journal));
        let (plan, _) = revert(&crm, &entries, &mut state, to, &dry).await.unwrap();
        assert_eq!((plan.restores.len(), plan.skipped.len()), (n - 1, 1));
        assert!(logged(&undo_log).is_empty(), "a dry run writes nothing");
        assert_eq!(
            crm.records(ObjectType::Companies)[&edited].props["pql_score"],
            "12"
        );

        let go = Undo {
            dry_run: false,
            ..dry
        };
        let (_, report) = revert(&crm, &entries, &mut state, to, &go).await.unwrap();
        assert_eq!(report.objects["companies"].updated, n - 1);
        let companies = crm.records(ObjectType::Companies);
        for (key, held) in &companies {
            let want = if *key == edited { "12" } else { "50" };
            assert_eq!(held.props["pql_score"], want, "{key}");
        }
        // The revert's own log says what it set back, and the state now holds the old values:
        // a run of the first day's decisions leaves the restored companies alone. (The edited
        // score is pqlsync's own property, which a run writes again whatever a person set.)
        let undone = logged(&undo_log);
        assert_eq!(undone.len(), n - 1);
        assert!(
            undone
                .iter()
                .all(|e| e.previous.as_deref() == Some("99") && e.new.as_deref() == Some("50"))
        );
        let again = crate::run(&crm, &desired(n), &mut state, None, None, &all)
            .await
            .unwrap();
        let c = &again.objects["companies"];
        assert_eq!(
            c.unchanged,
            n - 1,
            "the restored companies are what the run wants"
        );
    }

    #[tokio::test]
    async fn only_untouched_tasks_the_run_created_are_archived_and_only_when_asked() {
        let n = 3;
        let crm = MemoryCrm::default();
        let mut state = SyncState::default();
        let run_log = MemoryJournal::default();
        let all = options(&ObjectType::ALL);
        // Tasks are created open, as `model::build` makes them.
        let mut wanted = desired(n);
        for t in wanted.records.get_mut(&ObjectType::Tasks).unwrap() {
            t.props.insert("hs_task_status", "NOT_STARTED".into());
        }
        crate::run(&crm, &wanted, &mut state, None, Some(&run_log), &all)
            .await
            .unwrap();
        let entries = logged(&run_log);
        // A rep completes one of the tasks.
        let worked = format!("{}:green", crate::execute::tests::account(0));
        crm.edit(ObjectType::Tasks, &worked, "hs_task_status", "COMPLETED");
        let tasks = || crm.records(ObjectType::Tasks).len();

        let keep = Undo {
            concurrency: 1,
            ..Undo::default()
        };
        let (plan, report) = revert(&crm, &entries, &mut state, (None, None), &keep)
            .await
            .unwrap();
        assert_eq!(
            plan.created.iter().filter(|c| c.untouched).count(),
            5 * n - 1
        );
        assert_eq!(
            (tasks(), report.objects.get("tasks").map(|c| c.archived)),
            (n, None)
        );

        let archive = Undo {
            archive_created_tasks: true,
            ..keep
        };
        let undo_log = MemoryJournal::default();
        let to = (None, Some(&undo_log as &dyn Journal));
        let (_, report) = revert(&crm, &entries, &mut state, to, &archive)
            .await
            .unwrap();
        assert_eq!(report.objects["tasks"].archived, n - 1);
        assert_eq!(
            crm.records(ObjectType::Tasks).keys().collect::<Vec<_>>(),
            [&worked]
        );
        let archived = logged(&undo_log);
        assert!(archived.iter().all(|e| e.operation == Operation::Archive));
        assert_eq!(archived.len(), n - 1);
        // Forgotten by the state: a run that still calls for them creates them again.
        assert_eq!(state.records(ObjectType::Tasks), 1);
        let again = crate::run(&crm, &wanted, &mut state, None, None, &all)
            .await
            .unwrap();
        assert_eq!(again.objects["tasks"].created, n - 1);
    }
}
