//! Demo data: a deterministic generator of contract-shaped exports at any size — Segment
//! `tracks` (hive-partitioned by load day), `identifies`, `groups`, the `rows_imported` event
//! table, and Stripe `subscriptions`, `subscription_items` and `customers_metadata`. With
//! `Format::Posthog` the same product events, identifies and groups are written as PostHog's
//! batch-export `events` and `persons` models instead (`posthog.rs`).
//!
//! The population is realistic where it matters for PQL scoring: heavy-tailed company sizes,
//! seats and activity; free-mail sign-ups; trials that convert with engagement, get extended,
//! or end and go quiet; paying customers who churn. It also carries the edge cases real
//! exports have: events without an account or a user, re-delivered message ids, late-arriving
//! events in a later partition, accounts that never send an event, trait updates, timestamps
//! stored in three different units.
//!
//! Determinism: account profiles come from `(seed, account)`, each day's events from
//! `(seed, day)`. The same flags give byte-identical files, and datasets that differ only in
//! `--days` share their accounts and every common day's events.

mod posthog;
mod profile;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use rand::{Rng, RngExt};
use rand_distr::{Distribution, LogNormal, Poisson};

pub use profile::{
    Account, FREE_MAIL, PLANT_BASE, PLANT_DAYS, PLANT_EFFECTS, PLANT_SHARE, PLANTED_EVENTS,
    Planted, Population, Trial, User, add_days, date_of, day_ordinal,
};

pub use crate::source::Format;
pub use posthog::{
    EVENTS_DIR as POSTHOG_EVENTS_DIR, GROUP_TYPE, PERSONS_DIR as POSTHOG_PERSONS_DIR,
};
use pqlsync_core::fmt::thousands;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub out: PathBuf,
    pub accounts: u32,
    /// Days of tracks, ending on `as_of`.
    pub days: u32,
    /// Days over which accounts were created (default: max(days, 90)).
    pub history_days: Option<u32>,
    pub seed: u64,
    /// Multiplier on events per active user-day.
    pub activity: f64,
    /// The last day of data.
    pub as_of: NaiveDate,
    /// Plant known conversion effects (see [`Planted`]).
    pub plant: bool,
    /// The shape of the product events: Segment's tables or PostHog's models.
    pub format: Format,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "demo-data: {dir} exists and is not a pqlsync demo directory; pass an empty or new --out DIR"
    )]
    NotEmpty { dir: PathBuf },
    #[error("demo-data: --{flag} {message}")]
    BadFlag { flag: &'static str, message: String },
    #[error("demo-data: cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// What was generated.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Generated {
    pub out: PathBuf,
    pub format: Format,
    pub first_day: Option<NaiveDate>,
    pub as_of: Option<NaiveDate>,
    pub accounts: u32,
    pub tracks_rows: u64,
    pub identifies_rows: u64,
    pub groups_rows: u64,
    pub rows_imported_rows: u64,
    pub subscriptions_rows: u64,
    /// PostHog's persons model (0 for Segment).
    pub persons_rows: u64,
    pub files: u64,
    pub bytes: u64,
    pub seconds: f64,
}

impl fmt::Display for Generated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "demo data in {}: {} accounts, {} to {}",
            self.out.display(),
            thousands(i64::from(self.accounts)),
            self.first_day.map(|d| d.to_string()).unwrap_or_default(),
            self.as_of.map(|d| d.to_string()).unwrap_or_default()
        )?;
        let (tracks, identifies, groups) = match self.format {
            Format::Segment => ("tracks", "identifies", "groups"),
            Format::Posthog => ("events", "$identify", "$groupidentify"),
        };
        for (label, rows) in [
            (tracks, self.tracks_rows),
            (identifies, self.identifies_rows),
            (groups, self.groups_rows),
        ] {
            writeln!(f, "  {label:<15} {} rows", thousands(rows as i64))?;
        }
        if self.format == Format::Posthog {
            writeln!(
                f,
                "  persons         {} rows",
                thousands(self.persons_rows as i64)
            )?;
        }
        writeln!(
            f,
            "  rows_imported   {} rows",
            thousands(self.rows_imported_rows as i64)
        )?;
        writeln!(
            f,
            "  subscriptions   {} rows",
            thousands(self.subscriptions_rows as i64)
        )?;
        write!(
            f,
            "  {} files, {} bytes, {:.1}s",
            thousands(self.files as i64),
            thousands(self.bytes as i64),
            self.seconds
        )
    }
}

