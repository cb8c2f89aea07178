//! Scoring: turns one account's feature row into a fit score, a usage score, the combined
//! 0–100 PQL score, a Red/Yellow/Green tier, and the list of signals that explain the score.
//!
//! Everything here is a pure function over plain data (a [`Model`] and a feature lookup), so
//! every rule is table-tested. Which signals exist, their thresholds and points are data from
//! `[scoring]` in the config: a signal names an `account_features` column, so a new SQL feature
//! can be scored without touching Rust. Routing on top of the score lives in `route`.

mod condition;
pub mod config;
pub mod people;

use std::fmt;

pub use condition::{Condition, Op, Operand};

use pqlsync_core::value::Value;

/// A scoring signal: when its condition holds, it adds (or, if negative, subtracts) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub condition: Condition,
    /// Points when the condition holds; per `per` units for a per-unit signal.
    pub points: i32,
    /// Per-unit signal: award `points` for every `per` units of the feature value.
    pub per: Option<f64>,
    /// Cap, in absolute points, on a per-unit signal's contribution.
    pub max_points: Option<i32>,
    /// A null feature value counts as the condition holding.
    pub fire_on_null: bool,
    /// Shown instead of the feature name in explanations.
    pub label: Option<String>,
}

/// A signal that fired for one account: its points and a one-line explanation such as
/// `+25 teammates_invited_14d=3 (≥2)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub points: i32,
    pub text: String,
}

impl Signal {
    /// Whether this signal fires for `value`, and for how many points. Pure.
    pub fn evaluate(&self, value: &Value) -> Option<Fired> {
        let name = self.label.as_deref().unwrap_or(&self.condition.feature);
        if value.is_null() && !matches!(self.condition.op, Op::IsNull | Op::IsNotNull) {
            if !self.fire_on_null || self.per.is_some() {
                return None;
            }
            let text = format!(
                "{} {name}=null ({} or null)",
                signed(self.points),
                self.condition.describe()
            );
            return Some(Fired {
                points: self.points,
                text,
            });
        }
        if !self.condition.holds(value) {
            return None;
        }
        let points = match self.per {
            None => self.points,
            Some(per) => {
                let units = (value.as_f64()? / per).floor();
                let raw = units * f64::from(self.points);
                let cap = f64::from(self.max_points.unwrap_or(i32::MAX).abs());
                raw.clamp(-cap, cap) as i32
            }
        };
        if points == 0 {
            return None;
        }
        let rule = match (self.per, self.max_points) {
            (None, _) => self.condition.describe(),
            (Some(per), Some(max)) => format!(
                "{}; {} per {}, max {}",
                self.condition.describe(),
                signed(self.points),
                pqlsync_core::fmt::trim_float(per),
                max.abs()
            ),
            (Some(per), None) => format!(
                "{}; {} per {}",
                self.condition.describe(),
                signed(self.points),
                pqlsync_core::fmt::trim_float(per)
            ),
        };
        Some(Fired {
            points,
            text: format!("{} {name}={value} ({rule})", signed(points)),
        })
    }
}

fn signed(points: i32) -> String {
    if points >= 0 {
        format!("+{points}")
    } else {
        points.to_string()
    }
}

/// Activation tier from the PQL score.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Red,
    Yellow,
    Green,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Red => "red",
            Tier::Yellow => "yellow",
            Tier::Green => "green",
        }
    }

    /// The tier `as_str` names, e.g. from the score history.
    pub fn parse(s: &str) -> Option<Tier> {
        [Tier::Red, Tier::Yellow, Tier::Green]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tier thresholds on the PQL score: `yellow <= score < green` is Yellow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    pub yellow: u8,
    pub green: u8,
}

impl Tiers {
    pub fn tier(&self, pql: u8) -> Tier {
        if pql >= self.green {
            Tier::Green
        } else if pql >= self.yellow {
            Tier::Yellow
        } else {
            Tier::Red
        }
    }
}

/// The whole scoring configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub fit: Vec<Signal>,
    pub usage: Vec<Signal>,
    /// Expansion signals, scored for paying customers only.
    pub expansion: Vec<Signal>,
    /// Share of the fit score in the PQL score; `usage_weight = 1 - fit_weight`.
    pub fit_weight: f64,
    pub tiers: Tiers,
}

