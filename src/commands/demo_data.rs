//! `pqlsync demo-data --out DIR`: contract-shaped Segment (or, with `--format posthog`,
//! PostHog) and Stripe exports for a synthetic product-led company, so the whole job can be
//! tried (and tested) without real data.

use super::{Error, Report};
use crate::cli::DemoDataArgs;
use crate::config::RunOptions;
use pqlsync_sql::demo;

/// What was generated.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
pub struct DemoData(demo::Generated);

impl Report for DemoData {}

impl std::fmt::Display for DemoData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.0)
    }
}

pub fn demo_data(args: &DemoDataArgs, run: &RunOptions) -> Result<DemoData, Error> {
    let out = run
        .out
        .clone()
        .ok_or_else(|| Error::Usage("demo-data needs --out DIR".into()))?;
    let generated = demo::generate(&demo::Options {
        out,
        accounts: args.accounts,
        days: args.days,
        history_days: args.history_days,
        seed: args.seed,
        activity: args.activity,
        as_of: run.as_of,
        plant: args.plant,
        format: match args.format.as_str() {
            "posthog" => demo::Format::Posthog,
            _ => demo::Format::Segment,
        },
    })?;
    Ok(DemoData(generated))
}
