//! pqlsync: product-qualified-lead scoring and routing for product-led SaaS. This crate is the
//! binary's: the command line, the config file and the commands, on top of the workspace's
//! crates, which it calls in the order data flows (ARCHITECTURE.md has the map):
//! `pqlsync_sql` (sources → features → decisions over Arrow, history, report), whose decisions
//! come from `pqlsync_rules` (score, route); `pqlsync_sync` (desired records → plan → batches)
//! through `pqlsync_hubspot` (the client); `pqlsync_calibrate` (the statistics); all on
//! `pqlsync_core` (the leaves).
//!
//! Modules are listed bottom-up; each imports only from modules listed before it:
//! `logging` (stderr as text or JSON lines, each stage's time), `cli` (clap definitions only),
//! `calibrate` (the calibration page), `summary` (what a run prints and writes as JSON),
//! `config` (reads `pqlsync.toml` and hands each section to the crate that owns it),
//! `commands` (one file per command; `main.rs` only parses arguments and exits).
// Functions stay under ~80 lines of code (clippy.toml); tests and plain data may run longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod logging;
pub mod cli;
pub mod calibrate;
pub mod summary;
pub mod config;
pub mod commands;

pub use commands::{Error, Outcome, run_cli, usage_error};
