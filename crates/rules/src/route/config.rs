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

/// The validated `[routing]`. Checks run in a fixed order (disqualify rules, task due days,
/// thresholds, playbooks, enterprise seats, sales-assist days, owner pools), so a file with
/// several mistakes always reports the same one first.
pub fn policy(file: &RoutingFile) -> Result<Policy, Invalid> {
    let d = Policy::default();
    let disqualify = disqualify_rules(&file.disqualify)?;
    let task_due_days = non_negative("routing.task_due_days", file.task_due_days, d.task_due_days)?;
    let thresholds = thresholds(file)?;
    let playbooks = match &file.playbooks {
        None => vec![Playbook::green(task_due_days)],
        Some(list) => playbooks(list, task_due_days)?,
    };
    let enterprise_seats = non_negative(
        "routing.enterprise_seats",
        file.enterprise_seats,
        d.enterprise_seats,
    )?;
    let sales_assist_after_days = non_negative(
        "routing.sales_assist_after_days",
        file.sales_assist_after_days,
        d.sales_assist_after_days,
    )?;
    let owners = OwnerPools {
        enterprise: owner_emails("enterprise", &file.owners.enterprise)?,
        self_serve: owner_emails("self_serve", &file.owners.self_serve)?,
    };
    Ok(Policy {
        enterprise_seats,
        sales_assist_after_days,
        task_due_days,
        paid_statuses: file.paid_statuses.clone().unwrap_or(d.paid_statuses),
        owners,
        disqualify,
        thresholds,
        playbooks,
    })
}

/// A count of days (or seats), `default` when unset: zero is allowed, a negative is not.
fn non_negative(key: &str, v: Option<i64>, default: i64) -> Result<i64, Invalid> {
    match v {
        Some(n) if n < 0 => Err(Invalid::new(key, format!("must not be negative, got {n}"))),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

/// A score threshold, `default` when unset. Scores run from 0 to 100: a threshold of 0 would
/// fire for every account, one above 100 for none.
fn score(key: &str, v: Option<u8>, default: u8) -> Result<u8, Invalid> {
    match v {
        Some(n) if !(1..=100).contains(&n) => Err(Invalid::new(
            key,
            format!("must be a score from 1 to 100, got {n}"),
        )),
        v => Ok(v.unwrap_or(default)),
    }
}

/// One owner pool of `[routing.owners]`: email addresses, trimmed and lower-cased, each kept
/// once, so an address written twice or in another case is one owner.
fn owner_emails(pool: &str, list: &[String]) -> Result<Vec<String>, Invalid> {
    let mut out: Vec<String> = Vec::new();
    for o in list {
        let o = o.trim().to_ascii_lowercase();
        if !o.contains('@') {
            return Err(Invalid::new(
                format!("routing.owners.{pool}"),
                format!("`{o}` is not an email address"),
            ));
        }
        if !out.contains(&o) {
            out.push(o);
        }
    }
    Ok(out)
}

/// `[[routing.disqualify]]`: each rule says why (the route reason shows it) and reads a
/// condition as scoring signals do.
fn disqualify_rules(list: &[RuleFile]) -> Result<Vec<Rule>, Invalid> {
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let key = format!("routing.disqualify[{i}]");
            if r.reason.trim().is_empty() {
                return Err(Invalid::new(format!("{key}.reason"), "must say why"));
            }
            Ok(Rule {
                condition: condition(&key, &r.feature, &r.op, r.value.as_ref())?,
                reason: r.reason.trim().to_string(),
            })
        })
        .collect()
}

/// The thresholds the playbook triggers read, each defaulted from [`Thresholds::default`].
fn thresholds(file: &RoutingFile) -> Result<Thresholds, Invalid> {
    let td = Thresholds::default();
    Ok(Thresholds {
        hot_pql_score: score(
            "routing.hot_pql_score",
            file.hot_pql_score,
            td.hot_pql_score,
        )?,
        trial_ending_days: non_negative(
            "routing.trial_ending_days",
            file.trial_ending_days,
            td.trial_ending_days,
        )?,
        rescue_after_days: non_negative(
            "routing.rescue_after_days",
            file.rescue_after_days,
            td.rescue_after_days,
        )?,
        expansion_threshold: score(
            "routing.expansion_threshold",
            file.expansion_threshold,
            td.expansion_threshold,
        )?,
        expansion_cooldown_days: non_negative(
            "routing.expansion_cooldown_days",
            file.expansion_cooldown_days,
            td.expansion_cooldown_days,
        )?,
    })
}

