//! Account profiles: who the accounts and users are, and everything about their lifecycle that
//! spans days (sign-up, trial, conversion, churn, integrations). Drawn once per account from
//! `(seed, account index)`, so every day's events can be generated independently and in any
//! order.

use chrono::{NaiveDate, TimeDelta};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Pareto};

/// Free-mail providers demo users sign up with.
pub const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
];

const INDUSTRIES: &[&str] = &[
    "software",
    "saas",
    "technology",
    "financial services",
    "marketing",
    "e-commerce",
    "healthcare",
    "education",
    "manufacturing",
    "retail",
    "consulting",
    "non-profit",
    "real estate",
    "media",
];
const ADJECTIVES: &[&str] = &[
    "blue", "bright", "north", "swift", "quiet", "bold", "clear", "lunar", "solid", "true", "open",
    "red", "green", "prime", "silver", "urban", "wild", "deep", "rapid", "happy",
];
const NOUNS: &[&str] = &[
    "harbor", "peak", "river", "forge", "signal", "orbit", "canvas", "ledger", "beacon", "field",
    "anchor", "pixel", "stone", "cloud", "vector", "spruce", "falcon", "maple", "atlas", "delta",
];
const SUFFIXES: &[&str] = &[
    "labs", "inc", "co", "hq", "group", "systems", "works", "studio",
];
const FIRST: &[&str] = &[
    "ana", "ben", "chen", "dara", "eli", "fatima", "gus", "hana", "ivan", "jo", "kofi", "lea",
    "mo", "nia", "omar", "pia", "quinn", "ravi", "sara", "tom", "uma", "vik", "wen", "yara", "zoe",
];
const LAST: &[&str] = &[
    "smith", "garcia", "kim", "muller", "rossi", "okafor", "tanaka", "silva", "novak", "haddad",
    "olsen", "dubois", "singh", "cohen", "ivanova", "nguyen",
];

/// One user of an account.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    /// Day (ordinal from CE) the user joined; 0 is the account's creator.
    pub joined: i32,
}

/// A trial and how it ends.
#[derive(Debug, Clone)]
pub struct Trial {
    pub start_day: i32,
    /// Seconds into the start day.
    pub start_second: u32,
    pub length_days: i32,
    /// Extra days granted by a `trial_extended`, on `extended_on`.
    pub extension: Option<(i32, i32)>,
    /// Billing runs through Stripe (else the trial is known from events only).
    pub stripe: bool,
    pub converts: bool,
    pub yearly: bool,
    pub currency: &'static str,
    /// Price per seat, minor units, for the billing interval.
    pub unit_amount: i64,
    /// Day the paying customer cancels (past-due first on some).
    pub churns_on: Option<i32>,
    pub past_due: bool,
}

impl Trial {
    /// Day the trial ends (after any extension).
    pub fn end_day(&self) -> i32 {
        self.start_day + self.length_days + self.extension.map_or(0, |(_, extra)| extra)
    }
}

/// One account and its life.
#[derive(Debug, Clone)]
pub struct Account {
    pub index: u32,
    pub id: String,
    pub name: String,
    pub website: Option<String>,
    pub employees: Option<i64>,
    pub industry: Option<String>,
    pub plan: &'static str,
    pub created: i32,
    /// A later group call that changes traits (employees grew, website added).
    pub regroup: Option<i32>,
    pub users: Vec<User>,
    /// 0..1: how much the account uses the product.
    pub engagement: f64,
    /// Never sends a single event (signed up and left).
    pub silent: bool,
    pub trial: Option<Trial>,
    /// Day the account stops using the product, if it does.
    pub inactive_from: Option<i32>,
    pub integration_days: Vec<i32>,
    /// With `demo-data --plant`: the behaviours that decide whether the trial converts.
    pub planted: Option<Planted>,
}

