//! `pqlsync calibrate` as the real binary over demo data with planted effects
//! (`demo-data --plant`): early in a trial, a connected integration (log-odds +2.0), a paid
//! feature used (+1.2) and a pricing-page view (+0.6) raise the odds of converting, a help
//! request is pure noise, and converters also connect an integration after they pay, which a
//! calibration that looked past trial day K would take for a perfect signal.

mod common;

use std::path::PathBuf;
use std::sync::LazyLock;

use common::*;

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
    write_config(&root, &data, WRONG_SCORING);
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

/// The suggestion adopted as-is is a valid config: `validate` passes with calibration.toml as
/// its `[scoring]` section, and `explain` scores with it.
#[test]
fn calibration_toml_can_replace_the_scoring_section() {
    let f = &*FIXTURE;
    let suggested = std::fs::read_to_string(f.out.join("calibration.toml")).unwrap();
    assert!(suggested.contains("[scoring]") && suggested.contains(": current "));
    let adopted = f.root.join("adopted");
    std::fs::create_dir_all(&adopted).unwrap();
    let config = std::fs::read_to_string(f.root.join("pqlsync.toml")).unwrap();
    let base = &config[..config.find("[scoring]").unwrap()];
    std::fs::write(adopted.join("pqlsync.toml"), format!("{base}\n{suggested}")).unwrap();
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
