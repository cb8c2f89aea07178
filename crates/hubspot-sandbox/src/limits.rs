//! HubSpot's rate limits for private apps, per token: a rolling 10-second window
//! (`TEN_SECONDLY_ROLLING`, 100 requests on Free/Starter, 190 on Professional/Enterprise) and
//! an optional daily budget (`DAILY`), reported on every response in the
//! `X-HubSpot-RateLimit-*` headers (HubSpot's "API usage guidelines and limits").
//!
//! The CRM search endpoints have a limit of their own: "The search endpoints are rate limited
//! to five requests per second per authentication token" (HubSpot's CRM search guide,
//! developers.hubspot.com/docs/api-reference/search/guide, "Limitations"), a rolling second
//! here (`SECONDLY`, the policy HubSpot names in the 429 of a secondly limit). In exchange a
//! search is exempt from the 10-second window: every version of the objects specs marks
//! `POST .../{objectType}/search` with `"x-hubspot-rate-limit-exemptions": ["ten-secondly"]`
//! (`PublicApiSpecs/CRM/Objects/Rollouts/424/{v3,2026-03,2026-09}/objects.json`, and the
//! search paths of `tasks.json`, `deals.json`, `leads.json`, `companies.json` and
//! `contacts.json` of Rollouts/424/2026-09). Searches still count against the daily budget,
//! from which the specs exempt nothing.
//!
//! Only admitted requests count against any limit: a request refused with 429 is not
//! counted, because HubSpot's window counts the requests it accepted, and counting refusals
//! would let a client that retries too eagerly lock itself out for good. The daily budget
//! resets at midnight UTC (HubSpot resets at midnight in the portal's time zone).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::NaiveDate;

pub const WINDOW: Duration = Duration::from_secs(10);
/// The window of the search limit.
pub const SEARCH_WINDOW: Duration = Duration::from_secs(1);
/// HubSpot's search limit: five searches per second per token.
pub const SEARCH_PER_SECOND: u32 = 5;

/// The limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    TenSecondly,
    Daily,
    /// The search endpoints' own limit per second.
    SearchSecondly,
}

/// What a request is, for the limits: searches have a limit of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Search,
    Other,
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
    /// Admitted requests of the 10-second window (searches are exempt from it).
    recent: VecDeque<Instant>,
    /// Admitted searches of the last second.
    searches: VecDeque<Instant>,
    day: NaiveDate,
    today: u64,
}

#[derive(Debug)]
pub struct RateLimits {
    per_window: u32,
    daily: Option<u64>,
    /// Searches admitted per rolling second; `None` when searches are not limited.
    search_per_second: Option<u32>,
    tokens: HashMap<String, TokenUse>,
}

/// Drop the instants of `queue` that are `window` or more before `now`.
fn expire(queue: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while queue
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        queue.pop_front();
    }
}

impl RateLimits {
    pub fn new(per_window: u32, daily: Option<u64>, search_per_second: Option<u32>) -> RateLimits {
        RateLimits {
            per_window,
            daily,
            search_per_second,
            tokens: HashMap::new(),
        }
    }

    /// Change the limits from now on and forget what was used, as a new day (or a portal
    /// upgrade) would: tests set a small daily budget after an unlimited setup. `per_window`
    /// and `search_per_second` change only when given (`Some(None)` turns the search limit
    /// off); `daily` is set either way.
    pub fn reset(
        &mut self,
        per_window: Option<u32>,
        daily: Option<u64>,
        search_per_second: Option<Option<u32>>,
    ) {
        if let Some(n) = per_window {
            self.per_window = n;
        }
        if let Some(n) = search_per_second {
            self.search_per_second = n;
        }
        self.daily = daily;
        self.tokens.clear();
    }

    /// The search limit in force (`None`: off).
    pub fn search_per_second(&self) -> Option<u32> {
        self.search_per_second
    }

