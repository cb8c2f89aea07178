//! Table tests of the training-set rules, and the whole calibration over synthetic trials whose
//! true effects are known.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, TimeZone, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use pqlsync_rules::score::config::{ScoringFile, model};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap())
}

fn window() -> Window {
    Window {
        as_of: day("2026-11-20"),
        from: day("2025-11-20"),
        to: day("2026-11-20"),
        at_day: 7,
        horizon: 30,
    }
}

#[test]
fn day_k_ends_with_calendar_day_start_plus_k_minus_one() {
    let w = window();
    assert_eq!(w.feature_day(day("2026-10-01")), day("2026-10-07"));
    let w1 = Window { at_day: 1, ..w };
    assert_eq!(w1.feature_day(day("2026-10-01")), day("2026-10-01"));
}

#[test]
fn training_set_exclusions_and_labels_at_their_boundaries() {
    let w = window();
    let start = at("2026-10-01 15:00:00");
    let cases: &[(&str, Option<&str>, Result<bool, Exclusion>)] = &[
        ("never paid", None, Ok(false)),
        // Paying at day K: the last second of day 7 is still day 7; the next is not.
        (
            "paid in day 7",
            Some("2026-10-07 23:59:59"),
            Err(Exclusion::PayingByDayK),
        ),
        ("paid on day 8", Some("2026-10-08 00:00:00"), Ok(true)),
        (
            "paid on day 1",
            Some("2026-10-01 16:00:00"),
            Err(Exclusion::PayingByDayK),
        ),
        // A payment before the trial (an earlier customer) is paying at day K too.
        (
            "paid before",
            Some("2026-09-01 00:00:00"),
            Err(Exclusion::PayingByDayK),
        ),
        // Within H days counts calendar days from the start day, as the cohort report does.
        (
            "paid on day start+30",
            Some("2026-10-31 23:00:00"),
            Ok(true),
        ),
        (
            "paid on day start+31",
            Some("2026-11-01 00:00:00"),
            Ok(false),
        ),
    ];
    for (name, paid, want) in cases {
        assert_eq!(w.label(start, paid.map(at)), *want, "{name}");
    }
    // The horizon closes when the as-of day reaches start + H.
    let closes = at("2026-10-21 09:00:00");
    assert_eq!(w.label(closes, None), Ok(false));
    let open = at("2026-10-22 00:00:00");
    assert_eq!(w.label(open, None), Err(Exclusion::HorizonOpen));
    // An open horizon hides even a known payment: the window is not over for the others.
    assert_eq!(
        w.label(open, Some(at("2026-11-10 00:00:00"))),
        Err(Exclusion::HorizonOpen)
    );
}

const SCORING: &str = r#"
fit_weight = 0.4
usage_weight = 0.6
[tiers]
yellow = 40
green = 70
[[fit]]
feature = "industry"
op = "in"
value = ["saas", "software"]
points = 30
[[fit]]
feature = "rare"
op = "is_true"
points = 25
[[usage]]
feature = "integrated"
op = "is_true"
points = 20
[[usage]]
feature = "paid_features"
op = ">="
value = 1
points = 20
[[usage]]
feature = "pricing_views"
op = ">="
value = 1
points = 5
per = 1
max_points = 15
[[usage]]
feature = "noise"
op = "is_true"
points = 25
"#;

/// A deliberately wrong config: the noise is worth the most, the strongest effect the least.
const WRONG: &str = r#"
[tiers]
yellow = 40
green = 70
[[fit]]
feature = "industry"
op = "in"
value = ["saas", "software"]
points = 10
[[usage]]
feature = "integrated"
op = "is_true"
points = 5
[[usage]]
feature = "noise"
op = "is_true"
points = 60
[[usage]]
feature = "paid_features"
op = ">="
value = 1
points = -10
"#;

fn scoring(text: &str) -> Model {
    let file: ScoringFile = toml::from_str(text).unwrap();
    model(&file).unwrap()
}

