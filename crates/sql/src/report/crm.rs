//! HubSpot's values as SQL: the `crm` schema of the analyst session, one table per object type
//! pqlsync manages (`crm.companies`, `crm.deals`, `crm.leads`, `crm.tasks`), one row per
//! record, with pqlsync's key, the HubSpot id, what HubSpot held when the last run read it back
//! (owner, stages, lifecycle stage, task status and completion) next to what pqlsync last
//! wrote, and whether and since when a person's value stands there.
//!
//! They are built from the sync state kept at `[state] url`, so `report`, `backfill` and any
//! analyst view read them without a portal; without a sync state they are empty, never missing,
//! so SQL that reads them runs the same on a fresh install.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use datafusion::arrow::array::TimestampMicrosecondArray;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Date32Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;

use pqlsync_hubspot::ObjectType;
use pqlsync_sync::listen::{
    CREATED_AT, DEAL_STAGE, LEAD_STAGE, LIFECYCLE, OWNER, TASK_COMPLETED_AT, TASK_STATUS,
    UPDATED_AT, account_of,
};
use pqlsync_sync::{SyncState, state::Synced};

/// The schema the tables are registered under.
pub const CRM_SCHEMA: &str = "crm";

/// One record, with what its ids mean.
struct Row<'a> {
    object: ObjectType,
    key: &'a str,
    r: &'a Synced,
    state: &'a SyncState,
}

impl Row<'_> {
    fn held(&self, property: &str) -> Option<String> {
        self.r.held.get(property).filter(|v| !v.is_empty()).cloned()
    }

    fn ours(&self, property: &str) -> Option<String> {
        self.r
            .props
            .get(property)
            .filter(|v| !v.is_empty())
            .cloned()
    }

    /// An owner or stage id as a name: the owner's email, pqlsync's stage name; the id itself
    /// (`hubspot:ID` for an owner) when the portal's ids were not known.
    fn name(&self, property: &str, id: Option<String>) -> Option<String> {
        id.map(|id| self.state.name_of(property, &id))
    }

    fn now(&self, property: &str) -> Option<String> {
        self.name(
            property,
            self.held(property).or_else(|| self.ours(property)),
        )
    }

    fn pqlsync(&self, property: &str) -> Option<String> {
        self.name(property, self.ours(property))
    }

    /// The day a person's value of `property` was first seen.
    fn person_since(&self, property: &str) -> Option<String> {
        self.r.person.get(property).map(|p| p.since.to_string())
    }

    fn changed_on(&self) -> Option<String> {
        self.r
            .person
            .values()
            .map(|p| p.since)
            .min()
            .map(|d| d.to_string())
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Bool,
    Date,
    Timestamp,
}

type Get = fn(&Row) -> Option<String>;

