//! `pqlsync calibrate` as the real binary over demo data with planted effects
//! (`demo-data --plant`): early in a trial, a connected integration (log-odds +2.0), a paid
//! feature used (+1.2) and a pricing-page view (+0.6) raise the odds of converting, a help
//! request is pure noise, and converters also connect an integration after they pay, which a
//! calibration that looked past trial day K would take for a perfect signal.

use std::path::PathBuf;
use std::sync::LazyLock;

use crate::common::*;

/// The current config: the planted behaviours and the noise with deliberately wrong points
/// (the noise worth the most, the strongest effect the least), and two firmographic signals
/// that have nothing to do with converting here.
const WRONG_SCORING: &str = r#"
[scoring]
fit_weight = 0.3
usage_weight = 0.7

[scoring.tiers]
yellow = 40
green = 70

[[scoring.fit]]
feature = "employees"
op = ">="
value = 50
points = 40

[[scoring.fit]]
feature = "free_email_domain"
op = "is_false"
points = 30

[[scoring.usage]]
feature = "integrations_connected"
op = ">="
value = 1
points = 5

[[scoring.usage]]
feature = "paid_feature_events_14d"
op = ">="
value = 1
points = -10

[[scoring.usage]]
feature = "pricing_page_views_14d"
op = ">="
value = 1
points = 10

[[scoring.usage]]
feature = "help_requested_14d"
op = ">="
value = 1
points = 60
"#;

/// The current config's other thresholds on the PQL score, within what `WRONG_SCORING` can
/// reach (its top is 74).
const THRESHOLDS: &str = r#"
[routing]
hot_pql_score = 70

[hubspot]
lifecycle_thresholds = { marketingqualifiedlead = 50, salesqualifiedlead = 70 }
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    out: PathBuf,
    stdout: String,
    json: serde_json::Value,
}

