//! Writes generated rows as Parquet in the shapes Segment and Stripe export (or, for product
//! events, PostHog: `posthog.rs`). Timestamps are stored in different units on purpose (tracks
//! µs UTC, identifies ns without a zone, groups ms UTC, Stripe s UTC) so the normalisation of
//! sources is exercised by the demo itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
    TimestampMillisecondBuilder, TimestampNanosecondBuilder, TimestampSecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use rand::{Rng, RngExt};

use chrono::NaiveDate;
use pqlsync_core::atomic::AtomicFile;

use super::profile::{Account, Trial, date_of, rng_for};
use super::{DAY_US, DemoError, Event, add_noise, events_for};

pub struct Context<'a> {
    pub out: &'a Path,
    pub seed: u64,
    pub activity: f64,
    pub last_day: i32,
    pub shape: &'a dyn Shape,
}

#[derive(Debug, Default)]
pub struct DayStats {
    pub tracks_rows: u64,
    pub rows_imported_rows: u64,
    pub identifies_rows: u64,
    pub groups_rows: u64,
    pub subscriptions_rows: u64,
    pub persons_rows: u64,
    pub files: u64,
    pub bytes: u64,
}

pub(super) fn utc(unit: TimeUnit) -> DataType {
    DataType::Timestamp(unit, Some("UTC".into()))
}

pub(super) fn write_parquet(
    path: &Path,
    schema: SchemaRef,
    columns: Vec<ArrayRef>,
    stats: &mut DayStats,
) -> Result<(), DemoError> {
    write_compressed(path, schema, columns, stats, Compression::SNAPPY)
}

pub(super) fn write_compressed(
    path: &Path,
    schema: SchemaRef,
    columns: Vec<ArrayRef>,
    stats: &mut DayStats,
    compression: Compression,
) -> Result<(), DemoError> {
    let err = |message: String| DemoError::Write {
        path: path.to_path_buf(),
        message,
    };
    let batch =
        RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| err(e.to_string()))?;
    // Whole or not at all, like every file pqlsync writes: an interrupted demo-data run must
    // not leave a truncated Parquet file for the next `run` to trip on.
    let file = AtomicFile::create(path).map_err(|e| err(e.to_string()))?;
    let sink = file.reopen().map_err(|e| err(e.to_string()))?;
    // ~128k-row groups, as Segment's, PostHog's and most warehouses' exporters write.
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(131_072))
        .build();
    let mut w = ArrowWriter::try_new(sink, schema, Some(props)).map_err(|e| err(e.to_string()))?;
    w.write(&batch).map_err(|e| err(e.to_string()))?;
    w.close().map_err(|e| err(e.to_string()))?;
    file.commit().map_err(|e| err(e.to_string()))?;
    stats.files += 1;
    stats.bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(())
}

fn tracks_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("anonymous_id", DataType::Utf8, true),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("event", DataType::Utf8, false),
        Field::new("event_text", DataType::Utf8, false),
        Field::new("timestamp", utc(TimeUnit::Microsecond), false),
        Field::new("received_at", utc(TimeUnit::Microsecond), false),
        Field::new("context_group_id", DataType::Utf8, true),
        Field::new("context_library_name", DataType::Utf8, true),
    ]))
}

fn rows_imported_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("context_group_id", DataType::Utf8, true),
        Field::new("timestamp", utc(TimeUnit::Microsecond), false),
        Field::new("received_at", utc(TimeUnit::Microsecond), false),
        Field::new("row_count", DataType::Int64, false),
        Field::new("source", DataType::Utf8, true),
    ]))
}

