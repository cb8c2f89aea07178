//! pqlsync's rules, as plain data and pure functions: the scoring model (`score`: fit, usage,
//! PQL score, tier, expansion, the signals that explain them), routing (`route`: motion, owner,
//! lead and deal stages, playbooks and their tasks, what a person decided in HubSpot), the
//! routing memory between runs (`state`, kept in any [`pqlsync_core::files::Files`]), and one
//! account's decision built from them (`decision`). No DataFusion, no Arrow, no HTTP: every rule
//! is table-tested with `cargo test -p pqlsync-rules`.
// Functions stay under ~80 lines of code (clippy.toml); tests and plain data may run longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod score;
pub mod route;
pub mod state;
pub mod decision;
