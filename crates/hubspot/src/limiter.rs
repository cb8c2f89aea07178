//! Client-side rate limiting that mirrors HubSpot's own: at most N requests in any rolling
//! 10-second window (100 for Free/Starter private apps, 190 for Professional/Enterprise).
//! Staying under the limit is cheaper than hitting it: a 429 costs a round trip and a wait.
//!
//! The window is widened by a small margin because HubSpot counts a request when it arrives,
//! a little after we send it. The limit follows `X-HubSpot-RateLimit-Max` when HubSpot reports
//! a lower one than configured, and a 429 pauses every sender, not just the one that got it.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// Extra time a send stays in the window, for the trip to HubSpot.
const MARGIN: Duration = Duration::from_millis(150);

#[derive(Debug)]
struct Window {
    sent: VecDeque<Instant>,
    capacity: usize,
    paused_until: Option<Instant>,
}

/// A rolling-window limiter shared by all requests of a run.
#[derive(Debug)]
pub struct Limiter {
    configured: usize,
    interval: Duration,
    margin: Duration,
    window: Mutex<Window>,
}

impl Limiter {
    /// `per_interval` requests per `interval` (HubSpot: 10 seconds).
    pub fn new(per_interval: u32, interval: Duration) -> Limiter {
        Limiter::with_margin(per_interval, interval, MARGIN)
    }

    pub fn with_margin(per_interval: u32, interval: Duration, margin: Duration) -> Limiter {
        let capacity = per_interval.max(1) as usize;
        Limiter {
            configured: capacity,
            interval,
            margin,
            window: Mutex::new(Window {
                sent: VecDeque::with_capacity(capacity),
                capacity,
                paused_until: None,
            }),
        }
    }

    /// Wait for a slot, then take it.
    pub async fn acquire(&self) {
        loop {
            let wait_until = {
                let mut w = self.window.lock().await;
                let now = Instant::now();
                let span = self.interval + self.margin;
                while w
                    .sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= span)
                {
                    w.sent.pop_front();
                }
                match w.paused_until {
                    Some(until) if until > now => until,
                    _ if w.sent.len() < w.capacity => {
                        w.sent.push_back(now);
                        return;
                    }
                    _ => *w.sent.front().expect("full window is not empty") + span,
                }
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// Follow HubSpot's `X-HubSpot-RateLimit-Max` when it is lower than configured.
    pub async fn observe_max(&self, max: u32) {
        let mut w = self.window.lock().await;
        w.capacity = self.configured.min(max.max(1) as usize);
    }

    /// Catch up with HubSpot's count of the window (`X-HubSpot-RateLimit-Remaining`): other
    /// clients of the same token, or the run before this one, may have used part of it. Our
    /// own sends are all in `sent`, so HubSpot counting more than we hold means someone else
    /// spent them; hold that many slots from now (a conservative guess of when they expire).
    pub async fn observe_remaining(&self, remaining: u32) {
        let mut w = self.window.lock().await;
        let used = w.capacity.saturating_sub(remaining as usize);
        let now = Instant::now();
        while w.sent.len() < used {
            w.sent.push_back(now);
        }
    }

    /// Stop all senders for `d` (after a 429).
    pub async fn pause(&self, d: Duration) {
        let mut w = self.window.lock().await;
        let until = Instant::now() + d;
        w.paused_until = Some(w.paused_until.map_or(until, |p| p.max(until)));
    }

    pub async fn capacity(&self) -> usize {
        self.window.lock().await.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(300);
    const SLACK: Duration = Duration::from_millis(10);

    #[tokio::test]
    async fn never_more_than_capacity_in_any_window() {
        let limiter = Limiter::with_margin(5, WINDOW, SLACK);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..12 {
            limiter.acquire().await;
            times.push(start.elapsed());
        }
        // Five at once, five more one window (plus margin) later, then two more.
        assert!(times[4] < Duration::from_millis(50), "{times:?}");
        assert!(times[5] >= WINDOW + SLACK, "{times:?}");
        assert!(times[10] >= 2 * (WINDOW + SLACK), "{times:?}");
        for (i, t) in times.iter().enumerate() {
            let in_window = times
                .iter()
                .filter(|u| **u <= *t && *t - **u < WINDOW)
                .count();
            assert!(
                in_window <= 5,
                "{in_window} requests in the window ending at #{i}"
            );
        }
    }

    #[tokio::test]
    async fn follows_a_lower_header_limit_and_pauses() {
        let limiter = Limiter::with_margin(100, WINDOW, SLACK);
        limiter.observe_max(2).await;
        assert_eq!(limiter.capacity().await, 2);
        limiter.observe_max(500).await;
        assert_eq!(
            limiter.capacity().await,
            100,
            "never above the configured limit"
        );
        limiter.pause(Duration::from_millis(200)).await;
        let start = Instant::now();
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn follows_the_remaining_count_of_a_shared_window() {
        let limiter = Limiter::with_margin(4, WINDOW, SLACK);
        limiter.acquire().await;
        // HubSpot says 1 left: 3 used, only one of them ours.
        limiter.observe_remaining(1).await;
        let start = Instant::now();
        limiter.acquire().await;
        assert!(start.elapsed() < Duration::from_millis(50));
        limiter.acquire().await;
        assert!(
            start.elapsed() >= WINDOW,
            "the window was full: {:?}",
            start.elapsed()
        );
        // A stale, higher remaining never frees slots.
        let limiter = Limiter::with_margin(2, WINDOW, SLACK);
        limiter.acquire().await;
        limiter.acquire().await;
        limiter.observe_remaining(2).await;
        let start = Instant::now();
        limiter.acquire().await;
        assert!(start.elapsed() >= WINDOW);
    }
}
