//! Calibration: learns each signal's points and the tier thresholds from past trials, and
//! measures how well the current and the suggested scoring rank them. It owns the training
//! set's rules (which trials count, the label, the time split), the model (an L2-regularised
//! logistic regression over every configured signal, scaled to a scorecard), the evidence
//! reported beside it (holdout AUC, lift, tiers, bootstrap intervals, leakage and duplicate
//! warnings, unscored candidates) and the files it writes. Everything here is pure over
//! [`Example`]s; `commands::calibrate` computes them from the exports.
//!
//! Signals are evaluated by [`pqlsync_rules::score::Signal::evaluate`], the code that scores
//! production runs, and both scores are computed by [`Model::score`], so training and
//! scoring cannot drift apart.
// Functions stay under ~80 lines of code (clippy.toml); tests and plain data may run longer.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

mod evaluate;
pub mod health;
mod scorecard;
pub mod stats;
pub mod types;
mod write;

pub use types::*;
pub use write::{suggested_toml, summary};

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use pqlsync_core::value::Value;
use pqlsync_rules::score::{Model, Operand, Signal, Tiers};
use scorecard::{Column, Group};
use stats::Design;

/// Training trials needed at least, in conversions.
pub const MIN_TRAIN_CONVERSIONS: usize = 50;
/// Holdout trials needed at least, in conversions.
pub const MIN_HOLDOUT_CONVERSIONS: usize = 20;
/// A signal must fire for this many converting trials to be fitted.
pub const MIN_FIRED_CONVERSIONS: usize = 10;
/// Share of trials (the newest) held out.
pub const HOLDOUT_SHARE: f64 = 0.25;
/// Penalties tried; the one with the lowest holdout log-loss is used.
pub const PENALTIES: &[f64] = &[0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0];
/// Bootstrap resamples and the interval's coverage.
pub const BOOTSTRAP_REPS: usize = 200;
pub const INTERVAL: f64 = 0.8;
/// Warn of leakage above these (a single signal that predicts this well usually is the
/// outcome, seen too late), and of duplicates above this phi.
pub const LEAKAGE_AUC: f64 = 0.9;
pub const LEAKAGE_LIFT: f64 = 10.0;
pub const DUPLICATE_PHI: f64 = 0.8;

/// Why a trial is not in the training set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exclusion {
    /// The account paid before the end of trial day K: there is nothing left to predict.
    PayingByDayK,
    /// The label's window has not closed by the as-of day: the label is unknown.
    HorizonOpen,
    /// The account had no row in `account_features` as of day K.
    NoFeaturesAtDayK,
}

impl Exclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Exclusion::PayingByDayK => "paying_by_day_k",
            Exclusion::HorizonOpen => "horizon_open",
            Exclusion::NoFeaturesAtDayK => "no_features_at_day_k",
        }
    }
}

/// The calibration window and label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub as_of: NaiveDate,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Features as of the end of trial day `at_day` (day 1 is the start day).
    pub at_day: u32,
    /// Label: paid within `horizon` days of the start day.
    pub horizon: u32,
}

impl Window {
    /// The scoring day whose features a trial that started on `start_day` is taken at: the
    /// end of trial day K is the end of calendar day `start + K − 1` (features at `--as-of D`
    /// count events before the end of D).
    pub fn feature_day(&self, start_day: NaiveDate) -> NaiveDate {
        start_day + TimeDelta::days(i64::from(self.at_day) - 1)
    }

