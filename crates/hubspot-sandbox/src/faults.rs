//! Injected failures and latency, drawn from one seeded ChaCha8 stream. Each request (except
//! `/_sandbox/*`) takes exactly four draws in arrival order — fault or not, which 5xx, before
//! or after processing, latency jitter — so the n-th request gets the same outcome for the same
//! seed, whatever the earlier requests were.
//!
//! Half the faults strike before processing (nothing happens, like a gateway error) and half
//! after (the write is applied, then the 5xx is returned, like a timeout after commit: the
//! client cannot tell, and must resend safely).

use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::ApiError;

const STATUSES: [u16; 4] = [500, 502, 503, 504];

/// A 5xx to return, and whether the request is processed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub status: u16,
    pub after_commit: bool,
}

impl Fault {
    pub fn error(self) -> ApiError {
        let (category, message) = match self.status {
            500 => (
                "INTERNAL_ERROR",
                "Internal server error (injected by the sandbox)",
            ),
            502 => ("BAD_GATEWAY", "Bad gateway (injected by the sandbox)"),
            503 => (
                "SERVICE_UNAVAILABLE",
                "Service unavailable (injected by the sandbox)",
            ),
            _ => (
                "GATEWAY_TIMEOUT",
                "Gateway timeout (injected by the sandbox)",
            ),
        };
        let when = if self.after_commit {
            "after-commit"
        } else {
            "before-processing"
        };
        ApiError::new(self.status, category, message)
            .with_context("sandboxFault", [when.to_string()])
    }

    pub fn header_value(self) -> &'static str {
        if self.after_commit {
            "after-commit"
        } else {
            "before-processing"
        }
    }
}

/// What one request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    pub fault: Option<Fault>,
    pub delay: Duration,
}

#[derive(Debug)]
pub struct Faults {
    rng: ChaCha8Rng,
    fail_rate: f64,
    latency: Duration,
}

impl Faults {
    pub fn new(seed: u64, fail_rate: f64, latency: Duration) -> Faults {
        Faults {
            rng: ChaCha8Rng::seed_from_u64(seed),
            fail_rate: if fail_rate.is_finite() {
                fail_rate.clamp(0.0, 1.0)
            } else {
                0.0
            },
            latency,
        }
    }

    /// The next request's fault and delay (latency ±20%).
    pub fn draw(&mut self) -> Draw {
        let roll: f64 = self.rng.random();
        let which = self.rng.random_range(0..STATUSES.len());
        let after_commit = self.rng.random_bool(0.5);
        let jitter: f64 = self.rng.random();
        Draw {
            fault: (roll < self.fail_rate).then_some(Fault {
                status: STATUSES[which],
                after_commit,
            }),
            delay: self.latency.mul_f64(0.8 + 0.4 * jitter),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_rate_is_respected() {
        let seq = |seed| {
            let mut f = Faults::new(seed, 0.3, Duration::from_millis(100));
            (0..200).map(|_| f.draw()).collect::<Vec<_>>()
        };
        let a = seq(7);
        assert_eq!(a, seq(7));
        assert_ne!(a, seq(8));
        let faults = a.iter().filter(|d| d.fault.is_some()).count();
        assert!((30..=90).contains(&faults), "{faults}");
        assert!(a.iter().filter_map(|d| d.fault).any(|f| f.after_commit));
        assert!(a.iter().filter_map(|d| d.fault).any(|f| !f.after_commit));
        assert!(a.iter().all(|d| (80..=120).contains(&d.delay.as_millis())));
    }

    #[test]
    fn zero_rate_never_faults() {
        let mut f = Faults::new(1, 0.0, Duration::ZERO);
        assert!((0..1000).all(|_| f.draw()
            == Draw {
                fault: None,
                delay: Duration::ZERO
            }));
    }
}
