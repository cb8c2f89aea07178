//! Scorecard scaling: fitted log-odds coefficients → integer signal points and the fit/usage
//! weights, so that `fit_weight × fit + usage_weight × usage` is proportional to the fitted
//! log-odds and each group's positive points add up to at most 100 (a trial every positive
//! signal fires for scores 100). Pure.

/// The two signal groups of `[scoring]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Fit,
    Usage,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Fit => "fit",
            Group::Usage => "usage",
        }
    }

    fn index(self) -> usize {
        match self {
            Group::Fit => 0,
            Group::Usage => 1,
        }
    }
}

/// One fitted column: its group, coefficient (log-odds per unit) and the most units a trial
/// can have (1 for a plain signal; the cap, or the largest seen, for a per-unit one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    pub group: Group,
    pub beta: f64,
    pub units: f64,
}

/// The scaling found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaled {
    pub fit_weight: f64,
    pub usage_weight: f64,
    /// Group points per unit of log-odds, fit then usage.
    pub points_per_log_odds: [f64; 2],
    /// Log-odds one PQL point stands for.
    pub log_odds_per_point: f64,
}

impl Scaled {
    /// Points (unrounded) for a coefficient of `group`.
    pub fn points(&self, group: Group, beta: f64) -> f64 {
        beta * self.points_per_log_odds[group.index()]
    }
}

/// Scale `columns`. `kept` are the positive points, per group, of signals that keep their
/// current points (too little data to fit them): they use part of the group's 100.
///
/// With `P` a group's largest positive log-odds sum and `R` the points left to it, the
/// group's points are `β × R / P`, and weights proportional to `P / R` make one PQL point the
/// same log-odds in both groups. A group with no positive coefficient cannot raise the score:
/// its weight is 0 (its penalties are scaled like the other group's). None when no group has
/// a positive coefficient.
pub fn scale(columns: &[Column], kept: [f64; 2]) -> Option<Scaled> {
    let mut positive = [0.0_f64; 2];
    for c in columns {
        positive[c.group.index()] += c.beta.max(0.0) * c.units;
    }
    let room = kept.map(|k| (100.0 - k).max(0.0));
    let per: [Option<f64>; 2] =
        [0, 1].map(|g| (positive[g] > 1e-12 && room[g] > 0.0).then(|| room[g] / positive[g]));
    let inverse_sum: f64 = per.iter().flatten().map(|f| 1.0 / f).sum();
    if inverse_sum <= 0.0 {
        return None;
    }
    let weight = per.map(|f| f.map_or(0.0, |f| (1.0 / f) / inverse_sum));
    // A group without positive evidence has weight 0: its points never move the PQL score, so
    // its penalties are scaled like the other group's, which keeps them readable.
    let points_per_log_odds = [0, 1].map(|g| {
        per[g]
            .or(per[1 - g])
            .expect("one group has positive evidence")
    });
    Some(Scaled {
        fit_weight: weight[0],
        usage_weight: weight[1],
        points_per_log_odds,
        log_odds_per_point: inverse_sum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(group: Group, beta: f64, units: f64) -> Column {
        Column { group, beta, units }
    }

    #[test]
    fn points_are_proportional_to_log_odds_and_each_group_tops_out_at_100() {
        let columns = [
            col(Group::Fit, 1.0, 1.0),
            col(Group::Fit, 0.5, 1.0),
            col(Group::Usage, 2.0, 1.0),
            col(Group::Usage, -1.0, 1.0),
        ];
        let s = scale(&columns, [0.0, 0.0]).unwrap();
        let points: Vec<f64> = columns.iter().map(|c| s.points(c.group, c.beta)).collect();
        let expect = [100.0 / 1.5, 50.0 / 1.5, 100.0, -50.0];
        for (p, e) in points.iter().zip(expect) {
            assert!((p - e).abs() < 1e-9, "{points:?}");
        }
        // Weights ∝ P / R: 1.5 and 2.0.
        assert!((s.fit_weight - 1.5 / 3.5).abs() < 1e-12, "{s:?}");
        assert!((s.usage_weight - 2.0 / 3.5).abs() < 1e-12, "{s:?}");
        // A trial every positive signal fires for scores 100; one PQL point is 3.5/100.
        let top = s.fit_weight * (points[0] + points[1]) + s.usage_weight * points[2];
        assert!((top - 100.0).abs() < 1e-9, "{top}");
        assert!((s.log_odds_per_point - 0.035).abs() < 1e-12);
        // Proportional to log-odds in both groups: one fit column alone and one usage column
        // alone give PQL = β / log_odds_per_point.
        for (i, c) in columns.iter().enumerate().take(3) {
            let w = if c.group == Group::Fit {
                s.fit_weight
            } else {
                s.usage_weight
            };
            assert!((w * points[i] - c.beta / s.log_odds_per_point).abs() < 1e-9);
        }
    }

    #[test]
    fn per_unit_columns_count_their_units_and_kept_points_use_part_of_the_100() {
        // 3 units of 0.5 log-odds each, and a kept signal worth 40 fit points.
        let columns = [col(Group::Fit, 0.5, 3.0), col(Group::Usage, 1.0, 1.0)];
        let s = scale(&columns, [40.0, 0.0]).unwrap();
        let per_unit = s.points(Group::Fit, 0.5);
        assert!((per_unit * 3.0 - 60.0).abs() < 1e-9, "{per_unit}");
        assert!((s.points(Group::Usage, 1.0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_group_without_positive_evidence_gets_no_weight() {
        let columns = [col(Group::Fit, -0.4, 1.0), col(Group::Usage, 2.0, 1.0)];
        let s = scale(&columns, [0.0, 0.0]).unwrap();
        assert_eq!(s.fit_weight, 0.0);
        assert!((s.usage_weight - 1.0).abs() < 1e-12);
        assert!((s.points(Group::Fit, -0.4) + 20.0).abs() < 1e-9);
        assert_eq!(scale(&[col(Group::Fit, -1.0, 1.0)], [0.0, 0.0]), None);
    }
}
