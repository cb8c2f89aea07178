//! The calibration as text: `calibration.toml` (a complete `[scoring]` section to review and
//! adopt, every signal commented with its evidence) and the printed summary.

use std::fmt::Write;

use super::types::{Calibration, SignalReport, Status};
use pqlsync_core::fmt::thousands;

/// A JSON value from the report as a TOML literal (the config's numbers, strings, booleans
/// and lists).
fn toml_literal(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(toml_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        serde_json::Value::String(s) => toml::Value::String(s.clone()).to_string(),
        other => other.to_string(),
    }
}

fn rule(s: &SignalReport) -> String {
    let value = s
        .value
        .as_ref()
        .map(|v| format!(" {}", toml_literal(v)))
        .unwrap_or_default();
    format!("{} {}{value}", s.feature, s.op)
}

fn signed(points: i32) -> String {
    if points > 0 {
        format!("+{points}")
    } else {
        points.to_string()
    }
}

fn evidence(s: &SignalReport) -> String {
    let mut line = format!("current {}", signed(s.current_points));
    if let Some(or) = s.odds_ratio {
        let _ = write!(line, " · odds ratio {or:.2}");
    }
    if let (Some(lo), Some(hi)) = (s.ci_low, s.ci_high) {
        let _ = write!(line, " · 80% interval [{lo:.0}, {hi:.0}] points");
    }
    let _ = write!(
        line,
        " · fired {} trials, {} converted · {}",
        thousands(s.fired_trials as i64),
        thousands(s.fired_conversions as i64),
        s.status.as_str()
    );
    line
}

/// `calibration.toml`: the suggested `[scoring]` section. A signal suggested at 0 points is
/// kept as a comment, since a 0-point signal is not valid config.
pub fn suggested_toml(c: &Calibration) -> String {
    let mut out = header_toml(c);
    out.push_str(&scoring_toml(c));
    for group in ["fit", "usage"] {
        for s in c.signals.iter().filter(|s| s.group == group) {
            out.push_str(&signal_toml(group, s));
        }
    }
    out.push_str(&thresholds_toml(c));
    out
}

/// The comment heading `calibration.toml`: what it was calibrated on, how well it ranks, and
/// how to adopt it.
fn header_toml(c: &Calibration) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# pqlsync calibrate, as of {}: {} trials started {} to {} ({} converted), features as \
         of the end of trial day {}, label: paid within {} days.",
        c.as_of,
        thousands(c.trials as i64),
        c.from,
        c.to,
        thousands(c.conversions as i64),
        c.at_day,
        c.horizon
    );
    let _ = writeln!(
        out,
        "# Holdout AUC (newest {} trials): current {} → suggested {}. One PQL point multiplies \
         the odds by {:.3}; +{:.0} points double them.",
        thousands(c.holdout.trials as i64),
        auc(c.holdout.auc_current),
        auc(c.holdout.auc_suggested),
        c.scale.odds_per_point,
        c.scale.points_to_double_odds
    );
    out.push_str(
        "# Nothing is applied: review it (calibration.html shows the evidence), then replace the \
         [scoring] section of pqlsync.toml with this one, and set each key under [routing] and \
         [hubspot.lifecycle_thresholds] at the end to the value here: they are on the same PQL \
         scale, which this scorecard changes.\n\n",
    );
    out
}

/// `[scoring]`'s weights, `[scoring.calibration]` and `[scoring.tiers]`.
fn scoring_toml(c: &Calibration) -> String {
    let mut out = String::from("[scoring]\n");
    let _ = writeln!(out, "fit_weight = {:.3}", c.scale.fit_weight);
    let _ = writeln!(out, "usage_weight = {:.3}", c.scale.usage_weight);
    out.push_str(&provenance_toml(c));
    let _ = writeln!(
        out,
        "\n# current: yellow = {}, green = {}",
        c.tiers.current.yellow, c.tiers.current.green
    );
    out.push_str("[scoring.tiers]\n");
    let _ = writeln!(out, "yellow = {}", c.tiers.suggested.yellow);
    let _ = writeln!(out, "green = {}", c.tiers.suggested.green);
    out
}

