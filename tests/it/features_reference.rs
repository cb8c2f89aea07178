//! `pqlsync features` over `demo-data` output, checked column by column against values this
//! test computes on its own from the raw Parquet files, following README's definitions — not
//! the SQL. Run for the last day of the data and for a day in the middle, where later rows
//! exist in the files and must not leak into the past.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use crate::common::*;
use chrono::NaiveDate;
use pqlsync_sql::value::Value;

const DAY_US: i64 = 86_400_000_000;

type Row = Vec<(String, Value)>;

fn text(row: &Row, name: &str) -> Option<String> {
    get(row, name).as_str().map(str::to_string)
}

fn ts(row: &Row, name: &str) -> Option<i64> {
    match get(row, name) {
        Value::Timestamp(us) => Some(*us),
        Value::Null => None,
        other => panic!("{name} is not a timestamp: {other:?}"),
    }
}

fn int(row: &Row, name: &str) -> Option<i64> {
    get(row, name).as_i64()
}

/// The expected contract columns of one account.
#[derive(Debug, Default, Clone, PartialEq)]
struct Expected {
    seats: i64,
    events_14d: i64,
    active_users_14d: i64,
    active_days_14d: i64,
    teammates_invited_14d: i64,
    integrations_connected: i64,
    deals_created_14d: i64,
    rows_imported_14d: f64,
    pricing_page_views_14d: i64,
    paid_feature_events_14d: i64,
    help_requested_14d: i64,
    meeting_booked_14d: i64,
    last_seen_at: Option<i64>,
    days_since_last_activity: Option<i64>,
    employees: Option<i64>,
    industry: Option<String>,
    email_domain: Option<String>,
    free_email_domain: Option<bool>,
    trial_start: Option<i64>,
    trial_end: Option<i64>,
    trial_status: String,
    subscription_status: String,
    mrr: Option<i64>,
}

fn host(website: &str) -> Option<String> {
    let s = website.trim().to_ascii_lowercase();
    let s = match s.find("://") {
        Some(i)
            if s[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)) =>
        {
            s[i + 3..].to_string()
        }
        _ => s,
    };
    let s = s.strip_prefix("www.").unwrap_or(&s);
    let end = s.find(['/', ':', '?', '#']).unwrap_or(s.len());
    let h = &s[..end];
    (!h.is_empty()).then(|| h.to_string())
}