    /// A trial's label, or why it is left out. `paid_at` is when the account paid (the
    /// `trial_paid` view); it converted when that is at or after `trial_start`, "within H
    /// days" as the cohort report counts it: at most H calendar days after the start day.
    pub fn label(
        &self,
        trial_start: DateTime<Utc>,
        paid_at: Option<DateTime<Utc>>,
    ) -> Result<bool, Exclusion> {
        let start_day = trial_start.date_naive();
        let day_k_ends = (self.feature_day(start_day) + TimeDelta::days(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        if paid_at.is_some_and(|p| p < day_k_ends) {
            return Err(Exclusion::PayingByDayK);
        }
        if start_day + TimeDelta::days(i64::from(self.horizon)) > self.as_of {
            return Err(Exclusion::HorizonOpen);
        }
        Ok(paid_at.is_some_and(|p| {
            p >= trial_start && (p.date_naive() - start_day).num_days() <= i64::from(self.horizon)
        }))
    }
}

/// One trial of the training set: its features as of trial day K and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub account_id: String,
    pub start_day: NaiveDate,
    pub converted: bool,
    pub features: HashMap<String, Value>,
}

impl Example {
    fn get(&self, column: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.features.get(column).unwrap_or(&NULL)
    }
}

/// Errors that stop a calibration; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error(
        "too few conversions to calibrate: {train_trials} training trials with {train_conversions} \
         conversions (need {MIN_TRAIN_CONVERSIONS}) and {holdout_trials} holdout trials with \
         {holdout_conversions} conversions (need {MIN_HOLDOUT_CONVERSIONS}), from trials started \
         {from} to {to}. Widen the window (--from earlier; the exports must reach back that far), \
         or shorten --horizon so more recent trials have a known outcome"
    )]
    TooFew {
        train_trials: usize,
        train_conversions: usize,
        holdout_trials: usize,
        holdout_conversions: usize,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error(
        "no configured signal can be fitted: each fired for fewer than {MIN_FIRED_CONVERSIONS} \
         converting trials, or none raises the odds of converting. Check the [scoring] signals \
         against account_features, or widen --from"
    )]
    NothingToFit,
    #[error("the logistic regression failed at every penalty tried: {0}")]
    Fit(stats::FitError),
}

/// One configured signal with where it sits in `[scoring]`.
struct Configured<'a> {
    group: Group,
    signal: &'a Signal,
}

impl Configured<'_> {
    /// The signal's value for one trial: 1 when it fires (its count of units for a per-unit
    /// signal), else 0, as the production scorer evaluates it.
    fn units(&self, example: &Example) -> f64 {
        let s = self.signal;
        match s.evaluate(example.get(&s.condition.feature)) {
            Some(fired) if s.per.is_some() => f64::from(fired.points) / f64::from(s.points),
            Some(_) => 1.0,
            None => 0.0,
        }
    }

    fn describe(&self) -> String {
        let c = &self.signal.condition;
        let value = operand_json(&c.operand)
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        format!(
            "{} {} {}{value}",
            self.group.as_str(),
            c.feature,
            c.op.name()
        )
    }
}

/// A condition's operand as the config writes it.
pub fn operand_json(operand: &Operand) -> Option<serde_json::Value> {
    fn number(x: f64) -> serde_json::Value {
        if x.fract() == 0.0 && x.abs() < 9e15 {
            serde_json::Value::from(x as i64)
        } else {
            serde_json::Value::from(x)
        }
    }
    fn scalar(o: &Operand) -> serde_json::Value {
        match o {
            Operand::Number(x) => number(*x),
            Operand::Text(t) => serde_json::Value::from(t.clone()),
            Operand::Bool(b) => serde_json::Value::from(*b),
            Operand::Range(lo, hi) => serde_json::Value::from(vec![number(*lo), number(*hi)]),
            Operand::List(items) => {
                serde_json::Value::from(items.iter().map(scalar).collect::<Vec<_>>())
            }
            Operand::None => serde_json::Value::Null,
        }
    }
    (!matches!(operand, Operand::None)).then(|| scalar(operand))
}

/// Everything `calibrate` needs besides the examples.
pub struct Inputs<'a> {
    pub window: Window,
    pub model: &'a Model,
    /// Numeric and boolean `account_features` columns, for candidates.
    pub columns: &'a [String],
    /// Trials left out, by reason (the caller counts those it never turns into examples).
    pub excluded: BTreeMap<String, usize>,
    pub feature_seconds: f64,
    /// The config's other thresholds on the PQL score, by key: `routing.hot_pql_score` and
    /// each `hubspot.lifecycle_thresholds.<stage>`. Calibrate moves them with the scorecard, so
    /// `calibration.toml` can be adopted whole.
    pub thresholds: Vec<(String, u8)>,
}

/// Scores of `examples` under `model`.
fn scores(model: &Model, examples: &[&Example]) -> Vec<u8> {
    examples
        .iter()
        .map(|e| model.score(|c| e.get(c)).pql)
        .collect()
}