/// One `[[scoring.<group>]]` entry with its evidence above it, commented out when suggested at
/// 0 points.
fn signal_toml(group: &str, s: &SignalReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n# {}: {}", rule(s), evidence(s));
    let prefix = if s.suggested_points == 0 {
        out.push_str("# suggested 0 points: remove it (kept here, commented out)\n");
        "# "
    } else {
        ""
    };
    let _ = writeln!(out, "{prefix}[[scoring.{group}]]");
    let _ = writeln!(
        out,
        "{prefix}feature = {}",
        toml::Value::String(s.feature.clone())
    );
    let _ = writeln!(out, "{prefix}op = {}", toml::Value::String(s.op.clone()));
    if let Some(v) = &s.value {
        let _ = writeln!(out, "{prefix}value = {}", toml_literal(v));
    }
    let _ = writeln!(out, "{prefix}points = {}", s.suggested_points);
    if let Some(per) = s.per {
        let _ = writeln!(out, "{prefix}per = {}", pqlsync_core::fmt::trim_float(per));
    }
    if let Some(max) = s.suggested_max_points {
        let _ = writeln!(out, "{prefix}max_points = {max}");
    }
    if s.fire_on_null {
        let _ = writeln!(out, "{prefix}fire_on_null = true");
    }
    if let Some(label) = &s.label {
        let _ = writeln!(
            out,
            "{prefix}label = {}",
            toml::Value::String(label.clone())
        );
    }
    out
}

/// An AUC to three places, or a dash when there is none.
fn auc(a: Option<f64>) -> String {
    a.map_or("–".into(), |a| format!("{a:.3}"))
}

/// `[scoring.calibration]`: what this scorecard was learned on, which the report's model
/// health compares later months with (its AUC, and the score distribution of these trials).
fn provenance_toml(c: &Calibration) -> String {
    let first = c.training.first_start.unwrap_or(c.from);
    let last = c.holdout.last_start.unwrap_or(c.to);
    let mut out = format!(
        "\n# What this scorecard was learned on; the report's model health compares each later \
         month with it.\n[scoring.calibration]\nas_of = \"{}\"\ntrained_from = \"{first}\"\n\
         trained_to = \"{last}\"\nat_day = {}\nhorizon = {}\n",
        c.as_of, c.at_day, c.horizon
    );
    if let Some(auc) = c.holdout.auc_suggested {
        let _ = writeln!(out, "holdout_auc = {auc:.3}");
    }
    out
}

/// Share and conversion rate of the holdout trials a threshold flags, for comments.
fn flagged(f: &super::types::Flagged) -> String {
    let rate = f.rate.map_or("none to convert".into(), |r| {
        format!("{:.0}% converted", r * 100.0)
    });
    format!("{:.1}% of holdout trials, {rate}", f.share * 100.0)
}

/// The PQL thresholds outside `[scoring]`, moved to the suggested scale, each with its
/// evidence: `[routing] hot_pql_score` and `[hubspot.lifecycle_thresholds]`.
fn thresholds_toml(c: &Calibration) -> String {
    let mut out = String::new();
    let line = |out: &mut String, name: &str, t: &super::types::Threshold| {
        let _ = writeln!(
            out,
            "# current {} flags {}; suggested {} flags {} (its place among the tiers kept)\n{name} = {}",
            t.current,
            flagged(&t.current_flagged),
            t.suggested,
            flagged(&t.suggested_flagged),
            t.suggested
        );
    };
    for (table, prefix) in [
        ("routing", "routing."),
        (
            "hubspot.lifecycle_thresholds",
            "hubspot.lifecycle_thresholds.",
        ),
    ] {
        let keyed: Vec<_> = c
            .thresholds
            .iter()
            .filter_map(|k| Some((k.key.strip_prefix(prefix)?, &k.threshold)))
            .filter(|(name, _)| !name.contains('.'))
            .collect();
        if keyed.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n[{table}]");
        for (name, t) in keyed {
            line(&mut out, name, t);
        }
    }
    out
}

/// The printed summary: the training set, holdout AUC current → suggested, tiers, and the
/// biggest changes.
pub fn summary(c: &Calibration) -> String {
    [
        summary_training(c),
        summary_holdout(c),
        summary_tiers(c),
        summary_changes(c),
        summary_notes(c),
    ]
    .concat()
}

