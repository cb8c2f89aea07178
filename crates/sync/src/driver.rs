//! The batch driver: the one loop every phase of a sync runs through (reading back, upserting,
//! creating and updating leads, associating). A phase hands it batches of items and a `Work`
//! that says how to send a batch through the `Crm` and what each item's outcome means for the
//! run; the driver keeps up to `concurrency` batches in flight, splits a batch the CRM rejects
//! for its content until the bad items stand alone (so the others land), stops the run on a
//! `Stop` (daily limit, token), settles every outcome as it arrives, and saves the state every
//! few seconds, so a run that is killed loses at most those seconds of confirmations.
//!
//! Modelled on vector's sink `Driver`: requests in, per-request acknowledgement out, with the
//! sending policy in one place and the meaning of an answer left to the caller.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;
use futures::future::BoxFuture;

use chrono::Utc;

use super::journal::{self, Entry, Journal};
use super::model::Link;
use super::plan::Change;
use super::report::{Counts, SyncReport};
use super::state::{FailureRecord, STATE_FILE, SyncState};
use pqlsync_core::files::{Files, StoreError, write_json};
use pqlsync_core::halt::Halt;
use pqlsync_hubspot::{BATCH_LIMIT, BatchError, Crm, Failure, ObjectType, Outcome, Stop};
use pqlsync_rules::state::StateError;

/// How often the state is saved while a sync runs.
const SAVE_EVERY: Duration = Duration::from_secs(3);

/// What outcomes settle into: the state HubSpot confirmed, and the report.
pub(super) struct Progress<'a> {
    pub state: &'a mut SyncState,
    pub report: SyncReport,
    /// Records new to the state whose read-back failed: HubSpot may hold them, so they are
    /// not created this run (the next run reads them again).
    pub unverified: std::collections::BTreeSet<(ObjectType, String)>,
    /// Creates HubSpot refused because the record's unique key is taken (409): the record
    /// exists, to be looked up rather than created.
    pub conflicts: Vec<(ObjectType, String)>,
    /// Change-log entries settled since the journal was last given them.
    pub entries: Vec<Entry>,
}

impl Progress<'_> {
    pub fn counts(&mut self, object: ObjectType) -> &mut Counts {
        self.report
            .objects
            .entry(object.name().to_string())
            .or_default()
    }

    /// Record that `key` could not be written, with the CRM's reason.
    pub fn fail(&mut self, object: &str, key: &str, operation: &str, f: &Failure) {
        self.report.failures.push(FailureRecord {
            object: object.to_string(),
            key: key.to_string(),
            operation: operation.to_string(),
            status: f.status,
            category: f.category.clone(),
            message: f.message.clone(),
            correlation_id: f.correlation_id.clone(),
        });
    }

    /// HubSpot confirmed `change` on the record it gave `id`: log what changed (against what
    /// the state knew before), then take the values and the record's account into the state.
    pub fn confirm_write(&mut self, object: ObjectType, change: &Change, id: &str, created: bool) {
        let before = self.state.get(object, &change.key);
        let at = Utc::now();
        self.entries
            .extend(journal::written(at, object, change, id, before, created));
        self.state.confirm(object, &change.key, id, &change.props);
        if !change.account.is_empty() {
            self.state.belongs(object, &change.key, &change.account);
        }
    }

    /// HubSpot confirmed the association `link`.
    pub fn confirm_link(&mut self, link: &Link) {
        let from = self.state.get(link.from, &link.from_key);
        let entry = journal::associated(
            Utc::now(),
            link,
            from.and_then(|r| r.account.as_deref()),
            from.map(|r| r.id.as_str()),
        );
        self.entries.push(entry);
        self.state.links.insert(link.clone());
    }

    /// A write of record `key` (of `account`, when known) failed: the failure ledger and the
    /// change log both say why.
    pub fn fail_write(
        &mut self,
        object: &str,
        key: &str,
        account: Option<&str>,
        operation: &str,
        f: &Failure,
    ) {
        self.fail(object, key, operation, f);
        let entry = journal::failed(Utc::now(), object, key, account, operation, f);
        self.entries.push(entry);
    }
}

/// One kind of batch call: how a batch of items goes to the CRM, and what the outcome for one
/// item means for the run.
#[async_trait]
pub(super) trait Work: Sync {
    /// What a batch is made of: a record's change, or a key to read, with whatever settling
    /// its outcome needs.
    type Item: Sync;

    /// Send `items` (at most `BATCH_LIMIT`, never empty) as one call; outcomes in item order.
    async fn send(&self, crm: &dyn Crm, items: &[Self::Item]) -> Result<Vec<Outcome>, BatchError>;

