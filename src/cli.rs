//! Command-line definitions (clap derive) and nothing else: what each subcommand and flag means.
//! Turning flags into a validated configuration is the `config` module's job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::logging::LogFormat;

/// Product-led growth reverse ETL: Parquet product events and Stripe billing in,
/// PQL scores, routing decisions and HubSpot records out.
#[derive(Debug, Parser)]
#[command(name = "pqlsync", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Configuration file; relative paths inside it resolve against its directory.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "pqlsync.toml"
    )]
    pub config: PathBuf,

    /// The scoring day (UTC). Features use events strictly before the end of this day.
    /// `today` and `yesterday` (UTC) are accepted too. Default: `[run] as_of` from the config,
    /// else today (UTC).
    #[arg(long, global = true, value_name = "YYYY-MM-DD")]
    pub as_of: Option<String>,

    /// Output location: a directory for `run` and `demo-data`, a file (.parquet or .csv) for
    /// `features` and `score`.
    #[arg(long, global = true, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// More detail on stderr (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Rebuild the rollups of `sql/incremental/` views from all history instead of extending
    /// them with the days since the last run (after changing how past data is interpreted).
    #[arg(long, global = true)]
    pub full_refresh: bool,

    /// Accept an --as-of more than a day after today (UTC). A run on a future day closes
    /// trials that are still live, and later runs cannot go back to a real day.
    #[arg(long, global = true)]
    pub allow_future: bool,

    /// Score even when `tracks` has no event within `[sources] max_lag_days` of the scoring
    /// day (a stalled export would otherwise read as every account going quiet).
    #[arg(long, global = true)]
    pub allow_stale: bool,

    /// Also write the run summary as JSON to this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// How stderr reads: `text` for people, `json` for a log pipeline (one JSON object per
    /// line, with the stage; each stage is logged as it ends). With `json` the closing report
    /// is a log event too, and stdout carries only what a command exists to print (`explain`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole job: features, scores, routing, HubSpot sync; writes DIR/decisions.parquet
    /// (default DIR: out). Without a portal configured, the HubSpot requests go to DIR/hubspot/.
    Run(RunArgs),
    /// What a run would change in HubSpot, per object (and with -v per property), without writing.
    Plan,
    /// Prepare or check a HubSpot portal: properties, pipelines, stages, owners.
    Hubspot(HubspotArgs),
    /// Compute `account_features` (or another view, `--view`) and write it to --out FILE
    /// (.parquet or .csv).
    Features(FeaturesArgs),
    /// Features plus scores and routing, one row per account, to --out FILE (.parquet or .csv).
    Score,
    /// A readable breakdown of one account: features, signals, scores and route.
    Explain(ExplainArgs),
    /// What sync runs wrote to HubSpot, from the change log: the runs kept, or one run's
    /// entries (`--run ID`, `--last`), for an account or object type; `--out FILE` writes
    /// them as CSV or Parquet.
    Changes(ChangesArgs),
    /// Undo a run: set back in HubSpot every record that still holds what the run wrote, to
    /// the values it held before, and roll back the routing memory (`--dry-run` writes
    /// nothing and shows the plan).
    Revert(RevertArgs),
    /// Check the config, the SQL and the source schemas without computing anything.
    Validate,
    /// Write score history for past days (as `run` would have scored them), e.g. before the
    /// first report or after changing the scoring config.
    Backfill(BackfillArgs),
    /// Cohort, activation, funnel and revenue tables from the score history, as CSV, Parquet
    /// and one self-contained HTML page, into --out DIR (default `[report] dir`).
    Report(ReportArgs),
    /// Learn signal points and tier thresholds from past trials, and show how well the
    /// current and the suggested scoring rank them (writes --out DIR, default
    /// `out/calibration`; never changes the config).
    Calibrate(CalibrateArgs),
    /// Generate deterministic, contract-shaped demo exports into --out DIR.
    DemoData(DemoDataArgs),
    /// Serve a local, in-memory HubSpot-compatible API on 127.0.0.1 to try a config end to end.
    Sandbox(SandboxArgs),
    /// Run a Ballista scheduler or executor for `[engine] kind = "ballista"` (a build with the
    /// `ballista` feature).
    Cluster(ClusterArgs),
}

