//! HubSpot's lifecycle stages in order, and the two rules pqlsync applies to them: a stage only
//! moves forward, and of two candidate stages the further wins. A leaf the model (which picks
//! a record's stage) and the plan (which refuses a backward move) both read.

/// HubSpot's default lifecycle stages, in order.
const LIFECYCLE: &[&str] = &[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
];

/// Position of `stage` in HubSpot's order; none for `other` or a custom stage.
fn rank(stage: &str) -> Option<usize> {
    LIFECYCLE.iter().position(|l| l.eq_ignore_ascii_case(stage))
}

/// The stages a PQL score may move an account to: those before `customer` (paying is
/// Stripe's call, not the score's).
pub fn scored_stages() -> &'static [&'static str] {
    &LIFECYCLE[..rank("customer").expect("customer is a lifecycle stage")]
}

/// Whether moving from `current` to `desired` goes forward. Unknown stages (`other`, custom
/// ones) are never moved from or to.
pub fn lifecycle_forward(current: Option<&str>, desired: &str) -> bool {
    match current.map(str::trim).filter(|c| !c.is_empty()) {
        None => rank(desired).is_some(),
        Some(c) => matches!((rank(c), rank(desired)), (Some(a), Some(b)) if b > a),
    }
}

/// The further of two lifecycle stages in HubSpot's order; a stage outside it (`other`, a
/// custom one) loses to a known one.
pub fn furthest_lifecycle<'a>(a: Option<&'a str>, b: Option<&'a str>) -> Option<&'a str> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if rank(b) > rank(a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_further_stage_wins() {
        let cases = [
            (None, None, None),
            (Some("lead"), None, Some("lead")),
            (None, Some("salesqualifiedlead"), Some("salesqualifiedlead")),
            (
                Some("marketingqualifiedlead"),
                Some("salesqualifiedlead"),
                Some("salesqualifiedlead"),
            ),
            (
                Some("customer"),
                Some("salesqualifiedlead"),
                Some("customer"),
            ),
            (Some("other"), Some("lead"), Some("lead")),
            (Some("Lead"), Some("lead"), Some("Lead")),
        ];
        for (a, b, want) in cases {
            assert_eq!(furthest_lifecycle(a, b), want, "{a:?} vs {b:?}");
        }
    }
}