/// The trials calibrated on, and those left out.
fn summary_training(c: &Calibration) -> String {
    let mut out = String::new();
    let pct = |x: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            x as f64 * 100.0 / of as f64
        }
    };
    let _ = writeln!(
        out,
        "calibrated on {} trials started {} to {} ({} converted, {:.1}%): features at the end of \
         trial day {}, paid within {} days ({:.1}s, {:.1}s of it computing features)",
        thousands(c.trials as i64),
        c.from,
        c.to,
        thousands(c.conversions as i64),
        pct(c.conversions, c.trials),
        c.at_day,
        c.horizon,
        c.seconds,
        c.feature_seconds
    );
    if !c.excluded.is_empty() {
        let parts: Vec<String> = c
            .excluded
            .iter()
            .map(|(reason, n)| format!("{} {}", thousands(*n as i64), reason.replace('_', " ")))
            .collect();
        let _ = writeln!(out, "  left out: {}", parts.join(", "));
    }
    out
}

fn summary_holdout(c: &Calibration) -> String {
    format!(
        "  holdout (newest {} trials, {} converted): AUC {} current → {} suggested\n",
        thousands(c.holdout.trials as i64),
        thousands(c.holdout.conversions as i64),
        auc(c.holdout.auc_current),
        auc(c.holdout.auc_suggested)
    )
}

/// Tiers current and suggested with what Green holds, the other thresholds moved, and the
/// weights.
fn summary_tiers(c: &Calibration) -> String {
    let mut out = String::new();
    let green = |t: &super::types::TierTable| {
        t.rows
            .iter()
            .find(|r| r.tier == "green")
            .map(|r| (r.share * 100.0, r.conversion_share * 100.0))
            .unwrap_or_default()
    };
    let (cur_share, cur_capture) = green(&c.tiers.current);
    let (sug_share, sug_capture) = green(&c.tiers.suggested);
    let _ = writeln!(
        out,
        "  tiers: yellow {} / green {} suggested (current {} / {}); Green holds {:.0}% of holdout \
         trials and {:.0}% of conversions (current {:.0}% and {:.0}%)",
        c.tiers.suggested.yellow,
        c.tiers.suggested.green,
        c.tiers.current.yellow,
        c.tiers.current.green,
        sug_share,
        sug_capture,
        cur_share,
        cur_capture
    );
    for k in &c.thresholds {
        let t = &k.threshold;
        let _ = writeln!(
            out,
            "  {} {} → {}: flags {:.1}% of holdout trials (current {:.1}%)",
            k.key,
            t.current,
            t.suggested,
            t.suggested_flagged.share * 100.0,
            t.current_flagged.share * 100.0
        );
    }
    let _ = writeln!(
        out,
        "  weights: fit {:.2}, usage {:.2}; +{:.0} PQL points double the odds of converting",
        c.scale.fit_weight, c.scale.usage_weight, c.scale.points_to_double_odds
    );
    out
}

/// The six signals whose points change most, if any change.
fn summary_changes(c: &Calibration) -> String {
    let mut out = String::new();
    let mut changes: Vec<&SignalReport> = c
        .signals
        .iter()
        .filter(|s| s.suggested_points != s.current_points)
        .collect();
    changes.sort_by_key(|s| std::cmp::Reverse((s.suggested_points - s.current_points).abs()));
    if !changes.is_empty() {
        out.push_str("  biggest changes:\n");
        for s in changes.iter().take(6) {
            let note = match s.status {
                Status::Dropped => " (dropped: its interval spans 0)",
                _ => "",
            };
            let _ = writeln!(
                out,
                "    {:<5} {:<40} {:>4} → {:>4}{note}",
                s.group,
                rule(s),
                signed(s.current_points),
                signed(s.suggested_points)
            );
        }
    }
    out
}

/// Signals kept for want of data, the warnings, and the best unscored candidate.
fn summary_notes(c: &Calibration) -> String {
    let mut out = String::new();
    let insufficient = c
        .signals
        .iter()
        .filter(|s| s.status == Status::InsufficientData)
        .count();
    if insufficient > 0 {
        let _ = writeln!(
            out,
            "  {insufficient} signal(s) fired for too few converting trials to fit and keep their \
             points"
        );
    }
    for w in &c.warnings {
        let _ = writeln!(out, "  warning ({}): {}", w.kind, w.message);
    }
    if let Some(best) = c.candidates.first() {
        let _ = writeln!(
            out,
            "  {} unscored feature(s) worth a look, best: {} {}{} (lift {:.1} on {:.0}% of trials)",
            c.candidates.len(),
            best.feature,
            best.op,
            best.value
                .map(|v| format!(" {}", pqlsync_core::fmt::trim_float(v)))
                .unwrap_or_default(),
            best.lift,
            best.coverage * 100.0
        );
    }
    out
}