/// `demo-data --plant`: behaviours early in a trial that raise the log-odds of converting by
/// known amounts, so `calibrate` can be checked against the truth. Each is drawn independently
/// for every trial (probability [`PLANT_SHARE`]) and happens once, on the day given, within
/// the first [`PLANT_DAYS`] days of the trial; nothing else in the account's life depends on
/// them, and nothing else decides the conversion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Planted {
    /// An `integration_connected` event (feature `integrations_connected >= 1`).
    pub integration: Option<i32>,
    /// Two `paid_feature_used` events (`paid_feature_events_14d >= 1`).
    pub paid_feature: Option<i32>,
    /// A `pricing_page_viewed` event (`pricing_page_views_14d >= 1`).
    pub pricing: Option<i32>,
    /// A `help_requested` event (`help_requested_14d >= 1`): pure noise, no effect.
    pub noise: Option<i32>,
}

/// Log-odds of converting for a trial with no planted behaviour.
pub const PLANT_BASE: f64 = -2.6;
/// The planted effects on the log-odds: (behaviour, feature column, effect).
pub const PLANT_EFFECTS: &[(&str, &str, f64)] = &[
    ("integration", "integrations_connected", 2.0),
    ("paid_feature", "paid_feature_events_14d", 1.2),
    ("pricing", "pricing_page_views_14d", 0.6),
    ("noise", "help_requested_14d", 0.0),
];
/// Chance of each planted behaviour per trial.
pub const PLANT_SHARE: f64 = 0.3;
/// Planted behaviours happen on trial days 1..=PLANT_DAYS.
pub const PLANT_DAYS: i32 = 5;
/// Product events only planted behaviours send, so a feature built on them fires exactly when
/// the behaviour was planted.
pub const PLANTED_EVENTS: &[&str] = &[
    "integration_connected",
    "paid_feature_used",
    "pricing_page_viewed",
    "help_requested",
];

impl Planted {
    /// The log-odds of converting.
    pub fn log_odds(&self) -> f64 {
        let on = [
            self.integration,
            self.paid_feature,
            self.pricing,
            self.noise,
        ];
        PLANT_BASE
            + on.iter()
                .zip(PLANT_EFFECTS)
                .filter(|(day, _)| day.is_some())
                .map(|(_, (_, _, effect))| effect)
                .sum::<f64>()
    }
}

/// Parameters that shape the population.
#[derive(Debug, Clone, Copy)]
pub struct Population {
    pub seed: u64,
    /// Last day of data (ordinal from CE).
    pub last_day: i32,
    /// Accounts are created over this many days up to `last_day`.
    pub history_days: i32,
    /// Plant known conversion effects (see [`Planted`]).
    pub plant: bool,
}

pub fn day_ordinal(d: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&d)
}

pub fn date_of(ordinal: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(ordinal).expect("in range")
}

pub fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    d + TimeDelta::days(n)
}

