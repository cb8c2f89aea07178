//! The demo's product events in the shape of PostHog's batch exports
//! (<https://posthog.com/docs/cdp/batch-exports/s3#models>): the events model (`properties` and
//! `person_properties` as JSON text, `$groups` naming the account, `$identify` and
//! `$groupidentify` events beside the product events, Title Case event names) and the persons
//! model, as zstd Parquet named `.parquet.zst` the way PostHog names it. The rows are the ones
//! the Segment shape gets, so both shapes describe the same company.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, BooleanBuilder, Int64Builder, StringBuilder};
use datafusion::arrow::array::{TimestampMicrosecondArray, TimestampMicrosecondBuilder as Micros};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::parquet::basic::{Compression, ZstdLevel};
use serde_json::{Map, Value, json};

use super::profile::{Account, date_of};
use super::write::{
    Context, DayStats, GroupRow, IdentifyRow, Shape, day_start, event_text, utc, write_compressed,
};
use super::{DAY_US, DemoError, Event, as_uuid};

/// The group type of the demo's accounts (`[sources.posthog] group_type`).
pub const GROUP_TYPE: &str = "company";

/// Where the events model is written, below the demo directory.
pub const EVENTS_DIR: &str = "posthog/events";
/// Where the persons model is written.
pub const PERSONS_DIR: &str = "posthog/persons";

fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("uuid", DataType::Utf8, false),
        Field::new("event", DataType::Utf8, false),
        Field::new("distinct_id", DataType::Utf8, false),
        Field::new("person_id", DataType::Utf8, false),
        Field::new("properties", DataType::Utf8, true),
        Field::new("person_properties", DataType::Utf8, true),
        Field::new("elements_chain", DataType::Utf8, true),
        Field::new("timestamp", utc(TimeUnit::Microsecond), false),
        Field::new("created_at", utc(TimeUnit::Microsecond), false),
        Field::new("_inserted_at", utc(TimeUnit::Microsecond), false),
    ]))
}

/// PostHog's batch-export models, with each user's email for `person_properties` (looked up
/// once, not per day's file).
pub(super) struct PostHog<'a> {
    emails: HashMap<&'a str, &'a str>,
}

impl<'a> PostHog<'a> {
    pub(super) fn new(accounts: &'a [Account]) -> Self {
        PostHog {
            emails: accounts
                .iter()
                .flat_map(|a| a.users.iter().map(|u| (u.id.as_str(), u.email.as_str())))
                .collect(),
        }
    }
}

impl Shape for PostHog<'_> {
    /// One load day's product events (`part`, already split by load day as the Segment `tracks`
    /// are) as the events model: the same ids, times and attribution; an event without a user is
    /// PostHog's anonymous event (no person profile) from the anonymous id.
    fn events(
        &self,
        ctx: &Context<'_>,
        part: &[&Event],
        date: NaiveDate,
        name: &str,
        stats: &mut DayStats,
    ) -> Result<(), DemoError> {
        let rows: Vec<Row> = part
            .iter()
            .map(|e| {
                let mut properties = Map::new();
                if let Some(account) = &e.account {
                    properties.insert("$groups".into(), json!({ GROUP_TYPE: account }));
                }
                properties.insert("$lib".into(), json!("web"));
                if let Some(rows) = e.row_count.filter(|_| e.event == "rows_imported") {
                    properties.insert("row_count".into(), json!(rows));
                }
                let (distinct_id, person_properties) = match &e.user {
                    Some(user) => (
                        user.clone(),
                        self.emails
                            .get(user.as_str())
                            .map(|m| json!({ "email": m })),
                    ),
                    None => {
                        properties.insert("$process_person_profile".into(), json!(false));
                        (e.anonymous_id.clone(), None)
                    }
                };
                Row {
                    uuid: e.id.clone(),
                    // PostHog keeps the name the app sent: `Feature Used`.
                    event: event_text(e.event),
                    distinct_id,
                    properties: Value::Object(properties),
                    person_properties,
                    timestamp: e.timestamp,
                    created_at: e.received_at,
                }
            })
            .collect();
        stats.tracks_rows += rows.len() as u64;
        stats.rows_imported_rows +=
            part.iter().filter(|e| e.event == "rows_imported").count() as u64;
        let path = ctx
            .out
            .join(EVENTS_DIR)
            .join(format!("day={date}"))
            .join(file_name(name));
        write_events(&path, &rows, stats)
    }

    /// The identify and group calls as `$identify` and `$groupidentify` events in the events
    /// model (by load day, beside the product events), and the persons model.
    ///
    /// An identify without its user is a `$set` from the anonymous id without a person profile;
    /// one without the account carries no `$groups`. A group call sets every trait when the
    /// account signs up and, when it grew, only `employees`, as `posthog.group()` sends what
    /// changed.
    fn identities(
        &self,
        ctx: &Context<'_>,
        accounts: &[Account],
        identifies: &[IdentifyRow],
        groups: &[GroupRow],
        stats: &mut DayStats,
    ) -> Result<(), DemoError> {
        let mut by_day: std::collections::BTreeMap<i64, Vec<Row>> = Default::default();
        for r in identifies {
            let day = r.received_at.div_euclid(DAY_US);
            by_day.entry(day).or_default().push(identify_row(r));
        }
        for g in groups {
            let day = g.received_at.div_euclid(DAY_US);
            by_day.entry(day).or_default().push(group_row(g));
        }
        for (day, rows) in &by_day {
            let date = date_of(*day as i32 + 719_163);
            let path = ctx
                .out
                .join(EVENTS_DIR)
                .join(format!("day={date}"))
                .join(file_name(&format!(
                    "identities-{}.parquet",
                    date.format("%Y%m%d")
                )));
            write_events(&path, rows, stats)?;
        }
        persons(ctx, accounts, identifies, stats)
    }
}

