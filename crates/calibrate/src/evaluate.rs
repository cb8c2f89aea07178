//! How well a score ranks trials: tier tables, deciles, the cumulative-gains curve, score
//! bands, the rule that suggests the Yellow and Green thresholds, and how the config's other
//! thresholds move to a suggested scale. Pure functions over a score (0–100) and a converted
//! flag per trial.

use super::types::{Band, Decile, Flagged, Threshold, TierRow, TierTable};
use pqlsync_rules::score::{Tier, Tiers};

/// Share of all trials Green may hold at most: Green is for the minority worth a rep's time.
pub const GREEN_MAX_SHARE: f64 = 0.5;
/// Share of all conversions Red may hold at most: Red is where buyers are rare.
pub const RED_MAX_CONVERSION_SHARE: f64 = 0.1;

fn rate(conversions: usize, trials: usize) -> Option<f64> {
    (trials > 0).then(|| conversions as f64 / trials as f64)
}

/// Trials and conversions with a score at or above each value 0..=101 (index = threshold).
fn at_or_above(scores: &[u8], converted: &[bool]) -> Vec<(usize, usize)> {
    let mut by_score = [(0usize, 0usize); 101];
    for (s, c) in scores.iter().zip(converted) {
        let slot = &mut by_score[usize::from(*s).min(100)];
        slot.0 += 1;
        slot.1 += usize::from(*c);
    }
    let mut out = vec![(0, 0); 102];
    for t in (0..=100).rev() {
        out[t] = (out[t + 1].0 + by_score[t].0, out[t + 1].1 + by_score[t].1);
    }
    out
}

/// The tier table: Green, Yellow, Red with trials, conversions, rate, lift and the share of
/// conversions each holds.
pub fn tier_table(scores: &[u8], converted: &[bool], tiers: Tiers) -> TierTable {
    let total = scores.len();
    let conversions = converted.iter().filter(|c| **c).count();
    let base = rate(conversions, total);
    let rows = [Tier::Green, Tier::Yellow, Tier::Red]
        .into_iter()
        .map(|tier| {
            let (n, k) = scores
                .iter()
                .zip(converted)
                .filter(|(s, _)| tiers.tier(**s) == tier)
                .fold((0, 0), |(n, k), (_, c)| (n + 1, k + usize::from(*c)));
            let r = rate(k, n);
            TierRow {
                tier: tier.as_str().to_string(),
                trials: n,
                share: rate(n, total).unwrap_or(0.0),
                conversions: k,
                rate: r,
                lift: r.zip(base).filter(|(_, b)| *b > 0.0).map(|(r, b)| r / b),
                conversion_share: rate(k, conversions).unwrap_or(0.0),
            }
        })
        .collect();
    TierTable {
        yellow: tiers.yellow,
        green: tiers.green,
        rows,
    }
}

/// Thresholds from a holdout's scores. Green: among thresholds that put at most
/// [`GREEN_MAX_SHARE`] of trials in Green, the one that maximises the share of conversions
/// captured minus the share of trials (the lift a rep's time buys); of thresholds that tie,
/// the lowest, so new trials scoring between the last one left out and the first one taken
/// count as Green. Yellow: the highest threshold below Green that leaves at most
/// [`RED_MAX_CONVERSION_SHARE`] of conversions in Red. None without a conversion.
pub fn suggest_tiers(scores: &[u8], converted: &[bool]) -> Option<Tiers> {
    let total = scores.len() as f64;
    let above = at_or_above(scores, converted);
    let conversions = above[0].1 as f64;
    if conversions == 0.0 {
        return None;
    }
    let mut green = None;
    let mut best = f64::NEG_INFINITY;
    for t in 1..=100u8 {
        let (n, k) = above[usize::from(t)];
        if n as f64 / total > GREEN_MAX_SHARE {
            continue;
        }
        let gain = k as f64 / conversions - n as f64 / total;
        if gain > best + 1e-12 {
            best = gain;
            green = Some(t);
        }
    }
    let green = green.unwrap_or(100);
    let yellow = (0..green)
        .rev()
        .find(|t| {
            let red = conversions - above[usize::from(*t)].1 as f64;
            red / conversions <= RED_MAX_CONVERSION_SHARE
        })
        .unwrap_or(0);
    Some(Tiers { yellow, green })
}