    /// Take `outcome` for `item` into the state, counts and failures.
    fn settle(&self, progress: &mut Progress<'_>, item: &Self::Item, outcome: Outcome);
}

/// Runs `Work` through a CRM for one sync run, and carries what the run has learnt.
pub(super) struct Driver<'a> {
    pub crm: &'a dyn Crm,
    concurrency: usize,
    store: Option<&'a dyn Files>,
    journal: Option<&'a dyn Journal>,
    last_save: Instant,
    /// Why the run stopped, once it has; the phases after it are not run.
    pub stop: Option<Stop>,
    /// A stop asked for from outside (SIGTERM, a lost lock): no batch starts after it.
    halt: Halt,
    pub progress: Progress<'a>,
}

impl<'a> Driver<'a> {
    pub fn new(
        crm: &'a dyn Crm,
        state: &'a mut SyncState,
        store: Option<&'a dyn Files>,
        journal: Option<&'a dyn Journal>,
        concurrency: usize,
        halt: Halt,
    ) -> Driver<'a> {
        Driver {
            crm,
            concurrency,
            store,
            journal,
            last_save: Instant::now(),
            stop: None,
            halt,
            progress: Progress {
                state,
                report: SyncReport::default(),
                unverified: Default::default(),
                conflicts: Vec::new(),
                entries: Vec::new(),
            },
        }
    }

    /// Give the journal (when there is one) the entries settled since, then save the state to
    /// the store (when there is one): now if `force`, else when the last save is `SAVE_EVERY`
    /// old. The log goes first, so a saved state never holds a write its log lacks.
    pub async fn save(&mut self, force: bool) -> Result<(), StateError> {
        if !force && self.last_save.elapsed() < SAVE_EVERY {
            return Ok(());
        }
        if let Some(journal) = self.journal
            && !self.progress.entries.is_empty()
        {
            let entries = std::mem::take(&mut self.progress.entries);
            journal
                .append(entries)
                .await
                .map_err(|message| StoreError::Store {
                    url: journal.url().to_string(),
                    message: format!("cannot write the change log: {message}"),
                })?;
        }
        if let Some(store) = self.store {
            write_json(store, STATE_FILE, &*self.progress.state).await?;
        }
        self.last_save = Instant::now();
        Ok(())
    }

    /// Send `batches` through `work`, settling outcomes as batches come back (in any order).
    /// A `Stop` ends it: batches still in flight are dropped, and their items stay unconfirmed
    /// for the next run.
    pub async fn drive<W: Work>(
        &mut self,
        work: &W,
        batches: Vec<&[W::Item]>,
    ) -> Result<(), StateError> {
        let crm = self.crm;
        let halt = self.halt.clone();
        // A halt starts no new batch, but lets those in flight land and be settled: their
        // records are then confirmed instead of left for the next run to look up.
        let mut results = futures::stream::iter(batches)
            .take_while(|_| std::future::ready(halt.reason().is_none()))
            .map(|batch| async move { (batch, send_splitting(crm, work, batch).await) })
            .buffer_unordered(self.concurrency);
        while let Some((batch, result)) = results.next().await {
            match result {
                Err(stop) => {
                    self.stop = Some(stop);
                    break;
                }
                Ok(outcomes) => {
                    for (item, outcome) in batch.iter().zip(outcomes) {
                        work.settle(&mut self.progress, item, outcome);
                    }
                }
            }
            self.save(false).await?;
        }
        if self.stop.is_none()
            && let Some(reason) = self.halt.reason()
        {
            self.stop = Some(Stop {
                message: reason,
                correlation_id: None,
                credentials: false,
            });
        }
        Ok(())
    }

    /// The report, with why the run stopped.
    pub fn finish(self) -> SyncReport {
        let mut report = self.progress.report;
        report.stopped_for_credentials = self.stop.as_ref().is_some_and(|s| s.credentials);
        report.stopped = self.stop.map(|s| s.message);
        report
    }
}

/// `items` in batches of at most `BATCH_LIMIT`, in order.
pub(super) fn chunks<T>(items: &[T]) -> Vec<&[T]> {
    items.chunks(BATCH_LIMIT).collect()
}

