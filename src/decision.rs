//! Decisions: the step between `account_features` batches and the pure scoring and routing
//! functions. It reads the columns scoring and routing need out of each Arrow batch, calls
//! `score` and `route` per account, and appends the decision columns to the batch, so the
//! features pass through to the output untouched and nothing is collected beyond one batch.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use crate::route::{self, Account, DealStage, Event, Held, Policy, Route, TrialStatus, Trigger};
use crate::score::{Model, Score};
use crate::state::RoutingState;
use crate::value::{Kind, Value};

/// Errors deciding; each names the column, account or config key at fault.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error(
        "{key}: `{feature}` is not a column of account_features (add it to the SQL, or fix the name)"
    )]
    UnknownFeature { key: String, feature: String },
    #[error("{key}: `{feature}` is {found} in account_features, but `{op}` compares numbers")]
    NotNumeric {
        key: String,
        feature: String,
        op: String,
        found: DataType,
    },
    #[error(
        "{key}: `{feature}` is {found} in account_features, but `{op}` tests a boolean (compare it with a value instead, e.g. op = \">=\")"
    )]
    NotBoolean {
        key: String,
        feature: String,
        op: String,
        found: DataType,
    },
    #[error(
        "account_features already has a column `{column}`, which pqlsync adds to decisions; rename it in the SQL"
    )]
    ReservedColumn { column: String },
    #[error("account_features: column `{column}` has type {found}, which scoring cannot read")]
    UnreadableType { column: String, found: DataType },
    #[error("account_features returned a row with a null account_id; every row must have one")]
    NullAccount,
    #[error(
        "account_features returned account `{account}` more than once; it must have one row per account"
    )]
    DuplicateAccount { account: String },
    #[error("building the decisions batch: {0}")]
    Arrow(String),
}

/// Columns `decide` appends, in order.
pub const DECISION_COLUMNS: &[&str] = &[
    "fit_score",
    "usage_score",
    "pql_score",
    "tier",
    "signals",
    "expansion_score",
    "expansion_signals",
    "motion",
    "owner",
    "lead_stage",
    "deal_stage",
    "task",
    "tasks",
    "route_reason",
];

/// Feature columns routing reads besides the scoring model's.
const ROUTING_COLUMNS: &[&str] = &[
    "account_id",
    "seats",
    "help_requested_14d",
    "meeting_booked_14d",
    "trial_status",
    "trial_start",
    "trial_end",
    "subscription_status",
    "mrr",
    "last_seen_at",
    "email_domain",
    "free_email_domain",
];

/// Columns read when the SQL provides them (the bundled SQL does).
const OPTIONAL_COLUMNS: &[&str] = &["trial_id", "account_name", "mrr_currency"];

/// Columns a playbook's trigger reads: the time of the latest event of its kind in the 14-day
/// window, and optionally its id (say, the message id). Without an id the event's day is the
/// occurrence: one task per account and day.
const EVENT_COLUMNS: &[(Trigger, [&str; 2])] = &[
    (
        Trigger::MeetingBooked,
        ["last_meeting_booked_at", "last_meeting_booked_id"],
    ),
    (
        Trigger::HelpRequested,
        ["last_help_requested_at", "last_help_requested_id"],
    ),
];

/// What the CRM shows about an account besides its score and route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    pub name: Option<String>,
    /// The company domain, unless it is a free-mail provider's.
    pub domain: Option<String>,
    pub seats: i64,
    pub trial_id: Option<String>,
    pub trial_status: String,
    pub trial_start: Option<NaiveDate>,
    pub trial_end: Option<NaiveDate>,
    pub mrr: Option<i64>,
    pub mrr_currency: Option<String>,
}

/// One account's decision.
#[derive(Debug, Clone)]
pub struct Decision {
    pub account_id: String,
    pub score: Score,
    pub route: Route,
    pub facts: Facts,
}

/// Decides accounts batch by batch.
pub struct Decider<'a> {
    model: &'a Model,
    policy: &'a Policy,
    memory: &'a RoutingState,
    as_of: NaiveDate,
    features: SchemaRef,
    output: SchemaRef,
    /// Column names read per row, deduplicated.
    needed: Vec<String>,
    seen: HashSet<String>,
    /// What HubSpot holds for each account, read back before deciding (empty without a portal).
    held: Option<&'a BTreeMap<String, Held>>,
}