/// The two scales a threshold moves between: each model's holdout scores and tiers.
#[derive(Debug, Clone, Copy)]
pub struct Scales<'a> {
    pub current_scores: &'a [u8],
    pub suggested_scores: &'a [u8],
    pub converted: &'a [bool],
    pub current_tiers: Tiers,
    pub suggested_tiers: Tiers,
}

/// A threshold on the PQL score, moved to the suggested scorecard's scale by its place among
/// the tiers: the segments 0–Yellow, Yellow–Green and Green–100 of the current scale map
/// linearly onto 0–Yellow′, Yellow′–Green′ and Green′ to the suggested holdout's top score.
/// "Halfway from Green to the top" stays that. The suggested tiers carry the holdout's
/// evidence (Green holds most buyers in a minority of trials), the mapping keeps the order of
/// any thresholds, and the result is within reach of the holdout. Keeping the share of trials
/// a threshold flagged would inherit the current score's ranking, which is what calibration
/// replaces (a threshold it hardly reached would stay out of reach). The trials each side
/// flags are reported beside it, so the workload change is in view.
pub fn moved_threshold(scales: &Scales, current: u8) -> Threshold {
    let before = at_or_above(scales.current_scores, scales.converted);
    let after = at_or_above(scales.suggested_scores, scales.converted);
    let suggested = tier_anchored(scales, current);
    let side = |(n, k): (usize, usize)| Flagged {
        trials: n,
        share: rate(n, scales.current_scores.len()).unwrap_or(0.0),
        rate: rate(k, n),
    };
    Threshold {
        current,
        suggested,
        current_flagged: side(before[usize::from(current)]),
        suggested_flagged: side(after[usize::from(suggested)]),
    }
}

/// `current`'s place among the current tiers, on the suggested scale.
fn tier_anchored(scales: &Scales, current: u8) -> u8 {
    let (c, s) = (scales.current_tiers, scales.suggested_tiers);
    let top = scales
        .suggested_scores
        .iter()
        .copied()
        .max()
        .unwrap_or(100)
        .max(s.green);
    let segments = [
        (0.0, f64::from(c.yellow), 0.0, f64::from(s.yellow)),
        (
            f64::from(c.yellow),
            f64::from(c.green),
            f64::from(s.yellow),
            f64::from(s.green),
        ),
        (
            f64::from(c.green),
            100.0,
            f64::from(s.green),
            f64::from(top),
        ),
    ];
    let x = f64::from(current);
    let (a, b, a2, b2) = segments
        .into_iter()
        .find(|(a, b, _, _)| x >= *a && x <= *b)
        .unwrap_or(segments[2]);
    let t = if b > a {
        a2 + (x - a) / (b - a) * (b2 - a2)
    } else {
        a2
    };
    (t.round() as u8).clamp(1, 100)
}

/// Trial indices from the highest score down; ties keep their given order (the caller passes
/// trials sorted by start and account, so the order is reproducible).
fn ranked(scores: &[u8]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(scores[*i]));
    order
}

/// Ten groups of the trials by score, highest first, differing in size by at most one.
pub fn deciles(scores: &[u8], converted: &[bool]) -> Vec<Decile> {
    let n = scores.len();
    let conversions = converted.iter().filter(|c| **c).count();
    let base = rate(conversions, n);
    let order = ranked(scores);
    let mut out = Vec::new();
    let mut cumulative = 0;
    for d in 0..10 {
        let (lo, hi) = (d * n / 10, (d + 1) * n / 10);
        if lo == hi {
            continue;
        }
        let members = &order[lo..hi];
        let k = members.iter().filter(|i| converted[**i]).count();
        cumulative += k;
        let r = k as f64 / members.len() as f64;
        out.push(Decile {
            decile: d as u8 + 1,
            min_score: members.iter().map(|i| scores[*i]).min().unwrap_or(0),
            max_score: members.iter().map(|i| scores[*i]).max().unwrap_or(0),
            trials: members.len(),
            conversions: k,
            rate: r,
            lift: base.filter(|b| *b > 0.0).map(|b| r / b),
            cumulative_conversion_share: rate(cumulative, conversions).unwrap_or(0.0),
        });
    }
    out
}

