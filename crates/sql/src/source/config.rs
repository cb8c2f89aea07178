//! `[sources]`: which datasets exist, in which shape (`format`: Segment/RudderStack or
//! PostHog) and where (a plain path, `file://`, `s3://`, `gs://` or `az://`), parsed and
//! validated beside the code that registers them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::store::Location;
use pqlsync_core::setting::Invalid;

/// `[sources]`: dataset URLs (a plain path, `file://`, `s3://`, `gs://` or `az://`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesFile {
    /// The shape of the product-event exports: `segment` (default; RudderStack writes the
    /// same) or `posthog` (PostHog batch exports, `[sources.posthog]`).
    #[serde(default)]
    pub format: Format,
    /// Segment/RudderStack `tracks`: one row per product event.
    pub tracks: Option<String>,
    /// Segment/RudderStack `identifies`: one row per identify call (users and their emails).
    pub identifies: Option<String>,
    /// Segment/RudderStack `groups`: one row per group call (accounts and their traits).
    pub groups: Option<String>,
    /// PostHog batch exports (`format = "posthog"`).
    pub posthog: Option<PostHogFile>,
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

/// The shape of the product-event exports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Segment's warehouse tables (`tracks`, `identifies`, `groups`); RudderStack's are the same.
    #[default]
    Segment,
    /// PostHog's batch-export models (`events`, and optionally `persons`).
    Posthog,
}

impl Format {
    /// The name used in config and in `sql/<layer>/<format>/` overrides.
    pub fn name(self) -> &'static str {
        match self {
            Format::Segment => "segment",
            Format::Posthog => "posthog",
        }
    }
}

/// `[sources.posthog]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostHogFile {
    /// The events model export (one row per event; `properties` as JSON text).
    pub events: String,
    /// The persons model export (optional): each distinct id's person and latest properties.
    pub persons: Option<String>,
    /// The group type whose key is the account id (`$groups.<group_type>`); default `company`.
    #[serde(default = "default_group_type")]
    pub group_type: String,
}

fn default_group_type() -> String {
    "company".to_string()
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
    pub format: Format,
    /// The product-event datasets of that format.
    pub product: Product,
    pub subscriptions: Option<Location>,
    pub subscription_items: Option<Location>,
    pub customers_metadata: Option<Location>,
    pub events: BTreeMap<String, Location>,
    pub partition_slack_days: u32,
    pub max_lag_days: u32,
    pub account_id_key: String,
}

/// The product-event datasets, by format.
#[derive(Debug, Clone)]
pub enum Product {
    Segment {
        tracks: Location,
        identifies: Location,
        groups: Location,
    },
    Posthog {
        events: Location,
        persons: Option<Location>,
        group_type: String,
    },
}

impl SourcesConfig {
    /// The dataset holding every product event, which the freshness guard reads.
    pub fn event_dataset(&self) -> (&'static str, &Location) {
        match &self.product {
            Product::Segment { tracks, .. } => ("tracks", tracks),
            Product::Posthog { events, .. } => (POSTHOG_EVENTS, events),
        }
    }

    /// The group type bound as `$group_type` (PostHog's account group; `company` otherwise,
    /// unused by Segment's SQL).
    pub fn group_type(&self) -> &str {
        match &self.product {
            Product::Posthog { group_type, .. } => group_type,
            Product::Segment { .. } => "company",
        }
    }
}

/// `raw.` names of PostHog's models.
pub const POSTHOG_EVENTS: &str = "posthog_events";
pub const POSTHOG_PERSONS: &str = "posthog_persons";

/// Datasets configured directly under `[sources]`; per-event datasets may not reuse their names.
const CORE_DATASETS: &[&str] = &[
    "tracks",
    "identifies",
    "groups",
    "subscriptions",
    "subscription_items",
    "customers_metadata",
    POSTHOG_EVENTS,
    POSTHOG_PERSONS,
];