impl<'a> Decider<'a> {
    /// Check the config against the `account_features` schema and prepare.
    pub fn new(
        model: &'a Model,
        policy: &'a Policy,
        as_of: NaiveDate,
        memory: &'a RoutingState,
        features: SchemaRef,
    ) -> Result<Self, DecisionError> {
        check_config(model, policy, &features)?;
        let mut needed: BTreeSet<String> = ROUTING_COLUMNS.iter().map(|s| s.to_string()).collect();
        needed.extend(
            referenced_features(model, policy)
                .into_iter()
                .map(|(_, f)| f),
        );
        for optional in OPTIONAL_COLUMNS {
            if features.field_with_name(optional).is_ok() {
                needed.insert(optional.to_string());
            }
        }
        for (trigger, [at, id]) in EVENT_COLUMNS {
            if policy.playbook(*trigger).is_some() {
                needed.insert(at.to_string());
                if features.field_with_name(id).is_ok() {
                    needed.insert(id.to_string());
                }
            }
        }
        for name in &needed {
            let field = features.field_with_name(name).expect("checked above");
            if !readable(field.data_type()) {
                return Err(DecisionError::UnreadableType {
                    column: name.clone(),
                    found: field.data_type().clone(),
                });
            }
        }
        Ok(Decider {
            model,
            policy,
            memory,
            as_of,
            output: output_schema(&features)?,
            features,
            needed: needed.into_iter().collect(),
            seen: HashSet::new(),
            held: None,
        })
    }

    /// Route from what HubSpot holds for each account (`held`), not only from the memory.
    pub fn with_held(mut self, held: &'a BTreeMap<String, Held>) -> Self {
        self.held = Some(held);
        self
    }

    pub fn output_schema(&self) -> SchemaRef {
        Arc::clone(&self.output)
    }

    /// Decide every account in `batch`; return the batch with decision columns appended.
    pub fn decide(
        &mut self,
        batch: &RecordBatch,
    ) -> Result<(RecordBatch, Vec<Decision>), DecisionError> {
        let columns: Vec<(&str, &ArrayRef)> = self
            .needed
            .iter()
            .map(|name| {
                (
                    name.as_str(),
                    batch.column(self.features.index_of(name).expect("checked")),
                )
            })
            .collect();
        let mut decisions = Vec::with_capacity(batch.num_rows());
        let mut row_values: Vec<(&str, Value)> =
            columns.iter().map(|(n, _)| (*n, Value::Null)).collect();
        for row in 0..batch.num_rows() {
            for (slot, (name, array)) in row_values.iter_mut().zip(&columns) {
                slot.1 = Value::from_array(array, row).map_err(|found| {
                    DecisionError::UnreadableType {
                        column: name.to_string(),
                        found,
                    }
                })?;
            }
            let get = |name: &str| -> &Value {
                row_values
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v)
                    .unwrap_or(&Value::Null)
            };
            let account_id = match get("account_id") {
                Value::Str(s) => s.clone(),
                Value::Null => return Err(DecisionError::NullAccount),
                other => other.to_string(),
            };
            if !self.seen.insert(account_id.clone()) {
                return Err(DecisionError::DuplicateAccount {
                    account: account_id,
                });
            }
            let mut score = self.model.score(get);
            let mut account = account_facts(self.policy, &account_id, &score, get);
            if route::is_customer(self.policy, &account) {
                let expansion = self.model.expansion(get);
                account.expansion_score = Some(expansion.score);
                account.expansion_signals = expansion.signals_text();
                score.expansion = Some(expansion);
            }
            let prior = self.memory.prior(&account_id, self.as_of);
            let held = self.held.and_then(|h| h.get(&account_id));
            let route = route::route_with(self.policy, &account, prior, held, self.as_of);
            let facts = Facts {
                name: get("account_name").as_str().map(str::to_string),
                domain: get("email_domain")
                    .as_str()
                    .filter(|_| get("free_email_domain").as_bool() != Some(true))
                    .map(str::to_string),
                seats: account.seats,
                trial_id: account.trial_id.clone(),
                trial_status: get("trial_status").as_str().unwrap_or("none").to_string(),
                trial_start: account.trial_start,
                trial_end: get("trial_end").as_date(),
                mrr: get("mrr").as_i64(),
                mrr_currency: get("mrr_currency").as_str().map(str::to_string),
            };
            decisions.push(Decision {
                account_id,
                score,
                route,
                facts,
            });
        }
        let batch = append_columns(&self.output, batch, &decisions)?;
        Ok((batch, decisions))
    }
}

