//! `[scoring]`: fit, usage and expansion signals, their weights and the tier thresholds, parsed and
//! validated beside the scorer. Omitted lists fall back to the built-in `defaults.toml`, the one
//! place the default signals are written. Conditions are parsed here for routing's disqualify
//! rules too, so both read the same operators the same way.

use serde::Deserialize;

use super::{Condition, Model, Op, Operand, Signal, Tiers};
use pqlsync_core::setting::Invalid;

/// `[scoring]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringFile {
    /// Weight of the fit score in the PQL score (default 0.4). Weights are normalised by their sum.
    pub fit_weight: Option<f64>,
    /// Weight of the usage score in the PQL score (default 0.6).
    pub usage_weight: Option<f64>,
    /// Tier thresholds on the PQL score.
    pub tiers: Option<TiersFile>,
    /// Firmographic fit signals. Replaces the built-in list when present.
    pub fit: Option<Vec<SignalFile>>,
    /// Product usage signals. Replaces the built-in list when present.
    pub usage: Option<Vec<SignalFile>>,
    /// Expansion signals for paying customers. Replaces the built-in list when present.
    pub expansion: Option<Vec<SignalFile>>,
    /// User engagement signals over `user_features` columns (`score::people`). Replaces the
    /// built-in list when present.
    pub user: Option<Vec<SignalFile>>,
    /// How power users are chosen (`score::people`).
    pub people: Option<PeopleFile>,
    /// Where a calibrated scorecard came from (`calibrate` writes it): the report's model
    /// health compares later months with it.
    pub calibration: Option<CalibrationFile>,
}

/// `[scoring.people]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeopleFile {
    /// Power users are the most active users who together made `power_share` of the
    /// account's events in the window (default 0.8, from above 0 to 1).
    pub power_share: Option<f64>,
    /// At most this many power users per account (default 3).
    pub power_max: Option<usize>,
}

/// `[scoring.calibration]`: the evidence a calibrated scorecard was adopted on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationFile {
    /// The day `calibrate` ran as of.
    pub as_of: chrono::NaiveDate,
    /// The trial starts it learned from, inclusive.
    pub trained_from: chrono::NaiveDate,
    pub trained_to: chrono::NaiveDate,
    /// Features as of the end of trial day `at_day` (day 1 is the start day).
    pub at_day: u32,
    /// The label: paid within `horizon` days of the start.
    pub horizon: u32,
    /// The suggested scorecard's AUC on the holdout trials.
    pub holdout_auc: Option<f64>,
}

/// How the score is judged: trial day K, horizon H and the baseline to compare months with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Provenance {
    pub at_day: u32,
    pub horizon: u32,
    /// The calibration's training window of trial starts, when the scorecard was calibrated.
    pub trained: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    pub holdout_auc: Option<f64>,
}

/// `calibrate`'s defaults, which judge a scorecard that was never calibrated.
pub const DEFAULT_AT_DAY: u32 = 7;
pub const DEFAULT_HORIZON: u32 = 30;

/// `[scoring.calibration]`, validated, or `calibrate`'s default definitions without it.
pub fn provenance(file: &ScoringFile) -> Result<Provenance, Invalid> {
    let Some(c) = &file.calibration else {
        return Ok(Provenance {
            at_day: DEFAULT_AT_DAY,
            horizon: DEFAULT_HORIZON,
            trained: None,
            holdout_auc: None,
        });
    };
    let at = |k: &str| format!("scoring.calibration.{k}");
    if c.at_day == 0 {
        return Err(Invalid::new(
            at("at_day"),
            "must be at least 1 (day 1 is the start day)",
        ));
    }
    if c.horizon < c.at_day {
        return Err(Invalid::new(
            at("horizon"),
            format!(
                "{} is before at_day {}: the label must close after the score",
                c.horizon, c.at_day
            ),
        ));
    }
    if c.trained_from > c.trained_to || c.trained_to > c.as_of {
        return Err(Invalid::new(
            at("trained_from"),
            "need trained_from ≤ trained_to ≤ as_of (trial starts calibrate learned from)",
        ));
    }
    if let Some(auc) = c.holdout_auc
        && !(0.0..=1.0).contains(&auc)
    {
        return Err(Invalid::new(
            at("holdout_auc"),
            format!("must be from 0 to 1, got {auc}"),
        ));
    }
    Ok(Provenance {
        at_day: c.at_day,
        horizon: c.horizon,
        trained: Some((c.trained_from, c.trained_to)),
        holdout_auc: c.holdout_auc,
    })
}

