//! Configuration: reads `pqlsync.toml`, resolves paths and the environment, and hands each
//! section to the component that owns it (`[sources]` to `source::config`, `[engine]` to
//! `engine::config`, `[scoring]` to `score::config`, `[routing]` to `route::config`,
//! `[hubspot]` to `sync::config`, `[sql]`/`[incremental]` to `features::config`, `[report]` to
//! `report::config`, `[changes]` to `changes`), which parse, default and validate their own settings.
//!
//! This is the only module that reads environment variables (cloud credentials for object
//! stores, `HUBSPOT_TOKEN`, `HUBSPOT_BASE_URL`) and the token file. Relative paths in the file
//! resolve against the file's own directory, so a scheduler can run
//! `pqlsync --config /etc/pqlsync/pqlsync.toml run` from anywhere. Every error names the file
//! and key at fault. Per-run choices from the command line (`--as-of`, `--out`, verbosity,
//! `--summary-json`, `--full-refresh`) are [`RunOptions`], apart from the file's settings.

pub mod file;

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};

use crate::cli::GlobalArgs;
use file::ConfigFile;
use pqlsync_core::setting::Invalid;
use pqlsync_hubspot::Secret;
use pqlsync_rules::route::Policy;
use pqlsync_rules::score::Model;
use pqlsync_rules::{route, score};
use pqlsync_sql::changes::ChangesConfig;
use pqlsync_sql::engine::EngineConfig;
use pqlsync_sql::features::IncrementalConfig;
use pqlsync_sql::report::ReportConfig;
use pqlsync_sql::source::SourcesConfig;
use pqlsync_sql::store::{Location, beside};
use pqlsync_sync::config::HubspotConfig;

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

/// How much to print on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    Debug,
}

/// Everything `pqlsync.toml` says, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub sources: SourcesConfig,
    pub sql_dir: PathBuf,
    pub extra_free_email_domains: Vec<String>,
    pub engine: EngineConfig,
    pub scoring: Model,
    /// `[[scoring.user]]` and `[scoring.people]`: user engagement, champion, power users.
    pub people: score::people::People,
    /// `[scoring.calibration]`: how the score is judged (trial day K, horizon, baseline).
    pub provenance: score::config::Provenance,
    pub routing: Policy,
    /// Where state (routing memory) lives: a local directory or an object-store URL.
    pub state: Location,
    /// Where the score history lives: `[history] url`, default `history` beside the state.
    pub history: Location,
    /// `[changes]`: whether sync runs keep a change log in the state location, and how long.
    pub changes: ChangesConfig,
    /// `[incremental]`: where rollups of `sql/incremental/` views live and how they advance.
    pub incremental: IncrementalConfig,
    pub report: ReportConfig,
    pub output_dir: PathBuf,
    pub hubspot: HubspotConfig,
}

/// What this run was asked for on the command line (and `[run] as_of`), apart from the
/// settings of the file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scoring day: `--as-of`, else `[run] as_of`, else today (UTC).
    pub as_of: NaiveDate,
    /// `--out DIR`: where this run's outputs go instead of the configured directory.
    pub out: Option<PathBuf>,
    pub verbosity: Verbosity,
    /// `--summary-json FILE`.
    pub summary_json: Option<PathBuf>,
    /// `--full-refresh`: rebuild every rollup from all history instead of extending it.
    pub full_refresh: bool,
    /// `--allow-stale`: skip the freshness guard.
    pub allow_stale: bool,
    /// Asks the run to stop early (SIGTERM, a lost lock); shared by the run's clones.
    pub halt: pqlsync_core::halt::Halt,
    /// `--log-format`: also decides whether progress bars and the closing report are shown.
    pub log_format: crate::logging::LogFormat,
    /// How long each stage took, for the log and the summary; shared by the run's clones.
    pub stages: crate::logging::Stages,
    /// This invocation's id: what its change log is filed under (`pqlsync changes --run`).
    pub run_id: String,
    /// When this invocation started, to the microsecond (its id says it to the second): what
    /// orders two runs started in the same second.
    pub started_at: chrono::DateTime<Utc>,
}

impl RunOptions {
    /// The options of a command that reads no config file (`demo-data`, `sandbox`).
    pub fn without_file(global: &GlobalArgs) -> Result<RunOptions, ConfigError> {
        RunOptions::new(global, None)
    }