fn expected(data: &Path, as_of_day: NaiveDate) -> BTreeMap<String, Expected> {
    let as_of = (as_of_day + chrono::TimeDelta::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros();
    let window_start = as_of - 14 * DAY_US;

    // Accounts: the latest group call before as_of.
    let mut groups: BTreeMap<String, (i64, i64, String, Row)> = BTreeMap::new();
    for row in read_rows(&data.join("groups.parquet")) {
        let Some(id) = text(&row, "group_id") else {
            continue;
        };
        let t = ts(&row, "timestamp").unwrap();
        if t >= as_of {
            continue;
        }
        let key = (
            t,
            ts(&row, "received_at").unwrap_or(i64::MIN),
            text(&row, "id").unwrap_or_default(),
        );
        let newer = groups
            .get(&id)
            .is_none_or(|(a, b, c, _)| key > (*a, *b, c.clone()));
        if newer {
            groups.insert(id, (key.0, key.1, key.2, row));
        }
    }
    let mut out: BTreeMap<String, Expected> = groups
        .iter()
        .map(|(id, (_, _, _, row))| {
            let e = Expected {
                employees: int(row, "employees"),
                industry: text(row, "industry").map(|s| s.trim().to_ascii_lowercase()),
                trial_status: "none".into(),
                subscription_status: "none".into(),
                mrr: Some(0),
                ..Expected::default()
            };
            (id.clone(), e)
        })
        .collect();

    // Seats and email domains from identifies before as_of.
    let mut users: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut domains: HashMap<String, HashMap<String, BTreeSet<String>>> = HashMap::new();
    for row in read_rows(&data.join("identifies")) {
        let (Some(acct), Some(user)) = (text(&row, "context_group_id"), text(&row, "user_id"))
        else {
            continue;
        };
        if ts(&row, "timestamp").unwrap() >= as_of {
            continue;
        }
        users.entry(acct.clone()).or_default().insert(user.clone());
        if let Some(email) = text(&row, "email").map(|e| e.trim().to_ascii_lowercase())
            && let Some((local, domain)) = email.split_once('@')
            && !local.is_empty()
            && !domain.is_empty()
        {
            domains
                .entry(acct)
                .or_default()
                .entry(domain.to_string())
                .or_default()
                .insert(user);
        }
    }

    // Product events: lifetime facts and the deduplicated 14-day window.
    #[derive(Default)]
    struct Life {
        last: Option<i64>,
        integrations: BTreeSet<String>,
        first_trial_started: Option<i64>,
        last_opened: Option<i64>,
        last_ended: Option<i64>,
    }
    let mut life: HashMap<String, Life> = HashMap::new();
    let mut window: HashMap<(String, String), (Option<String>, String, i64)> = HashMap::new();
    for row in read_rows(&data.join("tracks")) {
        let Some(acct) = text(&row, "context_group_id") else {
            continue;
        };
        let t = ts(&row, "timestamp").unwrap();
        if t >= as_of {
            continue;
        }
        let event = text(&row, "event").unwrap();
        let id = text(&row, "id").unwrap();
        let l = life.entry(acct.clone()).or_default();
        l.last = l.last.max(Some(t));
        match event.as_str() {
            "integration_connected" => {
                l.integrations.insert(id.clone());
            }
            "trial_started" => {
                l.first_trial_started = Some(l.first_trial_started.map_or(t, |f| f.min(t)));
                l.last_opened = l.last_opened.max(Some(t));
            }
            "trial_extended" => l.last_opened = l.last_opened.max(Some(t)),
            "trial_ended" => l.last_ended = l.last_ended.max(Some(t)),
            _ => {}
        }
        if t >= window_start {
            window
                .entry((acct, id))
                .or_insert((text(&row, "user_id"), event, t));
        }
    }
    let mut active_users: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut active_days: HashMap<String, BTreeSet<i64>> = HashMap::new();
    for ((acct, _), (user, event, t)) in &window {
        let Some(e) = out.get_mut(acct) else { continue };
        e.events_14d += 1;
        if let Some(u) = user {
            active_users
                .entry(acct.clone())
                .or_default()
                .insert(u.clone());
        }
        active_days
            .entry(acct.clone())
            .or_default()
            .insert(t.div_euclid(DAY_US));
        match event.as_str() {
            "teammate_invited" => e.teammates_invited_14d += 1,
            "deal_created" => e.deals_created_14d += 1,
            "pricing_page_viewed" | "upgrade_page_viewed" => e.pricing_page_views_14d += 1,
            "paid_feature_used" => e.paid_feature_events_14d += 1,
            "help_requested" => e.help_requested_14d += 1,
            "meeting_booked" => e.meeting_booked_14d += 1,
            _ => {}
        }
    }

    // Rows imported in the window, one row per message.
    let mut imports: HashMap<(String, String), f64> = HashMap::new();
    for row in read_rows(&data.join("events/rows_imported")) {
        let Some(acct) = text(&row, "context_group_id") else {
            continue;
        };
        let t = ts(&row, "timestamp").unwrap();
        if t >= window_start && t < as_of {
            imports.insert(
                (acct, text(&row, "id").unwrap()),
                int(&row, "row_count").unwrap() as f64,
            );
        }
    }
    for ((acct, _), n) in imports {
        if let Some(e) = out.get_mut(&acct) {
            e.rows_imported_14d += n;
        }
    }

    // Free-mail list, as shipped.
    let free: BTreeSet<String> = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/seeds/free_email_domains.csv"),
    )
    .unwrap()
    .lines()
    .skip(1)
    .map(|l| l.trim().to_ascii_lowercase())
    .collect();

    // Stripe, as of the end of the scoring day.
    let mut account_of: HashMap<String, String> = HashMap::new();
    for row in read_rows(&data.join("stripe/customers_metadata.parquet")) {
        if text(&row, "key").as_deref() == Some("account_id")
            && let Some(v) = text(&row, "value")
        {
            let c = text(&row, "customer_id").unwrap();
            let keep = account_of.get(&c).is_none_or(|old| v > *old);
            if keep {
                account_of.insert(c, v);
            }
        }
    }
    struct Sub {
        id: String,
        created: i64,
        trial_start: Option<i64>,
        trial_end_effective: Option<i64>,
        status: String,
    }
    let mut subs: HashMap<String, Vec<Sub>> = HashMap::new();
    for row in read_rows(&data.join("stripe/subscriptions.parquet")) {
        let Some(acct) = account_of.get(&text(&row, "customer_id").unwrap()) else {
            continue;
        };
        let created = ts(&row, "created").unwrap();
        if created >= as_of {
            continue;
        }
        let (trial_start, trial_end, ended) = (
            ts(&row, "trial_start"),
            ts(&row, "trial_end"),
            ts(&row, "ended_at"),
        );
        let raw = text(&row, "status").unwrap();
        let status = if ended.is_some_and(|e| e < as_of) {
            "canceled".to_string()
        } else if trial_end.is_some_and(|e| e >= as_of) && trial_start.unwrap_or(created) < as_of {
            "trialing".to_string()
        } else if [
            "incomplete",
            "incomplete_expired",
            "past_due",
            "unpaid",
            "paused",
            "trialing",
        ]
        .contains(&raw.as_str())
        {
            raw
        } else {
            "active".to_string()
        };
        let trial_end_effective = match (trial_end, ended) {
            (Some(t), Some(e)) if e < t => Some(e),
            (t, _) => t,
        };
        subs.entry(acct.clone()).or_default().push(Sub {
            id: text(&row, "id").unwrap(),
            created,
            trial_start,
            trial_end_effective,
            status,
        });
    }
    let mut items: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for row in read_rows(&data.join("stripe/subscription_items.parquet")) {
        let factor = match text(&row, "price_recurring_interval")
            .unwrap()
            .to_ascii_lowercase()
            .as_str()
        {
            "month" => 1.0,
            "year" => 1.0 / 12.0,
            "week" => 52.0 / 12.0,
            "day" => 365.0 / 12.0,
            _ => 0.0,
        };
        let amount = int(&row, "price_unit_amount").unwrap() as f64
            * int(&row, "quantity").unwrap_or(1) as f64
            * factor;
        items
            .entry(text(&row, "subscription_id").unwrap())
            .or_default()
            .push((
                text(&row, "price_currency").unwrap().to_ascii_lowercase(),
                amount.round() as i64,
            ));
    }

    for (acct, e) in out.iter_mut() {
        e.seats = users.get(acct).map_or(0, |u| u.len() as i64);
        e.active_users_14d = active_users.get(acct).map_or(0, |u| u.len() as i64);
        e.active_days_14d = active_days.get(acct).map_or(0, |d| d.len() as i64);
        if let Some(l) = life.get(acct) {
            e.last_seen_at = l.last;
            e.integrations_connected = l.integrations.len() as i64;
        }
        e.days_since_last_activity = e.last_seen_at.map(|t| {
            (as_of_day
                - chrono::DateTime::from_timestamp_micros(t)
                    .unwrap()
                    .date_naive())
            .num_days()
        });
        let website = text(&groups[acct].3, "website").and_then(|w| host(&w));
        let top_email = domains.get(acct).and_then(|d| {
            d.iter()
                .max_by(|(da, ua), (db, ub)| ua.len().cmp(&ub.len()).then(db.cmp(da)))
                .map(|(d, _)| d.clone())
        });
        e.email_domain = website.or(top_email);
        e.free_email_domain = e.email_domain.as_ref().map(|d| free.contains(d));

        let account_subs = subs.get(acct).map(Vec::as_slice).unwrap_or(&[]);
        let stripe_trial = account_subs
            .iter()
            .filter(|s| s.trial_start.is_some())
            .max_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let event_trial = life.get(acct).and_then(|l| {
            let start = l.first_trial_started?;
            let opened = l.last_opened?;
            let end = match l.last_ended {
                Some(ended) if ended >= opened => ended,
                _ => opened + 14 * DAY_US,
            };
            Some((start, end))
        });
        let trial = match (stripe_trial, event_trial) {
            (Some(s), _) => Some((s.trial_start.unwrap(), s.trial_end_effective)),
            (None, Some((start, end))) => Some((start, Some(end))),
            _ => None,
        };
        if let Some((start, end)) = trial {
            e.trial_start = Some(start);
            e.trial_end = end;
            e.trial_status = if end.is_some_and(|t| t < as_of) {
                "ended"
            } else {
                "live"
            }
            .into();
        }
        let rank = |s: &str| match s {
            "active" => 1,
            "past_due" | "unpaid" => 2,
            "trialing" => 3,
            _ => 4,
        };
        if let Some(best) = account_subs.iter().min_by(|a, b| {
            rank(&a.status)
                .cmp(&rank(&b.status))
                .then((b.created, &b.id).cmp(&(a.created, &a.id)))
        }) {
            e.subscription_status = best.status.clone();
            let paying: Vec<&(String, i64)> = account_subs
                .iter()
                .filter(|s| s.status == "active" || s.status == "past_due")
                .flat_map(|s| items.get(&s.id).map(Vec::as_slice).unwrap_or(&[]))
                .collect();
            let currencies: BTreeSet<&String> = paying.iter().map(|(c, _)| c).collect();
            e.mrr = (currencies.len() <= 1).then(|| paying.iter().map(|(_, a)| a).sum());
        }
    }
    out
}

