//! The configuration file as written by people: serde structs mirroring `pqlsync.toml`.
//! Every field has a doc comment because README's config reference is written from them.
//! Nothing here is validated beyond its TOML type; `config::Config::load` does that.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole `pqlsync.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Defaults for a run that the command line can override.
    #[serde(default)]
    pub run: RunFile,
    /// Where the product-event and billing exports are.
    pub sources: SourcesFile,
    /// Where the analyst-owned SQL lives.
    #[serde(default)]
    pub sql: SqlFile,
    /// Query engine limits.
    #[serde(default)]
    pub engine: EngineFile,
    /// Fit and usage scoring. Omitted lists fall back to the built-in defaults.
    #[serde(default)]
    pub scoring: ScoringFile,
    /// Motion, owner, stage and task rules.
    #[serde(default)]
    pub routing: RoutingFile,
    /// What the job remembers between runs.
    #[serde(default)]
    pub state: StateFile,
    /// The score history `run` and `backfill` append to and `report` reads.
    #[serde(default)]
    pub history: HistoryFile,
    /// Rollups of `sql/incremental/` views, extended day by day instead of recomputed.
    #[serde(default)]
    pub incremental: IncrementalFile,
    /// The cohort and funnel report.
    #[serde(default)]
    pub report: ReportFile,
    /// Where run outputs go.
    #[serde(default)]
    pub output: OutputFile,
    /// The HubSpot portal the decisions are synced to.
    #[serde(default)]
    pub hubspot: HubspotFile,
}

/// `[hubspot]`: where and how to sync. Without a token (`HUBSPOT_TOKEN` or `token_file`) and
/// without a base URL, `run` records the requests it would send to `out/hubspot/` instead.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubspotFile {
    /// API base URL (default `https://api.hubapi.com`); the `HUBSPOT_BASE_URL` environment
    /// variable overrides it. Point it at `pqlsync sandbox` to rehearse a sync locally.
    pub base_url: Option<String>,
    /// File holding the private app's access token, used when `HUBSPOT_TOKEN` is not set.
    pub token_file: Option<String>,
    /// Requests allowed per rolling 10 seconds: 100 (Free/Starter) or 190 (Professional/Enterprise).
    pub requests_per_10s: Option<u32>,
    /// Requests in flight at once (default 4).
    pub max_concurrency: Option<usize>,
    /// Seconds before a request times out (default 30).
    pub timeout_secs: Option<u64>,
    /// Attempts per request before its records are reported as failed (default 8).
    pub max_attempts: Option<u32>,
    /// Object types to write (default all): companies, contacts, deals, leads, tasks.
    pub objects: Option<Vec<String>>,
    /// The trial deal pipeline and stages.
    #[serde(default)]
    pub deals: PipelineFile,
    /// The lead pipeline and stages.
    #[serde(default)]
    pub leads: PipelineFile,
    /// Lifecycle stage to move contacts and companies to, by lead stage (only ever forward).
    pub lifecycle_stages: Option<BTreeMap<String, String>>,
}

/// `[hubspot.deals]` / `[hubspot.leads]`: a pipeline and its stages, each by label or id.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Pipeline label or id. Deals default to "PLG Trials"; leads to the portal's lead pipeline.
    pub pipeline: Option<String>,
    /// Stage label or id by pqlsync stage name (`trial_self_served`, … or `new`, `trial_red`, …).
    pub stages: Option<BTreeMap<String, String>>,
}

/// `[run]`: defaults for a run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunFile {
    /// Pin the scoring day (`YYYY-MM-DD`, UTC) when `--as-of` is not given; default today (UTC).
    /// Useful for demo data and reproducible reports, not for a scheduled job.
    pub as_of: Option<String>,
}

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

/// `[sql]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlFile {
    /// Directory holding `staging/`, `incremental/`, `features/` (and `seeds/`, `reports/`).
    #[serde(default = "default_sql_dir")]
    pub dir: String,
    /// Extra free-mail domains, on top of `seeds/free_email_domains.csv`.
    #[serde(default)]
    pub extra_free_email_domains: Vec<String>,
}

impl Default for SqlFile {
    fn default() -> Self {
        SqlFile {
            dir: default_sql_dir(),
            extra_free_email_domains: Vec::new(),
        }
    }
}

fn default_sql_dir() -> String {
    "sql".to_string()
}

/// `[engine]`: DataFusion limits.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineFile {
    /// Memory the query engine may use, e.g. `"512MB"` or `"4GiB"`; beyond it, sorts and
    /// aggregations spill to disk. Default: unbounded.
    pub memory_limit: Option<String>,
    /// Parallelism of query execution. Default: the number of CPU cores, or 1 when
    /// `memory_limit` is set: in DataFusion 55 a query that spills between two or more
    /// partitions can hang (apache/datafusion#24883), so a bounded run is single-partition
    /// unless you set this.
    pub target_partitions: Option<usize>,
    /// Rows per Arrow record batch. Default: 8192.
    pub batch_size: Option<usize>,
    /// Directory for spill files. Default: the system temp directory.
    pub spill_dir: Option<String>,
}

