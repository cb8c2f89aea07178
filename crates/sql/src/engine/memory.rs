//! The engine's memory pool: greedy (first come, first served; operators spill when a request
//! fails), reporting its top consumers when it runs out, and remembering its peak so runs can
//! report how close they came to the limit. A fair pool splits the budget evenly over every
//! spillable operator up front; the feature plan has dozens, so each share is too small to
//! sort a single batch.
//!
//! Repartitions' buffers are counted beside the limit, not in it, and never refused; that is
//! what lets a bounded run use every core. In DataFusion 55 a `RepartitionExec` whose
//! reservation is refused writes the batch to a spill pool shared by its input tasks; when two
//! of them spill at once the pool holds two open files, the reader waits on the older one for
//! a batch that sits in the newer, and the senders wait on the reader: every worker parks and
//! the query never ends (apache/datafusion#24883, fixed in the spill pool after 55). A
//! repartition that is never refused never takes that path. Granting its buffers from the
//! shared pool instead would let them crowd out the operators that can spill (aggregations,
//! sorts, joins), which then fail for want of a few bytes, so those keep the whole limit. The
//! cost is that repartitions' batches in flight come on top of it, as every other operator's
//! in-flight batches already do; the run summary reports their peak
//! (`engine.repartition_peak_bytes`), and the benchmark measures RSS under a limit.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::error::Result;
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
    TrackConsumersPool, UnboundedMemoryPool,
};

/// A pool that records the most memory ever reserved from it.
#[derive(Debug)]
pub struct PeakPool {
    /// Every consumer but repartition buffers, bounded by the limit.
    inner: Arc<dyn MemoryPool>,
    /// What repartition buffers hold now: granted, never refused.
    repartition: AtomicUsize,
    peak: AtomicUsize,
    repartition_peak: AtomicUsize,
}

