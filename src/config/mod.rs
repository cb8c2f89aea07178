//! Configuration in two stages: `file` mirrors `pqlsync.toml` as people write it; this module
//! merges it with command-line flags and the environment into one validated [`Config`].
//!
//! This is the only module that reads environment variables (cloud credentials for object
//! stores). Relative paths in the file resolve against the file's own directory, so a
//! scheduler can run `pqlsync --config /etc/pqlsync/pqlsync.toml run` from anywhere.
//! Every error names the file and key at fault.

pub mod file;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};

use crate::cli::GlobalArgs;
use crate::hubspot::{DEFAULT_BASE_URL, ObjectType, Secret};
use crate::route::{DealStage, LeadStage, OwnerPools, Policy, Rule};
use crate::score::{Condition, Model, Op, Operand, Signal, Tiers};
use file::{ConfigFile, HubspotFile, RuleFile, ScoringFile, SignalFile};

/// Errors turning the file and flags into a [`Config`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "config file {path} not found (pass --config PATH, or run from a directory with pqlsync.toml)"
    )]
    NotFound { path: PathBuf },
    #[error("cannot read config file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("--{flag}: {message}")]
    Flag { flag: &'static str, message: String },
}

/// A location (dataset or state): as written in the config, and resolved for the object store.
#[derive(Clone)]
pub struct Location {
    /// As written, for messages.
    pub configured: String,
    /// An absolute local path (directories end in `/`) or a cloud URL.
    pub url: String,
    /// Object-store options from the environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`), lowercased
    /// keys as object_store expects. May hold secrets: never printed.
    pub store_options: Vec<(String, String)>,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.store_options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Location")
            .field("configured", &self.configured)
            .field("url", &self.url)
            .field("store_option_keys", &keys)
            .finish()
    }
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
    pub account_id_key: String,
}

/// The validated `[engine]`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub memory_limit: Option<usize>,
    pub target_partitions: usize,
    pub batch_size: usize,
    pub spill_dir: Option<PathBuf>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            memory_limit: None,
            target_partitions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_size: 8192,
            spill_dir: None,
        }
    }
}

/// How much to print on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    Debug,
}

/// Everything a command needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub as_of: NaiveDate,
    pub sources: SourcesConfig,
    pub sql_dir: PathBuf,
    pub extra_free_email_domains: Vec<String>,
    pub engine: EngineConfig,
    pub scoring: Model,
    pub routing: Policy,
    /// Where state (routing memory) lives: a local directory or an object-store URL.
    pub state: Location,
    /// Where the score history lives: `[history] url`, default `history` beside the state.
    pub history: Location,
    /// `[incremental]`: where rollups of `sql/incremental/` views live and how they advance.
    pub incremental: IncrementalConfig,
    /// `[report] dir`, default `out/report`.
    pub report_dir: PathBuf,
    /// `[report] weeks`: cohort weeks a report covers by default.
    pub report_weeks: u32,
    pub output_dir: PathBuf,
    pub out: Option<PathBuf>,
    pub verbosity: Verbosity,
    pub summary_json: Option<PathBuf>,
    pub hubspot: HubspotConfig,
}

/// The validated `[incremental]`, with `--full-refresh`.
#[derive(Debug, Clone)]
pub struct IncrementalConfig {
    pub location: Location,
    pub settle_days: u32,
    /// Rebuild every rollup from all history instead of extending it.
    pub full_refresh: bool,
}

/// Where the sync writes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A HubSpot portal (or the sandbox) at `base_url`.
    Portal { base_url: String, token: Secret },
    /// No portal configured: record the would-be requests to files.
    Offline,
}

/// The validated `[hubspot]`.
#[derive(Debug, Clone)]
pub struct HubspotConfig {
    pub target: Target,
    pub requests_per_10s: u32,
    pub max_concurrency: usize,
    pub timeout: std::time::Duration,
    pub max_attempts: u32,
    pub objects: Vec<ObjectType>,
    pub deal_pipeline: String,
    pub deal_stages: BTreeMap<DealStage, String>,
    pub lead_pipeline: Option<String>,
    pub lead_stages: BTreeMap<LeadStage, String>,
    pub lifecycle: BTreeMap<LeadStage, String>,
}