/// A PostHog person id for a distinct id: a stable UUID, as PostHog derives one.
pub fn person_id(distinct_id: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(distinct_id.as_bytes());
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    as_uuid(&hex)
}

/// One row of the events model.
struct Row {
    uuid: String,
    event: String,
    distinct_id: String,
    properties: Value,
    person_properties: Option<Value>,
    timestamp: i64,
    created_at: i64,
}

fn write_events(path: &Path, rows: &[Row], stats: &mut DayStats) -> Result<(), DemoError> {
    let n = rows.len();
    let mut uuid = StringBuilder::with_capacity(n, n * 36);
    let mut event = StringBuilder::with_capacity(n, n * 14);
    let mut distinct = StringBuilder::with_capacity(n, n * 14);
    let mut person = StringBuilder::with_capacity(n, n * 36);
    let mut props = StringBuilder::with_capacity(n, n * 64);
    let mut person_props = StringBuilder::with_capacity(n, n * 32);
    let mut elements = StringBuilder::with_capacity(n, 0);
    let mut ts = Micros::with_capacity(n).with_timezone("UTC");
    let mut created = Micros::with_capacity(n).with_timezone("UTC");
    for r in rows {
        uuid.append_value(&r.uuid);
        event.append_value(&r.event);
        distinct.append_value(&r.distinct_id);
        person.append_value(person_id(&r.distinct_id));
        props.append_value(r.properties.to_string());
        person_props.append_option(r.person_properties.as_ref().map(Value::to_string));
        elements.append_value("");
        ts.append_value(r.timestamp);
        created.append_value(r.created_at);
    }
    let created = created.finish();
    // Batch exports stamp each row when they export it: a few minutes after ingestion.
    let inserted: TimestampMicrosecondArray = created
        .iter()
        .map(|t| t.map(|t| t + 300_000_000))
        .collect::<TimestampMicrosecondArray>()
        .with_timezone("UTC");
    let columns: Vec<ArrayRef> = vec![
        Arc::new(uuid.finish()),
        Arc::new(event.finish()),
        Arc::new(distinct.finish()),
        Arc::new(person.finish()),
        Arc::new(props.finish()),
        Arc::new(person_props.finish()),
        Arc::new(elements.finish()),
        Arc::new(ts.finish()),
        Arc::new(created),
        Arc::new(inserted),
    ];
    write_compressed(path, events_schema(), columns, stats, zstd())
}

fn zstd() -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(3).expect("level 3 is valid"))
}

fn file_name(name: &str) -> String {
    // PostHog names a Parquet file by its compression too (`.parquet.zst`).
    format!("{name}.zst")
}