/// DataFusion 55 names a repartition's per-output reservations `RepartitionExec[N]`
/// (`RepartitionExec[Merge N]` for an order-preserving merge, which never spills to a pool).
/// A test pins the name, so a DataFusion upgrade that renames them fails it.
fn is_repartition_buffer(consumer: &MemoryConsumer) -> bool {
    consumer
        .name()
        .strip_prefix("RepartitionExec[")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

impl PeakPool {
    /// Bounded by `limit` bytes (spilling beyond it), or unbounded.
    pub fn new(limit: Option<usize>) -> PeakPool {
        let inner: Arc<dyn MemoryPool> = match limit {
            Some(bytes) => Arc::new(TrackConsumersPool::new(
                GreedyMemoryPool::new(bytes),
                NonZeroUsize::new(5).expect("non-zero"),
            )),
            None => Arc::new(UnboundedMemoryPool::default()),
        };
        PeakPool {
            inner,
            repartition: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            repartition_peak: AtomicUsize::new(0),
        }
    }

    /// The largest total reservation so far, in bytes.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// The most repartition buffers held at once, in bytes.
    pub fn repartition_peak(&self) -> usize {
        self.repartition_peak.load(Ordering::Relaxed)
    }

    fn note(&self) {
        self.peak.fetch_max(self.reserved(), Ordering::Relaxed);
    }

    fn grow_repartition(&self, additional: usize) {
        let now = self.repartition.fetch_add(additional, Ordering::Relaxed) + additional;
        self.repartition_peak.fetch_max(now, Ordering::Relaxed);
        self.note();
    }
}

impl MemoryPool for PeakPool {
    fn name(&self) -> &str {
        "peak"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        if is_repartition_buffer(reservation.consumer()) {
            return self.grow_repartition(additional);
        }
        self.inner.grow(reservation, additional);
        self.note();
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        if is_repartition_buffer(reservation.consumer()) {
            self.repartition.fetch_sub(shrink, Ordering::Relaxed);
        } else {
            self.inner.shrink(reservation, shrink)
        }
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        if is_repartition_buffer(reservation.consumer()) {
            // Never refused: see the module docs.
            self.grow_repartition(additional);
            return Ok(());
        }
        self.inner.try_grow(reservation, additional)?;
        self.note();
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.inner.reserved() + self.repartition.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

impl std::fmt::Display for PeakPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (peak {} bytes)", self.inner, self.peak())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use datafusion::arrow::array::RecordBatch;
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;
    use crate::engine::{self, EngineConfig};

    #[test]
    fn repartition_buffers_are_told_apart_by_name() {
        let cases = [
            ("RepartitionExec[0]", true),
            ("RepartitionExec[17]", true),
            // An order-preserving merge's reservation never takes the spill pool path.
            ("RepartitionExec[Merge 0]", false),
            (
                "GroupedHashAggregateStream[0] (count(DISTINCT t.trace_id))",
                false,
            ),
            ("ExternalSorter[0]", false),
            ("RepartitionExec", false),
        ];
        for (name, expected) in cases {
            assert_eq!(
                is_repartition_buffer(&MemoryConsumer::new(name)),
                expected,
                "{name}"
            );
        }
    }

    // The query of apache/datafusion#24883: a distinct count on two partitions in 64-row
    // batches under 2 MiB, where two input tasks of the second repartition spill at once.
    const QUERY: &str = "SELECT g, count(DISTINCT trace_id) AS n FROM t GROUP BY g";
    const LIMIT: usize = 2 * 1024 * 1024;
    const ATTEMPTS: usize = 12;
    /// Each attempt takes about 0.1 s when it finishes.
    const PATIENCE: Duration = Duration::from_secs(10);

    fn config() -> SessionConfig {
        SessionConfig::new()
            .with_target_partitions(2)
            .with_batch_size(64)
    }

    /// The rows of a result, sorted: the query has no ORDER BY (a sort would need memory of
    /// its own to merge, beside the point here).
    fn shown(batches: &[RecordBatch]) -> String {
        let text = pretty_format_batches(batches).unwrap().to_string();
        let mut lines: Vec<&str> = text.lines().collect();
        // A header of three lines (border, names, border) and a closing border.
        let end = lines.len() - 1;
        lines[3..end].sort_unstable();
        lines.join("\n")
    }

    /// The table, and the query's answer on it without a memory limit.
    async fn table() -> (RecordBatch, String) {
        let ctx = SessionContext::new();
        let rows = ctx
            .sql(
                "SELECT v % 13 AS g, md5(CAST(v % 337 AS VARCHAR)) AS trace_id \
                 FROM generate_series(1, 40000) AS s(v)",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let t = concat_batches(&rows[0].schema(), &rows).unwrap();
        ctx.register_batch("t", t.clone()).unwrap();
        let answer = ctx.sql(QUERY).await.unwrap().collect().await.unwrap();
        assert_eq!(answer.iter().map(|b| b.num_rows()).sum::<usize>(), 13);
        (t, shown(&answer))
    }

    /// Runs the query `ATTEMPTS` times on `ctx`; false at the first that does not finish within
    /// `PATIENCE`. Every run that finishes must give `answer`.
    async fn finishes_every_time(ctx: &SessionContext, t: RecordBatch, answer: &str) -> bool {
        ctx.register_batch("t", t).unwrap();
        for _ in 0..ATTEMPTS {
            let run = async { ctx.sql(QUERY).await?.collect().await };
            match tokio::time::timeout(PATIENCE, run).await {
                Ok(rows) => assert_eq!(shown(&rows.unwrap()), answer),
                Err(_) => return false,
            }
        }
        true
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repartition_spill_deadlock_24883_does_not_hang_pqlsyncs_pool() {
        let (t, answer) = table().await;
        let (state, pool) = engine::state(
            &EngineConfig {
                memory_limit: Some(LIMIT),
                ..EngineConfig::default()
            },
            config(),
        )
        .unwrap();
        let ctx = SessionContext::new_with_state(state);
        assert!(finishes_every_time(&ctx, t, &answer).await);
        assert!(
            pool.repartition_peak() > LIMIT,
            "the repartitions never held more than the limit, which DataFusion's own pool \
             would have refused, so this tested nothing"
        );
    }

    /// The same query on DataFusion's own bounded pool hangs: that is why pqlsync's pool never
    /// refuses repartitions. When an upgrade fixes the spill pool this fails, and the
    /// repartition exemption (and this test) can go.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn datafusion_55_still_hangs_without_pqlsyncs_pool() {
        let (t, answer) = table().await;
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(LIMIT, 1.0)
            .build_arc()
            .unwrap();
        let ctx = SessionContext::new_with_config_rt(config(), runtime);
        assert!(
            !finishes_every_time(&ctx, t, &answer).await,
            "no attempt hung: has DataFusion fixed apache/datafusion#24883?"
        );
    }
}
