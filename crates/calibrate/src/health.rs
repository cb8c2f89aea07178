//! Model health: whether the PQL score still predicts, month by month. For each trial-start
//! month it measures the score on trial day K against converting within H days, with the same
//! label and exclusions as `calibrate` ([`Window::label`]), the conversion rate and share of
//! trials per tier, and the population stability index (PSI) of the score against the
//! calibration's training trials (or the first month). A month whose AUC fell more than
//! `auc_margin` below the calibration's holdout AUC, or whose PSI passed `psi_limit`, is
//! flagged "recalibrate". Pure over [`ScoredTrial`]s; the report and `run` read them from the
//! score history.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};

use super::Window;
use super::stats;
use pqlsync_rules::score::Tier;

/// A month's AUC is judged only with this many conversions and as many non-conversions: below
/// it one trial moves the AUC by several points.
pub const MIN_LABELLED_EACH: usize = 10;
/// A month's PSI is judged only with this many scored trials (and the reference too).
pub const MIN_SCORED: usize = 50;
/// PSI's bands: ten of ten points (the last also holds 100).
const BANDS: usize = 10;
/// A band empty on one side counts as this share, as PSI is usually computed, so one empty
/// band does not make it infinite.
const EMPTY_SHARE: f64 = 1e-4;

/// One trial: its start, when its account paid, and the score history's snapshot on its
/// trial day K (none when the history has no snapshot that day).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredTrial {
    pub start: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub score: Option<u8>,
    pub tier: Option<Tier>,
}

/// What the months are judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    /// The calibration's holdout AUC; without one, the first judged month's AUC.
    pub auc: Option<f64>,
    /// The calibration's trial starts, the reference distribution for PSI; without them,
    /// the first month with scored trials.
    pub trained: Option<(NaiveDate, NaiveDate)>,
    pub auc_margin: f64,
    pub psi_limit: f64,
}

/// One tier in one month.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TierHealth {
    /// Share of the month's labelled trials in the tier.
    pub share: f64,
    /// Their conversion rate (None for an empty tier).
    pub rate: Option<f64>,
}

/// One trial-start month.
#[derive(Debug, Clone, PartialEq)]
pub struct Month {
    /// The month's first day.
    pub month: NaiveDate,
    /// Trials that started in it, and those with a snapshot on trial day K.
    pub trials: usize,
    pub scored: usize,
    /// Scored trials with a known label (horizon closed, not paying by day K).
    pub labelled: usize,
    pub conversions: usize,
    pub rate: Option<f64>,
    pub auc: Option<f64>,
    /// The AUC it is compared with (the calibration's holdout AUC, else the first month's).
    pub baseline_auc: Option<f64>,
    pub psi: Option<f64>,
    /// Green, Yellow, Red.
    pub tiers: [TierHealth; 3],
    /// Every trial of the month has its label: its horizon closed by the as-of day.
    pub complete: bool,
    /// Why to recalibrate, when the month says so.
    pub flag: Option<String>,
}

/// The months from the first trial start to the last, in order.
pub fn months(trials: &[ScoredTrial], window: &Window, baseline: &Baseline) -> Vec<Month> {
    let first_of = |d: NaiveDate| d.with_day(1).expect("day 1 exists");
    let mut by_month: std::collections::BTreeMap<NaiveDate, Vec<&ScoredTrial>> = Default::default();
    for t in trials {
        by_month
            .entry(first_of(t.start.date_naive()))
            .or_default()
            .push(t);
    }
    let in_reference = |t: &&ScoredTrial| match baseline.trained {
        Some((from, to)) => (from..=to).contains(&t.start.date_naive()),
        None => by_month.keys().next() == Some(&first_of(t.start.date_naive())),
    };
    let reference: Vec<u8> = trials
        .iter()
        .filter(in_reference)
        .filter_map(|t| t.score)
        .collect();
    let mut baseline_auc = baseline.auc;
    let mut out = Vec::new();
    for (month, trials) in by_month {
        let mut m = month_health(month, &trials, window, &reference);
        if baseline_auc.is_none() && judged(&m) {
            baseline_auc = m.auc;
        }
        m.baseline_auc = baseline_auc;
        m.flag = flag(&m, baseline);
        out.push(m);
    }
    out
}