/// The deal stages' default labels (the PLG trial pipeline).
pub const DEFAULT_DEAL_STAGES: &[(DealStage, &str)] = &[
    (DealStage::TrialSelfServed, "Test Trial Self-Served"),
    (DealStage::TrialSalesAssisted, "Test Trial Sales-Assisted"),
    (DealStage::ClosedWon, "Closed Won"),
    (DealStage::ClosedLost, "Closed Lost"),
];

/// The lead stages' default labels.
pub const DEFAULT_LEAD_STAGES: &[(LeadStage, &str)] = &[
    (LeadStage::New, "New"),
    (LeadStage::Interested, "Interested"),
    (LeadStage::TrialRed, "Free Trial Active - Red"),
    (LeadStage::TrialYellow, "Free Trial Active - Yellow"),
    (LeadStage::TrialGreen, "Free Trial Active - Green"),
    (LeadStage::TrialEnded, "Trial Ended"),
    (LeadStage::SelfCheckedOut, "Self Checked Out"),
    (LeadStage::Disqualified, "Disqualified"),
];

/// Lifecycle stages by lead stage: a PQL in trial is a marketing-qualified lead, a Green one
/// sales-qualified, a self-checkout a customer. Trial Ended and Disqualified leave it alone.
pub const DEFAULT_LIFECYCLE: &[(LeadStage, &str)] = &[
    (LeadStage::New, "lead"),
    (LeadStage::Interested, "marketingqualifiedlead"),
    (LeadStage::TrialRed, "marketingqualifiedlead"),
    (LeadStage::TrialYellow, "marketingqualifiedlead"),
    (LeadStage::TrialGreen, "salesqualifiedlead"),
    (LeadStage::SelfCheckedOut, "customer"),
];

/// Datasets configured directly under `[sources]`; per-event datasets may not reuse their names.
const CORE_DATASETS: &[&str] = &[
    "tracks",
    "identifies",
    "groups",
    "subscriptions",
    "subscription_items",
    "customers_metadata",
];

/// Environment variable prefixes object_store reads credentials and endpoints from.
const CLOUD_ENV_PREFIXES: &[&str] = &["AWS_", "GOOGLE_", "AZURE_"];

/// Parse `--as-of` style dates.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date in YYYY-MM-DD form"))
}

/// The scoring day from flags, else the config, else today (UTC). Used without a config file
/// by `demo-data`.
pub fn as_of_from(flag: Option<&str>, file: Option<&str>) -> Result<NaiveDate, ConfigError> {
    if let Some(s) = flag {
        return parse_date(s).map_err(|message| ConfigError::Flag {
            flag: "as-of",
            message,
        });
    }
    match file {
        Some(s) => parse_date(s).map_err(|message| ConfigError::Flag {
            flag: "as-of",
            message: format!("[run] as_of: {message}"),
        }),
        None => Ok(Utc::now().date_naive()),
    }
}

/// A date flag such as `--from`: `YYYY-MM-DD`.
pub fn date_flag(flag: &'static str, value: &str) -> Result<NaiveDate, ConfigError> {
    parse_date(value).map_err(|message| ConfigError::Flag { flag, message })
}

pub fn verbosity(global: &GlobalArgs) -> Verbosity {
    match (global.quiet, global.verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        (false, 1) => Verbosity::Verbose,
        (false, _) => Verbosity::Debug,
    }
}