/// `[scoring]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringFile {
    /// Weight of the fit score in the PQL score (default 0.4). Weights are normalised by their sum.
    pub fit_weight: Option<f64>,
    /// Weight of the usage score in the PQL score (default 0.6).
    pub usage_weight: Option<f64>,
    /// Tier thresholds on the PQL score.
    pub tiers: Option<TiersFile>,
    /// Firmographic fit signals. Replaces the built-in list when present.
    pub fit: Option<Vec<SignalFile>>,
    /// Product usage signals. Replaces the built-in list when present.
    pub usage: Option<Vec<SignalFile>>,
}

/// `[scoring.tiers]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TiersFile {
    /// Lowest PQL score that is Yellow (default 40).
    pub yellow: u8,
    /// Lowest PQL score that is Green (default 70).
    pub green: u8,
}

/// One scoring signal: a condition on an `account_features` column and the points it is worth.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalFile {
    /// The `account_features` column this signal reads.
    pub feature: String,
    /// Comparison: `>=`, `>`, `<=`, `<`, `=`, `!=`, `between`, `in`, `not_in`,
    /// `is_true`, `is_false`, `is_null`, `is_not_null`.
    pub op: String,
    /// What the feature is compared with: a number, string or boolean; a two-element
    /// `[low, high]` (inclusive) for `between`; a list for `in`/`not_in`; absent for the unary ops.
    pub value: Option<toml::Value>,
    /// Points when the condition holds; negative for a penalty.
    pub points: i32,
    /// Makes this a per-unit signal: `points` for every `per` units of the feature.
    pub per: Option<f64>,
    /// Cap (in absolute points) on what a per-unit signal can contribute.
    pub max_points: Option<i32>,
    /// Whether a null feature value counts as the condition holding (e.g. never active is inactive).
    #[serde(default)]
    pub fire_on_null: bool,
    /// Name shown in explanations instead of the feature column.
    pub label: Option<String>,
}

/// `[routing]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingFile {
    /// Seats at or above which an account goes to enterprise sales (default 50).
    pub enterprise_seats: Option<i64>,
    /// Days into a trial after which an account that is not Green becomes sales-assisted (default 7).
    pub sales_assist_after_days: Option<i64>,
    /// Days after a Green activation that the rep's task is due (default 1).
    pub task_due_days: Option<i64>,
    /// Stripe subscription statuses that make an account a paying customer (default active, past_due).
    pub paid_statuses: Option<Vec<String>>,
    /// Owner pools for accounts without an owner.
    #[serde(default)]
    pub owners: OwnersFile,
    /// Persona and spam rules: an account matching any rule is disqualified.
    #[serde(default)]
    pub disqualify: Vec<RuleFile>,
}

/// `[routing.owners]`: who gets unowned accounts. Assignment is deterministic (rendezvous hashing
/// on the account id) and balanced across each pool.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnersFile {
    /// Enterprise sales owners (email), for accounts at or above `enterprise_seats`.
    #[serde(default)]
    pub enterprise: Vec<String>,
    /// Self-serve / SMB owners (email), for everyone else.
    #[serde(default)]
    pub self_serve: Vec<String>,
}

/// `[[routing.disqualify]]`: a condition that disqualifies an account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The `account_features` column this rule reads.
    pub feature: String,
    /// Comparison, as for scoring signals.
    pub op: String,
    /// Comparison value, as for scoring signals.
    pub value: Option<toml::Value>,
    /// Why the account is disqualified, shown in the route reason.
    pub reason: String,
}

/// `[state]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    /// Where the job keeps its memory between runs (a directory path or object-store URL).
    #[serde(default = "default_state_url")]
    pub url: String,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile {
            url: default_state_url(),
        }
    }
}

fn default_state_url() -> String {
    ".pqlsync/state".to_string()
}

/// `[history]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryFile {
    /// Where the score history lives (a directory path or object-store URL): Parquet, one
    /// `as_of=YYYY-MM-DD/` directory per scoring day. Default: `history` beside the state
    /// directory (`.pqlsync/history` for the default state).
    pub url: Option<String>,
}

/// `[incremental]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrementalFile {
    /// Where the rollups of `sql/incremental/` views live (a directory path or object-store
    /// URL). They are a cache of the exports: deleting them costs one full scan. Default:
    /// `incremental` beside the state directory (`.pqlsync/incremental` for the default state).
    pub url: Option<String>,
    /// Days before the end of the scoring day that are still re-read each run instead of
    /// rolled up, because late events may still land in them (default 2). A rollup is also
    /// rebuilt whenever a file it was built from changes.
    pub settle_days: Option<u32>,
}

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFile {
    /// Directory `report` writes to when `--out` is not given (default `out/report`).
    pub dir: Option<String>,
    /// Weeks of trial cohorts a report covers when `--from` is not given (default 26).
    pub weeks: Option<u32>,
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// Directory `run` writes `decisions.parquet` to when `--out` is not given.
    #[serde(default = "default_output_dir")]
    pub dir: String,
}

impl Default for OutputFile {
    fn default() -> Self {
        OutputFile {
            dir: default_output_dir(),
        }
    }
}

fn default_output_dir() -> String {
    "out".to_string()
}