    /// Admit a request of `token` at `now` (on UTC date `today`), or refuse it with the policy
    /// it broke. Either way, the usage to report. A search is held to the search limit
    /// instead of the 10-second window (and reported against the window without using it).
    pub fn admit(
        &mut self,
        token: &str,
        now: Instant,
        today: NaiveDate,
        request: Request,
    ) -> Result<Usage, (Policy, Usage)> {
        let use_ = self
            .tokens
            .entry(token.to_string())
            .or_insert_with(|| TokenUse {
                recent: VecDeque::new(),
                searches: VecDeque::new(),
                day: today,
                today: 0,
            });
        expire(&mut use_.recent, now, WINDOW);
        expire(&mut use_.searches, now, SEARCH_WINDOW);
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
        match request {
            Request::Search => {
                if self
                    .search_per_second
                    .is_some_and(|n| use_.searches.len() >= n as usize)
                {
                    return Err((Policy::SearchSecondly, usage(use_)));
                }
                use_.searches.push_back(now);
            }
            Request::Other => {
                if use_.recent.len() >= self.per_window as usize {
                    return Err((Policy::TenSecondly, usage(use_)));
                }
                use_.recent.push_back(now);
            }
        }
        use_.today += 1;
        Ok(usage(use_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_admits_n_then_refuses_until_it_rolls() {
        let mut l = RateLimits::new(3, None, None);
        let t0 = Instant::now();
        let day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert_eq!(l.admit("t", t0, day, Request::Other).unwrap().remaining, 2);
        l.admit("t", t0, day, Request::Other).unwrap();
        assert_eq!(l.admit("t", t0, day, Request::Other).unwrap().remaining, 0);
        assert_eq!(
            l.admit("t", t0, day, Request::Other).unwrap_err().0,
            Policy::TenSecondly
        );
        // Refusals are not counted: the window frees up 10 s after the admitted ones.
        assert!(l.admit("t", t0 + WINDOW, day, Request::Other).is_ok());
        // Another token has its own window.
        assert!(l.admit("u", t0, day, Request::Other).is_ok());
    }

    #[test]
    fn daily_budget_refuses_then_resets_next_day() {
        let mut l = RateLimits::new(100, Some(2), None);
        let t0 = Instant::now();
        let day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        assert_eq!(
            l.admit("t", t0, day, Request::Other).unwrap().daily,
            Some((2, 1))
        );
        l.admit("t", t0, day, Request::Other).unwrap();
        let (policy, usage) = l.admit("t", t0, day, Request::Other).unwrap_err();
        assert_eq!((policy, usage.daily), (Policy::Daily, Some((2, 0))));
        assert!(
            l.admit("t", t0, day.succ_opt().unwrap(), Request::Other)
                .is_ok()
        );
    }

    #[test]
    fn searches_have_their_own_limit_per_second() {
        let mut l = RateLimits::new(2, Some(100), Some(3));
        let t0 = Instant::now();
        let day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
        for _ in 0..3 {
            l.admit("t", t0, day, Request::Search).unwrap();
        }
        let (policy, _) = l.admit("t", t0, day, Request::Search).unwrap_err();
        assert_eq!(policy, Policy::SearchSecondly);
        // Searches are exempt from the 10-second window: other requests still get both slots,
        // and the window reports them alone.
        assert_eq!(l.admit("t", t0, day, Request::Other).unwrap().remaining, 1);
        l.admit("t", t0, day, Request::Other).unwrap();
        assert_eq!(
            l.admit("t", t0, day, Request::Other).unwrap_err().0,
            Policy::TenSecondly
        );
        // A second later the search window has rolled; the daily budget counted every search.
        let usage = l
            .admit("t", t0 + SEARCH_WINDOW, day, Request::Search)
            .unwrap();
        assert_eq!(usage.daily, Some((100, 94)));
        // Turned off, searches are limited by the daily budget alone.
        l.reset(None, None, Some(None));
        for _ in 0..50 {
            l.admit("t", t0, day, Request::Search).unwrap();
        }
        assert_eq!(l.search_per_second(), None);
    }
}
