//! The run summary: what a command did, as text for people and as JSON (`--summary-json`) for
//! schedulers and dashboards. Counts by tier, motion and stage; rows the features could not
//! attribute; what was written.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::Serialize;

use pqlsync_core::fmt::thousands;
use pqlsync_rules::route::{DealStage, LeadStage, Motion, Trigger};
use pqlsync_rules::score::Tier;
use pqlsync_sql::decision::Decision;
use pqlsync_sql::source::DatasetInfo;
use pqlsync_sync::{Listened, SyncReport};

/// The version of the `--summary-json` document. It changes only when a field is removed,
/// renamed or changes meaning (README, "Run summary (JSON)"); new fields keep it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a command reports.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    #[serde(flatten)]
    pub version: SchemaVersion,
    pub command: String,
    pub as_of: Option<NaiveDate>,
    pub accounts: usize,
    /// `features --view`: the view written and its rows (`accounts` is about `account_features`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<ViewRows>,
    pub tiers: BTreeMap<String, usize>,
    pub motions: BTreeMap<String, usize>,
    pub lead_stages: BTreeMap<String, usize>,
    pub deal_stages: BTreeMap<String, usize>,
    /// Tasks today's playbook triggers created, by trigger.
    pub tasks: BTreeMap<String, usize>,
    /// Triggers that fired for an account whose task template failed for it: no task was
    /// made (each is a failure: exit 1), and the trigger fires again once the template is fixed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub task_failures: Vec<TaskFailure>,
    /// The accounts' users (`run`, `plan`, `score`), when the project has `user_features`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<PeopleSummary>,
    /// Rows the features could not use, by check (from `data_quality.sql`, `set_aside.sql`
    /// and `duplicate_events_14d`).
    pub data_quality: BTreeMap<String, i64>,
    /// Input rows set aside rather than guessed at, by check and value (`set_aside.sql`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set_aside: Vec<SetAside>,
    pub sources: Vec<DatasetInfo>,
    pub outputs: Vec<String>,
    pub engine: EngineReport,
    /// The HubSpot sync (run), or what it would do (plan).
    pub sync: Option<SyncReport>,
    /// The sync plan in words (plan and run --dry-run).
    #[serde(skip)]
    pub plan: Option<String>,
    /// Why the run stopped early at a signal (`stopped by SIGTERM`), having saved its state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// `run`'s score health: PQL thresholds no account reached lately, and the latest
    /// complete month's call to recalibrate. Warnings only: they never change the exit code.
    #[serde(skip_serializing_if = "ScoreHealth::is_quiet")]
    pub score_health: ScoreHealth,
    /// Seconds per stage, as logged when each ended (`sources`, `plan`, `decide`, `sync`, …).
    pub stages: BTreeMap<String, f64>,
    pub seconds: f64,
}

/// The users scored: how many, how many are contacts, champions and power users.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct PeopleSummary {
    pub users: usize,
    /// Users without an email: scored (and counted in power users), never synced as contacts
    /// nor chosen as champion.
    pub without_email: usize,
    /// Accounts with a champion.
    pub champions: usize,
    pub power_users: usize,
}

impl PeopleSummary {
    pub fn new(users: &pqlsync_sql::people::Users) -> Self {
        PeopleSummary {
            users: users.rows,
            without_email: users.without_email,
            ..PeopleSummary::default()
        }
    }
}

/// The rows of one view `features --view` wrote.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ViewRows {
    pub view: String,
    pub rows: usize,
}

/// What `run` found about the score itself.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ScoreHealth {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreached: Vec<Unreached>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recalibrate: Option<Recalibrate>,
}

impl ScoreHealth {
    pub fn is_quiet(&self) -> bool {
        self.unreached.is_empty() && self.recalibrate.is_none()
    }
}

/// A PQL threshold above every account's score in the last `runs` days of history.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unreached {
    pub key: String,
    pub threshold: u8,
    /// The highest PQL score of any account in those days.
    pub highest: u8,
    pub runs: usize,
}