/// Marker left in a generated directory so a later run may replace it.
const MARKER: &str = ".pqlsync-demo";

/// Generate the demo exports into `opts.out`.
pub fn generate(opts: &Options) -> Result<Generated, DemoError> {
    let started = Instant::now();
    check(opts)?;
    prepare_dir(&opts.out)?;
    let last_day = day_ordinal(opts.as_of);
    let history = opts.history_days.unwrap_or(opts.days.max(90)).max(1);
    let pop = Population {
        seed: opts.seed,
        last_day,
        history_days: history as i32,
        plant: opts.plant,
    };
    let accounts: Vec<Account> = (0..opts.accounts)
        .map(|i| profile::account(pop, i))
        .collect();
    let first_day = last_day - opts.days as i32 + 1;
    let mut report = Generated {
        out: opts.out.clone(),
        format: opts.format,
        first_day: Some(date_of(first_day)),
        as_of: Some(opts.as_of),
        accounts: opts.accounts,
        ..Generated::default()
    };
    let posthog;
    let ctx = write::Context {
        out: &opts.out,
        seed: opts.seed,
        activity: opts.activity,
        last_day,
        shape: match opts.format {
            Format::Segment => &write::Segment,
            Format::Posthog => {
                posthog = posthog::PostHog::new(&accounts);
                &posthog
            }
        },
    };
    let days: Vec<i32> = (first_day..=last_day).collect();
    let results = write_days(&ctx, &accounts, &days);
    for r in results {
        let s = r?;
        report.tracks_rows += s.tracks_rows;
        report.rows_imported_rows += s.rows_imported_rows;
        report.files += s.files;
        report.bytes += s.bytes;
    }
    let s = write::identities(&ctx, &accounts)?;
    report.identifies_rows = s.identifies_rows;
    report.groups_rows = s.groups_rows;
    report.persons_rows = s.persons_rows;
    report.files += s.files;
    report.bytes += s.bytes;
    let s = write::stripe(&ctx, &accounts)?;
    report.subscriptions_rows = s.subscriptions_rows;
    report.files += s.files;
    report.bytes += s.bytes;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn check(opts: &Options) -> Result<(), DemoError> {
    if opts.days == 0 {
        return Err(DemoError::BadFlag {
            flag: "days",
            message: "must be at least 1".into(),
        });
    }
    if opts.accounts == 0 {
        return Err(DemoError::BadFlag {
            flag: "accounts",
            message: "must be at least 1".into(),
        });
    }
    if !(opts.activity.is_finite() && opts.activity > 0.0) {
        return Err(DemoError::BadFlag {
            flag: "activity",
            message: "must be a positive number".into(),
        });
    }
    Ok(())
}

/// Each day's tracks, on up to 8 threads; every day draws from its own seeded generator, so
/// the files do not depend on the thread count.
fn write_days(
    ctx: &write::Context<'_>,
    accounts: &[Account],
    days: &[i32],
) -> Vec<Result<write::DayStats, DemoError>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    days.iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|d| write::day(ctx, accounts, *d))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("generator thread"))
            .collect()
    })
}