impl Model {
    pub fn usage_weight(&self) -> f64 {
        1.0 - self.fit_weight
    }

    /// Every feature column the model reads, for schema validation.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.fit
            .iter()
            .chain(&self.usage)
            .chain(&self.expansion)
            .map(|s| s.condition.feature.as_str())
    }

    /// Score one account. `get` returns the account's value for a feature column.
    pub fn score<'a>(&self, get: impl Fn(&str) -> &'a Value) -> Score {
        let (fit, fit_signals) = sum_signals(&self.fit, &get);
        let (usage, usage_signals) = sum_signals(&self.usage, &get);
        let pql = combine(fit, usage, self.fit_weight);
        Score {
            fit,
            usage,
            pql,
            tier: self.tiers.tier(pql),
            fit_signals,
            usage_signals,
            expansion: None,
        }
    }

    /// The highest PQL score any account can get from these signals: an upper bound, since
    /// signals on one feature may exclude each other, so a threshold above it is certainly
    /// unreachable.
    pub fn max_pql(&self) -> u8 {
        combine(max_sum(&self.fit), max_sum(&self.usage), self.fit_weight)
    }

    /// The highest expansion score any customer can get, an upper bound like [`Model::max_pql`].
    pub fn max_expansion(&self) -> u8 {
        max_sum(&self.expansion)
    }

    /// The expansion score of one account: its expansion signals summed and clamped to
    /// 0–100, as fit and usage are. The caller decides who gets one (paying customers).
    pub fn expansion<'a>(&self, get: impl Fn(&str) -> &'a Value) -> Expansion {
        let (score, signals) = sum_signals(&self.expansion, &get);
        Expansion { score, signals }
    }
}

/// A paying customer's expansion score and the signals that explain it.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    pub score: u8,
    pub signals: Vec<Fired>,
}

impl Expansion {
    pub fn signals_text(&self) -> String {
        join(&self.signals)
    }
}

fn join(fired: &[Fired]) -> String {
    fired
        .iter()
        .map(|f| f.text.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn sum_signals<'a>(signals: &[Signal], get: &impl Fn(&str) -> &'a Value) -> (u8, Vec<Fired>) {
    let fired: Vec<Fired> = signals
        .iter()
        .filter_map(|s| s.evaluate(get(&s.condition.feature)))
        .collect();
    let total: i64 = fired.iter().map(|f| i64::from(f.points)).sum();
    (total.clamp(0, 100) as u8, fired)
}

/// The most a list of signals can add up to, clamped like a score: every positive signal
/// firing, a per-unit one at its cap (without a cap it alone can reach 100).
fn max_sum(signals: &[Signal]) -> u8 {
    let total: i64 = signals
        .iter()
        .filter(|s| s.points > 0)
        .map(|s| match (s.per, s.max_points) {
            (None, _) => i64::from(s.points),
            (Some(_), Some(cap)) => i64::from(cap.abs()),
            (Some(_), None) => 100,
        })
        .sum();
    total.clamp(0, 100) as u8
}

/// The PQL score: the weighted mean of fit and usage, rounded half up.
pub fn combine(fit: u8, usage: u8, fit_weight: f64) -> u8 {
    let x = f64::from(fit) * fit_weight + f64::from(usage) * (1.0 - fit_weight);
    (x + 0.5).floor().clamp(0.0, 100.0) as u8
}

/// One account's score and its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub fit: u8,
    pub usage: u8,
    pub pql: u8,
    pub tier: Tier,
    /// Fit signals that fired, in config order.
    pub fit_signals: Vec<Fired>,
    /// Usage signals that fired, in config order.
    pub usage_signals: Vec<Fired>,
    /// Paying customers only.
    pub expansion: Option<Expansion>,
}

impl Score {
    /// Every signal that fired: fit first, then usage.
    pub fn signals(&self) -> impl Iterator<Item = &Fired> {
        self.fit_signals.iter().chain(&self.usage_signals)
    }

