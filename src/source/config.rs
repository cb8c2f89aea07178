//! `[sources]`: which datasets exist and where (a plain path, `file://`, `s3://`, `gs://` or
//! `az://`), parsed and validated beside the code that registers them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::setting::Invalid;
use crate::store::Location;

/// `[sources]`: dataset URLs (a plain path, `file://`, `s3://`, `gs://` or `az://`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesFile {
    /// Segment/RudderStack `tracks`: one row per product event.
    pub tracks: String,
    /// Segment/RudderStack `identifies`: one row per identify call (users and their emails).
    pub identifies: String,
    /// Segment/RudderStack `groups`: one row per group call (accounts and their traits).
    pub groups: String,
    /// Stripe `subscriptions` (optional; without it billing features are empty).
    pub subscriptions: Option<String>,
    /// Stripe `subscription_items` (optional).
    pub subscription_items: Option<String>,
    /// Stripe `customers_metadata` (optional): maps Stripe customers to account ids.
    pub customers_metadata: Option<String>,
    /// Days an event's hive partition date (`day=`/`dt=`) may differ from its `timestamp` date.
    /// Partitions outside a query's time range widened by this many days are not read.
    #[serde(default = "default_partition_slack_days")]
    pub partition_slack_days: u32,
    /// The freshness guard: a run stops (exit 2) when the newest event in `tracks` is more
    /// than this many days before the end of the scoring day, because stale exports would
    /// score every account as gone quiet and close live trials. `--allow-stale` overrides.
    #[serde(default = "default_max_lag_days")]
    pub max_lag_days: u32,
    /// Stripe-specific settings.
    #[serde(default)]
    pub stripe: StripeFile,
    /// Per-event datasets (Segment writes each event's properties to a table of its own),
    /// keyed by event name, e.g. `rows_imported = "s3://bucket/segment/rows_imported/"`.
    #[serde(default)]
    pub events: BTreeMap<String, String>,
}

fn default_partition_slack_days() -> u32 {
    2
}

fn default_max_lag_days() -> u32 {
    2
}

/// `[sources.stripe]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeFile {
    /// The `customers_metadata.key` whose value is the account id (`groups.group_id`).
    #[serde(default = "default_account_id_key")]
    pub account_id_key: String,
}

impl Default for StripeFile {
    fn default() -> Self {
        StripeFile {
            account_id_key: default_account_id_key(),
        }
    }
}

fn default_account_id_key() -> String {
    "account_id".to_string()
}

/// The validated `[sources]`.
#[derive(Debug, Clone)]
pub struct SourcesConfig {
    pub tracks: Location,
    pub identifies: Location,
    pub groups: Location,
    pub subscriptions: Option<Location>,
    pub subscription_items: Option<Location>,
    pub customers_metadata: Option<Location>,
    pub events: BTreeMap<String, Location>,
    pub partition_slack_days: u32,
    pub max_lag_days: u32,
    pub account_id_key: String,
}

/// Datasets configured directly under `[sources]`; per-event datasets may not reuse their names.
const CORE_DATASETS: &[&str] = &[
    "tracks",
    "identifies",
    "groups",
    "subscriptions",
    "subscription_items",
    "customers_metadata",
];

impl SourcesConfig {
    /// Validate `[sources]`: relative paths resolve against `base` (the config file's
    /// directory); `store_options` are the object-store credentials from the environment.
    pub fn from_file(
        file: &SourcesFile,
        base: &Path,
        store_options: &[(String, String)],
    ) -> Result<SourcesConfig, Invalid> {
        let location = |key: &str, value: &str| -> Result<Location, Invalid> {
            Location::dataset(value, base, store_options).map_err(|m| Invalid::new(key, m))
        };
        let optional = |key: &str, value: &Option<String>| -> Result<Option<Location>, Invalid> {
            value.as_deref().map(|v| location(key, v)).transpose()
        };
        let mut events = BTreeMap::new();
        for (event, url) in &file.events {
            let key = format!("sources.events.{event}");
            if !is_identifier(event) {
                return Err(Invalid::new(
                    key,
                    "event names must be lowercase SQL identifiers (letters, digits, `_`)",
                ));
            }
            if CORE_DATASETS.contains(&event.as_str()) {
                return Err(Invalid::new(
                    key,
                    format!(
                        "`{event}` is a core dataset; configure it under [sources], not [sources.events]"
                    ),
                ));
            }
            events.insert(event.clone(), location(&key, url)?);
        }
        if file.stripe.account_id_key.trim().is_empty() {
            return Err(Invalid::new(
                "sources.stripe.account_id_key",
                "must not be empty",
            ));
        }
        let sources = SourcesConfig {
            tracks: location("sources.tracks", &file.tracks)?,
            identifies: location("sources.identifies", &file.identifies)?,
            groups: location("sources.groups", &file.groups)?,
            subscriptions: optional("sources.subscriptions", &file.subscriptions)?,
            subscription_items: optional("sources.subscription_items", &file.subscription_items)?,
            customers_metadata: optional("sources.customers_metadata", &file.customers_metadata)?,
            events,
            partition_slack_days: file.partition_slack_days,
            max_lag_days: file.max_lag_days,
            account_id_key: file.stripe.account_id_key.clone(),
        };

        Ok(sources)
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}
