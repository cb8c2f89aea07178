//! `pqlsync backfill` and `pqlsync report` as the real binary over generated demo data. The
//! report's figures are checked against values computed here, in plain Rust over the raw
//! exports and the history files, not by the report SQL.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use crate::common::*;
use chrono::{Datelike, NaiveDate, TimeDelta};
use pqlsync_sql::value::Value;

const FROM: &str = "2026-10-05";
const BACKFILL_FROM: &str = "2026-10-07";

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    out: PathBuf,
}

/// One backfilled history and one report, shared by the tests (backfilling is the slow part).
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let data = demo_data(&root, 600, 45, 5);
    write_config(&root, &data, "");
    let o = pqlsync(&root)
        .args(["backfill", "--from", BACKFILL_FROM])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("backfilled 45 day(s), 2026-10-07 to 2026-11-20"),
        "{}",
        stdout(&o)
    );
    let out = root.join("report");
    let o = pqlsync(&root)
        .args(["report", "--from", FROM, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    Fixture {
        _dir: dir,
        root,
        data,
        out,
    }
});

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn as_of_end_us() -> i64 {
    (day(AS_OF) + TimeDelta::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

fn date_of_us(us: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_micros(us)
        .unwrap()
        .date_naive()
}

fn monday(d: NaiveDate) -> NaiveDate {
    d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday()))
}

fn ts(row: &[(String, Value)], name: &str) -> Option<i64> {
    match get(row, name) {
        Value::Timestamp(us) => Some(*us),
        Value::Null => None,
        other => panic!("{name}: {other:?}"),
    }
}

fn text(row: &[(String, Value)], name: &str) -> Option<String> {
    get(row, name).as_str().map(str::to_string)
}

/// A CSV report file: its `# ` definition lines and its rows by column name.
fn csv(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let body = std::fs::read_to_string(path).unwrap();
    let definitions: Vec<String> = body
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let mut lines = body.lines().skip(definitions.len());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows = lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    (definitions, rows)
}

/// One trial, computed from the raw exports and the history files.
#[derive(Debug)]
struct Trial {
    start_us: i64,
    start_day: NaiveDate,
    /// The history has a snapshot of the start day.
    observed: bool,
    days_to_yellow: Option<i64>,
    days_to_green: Option<i64>,
    paid_us: Option<i64>,
    /// Monthly amount (minor units) and currency of the paying subscriptions.
    new_mrr: Option<(i64, String)>,
}

impl Trial {
    fn converted(&self) -> bool {
        self.paid_us.is_some_and(|p| p >= self.start_us)
    }
    fn converted_30d(&self) -> bool {
        self.converted() && (date_of_us(self.paid_us.unwrap()) - self.start_day).num_days() <= 30
    }
}

struct Snapshot {
    as_of: NaiveDate,
    tier: String,
    trial_status: String,
}

fn history(root: &Path) -> BTreeMap<String, Vec<Snapshot>> {
    let mut by_account: BTreeMap<String, Vec<Snapshot>> = BTreeMap::new();
    for row in read_rows(&root.join("history")) {
        by_account
            .entry(text(&row, "account_id").unwrap())
            .or_default()
            .push(Snapshot {
                as_of: get(&row, "as_of").as_date().unwrap(),
                tier: text(&row, "tier").unwrap(),
                trial_status: text(&row, "trial_status").unwrap(),
            });
    }
    for snaps in by_account.values_mut() {
        snaps.sort_by_key(|s| s.as_of);
    }
    by_account
}

