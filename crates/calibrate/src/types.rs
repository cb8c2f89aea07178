//! What a calibration finds, as plain data: `calibration.json` is this serialised, and the
//! printed summary, `calibration.toml` and `calibration.html` are all drawn from it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The whole result of `pqlsync calibrate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The as-of day: labels are known up to it.
    pub as_of: NaiveDate,
    /// Trial starts considered, inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Features are taken as of the end of trial day `at_day` (day 1 is the start day).
    pub at_day: u32,
    /// The label: paid within `horizon` days of the trial start.
    pub horizon: u32,
    /// Trials in the training set (train + holdout) and how many converted.
    pub trials: usize,
    pub conversions: usize,
    /// Trials (or accounts) left out, by reason: `paying_by_day_k`, `horizon_open`,
    /// `no_trial`, `no_features_at_day_k`.
    pub excluded: BTreeMap<String, usize>,
    pub training: Split,
    pub holdout: Holdout,
    /// The L2 penalty chosen on the holdout, and the ones tried with their holdout log-loss.
    pub penalty: f64,
    pub penalties: Vec<PenaltyTrial>,
    /// How the suggested points map to odds.
    pub scale: Scale,
    pub signals: Vec<SignalReport>,
    pub tiers: TierTables,
    /// The other thresholds on the PQL score (`routing.hot_pql_score`,
    /// `hubspot.lifecycle_thresholds.*`), moved to the suggested scale, in config order.
    #[serde(default)]
    pub thresholds: Vec<KeyedThreshold>,
    /// Holdout deciles of the PQL score (decile 1 = the highest scores), current and suggested.
    pub deciles: Compared<Vec<Decile>>,
    /// Cumulative gains over the holdout: points `(share of trials, share of conversions)`
    /// taking trials from the highest score down, starting at (0, 0) and ending at (1, 1).
    pub gains: Compared<Vec<(f64, f64)>>,
    /// Holdout conversion by score band of 10 points, predicted (a one-variable logistic fit
    /// of the label on the score over the training trials) against actual.
    pub bands: Compared<Vec<Band>>,
    /// Likely leakage and nearly duplicate signals.
    pub warnings: Vec<Warning>,
    /// Unscored `account_features` columns with their best single threshold.
    pub candidates: Vec<Candidate>,
    /// Seconds spent computing features, and in all.
    pub feature_seconds: f64,
    pub seconds: f64,
}

/// A pair of the same figure for the current config and the suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compared<T> {
    pub current: T,
    pub suggested: T,
}

/// The older (training) part of the trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub trials: usize,
    pub conversions: usize,
    /// First and last trial start in the split.
    pub first_start: Option<NaiveDate>,
    pub last_start: Option<NaiveDate>,
}

/// The newest quarter of the trials, never seen by the fit that is evaluated on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    pub trials: usize,
    pub conversions: usize,
    pub first_start: Option<NaiveDate>,
    pub last_start: Option<NaiveDate>,
    /// Conversion rate of the holdout.
    pub base_rate: f64,
    /// AUC of the PQL score on the holdout: current config, and the points fitted on the
    /// training trials only.
    pub auc_current: Option<f64>,
    pub auc_suggested: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PenaltyTrial {
    pub penalty: f64,
    /// Mean negative log-likelihood on the holdout (lower is better).
    pub holdout_log_loss: f64,
}

/// The scorecard scaling of the suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    pub fit_weight: f64,
    pub usage_weight: f64,
    /// Log-odds one PQL point stands for, and the odds ratio of one point.
    pub log_odds_per_point: f64,
    pub odds_per_point: f64,
    /// PQL points that double the odds of converting.
    pub points_to_double_odds: f64,
    /// Log-odds of a trial no signal fires for (the fitted intercept).
    pub intercept: f64,
}

/// What happened to one configured signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Fitted; suggested points from the fit.
    Ok,
    /// Fired for too few converting trials to fit; keeps its current points.
    InsufficientData,
    /// Its bootstrap interval spans 0; suggested at 0 points (remove it).
    Dropped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::InsufficientData => "insufficient_data",
            Status::Dropped => "dropped",
        }
    }
}