/// Fit, evaluate and suggest. `examples` may come in any order.
pub fn calibrate(
    inputs: Inputs<'_>,
    mut examples: Vec<Example>,
) -> Result<Calibration, CalibrateError> {
    let started = std::time::Instant::now();
    let Inputs {
        window,
        model,
        columns,
        excluded,
        feature_seconds,
        thresholds,
    } = inputs;
    // Oldest first, ties by account: the holdout is the newest trials, the same on every run.
    examples.sort_by(|a, b| (a.start_day, &a.account_id).cmp(&(b.start_day, &b.account_id)));
    let trials = Trials::split(&examples, window)?;
    let evaluated = Evaluated::new(model, &trials)?;
    let penalised = choose_penalty(&evaluated, &trials)?;
    let card = Scorecard::new(model, &evaluated);
    let on_holdout = evaluate_holdout(&card, &penalised, &trials)?;
    let suggestion = suggest(&card, &trials, penalised.penalty, on_holdout.tiers)?;
    let signals = signal_reports(&evaluated, &trials, &suggestion);
    let warnings = warnings(&evaluated, &signals);
    let candidates = unscored_candidates(model, columns, &trials);
    let tables = holdout_tables(model, &on_holdout, &trials, thresholds);
    Ok(Calibration {
        as_of: window.as_of,
        from: window.from,
        to: window.to,
        at_day: window.at_day,
        horizon: window.horizon,
        trials: trials.all.len(),
        conversions: conversions(&trials.y_all),
        excluded,
        training: trials.training(),
        holdout: on_holdout.summary(&trials),
        penalty: penalised.penalty,
        penalties: penalised.penalties,
        scale: suggestion.scale(),
        signals,
        tiers: tables.tiers,
        thresholds: tables.thresholds,
        deciles: tables.deciles,
        gains: tables.gains,
        bands: tables.bands,
        warnings,
        candidates,
        feature_seconds,
        seconds: feature_seconds + started.elapsed().as_secs_f64(),
    })
}

/// The trials, oldest first, split into the older training trials and the newest (holdout).
struct Trials<'a> {
    all: Vec<&'a Example>,
    train: Vec<&'a Example>,
    holdout: Vec<&'a Example>,
    y_all: Vec<bool>,
    y_train: Vec<bool>,
    y_holdout: Vec<bool>,
}

impl<'a> Trials<'a> {
    /// Holds out the newest [`HOLDOUT_SHARE`] of `examples` (sorted oldest first). Too few
    /// conversions on either side is an error naming both counts.
    fn split(examples: &'a [Example], window: Window) -> Result<Self, CalibrateError> {
        let n = examples.len();
        let n_train = ((n as f64) * (1.0 - HOLDOUT_SHARE)).round() as usize;
        let (train, holdout) = examples.split_at(n_train.min(n));
        let all: Vec<&Example> = examples.iter().collect();
        let train: Vec<&Example> = train.iter().collect();
        let holdout: Vec<&Example> = holdout.iter().collect();
        let (y_train, y_holdout, y_all) = (labels(&train), labels(&holdout), labels(&all));
        if conversions(&y_train) < MIN_TRAIN_CONVERSIONS
            || conversions(&y_holdout) < MIN_HOLDOUT_CONVERSIONS
        {
            return Err(CalibrateError::TooFew {
                train_trials: train.len(),
                train_conversions: conversions(&y_train),
                holdout_trials: holdout.len(),
                holdout_conversions: conversions(&y_holdout),
                from: window.from,
                to: window.to,
            });
        }
        Ok(Trials {
            all,
            train,
            holdout,
            y_all,
            y_train,
            y_holdout,
        })
    }

    fn training(&self) -> Split {
        let set = &self.train;
        Split {
            trials: set.len(),
            conversions: set.iter().filter(|e| e.converted).count(),
            first_start: set.first().map(|e| e.start_day),
            last_start: set.last().map(|e| e.start_day),
        }
    }
}

fn labels(set: &[&Example]) -> Vec<bool> {
    set.iter().map(|e| e.converted).collect()
}

fn conversions(labels: &[bool]) -> usize {
    labels.iter().filter(|c| **c).count()
}

/// Every configured signal evaluated on every trial, and which of them can be fitted.
struct Evaluated<'a> {
    /// Fit signals, then usage signals, in config order.
    configured: Vec<Configured<'a>>,
    /// Per signal, its units for every trial (all trials, oldest first).
    units: Vec<Vec<f64>>,
    /// Per signal, whether it fired for each trial.
    fired: Vec<Vec<bool>>,
    /// Per signal, the trials it fired for and how many of them converted.
    fired_counts: Vec<(usize, usize)>,
    /// Indices of the signals that fired for enough converting trials to fit: the design's
    /// columns, in this order.
    fitted: Vec<usize>,
}

