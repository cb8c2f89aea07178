//! pqlsync's SQL layer, the only crate (with the binary on top) that links Apache DataFusion
//! and Arrow. Modules are listed bottom-up; each imports only from modules listed before it:
//!
//! 1. Leaves: `value` (a feature cell read out of Arrow, the Arrow types a contract kind
//!    accepts), `output` (Parquet/CSV outputs through the one atomic writer), `store` (a
//!    location on disk or an object store, and the [`pqlsync_core::files::Files`] the rules and
//!    the sync keep their state in), `lock` (one run at a time per state), `engine` (the
//!    DataFusion session, memory pool and plan rules).
//! 2. `source`: configured datasets → `raw.*` tables, checked against the input contract.
//! 3. `features`: the analyst SQL in `sql/` → the `account_features` stream; `cluster` (with
//!    the `ballista` feature): the same SQL on a Ballista cluster, and its processes.
//! 4. `decision`: the rules' decisions (`pqlsync_rules::decision`) over Arrow batches, with
//!    their columns appended; `people`: `user_features` read into each account's users, scored
//!    with the rules' user signals; `history`: daily score snapshots; `changes`: the sync's change
//!    log (what each run wrote to HubSpot) and the `sync.changes` table.
//! 5. `report`: the report SQL, its tables and page, and the `crm.*` tables built from the sync
//!    state; `demo`: the contract-shaped demo data generator.
// Functions stay under ~80 lines of code (clippy.toml); tests and plain data may run longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod value;
pub mod output;
pub mod store;
pub mod lock;
pub mod engine;

pub mod source;
pub mod features;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod decision;
pub mod people;
pub mod history;
pub mod changes;
pub mod report;
pub mod demo;
