//! HubSpot's rate limits for private apps, per token: a rolling 10-second window
//! (`TEN_SECONDLY_ROLLING`, 100 requests on Free/Starter, 190 on Professional/Enterprise) and
//! an optional daily budget (`DAILY`), reported on every response in the
//! `X-HubSpot-RateLimit-*` headers (HubSpot's "API usage guidelines and limits").
//!
//! Only admitted requests count against either limit: a request refused with 429 is not
//! counted, because HubSpot's window counts the requests it accepted, and counting refusals
//! would let a client that retries too eagerly lock itself out for good. The daily budget
//! resets at midnight UTC (HubSpot resets at midnight in the portal's time zone).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::NaiveDate;

pub const WINDOW: Duration = Duration::from_secs(10);

/// The limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    TenSecondly,
    Daily,
}

/// What the headers report after a request was admitted or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub max: u32,
    pub remaining: u32,
    /// `(limit, remaining)` when a daily limit is set.
    pub daily: Option<(u64, u64)>,
}

impl Usage {
    /// Set the `X-HubSpot-RateLimit-*` headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        };
        set("x-hubspot-ratelimit-max", self.max.to_string());
        set("x-hubspot-ratelimit-remaining", self.remaining.to_string());
        set(
            "x-hubspot-ratelimit-interval-milliseconds",
            WINDOW.as_millis().to_string(),
        );
        if let Some((limit, remaining)) = self.daily {
            set("x-hubspot-ratelimit-daily", limit.to_string());
            set("x-hubspot-ratelimit-daily-remaining", remaining.to_string());
        }
    }
}

#[derive(Debug)]
struct TokenUse {
    recent: VecDeque<Instant>,
    day: NaiveDate,
    today: u64,
}

#[derive(Debug)]
pub struct RateLimits {
    per_window: u32,
    daily: Option<u64>,
    tokens: HashMap<String, TokenUse>,
}

impl RateLimits {
    pub fn new(per_window: u32, daily: Option<u64>) -> RateLimits {
        RateLimits {
            per_window,
            daily,
            tokens: HashMap::new(),
        }
    }

    /// Change the limits from now on and forget what was used, as a new day (or a portal
    /// upgrade) would: tests set a small daily budget after an unlimited setup.
    pub fn reset(&mut self, per_window: Option<u32>, daily: Option<u64>) {
        if let Some(n) = per_window {
            self.per_window = n;
        }
        self.daily = daily;
        self.tokens.clear();
    }

    /// Admit a request of `token` at `now` (on UTC date `today`), or refuse it with the policy
    /// it broke. Either way, the usage to report.
    pub fn admit(
        &mut self,
        token: &str,
        now: Instant,
        today: NaiveDate,
    ) -> Result<Usage, (Policy, Usage)> {
        let use_ = self
            .tokens
            .entry(token.to_string())
            .or_insert_with(|| TokenUse {
                recent: VecDeque::new(),
                day: today,
                today: 0,
            });
        while use_
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            use_.recent.pop_front();
        }
        if use_.day != today {
            use_.day = today;
            use_.today = 0;
        }
        let usage = |u: &TokenUse| Usage {
            max: self.per_window,
            remaining: self.per_window.saturating_sub(u.recent.len() as u32),
            daily: self.daily.map(|d| (d, d.saturating_sub(u.today))),
        };
        if self.daily.is_some_and(|d| use_.today >= d) {
            return Err((Policy::Daily, usage(use_)));
        }
        if use_.recent.len() >= self.per_window as usize {
            return Err((Policy::TenSecondly, usage(use_)));
        }
        use_.recent.push_back(now);
        use_.today += 1;
        Ok(usage(use_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_admits_n_then_refuses_until_it_rolls() {
        let mut l = RateLimits::new(3, None);
        let t0 = Instant::now();
        let day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert_eq!(l.admit("t", t0, day).unwrap().remaining, 2);
        l.admit("t", t0, day).unwrap();
        assert_eq!(l.admit("t", t0, day).unwrap().remaining, 0);
        assert_eq!(l.admit("t", t0, day).unwrap_err().0, Policy::TenSecondly);
        // Refusals are not counted: the window frees up 10 s after the admitted ones.
        assert!(l.admit("t", t0 + WINDOW, day).is_ok());
        // Another token has its own window.
        assert!(l.admit("u", t0, day).is_ok());
    }

    #[test]
    fn daily_budget_refuses_then_resets_next_day() {
        let mut l = RateLimits::new(100, Some(2));
        let t0 = Instant::now();
        let day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert_eq!(l.admit("t", t0, day).unwrap().daily, Some((2, 1)));
        l.admit("t", t0, day).unwrap();
        let (policy, usage) = l.admit("t", t0, day).unwrap_err();
        assert_eq!((policy, usage.daily), (Policy::Daily, Some((2, 0))));
        assert!(l.admit("t", t0, day.succ_opt().unwrap()).is_ok());
    }
}