fn prepare_dir(dir: &Path) -> Result<(), DemoError> {
    let err = |message: String| DemoError::Write {
        path: dir.to_path_buf(),
        message,
    };
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| err(e.to_string()))?
            .next()
            .is_none();
        if !empty {
            if !dir.join(MARKER).exists() {
                return Err(DemoError::NotEmpty {
                    dir: dir.to_path_buf(),
                });
            }
            for sub in [
                "tracks",
                "identifies",
                "groups.parquet",
                "stripe",
                "events",
                "posthog",
            ] {
                let p = dir.join(sub);
                if p.is_dir() {
                    std::fs::remove_dir_all(&p).map_err(|e| err(e.to_string()))?;
                } else if p.exists() {
                    std::fs::remove_file(&p).map_err(|e| err(e.to_string()))?;
                }
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    pqlsync_core::atomic::write(
        &dir.join(MARKER),
        b"Generated by `pqlsync demo-data`; a later demo-data run may replace this directory.\n",
    )
    .map_err(|e| err(e.to_string()))
}

/// One generated product event.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub account: Option<String>,
    pub user: Option<String>,
    pub anonymous_id: String,
    pub event: &'static str,
    /// Microseconds since the epoch.
    pub timestamp: i64,
    pub received_at: i64,
    /// For `rows_imported`.
    pub row_count: Option<i64>,
}

/// Usage events users pick from, with weights.
const USAGE_EVENTS: &[(&str, f64)] = &[
    ("page_viewed", 40.0),
    ("feature_used", 25.0),
    ("deal_created", 12.0),
    ("report_viewed", 10.0),
    ("rows_imported", 3.0),
    ("pricing_page_viewed", 2.0),
    ("upgrade_page_viewed", 0.5),
    ("paid_feature_used", 1.5),
    ("help_requested", 0.12),
    ("meeting_booked", 0.06),
];

const DAY_US: i64 = 86_400_000_000;

fn message_id<R: Rng>(rng: &mut R) -> String {
    let v: u128 = rng.random();
    as_uuid(&format!("{v:032x}"))
}