impl Config {
    /// Read `--config`, apply flags and the environment, validate.
    pub fn load(global: &GlobalArgs) -> Result<Config, ConfigError> {
        let path = global.config.clone();
        let text = std::fs::read_to_string(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => ConfigError::NotFound { path: path.clone() },
            _ => ConfigError::Io {
                path: path.clone(),
                source,
            },
        })?;
        let env: Vec<(String, String)> = std::env::vars().collect();
        Config::from_str(&text, &path, global, &env)
    }

    /// [`Config::load`] without touching the file system for the config itself or the process
    /// environment: what tests call.
    pub fn from_str(
        text: &str,
        path: &Path,
        global: &GlobalArgs,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        let parsed: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = std::path::absolute(&base).unwrap_or(base);
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };

        let store_options: Vec<(String, String)> = env
            .iter()
            .filter(|(k, _)| CLOUD_ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        let location = |key: &str, value: &str| -> Result<Location, ConfigError> {
            resolve_location(value, &base)
                .map(|url| Location {
                    configured: value.to_string(),
                    url,
                    store_options: store_options.clone(),
                })
                .map_err(|m| invalid(key, m))
        };
        let s = &parsed.sources;
        let optional =
            |key: &str, value: &Option<String>| -> Result<Option<Location>, ConfigError> {
                value.as_deref().map(|v| location(key, v)).transpose()
            };
        let mut events = BTreeMap::new();
        for (event, url) in &s.events {
            let key = format!("sources.events.{event}");
            if !is_identifier(event) {
                return Err(invalid(
                    &key,
                    "event names must be lowercase SQL identifiers (letters, digits, `_`)".into(),
                ));
            }
            if CORE_DATASETS.contains(&event.as_str()) {
                return Err(invalid(
                    &key,
                    format!(
                        "`{event}` is a core dataset; configure it under [sources], not [sources.events]"
                    ),
                ));
            }
            events.insert(event.clone(), location(&key, url)?);
        }
        if s.stripe.account_id_key.trim().is_empty() {
            return Err(invalid(
                "sources.stripe.account_id_key",
                "must not be empty".into(),
            ));
        }
        let sources = SourcesConfig {
            tracks: location("sources.tracks", &s.tracks)?,
            identifies: location("sources.identifies", &s.identifies)?,
            groups: location("sources.groups", &s.groups)?,
            subscriptions: optional("sources.subscriptions", &s.subscriptions)?,
            subscription_items: optional("sources.subscription_items", &s.subscription_items)?,
            customers_metadata: optional("sources.customers_metadata", &s.customers_metadata)?,
            events,
            partition_slack_days: s.partition_slack_days,
            account_id_key: s.stripe.account_id_key.clone(),
        };

        let mut engine = EngineConfig::default();
        if let Some(limit) = &parsed.engine.memory_limit {
            engine.memory_limit =
                Some(parse_bytes(limit).map_err(|m| invalid("engine.memory_limit", m))?);
        }
        if let Some(n) = parsed.engine.target_partitions {
            if n == 0 {
                return Err(invalid(
                    "engine.target_partitions",
                    "must be at least 1".into(),
                ));
            }
            engine.target_partitions = n;
        } else if engine.memory_limit.is_some() {
            // DataFusion 55's repartition spill pool can deadlock when two partitions spill at
            // once (apache/datafusion#24883); one partition cannot.
            engine.target_partitions = 1;
        }
        if let Some(n) = parsed.engine.batch_size {
            if n == 0 {
                return Err(invalid("engine.batch_size", "must be at least 1".into()));
            }
            engine.batch_size = n;
        }
        engine.spill_dir = parsed.engine.spill_dir.as_deref().map(|d| base.join(d));

        let as_of = as_of_from(global.as_of.as_deref(), parsed.run.as_of.as_deref())?;
        let scoring = scoring_model(&parsed.scoring).map_err(|(key, m)| invalid(&key, m))?;
        let routing = routing_policy(&parsed.routing).map_err(|(key, m)| invalid(&key, m))?;
        let state = Location {
            configured: parsed.state.url.clone(),
            url: if is_url(&parsed.state.url) {
                parsed.state.url.clone()
            } else {
                base.join(&parsed.state.url).to_string_lossy().into_owned()
            },
            store_options: store_options.clone(),
        };
        let sibling = |configured: &Option<String>, name: &str| {
            let configured = configured
                .clone()
                .unwrap_or_else(|| beside(&parsed.state.url, name));
            Location {
                url: if is_url(&configured) {
                    configured.clone()
                } else {
                    base.join(&configured).to_string_lossy().into_owned()
                },
                configured,
                store_options: store_options.clone(),
            }
        };
        let history = sibling(&parsed.history.url, "history");
        let incremental = IncrementalConfig {
            location: sibling(&parsed.incremental.url, "incremental"),
            settle_days: parsed.incremental.settle_days.unwrap_or(2),
            full_refresh: global.full_refresh,
        };
        let report_weeks = parsed.report.weeks.unwrap_or(26);
        if report_weeks == 0 {
            return Err(invalid("report.weeks", "must be at least 1".into()));
        }
        let hubspot =
            hubspot_config(&parsed.hubspot, &base, env).map_err(|(key, m)| invalid(&key, m))?;
        Ok(Config {
            path: path.to_path_buf(),
            as_of,
            sources,
            sql_dir: base.join(&parsed.sql.dir),
            extra_free_email_domains: parsed.sql.extra_free_email_domains.clone(),
            engine,
            scoring,
            routing,
            state,
            history,
            incremental,
            report_dir: base.join(parsed.report.dir.as_deref().map_or_else(
                || Path::new(&parsed.output.dir).join("report"),
                PathBuf::from,
            )),
            report_weeks,
            output_dir: base.join(&parsed.output.dir),
            out: global.out.clone(),
            verbosity: verbosity(global),
            summary_json: global.summary_json.clone(),
            hubspot,
        })
    }

    /// Every feature column the config reads from `account_features`, with the key naming it.
    pub fn referenced_features(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (list, signals) in [("fit", &self.scoring.fit), ("usage", &self.scoring.usage)] {
            for (i, s) in signals.iter().enumerate() {
                out.push((
                    format!("scoring.{list}[{i}].feature"),
                    s.condition.feature.clone(),
                ));
            }
        }
        for (i, r) in self.routing.disqualify.iter().enumerate() {
            out.push((
                format!("routing.disqualify[{i}].feature"),
                r.condition.feature.clone(),
            ));
        }
        out
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// `name` as a sibling of the location `of` (`.pqlsync/state` → `.pqlsync/history`,
/// `s3://b/p/state/` → `s3://b/p/history`, `s3://b` → `s3://b/history`).
pub(crate) fn beside(of: &str, name: &str) -> String {
    let trimmed = of.trim().trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((parent, _)) if !parent.ends_with(':') && !parent.ends_with(":/") => {
            format!("{parent}/{name}")
        }
        Some(_) => format!("{trimmed}/{name}"),
        None => name.to_string(),
    }
}

