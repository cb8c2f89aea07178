//! Running a sync: read back what the CRM already holds for records new to the state, diff,
//! then write in dependency order — companies, contacts and deals (upserts by unique
//! property), leads (created with their primary contact, as HubSpot requires), tasks, and
//! associations — every phase through the batch driver (batches of 100, several in flight).
//! The state takes a record only when the CRM confirms it and is saved as the run goes, so a
//! run that is killed resumes where it stopped: upserts are idempotent, and leads are found
//! again by their unique property before anything is created twice.
//!
//! The run is the same whatever the `Crm` is: HubSpot, the offline recorder (which hands out
//! placeholder ids), or a test double.

use std::collections::BTreeSet;
use std::time::Instant;

use super::driver::Driver;
use super::journal::Journal;
use super::model::Desired;
use super::plan::{Plan, plan};
use super::reads::{read_back, refresh_lifecycle};
use super::report::SyncReport;
use super::state::SyncState;
use super::writes::{self, LeadTypes};
use pqlsync_core::files::Files;
use pqlsync_core::halt::Halt;
use pqlsync_hubspot::{Crm, ObjectType};
use pqlsync_rules::state::StateError;

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Batches in flight at once.
    pub concurrency: usize,
    /// Association type ids for creating leads (to contact, to company), from the portal.
    pub lead_contact_type: Option<i64>,
    pub lead_company_type: Option<i64>,
    /// Object types to write.
    pub objects: Vec<ObjectType>,
    /// Stops the run at the next batch boundary (SIGTERM, a lost lock).
    pub halt: Halt,
    /// Accounts not to write this run: a record of theirs could not be read back, so what
    /// HubSpot holds for them is unknown.
    pub held_back: BTreeSet<String>,
}