/// The persons model: one row per identified user's distinct id, with the latest properties.
fn persons(
    ctx: &Context<'_>,
    accounts: &[Account],
    identifies: &[IdentifyRow],
    stats: &mut DayStats,
) -> Result<(), DemoError> {
    // The person exists from the first identify with the user; each identify is a version.
    let mut first: HashMap<&str, (i64, i64)> = HashMap::new();
    for r in identifies {
        if let Some(user) = &r.user {
            let e = first.entry(user.as_str()).or_insert((r.timestamp, 0));
            e.0 = e.0.min(r.timestamp);
            e.1 += 1;
        }
    }
    let mut distinct = StringBuilder::new();
    let mut person = StringBuilder::new();
    let mut properties = StringBuilder::new();
    let mut version = Int64Builder::new();
    let mut id_version = Int64Builder::new();
    let mut created = Micros::new().with_timezone("UTC");
    let mut inserted = Micros::new().with_timezone("UTC");
    let mut deleted = BooleanBuilder::new();
    let mut team = Int64Builder::new();
    for a in accounts {
        for u in &a.users {
            let Some((at, versions)) = first.get(u.id.as_str()) else {
                continue;
            };
            team.append_value(1);
            distinct.append_value(&u.id);
            person.append_value(person_id(&u.id));
            properties.append_value(json!({ "email": u.email }).to_string());
            version.append_value(*versions);
            id_version.append_value(0);
            created.append_value(*at);
            inserted.append_value(day_start(ctx.last_day) + DAY_US - 1);
            deleted.append_value(false);
            stats.persons_rows += 1;
        }
    }
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("team_id", Arc::new(team.finish())),
        ("distinct_id", Arc::new(distinct.finish())),
        ("person_id", Arc::new(person.finish())),
        ("properties", Arc::new(properties.finish())),
        ("person_distinct_id_version", Arc::new(id_version.finish())),
        ("person_version", Arc::new(version.finish())),
        ("created_at", Arc::new(created.finish())),
        ("_inserted_at", Arc::new(inserted.finish())),
        ("is_deleted", Arc::new(deleted.finish())),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    write_compressed(
        &ctx.out.join(PERSONS_DIR).join("persons-00000.parquet.zst"),
        schema,
        columns.into_iter().map(|(_, a)| a).collect(),
        stats,
        zstd(),
    )
}

/// A Segment identify as PostHog records it: `$identify` for a known user (linking the
/// anonymous id), `$set` without a person profile for an anonymous one.
fn identify_row(r: &IdentifyRow) -> Row {
    let mut properties = Map::new();
    if let Some(account) = &r.account {
        properties.insert("$groups".into(), json!({ GROUP_TYPE: account }));
    }
    properties.insert("$set".into(), json!({ "email": r.email, "role": r.role }));
    let (event, distinct_id, person_properties) = match &r.user {
        Some(user) => {
            properties.insert("$anon_distinct_id".into(), json!(r.anonymous_id));
            ("$identify", user.clone(), Some(json!({ "email": r.email })))
        }
        None => {
            properties.insert("$process_person_profile".into(), json!(false));
            ("$set", r.anonymous_id.clone(), None)
        }
    };
    Row {
        uuid: as_uuid(&r.id),
        event: event.into(),
        distinct_id,
        properties: Value::Object(properties),
        person_properties,
        timestamp: r.timestamp,
        created_at: r.received_at,
    }
}

/// A Segment group call as PostHog's `$groupidentify`: every trait when the group is first
/// seen, only the employee count on an update.
fn group_row(g: &GroupRow) -> Row {
    let set = if g.update {
        json!({ "employees": g.employees })
    } else {
        json!({
            "name": g.name,
            "website": g.website,
            "employees": g.employees,
            "industry": g.industry,
            "plan": g.plan,
        })
    };
    Row {
        uuid: as_uuid(&g.id),
        event: "$groupidentify".into(),
        distinct_id: g.user.clone(),
        properties: json!({
            "$group_type": GROUP_TYPE,
            "$group_key": g.account,
            "$group_set": set,
            "$groups": { GROUP_TYPE: g.account },
        }),
        person_properties: None,
        timestamp: g.timestamp,
        created_at: g.received_at,
    }
}