fn actual(path: &Path) -> BTreeMap<String, Expected> {
    read_rows(path)
        .into_iter()
        .map(|row| {
            let id = text(&row, "account_id").unwrap();
            let i = |n: &str| int(&row, n).unwrap_or_else(|| panic!("{id}: {n} is null"));
            let e = Expected {
                seats: i("seats"),
                events_14d: i("events_14d"),
                active_users_14d: i("active_users_14d"),
                active_days_14d: i("active_days_14d"),
                teammates_invited_14d: i("teammates_invited_14d"),
                integrations_connected: i("integrations_connected"),
                deals_created_14d: i("deals_created_14d"),
                rows_imported_14d: get(&row, "rows_imported_14d").as_f64().unwrap(),
                pricing_page_views_14d: i("pricing_page_views_14d"),
                paid_feature_events_14d: i("paid_feature_events_14d"),
                help_requested_14d: i("help_requested_14d"),
                meeting_booked_14d: i("meeting_booked_14d"),
                last_seen_at: ts(&row, "last_seen_at"),
                days_since_last_activity: int(&row, "days_since_last_activity"),
                employees: int(&row, "employees"),
                industry: text(&row, "industry"),
                email_domain: text(&row, "email_domain"),
                free_email_domain: get(&row, "free_email_domain").as_bool(),
                trial_start: ts(&row, "trial_start"),
                trial_end: ts(&row, "trial_end"),
                trial_status: text(&row, "trial_status").unwrap(),
                subscription_status: text(&row, "subscription_status").unwrap(),
                mrr: int(&row, "mrr"),
            };
            (id, e)
        })
        .collect()
}

