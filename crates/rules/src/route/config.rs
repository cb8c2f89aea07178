//! `[routing]`: enterprise threshold, trial timing, paying statuses, owner pools, disqualify
//! rules, the playbook thresholds and the playbooks, parsed and validated beside the router.
//! Defaults live in [`Policy::default`], [`Thresholds::default`] and `playbook`.

use serde::Deserialize;

use super::playbook::{self, Playbook, Priority, TaskType, Thresholds, Trigger};
use super::{OwnerPools, Policy, Rule};
use crate::score::config::condition;
use pqlsync_core::setting::Invalid;

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
    /// PQL score at which `hot_pql` fires (default 85).
    pub hot_pql_score: Option<u8>,
    /// `trial_ending` fires when a live trial ends within this many days (default 2).
    pub trial_ending_days: Option<i64>,
    /// `rescue` fires when a live trial is still Red on this trial day (default 5).
    pub rescue_after_days: Option<i64>,
    /// Expansion score at which `expansion` fires (default 70).
    pub expansion_threshold: Option<u8>,
    /// Days before `expansion` may fire again for the same customer (default 30).
    pub expansion_cooldown_days: Option<i64>,
    /// The playbooks: one per trigger. Replaces the default (a `green` task only) when present.
    pub playbooks: Option<Vec<PlaybookFile>>,
}

/// `[[routing.playbooks]]`: the task one trigger creates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookFile {
    /// `green`, `hot_pql`, `meeting_booked`, `help_requested`, `trial_ending`, `rescue`,
    /// `expansion`.
    pub trigger: String,
    /// Off switch, keeping the rest of the table (default true).
    pub enabled: Option<bool>,
    /// HubSpot task queue id (numeric), written to `hs_queue_membership_ids`.
    pub queue: Option<String>,
    /// `TODO`, `CALL` or `EMAIL` (default by trigger).
    pub task_type: Option<String>,
    /// `LOW`, `MEDIUM` or `HIGH` (default by trigger).
    pub priority: Option<String>,
    /// Days after the trigger fires that the task is due (default `task_due_days`).
    pub due_days: Option<i64>,
    /// Subject template (minijinja: `{{ account }} scored {{ score }}`).
    pub subject: Option<String>,
    /// Body template.
    pub body: Option<String>,
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
    let task_due_days = positive("task_due_days", file.task_due_days, d.task_due_days)?;
    let td = Thresholds::default();
    let score = |key: &str, v: Option<u8>, default: u8| -> Result<u8, Invalid> {
        match v {
            Some(n) if !(1..=100).contains(&n) => Err(Invalid::new(
                format!("routing.{key}"),
                format!("must be a score from 1 to 100, got {n}"),
            )),
            v => Ok(v.unwrap_or(default)),
        }
    };
    let thresholds = Thresholds {
        hot_pql_score: score("hot_pql_score", file.hot_pql_score, td.hot_pql_score)?,
        trial_ending_days: positive(
            "trial_ending_days",
            file.trial_ending_days,
            td.trial_ending_days,
        )?,
        rescue_after_days: positive(
            "rescue_after_days",
            file.rescue_after_days,
            td.rescue_after_days,
        )?,
        expansion_threshold: score(
            "expansion_threshold",
            file.expansion_threshold,
            td.expansion_threshold,
        )?,
        expansion_cooldown_days: positive(
            "expansion_cooldown_days",
            file.expansion_cooldown_days,
            td.expansion_cooldown_days,
        )?,
    };
    let playbooks = match &file.playbooks {
        None => vec![Playbook::green(task_due_days)],
        Some(list) => playbooks(list, task_due_days)?,
    };
    Ok(Policy {
        thresholds,
        playbooks,
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
        task_due_days,
        paid_statuses: file.paid_statuses.clone().unwrap_or(d.paid_statuses),
        owners: OwnerPools {
            enterprise: owners("enterprise", &file.owners.enterprise)?,
            self_serve: owners("self_serve", &file.owners.self_serve)?,
        },
        disqualify,
    })
}

/// The enabled playbooks, validated: a known trigger at most once, a numeric queue id, a
/// known task type and priority, templates that render.
fn playbooks(list: &[PlaybookFile], task_due_days: i64) -> Result<Vec<Playbook>, Invalid> {
    let mut out: Vec<Playbook> = Vec::new();
    let mut seen: Vec<Trigger> = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let key = format!("routing.playbooks[{i}]");
        let trigger = Trigger::parse(p.trigger.trim()).ok_or_else(|| {
            let known: Vec<&str> = Trigger::ALL.iter().map(|t| t.as_str()).collect();
            Invalid::new(
                format!("{key}.trigger"),
                format!(
                    "unknown trigger `{}` (one of {})",
                    p.trigger,
                    known.join(", ")
                ),
            )
        })?;
        if seen.contains(&trigger) {
            return Err(Invalid::new(
                format!("{key}.trigger"),
                format!(
                    "a second `{}` playbook: give each trigger one table",
                    trigger.as_str()
                ),
            ));
        }
        seen.push(trigger);
        let mut playbook = Playbook::new(trigger, task_due_days);
        if let Some(queue) = &p.queue {
            let queue = queue.trim();
            if queue.is_empty() || !queue.chars().all(|c| c.is_ascii_digit()) {
                return Err(Invalid::new(
                    format!("{key}.queue"),
                    format!(
                        "`{queue}` is not a HubSpot task queue id: use the number in the queue's URL"
                    ),
                ));
            }
            playbook.queue = Some(queue.to_string());
        }
        if let Some(t) = &p.task_type {
            playbook.task_type = TaskType::ALL
                .into_iter()
                .find(|k| k.as_str().eq_ignore_ascii_case(t.trim()))
                .ok_or_else(|| {
                    Invalid::new(
                        format!("{key}.task_type"),
                        format!("`{t}` is not a task type (TODO, CALL or EMAIL)"),
                    )
                })?;
        }
        if let Some(pr) = &p.priority {
            playbook.priority = Priority::ALL
                .into_iter()
                .find(|k| k.as_str().eq_ignore_ascii_case(pr.trim()))
                .ok_or_else(|| {
                    Invalid::new(
                        format!("{key}.priority"),
                        format!("`{pr}` is not a priority (LOW, MEDIUM or HIGH)"),
                    )
                })?;
        }
        if let Some(days) = p.due_days {
            if days < 0 {
                return Err(Invalid::new(
                    format!("{key}.due_days"),
                    format!("must not be negative, got {days}"),
                ));
            }
            playbook.due_days = days;
        }
        for (field, given, slot) in [
            ("subject", &p.subject, &mut playbook.subject),
            ("body", &p.body, &mut playbook.body),
        ] {
            if let Some(template) = given {
                if field == "subject" && template.trim().is_empty() {
                    return Err(Invalid::new(
                        format!("{key}.subject"),
                        "must not be empty: the rep sees the subject in the queue",
                    ));
                }
                playbook::check_template(template)
                    .map_err(|e| Invalid::new(format!("{key}.{field}"), e))?;
                *slot = template.clone();
            }
        }
        if p.enabled.unwrap_or(true) {
            out.push(playbook);
        }
    }
    Ok(out)
}
