//! pqlsync's integration tests, as one test binary (as ripgrep's `tests/` is): each module runs
//! the real `pqlsync` binary, or the library's SQL over small fixtures, against real files and
//! servers it starts on 127.0.0.1. One binary links DataFusion once, not once per file. The
//! Ballista cluster tests stay apart (`tests/cluster.rs`, behind the `ballista` feature).

mod common;

mod architecture;
mod bad_input;
mod bench_smoke;
mod calibrate;
mod cli;
mod deploy;
mod docs;
mod engine;
mod features_reference;
mod hubspot;
mod incremental;
mod integrity;
mod logs;
mod pages;
mod playbooks;
mod posthog;
mod report;
mod revert;
mod s3;
mod snapshots;
mod sql_fixtures;