/// A stream id for an RNG: one per (seed, purpose, index), stable across releases.
pub fn rng_for(seed: u64, purpose: u64, index: u64) -> ChaCha8Rng {
    let mut z = seed
        ^ purpose.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ index.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

fn pick<'a, R: Rng>(rng: &mut R, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Draw account `index`. Every value comes from one seeded stream, in the order of the code
/// here and in [`company`], [`users`] and [`trial`]; changing that order changes the demo
/// data.
pub fn account(pop: Population, index: u32) -> Account {
    let mut rng = rng_for(pop.seed, 1, u64::from(index));
    let id = format!("acct_{index:06}");
    let created = pop.last_day - rng.random_range(0..pop.history_days.max(1));
    let Company {
        name,
        free_mail,
        domain: company_domain,
        website,
    } = company(&mut rng, index);
    let (employees, industry) = firmographics(&mut rng);
    let seats = seats(&mut rng, employees, free_mail);
    let engagement = LogNormal::new(-1.0_f64, 0.9)
        .expect("valid")
        .sample(&mut rng)
        .min(1.0);
    let silent = rng.random_bool(0.03);
    let users = users(
        &mut rng,
        index,
        created,
        seats,
        engagement,
        free_mail,
        &company_domain,
    );
    // Most sign-ups start a trial within two days; some use the free plan only.
    let trial = rng
        .random_bool(0.72)
        .then(|| trial(&mut rng, created, seats, engagement, free_mail));
    let inactive_from = inactive_from(&mut rng, trial.as_ref(), created);
    let integration_days = integration_days(&mut rng, created, engagement);
    let plan = match &trial {
        Some(t) if t.converts => "team",
        Some(_) => "trial",
        None => "free",
    };
    let regroup = rng
        .random_bool(0.2)
        .then(|| created + rng.random_range(1..45));
    let mut account = Account {
        index,
        id,
        name,
        website,
        employees,
        industry,
        plan,
        created,
        regroup,
        users,
        engagement,
        silent,
        trial,
        inactive_from,
        integration_days,
        planted: None,
    };
    if pop.plant {
        plant(pop.seed, &mut account);
    }
    account
}

/// Replace what decides a trial's conversion with planted behaviours. Draws come from their
/// own stream, so the unplanted population (and the default demo data) is unchanged.
fn plant(seed: u64, account: &mut Account) {
    let mut rng = rng_for(seed, 7, u64::from(account.index));
    let Some(trial) = account.trial.as_mut() else {
        // Integrations are planted behaviour: accounts without a trial never connect one.
        account.integration_days.clear();
        return;
    };
    let start = trial.start_day;
    let day = |rng: &mut ChaCha8Rng| {
        rng.random_bool(PLANT_SHARE)
            .then(|| start + rng.random_range(0..PLANT_DAYS))
    };
    let planted = Planted {
        integration: day(&mut rng),
        paid_feature: day(&mut rng),
        pricing: day(&mut rng),
        noise: day(&mut rng),
    };
    let p = 1.0 / (1.0 + (-planted.log_odds()).exp());
    trial.converts = rng.random_bool(p);
    // Every planted trial bills through Stripe, so "paid" is observed for each converter.
    trial.stripe = true;
    trial.churns_on = None;
    trial.past_due = false;
    account.silent = false;
    account.plan = if trial.converts { "team" } else { "trial" };
    account.inactive_from = (!trial.converts).then(|| trial.end_day() + rng.random_range(0..5));
    // Converters connect an integration after they pay: a leak a calibration that looked past
    // trial day K would see as a perfect signal.
    account.integration_days = planted.integration.into_iter().collect();
    if trial.converts && planted.integration.is_none() {
        account
            .integration_days
            .push(trial.end_day() + rng.random_range(1..5));
    }
    account.planted = Some(planted);
}

/// An account's name, whether it signed up with free mail, its domain and the website it gave.
struct Company {
    name: String,
    free_mail: bool,
    domain: String,
    website: Option<String>,
}

/// Company size (heavy-tailed, most accounts small; sometimes unknown) and industry
/// (sometimes unknown).
fn firmographics(rng: &mut ChaCha8Rng) -> (Option<i64>, Option<String>) {
    let employees_raw = Pareto::new(3.0_f64, 0.9)
        .expect("valid")
        .sample(rng)
        .min(50_000.0) as i64;
    let employees = (!rng.random_bool(0.08)).then_some(employees_raw);
    let industry = (!rng.random_bool(0.05)).then(|| pick(rng, INDUSTRIES).to_string());
    (employees, industry)
}

/// Seats: heavy-tailed too, bounded by the company size; a few percent reach 50.
fn seats(rng: &mut ChaCha8Rng, employees: Option<i64>, free_mail: bool) -> i64 {
    let seat_draw = Pareto::new(1.0_f64, 0.8).expect("valid").sample(rng);
    let mut seats = (seat_draw as i64).clamp(1, 400);
    if let Some(e) = employees {
        seats = seats.min(e.max(1));
    }
    if free_mail {
        seats = seats.min(3);
    }
    seats
}

/// The day an account goes quiet: unconverted trials mostly after the trial; some free users
/// drift off.
fn inactive_from(rng: &mut ChaCha8Rng, trial: Option<&Trial>, created: i32) -> Option<i32> {
    match trial {
        Some(t) if !t.converts && rng.random_bool(0.75) => {
            Some(t.end_day() + rng.random_range(0..5))
        }
        Some(t) if t.churns_on.is_some() => t.churns_on,
        _ if rng.random_bool(0.3) => Some(created + rng.random_range(3..60)),
        _ => None,
    }
}

/// Up to three integrations connected in the first month, more likely the more engaged.
fn integration_days(rng: &mut ChaCha8Rng, created: i32, engagement: f64) -> Vec<i32> {
    let mut days = Vec::new();
    for _ in 0..3 {
        if rng.random_bool(0.25 + 0.5 * engagement) {
            days.push(created + rng.random_range(0..30));
        }
    }
    days
}

fn company(rng: &mut ChaCha8Rng, index: u32) -> Company {
    let name = format!(
        "{} {} {}",
        capitalise(pick(rng, ADJECTIVES)),
        capitalise(pick(rng, NOUNS)),
        capitalise(pick(rng, SUFFIXES))
    );
    // A quarter of sign-ups use a free-mail address and give no company website.
    let free_mail = rng.random_bool(0.25);
    let slug: String = name
        .to_ascii_lowercase()
        .split(' ')
        .take(2)
        .collect::<Vec<_>>()
        .join("");
    let tld = pick(rng, &["com", "io", "co", "ai"]);
    let company_domain = format!("{slug}{index}.{tld}");
    let website = (!free_mail && rng.random_bool(0.9)).then(|| match rng.random_range(0..3) {
        0 => format!("https://www.{company_domain}/"),
        1 => format!("http://{company_domain}"),
        _ => format!("www.{company_domain}/about"),
    });
    Company {
        name,
        free_mail,
        domain: company_domain,
        website,
    }
}

/// The account's users: the creator on day one, teammates over the first three weeks.
fn users(
    rng: &mut ChaCha8Rng,
    index: u32,
    created: i32,
    seats: i64,
    engagement: f64,
    free_mail: bool,
    company_domain: &str,
) -> Vec<User> {
    let first = FIRST.len();
    (0..seats)
        .map(|k| {
            // Teammates join over the first three weeks, faster in engaged accounts.
            let joined = if k == 0 {
                created
            } else {
                created + (rng.random::<f64>().powf(1.0 + engagement) * 21.0) as i32
            };
            let f = FIRST[(index as usize + k as usize * 7) % first];
            let l = LAST[rng.random_range(0..LAST.len())];
            let personal = free_mail || rng.random_bool(0.07);
            let email = if personal {
                format!(
                    "{f}.{l}{}@{}",
                    rng.random_range(1..999),
                    pick(rng, FREE_MAIL)
                )
            } else {
                format!("{f}.{l}{k}@{company_domain}")
            };
            User {
                id: format!("u_{index:06}_{k:03}"),
                email,
                joined,
            }
        })
        .collect()
}

/// A trial started `created` or up to two days later: its length, extension, billing and how
/// it ends.
fn trial(
    rng: &mut ChaCha8Rng,
    created: i32,
    seats: i64,
    engagement: f64,
    free_mail: bool,
) -> Trial {
    let start_day = created + rng.random_range(0..3);
    let length_days = 14;
    let extension = rng
        .random_bool(0.06)
        .then(|| (start_day + length_days - rng.random_range(1..4), 7));
    // Trial-to-paid runs at PLG norms (~15% overall), far higher for engaged teams.
    let quality: f64 = engagement * (1.0 + (seats as f64).ln()) * if free_mail { 0.4 } else { 1.0 };
    let converts = rng.random_bool((0.02 + 0.35 * quality.powf(1.5)).clamp(0.01, 0.7));
    let yearly = rng.random_bool(0.2);
    let currency = if rng.random_bool(0.15) { "eur" } else { "usd" };
    let unit_amount = if yearly { 29_000 } else { 2_900 };
    let end = start_day + length_days + extension.map_or(0, |(_, e)| e);
    Trial {
        start_day,
        start_second: rng.random_range(0..86_400),
        length_days,
        extension,
        stripe: rng.random_bool(0.85),
        converts,
        yearly,
        currency,
        unit_amount,
        churns_on: (converts && rng.random_bool(0.1)).then(|| end + rng.random_range(20..120)),
        past_due: converts && rng.random_bool(0.05),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}