/// Trials with known effects on the log-odds: integrated +2.0, industry +0.8, paid features
/// +1.0, each pricing view (up to 3) +0.3, noise 0; `rare` fires for a handful.
fn synthetic(n: usize, seed: u64) -> Vec<Example> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let integrated = rng.random_bool(0.3);
            let saas = rng.random_bool(0.4);
            let paid = rng.random_range(0..4i64) * i64::from(rng.random_bool(0.35));
            let views = rng.random_range(0..5i64);
            let noise = rng.random_bool(0.4);
            let rare = i % 401 == 0;
            let logit = -2.4
                + 2.0 * f64::from(u8::from(integrated))
                + 0.8 * f64::from(u8::from(saas))
                + 1.0 * f64::from(u8::from(paid >= 1))
                + 0.3 * views.min(3) as f64;
            let converted = rng.random_bool(1.0 / (1.0 + (-logit).exp()));
            let industry = if saas { "saas" } else { "retail" };
            let features: HashMap<String, Value> = [
                ("integrated", Value::Bool(integrated)),
                ("industry", Value::Str(industry.into())),
                ("paid_features", Value::Int(paid)),
                ("pricing_views", Value::Int(views)),
                ("noise", Value::Bool(noise)),
                ("rare", Value::Bool(rare)),
                (
                    "sessions",
                    Value::Int(i64::from(converted) * 3 + rng.random_range(0..4i64)),
                ),
                ("flag", Value::Bool(rng.random_bool(0.5))),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            Example {
                account_id: format!("a{i:05}"),
                start_day: day("2025-12-01") + TimeDelta::days((i * 300 / n) as i64),
                converted,
                features,
            }
        })
        .collect()
}

fn inputs(model: &Model) -> Inputs<'_> {
    static COLUMNS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        [
            "integrated",
            "paid_features",
            "pricing_views",
            "noise",
            "rare",
            "sessions",
            "flag",
        ]
        .map(String::from)
        .to_vec()
    });
    Inputs {
        window: window(),
        model,
        columns: &COLUMNS,
        excluded: BTreeMap::new(),
        feature_seconds: 0.0,
        thresholds: vec![("routing.hot_pql_score".into(), 85)],
    }
}

fn signal<'a>(c: &'a Calibration, feature: &str) -> &'a SignalReport {
    c.signals.iter().find(|s| s.feature == feature).unwrap()
}

#[test]
fn calibration_recovers_known_effects_and_ignores_noise() {
    let current = scoring(SCORING);
    let c = calibrate(inputs(&current), synthetic(4000, 7)).unwrap();
    let points = |f: &str| signal(&c, f).suggested_points;
    // The truth per firing: integrated 2.0 > paid 1.0 > industry 0.8 > a pricing view 0.3.
    assert!(
        points("integrated") > points("paid_features"),
        "{:#?}",
        c.signals
    );
    assert!(
        points("paid_features") > points("pricing_views"),
        "{:#?}",
        c.signals
    );
    assert!(points("pricing_views") > 0);
    let noise = signal(&c, "noise");
    assert!(
        noise.status == Status::Dropped || noise.suggested_points.abs() <= 3,
        "{noise:#?}"
    );
    let rare = signal(&c, "rare");
    assert_eq!(rare.status, Status::InsufficientData, "{rare:#?}");
    assert_eq!(rare.suggested_points, rare.current_points);
    // Odds ratios near the truth (penalised, so a little smaller).
    let or = signal(&c, "integrated").odds_ratio.unwrap().ln();
    assert!((1.6..2.4).contains(&or), "{or}");
    // Positive usage points top out at 100 once the kept `rare` is not in the group.
    let usage_top: i32 = c
        .signals
        .iter()
        .filter(|s| s.group == "usage" && s.suggested_points > 0)
        .map(|s| s.suggested_max_points.unwrap_or(s.suggested_points))
        .sum();
    assert!((97..=103).contains(&usage_top), "{usage_top}");
    assert_eq!(c.trials, 4000);
    assert_eq!(c.training.trials + c.holdout.trials, 4000);
    assert!(c.training.last_start <= c.holdout.first_start);
    // The unscored `sessions` column (built to track conversion) is the best candidate; the
    // coin-flip `flag` is weak if listed at all.
    assert_eq!(c.candidates[0].feature, "sessions", "{:#?}", c.candidates);
    assert!(c.candidates[0].lift > 1.5);
    assert!(c.candidates.iter().all(|x| x.feature != "integrated"));
}

#[test]
fn the_suggestion_beats_a_wrong_config_on_the_holdout() {
    let wrong = scoring(WRONG);
    let c = calibrate(inputs(&wrong), synthetic(4000, 11)).unwrap();
    let (cur, sug) = (
        c.holdout.auc_current.unwrap(),
        c.holdout.auc_suggested.unwrap(),
    );
    assert!(sug > cur + 0.1, "AUC {cur} → {sug}");
    // Suggested Green: a minority of trials with most of the lift.
    let green = &c.tiers.suggested.rows[0];
    assert!(green.share <= evaluate::GREEN_MAX_SHARE);
    assert!(green.lift.unwrap() > 1.5, "{green:?}");
    assert!(c.tiers.suggested.rows[2].conversion_share <= evaluate::RED_MAX_CONVERSION_SHARE);
}