/// Read the routing facts for one account out of its feature values.
pub fn account_facts<'v>(
    policy: &Policy,
    account_id: &str,
    score: &Score,
    get: impl Fn(&str) -> &'v Value,
) -> Account {
    let int = |name: &str| get(name).as_i64().unwrap_or(0);
    let event = |[at, id]: [&str; 2]| {
        let day = get(at).as_date()?;
        let id = match get(id) {
            Value::Null => day.to_string(),
            v => v.to_string(),
        };
        Some(Event { id, day })
    };
    let trial_status = TrialStatus::parse(get("trial_status").as_str());
    let trial_start = get("trial_start").as_date();
    let trial_id = match (get("trial_id"), trial_status) {
        (Value::Null, TrialStatus::None) => None,
        (Value::Null, _) => Some(format!(
            "{account_id}:{}",
            trial_start.map_or_else(|| "unknown".to_string(), |d| d.to_string())
        )),
        (v, _) => Some(v.to_string()),
    };
    Account {
        account_id: account_id.to_string(),
        seats: int("seats"),
        tier: score.tier,
        pql_score: score.pql,
        help_requested: int("help_requested_14d") > 0,
        meeting_booked: int("meeting_booked_14d") > 0,
        trial_status,
        trial_id,
        trial_start,
        subscription_status: get("subscription_status").as_str().map(str::to_string),
        mrr: int("mrr"),
        ever_active: !get("last_seen_at").is_null(),
        persona_disqualified: policy
            .disqualify
            .iter()
            .find(|r| r.condition.holds(get(&r.condition.feature)))
            .map(|r| r.reason.clone()),
        name: get("account_name").as_str().map(str::to_string),
        fit_score: score.fit,
        usage_score: score.usage,
        signals: score.signals_text(),
        expansion_score: None,
        expansion_signals: String::new(),
        trial_end: get("trial_end").as_date(),
        last_meeting: event(EVENT_COLUMNS[0].1),
        last_help_request: event(EVENT_COLUMNS[1].1),
    }
}

fn readable(t: &DataType) -> bool {
    [Kind::Number, Kind::Text, Kind::Boolean, Kind::Timestamp]
        .iter()
        .any(|k| k.accepts(t))
}

/// Every feature column the scoring model and the routing policy read from
/// `account_features`, with the config key naming it.
pub fn referenced_features(model: &Model, policy: &Policy) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (list, signals) in [
        ("fit", &model.fit),
        ("usage", &model.usage),
        ("expansion", &model.expansion),
    ] {
        for (i, s) in signals.iter().enumerate() {
            out.push((
                format!("scoring.{list}[{i}].feature"),
                s.condition.feature.clone(),
            ));
        }
    }
    for (i, r) in policy.disqualify.iter().enumerate() {
        out.push((
            format!("routing.disqualify[{i}].feature"),
            r.condition.feature.clone(),
        ));
    }
    out
}

