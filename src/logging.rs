//! What pqlsync says on stderr while it works, and how long each stage took. Events go
//! through `tracing`; [`init`] installs one subscriber that writes them as text for people or
//! as JSON lines for a log pipeline (`--log-format json`: Datadog, Cloud Logging and Loki
//! parse each line without a regex). pqlsync's own events always carry a `stage` field; the
//! end of each stage is logged once with its `seconds` (the `stage!` macro) and kept
//! for the run summary ([`Stages`]). A leaf: it knows nothing of what the stages do.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::time::Uptime;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How events are written on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For a terminal: seconds since start, level, message, fields.
    #[default]
    Text,
    /// One JSON object per line: `timestamp` (RFC 3339, UTC), `level`, `stage`, `message`,
    /// the event's fields, `target`.
    Json,
}

/// The most detailed level shown, from `-q`/`-v` and the format. Text shows warnings by
/// default (progress bars and the closing report say the rest); JSON, read by machines,
/// shows each stage (`info`); `-q` only errors. `RUST_LOG` overrides all of it.
fn default_filter(format: LogFormat, quiet: bool, verbose: u8) -> &'static str {
    match (quiet, verbose, format) {
        (true, _, _) => "error",
        (false, 0, LogFormat::Text) => "warn",
        (false, 0, LogFormat::Json) => "warn,pqlsync=info",
        (false, 1, _) => "warn,pqlsync=info",
        (false, _, _) => "info,pqlsync=debug",
    }
}

/// Install the subscriber for this process; a second call (tests) keeps the first. Events
/// of crates that log with `log` (DataFusion, object_store) go through it too.
pub fn init(format: LogFormat, quiet: bool, verbose: u8) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_filter(format, quiet, verbose)));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_timer(Uptime::default())
                    .with_target(false),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false),
            )
            .try_init(),
    };
    // Already installed: a test process runs many commands.
    drop(result);
}

/// How long each stage of a command took, in the order they ended. Shared by the clones of a
/// run's options; [`Stages::lap`] ends a stage.
#[derive(Debug, Clone)]
pub struct Stages {
    inner: Arc<Mutex<Laps>>,
}

#[derive(Debug)]
struct Laps {
    since: Instant,
    done: Vec<(&'static str, f64)>,
}

impl Default for Stages {
    fn default() -> Self {
        Stages {
            inner: Arc::new(Mutex::new(Laps {
                since: Instant::now(),
                done: Vec::new(),
            })),
        }
    }
}

impl Stages {
    /// End `stage`: its seconds are the time since the previous stage ended (or the command
    /// started). Returns them.
    pub fn lap(&self, stage: &'static str) -> f64 {
        let mut laps = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let seconds = now.duration_since(laps.since).as_secs_f64();
        laps.since = now;
        laps.done.push((stage, seconds));
        seconds
    }

    /// Seconds per stage, a stage that ended more than once (a day of a backfill) summed.
    pub fn seconds(&self) -> BTreeMap<String, f64> {
        let laps = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = BTreeMap::new();
        for (stage, seconds) in &laps.done {
            *out.entry((*stage).to_string()).or_default() += seconds;
        }
        out
    }

    /// The stage that ended last, if any: where a failing command had got to.
    pub fn last(&self) -> Option<&'static str> {
        let laps = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        laps.done.last().map(|(stage, _)| *stage)
    }
}

/// End a stage and say so: `stage!(run.stages, "features", accounts = n, "computed the
/// features")` logs an `info` event with `stage = "features"`, the stage's `seconds` and the
/// given fields, and keeps the seconds for the run summary.
macro_rules! stage {
    ($stages:expr, $stage:literal, $($rest:tt)+) => {{
        let seconds = $stages.lap($stage);
        ::tracing::info!(stage = $stage, seconds, $($rest)+);
    }};
}
pub(crate) use stage;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_level_depends_on_the_format_and_the_flags() {
        let cases = [
            (LogFormat::Text, false, 0, "warn"),
            (LogFormat::Json, false, 0, "warn,pqlsync=info"),
            (LogFormat::Text, true, 0, "error"),
            (LogFormat::Json, true, 0, "error"),
            (LogFormat::Text, false, 1, "warn,pqlsync=info"),
            (LogFormat::Json, false, 1, "warn,pqlsync=info"),
            (LogFormat::Text, false, 2, "info,pqlsync=debug"),
            (LogFormat::Json, false, 3, "info,pqlsync=debug"),
        ];
        for (format, quiet, verbose, expected) in cases {
            assert_eq!(
                default_filter(format, quiet, verbose),
                expected,
                "{format:?} quiet={quiet} verbose={verbose}"
            );
        }
    }

    #[test]
    fn stages_sum_repeats_and_remember_the_last() {
        let stages = Stages::default();
        assert_eq!(stages.last(), None);
        stages.lap("features");
        stages.lap("day");
        stages.lap("day");
        let seconds = stages.seconds();
        assert_eq!(seconds.keys().collect::<Vec<_>>(), ["day", "features"]);
        assert!(seconds.values().all(|s| *s >= 0.0));
        assert_eq!(stages.last(), Some("day"));
        // Clones share the laps: a run's options are cloned into its tasks.
        stages.clone().lap("sync");
        assert_eq!(stages.last(), Some("sync"));
    }
}