/// Whether a month has enough labelled trials on both sides for its AUC to be judged.
fn judged(m: &Month) -> bool {
    m.complete
        && m.conversions >= MIN_LABELLED_EACH
        && m.labelled - m.conversions >= MIN_LABELLED_EACH
}

fn month_health(
    month: NaiveDate,
    trials: &[&ScoredTrial],
    window: &Window,
    reference: &[u8],
) -> Month {
    let next = month + chrono::Months::new(1);
    let last_day = next - TimeDelta::days(1);
    let complete = last_day + TimeDelta::days(i64::from(window.horizon)) <= window.as_of;
    let scored: Vec<&ScoredTrial> = trials
        .iter()
        .copied()
        .filter(|t| t.score.is_some())
        .collect();
    let labelled: Vec<(u8, Option<Tier>, bool)> = scored
        .iter()
        .filter_map(|t| {
            let converted = window.label(t.start, t.paid_at).ok()?;
            Some((t.score.expect("scored"), t.tier, converted))
        })
        .collect();
    let conversions = labelled.iter().filter(|(_, _, c)| *c).count();
    let scores: Vec<f64> = labelled.iter().map(|(s, _, _)| f64::from(*s)).collect();
    let labels: Vec<bool> = labelled.iter().map(|(_, _, c)| *c).collect();
    let tiers = [Tier::Green, Tier::Yellow, Tier::Red].map(|tier| {
        let (n, k) = labelled
            .iter()
            .filter(|(_, t, _)| *t == Some(tier))
            .fold((0, 0), |(n, k), (_, _, c)| (n + 1, k + usize::from(*c)));
        TierHealth {
            share: ratio(n, labelled.len()).unwrap_or(0.0),
            rate: ratio(k, n),
        }
    });
    let month_scores: Vec<u8> = scored.iter().filter_map(|t| t.score).collect();
    Month {
        month,
        trials: trials.len(),
        scored: scored.len(),
        labelled: labelled.len(),
        conversions,
        rate: ratio(conversions, labelled.len()),
        auc: stats::auc(&scores, &labels),
        baseline_auc: None,
        psi: psi(reference, &month_scores),
        tiers,
        complete,
        flag: None,
    }
}

fn ratio(k: usize, n: usize) -> Option<f64> {
    (n > 0).then(|| k as f64 / n as f64)
}

/// The month's reason to recalibrate: its AUC more than the margin below the baseline (a
/// complete month with enough trials on both sides), or its PSI past the limit (enough
/// scored trials).
fn flag(m: &Month, baseline: &Baseline) -> Option<String> {
    let mut why = Vec::new();
    if let (true, Some(auc), Some(base)) = (judged(m), m.auc, m.baseline_auc)
        && auc < base - baseline.auc_margin
    {
        why.push(format!(
            "AUC {auc:.2} is more than {:.2} below {base:.2}",
            baseline.auc_margin
        ));
    }
    if let Some(psi) = m.psi
        && m.scored >= MIN_SCORED
        && psi > baseline.psi_limit
    {
        why.push(format!(
            "PSI {psi:.2} > {:.2}: the scores drifted",
            baseline.psi_limit
        ));
    }
    (!why.is_empty()).then(|| format!("recalibrate: {}", why.join("; ")))
}

/// The population stability index of `current` against `reference`, over ten 10-point bands:
/// Σ (c − r) · ln(c / r) of the bands' shares. Under 0.1 is stable, 0.1–0.2 a moderate shift,
/// above 0.2 a shift worth acting on. None when either side has fewer than [`MIN_SCORED`]
/// scores.
pub fn psi(reference: &[u8], current: &[u8]) -> Option<f64> {
    if reference.len() < MIN_SCORED || current.len() < MIN_SCORED {
        return None;
    }
    let shares = |scores: &[u8]| {
        let mut counts = [0usize; BANDS];
        for s in scores {
            counts[(usize::from(*s) / 10).min(BANDS - 1)] += 1;
        }
        counts.map(|c| (c as f64 / scores.len() as f64).max(EMPTY_SHARE))
    };
    let (r, c) = (shares(reference), shares(current));
    Some(r.iter().zip(&c).map(|(r, c)| (c - r) * (c / r).ln()).sum())
}