pub(super) fn event_text(event: &str) -> String {
    event
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn tracks_columns(events: &[&Event]) -> Vec<ArrayRef> {
    let n = events.len();
    let mut id = StringBuilder::with_capacity(n, n * 36);
    let mut anon = StringBuilder::with_capacity(n, n * 20);
    let mut user = StringBuilder::with_capacity(n, n * 14);
    let mut event = StringBuilder::with_capacity(n, n * 12);
    let mut text = StringBuilder::with_capacity(n, n * 12);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut rec = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut group = StringBuilder::with_capacity(n, n * 11);
    let mut lib = StringBuilder::with_capacity(n, n * 10);
    for e in events {
        id.append_value(&e.id);
        anon.append_value(&e.anonymous_id);
        user.append_option(e.user.as_deref());
        event.append_value(e.event);
        text.append_value(event_text(e.event));
        ts.append_value(e.timestamp);
        rec.append_value(e.received_at);
        group.append_option(e.account.as_deref());
        lib.append_value("analytics.js");
    }
    vec![
        Arc::new(id.finish()),
        Arc::new(anon.finish()),
        Arc::new(user.finish()),
        Arc::new(event.finish()),
        Arc::new(text.finish()),
        Arc::new(ts.finish()),
        Arc::new(rec.finish()),
        Arc::new(group.finish()),
        Arc::new(lib.finish()),
    ]
}

fn rows_imported_columns(events: &[&Event]) -> Vec<ArrayRef> {
    let n = events.len();
    let mut id = StringBuilder::with_capacity(n, n * 36);
    let mut user = StringBuilder::with_capacity(n, n * 14);
    let mut group = StringBuilder::with_capacity(n, n * 11);
    let mut ts = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut rec = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut rows = Int64Builder::with_capacity(n);
    let mut source = StringBuilder::with_capacity(n, n * 4);
    for e in events {
        id.append_value(&e.id);
        user.append_option(e.user.as_deref());
        group.append_option(e.account.as_deref());
        ts.append_value(e.timestamp);
        rec.append_value(e.received_at);
        rows.append_value(e.row_count.unwrap_or(0));
        source.append_value("csv");
    }
    vec![
        Arc::new(id.finish()),
        Arc::new(user.finish()),
        Arc::new(group.finish()),
        Arc::new(ts.finish()),
        Arc::new(rec.finish()),
        Arc::new(rows.finish()),
        Arc::new(source.finish()),
    ]
}

/// Events of one day (by event time), split into partitions by load day (`received_at`).
/// Events not loaded by the end of the last day are not in the export yet.
pub fn day(ctx: &Context<'_>, accounts: &[Account], day: i32) -> Result<DayStats, DemoError> {
    let mut rng = rng_for(ctx.seed, 2, day as u64);
    let mut events = Vec::new();
    for a in accounts {
        events.extend(events_for(&mut rng, a, day, ctx.activity));
    }
    add_noise(&mut rng, &mut events);
    let end_of_data = i64::from(ctx.last_day - 719_163 + 1) * DAY_US;
    let mut stats = DayStats::default();
    let loaded: Vec<&Event> = events
        .iter()
        .filter(|e| e.received_at < end_of_data)
        .collect();
    for offset in 0..=2 {
        let load_day = day + offset;
        let start = i64::from(load_day - 719_163) * DAY_US;
        let part: Vec<&Event> = loaded
            .iter()
            .copied()
            .filter(|e| e.received_at >= start && e.received_at < start + DAY_US)
            .collect();
        if part.is_empty() {
            continue;
        }
        let date = date_of(load_day);
        let name = if offset == 0 {
            format!("part-{}.parquet", date.format("%Y%m%d"))
        } else {
            format!("late-from-{}.parquet", date_of(day).format("%Y%m%d"))
        };
        ctx.shape.events(ctx, &part, date, &name, &mut stats)?;
    }
    Ok(stats)
}

/// How product events, identify calls and group calls are written: Segment's tables
/// ([`Segment`]) or PostHog's models (`posthog::PostHog`). The rows are drawn before, the same
/// for every shape.
pub(super) trait Shape: Sync {
    /// One load day's events (`part`), as the file `name` of that day's partition.
    fn events(
        &self,
        ctx: &Context<'_>,
        part: &[&Event],
        date: NaiveDate,
        name: &str,
        stats: &mut DayStats,
    ) -> Result<(), DemoError>;

    /// Every identify and group call, as of the end of the last day.
    fn identities(
        &self,
        ctx: &Context<'_>,
        accounts: &[Account],
        identifies: &[IdentifyRow],
        groups: &[GroupRow],
        stats: &mut DayStats,
    ) -> Result<(), DemoError>;
}

/// Segment's warehouse tables: `tracks` and the `rows_imported` event table by load day,
/// `identifies`, `groups`.
pub(super) struct Segment;

impl Shape for Segment {
    fn events(
        &self,
        ctx: &Context<'_>,
        part: &[&Event],
        date: NaiveDate,
        name: &str,
        stats: &mut DayStats,
    ) -> Result<(), DemoError> {
        let path: PathBuf = ctx
            .out
            .join("tracks")
            .join(format!("day={date}"))
            .join(name);
        write_parquet(&path, tracks_schema(), tracks_columns(part), stats)?;
        stats.tracks_rows += part.len() as u64;
        let imports: Vec<&Event> = part
            .iter()
            .copied()
            .filter(|e| e.event == "rows_imported")
            .collect();
        if !imports.is_empty() {
            let path = ctx
                .out
                .join("events/rows_imported")
                .join(format!("day={date}"))
                .join(name);
            write_parquet(
                &path,
                rows_imported_schema(),
                rows_imported_columns(&imports),
                stats,
            )?;
            stats.rows_imported_rows += imports.len() as u64;
        }
        Ok(())
    }

    fn identities(
        &self,
        ctx: &Context<'_>,
        _accounts: &[Account],
        identifies: &[IdentifyRow],
        groups: &[GroupRow],
        stats: &mut DayStats,
    ) -> Result<(), DemoError> {
        write_identifies(ctx, identifies, stats)?;
        write_groups(ctx, groups, stats)
    }
}

/// Writes one Parquet file whose schema is read off its columns: (name, nullable, values).
fn write_table(
    path: &Path,
    columns: Vec<(&str, bool, ArrayRef)>,
    stats: &mut DayStats,
) -> Result<(), DemoError> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, nullable, a)| Field::new(*name, a.data_type().clone(), *nullable))
        .collect();
    let arrays = columns.into_iter().map(|(_, _, a)| a).collect();
    write_parquet(path, Arc::new(Schema::new(fields)), arrays, stats)
}