/// Every feature the config names must exist, and numeric comparisons need numeric columns.
pub fn check_config(
    model: &Model,
    policy: &Policy,
    features: &Schema,
) -> Result<(), DecisionError> {
    let signals = [
        ("fit", &model.fit),
        ("usage", &model.usage),
        ("expansion", &model.expansion),
    ];
    let mut conditions: Vec<(String, &crate::score::Condition)> = Vec::new();
    for (list, sigs) in signals {
        for (i, s) in sigs.iter().enumerate() {
            conditions.push((format!("scoring.{list}[{i}]"), &s.condition));
        }
    }
    for (i, r) in policy.disqualify.iter().enumerate() {
        conditions.push((format!("routing.disqualify[{i}]"), &r.condition));
    }
    for (key, c) in conditions {
        let field =
            features
                .field_with_name(&c.feature)
                .map_err(|_| DecisionError::UnknownFeature {
                    key: format!("{key}.feature"),
                    feature: c.feature.clone(),
                })?;
        if c.op.is_ordering() && !Kind::Number.accepts(field.data_type()) {
            return Err(DecisionError::NotNumeric {
                key: format!("{key}.op"),
                feature: c.feature.clone(),
                op: c.describe(),
                found: field.data_type().clone(),
            });
        }
        // `is_true` on a number is never true: the signal would silently never fire.
        if matches!(c.op, crate::score::Op::IsTrue | crate::score::Op::IsFalse)
            && !Kind::Boolean.accepts(field.data_type())
        {
            return Err(DecisionError::NotBoolean {
                key: format!("{key}.op"),
                feature: c.feature.clone(),
                op: c.describe(),
                found: field.data_type().clone(),
            });
        }
    }
    for column in ROUTING_COLUMNS {
        if features.field_with_name(column).is_err() {
            return Err(DecisionError::UnknownFeature {
                key: "routing".into(),
                feature: column.to_string(),
            });
        }
    }
    for (trigger, columns) in EVENT_COLUMNS {
        let Some(i) = policy.playbooks.iter().position(|p| p.trigger == *trigger) else {
            continue;
        };
        if features.field_with_name(columns[0]).is_err() {
            return Err(DecisionError::UnknownFeature {
                key: format!("routing.playbooks[{i}] ({})", trigger.as_str()),
                feature: columns[0].to_string(),
            });
        }
    }
    Ok(())
}

/// The decisions schema: every feature column, then [`DECISION_COLUMNS`].
pub fn output_schema(features: &Schema) -> Result<SchemaRef, DecisionError> {
    let mut fields: Vec<Field> = features
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for name in DECISION_COLUMNS {
        if features.field_with_name(name).is_ok() {
            return Err(DecisionError::ReservedColumn {
                column: name.to_string(),
            });
        }
        let t = if name.ends_with("_score") {
            DataType::Int32
        } else {
            DataType::Utf8
        };
        fields.push(Field::new(
            *name,
            t,
            !matches!(
                *name,
                "fit_score" | "usage_score" | "pql_score" | "tier" | "motion" | "lead_stage"
            ),
        ));
    }
    Ok(Arc::new(Schema::new(fields)))
}

fn append_columns(
    schema: &SchemaRef,
    batch: &RecordBatch,
    decisions: &[Decision],
) -> Result<RecordBatch, DecisionError> {
    let ints = |f: fn(&Decision) -> u8| -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(
            decisions.iter().map(|d| i32::from(f(d))),
        ))
    };
    fn expansion(d: &Decision) -> Option<&crate::score::Expansion> {
        d.score.expansion.as_ref()
    }
    let strings = |f: &dyn Fn(&Decision) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from_iter(decisions.iter().map(f)))
    };
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.extend([
        ints(|d| d.score.fit),
        ints(|d| d.score.usage),
        ints(|d| d.score.pql),
        strings(&|d| Some(d.score.tier.as_str().to_string())),
        strings(&|d| Some(d.score.signals_text())),
        Arc::new(Int32Array::from_iter(
            decisions
                .iter()
                .map(|d| expansion(d).map(|e| i32::from(e.score))),
        )),
        strings(&|d| expansion(d).map(|e| e.signals_text())),
        strings(&|d| Some(d.route.motion.as_str().to_string())),
        strings(&|d| d.route.owner.clone()),
        strings(&|d| Some(d.route.lead_stage.as_str().to_string())),
        strings(&|d| {
            d.route
                .deal_stage
                .map(|s: DealStage| s.as_str().to_string())
        }),
        // `task` as before playbooks: the subject of today's task, the first if several.
        strings(&|d| d.route.tasks.first().map(|t| t.subject.clone())),
        strings(&|d| {
            (!d.route.tasks.is_empty()).then(|| {
                d.route
                    .tasks
                    .iter()
                    .map(|t| t.trigger.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
        }),
        strings(&|d| Some(d.route.reason.clone())),
    ]);
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| DecisionError::Arrow(e.to_string()))
}