/// The columns every table starts with.
fn common(key: &'static str) -> Vec<(&'static str, Kind, Get)> {
    let mut columns: Vec<(&'static str, Kind, Get)> =
        vec![(key, Kind::Text, |r| Some(r.key.to_string()))];
    if key != "account_id" {
        columns.push(("account_id", Kind::Text, |r| {
            Some(account_of(r.object, r.key, r.r))
        }));
    }
    columns.extend([
        (
            "hubspot_id",
            Kind::Text,
            (|r: &Row| Some(r.r.id.clone())) as Get,
        ),
        ("owner", Kind::Text, |r| r.now(OWNER)),
        ("pqlsync_owner", Kind::Text, |r| r.pqlsync(OWNER)),
    ]);
    columns
}

/// The columns every table ends with.
fn times() -> [(&'static str, Kind, Get); 6] {
    [
        ("changed_in_hubspot", Kind::Bool, |r| {
            Some((!r.r.person.is_empty()).to_string())
        }),
        ("changed_on", Kind::Date, |r| r.changed_on()),
        ("owner_changed_on", Kind::Date, |r| r.person_since(OWNER)),
        ("created_at", Kind::Timestamp, |r| r.held(CREATED_AT)),
        ("updated_at", Kind::Timestamp, |r| r.held(UPDATED_AT)),
        ("read_on", Kind::Date, |r| {
            (!r.r.held.is_empty())
                .then_some(r.state.read_on)
                .flatten()
                .map(|d| d.to_string())
        }),
    ]
}

/// Each table's columns: name, type, and how a record fills it.
fn columns(object: ObjectType) -> Vec<(&'static str, Kind, Get)> {
    let mut out = match object {
        ObjectType::Companies => {
            let mut c = common("account_id");
            c.extend([
                (
                    "lifecycle_stage",
                    Kind::Text,
                    (|r: &Row| r.now(LIFECYCLE)) as Get,
                ),
                ("pqlsync_lifecycle_stage", Kind::Text, |r| {
                    r.pqlsync(LIFECYCLE)
                }),
                ("lifecycle_stage_changed_on", Kind::Date, |r| {
                    r.person_since(LIFECYCLE)
                }),
            ]);
            c
        }
        ObjectType::Deals => {
            let mut c = common("trial_id");
            c.extend([
                (
                    "deal_stage",
                    Kind::Text,
                    (|r: &Row| r.now(DEAL_STAGE)) as Get,
                ),
                ("pqlsync_deal_stage", Kind::Text, |r| r.pqlsync(DEAL_STAGE)),
                ("deal_stage_changed_on", Kind::Date, |r| {
                    r.person_since(DEAL_STAGE)
                }),
            ]);
            c
        }
        ObjectType::Leads => {
            let mut c = common("account_id");
            c.extend([
                (
                    "lead_stage",
                    Kind::Text,
                    (|r: &Row| r.now(LEAD_STAGE)) as Get,
                ),
                ("pqlsync_lead_stage", Kind::Text, |r| r.pqlsync(LEAD_STAGE)),
                ("lead_stage_changed_on", Kind::Date, |r| {
                    r.person_since(LEAD_STAGE)
                }),
            ]);
            c
        }
        ObjectType::Tasks => {
            let mut c = common("task_key");
            c.extend([
                (
                    "trigger",
                    Kind::Text,
                    (|r: &Row| r.ours("plg_trigger")) as Get,
                ),
                ("subject", Kind::Text, |r| r.ours("hs_task_subject")),
                ("status", Kind::Text, |r| {
                    r.held(TASK_STATUS).or_else(|| r.ours(TASK_STATUS))
                }),
                ("completed_at", Kind::Timestamp, |r| {
                    r.held(TASK_COMPLETED_AT)
                }),
                ("due_at", Kind::Timestamp, |r| r.ours("hs_timestamp")),
            ]);
            c
        }
        ObjectType::Contacts => Vec::new(),
    };
    out.extend(times());
    out
}

/// The tables and the object types they hold.
pub const TABLES: &[(&str, ObjectType)] = &[
    ("companies", ObjectType::Companies),
    ("deals", ObjectType::Deals),
    ("leads", ObjectType::Leads),
    ("tasks", ObjectType::Tasks),
];

/// A HubSpot datetime (RFC 3339, or epoch milliseconds as some properties hold) in
/// microseconds.
fn micros(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms * 1000);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_micros())
}