/// `[scoring.tiers]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TiersFile {
    /// Lowest PQL score that is Yellow (default 40).
    pub yellow: u8,
    /// Lowest PQL score that is Green (default 70).
    pub green: u8,
}

/// One scoring signal: a condition on an `account_features` column and the points it is worth.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalFile {
    /// The `account_features` column this signal reads.
    pub feature: String,
    /// Comparison: `>=`, `>`, `<=`, `<`, `=`, `!=`, `between`, `in`, `not_in`,
    /// `is_true`, `is_false`, `is_null`, `is_not_null`.
    pub op: String,
    /// What the feature is compared with: a number, string or boolean; a two-element
    /// `[low, high]` (inclusive) for `between`; a list for `in`/`not_in`; absent for the unary ops.
    pub value: Option<toml::Value>,
    /// Points when the condition holds; negative for a penalty.
    pub points: i32,
    /// Makes this a per-unit signal: `points` for every `per` units of the feature.
    pub per: Option<f64>,
    /// Cap (in absolute points) on what a per-unit signal can contribute.
    pub max_points: Option<i32>,
    /// Whether a null feature value counts as the condition holding (e.g. never active is inactive).
    #[serde(default)]
    pub fire_on_null: bool,
    /// Name shown in explanations instead of the feature column.
    pub label: Option<String>,
}

const DEFAULTS: &str = include_str!("defaults.toml");

/// The built-in scoring section, parsed.
pub fn default_scoring() -> ScoringFile {
    toml::from_str(DEFAULTS).expect("built-in defaults.toml parses")
}

pub fn model(file: &ScoringFile) -> Result<Model, Invalid> {
    let defaults = default_scoring();
    let fit_weight = file
        .fit_weight
        .or(defaults.fit_weight)
        .expect("defaults.toml sets fit_weight");
    let usage_weight = file
        .usage_weight
        .or(defaults.usage_weight)
        .expect("defaults.toml sets usage_weight");
    for (key, w) in [
        ("scoring.fit_weight", fit_weight),
        ("scoring.usage_weight", usage_weight),
    ] {
        if !(w.is_finite() && w >= 0.0) {
            return Err(Invalid::new(
                key,
                format!("must be a non-negative number, got {w}"),
            ));
        }
    }
    if fit_weight + usage_weight <= 0.0 {
        return Err(Invalid::new(
            "scoring.fit_weight",
            "fit_weight + usage_weight must be positive",
        ));
    }
    let tiers = file
        .tiers
        .clone()
        .or(defaults.tiers)
        .expect("defaults have tiers");
    if !(tiers.yellow < tiers.green && tiers.green <= 100) {
        return Err(Invalid::new(
            "scoring.tiers",
            format!(
                "need yellow < green ≤ 100, got yellow = {}, green = {}",
                tiers.yellow, tiers.green
            ),
        ));
    }
    let signals =
        |list: &str, given: &Option<Vec<SignalFile>>, default: Option<Vec<SignalFile>>| {
            given
                .clone()
                .or(default)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .map(|(i, s)| signal(&format!("scoring.{list}[{i}]"), s))
                .collect::<Result<Vec<_>, _>>()
        };
    Ok(Model {
        fit: signals("fit", &file.fit, defaults.fit)?,
        usage: signals("usage", &file.usage, defaults.usage)?,
        expansion: signals("expansion", &file.expansion, defaults.expansion)?,
        fit_weight: fit_weight / (fit_weight + usage_weight),
        tiers: Tiers {
            yellow: tiers.yellow,
            green: tiers.green,
        },
    })
}