/// One configured signal: current and suggested points and the evidence behind them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalReport {
    /// `fit` or `usage`.
    pub group: String,
    pub feature: String,
    pub op: String,
    /// The configured value (a number, string, boolean or list), as in `[scoring]`.
    pub value: Option<serde_json::Value>,
    pub label: Option<String>,
    /// A per-unit signal: its `per` and `max_points`, and the suggested `max_points`.
    pub per: Option<f64>,
    pub max_points: Option<i32>,
    pub suggested_max_points: Option<i32>,
    pub fire_on_null: bool,
    pub current_points: i32,
    pub suggested_points: i32,
    /// Odds ratio of firing (of one unit, for a per-unit signal) in the refit on all trials.
    pub odds_ratio: Option<f64>,
    /// 80% bootstrap interval of the suggested points.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Trials (all, train + holdout) the signal fired for, and how many of them converted.
    pub fired_trials: usize,
    pub fired_conversions: usize,
    /// The signal alone as a score on the holdout: AUC, and conversion-rate lift when fired.
    pub holdout_auc: Option<f64>,
    pub holdout_lift: Option<f64>,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierTables {
    pub current: TierTable,
    pub suggested: TierTable,
}

/// A PQL threshold from elsewhere in the config and where it moves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyedThreshold {
    /// Its config key, e.g. `routing.hot_pql_score`.
    pub key: String,
    #[serde(flatten)]
    pub threshold: Threshold,
}

/// One threshold on the PQL score, current and suggested, with the holdout trials each flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    pub current: u8,
    pub suggested: u8,
    /// The holdout trials at or above `current` under the current scores.
    pub current_flagged: Flagged,
    /// The holdout trials at or above `suggested` under the suggested scores.
    pub suggested_flagged: Flagged,
}

/// Holdout trials at or above a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flagged {
    pub trials: usize,
    /// Share of the holdout trials.
    pub share: f64,
    /// How many of them converted (None when none are flagged).
    pub rate: Option<f64>,
}

/// Holdout trials by tier, under one model and its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierTable {
    pub yellow: u8,
    pub green: u8,
    /// Green, Yellow, Red, in that order.
    pub rows: Vec<TierRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierRow {
    /// `green`, `yellow` or `red`.
    pub tier: String,
    pub trials: usize,
    /// Share of the holdout trials in this tier.
    pub share: f64,
    pub conversions: usize,
    /// Conversion rate in the tier (None for an empty tier).
    pub rate: Option<f64>,
    /// Rate over the holdout base rate.
    pub lift: Option<f64>,
    /// Share of all holdout conversions that fell in this tier.
    pub conversion_share: f64,
}

/// One tenth of the holdout by score (decile 1 holds the highest scores). Ties are kept
/// together by sorting on (score, account), so deciles differ in size by at most one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decile {
    pub decile: u8,
    pub min_score: u8,
    pub max_score: u8,
    pub trials: usize,
    pub conversions: usize,
    pub rate: f64,
    pub lift: Option<f64>,
    /// Share of all holdout conversions in deciles 1..=this one.
    pub cumulative_conversion_share: f64,
}

/// Holdout trials with a PQL score in `[low, high]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub low: u8,
    pub high: u8,
    pub trials: usize,
    pub conversions: usize,
    pub actual: Option<f64>,
    pub predicted: Option<f64>,
}

/// Something to look at before adopting the suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// `leakage` or `duplicate`.
    pub kind: String,
    /// The signals concerned, as `group feature op value`.
    pub signals: Vec<String>,
    pub message: String,
}

/// An `account_features` column no signal scores, at its best single threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub feature: String,
    /// `>=` for numbers, `is_true` / `is_false` for booleans.
    pub op: String,
    pub value: Option<f64>,
    /// Share of trials the condition holds for.
    pub coverage: f64,
    pub fired_trials: usize,
    pub fired_conversions: usize,
    pub rate: f64,
    pub lift: f64,
    /// Correlation (phi) of the condition with converting: the ranking key.
    pub phi: f64,
}