/// The cumulative-gains curve: after taking every trial with a score at or above each
/// distinct score (highest first), the share of trials taken and of conversions captured.
/// Tied trials are taken together, so a model that ties everything is the diagonal.
pub fn gains(scores: &[u8], converted: &[bool]) -> Vec<(f64, f64)> {
    let above = at_or_above(scores, converted);
    let (n, k) = above[0];
    let mut points = vec![(0.0, 0.0)];
    if n == 0 {
        return points;
    }
    for t in (0..=100).rev() {
        if above[t] != above[t + 1] {
            let (tn, tk) = above[t];
            let captured = if k == 0 { 0.0 } else { tk as f64 / k as f64 };
            points.push((tn as f64 / n as f64, captured));
        }
    }
    points
}

/// Conversion by 10-point score band (90–100 is the last), actual and `predicted(score)`
/// averaged over the band's trials. Empty bands are left out.
pub fn bands(
    scores: &[u8],
    converted: &[bool],
    predicted: Option<&dyn Fn(u8) -> f64>,
) -> Vec<Band> {
    (0..10u8)
        .filter_map(|b| {
            let (low, high) = (b * 10, if b == 9 { 100 } else { b * 10 + 9 });
            let members: Vec<usize> = (0..scores.len())
                .filter(|i| (low..=high).contains(&scores[*i]))
                .collect();
            if members.is_empty() {
                return None;
            }
            let k = members.iter().filter(|i| converted[**i]).count();
            Some(Band {
                low,
                high,
                trials: members.len(),
                conversions: k,
                actual: rate(k, members.len()),
                predicted: predicted.map(|p| {
                    members.iter().map(|i| p(scores[*i])).sum::<f64>() / members.len() as f64
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_threshold_keeps_its_place_among_the_tiers() {
        // Nobody reaches 85 under the current scores; the suggested holdout tops out at 46.
        let current = [60, 50, 40, 30, 20, 10, 0];
        let suggested = [46, 30, 20, 12, 8, 4, 0];
        let converted = [true, true, false, false, false, false, false];
        let scales = Scales {
            current_scores: &current,
            suggested_scores: &suggested,
            converted: &converted,
            current_tiers: Tiers {
                yellow: 40,
                green: 70,
            },
            suggested_tiers: Tiers {
                yellow: 4,
                green: 15,
            },
        };
        // (current, suggested): Green–100 maps onto 15–46, Yellow–Green onto 4–15.
        let cases = [
            (100, 46),
            (85, 31),
            (70, 15),
            (55, 10),
            (40, 4),
            (20, 2),
            (1, 1),
        ];
        for (before, after) in cases {
            assert_eq!(
                moved_threshold(&scales, before).suggested,
                after,
                "{before}"
            );
        }
        let t = moved_threshold(&scales, 85);
        assert_eq!(
            (t.current_flagged.trials, t.current_flagged.rate),
            (0, None)
        );
        assert_eq!(t.suggested_flagged.trials, 1);
        assert_eq!(
            t.suggested_flagged.rate,
            Some(1.0),
            "the better score flags a buyer"
        );
        assert!((t.suggested_flagged.share - 1.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn tier_table_counts_each_tier_and_its_share_of_conversions() {
        let scores = [90, 75, 50, 45, 10, 5, 0, 70];
        let converted = [true, true, false, true, false, false, false, false];
        let t = tier_table(
            &scores,
            &converted,
            Tiers {
                yellow: 40,
                green: 70,
            },
        );
        let rows: Vec<(&str, usize, usize)> = t
            .rows
            .iter()
            .map(|r| (r.tier.as_str(), r.trials, r.conversions))
            .collect();
        // 70 is Green (the threshold is inclusive), 40..69 Yellow.
        assert_eq!(rows, [("green", 3, 2), ("yellow", 2, 1), ("red", 3, 0)]);
        let green = &t.rows[0];
        assert!((green.lift.unwrap() - (2.0 / 3.0) / (3.0 / 8.0)).abs() < 1e-12);
        assert!((green.conversion_share - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(t.rows[2].lift, Some(0.0));
    }

    #[test]
    fn suggested_green_is_a_minority_and_red_holds_few_buyers() {
        // 20 trials: the top 4 (score 80+) hold 4 of 6 buyers, 2 more at 40 and 30.
        let mut scores = vec![95, 90, 85, 80];
        let mut converted = vec![true; 4];
        for (i, s) in [60, 55, 50, 45, 40, 35, 30, 25, 20, 15, 10, 8, 5, 3, 2, 0]
            .into_iter()
            .enumerate()
        {
            scores.push(s);
            converted.push(i == 4 || i == 6);
        }
        let t = suggest_tiers(&scores, &converted).unwrap();
        assert_eq!(t.green, 61, "{t:?}");
        // Red (< yellow) may hold at most 10% of 6 conversions, i.e. none: both at 40 and 30
        // must be Yellow or better, and the highest such threshold is 30.
        assert_eq!(t.yellow, 30, "{t:?}");
        let table = tier_table(&scores, &converted, t);
        assert!(table.rows[0].share <= GREEN_MAX_SHARE);
        assert_eq!(table.rows[2].conversions, 0);
        assert_eq!(suggest_tiers(&[10, 20], &[false, false]), None);
    }

    #[test]
    fn green_never_takes_more_than_half_the_trials() {
        // Everyone scores 50 and half convert: no threshold ≤ 50 keeps Green a minority.
        let scores = [50u8; 10];
        let converted = [
            true, false, true, false, true, false, true, false, true, false,
        ];
        let t = suggest_tiers(&scores, &converted).unwrap();
        assert!(t.green > 50, "{t:?}");
        assert!(t.yellow <= 50 && t.yellow < t.green, "{t:?}");
    }

    #[test]
    fn deciles_split_evenly_and_accumulate_conversions() {
        let scores: Vec<u8> = (0..25).map(|i| 100 - i * 4).collect();
        let converted: Vec<bool> = (0..25).map(|i| i % 3 == 0).collect();
        let d = deciles(&scores, &converted);
        assert_eq!(d.len(), 10);
        assert_eq!(d.iter().map(|d| d.trials).sum::<usize>(), 25);
        assert!(d.iter().all(|d| d.trials == 2 || d.trials == 3));
        assert_eq!(d[0].max_score, 100);
        assert!((d[9].cumulative_conversion_share - 1.0).abs() < 1e-12);
        let mut last = 0.0;
        for x in &d {
            assert!(x.cumulative_conversion_share >= last);
            last = x.cumulative_conversion_share;
        }
    }

    #[test]
    fn gains_take_ties_together() {
        // All tied: the curve is the diagonal from (0,0) straight to (1,1).
        assert_eq!(
            gains(&[7, 7, 7, 7], &[true, false, true, false]),
            vec![(0.0, 0.0), (1.0, 1.0)]
        );
        // A perfect ranking captures every conversion first.
        let g = gains(&[90, 80, 10, 0], &[true, true, false, false]);
        assert_eq!(
            g,
            vec![(0.0, 0.0), (0.25, 0.5), (0.5, 1.0), (0.75, 1.0), (1.0, 1.0)]
        );
    }

    #[test]
    fn bands_compare_predicted_with_actual() {
        let scores = [5, 8, 15, 95, 100];
        let converted = [false, true, false, true, true];
        let predicted = |s: u8| f64::from(s) / 100.0;
        let b = bands(&scores, &converted, Some(&predicted));
        let spans: Vec<(u8, u8, usize)> = b.iter().map(|b| (b.low, b.high, b.trials)).collect();
        assert_eq!(spans, [(0, 9, 2), (10, 19, 1), (90, 100, 2)]);
        assert_eq!(b[0].actual, Some(0.5));
        assert!((b[2].predicted.unwrap() - 0.975).abs() < 1e-12);
    }
}
