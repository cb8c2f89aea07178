//! HubSpot: the HTTP side of the sync. The `Crm` seam the sync writes through and the
//! outcomes it answers; the API version it speaks and every path in each (`version`); a client
//! that authenticates with a Service Key or private-app token, stays under the
//! portal's rate limit, retries what is transient, reports a batch HubSpot refuses for its
//! content as such (its caller splits it to find the records at fault), and reports every
//! record's outcome; portal discovery and setup (properties, pipelines, owners, association
//! types); a recorder that writes would-be requests to files when no portal is configured.
//!
//! What to write and why (PLG rules, diffing, state) is the `sync` module's business; this
//! module knows HubSpot's endpoints and semantics only. The local HubSpot that `pqlsync
//! sandbox` serves is not here: it is the `hubspot-sandbox` crate (`crates/hubspot-sandbox`),
//! which cannot use this module's code, so tests against it check this client against an
//! independent reading of HubSpot's API.
// Functions stay under ~80 lines of code (clippy.toml); tests and plain data may run longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod api;
mod client;
mod crm;
pub mod limiter;
mod outcome;
pub mod portal;
mod recorder;
pub mod retry;
pub mod setup;
mod version;

use std::fmt;

pub use client::{Client, ClientConfig, ClientError, Counters};
pub use crm::Crm;
pub use outcome::{BatchError, Failure, Outcome, Stop};
pub use recorder::Recorder;
pub use version::ApiVersion;

/// The CRM object types pqlsync writes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ObjectType {
    Companies,
    Contacts,
    Deals,
    Leads,
    Tasks,
}

impl ObjectType {
    pub const ALL: [ObjectType; 5] = [
        ObjectType::Companies,
        ObjectType::Contacts,
        ObjectType::Deals,
        ObjectType::Leads,
        ObjectType::Tasks,
    ];

    /// The name the properties, pipelines and associations endpoints take.
    pub fn name(self) -> &'static str {
        match self {
            ObjectType::Companies => "companies",
            ObjectType::Contacts => "contacts",
            ObjectType::Deals => "deals",
            ObjectType::Leads => "leads",
            ObjectType::Tasks => "tasks",
        }
    }

    /// The object's segment in the per-object paths of the v3 and 2026-03 specs (the deals
    /// spec writes its type id, `0-3`).
    pub fn spec_segment(self) -> &'static str {
        match self {
            ObjectType::Deals => "0-3",
            other => other.name(),
        }
    }

    /// HubSpot's object type id, which the property validations API takes.
    pub fn type_id(self) -> &'static str {
        match self {
            ObjectType::Contacts => "0-1",
            ObjectType::Companies => "0-2",
            ObjectType::Deals => "0-3",
            ObjectType::Tasks => "0-27",
            ObjectType::Leads => "0-136",
        }
    }

    pub fn parse(s: &str) -> Option<ObjectType> {
        ObjectType::ALL.into_iter().find(|o| o.name() == s)
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A secret (the token): shown as `****` in any `Debug` or `Display`, so it cannot leak into
/// logs, errors or state by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// HubSpot's public API host.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// Records per batch request: HubSpot's limit for batch endpoints.
pub const BATCH_LIMIT: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("pat-na1-abc123");
        assert_eq!(format!("{s:?} {s}"), "Secret(****) ****");
        assert_eq!(s.expose(), "pat-na1-abc123");
    }

    #[test]
    fn object_names_follow_the_specs() {
        assert_eq!(ObjectType::Deals.spec_segment(), "0-3");
        assert_eq!(ObjectType::Leads.type_id(), "0-136");
        assert_eq!(ObjectType::parse("leads"), Some(ObjectType::Leads));
        assert_eq!(ObjectType::parse("tickets"), None);
    }
}