/// Sync `desired` through `crm`. The state is updated as the CRM confirms writes and saved to
/// `store` (when given) as the run goes and at the end, each save after the change log's
/// entries went to `journal` (when given). A `Stop` (daily limit, token) ends the run early
/// with everything confirmed so far saved and logged.
pub async fn run(
    crm: &dyn Crm,
    desired: &Desired,
    state: &mut SyncState,
    store: Option<&dyn Files>,
    journal: Option<&dyn Journal>,
    options: &Options,
) -> Result<SyncReport, StateError> {
    let started = Instant::now();
    let halt = options.halt.clone();
    let mut d = Driver::new(crm, state, store, journal, options.concurrency, halt);
    read_back(&mut d, desired, &options.objects).await?;
    // The plan keeps what it takes; leads still read `desired` below.
    let mut the_plan = plan(desired.clone(), d.progress.state);
    hold_unverified(&mut the_plan, &d.progress.unverified);
    hold_back(&mut the_plan, &options.held_back);
    if d.stop.is_none() && refresh_lifecycle(&mut d, &the_plan).await? {
        the_plan = plan(desired.clone(), d.progress.state);
        hold_unverified(&mut the_plan, &d.progress.unverified);
        hold_back(&mut the_plan, &options.held_back);
    }
    for (object, p) in &the_plan.objects {
        d.progress.counts(*object).kept = p.kept;
    }
    d.save(true).await?;
    write(&mut d, &the_plan, desired, options).await?;
    d.save(true).await?;
    let mut report = d.finish();
    report.refused = desired.refused.clone();
    report.clipped = desired.clipped.clone();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Drop the creates of records whose read-back failed: they may exist in HubSpot already.
fn hold_unverified(plan: &mut Plan, unverified: &BTreeSet<(ObjectType, String)>) {
    if unverified.is_empty() {
        return;
    }
    for (object, p) in plan.objects.iter_mut() {
        p.creates
            .retain(|c| !unverified.contains(&(*object, c.key.clone())));
    }
}

/// Drop every write of `accounts`: what HubSpot holds for them could not be read, and a write
/// could overwrite a person's change. Their associations wait with them.
fn hold_back(plan: &mut Plan, accounts: &BTreeSet<String>) {
    if accounts.is_empty() {
        return;
    }
    for p in plan.objects.values_mut() {
        p.creates.retain(|c| !accounts.contains(&c.account));
        p.updates.retain(|c| !accounts.contains(&c.account));
    }
}

/// The write phases in dependency order, each saving the state when done; a stop skips the
/// phases after it.
async fn write(
    d: &mut Driver<'_>,
    the_plan: &Plan,
    desired: &Desired,
    options: &Options,
) -> Result<(), StateError> {
    let wants = |object| options.objects.contains(&object);
    for object in [
        ObjectType::Companies,
        ObjectType::Contacts,
        ObjectType::Deals,
    ] {
        if d.stop.is_none() && wants(object) {
            writes::upsert(d, object, the_plan.object(object)).await?;
            d.save(true).await?;
        }
    }
    if d.stop.is_none() && wants(ObjectType::Leads) {
        let types = LeadTypes {
            contact: options.lead_contact_type,
            company: options.lead_company_type,
        };
        let leads = the_plan.object(ObjectType::Leads);
        writes::leads(d, leads, &desired.lead_contacts, types).await?;
        d.save(true).await?;
    }
    if d.stop.is_none() && wants(ObjectType::Tasks) {
        writes::upsert(d, ObjectType::Tasks, the_plan.object(ObjectType::Tasks)).await?;
        d.save(true).await?;
    }
    if d.stop.is_none() {
        d.progress.report.associations.unchanged += the_plan.links_existing;
        writes::associate(d, &the_plan.links, &options.objects).await?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::journal::{MemoryJournal, Operation};
    use crate::memory::MemoryCrm;
    use crate::model::{Link, Record};
    use crate::state::STATE_FILE;
    use pqlsync_core::files::{MemoryFiles, read_json};
    use pqlsync_hubspot::{ApiVersion, Recorder};

    pub(crate) fn account(i: usize) -> String {
        format!("acct_{i:03}")
    }

    pub(crate) fn email(i: usize) -> String {
        format!("user{i}@x.com")
    }

    /// `n` accounts, each with a company, a primary contact, a trial deal, a lead and a task,
    /// and the associations `model::build` makes between them.
    pub(crate) fn desired(n: usize) -> Desired {
        let mut d = Desired::default();
        let mut push = |object, key: &str, account: &str, props: &[(&'static str, &str)]| {
            d.records.entry(object).or_default().push(Record {
                object,
                key: key.to_string(),
                account: account.to_string(),
                props: props.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            })
        };
        let mut links = Vec::new();
        let mut lead_contacts = BTreeMap::new();
        for i in 0..n {
            let (a, e) = (account(i), email(i));
            let (trial, task) = (format!("trial_{i}"), format!("{a}:green"));
            push(
                ObjectType::Companies,
                &a,
                &a,
                &[("plg_account_id", &a), ("pql_score", "50")],
            );
            push(
                ObjectType::Contacts,
                &e,
                &a,
                &[("email", &e), ("plg_account_id", &a)],
            );
            push(ObjectType::Deals, &trial, &a, &[("plg_trial_id", &trial)]);
            push(
                ObjectType::Leads,
                &a,
                &a,
                &[("plg_account_id", &a), ("hs_lead_name", &a)],
            );
            push(ObjectType::Tasks, &task, &a, &[("plg_task_key", &task)]);
            lead_contacts.insert(a.clone(), e.clone());
            links.extend([
                Link::new(ObjectType::Contacts, &e, ObjectType::Companies, &a),
                Link::new(ObjectType::Deals, &trial, ObjectType::Companies, &a),
                Link::new(ObjectType::Deals, &trial, ObjectType::Contacts, &e),
                Link::new(ObjectType::Tasks, &task, ObjectType::Companies, &a),
                Link::new(ObjectType::Leads, &a, ObjectType::Contacts, &e),
                Link::new(ObjectType::Leads, &a, ObjectType::Companies, &a),
            ]);
        }
        d.links = links;
        d.lead_contacts = lead_contacts;
        d
    }

    pub(crate) fn options(objects: &[ObjectType]) -> Options {
        Options {
            concurrency: 4,
            lead_contact_type: Some(578),
            lead_company_type: Some(580),
            objects: objects.to_vec(),
            halt: Halt::default(),
            held_back: BTreeSet::new(),
        }
    }

    async fn sync(
        crm: &dyn Crm,
        desired: &Desired,
        state: &mut SyncState,
        store: Option<&dyn Files>,
    ) -> SyncReport {
        run(crm, desired, state, store, None, &options(&ObjectType::ALL))
            .await
            .expect("the state saves")
    }

    async fn saved(store: &MemoryFiles) -> SyncState {
        read_json(store, STATE_FILE)
            .await
            .unwrap()
            .expect("state saved")
    }

    /// Call sizes in order of size: batches in flight at once are sent in any order.
    fn sorted(mut calls: Vec<usize>) -> Vec<usize> {
        calls.sort();
        calls
    }

    fn counts(report: &SyncReport, object: ObjectType) -> crate::Counts {
        report
            .objects
            .get(object.name())
            .cloned()
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_first_run_creates_everything_and_the_next_updates_only_what_changed() {
        let n = 120;
        let crm = MemoryCrm::default();
        let mut state = SyncState::default();
        let first = sync(&crm, &desired(n), &mut state, None).await;
        assert!(first.failures.is_empty() && first.stopped.is_none());
        for object in ObjectType::ALL {
            let c = counts(&first, object);
            assert_eq!((c.created, c.updated), (n, 0), "{object}");
            assert_eq!(crm.records(object).len(), n, "{object}");
            assert_eq!(state.records(object), n, "{object}");
        }
        // The four default associations, and each lead's to its contact and company, made
        // with its create.
        assert_eq!(first.associations.created, 6 * n);
        assert_eq!(crm.links(), 6 * n);
        assert_eq!(
            crm.calls("associate", ObjectType::Leads),
            Vec::<usize>::new()
        );

        let mut changed = desired(n);
        let company = &mut changed.records.get_mut(&ObjectType::Companies).unwrap()[1];
        company.props.insert("pql_score", "61".into());
        let second = sync(&crm, &changed, &mut state, None).await;
        let companies = counts(&second, ObjectType::Companies);
        assert_eq!(
            (companies.created, companies.updated, companies.unchanged),
            (0, 1, n - 1)
        );
        for object in [
            ObjectType::Contacts,
            ObjectType::Deals,
            ObjectType::Leads,
            ObjectType::Tasks,
        ] {
            let c = counts(&second, object);
            assert_eq!((c.created, c.updated, c.unchanged), (0, 0, n), "{object}");
        }
        assert_eq!(
            sorted(crm.calls("upsert", ObjectType::Companies)),
            vec![1, 20, 100]
        );
        assert_eq!(
            sorted(crm.calls("create", ObjectType::Leads)),
            vec![20, 100]
        );
        assert_eq!(
            crm.records(ObjectType::Companies)[&account(1)].props["pql_score"],
            "61"
        );
        assert_eq!(
            (second.associations.created, second.associations.unchanged),
            (0, 6 * n)
        );
    }

    /// A lead created while its company could not be written was created without the company
    /// and never linked to it: later runs said "0 writes". The link is desired state, made by
    /// the first run that can.
    #[tokio::test]
    async fn a_lead_created_while_its_company_failed_was_never_linked_to_it() {
        let n = 30;
        let crm = MemoryCrm::default();
        let orphan = account(3);
        crm.reject(ObjectType::Companies, &orphan);
        let mut state = SyncState::default();
        let first = sync(&crm, &desired(n), &mut state, None).await;
        assert_eq!(counts(&first, ObjectType::Companies).failed, 1);
        assert_eq!(counts(&first, ObjectType::Leads).created, n);
        let to_company = Link::new(ObjectType::Leads, &orphan, ObjectType::Companies, &orphan);
        assert!(!state.links.contains(&to_company));
        // The contact's, the deal's, the task's and the lead's links to the company wait.
        assert_eq!(first.associations.pending, 4);
        assert_eq!(crm.links(), 6 * n - 4);

        crm.accept(ObjectType::Companies, &orphan);
        let second = sync(&crm, &desired(n), &mut state, None).await;
        assert!(second.failures.is_empty(), "{:?}", second.failures);
        assert_eq!(counts(&second, ObjectType::Companies).created, 1);
        assert_eq!(
            (second.associations.created, second.associations.pending),
            (4, 0)
        );
        assert_eq!(crm.calls("associate", ObjectType::Leads), vec![1]);
        assert!(state.links.contains(&to_company));
        assert_eq!(crm.links(), 6 * n);

        // Converged: nothing more to send.
        let third = sync(&crm, &desired(n), &mut state, None).await;
        assert_eq!(
            (third.associations.created, third.associations.unchanged),
            (0, 6 * n)
        );
    }

    #[tokio::test]
    async fn a_rejected_contact_is_isolated_by_splitting_and_the_rest_of_its_batch_lands() {
        let crm = MemoryCrm::default();
        let bad = email(120);
        crm.reject(ObjectType::Contacts, &bad);
        let mut state = SyncState::default();
        let report = sync(&crm, &desired(150), &mut state, None).await;
        let contacts = counts(&report, ObjectType::Contacts);
        assert_eq!((contacts.created, contacts.failed), (149, 1));
        let failed: Vec<(&str, &str)> = report
            .failures
            .iter()
            .map(|f| (f.object.as_str(), f.key.as_str()))
            .collect();
        assert_eq!(failed, vec![("contacts", bad.as_str())]);
        assert_eq!(report.failures[0].status, Some(400));
        assert!(report.failures[0].correlation_id.is_some());
        assert_eq!(crm.records(ObjectType::Contacts).len(), 149);
        assert!(
            state.get(ObjectType::Contacts, &bad).is_none(),
            "retried next run"
        );
        assert_eq!(
            sorted(crm.calls("upsert", ObjectType::Contacts)),
            vec![1, 1, 1, 2, 3, 4, 6, 7, 12, 13, 25, 25, 50, 100]
        );
        // What needs the contact waits for it: its lead, and the four associations of the
        // contact and of the lead not created.
        assert_eq!(counts(&report, ObjectType::Leads).pending, 1);
        assert_eq!(report.associations.pending, 4);
    }

    #[tokio::test]
    async fn a_stop_halts_the_run_with_what_was_confirmed_saved() {
        // (why, how the portal stops, the stop's message has, companies saved)
        type Case = (&'static str, fn(&MemoryCrm), &'static str, usize);
        let cases: &[Case] = &[
            (
                "daily limit after the companies' two batches",
                |crm| crm.daily_limit_after(2),
                "daily API limit",
                150,
            ),
            ("revoked token", |crm| crm.revoke_token(), "401", 0),
        ];
        for (why, stop, message, companies) in cases {
            let store = MemoryFiles::default();
            let crm = MemoryCrm::default();
            stop(&crm);
            let mut state = SyncState::default();
            let report = sync(&crm, &desired(150), &mut state, Some(&store)).await;
            assert!(
                report
                    .stopped
                    .as_deref()
                    .is_some_and(|s| s.contains(message)),
                "{why}: {:?}",
                report.stopped
            );
            let on_disk = saved(&store).await;
            assert_eq!(on_disk, state, "{why}: everything confirmed is saved");
            assert_eq!(on_disk.records(ObjectType::Companies), *companies, "{why}");
            assert_eq!(on_disk.records(ObjectType::Contacts), 0, "{why}");
            for (op, object) in [("upsert", ObjectType::Deals), ("create", ObjectType::Leads)] {
                assert!(
                    crm.calls(op, object).is_empty(),
                    "{why}: nothing after the stop"
                );
            }
            assert_eq!(crm.links(), 0, "{why}");
        }
    }

    fn logged(journal: &MemoryJournal) -> Vec<crate::Entry> {
        journal.entries.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn the_change_log_holds_every_confirmed_write_with_its_previous_value() {
        let n = 3;
        let crm = MemoryCrm::default();
        let journal = MemoryJournal::default();
        let mut state = SyncState::default();
        let all = options(&ObjectType::ALL);
        run(&crm, &desired(n), &mut state, None, Some(&journal), &all)
            .await
            .unwrap();
        let first = logged(&journal);
        let creates = first.iter().filter(|e| e.operation == Operation::Create);
        // Every property of every record created: companies and contacts 2, deals 1, leads 2,
        // tasks 1; and six associations per account (a lead's two made with its create).
        assert_eq!(creates.count(), n * 8);
        let links = first.iter().filter(|e| e.operation == Operation::Associate);
        assert_eq!(links.count(), n * 6);
        assert!(
            first
                .iter()
                .all(|e| e.account.is_some() && e.hubspot_id.is_some())
        );

        let mut changed = desired(n);
        let company = &mut changed.records.get_mut(&ObjectType::Companies).unwrap()[1];
        company.props.insert("pql_score", "61".into());
        crm.reject(ObjectType::Contacts, &email(2));
        changed.records.get_mut(&ObjectType::Contacts).unwrap()[2]
            .props
            .insert("plg_account_id", "moved".into());
        run(&crm, &changed, &mut state, None, Some(&journal), &all)
            .await
            .unwrap();
        let second = logged(&journal)[first.len()..].to_vec();
        let shown: Vec<_> = second
            .iter()
            .map(|e| {
                (
                    e.operation,
                    e.object.as_str(),
                    e.key.as_str(),
                    e.property.as_deref(),
                    e.previous.as_deref(),
                    e.new.as_deref(),
                )
            })
            .collect();
        let company = account(1);
        let contact = email(2);
        assert_eq!(
            shown,
            vec![
                (
                    Operation::Update,
                    "companies",
                    company.as_str(),
                    Some("pql_score"),
                    Some("50"),
                    Some("61")
                ),
                (
                    Operation::Failed,
                    "contacts",
                    contact.as_str(),
                    Some("upsert"),
                    None,
                    None
                ),
            ]
        );
        assert!(second[1].message.is_some() && second[1].status.is_some());
    }

    #[tokio::test]
    async fn a_stopped_runs_log_holds_what_its_saved_state_holds() {
        let store = MemoryFiles::default();
        let journal = MemoryJournal::default();
        let crm = MemoryCrm::default();
        crm.daily_limit_after(2);
        let mut state = SyncState::default();
        let all = options(&ObjectType::ALL);
        let report = run(
            &crm,
            &desired(150),
            &mut state,
            Some(&store),
            Some(&journal),
            &all,
        )
        .await
        .unwrap();
        assert!(report.stopped.is_some());
        let on_disk = saved(&store).await;
        let logged: BTreeSet<String> = logged(&journal)
            .into_iter()
            .filter(|e| e.operation == Operation::Create)
            .map(|e| e.key)
            .collect();
        let saved: BTreeSet<String> = on_disk.objects[&ObjectType::Companies]
            .keys()
            .cloned()
            .collect();
        assert_eq!(logged, saved);
        assert_eq!(saved.len(), 150);
    }

    /// A first sync of `n` accounts whose lead create HubSpot applied but whose answer was
    /// lost: the portal holds the leads, the saved state does not.
    async fn lost_lead_creates(n: usize) -> (MemoryFiles, MemoryCrm, SyncReport) {
        let store = MemoryFiles::default();
        let crm = MemoryCrm::default();
        crm.lose_answer_to("create", ObjectType::Leads);
        let mut state = SyncState::default();
        let first = sync(&crm, &desired(n), &mut state, Some(&store)).await;
        (store, crm, first)
    }

    #[tokio::test]
    async fn a_lead_create_whose_answer_was_lost_is_adopted_on_resume_not_created_twice() {
        let n = 30;
        let (store, crm, first) = lost_lead_creates(n).await;
        assert!(first.stopped.is_some());
        assert_eq!(
            crm.records(ObjectType::Leads).len(),
            n,
            "HubSpot created them"
        );
        let on_disk = saved(&store).await;
        assert_eq!(
            on_disk.records(ObjectType::Leads),
            0,
            "the run never heard back"
        );
        assert_eq!(on_disk.pending[&ObjectType::Leads].len(), n);

        let mut resumed = saved(&store).await;
        let second = sync(&crm, &desired(n), &mut resumed, Some(&store)).await;
        assert!(second.stopped.is_none() && second.failures.is_empty());
        let leads = counts(&second, ObjectType::Leads);
        assert_eq!((leads.adopted, leads.created), (n, 0));
        assert_eq!(
            crm.calls("create", ObjectType::Leads),
            vec![n],
            "no second create"
        );
        assert_eq!(crm.records(ObjectType::Leads).len(), n);
        assert!(saved(&store).await.pending.is_empty());
    }

    /// Leads created by another writer between this run's lookup and its create: HubSpot's
    /// unique `plg_account_id` refuses the second create (409), and the run adopts them.
    #[tokio::test]
    async fn a_lead_created_elsewhere_meanwhile_is_adopted_not_duplicated() {
        let crm = MemoryCrm::default();
        let n = 30;
        let taken: Vec<String> = (0..5).map(account).collect();
        crm.create_elsewhere_before_next_create(ObjectType::Leads, taken);
        let mut state = SyncState::default();
        let report = sync(&crm, &desired(n), &mut state, None).await;
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        let leads = counts(&report, ObjectType::Leads);
        assert_eq!((leads.created, leads.adopted, leads.pending), (n - 5, 5, 0));
        assert_eq!(crm.records(ObjectType::Leads).len(), n);
        assert_eq!(state.records(ObjectType::Leads), n);
        assert!(state.pending.is_empty());
    }

    /// The lookup after a lost lead-create answer got a 200 that was not a batch response (a
    /// proxy's HTML page): it used to read as "no such lead", and every lead was created again.
    #[tokio::test]
    async fn an_unreadable_lookup_after_a_lost_create_creates_no_duplicate() {
        let n = 30;
        let (store, crm, _) = lost_lead_creates(n).await;
        assert_eq!(crm.records(ObjectType::Leads).len(), n);

        crm.garble_reads_of(Some(ObjectType::Leads));
        let mut resumed = saved(&store).await;
        let second = sync(&crm, &desired(n), &mut resumed, Some(&store)).await;
        assert_eq!(
            crm.calls("create", ObjectType::Leads),
            vec![n],
            "created again"
        );
        assert_eq!(counts(&second, ObjectType::Leads).failed, n);
        assert_eq!(second.failures.len(), n, "each lead is reported");
        assert!(second.failures[0].message.contains("could not look it up"));
        assert_eq!(saved(&store).await.pending[&ObjectType::Leads].len(), n);

        crm.garble_reads_of(None);
        let mut third_state = saved(&store).await;
        let third = sync(&crm, &desired(n), &mut third_state, Some(&store)).await;
        assert!(third.failures.is_empty(), "{:?}", third.failures);
        assert_eq!(counts(&third, ObjectType::Leads).adopted, n);
        assert_eq!(crm.records(ObjectType::Leads).len(), n);
        assert_eq!(crm.calls("create", ObjectType::Leads), vec![n]);
    }

    fn day() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    }

    async fn listen(crm: &MemoryCrm, state: &mut SyncState) -> crate::Listened {
        let mapping = crate::Mapping::default();
        crate::listen(crm, state, &mapping, &ObjectType::ALL, 4, day())
            .await
            .unwrap()
    }

    /// Every company's score moves to `score`, and company 3's owner is routed to "7".
    fn rescored(n: usize, score: &str) -> Desired {
        let mut d = desired(n);
        for c in d.records.get_mut(&ObjectType::Companies).unwrap() {
            c.props.insert("pql_score", score.into());
            if c.key == account(3) {
                c.props.insert("hubspot_owner_id", "7".into());
            }
        }
        d
    }

    #[tokio::test]
    async fn a_persons_owner_read_back_is_kept_and_counted() {
        let crm = MemoryCrm::default();
        let mut state = SyncState::default();
        sync(&crm, &desired(20), &mut state, None).await;
        crm.edit(ObjectType::Companies, &account(3), "hubspot_owner_id", "99");
        let listened = listen(&crm, &mut state).await;
        assert!(listened.failures.is_empty() && listened.held_back.is_empty());
        assert_eq!(listened.objects["companies"].changed_in_hubspot, 1);
        assert_eq!(listened.objects["companies"].read, 20);
        let report = sync(&crm, &rescored(20, "77"), &mut state, None).await;
        let companies = counts(&report, ObjectType::Companies);
        assert_eq!((companies.updated, companies.kept), (20, 1));
        let held = &crm.records(ObjectType::Companies)[&account(3)];
        assert_eq!(
            held.props["hubspot_owner_id"], "99",
            "a person's owner stands"
        );
        assert_eq!(held.props["pql_score"], "77");
    }

    #[tokio::test]
    async fn a_failed_read_back_holds_back_the_accounts_it_could_not_read() {
        let crm = MemoryCrm::default();
        let mut state = SyncState::default();
        sync(&crm, &desired(20), &mut state, None).await;
        crm.garble_reads_of(Some(ObjectType::Companies));
        let listened = listen(&crm, &mut state).await;
        assert_eq!(listened.failures.len(), 20);
        assert_eq!(listened.held_back.len(), 20);
        assert_eq!(listened.objects["companies"].unread, 20);
        let upserts = crm.calls("upsert", ObjectType::Companies).len();
        let mut options = options(&ObjectType::ALL);
        options.held_back = listened.held_back.clone();
        let report = run(&crm, &rescored(20, "77"), &mut state, None, None, &options)
            .await
            .unwrap();
        assert_eq!(counts(&report, ObjectType::Companies).updated, 0);
        assert_eq!(crm.calls("upsert", ObjectType::Companies).len(), upserts);
        assert_eq!(
            crm.records(ObjectType::Companies)[&account(3)].props["pql_score"],
            "50"
        );
        // Readable again: the next run writes what it held back.
        crm.garble_reads_of(None);
        let listened = listen(&crm, &mut state).await;
        assert!(listened.held_back.is_empty());
        let report = sync(&crm, &rescored(20, "77"), &mut state, None).await;
        assert_eq!(counts(&report, ObjectType::Companies).updated, 20);
    }

    #[tokio::test]
    async fn a_rejected_association_is_isolated_by_splitting_and_the_others_land() {
        // Associations used to fail as a whole batch: one bad pair cost 99 good ones.
        let n = 150;
        let crm = MemoryCrm::default();
        crm.reject_links_of(&email(7));
        let mut state = SyncState::default();
        let report = sync(&crm, &desired(n), &mut state, None).await;
        assert_eq!(report.associations.failed, 2);
        assert_eq!(report.associations.created, 6 * n - 2);
        let mut failed: Vec<&str> = report.failures.iter().map(|f| f.key.as_str()).collect();
        failed.sort();
        assert_eq!(
            failed,
            vec![
                "contacts:user7@x.com → companies:acct_007",
                "deals:trial_7 → contacts:user7@x.com"
            ]
        );
        assert!(report.failures.iter().all(|f| f.object == "associations"));
        assert_eq!(crm.links(), 6 * n - 2);
        let contact_to_company = Link::new(
            ObjectType::Contacts,
            &email(7),
            ObjectType::Companies,
            &account(7),
        );
        assert!(
            !state.links.contains(&contact_to_company),
            "a failed association is retried next run"
        );
    }

    #[tokio::test]
    async fn offline_a_request_refers_to_a_record_not_written_by_its_placeholder() {
        // Leads alone: the contacts and companies they are created with are not written in
        // this run, yet the recorded create names them, as it always has.
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(dir.path(), ApiVersion::default()).unwrap();
        let mut state = SyncState::default();
        let report = run(
            &recorder,
            &desired(2),
            &mut state,
            None,
            None,
            &options(&[ObjectType::Leads]),
        )
        .await
        .unwrap();
        assert_eq!(counts(&report, ObjectType::Leads).created, 2);
        recorder.finish().await.unwrap();
        let text = std::fs::read_to_string(dir.path().join("leads.jsonl")).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let ids: Vec<&str> = line["body"]["inputs"][0]["associations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["to"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            vec!["{{contacts:user0@x.com}}", "{{companies:acct_000}}"]
        );
    }
}