    fn new(global: &GlobalArgs, file_as_of: Option<&str>) -> Result<RunOptions, ConfigError> {
        let as_of = as_of_from(global.as_of.as_deref(), file_as_of)?;
        let tomorrow = Utc::now().date_naive() + chrono::TimeDelta::days(1);
        if as_of > tomorrow && !global.allow_future {
            return Err(ConfigError::Flag {
                flag: "as-of",
                message: format!(
                    "{as_of} is in the future (today is {} UTC); a run on a future day would close \
                     live trials as lost and refuse every real day after it. Pass --allow-future \
                     if this is really meant",
                    Utc::now().date_naive()
                ),
            });
        }
        let started_at = Utc::now();
        Ok(RunOptions {
            as_of,
            out: global.out.clone(),
            verbosity: verbosity(global),
            summary_json: global.summary_json.clone(),
            full_refresh: global.full_refresh,
            allow_stale: global.allow_stale,
            halt: pqlsync_core::halt::Halt::default(),
            log_format: global.log_format,
            stages: crate::logging::Stages::default(),
            run_id: pqlsync_sql::changes::new_run_id(started_at),
            started_at,
        })
    }
}

/// Parse `--as-of` style dates.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a date in YYYY-MM-DD form"))
}

/// The scoring day from flags, else the config, else today (UTC). Used without a config file
/// by `demo-data`.
pub fn as_of_from(flag: Option<&str>, file: Option<&str>) -> Result<NaiveDate, ConfigError> {
    let today = Utc::now().date_naive();
    if let Some(s) = flag {
        return scoring_day(s, today).map_err(|message| ConfigError::Flag {
            flag: "as-of",
            message,
        });
    }
    match file {
        Some(s) => scoring_day(s, today).map_err(|message| ConfigError::Flag {
            flag: "as-of",
            message: format!("[run] as_of: {message}"),
        }),
        None => Ok(today),
    }
}

/// `YYYY-MM-DD`, or `today` / `yesterday` (UTC): a scheduler without a shell (a Kubernetes
/// CronJob on a distroless image) cannot compute yesterday's date itself.
fn scoring_day(s: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    match s {
        "today" => Ok(today),
        "yesterday" => Ok(today - chrono::TimeDelta::days(1)),
        _ => parse_date(s).map_err(|m| format!("{m}, `today` or `yesterday`")),
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

/// Read `--config`, apply flags and the environment, validate.
pub fn load(global: &GlobalArgs) -> Result<(Config, RunOptions), ConfigError> {
    let path = global.config.clone();
    let text = std::fs::read_to_string(&path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NotFound { path: path.clone() },
        _ => ConfigError::Io {
            path: path.clone(),
            source,
        },
    })?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    from_str(&text, &path, global, &env)
}

/// [`load`] without touching the file system for the config itself or the process
/// environment: what tests call.
pub fn from_str(
    text: &str,
    path: &Path,
    global: &GlobalArgs,
    env: &[(String, String)],
) -> Result<(Config, RunOptions), ConfigError> {
    let parsed: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let run = RunOptions::new(global, parsed.run.as_of.as_deref())?;
    let config = Config::resolve(&parsed, path, env).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        key: e.key,
        message: e.message,
    })?;
    Ok((config, run))
}

impl Config {
    /// Resolve places against the file's directory and the environment, and have each
    /// component validate its section.
    fn resolve(
        parsed: &ConfigFile,
        path: &Path,
        env: &[(String, String)],
    ) -> Result<Config, Invalid> {
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = std::path::absolute(&base).unwrap_or(base);
        let store_options = pqlsync_sql::store::options_from_env(env);
        let state_url = &parsed.state.url;
        // History and rollups default to siblings of the state directory.
        let beside_state = |configured: &Option<String>, name: &str| {
            let configured = configured
                .clone()
                .unwrap_or_else(|| beside(state_url, name));
            Location::directory(&configured, &base, &store_options)
        };
        let base_url = env_var(env, "HUBSPOT_BASE_URL")
            .map(str::to_string)
            .or_else(|| parsed.hubspot.base_url.clone());
        let token = hubspot_token(parsed.hubspot.token_file.as_deref(), &base, env)?;
        let routing = route::config::policy(&parsed.routing)?;
        let hubspot = HubspotConfig::from_file(&parsed.hubspot, base_url, token)?;
        // Across sections: a portal needs an owner for every account routing leaves unowned,
        // and the self-serve pool is the one every unowned account falls back to.
        if matches!(hubspot.target, pqlsync_sync::config::Target::Portal { .. })
            && routing.owners.self_serve.is_empty()
        {
            return Err(Invalid::new(
                "routing.owners.self_serve",
                "is empty, but a HubSpot portal is configured and every account without an owner \
                 (below routing.enterprise_seats, or all of them when routing.owners.enterprise \
                 is empty too) is assigned from it; list at least one owner's email",
            ));
        }
        let scoring = score::config::model(&parsed.scoring)?;
        reachable_thresholds(&scoring, &routing, &hubspot)?;
        Ok(Config {
            path: path.to_path_buf(),
            sources: SourcesConfig::from_file(&parsed.sources, &base, &store_options)?,
            sql_dir: base.join(&parsed.sql.dir),
            extra_free_email_domains: parsed.sql.extra_free_email_domains.clone(),
            engine: EngineConfig::from_file(&parsed.engine, &base)?,
            scoring,
            people: score::people::people(
                parsed.scoring.user.as_deref(),
                Some(&score::people::default_user_signals()),
                parsed.scoring.people.as_ref(),
            )?,
            provenance: score::config::provenance(&parsed.scoring)?,
            routing,
            state: Location::directory(state_url, &base, &store_options),
            history: beside_state(&parsed.history.url, "history"),
            changes: parsed.changes.validate()?,
            incremental: IncrementalConfig::from_file(
                &parsed.incremental,
                beside_state(&parsed.incremental.url, "incremental"),
            ),
            report: ReportConfig::from_file(&parsed.report, &base, &parsed.output.dir)?,
            output_dir: base.join(&parsed.output.dir),
            hubspot,
        })
    }
}

