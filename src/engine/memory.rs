//! The engine's memory pool: greedy (first come, first served; operators spill when a request
//! fails), reporting its top consumers when it runs out, and remembering its peak so runs can
//! report how close they came to the limit. A fair pool splits the budget evenly over every
//! spillable operator up front; the feature plan has dozens, so each share is too small to
//! sort a single batch.

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
    inner: Arc<dyn MemoryPool>,
    peak: AtomicUsize,
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
            peak: AtomicUsize::new(0),
        }
    }

    /// The largest total reservation so far, in bytes.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn note(&self) {
        self.peak
            .fetch_max(self.inner.reserved(), Ordering::Relaxed);
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
        self.inner.grow(reservation, additional);
        self.note();
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink)
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        self.inner.try_grow(reservation, additional)?;
        self.note();
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
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