/// The enabled playbooks, validated: a known trigger at most once, a numeric queue id, a
/// known task type and priority, templates that render. A disabled table is validated too,
/// and still claims its trigger, so turning it on later cannot make the file invalid.
fn playbooks(list: &[PlaybookFile], task_due_days: i64) -> Result<Vec<Playbook>, Invalid> {
    let mut out: Vec<Playbook> = Vec::new();
    let mut seen: Vec<Trigger> = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let key = format!("routing.playbooks[{i}]");
        let trigger = parse_trigger(&key, &p.trigger)?;
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
        let playbook = playbook_table(&key, trigger, p, task_due_days)?;
        if p.enabled.unwrap_or(true) {
            out.push(playbook);
        }
    }
    Ok(out)
}

/// `trigger` of `[[routing.playbooks]]`: one of [`Trigger::ALL`], by name.
fn parse_trigger(key: &str, given: &str) -> Result<Trigger, Invalid> {
    Trigger::parse(given.trim()).ok_or_else(|| {
        let known: Vec<&str> = Trigger::ALL.iter().map(|t| t.as_str()).collect();
        Invalid::new(
            format!("{key}.trigger"),
            format!("unknown trigger `{given}` (one of {})", known.join(", ")),
        )
    })
}

/// One `[[routing.playbooks]]` table over its trigger's defaults, each field it sets checked
/// in the order [`PlaybookFile`] lists them.
fn playbook_table(
    key: &str,
    trigger: Trigger,
    p: &PlaybookFile,
    task_due_days: i64,
) -> Result<Playbook, Invalid> {
    let mut playbook = Playbook::new(trigger, task_due_days);
    if let Some(q) = &p.queue {
        playbook.queue = Some(queue(key, q)?);
    }
    if let Some(t) = &p.task_type {
        playbook.task_type = task_type(key, t)?;
    }
    if let Some(pr) = &p.priority {
        playbook.priority = priority(key, pr)?;
    }
    playbook.due_days = non_negative(&format!("{key}.due_days"), p.due_days, task_due_days)?;
    if let Some(subject) = &p.subject {
        playbook.subject = template(key, "subject", subject)?;
    }
    if let Some(body) = &p.body {
        playbook.body = template(key, "body", body)?;
    }
    Ok(playbook)
}

/// A HubSpot task queue id: the number in the queue's URL, which is all the API takes.
fn queue(key: &str, given: &str) -> Result<String, Invalid> {
    let queue = given.trim();
    if queue.is_empty() || !queue.chars().all(|c| c.is_ascii_digit()) {
        return Err(Invalid::new(
            format!("{key}.queue"),
            format!("`{queue}` is not a HubSpot task queue id: use the number in the queue's URL"),
        ));
    }
    Ok(queue.to_string())
}

/// A task type by HubSpot's name, in any case.
fn task_type(key: &str, given: &str) -> Result<TaskType, Invalid> {
    TaskType::ALL
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(given.trim()))
        .ok_or_else(|| {
            Invalid::new(
                format!("{key}.task_type"),
                format!("`{given}` is not a task type (TODO, CALL or EMAIL)"),
            )
        })
}

/// A task priority by HubSpot's name, in any case.
fn priority(key: &str, given: &str) -> Result<Priority, Invalid> {
    Priority::ALL
        .into_iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(given.trim()))
        .ok_or_else(|| {
            Invalid::new(
                format!("{key}.priority"),
                format!("`{given}` is not a priority (LOW, MEDIUM or HIGH)"),
            )
        })
}

/// A subject or body template that renders for every sample account
/// ([`playbook::check_template`]); a subject must also say something.
fn template(key: &str, field: &str, given: &str) -> Result<String, Invalid> {
    if field == "subject" && given.trim().is_empty() {
        return Err(Invalid::new(
            format!("{key}.subject"),
            "must not be empty: the rep sees the subject in the queue",
        ));
    }
    playbook::check_template(given).map_err(|e| Invalid::new(format!("{key}.{field}"), e))?;
    Ok(given.to_string())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