impl<'a> Evaluated<'a> {
    fn new(model: &'a Model, trials: &Trials) -> Result<Self, CalibrateError> {
        let configured: Vec<Configured> = model
            .fit
            .iter()
            .map(|signal| Configured {
                group: Group::Fit,
                signal,
            })
            .chain(model.usage.iter().map(|signal| Configured {
                group: Group::Usage,
                signal,
            }))
            .collect();
        let units: Vec<Vec<f64>> = configured
            .iter()
            .map(|c| trials.all.iter().map(|e| c.units(e)).collect())
            .collect();
        let fired: Vec<Vec<bool>> = units
            .iter()
            .map(|u| u.iter().map(|u| *u > 0.0).collect())
            .collect();
        let fired_counts: Vec<(usize, usize)> = fired
            .iter()
            .map(|f| {
                (
                    f.iter().filter(|x| **x).count(),
                    f.iter()
                        .zip(&trials.y_all)
                        .filter(|(x, y)| **x && **y)
                        .count(),
                )
            })
            .collect();
        let fitted: Vec<usize> = (0..configured.len())
            .filter(|j| fired_counts[*j].1 >= MIN_FIRED_CONVERSIONS)
            .collect();
        if fitted.is_empty() {
            return Err(CalibrateError::NothingToFit);
        }
        Ok(Evaluated {
            configured,
            units,
            fired,
            fired_counts,
            fitted,
        })
    }

    /// The row-major design of signals `columns` over trials `rows` (of all, oldest first).
    fn design(&self, columns: &[usize], rows: std::ops::Range<usize>) -> Vec<f64> {
        let mut x = Vec::with_capacity(columns.len() * rows.len());
        for i in rows {
            x.extend(columns.iter().map(|j| self.units[*j][i]));
        }
        x
    }

    /// Signal `j`'s unit bound for the scaling: 1 for a plain signal, the cap (else the most
    /// seen) for a per-unit one.
    fn bound(&self, j: usize) -> f64 {
        let s = self.configured[j].signal;
        match (s.per, s.max_points) {
            (None, _) => 1.0,
            (Some(_), Some(max)) => f64::from(max.abs()) / f64::from(s.points.abs()),
            (Some(_), None) => self.units[j].iter().copied().fold(0.0, f64::max).max(1.0),
        }
    }
}

/// The L2 penalty chosen on the holdout, every one tried, and the training fit at the chosen one.
struct Penalised {
    penalty: f64,
    /// Each penalty tried, with its holdout log-loss.
    penalties: Vec<PenaltyTrial>,
    train_fit: stats::Fit,
}

/// The penalty: the lowest holdout log-loss of a fit on the training trials. An error only
/// when the fit fails at every penalty.
fn choose_penalty(evaluated: &Evaluated, trials: &Trials) -> Result<Penalised, CalibrateError> {
    let (fitted, p) = (&evaluated.fitted, evaluated.fitted.len());
    let x_train = evaluated.design(fitted, 0..trials.train.len());
    let x_holdout = evaluated.design(fitted, trials.train.len()..trials.all.len());
    let mut penalties = Vec::new();
    let mut best: Option<(f64, f64, stats::Fit)> = None;
    let mut last_error = None;
    for &penalty in PENALTIES {
        match stats::logistic(&Design { x: &x_train, p }, &trials.y_train, penalty) {
            Ok(fit) => {
                let loss = stats::log_loss(&fit, &Design { x: &x_holdout, p }, &trials.y_holdout);
                penalties.push(PenaltyTrial {
                    penalty,
                    holdout_log_loss: loss,
                });
                if best.as_ref().is_none_or(|(l, _, _)| loss < *l) {
                    best = Some((loss, penalty, fit));
                }
            }
            Err(e) => last_error = Some(e),
        }
    }
    let Some((_, penalty, train_fit)) = best else {
        return Err(CalibrateError::Fit(
            last_error.expect("a failed fit left its error"),
        ));
    };
    Ok(Penalised {
        penalty,
        penalties,
        train_fit,
    })
}

/// Turns coefficients of the fitted signals into scorecard models.
struct Scorecard<'a> {
    model: &'a Model,
    evaluated: &'a Evaluated<'a>,
    /// Positive points, fit then usage, of the signals that keep their current points: they
    /// use part of their group's 100.
    kept: [f64; 2],
}

/// A scorecard model built from coefficients, every configured signal's points, their scaling.
struct Card {
    model: Model,
    points: Vec<i32>,
    scaled: scorecard::Scaled,
}

impl<'a> Scorecard<'a> {
    fn new(model: &'a Model, evaluated: &'a Evaluated<'a>) -> Self {
        let mut kept = [0.0; 2];
        for (j, c) in evaluated.configured.iter().enumerate() {
            if !evaluated.fitted.contains(&j) {
                let points = f64::from(c.signal.points) * evaluated.bound(j);
                kept[usize::from(c.group == Group::Usage)] += points.max(0.0);
            }
        }
        Scorecard {
            model,
            evaluated,
            kept,
        }
    }