/// The latest complete month, when it is flagged: what `run` warns about.
pub fn latest_flag(months: &[Month]) -> Option<&Month> {
    months
        .iter()
        .rev()
        .find(|m| m.complete)
        .filter(|m| m.flag.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic stream in [0, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(d: NaiveDate) -> DateTime<Utc> {
        d.and_hms_opt(9, 0, 0).unwrap().and_utc()
    }

    /// 200 trials a month from January to June 2026, scored on day K (0–79). In a month where
    /// the score `predicts`, the chance of paying rises from 2% at score 0 to 92% at 80 (an
    /// AUC near 0.80); where it does not, every trial has the same 30%. `shift` raises every
    /// score of the month.
    fn trials(predicts: impl Fn(u32) -> bool, shift: impl Fn(u32) -> u8) -> Vec<ScoredTrial> {
        let mut rng = Lcg(7);
        let mut out = Vec::new();
        for month in 1..=6u32 {
            for i in 0..200u32 {
                let start = NaiveDate::from_ymd_opt(2026, month, 1 + i % 28).unwrap();
                let score = ((rng.next() * 80.0) as u8)
                    .saturating_add(shift(month))
                    .min(100);
                let p = if predicts(month) {
                    0.02 + 0.9 * f64::from(score.saturating_sub(shift(month))) / 80.0
                } else {
                    0.3
                };
                let paid = rng.next() < p;
                let tier = match score {
                    70.. => Tier::Green,
                    40..=69 => Tier::Yellow,
                    _ => Tier::Red,
                };
                out.push(ScoredTrial {
                    start: at(start),
                    paid_at: paid.then(|| at(start + TimeDelta::days(14))),
                    score: Some(score),
                    tier: Some(tier),
                });
            }
        }
        out
    }

    fn window() -> Window {
        Window {
            as_of: day("2026-08-15"),
            from: day("2026-01-01"),
            to: day("2026-08-15"),
            at_day: 7,
            horizon: 30,
        }
    }

    fn baseline(auc: Option<f64>) -> Baseline {
        Baseline {
            auc,
            trained: None,
            auc_margin: 0.05,
            psi_limit: 0.2,
        }
    }

    fn flags(months: &[Month]) -> Vec<(u32, bool)> {
        months
            .iter()
            .map(|m| (m.month.month(), m.flag.is_some()))
            .collect()
    }

    #[test]
    fn a_score_that_stops_predicting_is_flagged_from_the_month_it_stopped() {
        let months = months(&trials(|m| m <= 3, |_| 0), &window(), &baseline(Some(0.75)));
        assert_eq!(
            flags(&months),
            [
                (1, false),
                (2, false),
                (3, false),
                (4, true),
                (5, true),
                (6, true)
            ]
        );
        for m in &months[..3] {
            assert!(m.auc.unwrap() > 0.72, "{m:?}");
        }
        for m in &months[3..] {
            let auc = m.auc.unwrap();
            assert!((0.4..0.62).contains(&auc), "{m:?}");
            let flag = m.flag.as_deref().unwrap();
            assert!(
                flag.starts_with("recalibrate: AUC") && !flag.contains("PSI"),
                "{flag}"
            );
        }
        assert_eq!(
            latest_flag(&months).map(|m| m.month),
            Some(day("2026-06-01"))
        );
    }

    #[test]
    fn a_score_that_keeps_predicting_is_never_flagged() {
        let months = months(&trials(|_| true, |_| 0), &window(), &baseline(Some(0.75)));
        assert_eq!(
            flags(&months).iter().filter(|(_, f)| *f).count(),
            0,
            "{months:?}"
        );
        assert!(latest_flag(&months).is_none());
        // Without a calibration, the first month is the baseline, and nothing is flagged
        // either.
        let months = super::months(&trials(|_| true, |_| 0), &window(), &baseline(None));
        assert!(months.iter().all(|m| m.flag.is_none()), "{months:?}");
        assert_eq!(months[5].baseline_auc, months[0].auc);
    }

    #[test]
    fn scores_that_drift_are_flagged_by_psi_even_while_they_predict() {
        let months = months(
            &trials(|_| true, |m| if m >= 5 { 25 } else { 0 }),
            &window(),
            &baseline(None),
        );
        for m in &months {
            let drifted = m.month.month() >= 5;
            assert_eq!(m.psi.unwrap() > 0.2, drifted, "{m:?}");
            assert_eq!(
                m.flag.as_deref().is_some_and(|f| f.contains("PSI")),
                drifted,
                "{m:?}"
            );
        }
    }

    #[test]
    fn a_month_whose_labels_are_still_open_is_not_judged_on_auc() {
        // As of 2026-06-20, May's last trials have not reached day 30 and June's none have.
        let w = Window {
            as_of: day("2026-06-20"),
            ..window()
        };
        let months = months(&trials(|m| m <= 3, |_| 0), &w, &baseline(Some(0.75)));
        let complete: Vec<bool> = months.iter().map(|m| m.complete).collect();
        assert_eq!(complete, [true, true, true, true, false, false]);
        assert!(
            months[4].flag.is_none() && months[5].flag.is_none(),
            "{months:?}"
        );
        assert_eq!(
            latest_flag(&months).map(|m| m.month),
            Some(day("2026-04-01"))
        );
    }

    #[test]
    fn tiers_hold_shares_and_rates_of_the_labelled_trials() {
        let t = |score: u8, tier, paid: bool, start: &str| {
            let start = day(start);
            ScoredTrial {
                start: at(start),
                paid_at: paid.then(|| at(start + TimeDelta::days(10))),
                score: Some(score),
                tier: Some(tier),
            }
        };
        let trials = [
            t(80, Tier::Green, true, "2026-01-05"),
            t(75, Tier::Green, false, "2026-01-06"),
            t(50, Tier::Yellow, true, "2026-01-07"),
            t(10, Tier::Red, false, "2026-01-08"),
            // Paid before the end of day 7: nothing left to predict, left out.
            ScoredTrial {
                paid_at: Some(at(day("2026-01-10"))),
                ..t(90, Tier::Green, true, "2026-01-09")
            },
            // No snapshot on day 7.
            ScoredTrial {
                score: None,
                tier: None,
                ..t(0, Tier::Red, false, "2026-01-10")
            },
        ];
        let m = &months(&trials, &window(), &baseline(None))[0];
        assert_eq!(
            (m.trials, m.scored, m.labelled, m.conversions),
            (6, 5, 4, 2)
        );
        assert_eq!(
            m.tiers[0],
            TierHealth {
                share: 0.5,
                rate: Some(0.5)
            }
        );
        assert_eq!(
            m.tiers[1],
            TierHealth {
                share: 0.25,
                rate: Some(1.0)
            }
        );
        assert_eq!(
            m.tiers[2],
            TierHealth {
                share: 0.25,
                rate: Some(0.0)
            }
        );
        assert_eq!(m.auc, Some(0.75));
        assert_eq!(m.psi, None, "too few trials to judge drift");
    }

    #[test]
    fn psi_of_known_distributions() {
        let same: Vec<u8> = (0..100).collect();
        assert!(psi(&same, &same).unwrap().abs() < 1e-12);
        // Five trials move from the bottom band to the top one.
        let moved: Vec<u8> = (0..100).map(|s| if s < 5 { 95 } else { s }).collect();
        // Bottom band 10% → 5%, top 10% → 15%.
        let want = (0.05 - 0.10) * (0.05f64 / 0.10).ln() + (0.15 - 0.10) * (0.15f64 / 0.10).ln();
        assert!((psi(&same, &moved).unwrap() - want).abs() < 1e-12);
        assert_eq!(psi(&same[..49], &same), None);
    }
}
