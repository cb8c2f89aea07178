//! A condition on one feature value: the shared building block of scoring signals and
//! disqualification rules. Pure; null handling is the caller's decision (see `Signal::evaluate`).

use pqlsync_core::value::Value;

/// Comparison operators a signal or rule can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
    Between,
    In,
    NotIn,
    IsTrue,
    IsFalse,
    IsNull,
    IsNotNull,
}

impl Op {
    pub const ALL: &'static [(&'static str, Op)] = &[
        (">=", Op::Ge),
        (">", Op::Gt),
        ("<=", Op::Le),
        ("<", Op::Lt),
        ("=", Op::Eq),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("between", Op::Between),
        ("in", Op::In),
        ("not_in", Op::NotIn),
        ("is_true", Op::IsTrue),
        ("is_false", Op::IsFalse),
        ("is_null", Op::IsNull),
        ("is_not_null", Op::IsNotNull),
    ];

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, op)| *op)
    }

    /// The operator as the config spells it (`=` for `=`/`==`).
    pub fn name(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(n, _)| *n)
    }

    /// Whether the operator compares against numbers only.
    pub fn is_ordering(self) -> bool {
        matches!(self, Op::Ge | Op::Gt | Op::Le | Op::Lt | Op::Between)
    }
}

/// What a condition compares against.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    None,
    Number(f64),
    Text(String),
    Bool(bool),
    Range(f64, f64),
    List(Vec<Operand>),
}

/// `feature op operand`, e.g. `seats >= 50`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub feature: String,
    pub op: Op,
    pub operand: Operand,
}

impl Condition {
    /// Whether the condition holds for `value`. A null value satisfies only `is_null`.
    pub fn holds(&self, value: &Value) -> bool {
        match self.op {
            Op::IsNull => return value.is_null(),
            Op::IsNotNull => return !value.is_null(),
            _ if value.is_null() => return false,
            _ => {}
        }
        match (&self.op, &self.operand) {
            (Op::IsTrue, _) => value.as_bool() == Some(true),
            (Op::IsFalse, _) => value.as_bool() == Some(false),
            (Op::Between, Operand::Range(lo, hi)) => {
                value.as_f64().is_some_and(|v| *lo <= v && v <= *hi)
            }
            (Op::In, Operand::List(items)) => items.iter().any(|i| equals(value, i)),
            (Op::NotIn, Operand::List(items)) => !items.iter().any(|i| equals(value, i)),
            (Op::Eq, operand) => equals(value, operand),
            (Op::Ne, operand) => !equals(value, operand),
            (op, Operand::Number(x)) => value.as_f64().is_some_and(|v| match op {
                Op::Ge => v >= *x,
                Op::Gt => v > *x,
                Op::Le => v <= *x,
                Op::Lt => v < *x,
                _ => false,
            }),
            _ => false,
        }
    }

    /// The rule in explanation form: `≥2`, `50–999`, `in [saas, software]`, `true`.
    pub fn describe(&self) -> String {
        match (&self.op, &self.operand) {
            (Op::Ge, o) => format!("≥{}", show(o)),
            (Op::Gt, o) => format!(">{}", show(o)),
            (Op::Le, o) => format!("≤{}", show(o)),
            (Op::Lt, o) => format!("<{}", show(o)),
            (Op::Eq, o) => format!("={}", show(o)),
            (Op::Ne, o) => format!("≠{}", show(o)),
            (Op::Between, Operand::Range(lo, hi)) => {
                format!(
                    "{}–{}",
                    pqlsync_core::fmt::trim_float(*lo),
                    pqlsync_core::fmt::trim_float(*hi)
                )
            }
            (Op::In, o) => format!("in {}", show(o)),
            (Op::NotIn, o) => format!("not in {}", show(o)),
            (Op::IsTrue, _) => "true".into(),
            (Op::IsFalse, _) => "false".into(),
            (Op::IsNull, _) => "null".into(),
            (Op::IsNotNull, _) => "not null".into(),
            (Op::Between, o) => format!("between {}", show(o)),
        }
    }
}