fn is_url(s: &str) -> bool {
    s.contains("://")
}

/// Resolve a dataset location: plain paths against `base`, `file://` URLs to paths, cloud URLs
/// checked for a supported scheme. Directories get a trailing `/` so they list as collections.
fn resolve_location(value: &str, base: &Path) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if is_url(value) {
        let url =
            url::Url::parse(value).map_err(|e| format!("`{value}` is not a valid URL: {e}"))?;
        return match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|_| format!("`{value}` is not a valid file:// URL"))?;
                Ok(local(&path))
            }
            "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" => {
                let mut u = value.to_string();
                if !u.ends_with('/') && !u.ends_with(".parquet") {
                    u.push('/');
                }
                Ok(u)
            }
            other => Err(format!(
                "unsupported scheme `{other}://` (use a path, file://, s3://, gs:// or az://)"
            )),
        };
    }
    Ok(local(&base.join(value)))
}

fn local(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut s = abs.to_string_lossy().into_owned();
    if abs.is_dir() && !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// `"512MB"`, `"4GiB"`, `"1.5G"`, `"1048576"` → bytes. Decimal units are powers of 1000,
/// binary units (`KiB`, `MiB`, `GiB`) powers of 1024.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size like \"512MB\" or \"4GiB\""))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024f64.powi(4),
        other => {
            return Err(format!(
                "`{s}`: unknown unit `{other}` (use B, KB, MB, GB, KiB, MiB, GiB)"
            ));
        }
    };
    let bytes = n * mult;
    if bytes < 1.0 {
        return Err(format!("`{s}` is too small"));
    }
    Ok(bytes as usize)
}

const DEFAULTS: &str = include_str!("defaults.toml");

/// The built-in scoring section, parsed.
pub fn default_scoring() -> ScoringFile {
    toml::from_str(DEFAULTS).expect("built-in defaults.toml parses")
}

type KeyError = (String, String);