pub(super) fn day_start(d: i32) -> i64 {
    i64::from(d - 719_163) * DAY_US
}

/// `identifies` (one row per user joining, some re-identified) and `groups` (a row per account
/// at sign-up, some updated later), as of the end of the last day. Both draw from one seeded
/// stream, identifies first, so their order here is part of the demo data; the rows are drawn
/// the same way for every format and only written differently.
pub fn identities(ctx: &Context<'_>, accounts: &[Account]) -> Result<DayStats, DemoError> {
    let mut rng = rng_for(ctx.seed, 3, 0);
    let mut stats = DayStats::default();
    let identifies = identify_rows(ctx, accounts, &mut rng);
    let groups = group_rows(ctx, accounts, &mut rng);
    stats.identifies_rows = identifies.len() as u64;
    stats.groups_rows = groups.len() as u64;
    ctx.shape
        .identities(ctx, accounts, &identifies, &groups, &mut stats)?;
    Ok(stats)
}

/// One identify call.
pub(super) struct IdentifyRow {
    pub id: String,
    /// `None`: an identify that arrived without its user.
    pub user: Option<String>,
    pub anonymous_id: String,
    pub email: String,
    /// Microseconds since the epoch.
    pub timestamp: i64,
    pub received_at: i64,
    pub account: Option<String>,
    pub role: &'static str,
}

/// One group call.
pub(super) struct GroupRow {
    pub id: String,
    pub account: String,
    pub user: String,
    /// Microseconds since the epoch (whole milliseconds).
    pub timestamp: i64,
    pub received_at: i64,
    pub name: String,
    pub website: Option<String>,
    pub employees: Option<i64>,
    pub industry: Option<String>,
    pub plan: &'static str,
    /// A later call after the account grew: only `employees` changed.
    pub update: bool,
}

fn identify_rows(ctx: &Context<'_>, accounts: &[Account], rng: &mut impl Rng) -> Vec<IdentifyRow> {
    let mut rows = Vec::new();
    for a in accounts {
        for (k, u) in a.users.iter().enumerate() {
            if u.joined > ctx.last_day {
                continue;
            }
            let again = rng
                .random_bool(0.1)
                .then(|| u.joined + rng.random_range(1..30))
                .filter(|d| *d <= ctx.last_day);
            for d in std::iter::once(u.joined).chain(again) {
                let t = day_start(d) + rng.random_range(0..DAY_US);
                let id = format!("{:032x}", rng.random::<u128>());
                // A few identify calls arrive without a user or without the account.
                let anonymous = rng.random_bool(0.004);
                let account = (!rng.random_bool(0.004)).then(|| a.id.clone());
                rows.push(IdentifyRow {
                    id,
                    user: (!anonymous).then(|| u.id.clone()),
                    anonymous_id: format!("anon_{}", u.id),
                    email: u.email.clone(),
                    timestamp: t,
                    received_at: t + 2_000_000,
                    account,
                    role: if k == 0 { "admin" } else { "member" },
                });
            }
        }
    }
    rows
}