fn check(as_of: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 400, 30, 7);
    write_config(dir.path(), &data, "");
    let out = dir.path().join("features.parquet");
    let o = pqlsync(dir.path())
        .args(["features", "--as-of", as_of, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let want = expected(&data, NaiveDate::parse_from_str(as_of, "%Y-%m-%d").unwrap());
    let got = actual(&out);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "accounts differ"
    );
    let mut mismatches = Vec::new();
    for (id, w) in &want {
        if &got[id] != w {
            mismatches.push(format!(
                "{id}:\n  sql:      {:?}\n  expected: {w:?}",
                got[id]
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} accounts differ:\n{}",
        mismatches.len(),
        want.len(),
        mismatches[..mismatches.len().min(5)].join("\n")
    );
    // The data must exercise the features, or this test proves little.
    let live = want.values().filter(|e| e.trial_status == "live").count();
    let ended = want.values().filter(|e| e.trial_status == "ended").count();
    let paying = want.values().filter(|e| e.mrr.unwrap_or(0) > 0).count();
    let invited = want
        .values()
        .filter(|e| e.teammates_invited_14d > 0)
        .count();
    let free = want
        .values()
        .filter(|e| e.free_email_domain == Some(true))
        .count();
    let inactive = want.values().filter(|e| e.last_seen_at.is_none()).count();
    assert!(
        live > 10 && ended > 10 && paying > 10 && invited > 10 && free > 10 && inactive > 3,
        "thin data: live {live} ended {ended} paying {paying} invited {invited} free {free} never-active {inactive}"
    );
}

#[test]
fn features_match_an_independent_computation_on_the_last_day() {
    check(AS_OF);
}

#[test]
fn features_for_a_past_day_ignore_later_rows() {
    check("2026-11-12");
}