/// Send `items` through `work`; when the CRM rejects them as a whole, send each half (both at
/// once) the same way, until a rejected item stands alone and fails by itself.
fn send_splitting<'a, W: Work>(
    crm: &'a dyn Crm,
    work: &'a W,
    items: &'a [W::Item],
) -> BoxFuture<'a, Result<Vec<Outcome>, Stop>> {
    Box::pin(async move {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        match work.send(crm, items).await {
            Ok(outcomes) => Ok(outcomes),
            Err(BatchError::Stop(stop)) => Err(stop),
            Err(BatchError::Rejected(failure)) if items.len() == 1 => {
                Ok(vec![Outcome::Failed(*failure)])
            }
            Err(BatchError::Rejected(_)) => {
                let (left, right) = items.split_at(items.len() / 2);
                let (left, right) = futures::join!(
                    send_splitting(crm, work, left),
                    send_splitting(crm, work, right)
                );
                let mut out = left?;
                out.extend(right?);
                Ok(out)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::memory::MemoryCrm;

    /// Items are numbers; a batch holding a "bad" one is rejected whole, as HubSpot does, and
    /// every call's size is logged.
    struct Numbers {
        bad: Vec<u32>,
        stop_at: Option<u32>,
        calls: Mutex<Vec<usize>>,
    }

    #[async_trait]
    impl Work for Numbers {
        type Item = u32;

        async fn send(&self, _crm: &dyn Crm, items: &[u32]) -> Result<Vec<Outcome>, BatchError> {
            self.calls.lock().unwrap().push(items.len());
            if self.stop_at.is_some_and(|s| items.contains(&s)) {
                return Err(BatchError::Stop(Stop {
                    message: "daily limit".into(),
                    correlation_id: None,
                    credentials: false,
                }));
            }
            if items.iter().any(|i| self.bad.contains(i)) {
                return Err(BatchError::Rejected(Box::new(Failure::local("bad".into()))));
            }
            Ok(vec![Outcome::Done(None); items.len()])
        }

        fn settle(&self, progress: &mut Progress<'_>, item: &u32, outcome: Outcome) {
            match outcome {
                Outcome::Done(_) => progress.counts(ObjectType::Contacts).created += 1,
                _ => progress.fail(
                    "contacts",
                    &item.to_string(),
                    "upsert",
                    &Failure::local("bad".into()),
                ),
            }
        }
    }

    async fn drive(n: u32, bad: &[u32], stop_at: Option<u32>) -> (SyncReport, Vec<usize>) {
        let crm = MemoryCrm::default();
        let mut state = SyncState::default();
        let work = Numbers {
            bad: bad.to_vec(),
            stop_at,
            calls: Mutex::new(Vec::new()),
        };
        let items: Vec<u32> = (0..n).collect();
        let mut driver = Driver::new(&crm, &mut state, None, None, 1, Halt::default());
        driver.drive(&work, chunks(&items)).await.unwrap();
        let calls = work.calls.lock().unwrap().clone();
        (driver.finish(), calls)
    }

    #[tokio::test]
    async fn a_rejected_batch_is_halved_until_each_bad_item_stands_alone() {
        // (items, bad ones, calls made in order of sending)
        let cases: &[(u32, &[u32], &[usize])] = &[
            (3, &[], &[3]),
            (1, &[0], &[1]),
            (4, &[3], &[4, 2, 2, 1, 1]),
            (4, &[0, 3], &[4, 2, 2, 1, 1, 1, 1]),
            // Two batches of 100: only the one holding the bad item is split.
            (
                150,
                &[120],
                &[100, 50, 25, 25, 12, 13, 6, 7, 3, 4, 1, 2, 1, 1],
            ),
        ];
        for (n, bad, want_calls) in cases {
            let (report, calls) = drive(*n, bad, None).await;
            let keys: Vec<&str> = report.failures.iter().map(|f| f.key.as_str()).collect();
            let want_keys: Vec<String> = bad.iter().map(u32::to_string).collect();
            assert_eq!(keys, want_keys, "{n} items, bad {bad:?}");
            assert_eq!(
                report.objects.get("contacts").map_or(0, |c| c.created),
                *n as usize - bad.len(),
                "{n} items, bad {bad:?}: the others land"
            );
            let mut sorted = calls.clone();
            sorted.sort();
            let mut want = want_calls.to_vec();
            want.sort();
            assert_eq!(sorted, want, "{n} items, bad {bad:?}");
        }
    }

    #[tokio::test]
    async fn a_stop_ends_the_drive_and_later_batches_are_not_sent() {
        let (report, calls) = drive(250, &[], Some(150)).await;
        assert_eq!(calls, vec![100, 100], "the third batch is never sent");
        assert_eq!(report.objects["contacts"].created, 100);
        assert_eq!(report.stopped.as_deref(), Some("daily limit"));
    }
}
