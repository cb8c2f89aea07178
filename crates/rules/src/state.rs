//! State: what the job remembers between runs, at `[state] url` (a local directory or an
//! object-store URL). Writes are atomic: a local write goes to a temporary file that is renamed
//! into place, an object-store put replaces the object whole, so a crash leaves the old state.
//!
//! Routing memory (`routing.json`) holds each account's last decision, so stages never move
//! backwards and a Green task is created once per activation. It keeps the decision before
//! the latest scoring day too, so re-running the same day decides exactly as the first run did.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::route::Memory;
use pqlsync_core::files::{Files, StoreError, read_json, write_json};

/// Errors reading or writing the routing memory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "state at {url} was last advanced for {state_as_of}{by}, after --as-of {as_of}: `run` \
         only moves forward (use `pqlsync score --as-of` to look at a past day){other}"
    )]
    Rewind {
        url: String,
        state_as_of: NaiveDate,
        as_of: NaiveDate,
        /// ` by CONFIG on HOST at TIME`, when the state says.
        by: String,
        /// What to do when another config advanced it.
        other: String,
    },
    #[error(
        "state file {url}/{file} has version {found}, which this pqlsync does not know (it reads \
         {supported}); it was written by a newer pqlsync: upgrade rather than overwrite it"
    )]
    Version {
        url: String,
        file: String,
        found: u32,
        supported: String,
    },
}

/// Refuse a state file of a version this build does not know, rather than misread it and
/// overwrite it in the old format.
pub fn check_version(
    url: &str,
    file: &str,
    found: u32,
    supported: &[u32],
) -> Result<(), StateError> {
    if supported.contains(&found) {
        return Ok(());
    }
    Err(StateError::Version {
        url: url.to_string(),
        file: file.to_string(),
        found,
        supported: supported
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The routing memory file.
pub const ROUTING_FILE: &str = "routing.json";

/// One account's remembered decisions: the latest, and the one before the latest scoring day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub latest: Memory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Memory>,
}

/// Which run last advanced a state: two configs that share one `[state] url` overwrite each
/// other's memory, and this is how a message tells them apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvancedBy {
    /// The config file, as an absolute path.
    pub config: String,
    pub host: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl AdvancedBy {
    /// This run, with config file `config`.
    pub fn now(config: &std::path::Path) -> AdvancedBy {
        AdvancedBy {
            config: absolute(config),
            host: pqlsync_core::files::hostname(),
            at: chrono::Utc::now(),
        }
    }

    /// Whether config file `config` is another than the one that advanced the state.
    pub fn other_than(&self, config: &std::path::Path) -> bool {
        self.config != absolute(config)
    }
}

/// `CONFIG on HOST at TIME`, as messages name the run.
impl std::fmt::Display for AdvancedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.at.format("%Y-%m-%d %H:%M UTC");
        write!(f, "{} on {} at {at}", self.config, self.host)
    }
}

/// What to do about two configs on one state, for every message that finds them.
pub const SHARED_STATE_ADVICE: &str =
    "configs that share [state] url overwrite each other's routing memory; give each its own";

fn absolute(path: &std::path::Path) -> String {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// Routing memory for every account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingState {
    pub version: u32,
    pub as_of: Option<NaiveDate>,
    /// The run that last advanced it (absent in states written before pqlsync said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_by: Option<AdvancedBy>,
    pub accounts: BTreeMap<String, Entry>,
}

impl RoutingState {
    pub async fn load(store: &dyn Files) -> Result<RoutingState, StateError> {
        let state: RoutingState = read_json(store, ROUTING_FILE)
            .await?
            .unwrap_or(RoutingState {
                version: 1,
                ..RoutingState::default()
            });
        check_version(store.url(), ROUTING_FILE, state.version, &[1])?;
        Ok(state)
    }

    pub async fn save(&self, store: &dyn Files) -> Result<(), StateError> {
        Ok(write_json(store, ROUTING_FILE, self).await?)
    }