    /// The scorecard of `coef` (one per fitted signal) with `tiers`: fitted signals get scaled
    /// points, the others keep theirs. None when no group has a positive coefficient to scale.
    fn build(&self, coef: &[f64], tiers: Tiers) -> Option<Card> {
        let Evaluated {
            configured, fitted, ..
        } = self.evaluated;
        let columns: Vec<Column> = fitted
            .iter()
            .zip(coef)
            .map(|(j, beta)| Column {
                group: configured[*j].group,
                beta: *beta,
                units: self.evaluated.bound(*j),
            })
            .collect();
        let scaled = scorecard::scale(&columns, self.kept)?;
        let mut points: Vec<i32> = configured.iter().map(|c| c.signal.points).collect();
        for (k, j) in fitted.iter().enumerate() {
            points[*j] = scaled.points(configured[*j].group, coef[k]).round() as i32;
        }
        let mut m = self.model.clone();
        m.fit_weight = scaled.fit_weight;
        m.tiers = tiers;
        let signals: Vec<Signal> = configured
            .iter()
            .zip(&points)
            .filter(|(_, p)| **p != 0)
            .map(|(c, p)| suggested_signal(c.signal, *p))
            .collect();
        let n_fit = configured
            .iter()
            .zip(&points)
            .filter(|(c, p)| c.group == Group::Fit && **p != 0)
            .count();
        m.fit = signals[..n_fit].to_vec();
        m.usage = signals[n_fit..].to_vec();
        Some(Card {
            model: m,
            points,
            scaled,
        })
    }
}

/// The holdout scored by the current config and by the training fit, with tiers and AUCs.
struct OnHoldout {
    current: Vec<u8>,
    suggested: Vec<u8>,
    /// The scorecard of the training fit, whose scores `suggested` are.
    train_model: Model,
    /// The tiers suggested from `suggested` (the current ones when none can be).
    tiers: Tiers,
    auc_current: Option<f64>,
    auc_suggested: Option<f64>,
}

/// Holdout: the current config against the points fitted on the training trials only.
fn evaluate_holdout(
    card: &Scorecard,
    penalised: &Penalised,
    trials: &Trials,
) -> Result<OnHoldout, CalibrateError> {
    let current = scores(card.model, &trials.holdout);
    // The score does not depend on the tiers, and these are never read.
    let placeholder = Tiers {
        yellow: 0,
        green: 100,
    };
    let train_model = card
        .build(&penalised.train_fit.coef, placeholder)
        .ok_or(CalibrateError::NothingToFit)?
        .model;
    let suggested = scores(&train_model, &trials.holdout);
    let tiers = evaluate::suggest_tiers(&suggested, &trials.y_holdout).unwrap_or(card.model.tiers);
    Ok(OnHoldout {
        auc_current: stats::auc(&to_f64(&current), &trials.y_holdout),
        auc_suggested: stats::auc(&to_f64(&suggested), &trials.y_holdout),
        current,
        suggested,
        train_model,
        tiers,
    })
}

fn to_f64(scores: &[u8]) -> Vec<f64> {
    scores.iter().map(|x| f64::from(*x)).collect()
}

impl OnHoldout {
    fn summary(&self, trials: &Trials) -> Holdout {
        let (holdout, y) = (&trials.holdout, &trials.y_holdout);
        Holdout {
            trials: holdout.len(),
            conversions: conversions(y),
            first_start: holdout.first().map(|e| e.start_day),
            last_start: holdout.last().map(|e| e.start_day),
            base_rate: conversions(y) as f64 / holdout.len() as f64,
            auc_current: self.auc_current,
            auc_suggested: self.auc_suggested,
        }
    }
}

/// The refit on every trial, its bootstrap, the signals dropped, and the final scorecard.
struct Suggestion {
    all_fit: stats::Fit,
    boot: stats::Bootstrap,
    /// Per fitted signal, whether its bootstrap interval spans 0 (it is suggested at 0 points).
    dropped: Vec<bool>,
    /// Per configured signal, its points in the final scorecard.
    points: Vec<i32>,
    scaled: scorecard::Scaled,
}