/// The latest complete trial-start month, flagged by model health.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Recalibrate {
    /// `YYYY-MM`.
    pub month: String,
    pub reason: String,
    pub auc: Option<f64>,
    pub baseline_auc: Option<f64>,
    pub psi: Option<f64>,
}

/// Rows of one source that one check set aside, all with one value (a Stripe status no
/// Stripe account produces, a negative price).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SetAside {
    pub check: String,
    /// The `[sources]` dataset the rows come from.
    pub source: String,
    /// Its location as configured, when it is a configured dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub value: String,
    pub rows: i64,
    /// What the value means for the run (`the item adds no MRR or seats`).
    pub reason: String,
}

/// A playbook task that could not be rendered for one account.
#[derive(Debug, Clone, Serialize)]
pub struct TaskFailure {
    pub account_id: String,
    pub trigger: String,
    pub message: String,
}

/// What says which document a `--summary-json` file is; flattened into [`Summary`].
#[derive(Debug, Clone, Serialize)]
pub struct SchemaVersion {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The pqlsync release that wrote it.
    pub pqlsync_version: &'static str,
}

impl Default for SchemaVersion {
    fn default() -> Self {
        SchemaVersion {
            schema_version: SCHEMA_VERSION,
            pqlsync_version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// How the query engine fared.
#[derive(Debug, Clone, Serialize, Default)]
pub struct EngineReport {
    /// `[engine] memory_limit`, if set.
    pub memory_limit_bytes: Option<usize>,
    /// The partitions the queries ran on: `[engine] target_partitions`, or 1 when a run on
    /// more ran out of memory and was computed again on one.
    pub partitions: usize,
    /// The most memory reserved at once by query operators.
    pub peak_memory_bytes: usize,
    /// The most repartition buffers held at once, counted beside the limit (see
    /// `engine::memory`).
    pub repartition_peak_bytes: usize,
    pub spill_files: usize,
    pub spilled_bytes: usize,
    /// The Ballista scheduler the queries ran on (`[engine] url`); memory and spills are then
    /// the executors', and the figures above count only this process.
    pub cluster: Option<String>,
}

impl Summary {
    pub fn new(command: &str, as_of: Option<NaiveDate>) -> Summary {
        let mut s = Summary {
            command: command.to_string(),
            as_of,
            ..Summary::default()
        };
        for t in [Tier::Red, Tier::Yellow, Tier::Green] {
            s.tiers.insert(t.as_str().into(), 0);
        }
        for m in Motion::ALL {
            s.motions.insert(m.as_str().into(), 0);
        }
        for l in LeadStage::ALL {
            s.lead_stages.insert(l.as_str().into(), 0);
        }
        for d in DealStage::ALL {
            s.deal_stages.insert(d.as_str().into(), 0);
        }
        s
    }

    pub fn count(&mut self, d: &Decision) {
        self.accounts += 1;
        if let (Some(people), Some(team)) = (self.people.as_mut(), d.team.as_ref()) {
            people.champions += usize::from(team.champion.is_some());
            people.power_users += team.users.iter().filter(|u| u.power).count();
        }
        *self.tiers.entry(d.score.tier.as_str().into()).or_default() += 1;
        *self
            .motions
            .entry(d.route.motion.as_str().into())
            .or_default() += 1;
        *self
            .lead_stages
            .entry(d.route.lead_stage.as_str().into())
            .or_default() += 1;
        if let Some(stage) = d.route.deal_stage {
            *self.deal_stages.entry(stage.as_str().into()).or_default() += 1;
        }
        for t in &d.route.tasks {
            *self.tasks.entry(t.trigger.as_str().into()).or_default() += 1;
        }
        for (trigger, message) in &d.route.task_failures {
            self.task_failures.push(TaskFailure {
                account_id: d.account_id.clone(),
                trigger: trigger.as_str().to_string(),
                message: message.clone(),
            });
        }
    }
}

fn group(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    counts: &BTreeMap<String, usize>,
    order: &[&str],
) -> fmt::Result {
    write!(f, "  {label:<8}")?;
    for key in order {
        write!(
            f,
            "  {key} {}",
            thousands(counts.get(*key).copied().unwrap_or(0) as i64)
        )?;
    }
    writeln!(f)
}

impl Summary {
    /// The first line: the command, its day, and how many accounts (or the view's rows).
    fn header(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pqlsync {}", self.command)?;
        if let Some(d) = self.as_of {
            write!(f, "  as of {d}")?;
        }
        match &self.view {
            Some(v) => writeln!(
                f,
                "  {} rows of {}  {:.1}s",
                thousands(v.rows as i64),
                v.view,
                self.seconds
            )?,
            None => writeln!(
                f,
                "  {} accounts  {:.1}s",
                thousands(self.accounts as i64),
                self.seconds
            )?,
        }
        Ok(())
    }
}

fn people(f: &mut fmt::Formatter<'_>, p: &PeopleSummary) -> fmt::Result {
    writeln!(
        f,
        "  people    {} users scored  {} champions  {} power users  {} without an email (not synced)",
        thousands(p.users as i64),
        thousands(p.champions as i64),
        thousands(p.power_users as i64),
        thousands(p.without_email as i64)
    )
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.header(f)?;
        if !self.motions.values().all(|n| *n == 0) {
            group(f, "tier", &self.tiers, &["red", "yellow", "green"])?;
            group(
                f,
                "motion",
                &self.motions,
                &["self_serve", "sales_assisted", "disqualified", "customer"],
            )?;
            let leads: Vec<&str> = LeadStage::ALL.iter().map(|s| s.as_str()).collect();
            group(f, "lead", &self.lead_stages, &leads)?;
            let deals: Vec<&str> = DealStage::ALL.iter().map(|s| s.as_str()).collect();
            group(f, "deal", &self.deal_stages, &deals)?;
            let total: usize = self.tasks.values().sum();
            write!(f, "  tasks     {} new", thousands(total as i64))?;
            for trigger in Trigger::ALL {
                if let Some(n) = self.tasks.get(trigger.as_str()) {
                    write!(f, "  {} {}", trigger.as_str(), thousands(*n as i64))?;
                }
            }
            writeln!(f)?;
        }
        if let Some(p) = &self.people {
            people(f, p)?;
        }
        if !self.task_failures.is_empty() {
            writeln!(
                f,
                "  {} playbook tasks NOT created, their template failed for the account (fix the \
                 template; the triggers fire again):",
                thousands(self.task_failures.len() as i64)
            )?;
            for t in self.task_failures.iter().take(10) {
                writeln!(f, "    {} {}: {}", t.account_id, t.trigger, t.message)?;
            }
        }
        let problems: Vec<_> = self.data_quality.iter().filter(|(_, n)| **n != 0).collect();
        if !problems.is_empty() {
            writeln!(
                f,
                "  data quality (rows set aside, not attributed or counted once):"
            )?;
            for (check, n) in problems {
                writeln!(f, "    {check:<34} {}", thousands(*n))?;
            }
        }
        if let Some(plan) = &self.plan {
            for line in plan.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        if let Some(s) = &self.sync
            && self.plan.is_none()
        {
            sync_report(f, s)?;
        }
        for out in &self.outputs {
            writeln!(f, "  wrote {out}")?;
        }
        Ok(())
    }
}

/// `  LABEL N` when `n` is not zero: the counts a reader only needs when they happen.
fn when_any(label: &str, n: usize) -> String {
    if n > 0 {
        format!("  {label} {}", thousands(n as i64))
    } else {
        String::new()
    }
}

/// What the HubSpot step did, object by object, then its requests, warnings and failures.
fn sync_report(f: &mut fmt::Formatter<'_>, s: &SyncReport) -> fmt::Result {
    sync_counts(f, s)?;
    if let Some(l) = s.listened.as_ref().filter(|l| l.requests > 0) {
        read_back(f, l)?;
    }
    if s.requests > 0 {
        writeln!(
            f,
            "    {} requests ({} writes), {} retried, {} rate-limited, {:.1}s",
            thousands(s.requests as i64),
            thousands(s.write_requests as i64),
            thousands(s.retries as i64),
            thousands(s.rate_limited as i64),
            s.seconds
        )?;
    }
    if let Some(id) = &s.run_id {
        writeln!(
            f,
            "    change log: {} entries, run {id} (pqlsync changes --run {id})",
            thousands(s.changes as i64)
        )?;
    }
    for w in &s.warnings {
        writeln!(f, "    warning: {w}")?;
    }
    not_sent(f, s)?;
    failures(f, s)
}

/// Per object: created, updated, unchanged and what waits or failed; then associations.
fn sync_counts(f: &mut fmt::Formatter<'_>, s: &SyncReport) -> fmt::Result {
    writeln!(f, "  hubspot   {}", s.mode)?;
    for (object, c) in &s.objects {
        writeln!(
            f,
            "    {object:<13} created {}  updated {}  unchanged {}{}{}{}{}",
            thousands(c.created as i64),
            thousands(c.updated as i64),
            thousands(c.unchanged as i64),
            when_any("matched existing", c.adopted),
            when_any("kept: changed in HubSpot", c.kept),
            when_any("waiting", c.pending),
            when_any("FAILED", c.failed),
        )?;
    }
    let a = &s.associations;
    writeln!(
        f,
        "    {:<13} created {}  existing {}{}{}",
        "associations",
        thousands(a.created as i64),
        thousands(a.unchanged as i64),
        when_any("waiting", a.pending),
        when_any("FAILED", a.failed),
    )?;
    Ok(())
}

/// What the read-back found changed in HubSpot, gone from it or left unread.
fn read_back(f: &mut fmt::Formatter<'_>, l: &Listened) -> fmt::Result {
    let read: usize = l.objects.values().map(|c| c.read).sum();
    let changed: usize = l.objects.values().map(|c| c.changed_in_hubspot).sum();
    let unread: usize = l.objects.values().map(|c| c.unread).sum();
    let gone: usize = l.objects.values().map(|c| c.gone).sum();
    writeln!(
        f,
        "    read back {} records in {} requests ({:.1}s): {} changed in HubSpot{}{}",
        thousands(read as i64),
        thousands(l.requests as i64),
        l.seconds,
        thousands(changed as i64),
        when_any("GONE from HubSpot (recreated)", gone),
        when_any("UNREAD (not written this run)", unread),
    )?;
    Ok(())
}

/// Values sent clipped and contacts not sent, the first ten of each.
fn not_sent(f: &mut fmt::Formatter<'_>, s: &SyncReport) -> fmt::Result {
    if !s.clipped.is_empty() {
        writeln!(
            f,
            "    {} values sent clipped to HubSpot's limit of 65,536 characters:",
            s.clipped.len()
        )?;
        for c in s.clipped.iter().take(10) {
            writeln!(
                f,
                "      {} {} {}.{}: {} characters",
                c.account_id,
                c.object,
                c.key,
                c.property,
                thousands(c.length as i64)
            )?;
        }
    }
    if !s.refused.is_empty() {
        writeln!(
            f,
            "    {} contacts not sent: HubSpot would refuse their email (fix it where the product identifies users):",
            s.refused.len()
        )?;
        for r in s.refused.iter().take(10) {
            writeln!(f, "      {} {:?}: {}", r.account_id, r.email, r.reason)?;
        }
    }
    Ok(())
}

/// Why the sync stopped, and the first ten records that failed.
fn failures(f: &mut fmt::Formatter<'_>, s: &SyncReport) -> fmt::Result {
    if let Some(stop) = &s.stopped {
        writeln!(f, "    STOPPED: {stop}")?;
    }
    if !s.failures.is_empty() {
        writeln!(
            f,
            "    {} records failed (retried next run; all in failures.json under [state] url):",
            s.failures.len()
        )?;
        for fail in s.failures.iter().take(10) {
            let correlation = fail.correlation_id.as_ref();
            writeln!(
                f,
                "      {} {}: {}{}",
                fail.object,
                fail.key,
                fail.message,
                correlation.map_or_else(String::new, |c| format!(" (correlation id {c})"))
            )?;
        }
    }
    Ok(())
}
