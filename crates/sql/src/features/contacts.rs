//! The `account_contacts` view read into each account's contacts, the other output of the
//! analyst SQL the sync needs (the HubSpot step of `run` and `plan` builds contact records and
//! their associations from it). Arrow stays here: the sync gets plain [`Contact`]s.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use pqlsync_sync::Contact;

use super::FeatureError;
use crate::value::{FromArray, Value};

/// The account's identified users, from the `account_contacts` view.
pub async fn account_contacts(
    ctx: &SessionContext,
) -> Result<BTreeMap<String, Vec<Contact>>, FeatureError> {
    const VIEW: &str = "account_contacts";
    if !ctx
        .table_exist(VIEW)
        .map_err(FeatureError::execution(VIEW))?
    {
        return Err(FeatureError::Contract {
            message: "sql/outputs/account_contacts.sql is missing: the HubSpot sync needs each account's contacts (account_id, email, is_primary)".into(),
        });
    }
    let df = ctx
        .table(VIEW)
        .await
        .map_err(FeatureError::execution(VIEW))?;
    let mut stream = df
        .execute_stream()
        .await
        .map_err(FeatureError::execution(VIEW))?;
    let mut out: BTreeMap<String, Vec<Contact>> = BTreeMap::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(FeatureError::execution(VIEW))?;
        let column = |name: &str, to: &DataType| {
            let found = batch
                .column_by_name(name)
                .ok_or_else(|| FeatureError::Contract {
                    message: format!("account_contacts.sql: column `{name}` is missing"),
                })?;
            cast(found, to).map_err(|_| FeatureError::Contract {
                message: format!(
                    "account_contacts.sql: column `{name}` is {}, expected {to}",
                    found.data_type()
                ),
            })
        };
        let accounts = column("account_id", &DataType::Utf8)?;
        let emails = column("email", &DataType::Utf8)?;
        let primary = column("is_primary", &DataType::Boolean)?;
        let (accounts, emails, primary) = (
            accounts.as_string::<i32>(),
            emails.as_string::<i32>(),
            primary.as_boolean(),
        );
        let since = batch.column_by_name("first_identified_at");
        let users = batch.column_by_name("user_id");
        for row in 0..batch.num_rows() {
            if accounts.is_null(row) || emails.is_null(row) {
                continue;
            }
            let account = accounts.value(row);
            let contact = Contact {
                account_id: account.to_string(),
                email: emails.value(row).trim().to_ascii_lowercase(),
                user_id: users.and_then(|a| match Value::from_array(a, row) {
                    Ok(Value::Null) | Err(_) => None,
                    Ok(v) => Some(v.to_string()),
                }),
                primary: primary.is_valid(row) && primary.value(row),
                first_identified_at: since.and_then(|a| match Value::from_array(a, row) {
                    Ok(Value::Timestamp(us)) => Some(us),
                    _ => None,
                }),
            };
            match out.get_mut(account) {
                Some(list) => list.push(contact),
                None => {
                    out.insert(account.to_string(), vec![contact]);
                }
            }
        }
    }
    // The stream's order depends on the machine's partitions; records, associations and the
    // primary contact must not.
    for list in out.values_mut() {
        list.sort_by(|a, b| (!a.primary, &a.email).cmp(&(!b.primary, &b.email)));
    }
    Ok(out)
}
