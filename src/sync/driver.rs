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

use super::report::{Counts, SyncReport};
use super::state::{FailureRecord, STATE_FILE, SyncState};
use crate::hubspot::{BATCH_LIMIT, BatchError, Crm, Failure, ObjectType, Outcome, Stop};
use crate::state::{StateError, Store};

/// How often the state is saved while a sync runs.
const SAVE_EVERY: Duration = Duration::from_secs(3);

/// What outcomes settle into: the state HubSpot confirmed, and the report.
pub(super) struct Progress<'a> {
    pub state: &'a mut SyncState,
    pub report: SyncReport,
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
    store: Option<&'a Store>,
    last_save: Instant,
    /// Why the run stopped, once it has; the phases after it are not run.
    pub stop: Option<Stop>,
    pub progress: Progress<'a>,
}

impl<'a> Driver<'a> {
    pub fn new(
        crm: &'a dyn Crm,
        state: &'a mut SyncState,
        store: Option<&'a Store>,
        concurrency: usize,
    ) -> Driver<'a> {
        Driver {
            crm,
            concurrency,
            store,
            last_save: Instant::now(),
            stop: None,
            progress: Progress {
                state,
                report: SyncReport::default(),
            },
        }
    }

    /// Save the state to the store (when there is one): now if `force`, else when the last
    /// save is `SAVE_EVERY` old.
    pub async fn save(&mut self, force: bool) -> Result<(), StateError> {
        if let Some(store) = self.store
            && (force || self.last_save.elapsed() >= SAVE_EVERY)
        {
            store.write(STATE_FILE, &*self.progress.state).await?;
            self.last_save = Instant::now();
        }
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
        let mut results = futures::stream::iter(batches)
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
        Ok(())
    }

    /// The report, with why the run stopped.
    pub fn finish(self) -> SyncReport {
        let mut report = self.progress.report;
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
                Ok(vec![Outcome::Failed(failure)])
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
