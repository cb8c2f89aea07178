//! Sync: turns decisions into the CRM records they imply (companies, contacts, trial deals,
//! leads, tasks and their associations), diffs them against what HubSpot last confirmed, and
//! runs the resulting plan through a `Crm` — HubSpot itself, or a recorder. It owns the PLG
//! mapping (which property means what, which stage a lead is in), the diffing rules, the sync
//! state and the failure ledger; HTTP, batching and retries belong to `hubspot`.

pub mod config;
pub mod execute;
pub mod setup;
pub mod model;
pub mod plan;
pub mod schema;
pub mod state;

pub use execute::{Counts, Options, SyncReport, run};
pub use model::{Contact, Desired, Link, Mapping, Record, build};
pub use plan::{Plan, plan};
pub use state::{FailureRecord, LEDGER_FILE, Ledger, STATE_FILE, SyncState};