fn group_rows(ctx: &Context<'_>, accounts: &[Account], rng: &mut impl Rng) -> Vec<GroupRow> {
    let mut out = Vec::new();
    for a in accounts {
        let mut rows = vec![(a.created, a.employees, false)];
        if let Some(d) = a.regroup.filter(|d| *d <= ctx.last_day) {
            // Grew, and told us.
            let grown = a.employees.map(|e| e + e / 5 + 1);
            rows.push((d, grown, true));
        }
        for (d, employees, update) in rows {
            let t = (day_start(d) + rng.random_range(0..DAY_US)) / 1_000;
            out.push(GroupRow {
                id: format!("{:032x}", rng.random::<u128>()),
                account: a.id.clone(),
                user: a.users[0].id.clone(),
                timestamp: t * 1_000,
                received_at: (t + 1_500) * 1_000,
                name: a.name.clone(),
                website: a.website.clone(),
                employees,
                industry: a.industry.clone(),
                plan: a.plan,
                update,
            });
        }
    }
    out
}

fn write_identifies(
    ctx: &Context<'_>,
    rows: &[IdentifyRow],
    stats: &mut DayStats,
) -> Result<(), DemoError> {
    let mut id = StringBuilder::new();
    let mut user = StringBuilder::new();
    let mut anon = StringBuilder::new();
    let mut email = StringBuilder::new();
    let mut ts = TimestampNanosecondBuilder::new();
    let mut rec = TimestampNanosecondBuilder::new();
    let mut group = StringBuilder::new();
    let mut role = StringBuilder::new();
    for r in rows {
        id.append_value(&r.id);
        user.append_option(r.user.as_deref());
        anon.append_value(&r.anonymous_id);
        email.append_value(&r.email);
        ts.append_value(r.timestamp * 1_000);
        rec.append_value(r.received_at * 1_000);
        group.append_option(r.account.as_deref());
        role.append_value(r.role);
    }
    write_table(
        &ctx.out.join("identifies/part-00000.parquet"),
        vec![
            ("id", false, Arc::new(id.finish())),
            ("user_id", true, Arc::new(user.finish())),
            ("anonymous_id", true, Arc::new(anon.finish())),
            ("email", true, Arc::new(email.finish())),
            ("timestamp", false, Arc::new(ts.finish())),
            ("received_at", false, Arc::new(rec.finish())),
            ("context_group_id", true, Arc::new(group.finish())),
            ("role", true, Arc::new(role.finish())),
        ],
        stats,
    )
}

fn write_groups(
    ctx: &Context<'_>,
    rows: &[GroupRow],
    stats: &mut DayStats,
) -> Result<(), DemoError> {
    let mut id = StringBuilder::new();
    let mut group_id = StringBuilder::new();
    let mut user = StringBuilder::new();
    let mut ts = TimestampMillisecondBuilder::new().with_timezone("UTC");
    let mut rec = TimestampMillisecondBuilder::new().with_timezone("UTC");
    let mut name = StringBuilder::new();
    let mut website = StringBuilder::new();
    let mut employees = Int64Builder::new();
    let mut industry = StringBuilder::new();
    let mut plan = StringBuilder::new();
    for r in rows {
        id.append_value(&r.id);
        group_id.append_value(&r.account);
        user.append_value(&r.user);
        ts.append_value(r.timestamp / 1_000);
        rec.append_value(r.received_at / 1_000);
        name.append_value(&r.name);
        website.append_option(r.website.as_deref());
        employees.append_option(r.employees);
        industry.append_option(r.industry.as_deref());
        plan.append_value(r.plan);
    }
    write_table(
        &ctx.out.join("groups.parquet"),
        vec![
            ("id", false, Arc::new(id.finish())),
            ("group_id", false, Arc::new(group_id.finish())),
            ("user_id", true, Arc::new(user.finish())),
            ("timestamp", false, Arc::new(ts.finish())),
            ("received_at", false, Arc::new(rec.finish())),
            ("name", true, Arc::new(name.finish())),
            ("website", true, Arc::new(website.finish())),
            ("employees", true, Arc::new(employees.finish())),
            ("industry", true, Arc::new(industry.finish())),
            ("plan", true, Arc::new(plan.finish())),
        ],
        stats,
    )
}