/// Every threshold on the PQL score, across sections, by config key, with what stops when no
/// account reaches it: the tiers, `routing.hot_pql_score` and each
/// `hubspot.lifecycle_thresholds` stage.
pub fn pql_thresholds(
    scoring: &Model,
    routing: &Policy,
    hubspot: &HubspotConfig,
) -> Vec<(String, u8, &'static str)> {
    let mut out = vec![
        (
            "scoring.tiers.yellow".into(),
            scoring.tiers.yellow,
            "no account would be Yellow",
        ),
        (
            "scoring.tiers.green".into(),
            scoring.tiers.green,
            "no account would be Green",
        ),
        (
            "routing.hot_pql_score".into(),
            routing.thresholds.hot_pql_score,
            "hot-PQL tasks would never fire",
        ),
    ];
    for (score, stage) in &hubspot.lifecycle_thresholds {
        out.push((
            format!("hubspot.lifecycle_thresholds.{stage}"),
            *score,
            "no account would move to that lifecycle stage",
        ));
    }
    out
}

/// Every threshold on the PQL score must be one the configured signals can reach: after
/// adopting a scorecard whose scores top out lower, a threshold above the top would silently
/// stop hot-PQL tasks or lifecycle moves. Likewise the expansion threshold, when there are
/// expansion signals (none turns expansion off).
fn reachable_thresholds(
    scoring: &Model,
    routing: &Policy,
    hubspot: &HubspotConfig,
) -> Result<(), Invalid> {
    let unreachable = |key: &str, value: u8, top: u8, scale: &str, effect: &str| {
        Invalid::new(
            key,
            format!(
                "{value} is above the highest {scale} score the configured signals allow \
                 ({top}: every positive signal firing, with [scoring] fit_weight and \
                 usage_weight), so {effect}. Lower it to at most {top} (pqlsync calibrate \
                 suggests one on the same scale as its scorecard) or add points in [scoring]"
            ),
        )
    };
    let top = scoring.max_pql();
    let pql = pql_thresholds(scoring, routing, hubspot);
    if let Some((key, value, effect)) = pql.iter().find(|(_, v, _)| *v > top) {
        return Err(unreachable(key, *value, top, "PQL", effect));
    }
    let expansion = routing.thresholds.expansion_threshold;
    if !scoring.expansion.is_empty() && expansion > scoring.max_expansion() {
        return Err(unreachable(
            "routing.expansion_threshold",
            expansion,
            scoring.max_expansion(),
            "expansion",
            "expansion tasks would never fire",
        ));
    }
    Ok(())
}

/// `HUBSPOT_TOKEN`, else the contents of `[hubspot] token_file`. A message names the file,
/// never its contents.
fn hubspot_token(
    token_file: Option<&str>,
    base: &Path,
    env: &[(String, String)],
) -> Result<Option<Secret>, Invalid> {
    Ok(match env_var(env, "HUBSPOT_TOKEN") {
        Some(t) => Some(Secret::new(t)),
        None => match token_file {
            Some(f) => {
                let path = base.join(f);
                // The message names the file, never its contents.
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Invalid::new(
                        "hubspot.token_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let t = text.trim();
                if t.is_empty() {
                    return Err(Invalid::new(
                        "hubspot.token_file",
                        format!("{} is empty", path.display()),
                    ));
                }
                Some(Secret::new(t))
            }
            None => None,
        },
    })
}

fn env_var<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests;
