//! Whether a HubSpot response calls for another try, kept apart from how long to wait.
//! `classify` is pure (no clock, no I/O); `Backoff` turns attempts into capped, jittered delays.
//!
//! HubSpot's rules (API usage guidelines): a 429 names its policy — `TEN_SECONDLY_ROLLING` or
//! `SECONDLY` clear within seconds, `DAILY` not until midnight in the portal's time zone; 5xx
//! and 408 are transient; 401/403 mean the token or its scopes are wrong, so nothing else will
//! succeed either; any other 4xx rejects the request's content, and for a batch that means one
//! or more of its records (HubSpot fails the whole batch), so the batch is split to find them.

use std::time::Duration;

use rand::{Rng, RngExt};

/// What to do after a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send again, after at least `after` if HubSpot said how long (Retry-After).
    Retry { after: Option<Duration> },
    /// The batch was refused for what some of its records hold: split it and resend the halves.
    SplitBatch,
    /// The record itself is refused: report it and move on.
    Fail,
    /// Nothing more will succeed this run (daily limit, bad token, missing scope): stop cleanly.
    StopRun,
    /// The request may have been applied and must not be sent again (a create whose answer
    /// was lost): report it as possibly applied, for the caller to look up before creating.
    GiveUp,
}

/// Classify an HTTP status. `policy` is the `policyName` of a 429 body; `inputs` is how many
/// records the request carried.
pub fn classify(
    status: u16,
    policy: Option<&str>,
    retry_after: Option<Duration>,
    inputs: usize,
) -> Verdict {
    match status {
        429 => match policy {
            Some(p) if p.eq_ignore_ascii_case("DAILY") => Verdict::StopRun,
            _ => Verdict::Retry { after: retry_after },
        },
        408 | 500..=599 => Verdict::Retry { after: retry_after },
        401 | 403 => Verdict::StopRun,
        400..=499 if inputs > 1 => Verdict::SplitBatch,
        _ => Verdict::Fail,
    }
}

/// A request without a whole answer: the connection failed, timed out or was reset, before
/// or while the answer came. `sent` is whether it may have reached HubSpot (a connection that
/// never opened did not). Sending it again is safe when it was not sent or is [`replayable`];
/// otherwise it may have been applied, and sending it again could apply it twice.
pub fn classify_transport(sent: bool, replayable: bool) -> Verdict {
    if !sent || replayable {
        Verdict::Retry { after: None }
    } else {
        Verdict::GiveUp
    }
}

/// Whether `method path` may be sent twice with the effect of once: reads (`GET`, batch
/// reads, searches) and idempotent writes (`PUT`, `PATCH`, `DELETE`, batch upserts by a unique
/// property, batch updates by id, default associations, archives). A `POST` that creates
/// (`batch/create`, a record, a property, a pipeline) is not.
pub fn replayable(method: &str, path: &str) -> bool {
    match method {
        "GET" | "HEAD" | "PUT" | "PATCH" | "DELETE" => true,
        "POST" => {
            reads_as_post(path)
                || [
                    "/batch/upsert",
                    "/batch/update",
                    "/batch/associate/default",
                    "/batch/archive",
                ]
                .iter()
                .any(|end| bare(path).ends_with(end))
        }
        _ => false,
    }
}

/// Whether a `POST` to `path` only reads (batch reads and searches, sent as POST for their
/// bodies).
pub fn reads_as_post(path: &str) -> bool {
    let path = bare(path);
    path.ends_with("/batch/read") || path.ends_with("/search")
}

/// `path` without its query string or a trailing slash.
fn bare(path: &str) -> &str {
    path.split('?').next().unwrap_or(path).trim_end_matches('/')
}

/// Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff
/// and Jitter"): spreads retries of many concurrent requests instead of synchronising them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The longest one wait before a retry may be, Retry-After included: a longer one stops
    /// the sync instead of hanging the run (`[hubspot] max_retry_wait_secs`).
    pub max_wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
            max_attempts: 8,
            max_wait: Duration::from_secs(60),
        }
    }
}

/// How long to wait before the next attempt, or why not to wait at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    For(Duration),
    /// HubSpot asked for a longer wait than `max_wait` (its Retry-After).
    TooLong(Duration),
}