/// One Stripe subscription as the export shows it at the end of the last day.
struct Subscription {
    /// created, start_date, trial_start, trial_end, canceled_at, ended_at
    times: [Option<i64>; 6],
    status: &'static str,
    quantity: i64,
    yearly: bool,
    currency: &'static str,
    amount: i64,
}

/// Seconds since the epoch of `second` into day `day`.
fn epoch_second(day: i32, second: u32) -> i64 {
    i64::from(day - 719_163) * 86_400 + i64::from(second)
}

impl Subscription {
    /// The subscription a trial started through Stripe became by `last_day`.
    fn of_trial(a: &Account, t: &Trial, last_day: i32) -> Self {
        let now = epoch_second(last_day + 1, 0);
        let start = epoch_second(t.start_day, t.start_second);
        let end = epoch_second(t.end_day(), t.start_second);
        let mut times = [Some(start), Some(start), Some(start), Some(end), None, None];
        let status = if end >= now {
            "trialing"
        } else if !t.converts {
            times[4] = Some(end);
            times[5] = Some(end);
            "canceled"
        } else if let Some(churn) = t.churns_on.filter(|d| *d <= last_day) {
            times[4] = Some(epoch_second(churn, 3_600));
            times[5] = Some(epoch_second(churn, 3_600));
            "canceled"
        } else if t.past_due {
            "past_due"
        } else {
            "active"
        };
        // Teams buy the seats they have at checkout plus a quarter for growth; the users who
        // join later use up that headroom, and beyond it are an expansion signal.
        let seats = a.users.iter().filter(|u| u.joined <= t.end_day()).count();
        Subscription {
            times,
            status,
            quantity: (seats + seats / 4).max(1) as i64,
            yearly: t.yearly,
            currency: t.currency,
            amount: t.unit_amount,
        }
    }

    /// A direct purchase without a trial, five days after sign-up.
    fn direct(a: &Account) -> Self {
        let start = epoch_second(a.created + 5, 43_200);
        Subscription {
            times: [Some(start), Some(start), None, None, None, None],
            status: "active",
            quantity: a.users.len().min(5) as i64,
            yearly: false,
            currency: "usd",
            amount: 2_900,
        }
    }
}

/// The builders of Stripe's three exported tables.
struct StripeTables {
    s_id: StringBuilder,
    s_cus: StringBuilder,
    s_status: StringBuilder,
    s_ts: Vec<TimestampSecondBuilder>,
    s_qty: Int64Builder,
    s_price: StringBuilder,
    i_sub: StringBuilder,
    i_price: StringBuilder,
    i_amount: Int64Builder,
    i_cur: StringBuilder,
    i_int: StringBuilder,
    i_qty: Int64Builder,
    m_cus: StringBuilder,
    m_key: StringBuilder,
    m_val: StringBuilder,
}

impl StripeTables {
    fn new() -> Self {
        StripeTables {
            s_id: StringBuilder::new(),
            s_cus: StringBuilder::new(),
            s_status: StringBuilder::new(),
            s_ts: (0..6)
                .map(|_| TimestampSecondBuilder::new().with_timezone("UTC"))
                .collect(),
            s_qty: Int64Builder::new(),
            s_price: StringBuilder::new(),
            i_sub: StringBuilder::new(),
            i_price: StringBuilder::new(),
            i_amount: Int64Builder::new(),
            i_cur: StringBuilder::new(),
            i_int: StringBuilder::new(),
            i_qty: Int64Builder::new(),
            m_cus: StringBuilder::new(),
            m_key: StringBuilder::new(),
            m_val: StringBuilder::new(),
        }
    }