/// Refit on every trial, drop what the bootstrap cannot tell from 0, refit.
fn suggest(
    card: &Scorecard,
    trials: &Trials,
    penalty: f64,
    tiers: Tiers,
) -> Result<Suggestion, CalibrateError> {
    let evaluated = card.evaluated;
    let x_all = evaluated.design(&evaluated.fitted, 0..trials.all.len());
    let all_design = Design {
        x: &x_all,
        p: evaluated.fitted.len(),
    };
    let all_fit =
        stats::logistic(&all_design, &trials.y_all, penalty).map_err(CalibrateError::Fit)?;
    let boot = stats::bootstrap(
        &all_design,
        &trials.y_all,
        penalty,
        BOOTSTRAP_REPS,
        INTERVAL,
        0x5eed,
    );
    let dropped: Vec<bool> = boot
        .intervals
        .iter()
        .map(|(lo, hi)| boot.fits > 0 && *lo <= 0.0 && *hi >= 0.0)
        .collect();
    let coef = final_coefficients(evaluated, trials, penalty, &all_fit, &dropped)?;
    let Card { points, scaled, .. } = card
        .build(&coef, tiers)
        .ok_or(CalibrateError::NothingToFit)?;
    Ok(Suggestion {
        all_fit,
        boot,
        dropped,
        points,
        scaled,
    })
}

/// One coefficient per fitted signal: the refit's when nothing is dropped, else those of a
/// refit on the kept signals alone, with 0 for the dropped ones.
fn final_coefficients(
    evaluated: &Evaluated,
    trials: &Trials,
    penalty: f64,
    all_fit: &stats::Fit,
    dropped: &[bool],
) -> Result<Vec<f64>, CalibrateError> {
    let p = evaluated.fitted.len();
    let keep: Vec<usize> = (0..p).filter(|k| !dropped[*k]).collect();
    if keep.len() == p {
        return Ok(all_fit.coef.clone());
    }
    if keep.is_empty() {
        return Ok(vec![0.0; p]);
    }
    let columns: Vec<usize> = keep.iter().map(|k| evaluated.fitted[*k]).collect();
    let x = evaluated.design(&columns, 0..trials.all.len());
    let refit = stats::logistic(
        &Design {
            x: &x,
            p: keep.len(),
        },
        &trials.y_all,
        penalty,
    )
    .map_err(CalibrateError::Fit)?;
    let mut coef = vec![0.0; p];
    for (i, k) in keep.iter().enumerate() {
        coef[*k] = refit.coef[i];
    }
    Ok(coef)
}

impl Suggestion {
    fn scale(&self) -> Scale {
        let log_odds_per_point = self.scaled.log_odds_per_point;
        Scale {
            fit_weight: self.scaled.fit_weight,
            usage_weight: self.scaled.usage_weight,
            log_odds_per_point,
            odds_per_point: log_odds_per_point.exp(),
            points_to_double_odds: std::f64::consts::LN_2 / log_odds_per_point,
            intercept: self.all_fit.intercept,
        }
    }
}

/// Every configured signal's report, fit signals then usage signals.
fn signal_reports(
    evaluated: &Evaluated,
    trials: &Trials,
    suggestion: &Suggestion,
) -> Vec<SignalReport> {
    (0..evaluated.configured.len())
        .map(|j| signal_report(evaluated, j, trials, suggestion))
        .collect()
}

/// Signal `j`'s current and suggested points, and the evidence behind them.
fn signal_report(
    evaluated: &Evaluated,
    j: usize,
    trials: &Trials,
    suggestion: &Suggestion,
) -> SignalReport {
    let Suggestion {
        all_fit,
        boot,
        dropped,
        points,
        scaled,
    } = suggestion;
    let c = &evaluated.configured[j];
    let s = c.signal;
    let k = evaluated.fitted.iter().position(|f| *f == j);
    let status = match k {
        None => Status::InsufficientData,
        Some(k) if dropped[k] => Status::Dropped,
        Some(_) => Status::Ok,
    };
    let interval = k.filter(|_| boot.fits > 0).map(|k| {
        let (lo, hi) = boot.intervals[k];
        (scaled.points(c.group, lo), scaled.points(c.group, hi))
    });
    let y_holdout = &trials.y_holdout;
    let holdout_units: Vec<f64> = evaluated.units[j][trials.train.len()..].to_vec();
    let holdout_fired: Vec<bool> = holdout_units.iter().map(|u| *u > 0.0).collect();
    let base = conversions(y_holdout) as f64 / trials.holdout.len() as f64;
    let fired_n = holdout_fired.iter().filter(|f| **f).count();
    let fired_k = holdout_fired
        .iter()
        .zip(y_holdout)
        .filter(|(f, y)| **f && **y)
        .count();
    let suggested_points = match status {
        Status::InsufficientData => s.points,
        Status::Dropped => 0,
        Status::Ok => points[j],
    };
    SignalReport {
        group: c.group.as_str().to_string(),
        feature: s.condition.feature.clone(),
        op: s.condition.op.name().to_string(),
        value: operand_json(&s.condition.operand),
        label: s.label.clone(),
        per: s.per,
        max_points: s.max_points,
        suggested_max_points: suggested_max_points(s, suggested_points),
        fire_on_null: s.fire_on_null,
        current_points: s.points,
        suggested_points,
        odds_ratio: k.map(|k| all_fit.coef[k].exp()),
        ci_low: interval.map(|i| i.0),
        ci_high: interval.map(|i| i.1),
        fired_trials: evaluated.fired_counts[j].0,
        fired_conversions: evaluated.fired_counts[j].1,
        holdout_auc: stats::auc(&holdout_units, y_holdout),
        holdout_lift: (fired_n > 0 && base > 0.0).then(|| fired_k as f64 / fired_n as f64 / base),
        status,
    }
}