pub(super) fn signal(key: &str, s: &SignalFile) -> Result<Signal, Invalid> {
    let condition = condition(key, &s.feature, &s.op, s.value.as_ref())?;
    if let Some(per) = s.per {
        if !(per.is_finite() && per > 0.0) {
            return Err(Invalid::new(
                format!("{key}.per"),
                format!("must be a positive number, got {per}"),
            ));
        }
        if !condition.op.is_ordering() {
            return Err(Invalid::new(
                format!("{key}.per"),
                "per-unit signals need a numeric comparison (>=, >, <=, <, between)",
            ));
        }
        if let Some(max) = s.max_points
            && max <= 0
        {
            return Err(Invalid::new(
                format!("{key}.max_points"),
                format!(
                    "must be a positive number of points, got {max}: it caps the signal's size, \
                     and `points` gives its sign"
                ),
            ));
        }
    } else if s.max_points.is_some() {
        return Err(Invalid::new(
            format!("{key}.max_points"),
            "only applies to per-unit signals (set `per`)",
        ));
    }
    if s.points == 0 {
        return Err(Invalid::new(
            format!("{key}.points"),
            "a signal worth 0 points never shows; remove it",
        ));
    }
    Ok(Signal {
        condition,
        points: s.points,
        per: s.per,
        max_points: s.max_points,
        fire_on_null: s.fire_on_null,
        label: s.label.clone(),
    })
}

pub fn condition(
    key: &str,
    feature: &str,
    op: &str,
    value: Option<&toml::Value>,
) -> Result<Condition, Invalid> {
    if feature.trim().is_empty() {
        return Err(Invalid::new(
            format!("{key}.feature"),
            "must name an account_features column",
        ));
    }
    let op_parsed = Op::parse(op.trim()).ok_or_else(|| {
        let names: Vec<&str> = Op::ALL.iter().map(|(n, _)| *n).collect();
        Invalid::new(
            format!("{key}.op"),
            format!("unknown operator `{op}` (one of {})", names.join(", ")),
        )
    })?;
    Ok(Condition {
        feature: feature.trim().to_string(),
        op: op_parsed,
        operand: operand(&format!("{key}.value"), op, op_parsed, value)?,
    })
}

/// One comparison value (`vkey` names it in errors).
fn scalar(vkey: &str, v: &toml::Value) -> Result<Operand, Invalid> {
    match v {
        toml::Value::Integer(i) => Ok(Operand::Number(*i as f64)),
        toml::Value::Float(f) => Ok(Operand::Number(*f)),
        toml::Value::String(s) => Ok(Operand::Text(s.clone())),
        toml::Value::Boolean(b) => Ok(Operand::Bool(*b)),
        other => Err(Invalid::new(
            vkey,
            format!(
                "expected a number, string or boolean, got {}",
                other.type_str()
            ),
        )),
    }
}

/// The operand `op` (spelled `op_text` in the config) takes, from the configured `value`.
fn operand(
    vkey: &str,
    op_text: &str,
    op: Op,
    value: Option<&toml::Value>,
) -> Result<Operand, Invalid> {
    let invalid = |message: String| Err(Invalid::new(vkey, message));
    match (op, value) {
        (Op::IsTrue | Op::IsFalse | Op::IsNull | Op::IsNotNull, None) => Ok(Operand::None),
        (Op::IsTrue | Op::IsFalse | Op::IsNull | Op::IsNotNull, Some(_)) => {
            invalid(format!("`{op_text}` takes no value; remove it"))
        }
        (_, None) => invalid(format!("`{op_text}` needs a value")),
        (Op::Between, Some(toml::Value::Array(items))) => match items.as_slice() {
            [lo, hi] => match (scalar(vkey, lo)?, scalar(vkey, hi)?) {
                (Operand::Number(lo), Operand::Number(hi)) if lo <= hi => {
                    Ok(Operand::Range(lo, hi))
                }
                _ => invalid("`between` needs [low, high] numbers with low ≤ high".into()),
            },
            _ => invalid("`between` needs exactly [low, high]".into()),
        },
        (Op::Between, Some(_)) => invalid("`between` needs [low, high]".into()),
        (Op::In | Op::NotIn, Some(toml::Value::Array(items))) => Ok(Operand::List(
            items
                .iter()
                .map(|v| scalar(vkey, v))
                .collect::<Result<_, _>>()?,
        )),
        (Op::In | Op::NotIn, Some(_)) => {
            invalid(format!("`{op_text}` needs a list, e.g. [\"a\", \"b\"]"))
        }
        (op, Some(v)) => {
            let operand = scalar(vkey, v)?;
            if op.is_ordering() && !matches!(operand, Operand::Number(_)) {
                return invalid(format!("`{}` compares numbers; got {v}", op_name(op)));
            }
            Ok(operand)
        }
    }
}

fn op_name(op: Op) -> &'static str {
    op.name()
}
