//! `[routing]`: enterprise threshold, trial timing, paying statuses, owner pools and
//! disqualify rules, parsed and validated beside the router. Defaults live in
//! [`Policy::default`].

use serde::Deserialize;

use super::{OwnerPools, Policy, Rule};
use crate::score::config::condition;
use crate::setting::Invalid;

/// `[routing]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingFile {
    /// Seats at or above which an account goes to enterprise sales (default 50).
    pub enterprise_seats: Option<i64>,
    /// Days into a trial after which an account that is not Green becomes sales-assisted (default 7).
    pub sales_assist_after_days: Option<i64>,
    /// Days after a Green activation that the rep's task is due (default 1).
    pub task_due_days: Option<i64>,
    /// Stripe subscription statuses that make an account a paying customer (default active, past_due).
    pub paid_statuses: Option<Vec<String>>,
    /// Owner pools for accounts without an owner.
    #[serde(default)]
    pub owners: OwnersFile,
    /// Persona and spam rules: an account matching any rule is disqualified.
    #[serde(default)]
    pub disqualify: Vec<RuleFile>,
}

/// `[routing.owners]`: who gets unowned accounts. Assignment is deterministic (rendezvous hashing
/// on the account id) and balanced across each pool.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnersFile {
    /// Enterprise sales owners (email), for accounts at or above `enterprise_seats`.
    #[serde(default)]
    pub enterprise: Vec<String>,
    /// Self-serve / SMB owners (email), for everyone else.
    #[serde(default)]
    pub self_serve: Vec<String>,
}

/// `[[routing.disqualify]]`: a condition that disqualifies an account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The `account_features` column this rule reads.
    pub feature: String,
    /// Comparison, as for scoring signals.
    pub op: String,
    /// Comparison value, as for scoring signals.
    pub value: Option<toml::Value>,
    /// Why the account is disqualified, shown in the route reason.
    pub reason: String,
}

pub fn policy(file: &RoutingFile) -> Result<Policy, Invalid> {
    let d = Policy::default();
    let positive = |key: &str, v: Option<i64>, default: i64| -> Result<i64, Invalid> {
        match v {
            Some(n) if n < 0 => Err(Invalid::new(
                format!("routing.{key}"),
                format!("must not be negative, got {n}"),
            )),
            Some(n) => Ok(n),
            None => Ok(default),
        }
    };
    let owners = |key: &str, list: &[String]| -> Result<Vec<String>, Invalid> {
        let mut out: Vec<String> = Vec::new();
        for o in list {
            let o = o.trim().to_ascii_lowercase();
            if !o.contains('@') {
                return Err(Invalid::new(
                    format!("routing.owners.{key}"),
                    format!("`{o}` is not an email address"),
                ));
            }
            if !out.contains(&o) {
                out.push(o);
            }
        }
        Ok(out)
    };
    let disqualify = file
        .disqualify
        .iter()
        .enumerate()
        .map(|(i, r): (usize, &RuleFile)| {
            let key = format!("routing.disqualify[{i}]");
            if r.reason.trim().is_empty() {
                return Err(Invalid::new(format!("{key}.reason"), "must say why"));
            }
            Ok(Rule {
                condition: condition(&key, &r.feature, &r.op, r.value.as_ref())?,
                reason: r.reason.trim().to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Policy {
        enterprise_seats: positive(
            "enterprise_seats",
            file.enterprise_seats,
            d.enterprise_seats,
        )?,
        sales_assist_after_days: positive(
            "sales_assist_after_days",
            file.sales_assist_after_days,
            d.sales_assist_after_days,
        )?,
        task_due_days: positive("task_due_days", file.task_due_days, d.task_due_days)?,
        paid_statuses: file.paid_statuses.clone().unwrap_or(d.paid_statuses),
        owners: OwnerPools {
            enterprise: owners("enterprise", &file.owners.enterprise)?,
            self_serve: owners("self_serve", &file.owners.self_serve)?,
        },
        disqualify,
    })
}