/// Likely leakage, signal by signal, then nearly duplicate pairs.
fn warnings(evaluated: &Evaluated, reports: &[SignalReport]) -> Vec<Warning> {
    let mut warnings = leakage_warnings(&evaluated.configured, reports);
    warnings.extend(duplicate_warnings(evaluated));
    warnings
}

fn leakage_warnings(configured: &[Configured], reports: &[SignalReport]) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for (c, r) in configured.iter().zip(reports) {
        let auc = r.holdout_auc.unwrap_or(0.5);
        let lift = r.holdout_lift.unwrap_or(1.0);
        if auc > LEAKAGE_AUC || lift > LEAKAGE_LIFT {
            warnings.push(Warning {
                kind: "leakage".into(),
                signals: vec![c.describe()],
                message: format!(
                    "{} alone ranks the holdout with AUC {auc:.2} and lift {lift:.1}: a signal \
                     this strong is usually the outcome itself, recorded at or after \
                     conversion. Check that its feature only counts events before the scoring \
                     day, and that it is not a billing or sales field",
                    c.describe()
                ),
            });
        }
    }
    warnings
}

fn duplicate_warnings(evaluated: &Evaluated) -> Vec<Warning> {
    let Evaluated {
        configured, fired, ..
    } = evaluated;
    let mut warnings = Vec::new();
    for a in 0..configured.len() {
        for b in a + 1..configured.len() {
            if let Some(phi) = stats::phi(&fired[a], &fired[b])
                && phi.abs() > DUPLICATE_PHI
            {
                warnings.push(Warning {
                    kind: "duplicate".into(),
                    signals: vec![configured[a].describe(), configured[b].describe()],
                    message: format!(
                        "{} and {} fire for {} trials (phi {phi:.2}): their points split one \
                         effect between them and are unstable; keep one",
                        configured[a].describe(),
                        configured[b].describe(),
                        // Opposite signals (`is_true` and `is_false` of one column) duplicate
                        // each other through the intercept just as twins do.
                        if phi > 0.0 {
                            "nearly the same"
                        } else {
                            "nearly complementary"
                        }
                    ),
                });
            }
        }
    }
    warnings
}

/// [`candidates`] among the `columns` no signal of `model` scores.
fn unscored_candidates(model: &Model, columns: &[String], trials: &Trials) -> Vec<Candidate> {
    let scored: std::collections::HashSet<&str> = model.features().collect();
    candidates(
        columns.iter().filter(|c| !scored.contains(c.as_str())),
        &trials.all,
        &trials.y_all,
    )
}

/// The holdout's tables under the current config beside the suggestion's.
struct HoldoutTables {
    tiers: TierTables,
    thresholds: Vec<KeyedThreshold>,
    deciles: Compared<Vec<Decile>>,
    gains: Compared<Vec<(f64, f64)>>,
    bands: Compared<Vec<Band>>,
}

fn holdout_tables(
    model: &Model,
    on: &OnHoldout,
    trials: &Trials,
    thresholds: Vec<(String, u8)>,
) -> HoldoutTables {
    let y = &trials.y_holdout;
    let scales = evaluate::Scales {
        current_scores: &on.current,
        suggested_scores: &on.suggested,
        converted: y,
        current_tiers: model.tiers,
        suggested_tiers: on.tiers,
    };
    HoldoutTables {
        tiers: TierTables {
            current: evaluate::tier_table(&on.current, y, model.tiers),
            suggested: evaluate::tier_table(&on.suggested, y, on.tiers),
        },
        thresholds: thresholds
            .into_iter()
            .map(|(key, current)| KeyedThreshold {
                key,
                threshold: evaluate::moved_threshold(&scales, current),
            })
            .collect(),
        deciles: Compared {
            current: evaluate::deciles(&on.current, y),
            suggested: evaluate::deciles(&on.suggested, y),
        },
        gains: Compared {
            current: evaluate::gains(&on.current, y),
            suggested: evaluate::gains(&on.suggested, y),
        },
        bands: Compared {
            current: bands_of(model, &on.current, trials),
            suggested: bands_of(&on.train_model, &on.suggested, trials),
        },
    }
}