fn scoring_model(file: &ScoringFile) -> Result<Model, KeyError> {
    let defaults = default_scoring();
    let fit_weight = file.fit_weight.or(defaults.fit_weight).unwrap_or(0.4);
    let usage_weight = file.usage_weight.or(defaults.usage_weight).unwrap_or(0.6);
    for (key, w) in [
        ("scoring.fit_weight", fit_weight),
        ("scoring.usage_weight", usage_weight),
    ] {
        if !(w.is_finite() && w >= 0.0) {
            return Err((
                key.into(),
                format!("must be a non-negative number, got {w}"),
            ));
        }
    }
    if fit_weight + usage_weight <= 0.0 {
        return Err((
            "scoring.fit_weight".into(),
            "fit_weight + usage_weight must be positive".into(),
        ));
    }
    let tiers = file
        .tiers
        .clone()
        .or(defaults.tiers)
        .expect("defaults have tiers");
    if !(tiers.yellow < tiers.green && tiers.green <= 100) {
        return Err((
            "scoring.tiers".into(),
            format!(
                "need yellow < green ≤ 100, got yellow = {}, green = {}",
                tiers.yellow, tiers.green
            ),
        ));
    }
    let signals =
        |list: &str, given: &Option<Vec<SignalFile>>, default: Option<Vec<SignalFile>>| {
            given
                .clone()
                .or(default)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, s)| signal(&format!("scoring.{list}[{i}]"), s))
                .collect::<Result<Vec<_>, _>>()
        };
    Ok(Model {
        fit: signals("fit", &file.fit, defaults.fit)?,
        usage: signals("usage", &file.usage, defaults.usage)?,
        fit_weight: fit_weight / (fit_weight + usage_weight),
        tiers: Tiers {
            yellow: tiers.yellow,
            green: tiers.green,
        },
    })
}

fn signal(key: &str, s: &SignalFile) -> Result<Signal, KeyError> {
    let condition = condition(key, &s.feature, &s.op, s.value.as_ref())?;
    if let Some(per) = s.per {
        if !(per.is_finite() && per > 0.0) {
            return Err((
                format!("{key}.per"),
                format!("must be a positive number, got {per}"),
            ));
        }
        if !condition.op.is_ordering() {
            return Err((
                format!("{key}.per"),
                "per-unit signals need a numeric comparison (>=, >, <=, <, between)".into(),
            ));
        }
    } else if s.max_points.is_some() {
        return Err((
            format!("{key}.max_points"),
            "only applies to per-unit signals (set `per`)".into(),
        ));
    }
    if s.points == 0 {
        return Err((
            format!("{key}.points"),
            "a signal worth 0 points never shows; remove it".into(),
        ));
    }
    Ok(Signal {
        condition,
        points: s.points,
        per: s.per,
        max_points: s.max_points,
        fire_on_null: s.fire_on_null,
        label: s.label.clone(),
    })
}

fn condition(
    key: &str,
    feature: &str,
    op: &str,
    value: Option<&toml::Value>,
) -> Result<Condition, KeyError> {
    if feature.trim().is_empty() {
        return Err((
            format!("{key}.feature"),
            "must name an account_features column".into(),
        ));
    }
    let op_parsed = Op::parse(op.trim()).ok_or_else(|| {
        let names: Vec<&str> = Op::ALL.iter().map(|(n, _)| *n).collect();
        (
            format!("{key}.op"),
            format!("unknown operator `{op}` (one of {})", names.join(", ")),
        )
    })?;
    let vkey = format!("{key}.value");
    let scalar = |v: &toml::Value| -> Result<Operand, KeyError> {
        match v {
            toml::Value::Integer(i) => Ok(Operand::Number(*i as f64)),
            toml::Value::Float(f) => Ok(Operand::Number(*f)),
            toml::Value::String(s) => Ok(Operand::Text(s.clone())),
            toml::Value::Boolean(b) => Ok(Operand::Bool(*b)),
            other => Err((
                vkey.clone(),
                format!(
                    "expected a number, string or boolean, got {}",
                    other.type_str()
                ),
            )),
        }
    };
    let operand = match (op_parsed, value) {
        (Op::IsTrue | Op::IsFalse | Op::IsNull | Op::IsNotNull, None) => Operand::None,
        (Op::IsTrue | Op::IsFalse | Op::IsNull | Op::IsNotNull, Some(_)) => {
            return Err((vkey, format!("`{op}` takes no value; remove it")));
        }
        (_, None) => return Err((vkey, format!("`{op}` needs a value"))),
        (Op::Between, Some(toml::Value::Array(items))) => match items.as_slice() {
            [lo, hi] => match (scalar(lo)?, scalar(hi)?) {
                (Operand::Number(lo), Operand::Number(hi)) if lo <= hi => Operand::Range(lo, hi),
                _ => {
                    return Err((
                        vkey,
                        "`between` needs [low, high] numbers with low ≤ high".into(),
                    ));
                }
            },
            _ => return Err((vkey, "`between` needs exactly [low, high]".into())),
        },
        (Op::Between, Some(_)) => return Err((vkey, "`between` needs [low, high]".into())),
        (Op::In | Op::NotIn, Some(toml::Value::Array(items))) => {
            Operand::List(items.iter().map(scalar).collect::<Result<_, _>>()?)
        }
        (Op::In | Op::NotIn, Some(_)) => {
            return Err((vkey, format!("`{op}` needs a list, e.g. [\"a\", \"b\"]")));
        }
        (op, Some(v)) => {
            let operand = scalar(v)?;
            if op.is_ordering() && !matches!(operand, Operand::Number(_)) {
                return Err((vkey, format!("`{}` compares numbers; got {v}", op_name(op))));
            }
            operand
        }
    };
    Ok(Condition {
        feature: feature.trim().to_string(),
        op: op_parsed,
        operand,
    })
}

