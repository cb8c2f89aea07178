//! The commands, one file each, on top of everything else. Each command takes the validated
//! [`Config`] and the run's [`RunOptions`] (or only its flags, for the commands that read no
//! config file) and returns a report that prints as text and serialises as JSON; [`run_cli`]
//! dispatches on the command in one `match`, prints the report, writes `--summary-json` and
//! chooses the exit code. What several commands share lives in `pipeline` (the prepared
//! session and the decision pipeline) and `hubspot` (the HubSpot step of `run` and `plan`).

mod backfill;
mod calibrate;
mod changes;
mod cluster;
mod decide;
mod demo_data;
mod explain;
mod features;
mod health;
mod hubspot;
mod hubspot_check;
mod hubspot_setup;
mod pipeline;
mod plan;
mod report;
mod revert;
mod run;
mod sandbox;
mod score;
mod validate;

use std::path::{Path, PathBuf};

use std::time::Instant;

use crate::cli::{Cli, Command, HubspotCommand};
use crate::config::{self, Config, RunOptions, Verbosity};
use crate::logging::{self, LogFormat, Stages};
use pqlsync_sql::features::FeatureError;

/// Any error that stops a command. Each variant's message names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Source(#[from] pqlsync_sql::source::SourceError),
    #[error(transparent)]
    Features(#[from] pqlsync_sql::features::FeatureError),
    #[error(transparent)]
    Decision(#[from] pqlsync_sql::decision::DecisionError),
    #[error(transparent)]
    Output(#[from] pqlsync_sql::output::OutputError),
    #[error(transparent)]
    State(#[from] pqlsync_rules::state::StateError),
    #[error(transparent)]
    Store(#[from] pqlsync_sql::store::StoreError),
    #[error(transparent)]
    Demo(#[from] pqlsync_sql::demo::DemoError),
    #[error(transparent)]
    History(#[from] pqlsync_sql::history::HistoryError),
    #[error(transparent)]
    Report(#[from] pqlsync_sql::report::ReportError),
    #[error(transparent)]
    Calibrate(#[from] pqlsync_calibrate::CalibrateError),
    #[error(transparent)]
    Portal(#[from] pqlsync_hubspot::portal::PortalError),
    #[error(transparent)]
    Client(#[from] pqlsync_hubspot::ClientError),
    #[cfg(feature = "ballista")]
    #[error(transparent)]
    Cluster(#[from] pqlsync_sql::cluster::ClusterError),
    /// A command-line flag that cannot be used as given.
    #[error("{0}")]
    Usage(String),
    /// The data has nothing for what was asked (an account, a day of history).
    #[error("{0}")]
    NotFound(String),
    /// A HubSpot command without a portal to talk to.
    #[error(
        "no HubSpot portal configured: set HUBSPOT_TOKEN (and HUBSPOT_BASE_URL for the sandbox)"
    )]
    NoPortal,
    /// The portal lacks properties, pipelines or owners the sync needs.
    #[error("{0}")]
    NotReady(String),
    /// Another run holds the state location.
    #[error(transparent)]
    Lock(#[from] pqlsync_sql::lock::LockError),
    /// A signal (or a lost lock) stopped the run; what was confirmed is saved.
    #[error("{0}")]
    Interrupted(String),
    /// HubSpot refused the token (401) or its scopes (403) mid-run: a person must act.
    #[error("{0}")]
    Credentials(String),
    /// The operating system refused something the command needs (a directory, a socket).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Exit code when another run holds the state's lock (nothing was done).
pub const EXIT_LOCKED: u8 = 3;
/// Exit code when a signal stopped the run at a safe point (state saved; the next run goes on).
pub const EXIT_INTERRUPTED: u8 = 4;

impl Error {
    /// 2 for a fatal error, [`EXIT_LOCKED`] and [`EXIT_INTERRUPTED`] for the two a scheduler
    /// may want to tell apart (retry later; the run was stopped on purpose).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Lock(pqlsync_sql::lock::LockError::Held { .. }) => EXIT_LOCKED,
            Error::Interrupted(_) => EXIT_INTERRUPTED,
            _ => 2,
        }
    }

    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
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

/// What a command hands back: text for people, JSON for `--summary-json`.
pub trait Report: std::fmt::Display + serde::Serialize {
    /// Records that could not be written; any makes the exit code 1.
    fn failed_records(&self) -> usize {
        0
    }

    /// Print even with `--quiet`: the command's output is the point (`explain`), or it says
    /// why the command fails (a portal that is not ready).
    fn always_print(&self) -> bool {
        false
    }

    /// The error the command ends with once its report is printed.
    fn verdict(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// `run`, `plan`, `score` and `features` report the run summary.
impl Report for crate::summary::Summary {
    fn failed_records(&self) -> usize {
        self.task_failures.len()
            + self
                .sync
                .as_ref()
                .map_or(0, |s| s.failed() + usize::from(s.stopped.is_some()))
    }

    fn verdict(&self) -> Result<(), Error> {
        if let Some(reason) = &self.interrupted {
            return Err(Error::Interrupted(format!(
                "{reason}: the state is saved, and the next run goes on from it"
            )));
        }
        match &self.sync {
            Some(s) if s.stopped_for_credentials => Err(Error::Credentials(format!(
                "{}; what HubSpot confirmed before is saved, and the next run goes on from it",
                s.stopped.as_deref().unwrap_or("HubSpot refused the token")
            ))),
            _ => Ok(()),
        }
    }
}

/// Run a parsed command line: install the log, run the command, say how it ended (on stderr,
/// in the chosen log format). Returns the exit code: [`Outcome::exit_code`] when the command
/// finished, [`Error::exit_code`] when it failed.
pub fn run_cli(cli: Cli) -> u8 {
    let format = cli.global.log_format;
    logging::init(format, cli.global.quiet, cli.global.verbose);
    let command = cli.command.name();
    let stages = Stages::default();
    tracing::info!(
        stage = "start",
        command,
        version = env!("CARGO_PKG_VERSION"),
        "pqlsync {command} started"
    );
    let started = Instant::now();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::io("cannot start the async runtime"))
        .and_then(|runtime| runtime.block_on(dispatch(cli, &stages)));
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(outcome) => {
            let exit_code = outcome.exit_code();
            tracing::info!(
                stage = "exit",
                command,
                exit_code,
                failed_records = outcome.failed_records,
                seconds,
                "pqlsync {command} finished"
            );
            exit_code
        }
        Err(err) => {
            let exit_code = err.exit_code();
            match format {
                LogFormat::Text => eprintln!("error: {err}"),
                LogFormat::Json => tracing::error!(
                    stage = "exit",
                    command,
                    exit_code,
                    after = stages.last().unwrap_or("start"),
                    seconds,
                    "{err}"
                ),
            }
            exit_code
        }
    }
}

/// A command line clap could not parse: `--help` and `--version` print as asked (exit 0);
/// a usage error prints as clap words it (exit 2), or, when the line asks for
/// `--log-format json`, as one ERROR event in that format, so a log pipeline that parses
/// every line of a scheduled job's stderr is not broken by the one that matters most.
pub fn usage_error(e: &clap::Error, args: impl IntoIterator<Item = std::ffi::OsString>) -> u8 {
    use clap::error::ErrorKind;
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    let usage = !matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !usage || wanted_format(args) != LogFormat::Json {
        let _ = e.print();
        return code;
    }
    logging::init(LogFormat::Json, false, 0);
    let message = e.render().to_string();
    let message = message.trim().trim_start_matches("error: ");
    tracing::error!(
        stage = "exit",
        exit_code = code,
        kind = %e.kind(),
        "{message}"
    );
    code
}

/// The log format a command line asks for, read without clap (which could not parse it):
/// `--log-format json` or `--log-format=json`, else text.
fn wanted_format(args: impl IntoIterator<Item = std::ffi::OsString>) -> LogFormat {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let json = args.iter().enumerate().any(|(i, a)| {
        a == "--log-format=json"
            || (a == "--log-format" && args.get(i + 1).is_some_and(|v| v == "json"))
    });
    if json {
        LogFormat::Json
    } else {
        LogFormat::Text
    }
}

async fn dispatch(cli: Cli, stages: &Stages) -> Result<Outcome, Error> {
    let global = &cli.global;
    // The two commands that need no config file.
    let without_file = || -> Result<RunOptions, Error> {
        let mut run = RunOptions::without_file(global)?;
        run.stages = stages.clone();
        Ok(run)
    };
    match &cli.command {
        Command::DemoData(args) => {
            let run = without_file()?;
            return finish(demo_data::demo_data(args, &run)?, &run);
        }
        Command::Sandbox(args) => {
            let run = without_file()?;
            return finish(sandbox::sandbox(args, global, &run).await?, &run);
        }
        Command::Cluster(args) => {
            let run = without_file()?;
            return finish(cluster::cluster(args).await?, &run);
        }
        _ => {}
    }
    let (mut config, mut run) = config::load(global)?;
    run.stages = stages.clone();
    match command(&cli.command, &config, &run).await {
        // Under a memory limit, each partition holds join build sides that cannot spill, and
        // partitions race for the last of the budget; one partition needs less and spills
        // deterministically. Nothing a command writes before its features are computed is
        // more than a cache (rollups), and outputs are published only when complete, so the
        // command can simply run again.
        Err(Error::Features(FeatureError::OutOfMemory { view, message }))
            if config.engine.memory_limit.is_some() && config.engine.target_partitions > 1 =>
        {
            tracing::warn!(
                stage = "engine",
                view = %view,
                partitions = config.engine.target_partitions,
                "computing {view} needed more than [engine] memory_limit on {} partitions; \
                 computing again on one, which needs less ({message})",
                config.engine.target_partitions
            );
            config.engine.target_partitions = 1;
            command(&cli.command, &config, &run).await
        }
        other => other,
    }
}

/// One command that reads the config file, run once.
async fn command(command: &Command, c: &Config, r: &RunOptions) -> Result<Outcome, Error> {
    match command {
        Command::Run(args) => finish(run::run(c, r, args).await?, r),
        Command::Plan => finish(plan::plan(c, r).await?, r),
        Command::Score => finish(score::score(c, r).await?, r),
        Command::Features(args) => finish(features::features(c, r, args).await?, r),
        Command::Explain(args) => finish(explain::explain(c, r, args).await?, r),
        Command::Changes(args) => finish(changes::changes(c, r, args).await?, r),
        Command::Revert(args) => finish(revert::revert(c, r, args).await?, r),
        Command::Validate => finish(validate::validate(c, r).await?, r),
        Command::Backfill(args) => finish(backfill::backfill(c, r, args).await?, r),
        Command::Report(args) => finish(report::report(c, r, args).await?, r),
        Command::Calibrate(args) => finish(calibrate::calibrate(c, r, args).await?, r),
        Command::Hubspot(args) => match args.command {
            HubspotCommand::Setup { create_pipelines } => {
                finish(hubspot_setup::setup(c, create_pipelines).await?, r)
            }
            HubspotCommand::Check => finish(hubspot_check::check(c).await?, r),
        },
        Command::DemoData(_) | Command::Sandbox(_) | Command::Cluster(_) => {
            unreachable!("handled before the config is read")
        }
    }
}

/// Print the report (unless quiet; with JSON logs, as a log event unless printing it is the
/// command's point), write `--summary-json`, and turn the report into the command's outcome.
fn finish<R: Report>(report: R, run: &RunOptions) -> Result<Outcome, Error> {
    match run.log_format {
        _ if report.always_print() => emit(&report.to_string()),
        LogFormat::Text if run.verbosity > Verbosity::Quiet => emit(&report.to_string()),
        LogFormat::Text => {}
        LogFormat::Json => tracing::info!(
            stage = "report",
            summary = %serde_json::to_string(&report).expect("reports serialise"),
            "the command's report (the --summary-json document)"
        ),
    }
    if let Some(path) = &run.summary_json {
        write_json(path, &report)?;
    }
    report.verdict()?;
    Ok(Outcome {
        failed_records: report.failed_records(),
    })
}

/// Print to stdout. A reader that went away (`pqlsync explain X | head`) is not an error: the
/// command's work is done, so the rest of the output is simply dropped.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Write `value` as pretty JSON to `path`, atomically.
fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    write_text(
        path,
        &serde_json::to_string_pretty(value).expect("reports serialise"),
    )
}

/// Write `text` to `path` atomically ([`pqlsync_core::atomic`]), so a reader never sees half
/// a file.
fn write_text(path: &Path, text: &str) -> Result<(), Error> {
    pqlsync_core::atomic::write(path, text.as_bytes()).map_err(|e| {
        Error::Output(pqlsync_sql::output::OutputError::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    })
}

/// `--to DATE`, defaulting to the as-of day.
fn to_or_as_of(to: Option<&str>, run: &RunOptions) -> Result<chrono::NaiveDate, Error> {
    Ok(match to {
        Some(to) => config::date_flag("to", to)?,
        None => run.as_of,
    })
}

/// `--out DIR`, else the configured directory.
fn out_dir(run: &RunOptions, configured: &Path) -> PathBuf {
    run.out.clone().unwrap_or_else(|| configured.to_path_buf())
}

/// The config a command that needs none still reads when it is there (the sandbox's owners).
fn config_if_present(global: &crate::cli::GlobalArgs) -> Result<Option<Config>, Error> {
    if global.config.exists() {
        Ok(Some(config::load(global)?.0))
    } else {
        Ok(None)
    }
}
