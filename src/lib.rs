//! pqlsync: product-qualified-lead scoring and routing for product-led SaaS, as a library.
//!
//! Modules are listed bottom-up: each imports only from modules above it in this list, so
//! the crate reads in one direction, the way data flows.
//!
//! 1. Leaves anyone may use: `fmt` (numbers for people), `value` (feature values, contract
//!    kinds), `setting` (an invalid config key), `output` (atomic file writers), `store`
//!    (locations and whole-file stores), `halt` (a run's stop request: signals, a lost lock),
//!    `lock` (one run at a time per state location), `engine` (the DataFusion session, memory
//!    pool and plan rule), `logging` (stderr as text or JSON lines, and each stage's time), `cli`
//!    (the command line, as clap definitions only).
//! 2. `source`: configured datasets → `raw.*` tables, checked against the input contract.
//! 3. `features`: the analyst SQL in `sql/` → the `account_features` stream; `cluster` (with
//!    the `ballista` feature): the same SQL on a Ballista cluster, and its processes.
//! 4. `score`: fit, usage, PQL score, tier and signals (pure functions).
//! 5. `route`: motion, owner, stages, tasks (pure functions); `state`: the routing memory.
//! 6. `decision`: scores and routes appended to feature batches; `history`: score snapshots.
//! 7. `hubspot`: the HTTP client, rate limiter, retries, portal discovery, offline recorder;
//!    `sync`: decisions → desired CRM records → diff → plan → batches through a `Crm`.
//! 8. `report`, `calibrate`, `demo`, `summary`: the cohort report, the scoring calibration
//!    from past trials, demo data, the run summary.
//! 9. `config`: reads `pqlsync.toml` and hands each section to the module that owns it.
//! 10. `commands`: one file per command; `main.rs` only parses arguments and exits.

pub mod fmt;
pub mod value;
pub mod setting;
pub mod output;
pub mod store;
pub mod halt;
pub mod lock;
pub mod engine;
pub mod logging;
pub mod cli;

pub mod source;
pub mod features;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod score;
pub mod route;
pub mod state;
pub mod decision;
pub mod history;
pub mod hubspot;
pub mod sync;
pub mod report;
pub mod calibrate;
pub mod demo;
pub mod summary;
pub mod config;
pub mod commands;

pub use commands::{Error, Outcome, run_cli, usage_error};
