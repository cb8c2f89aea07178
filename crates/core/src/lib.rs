//! The leaves of pqlsync every other crate may use, and nothing of any of them: feature values
//! and contract kinds as plain data (`value`), numbers for people (`fmt`), an invalid config
//! key and what to do about it (`setting`), a run's stop request (`halt`), the one atomic file
//! writer (`atomic`) and the state-file trait with JSON on top (`files`). No DataFusion, no
//! Arrow, no object-store SDK.
// Functions stay under ~80 lines of code (clippy.toml); tests and plain data may run longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod atomic;
pub mod files;
pub mod fmt;
pub mod halt;
pub mod setting;
pub mod value;