/// Trials by account, per the documented definitions, in plain Rust.
fn trials(data: &Path, history: &BTreeMap<String, Vec<Snapshot>>) -> BTreeMap<String, Trial> {
    let end = as_of_end_us();
    let mut account_of: BTreeMap<String, String> = BTreeMap::new();
    for row in read_rows(&data.join("stripe/customers_metadata.parquet")) {
        if text(&row, "key").as_deref() == Some("account_id") {
            let (customer, account) = (text(&row, "customer_id").unwrap(), text(&row, "value"));
            if let Some(account) = account {
                let slot = account_of.entry(customer).or_default();
                if account > *slot {
                    *slot = account;
                }
            }
        }
    }
    let mut items: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for row in read_rows(&data.join("stripe/subscription_items.parquet")) {
        let per_month = match text(&row, "price_recurring_interval").as_deref() {
            Some("month") => 1.0,
            Some("year") => 1.0 / 12.0,
            other => panic!("interval {other:?}"),
        };
        let amount = get(&row, "price_unit_amount").as_i64().unwrap()
            * get(&row, "quantity").as_i64().unwrap();
        let entry = items
            .entry(text(&row, "subscription_id").unwrap())
            .or_insert((0, text(&row, "price_currency").unwrap().to_lowercase()));
        entry.0 += (amount as f64 * per_month).round() as i64;
    }
    // Latest subscription with a trial per account, and the first paying moment.
    let mut stripe_trial: BTreeMap<String, (i64, String, i64)> = BTreeMap::new();
    let mut paid: BTreeMap<String, i64> = BTreeMap::new();
    let mut paying_mrr: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for row in read_rows(&data.join("stripe/subscriptions.parquet")) {
        let Some(account) = account_of.get(&text(&row, "customer_id").unwrap()) else {
            continue;
        };
        let id = text(&row, "id").unwrap();
        let created = ts(&row, "created").unwrap();
        if created >= end {
            continue;
        }
        if let Some(start) = ts(&row, "trial_start") {
            let newer = stripe_trial
                .get(account)
                .is_none_or(|(c, i, _)| (created, &id) > (*c, i));
            if newer {
                stripe_trial.insert(account.clone(), (created, id.clone(), start));
            }
        }
        let billing_from = ts(&row, "trial_end")
            .or(ts(&row, "start_date"))
            .unwrap_or(created);
        let status = text(&row, "status").unwrap();
        let billing = matches!(status.as_str(), "active" | "past_due")
            || ts(&row, "ended_at").is_some_and(|e| e > billing_from);
        if billing && billing_from < end {
            let p = paid.entry(account.clone()).or_insert(billing_from);
            *p = (*p).min(billing_from);
            if let Some((amount, currency)) = items.get(&id) {
                let e = paying_mrr
                    .entry(account.clone())
                    .or_insert((0, currency.clone()));
                e.0 += amount;
            }
        }
    }
    let mut event_trial: BTreeMap<String, i64> = BTreeMap::new();
    for row in read_rows(&data.join("tracks")) {
        if text(&row, "event").as_deref() != Some("trial_started") {
            continue;
        }
        let t = ts(&row, "timestamp").unwrap();
        let Some(account) = text(&row, "context_group_id") else {
            continue;
        };
        if t < end {
            let e = event_trial.entry(account).or_insert(t);
            *e = (*e).min(t);
        }
    }
    let (from, to) = (day(FROM), day(AS_OF));
    let mut out = BTreeMap::new();
    for (account, snaps) in history {
        // Accounts the last day scored: the ones `account_features` knows.
        if snaps.last().map(|s| s.as_of) != Some(day(AS_OF)) {
            continue;
        }
        let start = stripe_trial
            .get(account)
            .map(|(_, _, s)| *s)
            .or(event_trial.get(account).copied());
        let Some(start_us) = start else { continue };
        let start_day = date_of_us(start_us);
        if start_day < from || start_day > to {
            continue;
        }
        let first = |pred: &dyn Fn(&str) -> bool| {
            snaps
                .iter()
                .find(|s| s.as_of >= start_day && pred(&s.tier))
                .map(|s| (s.as_of - start_day).num_days())
        };
        out.insert(
            account.clone(),
            Trial {
                start_us,
                start_day,
                observed: snaps.iter().any(|s| s.as_of == start_day),
                days_to_yellow: first(&|t| t == "yellow" || t == "green"),
                days_to_green: first(&|t| t == "green"),
                paid_us: paid.get(account).copied(),
                new_mrr: paying_mrr.get(account).cloned(),
            },
        );
    }
    out
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    })
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn num(row: &BTreeMap<String, String>, name: &str) -> Option<f64> {
    let v = row.get(name).unwrap_or_else(|| panic!("no column {name}"));
    (!v.is_empty()).then(|| v.parse().unwrap())
}

