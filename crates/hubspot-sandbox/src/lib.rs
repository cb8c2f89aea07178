//! A local, in-memory HubSpot portal that speaks HubSpot's API. This crate owns the portal
//! and everything it answers: the HTTP routes, HubSpot's validation, rate limits and error
//! bodies, seeded fault injection, and the `/_sandbox/*` routes tests inspect it with. It
//! deliberately owns no HubSpot client and depends on nothing of pqlsync, the client it is used
//! to test: it is an independent oracle, written from HubSpot's specs and documentation rather
//! than from pqlsync's code, and being a separate crate makes that a compile-time guarantee.
//! The command line that serves it (`pqlsync sandbox`: flags, owners from the config file,
//! the dump on exit) is pqlsync's.
//!
//! It uses the same paths, request and response JSON, status codes and error bodies as
//! HubSpot's published OpenAPI specs, so a real HubSpot client can run against it. It speaks
//! three dialects of that API at once, on one portal: the legacy paths (CRM objects v3,
//! properties v3, pipelines v3, owners v3, associations v4, property validations v3) and the
//! date-versioned paths of `2026-03` and `2026-09` (`/crm/objects/2026-09/{objectType}`,
//! `/crm/associations/2026-09/...`; any other date version answers 404 naming these two).
//! The dialects differ where HubSpot's do (`dialect.rs`): on 2026-09, a batch with ids not
//! found answers 200 with `errors` and `numErrors` rather than 207, object writes are checked
//! against the portal's property validation rules, and one record's associations cannot be
//! listed with `GET`. `pqlsync sandbox --port N` serves it; tests start it on `127.0.0.1:0`.
//!
//! What it owns:
//! - records of companies, contacts, deals (`0-3`), leads (`0-136`) and tasks (`0-27`), with
//!   batch upsert, create, update and read, single create, read, update and list, and search
//!   (`search.rs`) by equality, presence and range filters (`GT`, `GTE`, `LT`, `LTE`,
//!   `BETWEEN` on number, date and datetime properties), one sort, pages of at most 200 and
//!   at most 10,000 results a query (400 beyond, as HubSpot);
//! - the dates HubSpot keeps: every write sets the last-modified date (`hs_lastmodifieddate`,
//!   contacts' `lastmodifieddate`) and a create `createdate`, as RFC 3339 with milliseconds;
//!   a task's read-only `hs_task_completion_date` is set when its `hs_task_status` becomes
//!   `COMPLETED` and cleared when it moves away;
//! - HubSpot's validation of writes, applied to the whole request as HubSpot does: batch size
//!   (100), duplicate ids, string-only values, unknown properties, emails, numbers, dates,
//!   enumeration options, pipeline stages, owners, task queues, unique values (409), and the
//!   lead rule (a lead is created only with an association to a contact);
//! - property definitions and groups, deal and lead pipelines, owners, task queues (the
//!   options of tasks' `hs_queue_membership_ids`, from `SandboxConfig::queues` and `POST
//!   /_sandbox/queues`), HubSpot-defined association types with their real ids, and
//!   associations (stored once, read both ways);
//! - property validation rules, set and read on every dialect and enforced on 2026-09 writes:
//!   `MAX_LENGTH`, `MIN_LENGTH`, `MAX_NUMBER`, `MIN_NUMBER`, `ALPHANUMERIC`,
//!   `EMAIL_ALLOWED_DOMAINS`, `EMAIL_BLOCKED_DOMAINS` and `WHITESPACE`; a value a rule refuses
//!   fails the request like any invalid value (detail code `VALIDATION_RULE_VIOLATION`), and
//!   a rule of any other type is refused when set, never stored unenforced;
//! - the token's standing: HubSpot's 401 for a missing or wrong token, and for the sandbox's
//!   own once it is revoked (`POST /_sandbox/revoke`: after N more API requests); HubSpot's
//!   403 `MISSING_SCOPES` for an operation none of whose scopes the token has left (`POST
//!   /_sandbox/scopes`), with the scopes each operation accepts taken from HubSpot's specs
//!   (`scopes.rs`); both before the rate limits, and not counted against them;
//! - private-app rate limits (rolling 10 s window, optional daily budget) and the search
//!   endpoints' own limit (5 a second per token, `SECONDLY`, `Retry-After: 1`; searches are
//!   exempt from the 10 s window, as the specs mark them), with HubSpot's headers and 429
//!   bodies; seeded fault injection (5xx before or after processing) and latency;
//! - for tests, under `/_sandbox/*`: counters, a state dump, runtime limits and task queues,
//!   edits made as a person would make them in HubSpot's UI, validated as API updates, and a
//!   token revoked or stripped of scopes mid-run (`GET /_sandbox/stats` and `/_sandbox/dump`,
//!   `POST /_sandbox/stats/reset`, `/limits`, `/refuse`, `/garble`, `/queues`, `/edit`,
//!   `/wipe`, `/revoke` and `/scopes`).
//!
//! What it simplifies, deliberately:
//! - one portal, one token, nothing persisted; no archive/delete, merge, association labels
//!   beyond HubSpot's defaults, text search (`CONTAINS_TOKEN`, `NOT_CONTAINS_TOKEN`, `query`),
//!   or range filters on other than number, date and datetime properties; search sees writes
//!   at once (HubSpot's index trails them);
//! - only the default properties a sync needs are seeded (not HubSpot's hundreds), and
//!   `industry` is free text rather than HubSpot's long enumeration;
//! - HubSpot's validation wording is matched where known (`Property values were not valid`,
//!   `PROPERTY_DOESNT_EXIST`, `INVALID_EMAIL`, `INVALID_OPTION`, duplicate ids, 409 on
//!   contacts); elsewhere messages are the sandbox's own, in HubSpot's shape;
//! - the daily limit resets at midnight UTC, not in the portal's time zone.
//!
//! The crate's `README.md` lists every endpoint, how to run and test the sandbox, and each
//! choice made where HubSpot's documentation is silent.