/// Holdout conversion by score band, against the conversion predicted by `model`'s score: a
/// one-variable fit of the label on the score over the training trials (none when it fails).
fn bands_of(model: &Model, holdout_scores: &[u8], trials: &Trials) -> Vec<Band> {
    let x: Vec<f64> = scores(model, &trials.train)
        .iter()
        .map(|s| f64::from(*s) / 100.0)
        .collect();
    let fit = stats::logistic(&Design { x: &x, p: 1 }, &trials.y_train, 0.0).ok();
    let predict = fit
        .as_ref()
        .map(|f| move |s: u8| f.probability(&[f64::from(s) / 100.0]));
    let predict = predict.as_ref().map(|p| p as &dyn Fn(u8) -> f64);
    evaluate::bands(holdout_scores, &trials.y_holdout, predict)
}

/// The signal with new points; a per-unit signal's cap keeps its number of units.
fn suggested_signal(current: &Signal, points: i32) -> Signal {
    Signal {
        points,
        max_points: suggested_max_points(current, points),
        ..current.clone()
    }
}

fn suggested_max_points(current: &Signal, points: i32) -> Option<i32> {
    let max = current.max_points?;
    let units = f64::from(max.abs()) / f64::from(current.points.abs());
    Some(((units * f64::from(points.abs())).round() as i32).max(1))
}

/// The best single threshold of each unscored numeric or boolean column: the condition most
/// correlated (|phi|) with converting that fires for at least [`MIN_FIRED_CONVERSIONS`]
/// converting trials and not for every trial. Booleans try `is_true` and `is_false`; numbers
/// `>=` each decile of their values.
fn candidates<'a>(
    columns: impl Iterator<Item = &'a String>,
    all: &[&Example],
    y: &[bool],
) -> Vec<Candidate> {
    let n = all.len();
    let conversions = y.iter().filter(|c| **c).count();
    let base = conversions as f64 / n.max(1) as f64;
    let mut out = Vec::new();
    for column in columns {
        let values: Vec<&Value> = all.iter().map(|e| e.get(column)).collect();
        let mut tries: Vec<(String, Option<f64>, Vec<bool>)> = Vec::new();
        if values.iter().any(|v| matches!(v, Value::Bool(_))) {
            for (op, want) in [("is_true", true), ("is_false", false)] {
                let f = values.iter().map(|v| v.as_bool() == Some(want)).collect();
                tries.push((op.into(), None, f));
            }
        } else {
            let mut numbers: Vec<f64> = values.iter().filter_map(|v| v.as_f64()).collect();
            numbers.sort_by(f64::total_cmp);
            let mut thresholds: Vec<f64> = (1..10)
                .map(|q| stats::quantile(&numbers, f64::from(q) / 10.0))
                .filter(|t| t.is_finite())
                .collect();
            thresholds.dedup();
            for t in thresholds {
                let f = values
                    .iter()
                    .map(|v| v.as_f64().is_some_and(|x| x >= t))
                    .collect();
                tries.push((">=".into(), Some(t), f));
            }
        }
        let best = tries
            .into_iter()
            .filter_map(|(op, value, fired)| {
                let fired_trials = fired.iter().filter(|f| **f).count();
                let fired_conversions = fired.iter().zip(y).filter(|(f, y)| **f && **y).count();
                if fired_conversions < MIN_FIRED_CONVERSIONS || fired_trials == n {
                    return None;
                }
                let phi = stats::phi(&fired, y)?;
                let rate = fired_conversions as f64 / fired_trials as f64;
                Some(Candidate {
                    feature: column.clone(),
                    op,
                    value,
                    coverage: fired_trials as f64 / n as f64,
                    fired_trials,
                    fired_conversions,
                    rate,
                    lift: if base > 0.0 { rate / base } else { 0.0 },
                    phi,
                })
            })
            .max_by(|a, b| a.phi.abs().total_cmp(&b.phi.abs()));
        out.extend(best);
    }
    out.sort_by(|a, b| b.phi.abs().total_cmp(&a.phi.abs()));
    out
}

#[cfg(test)]
mod tests;