impl Backoff {
    /// The delay before attempt `attempt + 1` (`attempt` counts from 1), at least `after`.
    pub fn delay<R: Rng>(&self, attempt: u32, after: Option<Duration>, rng: &mut R) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(20)));
        let ceiling = exp.min(self.cap);
        let jitter = ceiling.mul_f64(rng.random::<f64>());
        match after {
            // HubSpot said when: honour it, plus a little jitter so waiters do not stampede.
            Some(a) => a + jitter.min(Duration::from_millis(250)),
            None => jitter,
        }
    }

    /// The wait before attempt `attempt + 1`, bounded by `max_wait`: a Retry-After beyond it
    /// is not waited for (HubSpot will not take the request sooner, and the run has a
    /// schedule to keep); a backoff beyond it is cut to it.
    pub fn wait<R: Rng>(&self, attempt: u32, after: Option<Duration>, rng: &mut R) -> Wait {
        match after {
            Some(a) if a > self.max_wait => Wait::TooLong(a),
            _ => Wait::For(self.delay(attempt, after, rng).min(self.max_wait)),
        }
    }

    pub fn exhausted(&self, attempt: u32) -> bool {
        attempt >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn a_retry_after_of_a_day_is_not_waited_for() {
        let b = Backoff {
            max_wait: Duration::from_secs(60),
            ..Backoff::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let secs = Duration::from_secs;
        // Beyond the bound: not waited for.
        for asked in [secs(86_400), secs(61)] {
            assert_eq!(b.wait(1, Some(asked), &mut rng), Wait::TooLong(asked));
        }
        // At the bound: waited for, its jitter cut to the bound.
        assert_eq!(b.wait(1, Some(secs(60)), &mut rng), Wait::For(secs(60)));
        // A backoff longer than the bound is cut to it.
        let short = Backoff {
            max_wait: Duration::from_millis(100),
            ..Backoff::default()
        };
        for attempt in 1..=20 {
            let Wait::For(d) = short.wait(attempt, None, &mut rng) else {
                panic!("a backoff always waits");
            };
            assert!(d <= Duration::from_millis(100), "{attempt}: {d:?}");
        }
    }

    #[test]
    fn statuses_and_policies() {
        let ra = Some(Duration::from_secs(2));
        let cases = [
            (
                429,
                Some("TEN_SECONDLY_ROLLING"),
                None,
                100,
                Verdict::Retry { after: None },
            ),
            (429, Some("SECONDLY"), ra, 100, Verdict::Retry { after: ra }),
            (429, Some("DAILY"), None, 100, Verdict::StopRun),
            (429, Some("daily"), None, 1, Verdict::StopRun),
            (429, None, None, 1, Verdict::Retry { after: None }),
            (408, None, None, 100, Verdict::Retry { after: None }),
            (500, None, None, 100, Verdict::Retry { after: None }),
            (502, None, ra, 1, Verdict::Retry { after: ra }),
            (503, None, None, 1, Verdict::Retry { after: None }),
            (504, None, None, 1, Verdict::Retry { after: None }),
            (401, None, None, 100, Verdict::StopRun),
            (403, None, None, 1, Verdict::StopRun),
            (400, None, None, 100, Verdict::SplitBatch),
            (400, None, None, 2, Verdict::SplitBatch),
            (400, None, None, 1, Verdict::Fail),
            (409, None, None, 3, Verdict::SplitBatch),
            (409, None, None, 1, Verdict::Fail),
            (404, None, None, 1, Verdict::Fail),
            (422, None, None, 50, Verdict::SplitBatch),
        ];
        for (status, policy, after, inputs, want) in cases {
            assert_eq!(
                classify(status, policy, after, inputs),
                want,
                "{status} {policy:?} {inputs}"
            );
        }
    }

    #[test]
    fn a_lost_answer_is_retried_only_when_sending_again_is_safe() {
        let retry = Verdict::Retry { after: None };
        // (sent, replayable, verdict)
        let cases = [
            (false, false, retry),
            (false, true, retry),
            (true, true, retry),
            (true, false, Verdict::GiveUp),
        ];
        for (sent, replay, want) in cases {
            assert_eq!(classify_transport(sent, replay), want, "{sent} {replay}");
        }
        let objects = "/crm/objects/2026-09";
        let cases = [
            ("GET", "/crm/owners/2026-09/?limit=100", true),
            ("POST", &format!("{objects}/leads/batch/read") as &str, true),
            ("POST", &format!("{objects}/contacts/search"), true),
            ("POST", &format!("{objects}/companies/batch/upsert"), true),
            ("POST", &format!("{objects}/leads/batch/update"), true),
            (
                "POST",
                "/crm/associations/2026-09/leads/companies/batch/associate/default",
                true,
            ),
            ("PATCH", &format!("{objects}/companies/12"), true),
            (
                "PUT",
                "/crm/objects/2026-09/deals/1/associations/default/companies/2",
                true,
            ),
            ("POST", &format!("{objects}/leads/batch/create"), false),
            ("POST", &format!("{objects}/leads"), false),
            ("POST", "/crm/properties/2026-09/companies", false),
            (
                "POST",
                "/crm/pipelines/2026-09/leads/lead-pipeline-id/stages",
                false,
            ),
        ];
        for (method, path, want) in cases {
            assert_eq!(replayable(method, path), want, "{method} {path}");
        }
    }

    #[test]
    fn backoff_is_capped_jittered_and_honours_retry_after() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
            max_attempts: 5,
            max_wait: Duration::from_secs(60),
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for attempt in 1..=10 {
            let ceiling =
                Duration::from_millis(100 * 2u64.pow(attempt - 1)).min(Duration::from_secs(2));
            for _ in 0..50 {
                let d = b.delay(attempt, None, &mut rng);
                assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
            }
        }
        let d = b.delay(1, Some(Duration::from_secs(3)), &mut rng);
        assert!(
            d >= Duration::from_secs(3) && d <= Duration::from_millis(3_250),
            "{d:?}"
        );
        assert!(!b.exhausted(4));
        assert!(b.exhausted(5));
    }
}