mod admin;
mod associations;
mod credentials;
mod defaults;
mod dialect;
mod error;
mod faults;
mod guard;
mod handlers;
mod kinds;
mod limits;
mod model;
mod objects;
mod routes;
mod rules;
mod schema;
mod scopes;
mod search;
mod stats;
mod store;
mod validations;
mod wire;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// How the sandbox behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// The bearer token every API request must carry.
    pub token: String,
    /// Requests admitted per rolling 10 seconds (HubSpot: 100 on Free/Starter, 190 above).
    pub requests_per_10s: u32,
    /// Requests admitted per day (UTC), when set.
    pub daily_limit: Option<u64>,
    /// Searches (`POST .../objects/{type}/search`) admitted per rolling second, per token;
    /// `None` turns the search limit off. HubSpot: 5 (its CRM search guide, "Limitations").
    /// Searches are exempt from `requests_per_10s`, as HubSpot's specs mark them, and count
    /// against `daily_limit`.
    pub search_per_second: Option<u32>,
    /// Probability of an injected 5xx on an admitted request.
    pub fail_rate: f64,
    /// Added to every API response, ±20% jitter.
    pub latency: Duration,
    /// Seeds fault injection and latency jitter.
    pub seed: u64,
    /// Owner emails; each gets a numeric owner id (70000001, 70000002, ...).
    pub owners: Vec<String>,
    /// Task queue ids (numeric strings, "1001"); each becomes an option of tasks'
    /// `hs_queue_membership_ids`, labelled "Queue 1001", in this order. `POST
    /// /_sandbox/queues` adds more at runtime.
    pub queues: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            token: "sandbox-token".into(),
            requests_per_10s: 100,
            daily_limit: None,
            search_per_second: Some(limits::SEARCH_PER_SECOND),
            fail_rate: 0.0,
            latency: Duration::ZERO,
            seed: 0,
            owners: Vec::new(),
            queues: Vec::new(),
        }
    }
}

/// State shared by every request. Each part has its own lock, taken briefly and never across
/// an await.
#[derive(Debug)]
struct Shared {
    config: SandboxConfig,
    store: Mutex<store::Store>,
    limits: Mutex<limits::RateLimits>,
    faults: Mutex<faults::Faults>,
    stats: Mutex<stats::Stats>,
    /// Whether the token is being revoked, and the scopes it lacks (`POST /_sandbox/revoke`,
    /// `/_sandbox/scopes`).
    credentials: Mutex<credentials::Credentials>,
    /// Requests (`METHOD /path`) to answer with a 200 that is not the documented body, and
    /// how many more times (`POST /_sandbox/garble`).
    garble: Mutex<std::collections::BTreeMap<String, u32>>,
}

/// Lock `m`, carrying on after a panic elsewhere (the state stays usable for inspection).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A HubSpot portal in memory. Cloning shares the portal.
#[derive(Debug, Clone)]
pub struct Sandbox {
    shared: Arc<Shared>,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> Sandbox {
        let shared = Shared {
            store: Mutex::new(store::Store::new(&config.owners, &config.queues)),
            limits: Mutex::new(limits::RateLimits::new(
                config.requests_per_10s,
                config.daily_limit,
                config.search_per_second,
            )),
            faults: Mutex::new(faults::Faults::new(
                config.seed,
                config.fail_rate,
                config.latency,
            )),
            stats: Mutex::new(stats::Stats::default()),
            credentials: Mutex::default(),
            config,
            garble: Mutex::default(),
        };
        Sandbox {
            shared: Arc::new(shared),
        }
    }

    /// Every route: HubSpot's API and `/_sandbox/*`.
    pub fn router(&self) -> axum::Router {
        routes::router(self.shared.clone())
    }

    /// Serve on `listener` until the server stops (an I/O error, or the task is dropped).
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// The portal's contents, as `GET /_sandbox/dump` returns them.
    pub fn dump(&self) -> serde_json::Value {
        lock(&self.shared.store).dump()
    }

    /// The request counters, as `GET /_sandbox/stats` returns them.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::json!(*lock(&self.shared.stats))
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }
}
