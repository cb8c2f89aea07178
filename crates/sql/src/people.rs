//! The `user_features` view read into each account's users, each scored with
//! `[[scoring.user]]` (`pqlsync_rules::score::people`) and given the email `account_contacts`
//! knows them by. Arrow stays here: deciding gets plain [`User`]s, and ranks them into a team
//! with a champion. Rows are scored as they stream, so only the few numbers a contact shows are
//! kept per user, not the view's rows.

use std::collections::{BTreeMap, HashMap};

use datafusion::arrow::datatypes::Schema;
use datafusion::prelude::{SessionContext, col, lit};
use futures::StreamExt;
use pqlsync_rules::score::people::{KEY_ACTIONS, People, User};
use pqlsync_sync::Contact;

use crate::decision::check_conditions;
use crate::features::{FeatureError, check_columns};
use crate::value::{Kind, Row};

/// The view, named after `sql/features/user_features.sql`.
pub const USER_VIEW: &str = "user_features";

/// The columns pqlsync reads besides the signals' and the key actions: who, and what ranks the
/// champion when engagement ties.
const CONTRACT: &[(&str, Kind)] = &[
    ("account_id", Kind::Text),
    ("user_id", Kind::Text),
    ("events_14d", Kind::Number),
    ("active_days_14d", Kind::Number),
    ("last_active_at", Kind::Timestamp),
];

/// Each account's users, scored, by account id.
#[derive(Debug, Default)]
pub struct Users {
    pub by_account: HashMap<String, Vec<User>>,
    /// Rows read, and those without an email (scored, never synced).
    pub rows: usize,
    pub without_email: usize,
}

/// Whether the project defines `user_features`: without it, accounts are decided without users
/// (no champion), as before the view existed.
pub fn defined(ctx: &SessionContext) -> Result<bool, FeatureError> {
    ctx.table_exist(USER_VIEW)
        .map_err(FeatureError::execution(USER_VIEW))
}

/// Read and score `user_features` (only `account`'s rows, when given); `contacts` (from
/// `account_contacts`) give users their email.
pub async fn users(
    ctx: &SessionContext,
    people: &People,
    contacts: &BTreeMap<String, Vec<Contact>>,
    account: Option<&str>,
) -> Result<Users, FeatureError> {
    let mut df = ctx
        .table(USER_VIEW)
        .await
        .map_err(FeatureError::execution(USER_VIEW))?;
    if let Some(account) = account {
        df = df
            .filter(col("account_id").eq(lit(account)))
            .map_err(FeatureError::execution(USER_VIEW))?;
    }
    let schema = df.schema().as_arrow().clone();
    let columns = check(people, &schema)?;
    let emails: HashMap<(&str, &str), &str> = contacts
        .values()
        .flatten()
        .filter_map(|c| {
            Some((
                (c.account_id.as_str(), c.user_id.as_deref()?),
                c.email.as_str(),
            ))
        })
        .collect();
    let mut stream = df
        .execute_stream()
        .await
        .map_err(FeatureError::execution(USER_VIEW))?;
    let mut out = Users::default();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(FeatureError::execution(USER_VIEW))?;
        let mut values = Row::new(
            columns
                .iter()
                .map(|c| {
                    (
                        *c,
                        batch.column_by_name(c).expect("checked against the schema"),
                    )
                })
                .collect(),
        );
        for row in 0..batch.num_rows() {
            values
                .read(row)
                .map_err(|(name, found)| FeatureError::View {
                    view: USER_VIEW,
                    message: format!("column `{name}` has type {found}, which scoring cannot read"),
                })?;
            let get = |name: &str| values.get(name);
            let (Some(account), Some(user_id)) =
                (get("account_id").as_str(), get("user_id").as_str())
            else {
                return Err(FeatureError::View {
                    view: USER_VIEW,
                    message: "a row has a null account_id or user_id; filter them out in the SQL"
                        .into(),
                });
            };
            let email = emails.get(&(account, user_id)).map(|e| e.to_string());
            out.without_email += usize::from(email.is_none());
            let user = User {
                user_id: user_id.to_string(),
                email,
                engagement: people.engagement(get),
                events: get("events_14d").as_i64().unwrap_or(0),
                active_days: get("active_days_14d").as_i64().unwrap_or(0),
                last_active: get("last_active_at").as_date(),
                actions: KEY_ACTIONS.iter().map(|a| get(a.column).as_i64()).collect(),
                power: false,
            };
            out.rows += 1;
            match out.by_account.get_mut(account) {
                Some(list) => list.push(user),
                None => {
                    out.by_account.insert(account.to_string(), vec![user]);
                }
            }
        }
    }
    Ok(out)
}

/// Check the view's schema: the contract's columns, the signals' columns and types. Returns
/// the columns to read: the contract's, the signals', and the key actions the view has.
fn check<'a>(people: &'a People, schema: &Schema) -> Result<Vec<&'a str>, FeatureError> {
    let view = |message: String| FeatureError::View {
        view: USER_VIEW,
        message,
    };
    check_columns(USER_VIEW, CONTRACT, schema)?;
    let conditions = people
        .signals
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("scoring.user[{i}]"), &s.condition))
        .collect();
    check_conditions(USER_VIEW, conditions, schema).map_err(|e| view(e.to_string()))?;
    let mut columns: Vec<&str> = CONTRACT.iter().map(|(n, _)| *n).collect();
    columns.extend(people.features());
    columns.extend(
        KEY_ACTIONS
            .iter()
            .map(|a| a.column)
            .filter(|c| schema.field_with_name(c).is_ok()),
    );
    columns.sort_unstable();
    columns.dedup();
    Ok(columns)
}