    /// The explanation as one line, signals separated by `; `.
    pub fn signals_text(&self) -> String {
        self.signals()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(feature: &str, op: Op, operand: Operand, points: i32) -> Signal {
        Signal {
            condition: Condition {
                feature: feature.into(),
                op,
                operand,
            },
            points,
            per: None,
            max_points: None,
            fire_on_null: false,
            label: None,
        }
    }

    fn lookup<'a>(values: &'a [(&str, Value)], name: &str) -> &'a Value {
        &values.iter().find(|(n, _)| *n == name).expect(name).1
    }

    #[test]
    fn the_highest_reachable_score_counts_every_positive_signal_and_caps() {
        let plain = |points| sig("f", Op::IsTrue, Operand::None, points);
        let per = |points, max_points| Signal {
            per: Some(1.0),
            max_points,
            ..plain(points)
        };
        let cases: [(&str, Vec<Signal>, u8); 6] = [
            ("none", vec![], 0),
            ("positives add", vec![plain(20), plain(15)], 35),
            ("penalties never raise it", vec![plain(20), plain(-30)], 20),
            (
                "a per-unit signal at its cap",
                vec![per(5, Some(25)), plain(10)],
                35,
            ),
            ("a per-unit signal without a cap", vec![per(5, None)], 100),
            ("clamped at 100", vec![plain(80), plain(40)], 100),
        ];
        for (name, signals, want) in cases {
            assert_eq!(max_sum(&signals), want, "{name}");
        }
        let model = Model {
            fit: vec![plain(40)],
            usage: vec![plain(30), plain(20)],
            expansion: vec![per(10, Some(60))],
            fit_weight: 0.4,
            tiers: Tiers {
                yellow: 40,
                green: 70,
            },
        };
        // 0.4 × 40 + 0.6 × 50 = 46.
        assert_eq!(model.max_pql(), 46);
        assert_eq!(model.max_expansion(), 60);
    }

    #[test]
    fn threshold_signal_boundaries() {
        let s = sig("teammates_invited_14d", Op::Ge, Operand::Number(2.0), 25);
        let cases = [
            (Value::Int(1), None),
            (Value::Int(2), Some(25)),
            (Value::Int(3), Some(25)),
            (Value::Null, None),
        ];
        for (v, want) in cases {
            assert_eq!(s.evaluate(&v).map(|f| f.points), want, "value {v}");
        }
        assert_eq!(
            s.evaluate(&Value::Int(3)).unwrap().text,
            "+25 teammates_invited_14d=3 (≥2)"
        );
    }

    #[test]
    fn per_unit_signal_scales_and_caps() {
        let mut s = sig("pricing_page_views_14d", Op::Ge, Operand::Number(1.0), 5);
        s.per = Some(1.0);
        s.max_points = Some(15);
        let cases = [
            (0, None),
            (1, Some(5)),
            (2, Some(10)),
            (3, Some(15)),
            (4, Some(15)),
            (100, Some(15)),
        ];
        for (v, want) in cases {
            assert_eq!(
                s.evaluate(&Value::Int(v)).map(|f| f.points),
                want,
                "views {v}"
            );
        }
        assert_eq!(
            s.evaluate(&Value::Int(4)).unwrap().text,
            "+15 pricing_page_views_14d=4 (≥1; +5 per 1, max 15)"
        );
        // A per-unit signal below one unit contributes nothing and is not listed.
        let mut rows = sig("rows_imported_14d", Op::Ge, Operand::Number(0.0), 1);
        rows.per = Some(100.0);
        assert_eq!(rows.evaluate(&Value::Int(99)), None);
        assert_eq!(rows.evaluate(&Value::Int(250)).map(|f| f.points), Some(2));
    }

    #[test]
    fn negative_per_unit_cap_is_symmetric() {
        let mut s = sig("days_since_last_activity", Op::Ge, Operand::Number(7.0), -2);
        s.per = Some(1.0);
        s.max_points = Some(20);
        assert_eq!(s.evaluate(&Value::Int(8)).map(|f| f.points), Some(-16));
        assert_eq!(s.evaluate(&Value::Int(30)).map(|f| f.points), Some(-20));
    }

    #[test]
    fn fire_on_null_counts_missing_as_holding() {
        let mut s = sig(
            "days_since_last_activity",
            Op::Ge,
            Operand::Number(14.0),
            -30,
        );
        let cases = [
            (false, Value::Null, None),
            (true, Value::Null, Some(-30)),
            (true, Value::Int(13), None),
            (true, Value::Int(14), Some(-30)),
        ];
        for (fire_on_null, v, want) in cases {
            s.fire_on_null = fire_on_null;
            assert_eq!(s.evaluate(&v).map(|f| f.points), want, "{fire_on_null} {v}");
        }
        s.fire_on_null = true;
        assert_eq!(
            s.evaluate(&Value::Null).unwrap().text,
            "-30 days_since_last_activity=null (≥14 or null)"
        );
    }

    #[test]
    fn tiers_boundaries() {
        let t = Tiers {
            yellow: 40,
            green: 70,
        };
        let cases = [
            (0, Tier::Red),
            (39, Tier::Red),
            (40, Tier::Yellow),
            (41, Tier::Yellow),
            (69, Tier::Yellow),
            (70, Tier::Green),
            (71, Tier::Green),
            (100, Tier::Green),
        ];
        for (pql, want) in cases {
            assert_eq!(t.tier(pql), want, "pql {pql}");
        }
    }

    #[test]
    fn combine_weights_and_rounding() {
        let cases = [
            (0, 0, 0.4, 0),
            (100, 100, 0.4, 100),
            (100, 0, 0.4, 40),
            (0, 100, 0.4, 60),
            (50, 51, 0.5, 51), // 50.5 rounds half up
            (33, 66, 0.4, 53), // 13.2 + 39.6 = 52.8
            (70, 70, 0.0, 70),
        ];
        for (fit, usage, w, want) in cases {
            assert_eq!(
                combine(fit, usage, w),
                want,
                "fit {fit} usage {usage} w {w}"
            );
        }
    }

    #[test]
    fn scores_clamp_to_0_100_and_explain_in_order() {
        let model = Model {
            expansion: vec![],
            fit: vec![
                sig("employees", Op::Ge, Operand::Number(50.0), 60),
                sig("free_email_domain", Op::IsTrue, Operand::None, -80),
            ],
            usage: vec![
                sig("teammates_invited_14d", Op::Ge, Operand::Number(2.0), 70),
                sig("integrations_connected", Op::Ge, Operand::Number(1.0), 70),
            ],
            fit_weight: 0.4,
            tiers: Tiers {
                yellow: 40,
                green: 70,
            },
        };
        let cases = [
            // employees, free mail, invited, integrations → fit, usage, pql, tier
            (Value::Int(10), Value::Bool(true), 0, 0, 0, 0, 0, Tier::Red),
            (
                Value::Int(60),
                Value::Bool(false),
                2,
                1,
                60,
                100,
                84,
                Tier::Green,
            ),
            (
                Value::Int(60),
                Value::Bool(true),
                2,
                0,
                0,
                70,
                42,
                Tier::Yellow,
            ),
            (Value::Null, Value::Null, 1, 1, 0, 70, 42, Tier::Yellow),
        ];
        for (employees, free, invited, integrations, fit, usage, pql, tier) in cases {
            let values = [
                ("employees", employees.clone()),
                ("free_email_domain", free.clone()),
                ("teammates_invited_14d", Value::Int(invited)),
                ("integrations_connected", Value::Int(integrations)),
            ];
            let score = model.score(|name| lookup(&values, name));
            assert_eq!(
                (score.fit, score.usage, score.pql, score.tier),
                (fit, usage, pql, tier),
                "employees={employees} free={free} invited={invited} integrations={integrations}"
            );
        }
        let values = [
            ("employees", Value::Int(60)),
            ("free_email_domain", Value::Bool(true)),
            ("teammates_invited_14d", Value::Int(3)),
            ("integrations_connected", Value::Int(0)),
        ];
        let score = model.score(|name| lookup(&values, name));
        assert_eq!(
            score.signals_text(),
            "+60 employees=60 (≥50); -80 free_email_domain=true (true); +70 teammates_invited_14d=3 (≥2)"
        );
    }
}