/// One planted dataset and one calibration, shared by the tests.
static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let data = root.join("data");
    let o = pqlsync(&root)
        .args(["demo-data", "--plant", "--out"])
        .arg(&data)
        .args([
            "--accounts",
            "3000",
            "--days",
            "150",
            "--history-days",
            "150",
        ])
        .args(["--activity", "0.3", "--seed", "17", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    write_config(&root, &data, &format!("{THRESHOLDS}{WRONG_SCORING}"));
    let out = root.join("calibration");
    let o = pqlsync(&root)
        .args(["calibrate", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let json =
        serde_json::from_str(&std::fs::read_to_string(out.join("calibration.json")).unwrap())
            .unwrap();
    Fixture {
        _dir: dir,
        root,
        out,
        stdout: stdout(&o),
        json,
    }
});

fn signal<'a>(json: &'a serde_json::Value, feature: &str) -> &'a serde_json::Value {
    json["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["feature"] == feature)
        .unwrap_or_else(|| panic!("no signal on {feature}"))
}

fn points(json: &serde_json::Value, feature: &str) -> i64 {
    signal(json, feature)["suggested_points"].as_i64().unwrap()
}

#[test]
fn calibrate_ranks_planted_behaviours_as_the_truth_does_and_ignores_noise() {
    let f = &*FIXTURE;
    let j = &f.json;
    let (integration, paid, pricing) = (
        points(j, "integrations_connected"),
        points(j, "paid_feature_events_14d"),
        points(j, "pricing_page_views_14d"),
    );
    assert!(
        integration > paid && paid > pricing && pricing > 0,
        "integration {integration}, paid feature {paid}, pricing {pricing}\n{}",
        f.stdout
    );
    // The noise is about 0: dropped, or far below the weakest real effect's points. (An 80%
    // interval leaves 0 out for one pure-noise signal in five, so "dropped" alone would make
    // this test a coin toss over seeds.)
    let noise = signal(j, "help_requested_14d");
    let noise_points = noise["suggested_points"].as_i64().unwrap();
    assert!(
        noise["status"] == "dropped"
            || (noise_points.abs() < pricing && noise_points.abs() * 5 <= integration),
        "noise {noise}\nintegration {integration}, pricing {pricing}"
    );
    // The firmographic signals have no effect here either.
    for feature in ["employees", "free_email_domain"] {
        let s = signal(j, feature);
        let p = s["suggested_points"].as_i64().unwrap();
        assert!(
            s["status"] == "dropped" || p.abs() * 5 <= integration,
            "{s}"
        );
    }
    let holdout = &j["holdout"];
    let (current, suggested) = (
        holdout["auc_current"].as_f64().unwrap(),
        holdout["auc_suggested"].as_f64().unwrap(),
    );
    assert!(suggested > current + 0.1, "AUC {current} → {suggested}");
    assert!(suggested > 0.7, "AUC {suggested}");
    assert!(
        f.stdout.contains(&format!(
            "AUC {current:.3} current → {suggested:.3} suggested"
        )),
        "{}",
        f.stdout
    );
}

/// Regression guard for look-ahead: converters connect an integration after they pay, so
/// features taken any later than trial day K would see an integration for every converter.
#[test]
fn features_at_day_k_never_see_later_events() {
    let j = &FIXTURE.json;
    let s = signal(j, "integrations_connected");
    let conversions = j["conversions"].as_u64().unwrap();
    let fired = s["fired_conversions"].as_u64().unwrap();
    assert!(
        (fired as f64) < 0.85 * conversions as f64,
        "{fired} of {conversions} converters had an integration by day 7: a later event leaked"
    );
    assert!(
        !j["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["kind"] == "leakage"),
        "{}",
        j["warnings"]
    );
}

#[test]
fn the_training_set_counts_what_it_leaves_out() {
    let j = &FIXTURE.json;
    let excluded = &j["excluded"];
    // Trials of the last 30 days have no known outcome; free-plan accounts have no trial.
    assert!(
        excluded["horizon_open"].as_u64().unwrap() > 100,
        "{excluded}"
    );
    assert!(excluded["no_trial"].as_u64().unwrap() > 100, "{excluded}");
    let trials = j["trials"].as_u64().unwrap();
    assert_eq!(
        j["training"]["trials"].as_u64().unwrap() + j["holdout"]["trials"].as_u64().unwrap(),
        trials
    );
    // The holdout is the newest quarter.
    assert!(j["training"]["last_start"].as_str() <= j["holdout"]["first_start"].as_str());
    let share = j["holdout"]["trials"].as_f64().unwrap() / trials as f64;
    assert!((0.24..0.26).contains(&share), "{share}");
    for key in ["tiers", "candidates", "deciles", "gains", "bands", "scale"] {
        assert!(!j[key].is_null(), "calibration.json lacks {key}");
    }
    let tiers = &j["tiers"]["suggested"]["rows"];
    assert_eq!(tiers[0]["tier"], "green");
    assert!(tiers[0]["share"].as_f64().unwrap() <= 0.5, "{tiers}");
}

/// The suggestion adopted as-is is a valid config: `validate` passes with calibration.toml
/// adopted whole (its `[scoring]` and the threshold keys it lists).
#[test]
fn calibration_toml_can_be_adopted_whole() {
    let f = &*FIXTURE;
    let suggested = std::fs::read_to_string(f.out.join("calibration.toml")).unwrap();
    assert!(suggested.contains("[scoring]") && suggested.contains(": current "));
    assert!(suggested.contains("[scoring.calibration]") && suggested.contains("holdout_auc = "));
    let adopted = f.root.join("adopted");
    std::fs::create_dir_all(&adopted).unwrap();
    let config = std::fs::read_to_string(f.root.join("pqlsync.toml")).unwrap();
    std::fs::write(
        adopted.join("pqlsync.toml"),
        adopt(&config, &suggested, true),
    )
    .unwrap();
    let o = pqlsync(&adopted).arg("validate").output().unwrap();
    assert!(
        o.status.success(),
        "{}\n{}\n{suggested}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn calibration_html_renders_in_a_browser() {
    let f = &*FIXTURE;
    let probe = r#"
const size = (sel) => { const e = document.querySelector(sel);
  return e ? e.getBoundingClientRect().width : 0; };
r.gainsWidth = size('#gains-chart');
r.curves = ['.gains-current', '.gains-suggested'].map(c =>
  [...document.querySelectorAll('#gains-chart ' + c)].map(p =>
    (p.getAttribute('points') || '').trim().split(/\s+/).length));
r.signalRows = document.querySelectorAll('#signals tbody tr').length;
r.deciles = document.querySelectorAll('#deciles tbody tr').length;
r.tierRows = document.querySelectorAll('#tiers tbody tr').length;
r.bars = [...document.querySelectorAll('#bands-chart rect.bar-actual, svg.bands rect.bar-actual')]
  .map(b => Math.round(b.getBoundingClientRect().height)).filter(h => h > 0).length;
r.resources = performance.getEntriesByType('resource').length;
r.overflow = document.documentElement.scrollWidth - window.innerWidth;
r.kpis = document.querySelectorAll('#kpis .kpi').length;
"#;
    let Some(r) = probe_in_chromium(&f.out.join("calibration.html"), probe) else {
        return;
    };
    assert!(r["gainsWidth"].as_f64().unwrap() > 300.0, "{r}");
    for curve in r["curves"].as_array().unwrap() {
        let points = curve.as_array().unwrap();
        assert_eq!(points.len(), 1, "one polyline per model: {r}");
        assert!(points[0].as_u64().unwrap() >= 3, "{r}");
    }
    assert_eq!(
        r["signalRows"].as_u64().unwrap() as usize,
        f.json["signals"].as_array().unwrap().len(),
        "{r}"
    );
    assert_eq!(r["deciles"], 10, "{r}");
    assert_eq!(
        r["tierRows"], 3,
        "Green, Yellow and Red, current beside suggested: {r}"
    );
    assert!(r["bars"].as_u64().unwrap() >= 4, "{r}");
    assert_eq!(r["resources"], 0, "the page fetched something: {r}");
    assert!(
        r["overflow"].as_i64().unwrap() <= 0,
        "page wider than the window: {r}"
    );
    assert!(r["kpis"].as_u64().unwrap() >= 4, "{r}");
}

#[test]
fn too_few_conversions_is_a_clear_error() {
    let f = &*FIXTURE;
    // Trials of one week hold a handful of conversions.
    let o = pqlsync(&f.root)
        .args([
            "calibrate",
            "--from",
            "2026-09-01",
            "--to",
            "2026-09-07",
            "--out",
        ])
        .arg(f.root.join("few"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("too few conversions to calibrate") && err.contains("--from"),
        "{err}"
    );
    assert!(!f.root.join("few").join("calibration.toml").exists());
}

#[test]
fn bad_flags_are_usage_errors() {
    let f = &*FIXTURE;
    for (args, want) in [
        (&["--at-day", "0"][..], "--at-day must be at least 1"),
        (
            &["--at-day", "14", "--horizon", "7"][..],
            "--horizon 7 is shorter than --at-day 14",
        ),
        (
            &["--from", "2026-11-01", "--to", "2026-10-01"][..],
            "is after --to",
        ),
    ] {
        let o = pqlsync(&f.root)
            .arg("calibrate")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
}

/// `calibration.toml` merged into `config` as README says to adopt it: its `[scoring]`
/// replaces the config's whole; with `whole`, every other key it sets is set too (tables
/// merge key by key). Without, only `[scoring]`: how README said to adopt it before.
fn adopt(config: &str, calibration: &str, whole: bool) -> String {
    fn merge(into: &mut toml::Table, from: toml::Table) {
        for (key, value) in from {
            match (into.get_mut(&key), value) {
                (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
                (_, value) => {
                    into.insert(key, value);
                }
            }
        }
    }
    let mut base: toml::Table = config.parse().unwrap();
    for (section, value) in calibration.parse::<toml::Table>().unwrap() {
        if section == "scoring" {
            base.insert(section, value);
        } else if whole {
            let mut one = toml::Table::new();
            one.insert(section, value);
            merge(&mut base, one);
        }
    }
    toml::to_string(&base).unwrap()
}

struct Adopted {
    /// account id → (PQL score, motion, tasks fired)
    decisions: std::collections::BTreeMap<String, (i64, String, String)>,
    /// account id → the company's lifecycle stage sent to HubSpot
    lifecycle: std::collections::BTreeMap<String, String>,
}

/// `pqlsync run` (offline: requests to files) with `config`, a hot-PQL playbook added.
fn run_adopted(name: &str, config: &str) -> Adopted {
    let f = &*FIXTURE;
    let dir = f.root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!("{config}\n[[routing.playbooks]]\ntrigger = \"hot_pql\"\n");
    std::fs::write(dir.join("pqlsync.toml"), config).unwrap();
    let o = pqlsync(&dir)
        .args(["-q", "run", "--out", "out"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    let decisions = read_rows(&dir.join("out/decisions.parquet"))
        .iter()
        .map(|r| {
            let text = |c: &str| get(r, c).as_str().unwrap_or_default().to_string();
            let score = get(r, "pql_score").as_i64().unwrap();
            (text("account_id"), (score, text("motion"), text("tasks")))
        })
        .collect();
    let mut lifecycle = std::collections::BTreeMap::new();
    let requests = std::fs::read_to_string(dir.join("out/hubspot/companies.jsonl")).unwrap();
    for line in requests.lines() {
        let request: serde_json::Value = serde_json::from_str(line).unwrap();
        for input in request["body"]["inputs"].as_array().into_iter().flatten() {
            let p = &input["properties"];
            if let (Some(id), Some(stage)) =
                (p["plg_account_id"].as_str(), p["lifecyclestage"].as_str())
            {
                lifecycle.insert(id.to_string(), stage.to_string());
            }
        }
    }
    Adopted {
        decisions,
        lifecycle,
    }
}

/// Adopting only the suggested `[scoring]` put every trial far below `hot_pql_score` and
/// the lifecycle thresholds, which stayed on the old scale: hot-PQL tasks and lifecycle moves
/// silently stopped. `calibration.toml` now moves those thresholds with the scorecard; adopted
/// whole, the tasks and moves fire, for exactly the prospects at or above the moved
/// thresholds.
#[test]
fn a_calibration_adopted_whole_kept_hot_pql_tasks_and_lifecycle_moves_firing() {
    let f = &*FIXTURE;
    let calibration = std::fs::read_to_string(f.out.join("calibration.toml")).unwrap();
    let config = std::fs::read_to_string(f.root.join("pqlsync.toml")).unwrap();
    let suggested: toml::Table = calibration.parse().unwrap();
    let hot = suggested["routing"]["hot_pql_score"].as_integer().unwrap();
    let thresholds = suggested["hubspot"]["lifecycle_thresholds"]
        .as_table()
        .unwrap();
    let sql = thresholds["salesqualifiedlead"].as_integer().unwrap();
    assert!(hot < 70, "{calibration}");
    // Each kept its place among the tiers: the hot-PQL threshold and SQL sat at Green (70).
    let green = suggested["scoring"]["tiers"]["green"].as_integer().unwrap();
    assert_eq!((hot, sql), (green, green), "{calibration}");
    assert!(thresholds["marketingqualifiedlead"].as_integer().unwrap() < green);

    let prospect = |motion: &str| motion == "self_serve" || motion == "sales_assisted";
    let whole = run_adopted("adopted-whole", &adopt(&config, &calibration, true));
    let hot_tasks: Vec<&String> = whole
        .decisions
        .iter()
        .filter(|(_, (_, _, tasks))| tasks.contains("hot_pql"))
        .map(|(id, _)| id)
        .collect();
    let due: Vec<&String> = whole
        .decisions
        .iter()
        .filter(|(_, (score, motion, _))| *score >= hot && prospect(motion))
        .map(|(id, _)| id)
        .collect();
    assert!(!hot_tasks.is_empty(), "no hot-PQL task at {hot}");
    assert_eq!(
        hot_tasks, due,
        "hot-PQL tasks for exactly the prospects at or above {hot}"
    );
    let sqls = whole
        .decisions
        .iter()
        .filter(|(_, (score, motion, _))| *score >= sql && prospect(motion))
        .map(|(id, _)| (id, whole.lifecycle.get(id).map(String::as_str)))
        .collect::<Vec<_>>();
    assert!(!sqls.is_empty());
    for (id, stage) in &sqls {
        assert!(
            matches!(
                *stage,
                Some("salesqualifiedlead" | "opportunity" | "customer")
            ),
            "{id} scored at least {sql} and went to {stage:?}"
        );
    }

    // The suggested [scoring] alone: the old thresholds (70) are out of the new scale's reach.
    let scoring_only = run_adopted("adopted-scoring", &adopt(&config, &calibration, false));
    let stranded = scoring_only
        .decisions
        .values()
        .filter(|(_, _, tasks)| tasks.contains("hot_pql"))
        .count();
    assert!(
        stranded * 4 < hot_tasks.len(),
        "{stranded} hot-PQL tasks at 70 against {} adopted whole",
        hot_tasks.len()
    );
}

/// `validate` refuses a threshold the configured signals cannot reach (the current scorecard
/// tops out at 74), exit 2, naming the key and the top.
#[test]
fn validate_refuses_a_threshold_no_account_can_reach() {
    let f = &*FIXTURE;
    let dir = f.root.join("unreachable");
    std::fs::create_dir_all(&dir).unwrap();
    let config = std::fs::read_to_string(f.root.join("pqlsync.toml"))
        .unwrap()
        .replace("hot_pql_score = 70", "hot_pql_score = 75");
    std::fs::write(dir.join("pqlsync.toml"), config).unwrap();
    let o = pqlsync(&dir).arg("validate").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("`routing.hot_pql_score`: 75 is above the highest PQL score the configured signals allow (74"),
        "{err}"
    );
}