/// `team_size` against the tracks: each trial's distinct users with an event from its start
/// to its end (or the end of the as-of day), bucketed, with its trials and conversions per
/// cohort week (from `trial_outcomes`, which the cohort test checks on its own).
#[test]
fn team_size_counts_the_users_active_during_each_trial() {
    let f = &*FIXTURE;
    let end = as_of_end_us();
    let us = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .timestamp_micros()
    };
    let (_, outcomes) = csv(&f.out.join("trial_outcomes.csv"));
    let windows: BTreeMap<String, (i64, i64)> = outcomes
        .iter()
        .map(|r| {
            let until = match r["trial_end"].as_str() {
                "" => end,
                e => us(e).min(end),
            };
            (r["account_id"].clone(), (us(&r["trial_start"]), until))
        })
        .collect();
    let mut users: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for row in read_rows(&f.data.join("tracks")) {
        let (Some(account), Some(user)) = (text(&row, "context_group_id"), text(&row, "user_id"))
        else {
            continue;
        };
        let Some((account, (from, until))) = windows.get_key_value(&account) else {
            continue;
        };
        let t = ts(&row, "timestamp").unwrap();
        if t >= *from && t < *until {
            users.entry(account.as_str()).or_default().insert(user);
        }
    }
    let bucket = |n: usize| match n {
        0 => "0",
        1 => "1",
        2 => "2",
        3..=4 => "3-4",
        5..=9 => "5-9",
        _ => "10+",
    };
    let mut expected: BTreeMap<(String, &str), (f64, f64)> = BTreeMap::new();
    for r in &outcomes {
        let n = users.get(r["account_id"].as_str()).map_or(0, BTreeSet::len);
        let e = expected
            .entry((r["cohort_week"].clone(), bucket(n)))
            .or_default();
        e.0 += 1.0;
        e.1 += f64::from(u8::from(r["converted_paid_30d"] == "true"));
    }
    let (_, rows) = csv(&f.out.join("team_size.csv"));
    let got: BTreeMap<(String, &str), (f64, f64)> = rows
        .iter()
        .map(|r| {
            (
                (r["cohort_week"].clone(), r["team_size"].as_str()),
                (
                    num(r, "trials").unwrap(),
                    num(r, "converted_paid_30d").unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(
        expected
            .keys()
            .any(|(_, size)| ["3-4", "5-9", "10+"].contains(size)),
        "the demo must have teams: {expected:?}"
    );
}

#[test]
fn cohort_funnel_and_activation_figures_match_an_independent_computation() {
    let f = &*FIXTURE;
    let history = history(&f.root);
    let trials = trials(&f.data, &history);
    assert!(trials.len() > 100, "{} trials", trials.len());
    let mut by_week: BTreeMap<NaiveDate, Vec<&Trial>> = BTreeMap::new();
    for t in trials.values() {
        by_week.entry(monday(t.start_day)).or_default().push(t);
    }

    let (definitions, cohorts) = csv(&f.out.join("cohorts.csv"));
    assert!(
        definitions
            .iter()
            .any(|l| l.contains("ISO week, Monday start, UTC")),
        "{definitions:?}"
    );
    let weeks: Vec<NaiveDate> = cohorts.iter().map(|r| day(&r["cohort_week"])).collect();
    assert_eq!(weeks, by_week.keys().copied().collect::<Vec<_>>());
    let mut some_green = false;
    let mut some_paid = false;
    for row in &cohorts {
        let week = day(&row["cohort_week"]);
        let ts = &by_week[&week];
        let n = ts.len() as f64;
        let count = |pred: &dyn Fn(&Trial) -> bool| ts.iter().filter(|t| pred(t)).count() as f64;
        let expect = [
            ("trials_started", Some(n)),
            ("trials_observed_from_start", Some(count(&|t| t.observed))),
            (
                "reached_yellow_14d",
                Some(count(&|t| t.days_to_yellow.is_some_and(|d| d <= 14))),
            ),
            (
                "reached_green_14d",
                Some(count(&|t| t.days_to_green.is_some_and(|d| d <= 14))),
            ),
            (
                "median_days_to_green",
                median(ts.iter().filter_map(|t| t.days_to_green).collect()),
            ),
            ("converted_paid_30d", Some(count(&|t| t.converted_30d()))),
            (
                "trial_to_paid_30d_rate",
                Some(round4(count(&|t| t.converted_30d()) / n)),
            ),
            ("converted_paid_to_date", Some(count(&|t| t.converted()))),
        ];
        for (column, value) in expect {
            assert_eq!(num(row, column), value, "{week} {column}");
        }
        some_green |= num(row, "reached_green_14d").unwrap() > 0.0;
        some_paid |= num(row, "converted_paid_to_date").unwrap() > 0.0;
    }
    assert!(
        some_green && some_paid,
        "the demo must exercise the figures"
    );

    let (_, funnel) = csv(&f.out.join("funnel.csv"));
    for (row, cohort) in funnel.iter().zip(&cohorts) {
        assert_eq!(row["cohort_week"], cohort["cohort_week"]);
        assert_eq!(row["pql"], cohort["trials_started"]);
        assert_eq!(row["closed_won"], cohort["converted_paid_to_date"]);
        let (pql, sql, won_sql) = (
            num(row, "pql").unwrap(),
            num(row, "sql").unwrap(),
            num(row, "closed_won_from_sql").unwrap(),
        );
        assert!(sql <= pql && won_sql <= sql);
        assert_eq!(num(row, "pql_to_sql_rate"), Some(round4(sql / pql)));
    }

    // Tier mix: live trials at each week's last snapshot, straight from the history files.
    let (_, activation) = csv(&f.out.join("activation.csv"));
    let mut week_end: BTreeMap<NaiveDate, NaiveDate> = BTreeMap::new();
    for snaps in history.values() {
        for s in snaps {
            let e = week_end.entry(monday(s.as_of)).or_insert(s.as_of);
            *e = (*e).max(s.as_of);
        }
    }
    assert_eq!(activation.len(), week_end.len());
    for row in &activation {
        let week = day(&row["week"]);
        let end = week_end[&week];
        assert_eq!(day(&row["week_end"]), end);
        let mut mix: BTreeMap<&str, f64> = BTreeMap::new();
        for snaps in history.values() {
            if let Some(s) = snaps
                .iter()
                .find(|s| s.as_of == end && s.trial_status == "live")
            {
                *mix.entry(s.tier.as_str()).or_default() += 1.0;
                *mix.entry("trials_live").or_default() += 1.0;
            }
        }
        for column in ["trials_live", "red", "yellow", "green"] {
            assert_eq!(
                num(row, column),
                Some(mix.get(column).copied().unwrap_or(0.0)),
                "{week} {column}"
            );
        }
    }

    // New MRR per cohort week and currency, summed over motions.
    let (_, revenue) = csv(&f.out.join("revenue.csv"));
    let mut reported: BTreeMap<(String, String), f64> = BTreeMap::new();
    for row in &revenue {
        *reported
            .entry((row["cohort_week"].clone(), row["currency"].clone()))
            .or_default() += num(row, "new_mrr").unwrap();
    }
    let mut expected: BTreeMap<(String, String), f64> = BTreeMap::new();
    for t in trials.values().filter(|t| t.converted()) {
        let (amount, currency) = t.new_mrr.clone().expect("a paying trial has items");
        *expected
            .entry((monday(t.start_day).to_string(), currency))
            .or_default() += amount as f64 / 100.0;
    }
    for (key, value) in &expected {
        let got = reported.get(key).copied().unwrap_or(0.0);
        assert!((got - value).abs() < 0.02, "{key:?}: {got} vs {value}");
    }
    let total: f64 = reported.values().sum();
    assert!((total - expected.values().sum::<f64>()).abs() < 0.05);
}

#[test]
fn every_table_is_written_with_its_definitions() {
    let f = &*FIXTURE;
    for name in [
        "cohorts",
        "activation",
        "funnel",
        "revenue",
        "trial_outcomes",
        "scored_trials",
        "model_health",
    ] {
        let (definitions, _) = csv(&f.out.join(format!("{name}.csv")));
        assert!(
            definitions[0].starts_with(&format!("# {name}:")),
            "{name}: {definitions:?}"
        );
        let file = std::fs::File::open(f.out.join(format!("{name}.parquet"))).unwrap();
        let reader = datafusion::parquet::file::reader::SerializedFileReader::new(file).unwrap();
        use datafusion::parquet::file::reader::FileReader;
        let meta = reader
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .unwrap();
        let defs = meta
            .iter()
            .find(|kv| kv.key == "pqlsync.definitions")
            .and_then(|kv| kv.value.clone())
            .unwrap();
        assert!(defs.starts_with(&format!("{name}:")), "{defs}");
        assert_eq!(
            read_rows(&f.out.join(format!("{name}.parquet"))).len(),
            csv(&f.out.join(format!("{name}.csv"))).1.len()
        );
    }
    let html = std::fs::read_to_string(f.out.join("report.html")).unwrap();
    // Self-contained: nothing for a browser to fetch.
    for external in ["<script", "<link", "src=", "url(", "@import", "href=\"http"] {
        assert!(!html.contains(external), "report.html contains {external}");
    }
}

#[test]
fn rerunning_a_backfilled_day_replaces_it() {
    let f = &*FIXTURE;
    let history = f.root.join("history");
    let before = read_rows(&history).len();
    let day_dir = history.join("as_of=2026-11-20");
    let files: BTreeSet<_> = std::fs::read_dir(&day_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    // A scheduled run on a backfilled day replaces that day's snapshot.
    let copy = fixture_history_copy(f);
    let o = pqlsync(copy.path()).args(["run"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let copied = copy.path().join("history");
    assert_eq!(read_rows(&copied).len(), before);
    let sources: BTreeSet<String> = read_rows(&copied.join("as_of=2026-11-20"))
        .iter()
        .map(|r| text(r, "source").unwrap())
        .collect();
    assert_eq!(sources, BTreeSet::from(["run".to_string()]));
}

#[test]
fn report_without_history_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 50, 7, 3);
    write_config(dir.path(), &data, "");
    let o = pqlsync(dir.path()).args(["report"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("no score history") && err.contains("pqlsync backfill"),
        "{err}"
    );
}

/// Render report.html in headless Chromium and measure the laid-out page: the heatmap, the
/// funnel and the tier-mix chart must be drawn with real sizes and colours, and the page must
/// fetch nothing.
#[test]
fn html_report_renders_in_a_browser() {
    let f = &*FIXTURE;
    let probe = r#"
const hm = document.getElementById('heatmap');
r.heatmapWidth = hm ? hm.getBoundingClientRect().width : 0;
r.heatmapRows = hm ? hm.tBodies[0].rows.length : 0;
r.heatmapColours = new Set([...document.querySelectorAll('#heatmap td.cell')]
  .map(td => getComputedStyle(td).backgroundColor)).size;
r.funnel = [...document.querySelectorAll('#funnel-chart rect.bar')]
  .map(b => Math.round(b.getBoundingClientRect().width));
const stacks = {};
for (const s of document.querySelectorAll('#tier-mix-chart rect.seg')) {
  const x = s.getAttribute('x');
  stacks[x] = (stacks[x] || 0) + s.getBoundingClientRect().height;
}
r.tierBars = Object.values(stacks).map(Math.round);
r.tierColours = new Set([...document.querySelectorAll('#tier-mix-chart rect.seg')]
  .map(s => getComputedStyle(s).fill)).size;
r.resources = performance.getEntriesByType('resource').length;
r.overflow = document.documentElement.scrollWidth - window.innerWidth;
r.tables = [...document.querySelectorAll('table.data')].map(t => t.id);
r.kpis = document.querySelectorAll('#kpis .kpi').length;
const mh = document.getElementById('model-health-chart');
r.healthWidth = mh ? mh.getBoundingClientRect().width : 0;
r.healthPoints = document.querySelectorAll('#model-health-chart circle').length;
r.healthVerdict = (document.getElementById('model-health-verdict') || {}).textContent || '';
"#;
    let Some(r) = probe_in_chromium(&f.out.join("report.html"), probe) else {
        return;
    };
    let (_, cohorts) = csv(&f.out.join("cohorts.csv"));
    let (_, activation) = csv(&f.out.join("activation.csv"));
    assert!(r["heatmapWidth"].as_f64().unwrap() > 400.0, "{r}");
    assert_eq!(
        r["heatmapRows"].as_u64().unwrap() as usize,
        cohorts.len(),
        "{r}"
    );
    assert!(r["heatmapColours"].as_u64().unwrap() >= 5, "{r}");
    let funnel: Vec<u64> = r["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(funnel.len(), 3, "{r}");
    assert!(
        funnel[0] > 300 && funnel[0] >= funnel[1] && funnel[1] >= funnel[2] && funnel[2] > 0,
        "{r}"
    );
    let bars = r["tierBars"].as_array().unwrap();
    assert_eq!(bars.len(), activation.len(), "{r}");
    assert!(
        bars.iter().all(|h| h.as_u64().unwrap().abs_diff(220) <= 2),
        "{r}"
    );
    assert_eq!(r["tierColours"], 3, "{r}");
    assert_eq!(r["resources"], 0, "the page fetched something: {r}");
    assert!(
        r["overflow"].as_i64().unwrap() <= 0,
        "page wider than the window: {r}"
    );
    assert_eq!(r["kpis"], 5, "{r}");
    let (_, health) = csv(&f.out.join("model_health.csv"));
    let judged = health.iter().filter(|m| !m["auc"].is_empty()).count();
    assert!(r["healthWidth"].as_f64().unwrap() > 100.0, "{r}");
    assert_eq!(r["healthPoints"].as_u64().unwrap() as usize, judged, "{r}");
    assert!(!r["healthVerdict"].as_str().unwrap().is_empty(), "{r}");
    for t in [
        "cohorts",
        "activation",
        "funnel",
        "revenue",
        "trial_outcomes",
    ] {
        assert!(
            r["tables"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == &format!("data-{t}")),
            "{r}"
        );
    }
}

#[test]
fn the_default_range_starts_no_earlier_than_the_history() {
    let f = &*FIXTURE;
    let out = f.root.join("default-range");
    let o = pqlsync(&f.root)
        .args(["report", "--format", "csv", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // 26 weeks back would be 2026-05-25; the history begins on the backfill's first day.
    assert!(
        stdout(&o).contains(&format!("trials started {BACKFILL_FROM} to {AS_OF}")),
        "{}",
        stdout(&o)
    );
    assert!(out.join("cohorts.csv").exists() && !out.join("report.html").exists());
    let (_, rows) = csv(&out.join("trial_outcomes.csv"));
    assert!(rows.iter().all(|r| r["observed_from_start"] == "true"));
}

/// The demo's Stripe items never change, so its history holds no expansion; a price or seat
/// change shows up as a higher `mrr` in the next day's snapshot. Raise one paying account's
/// MRR on the last day and the report must count exactly that as expansion, in its currency.
#[test]
fn an_mrr_increase_of_a_paying_account_is_expansion() {
    use datafusion::arrow::array::{Array, AsArray, Int64Array};
    use datafusion::arrow::datatypes::Int64Type;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    let f = &*FIXTURE;
    let copy = fixture_history_copy(f);
    let day_before: BTreeMap<String, (i64, String)> =
        read_rows(&copy.path().join("history/as_of=2026-11-19"))
            .iter()
            .filter_map(|r| {
                let mrr = get(r, "mrr").as_i64()?;
                (mrr > 0).then(|| {
                    (
                        text(r, "account_id").unwrap(),
                        (mrr, text(r, "mrr_currency").unwrap()),
                    )
                })
            })
            .collect();
    let (_, outcomes) = csv(&f.out.join("trial_outcomes.csv"));
    let target = outcomes
        .iter()
        .find(|r| r["converted_paid"] == "true" && day_before.contains_key(&r["account_id"]))
        .expect("a paying trial account");
    let account = target["account_id"].clone();
    let (before, currency) = day_before[&account].clone();

    let file = copy
        .path()
        .join("history/as_of=2026-11-20/snapshot.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let schema = batches[0].schema();
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(&file).unwrap(),
        Arc::clone(&schema),
        None,
    )
    .unwrap();
    for batch in batches {
        let ids = batch
            .column_by_name("account_id")
            .unwrap()
            .as_string::<i32>();
        let mrr = batch
            .column_by_name("mrr")
            .unwrap()
            .as_primitive::<Int64Type>();
        let raised: Int64Array = (0..batch.num_rows())
            .map(|i| {
                if ids.value(i) == account {
                    Some(before + 5_000)
                } else {
                    mrr.is_valid(i).then(|| mrr.value(i))
                }
            })
            .collect();
        let mut columns = batch.columns().to_vec();
        columns[schema.index_of("mrr").unwrap()] = Arc::new(raised);
        writer
            .write(
                &datafusion::arrow::record_batch::RecordBatch::try_new(
                    Arc::clone(&schema),
                    columns,
                )
                .unwrap(),
            )
            .unwrap();
    }
    writer.close().unwrap();

    let out = csv_report(copy.path());
    let (_, revenue) = csv(&out.join("revenue.csv"));
    let with_expansion: Vec<_> = revenue
        .iter()
        .filter(|r| num(r, "expansion_mrr") != Some(0.0))
        .collect();
    assert_eq!(with_expansion.len(), 1, "{with_expansion:?}");
    let row = with_expansion[0];
    assert_eq!(num(row, "expansion_mrr"), Some(50.0));
    assert_eq!(row["currency"], currency);
    assert_eq!(row["cohort_week"], target["cohort_week"]);
    assert_eq!(row["motion"], target["motion"]);
}

/// `pqlsync report --format csv` from `FROM` in `dir`; the directory it wrote.
fn csv_report(dir: &Path) -> PathBuf {
    let out = dir.join("report");
    let o = pqlsync(dir)
        .args(["report", "--from", FROM, "--format", "csv", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// A directory holding a copy of the fixture's score history, configured over its data.
fn fixture_history_copy(f: &Fixture) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(f.root.join("history"))
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(status.success());
    write_config(copy.path(), &f.data, "");
    copy
}

/// A sync state as a run leaves it after reading HubSpot back: for six trials of the fixture,
/// what a rep did (or did not do) in HubSpot, a day after each trial started.
/// (account, trial, how): `deal` moved to Sales-Assisted, `task` completed, `lifecycle` set to
/// Opportunity, `lead` moved to a stage of the portal's own; `untouched` and `disqualified`
/// are not acceptance.
fn crm_state(trials: &[(String, String, NaiveDate, &str)]) -> serde_json::Value {
    use serde_json::json;
    let (mut companies, mut deals, mut leads, mut tasks) = (
        serde_json::Map::new(),
        serde_json::Map::new(),
        serde_json::Map::new(),
        serde_json::Map::new(),
    );
    for (i, (account, trial, start, how)) in trials.iter().enumerate() {
        let seen = (*start + TimeDelta::days(1)).to_string();
        let person =
            |property: &str, value: &str| json!({ property: {"value": value, "since": seen} });
        let ours_deal = json!({"dealstage": "ss", "plg_account_id": account});
        let (held, by_person) = match *how {
            "deal" => ("sa", person("dealstage", "sa")),
            _ => ("ss", json!({})),
        };
        deals.insert(
            trial.clone(),
            json!({"id": format!("9{i}"), "props": ours_deal,
                   "held": {"dealstage": held, "plg_account_id": account}, "person": by_person}),
        );
        let (lifecycle, by_person) = match *how {
            "lifecycle" => ("opportunity", person("lifecyclestage", "opportunity")),
            _ => ("marketingqualifiedlead", json!({})),
        };
        companies.insert(
            account.clone(),
            json!({"id": format!("8{i}"), "props": {"lifecyclestage": "marketingqualifiedlead"},
                   "held": {"lifecyclestage": lifecycle}, "person": by_person}),
        );
        let (stage, by_person) = match *how {
            "lead" => ("connected-77", person("hs_pipeline_stage", "connected-77")),
            "disqualified" => ("dq", person("hs_pipeline_stage", "dq")),
            _ => ("yellow", json!({})),
        };
        leads.insert(
            account.clone(),
            json!({"id": format!("7{i}"), "props": {"hs_pipeline_stage": "yellow"},
                   "held": {"hs_pipeline_stage": stage}, "person": by_person}),
        );
        let done = *how == "task";
        tasks.insert(
            format!("{account}:green:{start}"),
            json!({"id": format!("6{i}"), "account": account,
                   "props": {"plg_trigger": "green", "hs_task_status": "NOT_STARTED",
                             "hs_timestamp": format!("{start}T09:00:00.000Z")},
                   "held": {"hs_task_status": if done { "COMPLETED" } else { "NOT_STARTED" },
                            "hs_task_completion_date": if done { format!("{}T15:00:00Z", *start + TimeDelta::days(2)) } else { String::new() },
                            "createdAt": format!("{start}T08:00:00Z")}}),
        );
    }
    json!({
        "version": 1,
        "portal": "http://127.0.0.1:1",
        "objects": {"companies": companies, "deals": deals, "leads": leads, "tasks": tasks},
        "read_on": "2026-11-20",
        "names": {
            "dealstage:ss": "trial_self_served",
            "dealstage:sa": "trial_sales_assisted",
            "hs_pipeline_stage:yellow": "trial_yellow",
            "hs_pipeline_stage:dq": "disqualified"
        }
    })
}

/// The funnel's SQL step is what sales accepted in HubSpot (the `crm.*` tables a run reads
/// back), not pqlsync's own routing; the follow-through of pqlsync's tasks comes from there too.
#[test]
fn the_funnel_counts_the_trials_sales_accepted_in_hubspot() {
    let f = &*FIXTURE;
    let (_, outcomes) = csv(&f.out.join("trial_outcomes.csv"));
    assert!(
        outcomes.iter().all(|r| r["sales_qualified"] == "false"),
        "without a sync state no trial is accepted"
    );
    assert!(outcomes.iter().any(|r| r["routed_to_sales"] == "true"));
    let mut seen = BTreeSet::new();
    let ways = [
        "deal",
        "task",
        "lifecycle",
        "lead",
        "untouched",
        "disqualified",
    ];
    let picked: Vec<(String, String, NaiveDate, &str)> = outcomes
        .iter()
        .filter(|r| !r["trial_id"].is_empty() && seen.insert(r["account_id"].clone()))
        .step_by(7)
        .zip(ways)
        .map(|(r, how)| {
            let start = day(&r["trial_start"][..10]);
            (r["account_id"].clone(), r["trial_id"].clone(), start, how)
        })
        .collect();
    assert_eq!(picked.len(), ways.len());

    let copy = fixture_history_copy(f);
    std::fs::create_dir_all(copy.path().join("state")).unwrap();
    std::fs::write(
        copy.path().join("state/hubspot.json"),
        crm_state(&picked).to_string(),
    )
    .unwrap();
    let out = csv_report(copy.path());

    let (_, outcomes) = csv(&out.join("trial_outcomes.csv"));
    let by_trial: BTreeMap<&str, &BTreeMap<String, String>> = outcomes
        .iter()
        .map(|r| (r["trial_id"].as_str(), r))
        .collect();
    let accepted_by = [
        ("deal", "deal_moved"),
        ("task", "task_completed"),
        ("lifecycle", "lifecycle_sql"),
        ("lead", "lead_worked"),
    ];
    for (account, trial, start, how) in &picked {
        let row = by_trial[trial.as_str()];
        let want = accepted_by
            .iter()
            .find(|(w, _)| w == how)
            .map(|(_, by)| *by);
        assert_eq!(
            row["sales_qualified"] == "true",
            want.is_some(),
            "{account} ({how}): {row:?}"
        );
        if let Some(by) = want {
            assert_eq!(row["accepted_by"], by, "{account}");
            let on = day(&row["accepted_on"]);
            assert!(on > *start, "{account}: accepted {on}, started {start}");
        }
    }
    let accepted = outcomes.iter().filter(|r| r["sales_qualified"] == "true");
    assert_eq!(
        accepted.count(),
        accepted_by.len(),
        "only the trials reps accepted"
    );

    let mut per_week: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in &outcomes {
        let e = per_week.entry(r["cohort_week"].as_str()).or_default();
        e.0 += usize::from(r["sales_qualified"] == "true");
        e.1 += usize::from(r["routed_to_sales"] == "true");
    }
    let (_, funnel) = csv(&out.join("funnel.csv"));
    for row in &funnel {
        let (sql, routed) = per_week[row["cohort_week"].as_str()];
        assert_eq!(num(row, "sql"), Some(sql as f64), "{row:?}");
        assert_eq!(num(row, "routed_to_sales"), Some(routed as f64), "{row:?}");
        assert!(num(row, "routed_and_accepted").unwrap() <= sql.min(routed) as f64);
    }
    assert_eq!(
        funnel.iter().map(|r| num(r, "sql").unwrap()).sum::<f64>(),
        accepted_by.len() as f64
    );

    // One task per picked trial, in the week it was created; one of them completed, two days
    // and seven hours after it was created.
    let (_, follow) = csv(&out.join("playbook_follow_through.csv"));
    let total = |column: &str| follow.iter().map(|r| num(r, column).unwrap()).sum::<f64>();
    assert_eq!(total("tasks"), picked.len() as f64);
    assert_eq!(total("completed"), 1.0);
    let done = follow.iter().find(|r| r["completed"] == "1").unwrap();
    assert_eq!(done["trigger"], "green");
    assert_eq!(num(done, "median_days_to_complete"), Some(2.29));
    assert!(num(done, "accepted").unwrap() >= 1.0);
}

/// `scored_trials` holds each trial's snapshot on its trial day K (7 by default): the score
/// history's row of that account that day, or nothing when the history has none.
#[test]
fn scored_trials_reads_each_trials_score_on_its_day_k() {
    let f = &*FIXTURE;
    let mut snapshots: BTreeMap<(String, NaiveDate), (i64, String)> = BTreeMap::new();
    for row in read_rows(&f.root.join("history")) {
        snapshots.insert(
            (
                text(&row, "account_id").unwrap(),
                get(&row, "as_of").as_date().unwrap(),
            ),
            (
                get(&row, "pql_score").as_i64().unwrap(),
                text(&row, "tier").unwrap(),
            ),
        );
    }
    let rows = read_rows(&f.out.join("scored_trials.parquet"));
    let (mut scored, mut unscored) = (0, 0);
    for row in &rows {
        let start = date_of_us(ts(row, "trial_start").unwrap());
        let day_k = start + chrono::TimeDelta::days(6);
        assert_eq!(get(row, "score_day").as_date(), Some(day_k));
        let account = text(row, "account_id").unwrap();
        let got = get(row, "pql_score").as_i64().zip(text(row, "tier"));
        assert_eq!(
            got,
            snapshots.get(&(account.clone(), day_k)).cloned(),
            "{account} {start}"
        );
        if got.is_some() {
            scored += 1
        } else {
            unscored += 1
        }
    }
    // Trials from before the history (2026-10-07) and in the last six days have no day 7.
    assert!(
        scored > 50 && unscored > 0,
        "{scored} scored, {unscored} not"
    );
}

/// A run whose latest complete month says "recalibrate" warns once, names the month and
/// carries the figures in its summary, and still exits 0; a PQL threshold no account reached
/// in the last `unreached_runs` days is named too.
#[test]
fn run_warns_when_the_score_stopped_predicting_and_keeps_its_exit_code() {
    let f = &*FIXTURE;
    let copy = fixture_history_copy(f);
    // A holdout AUC no month can come near, on labels that close within the history: October's
    // trials are complete by 2026-11-20 with a 20-day horizon. And a scorecard that allows up
    // to 60 (an uncapped per-unit signal, weighted 0.6) but gives at most 0.6 × 14 = 8 today,
    // below its tiers' Green and the hot-PQL threshold.
    let extra = r#"
[scoring]
fit = []
usage = [{ feature = "active_days_14d", op = ">=", value = 1, points = 1, per = 1 }]

[scoring.tiers]
yellow = 5
green = 40

[scoring.calibration]
as_of = "2026-09-30"
trained_from = "2026-06-01"
trained_to = "2026-09-01"
at_day = 3
horizon = 20
holdout_auc = 0.99

[routing]
hot_pql_score = 50

[hubspot]
lifecycle_thresholds = {}

[report.health]
unreached_runs = 1
"#;
    write_config(copy.path(), &f.data, extra);
    let summary = copy.path().join("summary.json");
    let o = pqlsync(copy.path())
        .args(["run", "--summary-json"])
        .arg(&summary)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    let warned: Vec<&str> = err.lines().filter(|l| l.contains("recalibrate")).collect();
    assert_eq!(warned.len(), 1, "{err}");
    assert!(
        warned[0].contains("model health, trials started 2026-10")
            && warned[0].contains("below 0.99"),
        "{err}"
    );
    assert!(
        err.contains("routing.hot_pql_score = 50: no account reached it in the last 1 days"),
        "{err}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let health = &json["score_health"];
    assert_eq!(health["recalibrate"]["month"], "2026-10", "{health}");
    assert_eq!(health["recalibrate"]["baseline_auc"], 0.99, "{health}");
    assert!(
        health["recalibrate"]["auc"].as_f64().unwrap() < 0.94,
        "{health}"
    );
    assert!(
        health["unreached"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["key"] == "routing.hot_pql_score"),
        "{health}"
    );
    // The same history with the default judgement: nothing to say.
    write_config(copy.path(), &f.data, "");
    let o = pqlsync(copy.path()).arg("run").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("recalibrate"), "{}", stderr(&o));
}