    /// Refuse to move state backwards in time, naming the run that advanced it and saying so
    /// when that run used another config than `config`.
    pub fn check_forward(
        &self,
        url: &str,
        as_of: NaiveDate,
        config: &std::path::Path,
    ) -> Result<(), StateError> {
        let Some(state_as_of) = self.as_of.filter(|s| *s > as_of) else {
            return Ok(());
        };
        let (by, other) = match &self.advanced_by {
            Some(a) => (
                format!(" by {a}"),
                if a.other_than(config) {
                    format!(
                        ". That is another config than this run's ({}): {SHARED_STATE_ADVICE}",
                        absolute(config)
                    )
                } else {
                    String::new()
                },
            ),
            None => (String::new(), String::new()),
        };
        Err(StateError::Rewind {
            url: url.to_string(),
            state_as_of,
            as_of,
            by,
            other,
        })
    }

    /// The decision to route `account` against on `as_of`: the latest one from an earlier day.
    pub fn prior(&self, account: &str, as_of: NaiveDate) -> Option<&Memory> {
        let entry = self.accounts.get(account)?;
        if entry.latest.as_of < as_of {
            Some(&entry.latest)
        } else {
            entry.before.as_ref().filter(|m| m.as_of < as_of)
        }
    }

    /// Replace the owner remembered for `account` on `as_of` (HubSpot already had one).
    pub fn set_owner(&mut self, account: &str, as_of: NaiveDate, owner: &str) {
        if let Some(entry) = self.accounts.get_mut(account)
            && entry.latest.as_of == as_of
        {
            entry.latest.owner = Some(owner.to_string());
        }
    }

    /// Record today's decision for `account`.
    pub fn record(&mut self, account: &str, memory: Memory) {
        let as_of = memory.as_of;
        self.as_of = Some(self.as_of.map_or(as_of, |a| a.max(as_of)));
        match self.accounts.get_mut(account) {
            Some(entry) if entry.latest.as_of < as_of => {
                let previous = std::mem::replace(&mut entry.latest, memory);
                entry.before = Some(previous);
            }
            Some(entry) => entry.latest = memory,
            None => {
                self.accounts.insert(
                    account.to_string(),
                    Entry {
                        latest: memory,
                        before: None,
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{LeadStage, Motion};
    use crate::score::Tier;

    fn mem(day: u32, tier: Tier) -> Memory {
        Memory {
            as_of: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            motion: Motion::SelfServe,
            owner: None,
            lead_stage: LeadStage::trial(tier),
            deal_stage: None,
            trial_id: None,
            tier,
            green_since: None,
            hot_since: None,
            last: Default::default(),
            open: vec![],
        }
    }

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn rerunning_a_day_routes_against_the_day_before() {
        let mut s = RoutingState::default();
        s.record("a", mem(19, Tier::Red));
        s.record("a", mem(20, Tier::Green));
        assert_eq!(s.prior("a", d(20)).unwrap().as_of, d(19));
        // Re-run of the 20th replaces the 20th, keeps the 19th as the prior.
        s.record("a", mem(20, Tier::Yellow));
        assert_eq!(s.prior("a", d(20)).unwrap().tier, Tier::Red);
        assert_eq!(s.prior("a", d(21)).unwrap().tier, Tier::Yellow);
        assert_eq!(s.prior("b", d(21)), None);
        let config = std::path::Path::new("/etc/pqlsync/a.toml");
        assert!(s.check_forward("x", d(20), config).is_ok());
        assert!(matches!(
            s.check_forward("x", d(19), config),
            Err(StateError::Rewind { .. })
        ));
    }

    /// Two configs sharing one state location were not told apart: "only moves forward"
    /// without saying another config had advanced it.
    #[test]
    fn a_state_advanced_by_another_config_said_only_moves_forward() {
        let mut s = RoutingState::default();
        s.record("a", mem(20, Tier::Red));
        s.advanced_by = Some(AdvancedBy {
            config: "/etc/pqlsync/eu.toml".into(),
            host: "cron-eu".into(),
            at: "2026-11-21T06:15:00Z".parse().unwrap(),
        });
        let mine = std::path::Path::new("/etc/pqlsync/us.toml");
        let e = s.check_forward("s3://b/state", d(19), mine).unwrap_err();
        let text = e.to_string();
        for needle in [
            "advanced for 2026-11-20 by /etc/pqlsync/eu.toml on cron-eu at 2026-11-21 06:15 UTC",
            "another config than this run's (/etc/pqlsync/us.toml)",
            "give each its own",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        let same = std::path::Path::new("/etc/pqlsync/eu.toml");
        let text = s
            .check_forward("s3://b/state", d(19), same)
            .unwrap_err()
            .to_string();
        assert!(!text.contains("another config"), "{text}");
    }
}