impl Command {
    /// The subcommand as typed, for log events.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Run(_) => "run",
            Command::Plan => "plan",
            Command::Hubspot(_) => "hubspot",
            Command::Features(_) => "features",
            Command::Score => "score",
            Command::Explain(_) => "explain",
            Command::Changes(_) => "changes",
            Command::Revert(_) => "revert",
            Command::Validate => "validate",
            Command::Backfill(_) => "backfill",
            Command::Report(_) => "report",
            Command::Calibrate(_) => "calibrate",
            Command::DemoData(_) => "demo-data",
            Command::Sandbox(_) => "sandbox",
            Command::Cluster(_) => "cluster",
        }
    }
}

#[derive(Debug, Clone, Args, Default)]
pub struct RunArgs {
    /// Compute decisions and show the HubSpot plan; write nothing and advance no state.
    #[arg(long)]
    pub dry_run: bool,
    /// When another run holds the state, wait up to SECS for it instead of exiting 3.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
}

#[derive(Debug, Clone, Args)]
pub struct BackfillArgs {
    /// First day to score (UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: String,
    /// Last day to score (UTC); default the as-of day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<String>,
    /// When another run holds the state, wait up to SECS for it instead of exiting 3.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
}

/// Which files `report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Csv,
    Parquet,
    Html,
    All,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// First trial-start day of the cohorts reported (default: `[report] weeks` weeks back).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<String>,
    /// Last trial-start day of the cohorts reported (default: the as-of day).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<String>,
    /// Which files to write.
    #[arg(long, value_enum, default_value_t = ReportFormat::All)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Args)]
