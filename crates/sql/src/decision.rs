//! Decisions: the step between `account_features` batches and the pure scoring and routing
//! functions. It reads the columns scoring and routing need out of each Arrow batch, calls
//! `pqlsync_rules::decision::decide` per account, and appends the decision columns to the
//! batch, so the features pass through to the output untouched and nothing is collected
//! beyond one batch.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use pqlsync_rules::decision::{self, EVENT_COLUMNS, Inputs, OPTIONAL_COLUMNS, ROUTING_COLUMNS};
pub use pqlsync_rules::decision::{
    DECISION_COLUMNS, Decision, Facts, account_facts, referenced_features,
};
use pqlsync_rules::route::{DealStage, Held, Policy};
use pqlsync_rules::score::people::{People, Team, User};
use pqlsync_rules::score::{Condition, Expansion, Model, Op};

use crate::features::FINAL_VIEW;
use pqlsync_rules::state::RoutingState;

use crate::value::{ArrowKind, Kind, Row, Value};

/// Errors deciding; each names the column, account or config key at fault.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("{key}: `{feature}` is not a column of {view} (add it to the SQL, or fix the name)")]
    UnknownFeature {
        key: String,
        feature: String,
        view: &'static str,
    },
    #[error("{key}: `{feature}` is {found} in {view}, but `{op}` compares numbers")]
    NotNumeric {
        key: String,
        feature: String,
        op: String,
        found: DataType,
        view: &'static str,
    },
    #[error(
        "{key}: `{feature}` is {found} in {view}, but `{op}` tests a boolean (compare it with a value instead, e.g. op = \">=\")"
    )]
    NotBoolean {
        key: String,
        feature: String,
        op: String,
        found: DataType,
        view: &'static str,
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
    /// Each account's scored users, taken as the account is decided.
    users: Option<(&'a People, HashMap<String, Vec<User>>)>,
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
            users: None,
        })
    }

    /// Route from what HubSpot holds for each account (`held`), not only from the memory.
    pub fn with_held(mut self, held: &'a BTreeMap<String, Held>) -> Self {
        self.held = Some(held);
        self
    }

    /// Rank each account's users (`users`, from `user_features`) and choose its champion.
    pub fn with_users(mut self, people: &'a People, users: HashMap<String, Vec<User>>) -> Self {
        self.users = Some((people, users));
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
        let mut values = Row::new(columns);
        for row in 0..batch.num_rows() {
            values
                .read(row)
                .map_err(|(column, found)| DecisionError::UnreadableType {
                    column: column.to_string(),
                    found,
                })?;
            let get = |name: &str| values.get(name);
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
            let inputs = Inputs {
                model: self.model,
                policy: self.policy,
                memory: self.memory,
                held: self.held.and_then(|h| h.get(&account_id)),
                as_of: self.as_of,
            };
            let team = self
                .users
                .as_mut()
                .map(|(people, users)| people.team(users.remove(&account_id).unwrap_or_default()));
            decisions.push(decision::decide(&inputs, account_id, team, get));
        }
        let batch = append_columns(&self.output, batch, &decisions)?;
        Ok((batch, decisions))
    }
}

fn readable(t: &DataType) -> bool {
    [Kind::Number, Kind::Text, Kind::Boolean, Kind::Timestamp]
        .iter()
        .any(|k| k.accepts(t))
}

/// Every feature the config names must exist, and numeric comparisons need numeric columns.
pub fn check_config(
    model: &Model,
    policy: &Policy,
    features: &Schema,
) -> Result<(), DecisionError> {
    check_conditions(FINAL_VIEW, decision::conditions(model, policy), features)?;
    let unknown = |key: String, feature: &str| DecisionError::UnknownFeature {
        key,
        feature: feature.to_string(),
        view: FINAL_VIEW,
    };
    for column in ROUTING_COLUMNS {
        if features.field_with_name(column).is_err() {
            return Err(unknown("routing".into(), column));
        }
    }
    for (trigger, columns) in EVENT_COLUMNS {
        let Some(i) = policy.playbooks.iter().position(|p| p.trigger == *trigger) else {
            continue;
        };
        if features.field_with_name(columns[0]).is_err() {
            return Err(unknown(
                format!("routing.playbooks[{i}] ({})", trigger.as_str()),
                columns[0],
            ));
        }
    }
    Ok(())
}

/// Each condition's column must be in `view`'s schema, and of a type its operator reads.
pub fn check_conditions(
    view: &'static str,
    conditions: Vec<(String, &Condition)>,
    schema: &Schema,
) -> Result<(), DecisionError> {
    for (key, c) in conditions {
        let field =
            schema
                .field_with_name(&c.feature)
                .map_err(|_| DecisionError::UnknownFeature {
                    key: format!("{key}.feature"),
                    feature: c.feature.clone(),
                    view,
                })?;
        if c.op.is_ordering() && !Kind::Number.accepts(field.data_type()) {
            return Err(DecisionError::NotNumeric {
                key: format!("{key}.op"),
                feature: c.feature.clone(),
                op: c.describe(),
                found: field.data_type().clone(),
                view,
            });
        }
        // `is_true` on a number is never true: the signal would silently never fire.
        if matches!(c.op, Op::IsTrue | Op::IsFalse) && !Kind::Boolean.accepts(field.data_type()) {
            return Err(DecisionError::NotBoolean {
                key: format!("{key}.op"),
                feature: c.feature.clone(),
                op: c.describe(),
                found: field.data_type().clone(),
                view,
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
    fn expansion(d: &Decision) -> Option<&Expansion> {
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
        strings(&|d| {
            d.team
                .as_ref()
                .and_then(Team::champion)
                .and_then(|u| u.email.clone())
        }),
    ]);
    RecordBatch::try_new(Arc::clone(schema), columns)
        .map_err(|e| DecisionError::Arrow(e.to_string()))
}