fn op_name(op: Op) -> &'static str {
    Op::ALL
        .iter()
        .find(|(_, o)| *o == op)
        .map_or("?", |(n, _)| *n)
}

fn routing_policy(file: &file::RoutingFile) -> Result<Policy, KeyError> {
    let d = Policy::default();
    let positive = |key: &str, v: Option<i64>, default: i64| -> Result<i64, KeyError> {
        match v {
            Some(n) if n < 0 => Err((
                format!("routing.{key}"),
                format!("must not be negative, got {n}"),
            )),
            Some(n) => Ok(n),
            None => Ok(default),
        }
    };
    let owners = |key: &str, list: &[String]| -> Result<Vec<String>, KeyError> {
        let mut out: Vec<String> = Vec::new();
        for o in list {
            let o = o.trim().to_ascii_lowercase();
            if !o.contains('@') {
                return Err((
                    format!("routing.owners.{key}"),
                    format!("`{o}` is not an email address"),
                ));
            }
            if !out.contains(&o) {
                out.push(o);
            }
        }
        Ok(out)
    };
    let disqualify = file
        .disqualify
        .iter()
        .enumerate()
        .map(|(i, r): (usize, &RuleFile)| {
            let key = format!("routing.disqualify[{i}]");
            if r.reason.trim().is_empty() {
                return Err((format!("{key}.reason"), "must say why".into()));
            }
            Ok(Rule {
                condition: condition(&key, &r.feature, &r.op, r.value.as_ref())?,
                reason: r.reason.trim().to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        enterprise_seats: positive(
            "enterprise_seats",
            file.enterprise_seats,
            d.enterprise_seats,
        )?,
        sales_assist_after_days: positive(
            "sales_assist_after_days",
            file.sales_assist_after_days,
            d.sales_assist_after_days,
        )?,
        task_due_days: positive("task_due_days", file.task_due_days, d.task_due_days)?,
        paid_statuses: file.paid_statuses.clone().unwrap_or(d.paid_statuses),
        owners: OwnerPools {
            enterprise: owners("enterprise", &file.owners.enterprise)?,
            self_serve: owners("self_serve", &file.owners.self_serve)?,
        },
        disqualify,
    })
}

#[cfg(test)]
mod tests;

fn env_var<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn hubspot_config(
    file: &HubspotFile,
    base: &Path,
    env: &[(String, String)],
) -> Result<HubspotConfig, KeyError> {
    let base_url = env_var(env, "HUBSPOT_BASE_URL")
        .map(str::to_string)
        .or_else(|| file.base_url.clone());
    if let Some(url) = &base_url {
        let parsed = url::Url::parse(url).map_err(|e| {
            (
                "hubspot.base_url".to_string(),
                format!("`{url}` is not a URL: {e}"),
            )
        })?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err((
                "hubspot.base_url".into(),
                format!("`{url}` must be an https:// (or, for the sandbox, http://) URL"),
            ));
        }
    }
    let token = match env_var(env, "HUBSPOT_TOKEN") {
        Some(t) => Some(Secret::new(t)),
        None => match &file.token_file {
            Some(f) => {
                let path = base.join(f);
                // The message names the file, never its contents.
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    (
                        "hubspot.token_file".to_string(),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let t = text.trim();
                if t.is_empty() {
                    return Err((
                        "hubspot.token_file".into(),
                        format!("{} is empty", path.display()),
                    ));
                }
                Some(Secret::new(t))
            }
            None => None,
        },
    };
    let target = match (token, base_url) {
        (Some(token), url) => Target::Portal {
            base_url: url.unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            token,
        },
        (None, Some(_)) => {
            return Err((
                "hubspot.base_url".into(),
                "a HubSpot URL is configured (here or in HUBSPOT_BASE_URL) but no token: set HUBSPOT_TOKEN or [hubspot] token_file".into(),
            ));
        }
        (None, None) => Target::Offline,
    };
    let objects = match &file.objects {
        None => ObjectType::ALL.to_vec(),
        Some(list) => list
            .iter()
            .map(|o| {
                ObjectType::parse(o.trim()).ok_or_else(|| {
                    (
                        "hubspot.objects".to_string(),
                        format!("unknown object `{o}` (companies, contacts, deals, leads, tasks)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    let stages = |key: &str,
                  given: &Option<BTreeMap<String, String>>,
                  parse: &dyn Fn(&str) -> bool|
     -> Result<BTreeMap<String, String>, KeyError> {
        let mut out = BTreeMap::new();
        for (k, v) in given.iter().flatten() {
            if !parse(k) {
                return Err((format!("{key}.{k}"), "not a pqlsync stage name".into()));
            }
            if v.trim().is_empty() {
                return Err((
                    format!("{key}.{k}"),
                    "must name a stage (label or id)".into(),
                ));
            }
            out.insert(k.clone(), v.trim().to_string());
        }
        Ok(out)
    };
    let deal_given = stages("hubspot.deals.stages", &file.deals.stages, &|k| {
        DealStage::parse(k).is_some()
    })?;
    let deal_stages = DEFAULT_DEAL_STAGES
        .iter()
        .map(|(st, label)| {
            (
                *st,
                deal_given
                    .get(st.as_str())
                    .cloned()
                    .unwrap_or_else(|| label.to_string()),
            )
        })
        .collect();
    let lead_given = stages("hubspot.leads.stages", &file.leads.stages, &|k| {
        LeadStage::parse(k).is_some()
    })?;
    let lead_stages = DEFAULT_LEAD_STAGES
        .iter()
        .map(|(st, label)| {
            (
                *st,
                lead_given
                    .get(st.as_str())
                    .cloned()
                    .unwrap_or_else(|| label.to_string()),
            )
        })
        .collect();
    let lifecycle = match &file.lifecycle_stages {
        None => DEFAULT_LIFECYCLE
            .iter()
            .map(|(st, l)| (*st, l.to_string()))
            .collect(),
        Some(map) => {
            let mut out = BTreeMap::new();
            for (k, v) in map {
                let st = LeadStage::parse(k).ok_or_else(|| {
                    (
                        format!("hubspot.lifecycle_stages.{k}"),
                        "not a pqlsync lead stage".to_string(),
                    )
                })?;
                if !v.trim().is_empty() {
                    out.insert(st, v.trim().to_string());
                }
            }
            out
        }
    };
    let positive = |key: &str, v: Option<u64>, default: u64| -> Result<u64, KeyError> {
        match v {
            Some(0) => Err((format!("hubspot.{key}"), "must be at least 1".into())),
            Some(n) => Ok(n),
            None => Ok(default),
        }
    };
    Ok(HubspotConfig {
        target,
        requests_per_10s: positive(
            "requests_per_10s",
            file.requests_per_10s.map(u64::from),
            100,
        )? as u32,
        max_concurrency: positive("max_concurrency", file.max_concurrency.map(|n| n as u64), 4)?
            as usize,
        timeout: std::time::Duration::from_secs(positive("timeout_secs", file.timeout_secs, 30)?),
        max_attempts: positive("max_attempts", file.max_attempts.map(u64::from), 8)? as u32,
        objects,
        deal_pipeline: file
            .deals
            .pipeline
            .clone()
            .unwrap_or_else(|| "PLG Trials".into()),
        deal_stages,
        lead_pipeline: file.leads.pipeline.clone(),
        lead_stages,
        lifecycle,
    })
}
