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
    examples.sort_by(|a, b| (a.start_day, &a.account_id).cmp(&(b.start_day, &b.account_id)));
    let n = examples.len();
    let n_train = ((n as f64) * (1.0 - HOLDOUT_SHARE)).round() as usize;
    let (train, holdout) = examples.split_at(n_train.min(n));
    let train: Vec<&Example> = train.iter().collect();
    let holdout: Vec<&Example> = holdout.iter().collect();
    let all: Vec<&Example> = examples.iter().collect();
    let labels = |set: &[&Example]| set.iter().map(|e| e.converted).collect::<Vec<bool>>();
    let (y_train, y_holdout, y_all) = (labels(&train), labels(&holdout), labels(&all));
    let count = |y: &[bool]| y.iter().filter(|c| **c).count();
    if count(&y_train) < MIN_TRAIN_CONVERSIONS || count(&y_holdout) < MIN_HOLDOUT_CONVERSIONS {
        return Err(CalibrateError::TooFew {
            train_trials: train.len(),
            train_conversions: count(&y_train),
            holdout_trials: holdout.len(),
            holdout_conversions: count(&y_holdout),
            from: window.from,
            to: window.to,
        });
    }

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
    // Units of every signal for every trial (all trials, oldest first).
    let units: Vec<Vec<f64>> = configured
        .iter()
        .map(|c| all.iter().map(|e| c.units(e)).collect())
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
                f.iter().zip(&y_all).filter(|(x, y)| **x && **y).count(),
            )
        })
        .collect();
    let fitted: Vec<usize> = (0..configured.len())
        .filter(|j| fired_counts[*j].1 >= MIN_FIRED_CONVERSIONS)
        .collect();
    if fitted.is_empty() {
        return Err(CalibrateError::NothingToFit);
    }
    let design_of = |columns: &[usize], rows: std::ops::Range<usize>| -> Vec<f64> {
        let mut x = Vec::with_capacity(columns.len() * rows.len());
        for i in rows {
            x.extend(columns.iter().map(|j| units[*j][i]));
        }
        x
    };
    let x_train = design_of(&fitted, 0..train.len());
    let x_holdout = design_of(&fitted, train.len()..n);
    let x_all = design_of(&fitted, 0..n);
    let p = fitted.len();

    // The penalty: the lowest holdout log-loss of a fit on the training trials.
    let mut penalties = Vec::new();
    let mut best: Option<(f64, f64, stats::Fit)> = None;
    let mut last_error = None;
    for &penalty in PENALTIES {
        match stats::logistic(&Design { x: &x_train, p }, &y_train, penalty) {
            Ok(fit) => {
                let loss = stats::log_loss(&fit, &Design { x: &x_holdout, p }, &y_holdout);
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

    // Unit bounds for the scaling: 1 for a plain signal, the cap (else the most seen) for a
    // per-unit one.
    let bound = |j: usize| -> f64 {
        let s = configured[j].signal;
        match (s.per, s.max_points) {
            (None, _) => 1.0,
            (Some(_), Some(max)) => f64::from(max.abs()) / f64::from(s.points.abs()),
            (Some(_), None) => units[j].iter().copied().fold(0.0, f64::max).max(1.0),
        }
    };
    let mut kept = [0.0; 2];
    for (j, c) in configured.iter().enumerate() {
        if !fitted.contains(&j) {
            let points = f64::from(c.signal.points) * bound(j);
            kept[usize::from(c.group == Group::Usage)] += points.max(0.0);
        }
    }
    let scale_of = |coef: &[f64]| {
        let cols: Vec<Column> = fitted
            .iter()
            .zip(coef)
            .map(|(j, beta)| Column {
                group: configured[*j].group,
                beta: *beta,
                units: bound(*j),
            })
            .collect();
        scorecard::scale(&cols, kept)
    };
    // A scorecard model from coefficients: fitted signals get scaled points, the others keep
    // theirs.
    let build = |coef: &[f64], tiers: Tiers| -> Option<(Model, Vec<i32>, scorecard::Scaled)> {
        let scaled = scale_of(coef)?;
        let mut points: Vec<i32> = configured.iter().map(|c| c.signal.points).collect();
        for (k, j) in fitted.iter().enumerate() {
            points[*j] = scaled.points(configured[*j].group, coef[k]).round() as i32;
        }
        let mut m = model.clone();
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
        Some((m, points, scaled))
    };

    // Holdout: the current config against the points fitted on the training trials only.
    let current_holdout = scores(model, &holdout);
    let placeholder = Tiers {
        yellow: 0,
        green: 100,
    };
    let (train_model, _, _) =
        build(&train_fit.coef, placeholder).ok_or(CalibrateError::NothingToFit)?;
    let suggested_holdout = scores(&train_model, &holdout);
    let tiers = evaluate::suggest_tiers(&suggested_holdout, &y_holdout).unwrap_or(model.tiers);
    let to_f64 = |s: &[u8]| s.iter().map(|x| f64::from(*x)).collect::<Vec<_>>();
    let auc_current = stats::auc(&to_f64(&current_holdout), &y_holdout);
    let auc_suggested = stats::auc(&to_f64(&suggested_holdout), &y_holdout);

    // Predicted conversion by score: a one-variable fit of the label on the score, over the
    // training trials, per model.
    let predictor = |m: &Model| -> Option<stats::Fit> {
        let x: Vec<f64> = scores(m, &train)
            .iter()
            .map(|s| f64::from(*s) / 100.0)
            .collect();
        stats::logistic(&Design { x: &x, p: 1 }, &y_train, 0.0).ok()
    };
    let bands_of = |m: &Model, holdout_scores: &[u8]| {
        let fit = predictor(m);
        let predict = fit
            .as_ref()
            .map(|f| move |s: u8| f.probability(&[f64::from(s) / 100.0]));
        match &predict {
            Some(p) => evaluate::bands(holdout_scores, &y_holdout, Some(p)),
            None => evaluate::bands(holdout_scores, &y_holdout, None),
        }
    };

    // The suggestion: refit on every trial, drop what the bootstrap cannot tell from 0, refit.
    let all_design = Design { x: &x_all, p };
    let all_fit = stats::logistic(&all_design, &y_all, penalty).map_err(CalibrateError::Fit)?;
    let boot = stats::bootstrap(
        &all_design,
        &y_all,
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
    let keep: Vec<usize> = (0..p).filter(|k| !dropped[*k]).collect();
    let final_coef: Vec<f64> = if keep.len() == p {
        all_fit.coef.clone()
    } else if keep.is_empty() {
        vec![0.0; p]
    } else {
        let x: Vec<f64> = design_of(&keep.iter().map(|k| fitted[*k]).collect::<Vec<_>>(), 0..n);
        let refit = stats::logistic(
            &Design {
                x: &x,
                p: keep.len(),
            },
            &y_all,
            penalty,
        )
        .map_err(CalibrateError::Fit)?;
        let mut coef = vec![0.0; p];
        for (i, k) in keep.iter().enumerate() {
            coef[*k] = refit.coef[i];
        }
        coef
    };
    let (_, points, scaled) = build(&final_coef, tiers).ok_or(CalibrateError::NothingToFit)?;

    let signals = configured
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let s = c.signal;
            let k = fitted.iter().position(|f| *f == j);
            let status = match k {
                None => Status::InsufficientData,
                Some(k) if dropped[k] => Status::Dropped,
                Some(_) => Status::Ok,
            };
            let interval = k.filter(|_| boot.fits > 0).map(|k| {
                let (lo, hi) = boot.intervals[k];
                (scaled.points(c.group, lo), scaled.points(c.group, hi))
            });
            let holdout_units: Vec<f64> = units[j][train.len()..].to_vec();
            let holdout_fired: Vec<bool> = holdout_units.iter().map(|u| *u > 0.0).collect();
            let base = count(&y_holdout) as f64 / holdout.len() as f64;
            let fired_n = holdout_fired.iter().filter(|f| **f).count();
            let fired_k = holdout_fired
                .iter()
                .zip(&y_holdout)
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
                fired_trials: fired_counts[j].0,
                fired_conversions: fired_counts[j].1,
                holdout_auc: stats::auc(&holdout_units, &y_holdout),
                holdout_lift: (fired_n > 0 && base > 0.0)
                    .then(|| fired_k as f64 / fired_n as f64 / base),
                status,
            }
        })
        .collect::<Vec<_>>();

    let mut warnings = Vec::new();
    for (c, r) in configured.iter().zip(&signals) {
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

    let scored: std::collections::HashSet<&str> = model.features().collect();
    let candidates = candidates(
        columns.iter().filter(|c| !scored.contains(c.as_str())),
        &all,
        &y_all,
    );

    let split = |set: &[&Example]| Split {
        trials: set.len(),
        conversions: set.iter().filter(|e| e.converted).count(),
        first_start: set.first().map(|e| e.start_day),
        last_start: set.last().map(|e| e.start_day),
    };
    let log_odds_per_point = scaled.log_odds_per_point;
    Ok(Calibration {
        as_of: window.as_of,
        from: window.from,
        to: window.to,
        at_day: window.at_day,
        horizon: window.horizon,
        trials: n,
        conversions: count(&y_all),
        excluded,
        training: split(&train),
        holdout: Holdout {
            trials: holdout.len(),
            conversions: count(&y_holdout),
            first_start: holdout.first().map(|e| e.start_day),
            last_start: holdout.last().map(|e| e.start_day),
            base_rate: count(&y_holdout) as f64 / holdout.len() as f64,
            auc_current,
            auc_suggested,
        },
        penalty,
        penalties,
        scale: Scale {
            fit_weight: scaled.fit_weight,
            usage_weight: scaled.usage_weight,
            log_odds_per_point,
            odds_per_point: log_odds_per_point.exp(),
            points_to_double_odds: std::f64::consts::LN_2 / log_odds_per_point,
            intercept: all_fit.intercept,
        },
        signals,
        tiers: TierTables {
            current: evaluate::tier_table(&current_holdout, &y_holdout, model.tiers),
            suggested: evaluate::tier_table(&suggested_holdout, &y_holdout, tiers),
        },
        thresholds: {
            let scales = evaluate::Scales {
                current_scores: &current_holdout,
                suggested_scores: &suggested_holdout,
                converted: &y_holdout,
                current_tiers: model.tiers,
                suggested_tiers: tiers,
            };
            thresholds
                .into_iter()
                .map(|(key, current)| KeyedThreshold {
                    key,
                    threshold: evaluate::moved_threshold(&scales, current),
                })
                .collect()
        },
        deciles: Compared {
            current: evaluate::deciles(&current_holdout, &y_holdout),
            suggested: evaluate::deciles(&suggested_holdout, &y_holdout),
        },
        gains: Compared {
            current: evaluate::gains(&current_holdout, &y_holdout),
            suggested: evaluate::gains(&suggested_holdout, &y_holdout),
        },
        bands: Compared {
            current: bands_of(model, &current_holdout),
            suggested: bands_of(&train_model, &suggested_holdout),
        },
        warnings,
        candidates,
        feature_seconds,
        seconds: feature_seconds + started.elapsed().as_secs_f64(),
    })
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