/// 32 hex digits as a UUID (`8-4-4-4-12`).
fn as_uuid(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One event of `user` in `account`, loaded as soon as it happened.
fn event<R: Rng>(
    rng: &mut R,
    account: &Account,
    user: &User,
    event: &'static str,
    timestamp: i64,
    row_count: Option<i64>,
) -> Event {
    Event {
        id: message_id(rng),
        account: Some(account.id.clone()),
        user: Some(user.id.clone()),
        anonymous_id: format!("anon_{}", user.id),
        event,
        timestamp,
        received_at: timestamp,
        row_count,
    }
}

/// Every event of `account` on `day` (ordinal), in generation order. Deterministic given `rng`;
/// the draws run in the order of the code here and in [`usage_events`], and changing that
/// order changes the demo data.
pub fn events_for<R: Rng>(rng: &mut R, account: &Account, day: i32, activity: f64) -> Vec<Event> {
    let mut out = Vec::new();
    if account.silent || day < account.created {
        return out;
    }
    let day_start = i64::from(day - 719_163) * DAY_US;
    let first = &account.users[0];
    // Lifecycle events come from the backend, active or not.
    if let Some(t) = &account.trial {
        let at = day_start + i64::from(t.start_second) * 1_000_000;
        let extended = t.extension.is_some_and(|(on, _)| on == day);
        let ended = if t.converts {
            "checkout_completed"
        } else {
            "trial_ended"
        };
        for (happens, name) in [
            (day == t.start_day, "trial_started"),
            (extended, "trial_extended"),
            (day == t.end_day(), ended),
        ] {
            if happens {
                out.push(event(rng, account, first, name, at, None));
            }
        }
    }
    if account.inactive_from.is_some_and(|d| day >= d) {
        return out;
    }
    if let Some(planted) = &account.planted {
        let behaviours = [
            (planted.integration, "integration_connected", 0),
            (planted.paid_feature, "paid_feature_used", 2),
            (planted.pricing, "pricing_page_viewed", 1),
            (planted.noise, "help_requested", 1),
        ];
        for (on, name, times) in behaviours {
            if on == Some(day) {
                for _ in 0..times {
                    let ts = day_start + rng.random_range(0..DAY_US);
                    out.push(event(rng, account, first, name, ts, None));
                }
            }
        }
    }
    let invited = account.users[1..].iter().filter(|u| u.joined == day);
    let connected = account.integration_days.iter().filter(|d| **d == day);
    for name in invited
        .map(|_| "teammate_invited")
        .chain(connected.map(|_| "integration_connected"))
    {
        let ts = day_start + rng.random_range(0..DAY_US);
        out.push(event(rng, account, first, name, ts, None));
    }
    usage_events(rng, account, day, activity, &mut out);
    out
}

/// The product usage of `account`'s users on `day`: who is active (fewer at weekends), how
/// much (Poisson, by engagement), and what (weighted by [`USAGE_EVENTS`]).
fn usage_events<R: Rng>(
    rng: &mut R,
    account: &Account,
    day: i32,
    activity: f64,
    out: &mut Vec<Event>,
) {
    let day_start = i64::from(day - 719_163) * DAY_US;
    let weekday = chrono::Datelike::weekday(&date_of(day)).number_from_monday();
    let weekend = if weekday >= 6 { 0.4 } else { 1.0 };
    let near_trial_end = account
        .trial
        .as_ref()
        .is_some_and(|t| (t.end_day() - 3..=t.end_day()).contains(&day));
    let p_active = ((0.12 + 0.75 * account.engagement) * weekend).min(0.95);
    let lambda = (1.0 + 14.0 * account.engagement) * activity;
    let poisson = Poisson::new(lambda).expect("positive rate");
    let rows = LogNormal::new(5.0_f64, 1.3).expect("valid");
    let total: f64 = USAGE_EVENTS.iter().map(|(_, w)| w).sum();
    for user in account.users.iter().filter(|u| u.joined <= day) {
        if !rng.random_bool(p_active) {
            continue;
        }
        let n = 1 + poisson.sample(rng) as usize;
        for _ in 0..n {
            let mut x = rng.random::<f64>() * total;
            let mut name = USAGE_EVENTS[0].0;
            for (e, w) in USAGE_EVENTS {
                if x < *w {
                    name = e;
                    break;
                }
                x -= w;
            }
            if near_trial_end && name == "page_viewed" && rng.random_bool(0.08) {
                name = "pricing_page_viewed";
            }
            // Planted behaviours are the only source of their events (see `Planted`).
            if account.planted.is_some() && PLANTED_EVENTS.contains(&name) {
                name = "page_viewed";
            }
            let row_count =
                (name == "rows_imported").then(|| rows.sample(rng).round().max(1.0) as i64);
            let ts = day_start + rng.random_range(0..DAY_US);
            // Teams of three or more sometimes hit a plan limit while using a feature. Taken
            // from the time already drawn, so the other events stay as they were.
            if name == "feature_used" && account.users.len() >= 3 && ts.rem_euclid(89) == 0 {
                name = "limit_reached";
            }
            out.push(event(rng, account, user, name, ts, row_count));
        }
    }
}

/// Add the noise real exports have: anonymous and unattributed events, re-deliveries, and
/// load delays (a few land one or two days late).
pub fn add_noise<R: Rng>(rng: &mut R, events: &mut Vec<Event>) {
    let mut copies = Vec::new();
    for e in events.iter_mut() {
        let delay = if rng.random_bool(0.01) {
            rng.random_range(DAY_US / 2..2 * DAY_US)
        } else {
            rng.random_range(200_000..30_000_000)
        };
        e.received_at = e.timestamp + delay;
        if e.event == "page_viewed" && rng.random_bool(0.01) {
            e.user = None;
        }
        if rng.random_bool(0.003) {
            e.account = None;
        }
        if rng.random_bool(0.002) {
            let mut copy = e.clone();
            copy.received_at += rng.random_range(1_000_000..600_000_000);
            copies.push(copy);
        }
    }
    events.extend(copies);
}