fn days(s: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some((d - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}

/// The table of `object`'s records as one batch.
pub fn batch(state: &SyncState, object: ObjectType) -> Result<RecordBatch, DataFusionError> {
    let rows: Vec<Row> = state
        .objects
        .get(&object)
        .into_iter()
        .flatten()
        .map(|(key, r)| Row {
            object,
            key,
            r,
            state,
        })
        .collect();
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (name, kind, get) in columns(object) {
        let values: Vec<Option<String>> = rows.iter().map(get).collect();
        let (t, array): (DataType, ArrayRef) = match kind {
            Kind::Text => (DataType::Utf8, Arc::new(StringArray::from(values))),
            Kind::Bool => (
                DataType::Boolean,
                Arc::new(BooleanArray::from_iter(
                    values.iter().map(|v| v.as_deref().map(|v| v == "true")),
                )),
            ),
            Kind::Date => (
                DataType::Date32,
                Arc::new(Date32Array::from_iter(
                    values.iter().map(|v| v.as_deref().and_then(days)),
                )),
            ),
            Kind::Timestamp => (
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                Arc::new(
                    TimestampMicrosecondArray::from_iter(
                        values.iter().map(|v| v.as_deref().and_then(micros)),
                    )
                    .with_timezone("UTC"),
                ),
            ),
        };
        fields.push(Field::new(name, t, true));
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// Register the `crm.*` tables from `state` (replacing any registered before).
pub fn register(ctx: &SessionContext, state: &SyncState) -> Result<(), DataFusionError> {
    let schema = crate::engine::schema_named(ctx, CRM_SCHEMA)?;
    for (name, object) in TABLES {
        let batch = batch(state, *object)?;
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        schema.deregister_table(name)?;
        schema.register_table(name.to_string(), Arc::new(table))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use datafusion::arrow::util::pretty::pretty_format_batches;

    use super::*;

    #[tokio::test]
    async fn a_persons_change_shows_next_to_pqlsyncs_value() {
        let mut state = SyncState::default();
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        state
            .names
            .insert("dealstage:111".into(), "trial_self_served".into());
        state
            .names
            .insert("dealstage:222".into(), "closed_lost".into());
        state
            .names
            .insert("hubspot_owner_id:7".into(), "rep@example.com".into());
        let ours = BTreeMap::from([
            ("dealstage".to_string(), "111".to_string()),
            ("hubspot_owner_id".to_string(), "7".to_string()),
            ("plg_account_id".to_string(), "acct_1".to_string()),
        ]);
        state.confirm(ObjectType::Deals, "trial_1", "901", &ours);
        state.confirm(ObjectType::Deals, "trial_2", "902", &ours);
        let held = |stage: &str| {
            BTreeMap::from([
                ("dealstage".to_string(), stage.to_string()),
                ("hubspot_owner_id".to_string(), "8".to_string()),
                ("updatedAt".to_string(), "2026-11-20T10:30:00Z".to_string()),
            ])
        };
        let compared = ["hubspot_owner_id", "dealstage"];
        state.hold(ObjectType::Deals, "trial_1", held("222"), &compared, day);
        state.read_on = Some(day);
        let ctx = SessionContext::new();
        register(&ctx, &state).unwrap();
        let got = ctx
            .sql(
                "SELECT trial_id, account_id, owner, pqlsync_owner, deal_stage, pqlsync_deal_stage, \
                 changed_in_hubspot, deal_stage_changed_on, updated_at, read_on \
                 FROM crm.deals ORDER BY trial_id",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = pretty_format_batches(&got).unwrap().to_string();
        let rows: Vec<&str> = text.lines().collect();
        assert!(
            rows[3].contains("| trial_1  | acct_1     | hubspot:8"),
            "{text}"
        );
        assert!(
            rows[3].contains("closed_lost") && rows[3].contains("true"),
            "{text}"
        );
        assert!(rows[3].contains("2026-11-20T10:30:00Z"), "{text}");
        assert!(
            rows[4].contains("trial_2") && rows[4].contains("false"),
            "{text}"
        );
        assert!(
            !rows[4].contains("2026-11-20"),
            "never read: no read day\n{text}"
        );
        // Empty without a state, but there.
        let empty = SessionContext::new();
        register(&empty, &SyncState::default()).unwrap();
        for (name, _) in TABLES {
            let n = empty
                .sql(&format!("SELECT count(*) FROM crm.{name}"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            assert_eq!(n[0].num_rows(), 1, "{name}");
        }
    }
}
