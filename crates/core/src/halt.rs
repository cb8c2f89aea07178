//! Why a run should stop early, and the signals that say so. Kubernetes, Airflow and systemd
//! send SIGTERM first and SIGKILL a grace period later; a run that stops between two HubSpot
//! batches, with its sync state saved, loses nothing, while one killed mid-batch leaves records
//! unconfirmed until the next run looks them up. So a signal (or the loss of the run's lock)
//! only *requests* a stop here; the phases that write check [`Halt::reason`] at their
//! boundaries, and the phases that write nothing are simply abandoned.

use std::sync::Arc;

use tokio::sync::watch;

/// A run's stop request, shared by everything that should notice it. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Halt(Arc<watch::Sender<Option<String>>>);

impl Default for Halt {
    fn default() -> Self {
        Halt(Arc::new(watch::Sender::new(None)))
    }
}

impl Halt {
    /// Ask the run to stop. The first reason given is the one reported.
    pub fn request(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            true
        });
    }

    /// Why the run was asked to stop, if it was.
    pub fn reason(&self) -> Option<String> {
        self.0.borrow().clone()
    }

    /// Wait until a stop is requested; the reason.
    pub async fn requested(&self) -> String {
        let mut rx = self.0.subscribe();
        let reason = rx.wait_for(Option::is_some).await.map(|r| r.clone());
        match reason {
            Ok(reason) => reason.unwrap_or_default(),
            // The sender lives as long as `self`, so this cannot happen; never resolve.
            Err(_) => std::future::pending().await,
        }
    }

    /// Request a stop on SIGTERM or SIGINT (Ctrl-C). Needs a Tokio runtime.
    pub fn on_signals(&self) {
        let halt = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut int)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::interrupt()),
                ) else {
                    return;
                };
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                halt.request(format!("stopped by {name}"));
            }
            #[cfg(not(unix))]
            if tokio::signal::ctrl_c().await.is_ok() {
                halt.request("stopped by Ctrl-C");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_reason_wins_and_wakes_waiters() {
        let halt = Halt::default();
        assert_eq!(halt.reason(), None);
        let waiter = tokio::spawn({
            let halt = halt.clone();
            async move { halt.requested().await }
        });
        halt.request("stopped by SIGTERM");
        halt.request("lost the lock");
        assert_eq!(waiter.await.unwrap(), "stopped by SIGTERM");
        assert_eq!(halt.reason().as_deref(), Some("stopped by SIGTERM"));
        // A waiter that arrives after the request returns at once.
        assert_eq!(halt.requested().await, "stopped by SIGTERM");
    }
}