fn equals(value: &Value, operand: &Operand) -> bool {
    match operand {
        Operand::Number(x) => value.as_f64() == Some(*x),
        // Text comparisons ignore case: industries and domains arrive in any case.
        Operand::Text(t) => value.as_str().is_some_and(|v| v.eq_ignore_ascii_case(t)),
        Operand::Bool(b) => value.as_bool() == Some(*b),
        _ => false,
    }
}

fn show(operand: &Operand) -> String {
    match operand {
        Operand::None => String::new(),
        Operand::Number(x) => pqlsync_core::fmt::trim_float(*x),
        Operand::Text(t) => t.clone(),
        Operand::Bool(b) => b.to_string(),
        Operand::Range(lo, hi) => format!(
            "{}–{}",
            pqlsync_core::fmt::trim_float(*lo),
            pqlsync_core::fmt::trim_float(*hi)
        ),
        Operand::List(items) => {
            let shown: Vec<String> = items.iter().map(show).collect();
            if shown.len() > 6 {
                format!("[{}, … {} more]", shown[..5].join(", "), shown.len() - 5)
            } else {
                format!("[{}]", shown.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(op: Op, operand: Operand) -> Condition {
        Condition {
            feature: "f".into(),
            op,
            operand,
        }
    }

    #[test]
    fn ordering_ops_boundaries() {
        let n = Operand::Number(50.0);
        let cases = [
            (Op::Ge, 49, false),
            (Op::Ge, 50, true),
            (Op::Ge, 51, true),
            (Op::Gt, 50, false),
            (Op::Gt, 51, true),
            (Op::Le, 50, true),
            (Op::Le, 51, false),
            (Op::Lt, 49, true),
            (Op::Lt, 50, false),
            (Op::Eq, 50, true),
            (Op::Eq, 49, false),
            (Op::Ne, 49, true),
            (Op::Ne, 50, false),
        ];
        for (op, v, want) in cases {
            assert_eq!(
                cond(op, n.clone()).holds(&Value::Int(v)),
                want,
                "{op:?} {v}"
            );
        }
    }

    #[test]
    fn between_is_inclusive() {
        let c = cond(Op::Between, Operand::Range(50.0, 249.0));
        let cases = [
            (49.0, false),
            (50.0, true),
            (249.0, true),
            (249.5, false),
            (250.0, false),
        ];
        for (v, want) in cases {
            assert_eq!(c.holds(&Value::Float(v)), want, "{v}");
        }
        assert_eq!(c.describe(), "50–249");
    }

    #[test]
    fn text_membership_ignores_case() {
        let list = Operand::List(vec![
            Operand::Text("software".into()),
            Operand::Text("saas".into()),
        ]);
        let cases = [
            (Op::In, "SaaS", true),
            (Op::In, "retail", false),
            (Op::NotIn, "retail", true),
            (Op::NotIn, "Software", false),
        ];
        for (op, v, want) in cases {
            assert_eq!(
                cond(op, list.clone()).holds(&Value::Str(v.into())),
                want,
                "{op:?} {v}"
            );
        }
    }

    #[test]
    fn nulls_satisfy_only_null_checks() {
        let cases = [
            (Op::Ge, Operand::Number(0.0), false),
            (Op::Ne, Operand::Number(1.0), false),
            (
                Op::NotIn,
                Operand::List(vec![Operand::Text("x".into())]),
                false,
            ),
            (Op::IsFalse, Operand::None, false),
            (Op::IsNull, Operand::None, true),
            (Op::IsNotNull, Operand::None, false),
        ];
        for (op, operand, want) in cases {
            assert_eq!(cond(op, operand).holds(&Value::Null), want, "{op:?}");
        }
    }

    #[test]
    fn booleans() {
        let cases = [
            (Op::IsTrue, Value::Bool(true), true),
            (Op::IsTrue, Value::Bool(false), false),
            (Op::IsFalse, Value::Bool(false), true),
            (Op::IsTrue, Value::Int(1), false),
        ];
        for (op, v, want) in cases {
            assert_eq!(cond(op, Operand::None).holds(&v), want, "{op:?} {v}");
        }
    }

    #[test]
    fn every_op_name_parses() {
        for (name, op) in Op::ALL {
            assert_eq!(Op::parse(name), Some(*op));
        }
        assert_eq!(Op::parse("=>"), None);
    }
}
