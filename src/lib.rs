//! pqlsync: product-qualified-lead scoring and routing for product-led SaaS, as a library.
//!
//! Data moves one way through the modules:
//! `config` → `source` (datasets as `raw.*` tables) → `features` (analyst SQL, `account_features`)
//! → `score` (fit, usage, PQL, tier, signals) → `route` (motion, owner, stages, tasks)
//! → `decision` (scores and routes appended to feature batches) → `output` / `state`.
//! `job` wires them into commands; `demo` generates contract-shaped data.

pub mod cli;
pub mod config;
pub mod decision;
pub mod demo;
pub mod features;
pub mod history;
pub mod hubspot;
pub mod job;
pub mod output;
pub mod report;
pub mod route;
pub mod score;
pub mod source;
pub mod state;
pub mod summary;
pub mod sync;

use std::path::Path;

use cli::{Cli, Command, HubspotCommand};
use config::{Config, Verbosity};

/// Any error that stops a command. Each variant's message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error(transparent)]
    Features(#[from] features::FeatureError),
    #[error(transparent)]
    Decision(#[from] decision::DecisionError),
    #[error(transparent)]
    Output(#[from] output::OutputError),
    #[error(transparent)]
    State(#[from] state::StateError),
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error(transparent)]
    History(#[from] history::HistoryError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error(transparent)]
    Portal(#[from] hubspot::portal::PortalError),
    #[error("{0}")]
    NotReady(String),
    #[error("{0}")]
    Usage(String),
}

/// How a command ended when it did not fail outright.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records that could not be written (reported, retried next run).
    pub failed_records: usize,
}

impl Outcome {
    /// 0 when everything landed, 1 when some records failed. Fatal errors exit 2 in `main`.
    pub fn exit_code(&self) -> u8 {
        if self.failed_records > 0 { 1 } else { 0 }
    }
}

/// Run a parsed command line.
pub fn run_cli(cli: Cli) -> Result<Outcome, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<Outcome, Error> {
    let global = &cli.global;
    if let Command::DemoData(args) = &cli.command {
        let out = global
            .out
            .clone()
            .ok_or_else(|| Error::Usage("demo-data needs --out DIR".into()))?;
        let as_of = config::as_of_from(global.as_of.as_deref(), None)?;
        let report = demo::generate(&demo::Options {
            out,
            accounts: args.accounts,
            days: args.days,
            history_days: args.history_days,
            seed: args.seed,
            activity: args.activity,
            as_of,
        })?;
        if config::verbosity(global) > Verbosity::Quiet {
            emit(&format!("{report}\n"));
        }
        return Ok(Outcome::default());
    }
    if let Command::Sandbox(args) = &cli.command {
        return sandbox(args, global).await;
    }
    let config = Config::load(global)?;
    let summary = match &cli.command {
        Command::Run(args) if args.dry_run => job::decide(&config, job::Mode::DryRun).await?,
        Command::Run(_) => job::decide(&config, job::Mode::Run).await?,
        Command::Plan => job::decide(&config, job::Mode::DryRun).await?,
        Command::Hubspot(args) => {
            let (report, ready) = match args.command {
                HubspotCommand::Setup { create_pipelines } => {
                    job::setup(&config, create_pipelines).await?
                }
                HubspotCommand::Check => job::check(&config).await?,
            };
            if config.verbosity > Verbosity::Quiet || !ready {
                emit(&report);
            }
            return if ready {
                Ok(Outcome::default())
            } else {
                Err(Error::NotReady(
                    "the HubSpot portal is not ready for pqlsync (see above)".into(),
                ))
            };
        }
        Command::Score => job::decide(&config, job::Mode::Score).await?,
        Command::Features => job::features(&config).await?,
        Command::Explain(args) => {
            let text = job::explain(&config, &args.account_id, args.json).await?;
            emit(&format!("{text}\n"));
            return Ok(Outcome::default());
        }
        Command::Validate => {
            let report = job::validate(&config).await?;
            if config.verbosity > Verbosity::Quiet {
                emit(&report);
            }
            return Ok(Outcome::default());
        }
        Command::Backfill(args) => {
            let from = config::date_flag("from", &args.from)?;
            let to = to_or_as_of(args.to.as_deref(), &config)?;
            let done = job::backfill(&config, from, to).await?;
            if config.verbosity > Verbosity::Quiet {
                emit(&done.to_string());
            }
            if let Some(path) = &config.summary_json {
                write_json(path, &done)?;
            }
            return Ok(Outcome::default());
        }
        Command::Report(args) => {
            let to = to_or_as_of(args.to.as_deref(), &config)?;
            let from = args
                .from
                .as_deref()
                .map(|from| config::date_flag("from", from))
                .transpose()?;
            use cli::ReportFormat::{All, Csv, Html, Parquet};
            let formats = report::Formats {
                csv: matches!(args.format, Csv | All),
                parquet: matches!(args.format, Parquet | All),
                html: matches!(args.format, Html | All),
            };
            let out = config
                .out
                .clone()
                .unwrap_or_else(|| config.report_dir.clone());
            let done = job::report(&config, &out, from, to, formats).await?;
            if config.verbosity > Verbosity::Quiet {
                emit(&done.to_string());
            }
            return Ok(Outcome::default());
        }
        Command::DemoData(_) | Command::Sandbox(_) => unreachable!("handled above"),
    };
    if config.verbosity > Verbosity::Quiet {
        emit(&summary.to_string());
    }
    if let Some(path) = &config.summary_json {
        write_json(path, &summary)?;
    }
    let failed = summary
        .sync
        .as_ref()
        .map_or(0, |s| s.failed() + usize::from(s.stopped.is_some()));
    Ok(Outcome {
        failed_records: failed,
    })
}

/// Print to stdout. A reader that went away (`pqlsync explain X | head`) is not an error: the
/// command's work is done, so the rest of the output is simply dropped.
/// `pqlsync sandbox`: serve until Ctrl-C or SIGTERM, then optionally dump the portal.
async fn sandbox(args: &cli::SandboxArgs, global: &cli::GlobalArgs) -> Result<Outcome, Error> {
    use hubspot_sandbox::{Sandbox, SandboxConfig};
    if !(0.0..=1.0).contains(&args.fail_rate) {
        return Err(Error::Usage(format!(
            "--fail-rate must be between 0 and 1, not {}",
            args.fail_rate
        )));
    }
    if args.requests_per_10s == 0 {
        return Err(Error::Usage("--requests-per-10s must be at least 1".into()));
    }
    let owners = if args.owners.is_empty() && global.config.exists() {
        let config = Config::load(global)?;
        let pools = &config.routing.owners;
        pools
            .enterprise
            .iter()
            .chain(&pools.self_serve)
            .cloned()
            .collect()
    } else {
        args.owners.clone()
    };
    let sandbox = Sandbox::new(SandboxConfig {
        token: args.token.clone(),
        requests_per_10s: args.requests_per_10s,
        daily_limit: args.daily_limit,
        fail_rate: args.fail_rate,
        latency: std::time::Duration::from_millis(args.latency),
        seed: args.seed,
        owners,
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| Error::Usage(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Usage(format!("cannot read the listening address: {e}")))?;
    // The first line is the contract scripts and tests read; the rest is for people.
    emit(&format!("listening on http://{addr}\n"));
    if config::verbosity(global) > Verbosity::Quiet {
        eprintln!(
            "HubSpot sandbox: {} owner(s), {} requests/10s{}; point pqlsync at it with\n  \
             HUBSPOT_BASE_URL=http://{addr} HUBSPOT_TOKEN=<the --token value> pqlsync hubspot setup --create-pipelines\n\
             Ctrl-C stops it{}.",
            sandbox.dump()["owners"].as_array().map_or(0, Vec::len),
            args.requests_per_10s,
            args.daily_limit
                .map(|d| format!(", {d} per day"))
                .unwrap_or_default(),
            args.dump
                .as_ref()
                .map(|p| format!(" and writes the portal to {}", p.display()))
                .unwrap_or_default(),
        );
    }
    axum::serve(listener, sandbox.router())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::Usage(format!("the sandbox stopped: {e}")))?;
    if let Some(path) = &args.dump {
        let text = serde_json::to_string_pretty(&sandbox.dump()).expect("the dump serialises");
        std::fs::write(path, text + "\n").map_err(|e| {
            Error::Output(output::OutputError::Write {
                path: path.clone(),
                message: e.to_string(),
            })
        })?;
    }
    Ok(Outcome::default())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// `--to DATE`, defaulting to the as-of day.
fn to_or_as_of(to: Option<&str>, config: &Config) -> Result<chrono::NaiveDate, Error> {
    Ok(match to {
        Some(to) => config::date_flag("to", to)?,
        None => config.as_of,
    })
}

fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn write_json<T: serde::Serialize>(path: &Path, summary: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(summary).expect("summary serialises");
    let err = |e: std::io::Error| {
        Error::Output(output::OutputError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let temp = path.with_extension("json.tmp");
    std::fs::write(&temp, text).map_err(err)?;
    std::fs::rename(&temp, path).map_err(err)
}