#[test]
fn calibration_toml_is_a_valid_scoring_section() {
    let current = scoring(SCORING);
    let c = calibrate(inputs(&current), synthetic(3000, 3)).unwrap();
    let text = suggested_toml(&c);
    let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let file: ScoringFile = table["scoring"].clone().try_into().unwrap();
    let suggested = model(&file).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert_eq!(suggested.tiers.yellow, c.tiers.suggested.yellow);
    assert_eq!(suggested.tiers.green, c.tiers.suggested.green);
    // Every signal with points is in it, with those points; 0-point ones are commented out.
    let live: Vec<(&str, i32)> = suggested
        .fit
        .iter()
        .chain(&suggested.usage)
        .map(|s| (s.condition.feature.as_str(), s.points))
        .collect();
    let want: Vec<(&str, i32)> = c
        .signals
        .iter()
        .filter(|s| s.suggested_points != 0)
        .map(|s| (s.feature.as_str(), s.suggested_points))
        .collect();
    assert_eq!(live, want, "{text}");
    assert!((suggested.fit_weight - c.scale.fit_weight).abs() < 1e-3);
    assert!(text.contains("# rare is_true: current +25 ·"), "{text}");
}

#[test]
fn too_few_conversions_is_an_error_naming_the_counts() {
    let current = scoring(SCORING);
    let e = calibrate(inputs(&current), synthetic(200, 5)).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, CalibrateError::TooFew { .. }), "{text}");
    assert!(
        text.contains("need 50") && text.contains("--from"),
        "{text}"
    );
}

#[test]
fn a_signal_that_is_the_outcome_is_flagged_as_leakage() {
    let mut examples = synthetic(3000, 9);
    for e in &mut examples {
        e.features.insert("noise".into(), Value::Bool(e.converted));
    }
    let current = scoring(SCORING);
    let c = calibrate(inputs(&current), examples).unwrap();
    assert!(
        c.warnings
            .iter()
            .any(|w| w.kind == "leakage" && w.signals[0].contains("noise")),
        "{:#?}",
        c.warnings
    );
}

#[test]
fn nearly_duplicate_signals_are_flagged() {
    let mut examples = synthetic(3000, 13);
    for e in &mut examples {
        let integrated = e.features["integrated"].clone();
        e.features.insert("noise".into(), integrated);
    }
    let current = scoring(SCORING);
    let c = calibrate(inputs(&current), examples).unwrap();
    assert!(
        c.warnings.iter().any(|w| w.kind == "duplicate"
            && w.signals.iter().any(|s| s.contains("integrated"))
            && w.signals.iter().any(|s| s.contains("noise"))),
        "{:#?}",
        c.warnings
    );
}

/// The printed summary and `calibration.toml` of `c`, pinned as insta snapshots in
/// `src/snapshots/` (`NAME.summary.snap`, `NAME.toml.snap`): any byte of difference fails, and
/// `cargo insta review` shows it.
fn assert_pinned(c: &Calibration, name: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        insta::assert_snapshot!(format!("{name}.summary"), summary(c));
        insta::assert_snapshot!(format!("{name}.toml"), suggested_toml(c));
    });
}

#[test]
fn the_summary_and_calibration_toml_are_pinned() {
    let current = scoring(SCORING);
    let mut thresholds = inputs(&current).thresholds;
    thresholds.push(("hubspot.lifecycle_thresholds.salesqualifiedlead".into(), 60));
    let inputs = Inputs {
        excluded: [
            ("horizon_open".to_string(), 1234),
            ("paying_by_day_k".to_string(), 56),
        ]
        .into_iter()
        .collect(),
        feature_seconds: 2.5,
        thresholds,
        ..inputs(&current)
    };
    let mut c = calibrate(inputs, synthetic(3000, 3)).unwrap();
    // The one figure that depends on the machine.
    c.seconds = 3.25;
    assert_pinned(&c, "scoring");
}

#[test]
fn the_summary_and_calibration_toml_of_a_wrong_config_are_pinned() {
    let wrong = scoring(WRONG);
    let mut c = calibrate(inputs(&wrong), synthetic(4000, 11)).unwrap();
    c.seconds = 0.5;
    assert_pinned(&c, "wrong");
}

#[test]
fn the_summary_and_calibration_toml_with_warnings_are_pinned() {
    let current = scoring(SCORING);
    let mut leaking = synthetic(3000, 9);
    for e in &mut leaking {
        e.features.insert("noise".into(), Value::Bool(e.converted));
    }
    let mut c = calibrate(inputs(&current), leaking).unwrap();
    c.seconds = 0.5;
    assert_pinned(&c, "leakage");
    let mut twins = synthetic(3000, 13);
    for e in &mut twins {
        let integrated = e.features["integrated"].clone();
        e.features.insert("noise".into(), integrated);
    }
    let mut c = calibrate(inputs(&current), twins).unwrap();
    c.seconds = 0.5;
    assert_pinned(&c, "duplicate");
}