pub struct HubspotArgs {
    #[command(subcommand)]
    pub command: HubspotCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum HubspotCommand {
    /// Create what pqlsync needs in the portal (idempotent) and report what was found.
    Setup {
        /// Also create the deal pipeline and any missing deal or lead stages.
        #[arg(long)]
        create_pipelines: bool,
    },
    /// Check that the portal has everything pqlsync needs, without writing.
    Check,
}

#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ClusterCommand {
    /// Plan the job's queries into stages and hand them to executors. Prints
    /// `df://HOST:PORT`, the `[engine] url` for jobs, once it listens.
    Scheduler {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
        bind: String,
        /// Port to listen on (default: 50050; 0 picks a free one).
        #[arg(long, value_name = "N", default_value_t = 50050)]
        port: u16,
    },
    /// Run query stages for a scheduler, reading the exports from their object store (with
    /// credentials from the AWS_*, GOOGLE_* and AZURE_* environment, as the job does).
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
        bind: String,
        /// The host name the scheduler and other executors reach this one at (default: the
        /// --bind address, or this machine's address as the scheduler sees it).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
        /// Arrow Flight port for shuffle reads (default: a free port, so several executors
        /// can share a host).
        #[arg(long, value_name = "N")]
        port: Option<u16>,
        /// Directory for shuffle files and spills (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Memory the executor's tasks share, e.g. "8GiB"; beyond it they spill to
        /// --work-dir (default: a share of the machine's memory, as Ballista detects it).
        #[arg(long, value_name = "SIZE")]
        memory_limit: Option<String>,
        /// Tasks run at once (default: the number of cores).
        #[arg(long, value_name = "N")]
        concurrent_tasks: Option<usize>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct FeaturesArgs {
    /// The view to compute instead of `account_features`: any view of `sql/` but a report,
    /// say `user_features` or `account_contacts` (default --out: `out/VIEW.parquet`).
    #[arg(long, value_name = "NAME")]
    pub view: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// The account id (`groups.group_id`).
    pub account_id: String,
    /// Print the breakdown as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ChangesArgs {
    /// The run whose entries to list (an id `pqlsync changes` lists).
    #[arg(long, value_name = "ID", conflicts_with = "last")]
    pub run: Option<String>,
    /// The latest run's entries.
    #[arg(long)]
    pub last: bool,
    /// Only the entries of this account (`groups.group_id`), across runs unless one is given.
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Only entries of this object type: companies, contacts, deals, leads, tasks, or
    /// associations (failed associations).
    #[arg(long, value_name = "TYPE")]
    pub object: Option<String>,
    /// At most this many entries in the text listing (all go to --out).
    #[arg(long, default_value_t = 200)]
    pub limit: usize,
}

#[derive(Debug, Clone, Args)]
pub struct RevertArgs {
    /// The run to undo (an id `pqlsync changes` lists).
    #[arg(long, value_name = "ID")]
    pub run: String,
    /// Read HubSpot and show exactly what the revert would write; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also archive the tasks the run created that nobody has touched since (other records
    /// it created are never removed).
    #[arg(long)]
    pub archive_created_tasks: bool,
    /// At most this many records in each list of the text report (all are in --summary-json).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// When another run holds the state, wait up to SECS for it instead of exiting 3.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub wait: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DemoDataArgs {
    /// Number of accounts (groups) to generate.
    #[arg(long, default_value_t = 2_000)]
    pub accounts: u32,
    /// Days of product events (tracks), ending on the as-of day.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Days over which accounts were created, ending on the as-of day (default: the larger of
    /// --days and 90). Datasets generated with the same seed, accounts and history share their
    /// accounts and every day's events, whatever --days is.
    #[arg(long)]
    pub history_days: Option<u32>,
    /// Random seed; the same seed and flags give byte-identical data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Scale the event volume per active user (1.0 ≈ 8 events per active user-day).
    #[arg(long, default_value_t = 1.0)]
    pub activity: f64,
    /// Plant known effects for `calibrate` to find: early in each trial, a connected
    /// integration, a paid feature used and a pricing-page view each raise the odds of
    /// converting by a known amount (log-odds +2.0, +1.2, +0.6), and a help request is pure
    /// noise; nothing else decides who converts.
    #[arg(long)]
    pub plant: bool,
    /// The shape of the product events: `segment` (Segment/RudderStack `tracks`,
    /// `identifies`, `groups` tables) or `posthog` (PostHog batch-export `events` and
    /// `persons` models under posthog/). Stripe's tables are the same for both.
    #[arg(long, default_value = "segment", value_parser = ["segment", "posthog"])]
    pub format: String,
}

/// `calibrate`: fit signal points and tier thresholds from past trials.
#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    /// First trial start to learn from (default: 365 days before the as-of day).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<String>,
    /// Last trial start to learn from (default: the as-of day; trials whose horizon has not
    /// closed are left out and counted).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<String>,
    /// Take each trial's features as of the end of this trial day (day 1 is the start day).
    #[arg(long, value_name = "K", default_value_t = 7)]
    pub at_day: u32,
    /// The label: paid within this many days of the trial start.
    #[arg(long, value_name = "H", default_value_t = 30)]
    pub horizon: u32,
}

#[derive(Debug, Clone, Args)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (0 picks a free one; the first line on stdout says which).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The bearer token the sandbox accepts (give pqlsync the same one in HUBSPOT_TOKEN).
    #[arg(long, default_value = "sandbox-token")]
    pub token: String,
    /// Requests admitted per rolling 10 seconds, as a HubSpot portal's private-app limit.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub requests_per_10s: u32,
    /// Requests admitted per day (UTC); unlimited when absent.
    #[arg(long, value_name = "N")]
    pub daily_limit: Option<u64>,
    /// CRM searches admitted per second, as HubSpot's search limit (5 per token); 0 turns the
    /// limit off.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub search_per_second: u32,
    /// Probability (0–1) that an API request fails with a 5xx, half of them after the write
    /// was applied.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Milliseconds added to every API response (±20% jitter).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency: u64,
    /// Seed for fault injection and jitter; the same seed gives the same sequence of faults.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// An owner (user) of the portal, by email; repeat for more. Default: the owner pools of
    /// the config file, when it exists.
    #[arg(long = "owner", value_name = "EMAIL")]
    pub owners: Vec<String>,
    /// On exit (Ctrl-C or SIGTERM), write the portal's contents as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
}