    /// The subscription row and its line item.
    fn subscription(&mut self, sub: &str, cus: &str, s: &Subscription) {
        self.s_id.append_value(sub);
        self.s_cus.append_value(cus);
        self.s_status.append_value(s.status);
        for (b, t) in self.s_ts.iter_mut().zip(s.times) {
            b.append_option(t);
        }
        self.s_qty.append_value(s.quantity);
        let interval = if s.yearly { "year" } else { "month" };
        let price = format!("price_team_{interval}ly_{}", s.currency);
        self.s_price.append_value(&price);
        self.i_sub.append_value(sub);
        self.i_price.append_value(&price);
        self.i_amount.append_value(s.amount);
        self.i_cur.append_value(s.currency);
        self.i_int.append_value(interval);
        self.i_qty.append_value(s.quantity);
    }

    fn metadata(&mut self, cus: &str, key: &str, value: &str) {
        self.m_cus.append_value(cus);
        self.m_key.append_value(key);
        self.m_val.append_value(value);
    }

    fn write(mut self, out: &Path, stats: &mut DayStats) -> Result<(), DemoError> {
        let [created, start, trial_start, trial_end, canceled, ended] =
            std::array::from_fn(|k| Arc::new(self.s_ts[k].finish()) as ArrayRef);
        write_table(
            &out.join("stripe/subscriptions.parquet"),
            vec![
                ("id", false, Arc::new(self.s_id.finish())),
                ("customer_id", false, Arc::new(self.s_cus.finish())),
                ("status", false, Arc::new(self.s_status.finish())),
                ("created", true, created),
                ("start_date", true, start),
                ("trial_start", true, trial_start),
                ("trial_end", true, trial_end),
                ("canceled_at", true, canceled),
                ("ended_at", true, ended),
                ("quantity", true, Arc::new(self.s_qty.finish())),
                ("price_id", true, Arc::new(self.s_price.finish())),
            ],
            stats,
        )?;
        write_table(
            &out.join("stripe/subscription_items.parquet"),
            vec![
                ("subscription_id", false, Arc::new(self.i_sub.finish())),
                ("price_id", false, Arc::new(self.i_price.finish())),
                ("price_unit_amount", false, Arc::new(self.i_amount.finish())),
                ("price_currency", false, Arc::new(self.i_cur.finish())),
                (
                    "price_recurring_interval",
                    false,
                    Arc::new(self.i_int.finish()),
                ),
                ("quantity", false, Arc::new(self.i_qty.finish())),
            ],
            stats,
        )?;
        write_table(
            &out.join("stripe/customers_metadata.parquet"),
            vec![
                ("customer_id", false, Arc::new(self.m_cus.finish())),
                ("key", false, Arc::new(self.m_key.finish())),
                ("value", false, Arc::new(self.m_val.finish())),
            ],
            stats,
        )
    }
}

/// Stripe as exported at the end of the last day: one subscription per Stripe trial (and a few
/// direct purchases without a trial), its line item, and customer metadata.
pub fn stripe(ctx: &Context<'_>, accounts: &[Account]) -> Result<DayStats, DemoError> {
    let mut rng = rng_for(ctx.seed, 4, 0);
    let mut stats = DayStats::default();
    let mut tables = StripeTables::new();
    for a in accounts {
        // The draws below run in this order for every account; the demo data depends on it.
        let direct = a.trial.is_none() && rng.random_bool(0.04) && a.created + 5 <= ctx.last_day;
        let trial = a
            .trial
            .as_ref()
            .filter(|t| t.stripe && t.start_day <= ctx.last_day);
        let subscription = match trial {
            Some(t) => Subscription::of_trial(a, t, ctx.last_day),
            None if direct => Subscription::direct(a),
            None => continue,
        };
        let cus = format!("cus_{:06}", a.index);
        tables.subscription(&format!("sub_{:06}", a.index), &cus, &subscription);
        // One customer in a hundred was created by hand and never got its account id.
        if !rng.random_bool(0.01) {
            tables.metadata(&cus, "account_id", &a.id);
        }
        let source = if rng.random_bool(0.7) { "web" } else { "sales" };
        tables.metadata(&cus, "signup_source", source);
        stats.subscriptions_rows += 1;
    }
    tables.write(ctx.out, &mut stats)?;
    Ok(stats)
}
