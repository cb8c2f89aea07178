//! `pqlsync sandbox`: serve the local HubSpot sandbox until Ctrl-C or SIGTERM, then
//! optionally write the portal it holds to a file. The sandbox itself is its own crate; this
//! command only binds the socket, tells people how to point pqlsync at it, and shuts down
//! cleanly.

use super::{Error, Report, config_if_present, emit, write_text};
use crate::cli::{GlobalArgs, SandboxArgs};
use crate::config::{RunOptions, Verbosity};
use hubspot_sandbox::{Sandbox, SandboxConfig};

/// Where the portal was written when the sandbox stopped, if anywhere.
#[derive(Debug, serde::Serialize)]
pub struct Served {
    pub dump: Option<std::path::PathBuf>,
}

impl Report for Served {}

impl std::fmt::Display for Served {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Everything worth saying was said while serving.
        Ok(())
    }
}

pub async fn sandbox(
    args: &SandboxArgs,
    global: &GlobalArgs,
    run: &RunOptions,
) -> Result<Served, Error> {
    let sandbox = Sandbox::new(sandbox_config(args, global)?);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(Error::io(format!(
            "cannot listen on 127.0.0.1:{}",
            args.port
        )))?;
    let addr = listener
        .local_addr()
        .map_err(Error::io("cannot read the listening address"))?;
    // The first line is the contract scripts and tests read; the rest is for people.
    emit(&format!("listening on http://{addr}\n"));
    // Instructions for the person who started it; a log pipeline gets the address on stdout.
    if run.verbosity > Verbosity::Quiet && run.log_format == crate::logging::LogFormat::Text {
        eprintln!("{}", instructions(args, &sandbox, addr));
    }
    axum::serve(listener, sandbox.router())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(Error::io("the sandbox stopped"))?;
    if let Some(path) = &args.dump {
        let text = serde_json::to_string_pretty(&sandbox.dump()).expect("the dump serialises");
        write_text(path, &(text + "\n"))?;
    }
    Ok(Served {
        dump: args.dump.clone(),
    })
}

/// The sandbox's settings from the flags, checked. Without `--owner`, the owners the config
/// routes to exist in the sandbox; likewise the task queues its playbooks send tasks to.
fn sandbox_config(args: &SandboxArgs, global: &GlobalArgs) -> Result<SandboxConfig, Error> {
    if !(0.0..=1.0).contains(&args.fail_rate) {
        return Err(Error::Usage(format!(
            "--fail-rate must be between 0 and 1, not {}",
            args.fail_rate
        )));
    }
    if args.requests_per_10s == 0 {
        return Err(Error::Usage("--requests-per-10s must be at least 1".into()));
    }
    let config = config_if_present(global)?;
    let owners = match (args.owners.is_empty(), &config) {
        (true, Some(config)) => config.routing.owners.all(),
        _ => args.owners.clone(),
    };
    let mut queues: Vec<String> = config
        .iter()
        .flat_map(|c| c.routing.playbooks.iter().filter_map(|p| p.queue.clone()))
        .collect();
    queues.sort();
    queues.dedup();
    Ok(SandboxConfig {
        token: args.token.clone(),
        requests_per_10s: args.requests_per_10s,
        daily_limit: args.daily_limit,
        search_per_second: (args.search_per_second > 0).then_some(args.search_per_second),
        fail_rate: args.fail_rate,
        latency: std::time::Duration::from_millis(args.latency),
        seed: args.seed,
        owners,
        queues,
    })
}

/// How to point pqlsync at the sandbox, for the person who started it.
fn instructions(args: &SandboxArgs, sandbox: &Sandbox, addr: std::net::SocketAddr) -> String {
    format!(
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
    )
}

/// Ctrl-C, or SIGTERM from a process manager.
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