impl SourcesConfig {
    /// Validate `[sources]`: relative paths resolve against `base` (the config file's
    /// directory); `store_options` are the object-store credentials from the environment.
    pub fn from_file(
        file: &SourcesFile,
        base: &Path,
        store_options: &[(String, String)],
    ) -> Result<SourcesConfig, Invalid> {
        let at = Locate {
            base,
            store_options,
        };
        let events = events(file, &at)?;
        if file.stripe.account_id_key.trim().is_empty() {
            return Err(Invalid::new(
                "sources.stripe.account_id_key",
                "must not be empty",
            ));
        }
        let product = match file.format {
            Format::Segment => segment(file, &at)?,
            Format::Posthog => posthog(file, &at)?,
        };
        Ok(SourcesConfig {
            format: file.format,
            product,
            subscriptions: at.optional("sources.subscriptions", &file.subscriptions)?,
            subscription_items: at
                .optional("sources.subscription_items", &file.subscription_items)?,
            customers_metadata: at
                .optional("sources.customers_metadata", &file.customers_metadata)?,
            events,
            partition_slack_days: file.partition_slack_days,
            max_lag_days: file.max_lag_days,
            account_id_key: file.stripe.account_id_key.clone(),
        })
    }
}

/// Resolves a configured dataset URL against the config's directory and store options; an
/// error names the key.
struct Locate<'a> {
    base: &'a Path,
    store_options: &'a [(String, String)],
}

impl Locate<'_> {
    fn location(&self, key: &str, value: &str) -> Result<Location, Invalid> {
        Location::dataset(value, self.base, self.store_options).map_err(|m| Invalid::new(key, m))
    }

    fn optional(&self, key: &str, value: &Option<String>) -> Result<Option<Location>, Invalid> {
        value.as_deref().map(|v| self.location(key, v)).transpose()
    }
}

/// `[sources.events]`: one extra event dataset per lowercase name, none of them a core one.
fn events(file: &SourcesFile, at: &Locate<'_>) -> Result<BTreeMap<String, Location>, Invalid> {
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
        events.insert(event.clone(), at.location(&key, url)?);
    }
    Ok(events)
}

/// `format = "segment"`: the three Segment datasets, and no `[sources.posthog]`.
fn segment(file: &SourcesFile, at: &Locate<'_>) -> Result<Product, Invalid> {
    if file.posthog.is_some() {
        return Err(Invalid::new(
            "sources.posthog",
            "is read only with [sources] format = \"posthog\"; set that, or remove [sources.posthog]",
        ));
    }
    let required = |key: &str, value: &Option<String>| {
        value
            .as_deref()
            .ok_or_else(|| {
                Invalid::new(
                    format!("sources.{key}"),
                    "is required with format = \"segment\" (the default): the URL of the export",
                )
            })
            .and_then(|v| at.location(&format!("sources.{key}"), v))
    };
    Ok(Product::Segment {
        tracks: required("tracks", &file.tracks)?,
        identifies: required("identifies", &file.identifies)?,
        groups: required("groups", &file.groups)?,
    })
}

/// `format = "posthog"`: `[sources.posthog]`, and none of the Segment datasets.
fn posthog(file: &SourcesFile, at: &Locate<'_>) -> Result<Product, Invalid> {
    for (key, value) in [
        ("tracks", &file.tracks),
        ("identifies", &file.identifies),
        ("groups", &file.groups),
    ] {
        if value.is_some() {
            return Err(Invalid::new(
                format!("sources.{key}"),
                "is a Segment dataset, not read with format = \"posthog\"; remove it \
                 (PostHog's exports go under [sources.posthog])",
            ));
        }
    }
    let posthog = file.posthog.as_ref().ok_or_else(|| {
        Invalid::new(
            "sources.posthog",
            "is required with format = \"posthog\": set events = \"URL of the events export\"",
        )
    })?;
    let group_type = posthog.group_type.trim();
    if group_type.is_empty() {
        return Err(Invalid::new(
            "sources.posthog.group_type",
            "must name the PostHog group type of your accounts, e.g. \"company\"",
        ));
    }
    Ok(Product::Posthog {
        events: at.location("sources.posthog.events", &posthog.events)?,
        persons: at.optional("sources.posthog.persons", &posthog.persons)?,
        group_type: group_type.to_string(),
    })
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}
