//! The feature SQL over small hand-built exports, one rule per account, at the boundaries:
//! the exact end of the scoring day and start of the 14-day window, duplicate and id-less
//! messages, the latest group call, seats identified after the day, trials ending exactly at
//! midnight, event-only trials, MRR across intervals and currencies, a custom Stripe key — and
//! timestamps stored as µs UTC, ns without a zone, ms at +02:00 and INT96, in one dataset.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::common::*;
use datafusion::arrow::array::{
    ArrayRef, Int64Array, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray,
};
use datafusion::parquet::data_type::{ByteArray, ByteArrayType, Int96, Int96Type};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::writer::SerializedFileWriter;
use datafusion::parquet::schema::parser::parse_message_type;
use pqlsync_sql::value::Value;

const S: i64 = 1_000_000;
const DAY: i64 = 86_400 * S;
/// 2026-11-21T00:00:00Z: `$as_of` for the scoring day 2026-11-20.
const A: i64 = 1_795_219_200 * S;
/// Start of the 14-day window.
const W: i64 = A - 14 * DAY;

#[derive(Clone, Copy)]
struct Track {
    id: Option<&'static str>,
    account: Option<&'static str>,
    user: Option<&'static str>,
    event: &'static str,
    ts: i64,
}

fn t(id: &'static str, account: &'static str, event: &'static str, ts: i64) -> Track {
    Track {
        id: Some(id),
        account: Some(account),
        user: Some("u1"),
        event,
        ts,
    }
}

#[derive(Clone, Copy)]
enum Unit {
    MicrosUtc,
    NanosNaive,
    MillisPlus2,
}

fn write_tracks(path: &Path, rows: &[Track], unit: Unit) {
    let ts: ArrayRef = match unit {
        Unit::MicrosUtc => Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.ts))
                .with_timezone("UTC"),
        ),
        Unit::NanosNaive => Arc::new(TimestampNanosecondArray::from_iter_values(
            rows.iter().map(|r| r.ts * 1_000),
        )),
        Unit::MillisPlus2 => Arc::new(
            TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| {
                assert_eq!(r.ts % 1_000, 0, "ms file needs whole milliseconds");
                r.ts / 1_000
            }))
            .with_timezone("+02:00"),
        ),
    };
    write_batch(
        path,
        vec![
            ("id", strings(rows.iter().map(|r| r.id))),
            ("user_id", strings(rows.iter().map(|r| r.user))),
            ("event", strings(rows.iter().map(|r| Some(r.event)))),
            ("timestamp", ts),
            ("context_group_id", strings(rows.iter().map(|r| r.account))),
        ],
    );
}

/// Tracks rows with an INT96 `timestamp`, as Spark and older Hive exporters write.
fn write_tracks_int96(path: &Path, rows: &[Track]) {
    let schema = Arc::new(
        parse_message_type(
            "message schema { REQUIRED BYTE_ARRAY id (UTF8); REQUIRED BYTE_ARRAY user_id (UTF8); \
             REQUIRED BYTE_ARRAY event (UTF8); REQUIRED INT96 timestamp; REQUIRED BYTE_ARRAY context_group_id (UTF8); }",
        )
        .unwrap(),
    );
    let mut writer = SerializedFileWriter::new(
        File::create(path).unwrap(),
        schema,
        Arc::new(WriterProperties::builder().build()),
    )
    .unwrap();
    let mut group = writer.next_row_group().unwrap();
    let text = |f: fn(&Track) -> &str| -> Vec<ByteArray> {
        rows.iter().map(|r| ByteArray::from(f(r))).collect()
    };
    for values in [
        text(|r| r.id.unwrap()),
        text(|r| r.user.unwrap()),
        text(|r| r.event),
    ] {
        let mut col = group.next_column().unwrap().unwrap();
        col.typed::<ByteArrayType>()
            .write_batch(&values, None, None)
            .unwrap();
        col.close().unwrap();
    }
    let stamps: Vec<Int96> = rows
        .iter()
        .map(|r| {
            let nanos = r.ts.rem_euclid(DAY) * 1_000;
            let julian = r.ts.div_euclid(DAY) + 2_440_588;
            let mut v = Int96::new();
            v.set_data(nanos as u32, (nanos >> 32) as u32, julian as u32);
            v
        })
        .collect();
    let mut col = group.next_column().unwrap().unwrap();
    col.typed::<Int96Type>()
        .write_batch(&stamps, None, None)
        .unwrap();
    col.close().unwrap();
    let mut col = group.next_column().unwrap().unwrap();
    col.typed::<ByteArrayType>()
        .write_batch(&text(|r| r.account.unwrap()), None, None)
        .unwrap();
    col.close().unwrap();
    group.close().unwrap();
    writer.close().unwrap();
}

fn micros(v: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter(v).with_timezone("UTC"))
}

fn ints(v: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from_iter(v))
}

/// Build every dataset; returns the data directory.
fn build(dir: &Path) -> std::path::PathBuf {
    let d = dir.join("data");
    // acct_a: window boundaries, duplicates, id-less copies, four timestamp encodings.
    write_tracks(
        &d.join("tracks/a-micros.parquet"),
        &[
            t("a1", "acct_a", "deal_created", A - 1), // last instant of the day: in
            t("a2", "acct_a", "deal_created", A),     // first instant after: out
            t("a3", "acct_a", "deal_created", W),     // first instant of the window: in
            t("a4", "acct_a", "deal_created", W - 1), // just before the window: lifetime only
            Track {
                id: Some("x1"),
                account: None,
                user: Some("u9"),
                event: "page_viewed",
                ts: A - DAY,
            },
            Track {
                id: Some("x2"),
                account: Some("acct_a"),
                user: None,
                event: "page_viewed",
                ts: A - 2 * DAY,
            },
            t("b1", "acct_b", "page_viewed", A - 3 * DAY - 5 * S), // acct_b last seen 3 days before
            t("e1", "acct_e", "trial_started", A - 20 * DAY),
            t("f1", "acct_f", "trial_started", A - 10 * DAY),
            t("f2", "acct_f", "trial_extended", A - 3 * DAY),
            t("g1", "acct_g", "trial_started", A - 10 * DAY),
            t("g2", "acct_g", "trial_ended", A - 2 * DAY),
            t("g3", "acct_g", "trial_started", A + DAY), // after the day: ignored
        ],
        Unit::MicrosUtc,
    );
    write_tracks(
        &d.join("tracks/a-nanos.parquet"),
        &[
            t("dup", "acct_a", "teammate_invited", W + DAY),
            t("dup", "acct_a", "teammate_invited", W + DAY),
        ],
        Unit::NanosNaive,
    );
    let idless = Track {
        id: None,
        account: Some("acct_a"),
        user: Some("u2"),
        event: "pricing_page_viewed",
        ts: W + 2 * DAY + 7_000,
    };
    write_tracks(
        &d.join("tracks/a-millis.parquet"),
        &[idless, idless],
        Unit::MillisPlus2,
    );
    write_tracks_int96(
        &d.join("tracks/a-int96.parquet"),
        &[t(
            "i1",
            "acct_a",
            "integration_connected",
            W - 10 * DAY + 123,
        )],
    );

    // identifies: acct_c's users mostly on gmail; one identified after the day.
    let ident = [
        (Some("acct_a"), Some("u1"), "u1@a.example", A - 30 * DAY),
        (Some("acct_a"), Some("u2"), "u2@a.example", A - 30 * DAY),
        (Some("acct_b"), Some("b1"), "b1@acme-corp.com", A - 30 * DAY),
        (Some("acct_c"), Some("c1"), "c1@gmail.com", A - 30 * DAY),
        (Some("acct_c"), Some("c2"), " C2@Gmail.com ", A - 20 * DAY),
        (Some("acct_c"), Some("c3"), "c3@c.io", A - 10 * DAY),
        (Some("acct_c"), Some("c4"), "c4@c.io", A),
        (None, Some("c5"), "c5@c.io", A - 10 * DAY),
        (Some("acct_c"), None, "anon@c.io", A - 10 * DAY),
        // Contacts: u1's later email wins, an address-less one and one at the end of the
        // day do not; pat is in two accounts, identified in acct_c first.
        (Some("acct_a"), Some("u1"), "u1.new@a.example", A - 5 * DAY),
        (Some("acct_a"), Some("u2"), "u2.later@a.example", A),
        (Some("acct_b"), Some("b1"), "not-an-email", A - 2 * DAY),
        (
            Some("acct_c"),
            Some("pat"),
            "pat@shared.example",
            A - 25 * DAY,
        ),
        (
            Some("acct_b"),
            Some("pat"),
            "Pat@Shared.example",
            A - 3 * DAY,
        ),
    ];
    write_batch(
        &d.join("identifies/identifies.parquet"),
        vec![
            ("user_id", strings(ident.iter().map(|r| r.1))),
            ("email", strings(ident.iter().map(|r| Some(r.2)))),
            ("timestamp", micros(ident.iter().map(|r| Some(r.3)))),
            ("context_group_id", strings(ident.iter().map(|r| r.0))),
        ],
    );

    // groups: acct_b's later call wins; acct_d appears only at the end of the day.
    // (group_id, timestamp, website, employees, industry)
    type Group = (
        &'static str,
        i64,
        Option<&'static str>,
        Option<i64>,
        Option<&'static str>,
    );
    let groups: [Group; 11] = [
        (
            "acct_a",
            A - 60 * DAY,
            Some("a.example"),
            Some(12),
            Some("software"),
        ),
        (
            "acct_b",
            A - 60 * DAY,
            Some("www.gmail.com"),
            Some(5),
            Some("retail"),
        ),
        (
            "acct_b",
            A - 5 * DAY,
            Some("https://www.Acme-Corp.com/about?x=1"),
            Some(80),
            Some(" SaaS "),
        ),
        ("acct_c", A - 60 * DAY, None, None, None),
        ("acct_d", A, Some("d.example"), Some(1), None),
        ("acct_e", A - 60 * DAY, Some("e.example"), None, None),
        ("acct_f", A - 60 * DAY, Some("f.example"), None, None),
        ("acct_g", A - 60 * DAY, Some("g.example"), None, None),
        ("acct_h", A - 60 * DAY, Some("h.example"), None, None),
        ("acct_i", A - 60 * DAY, Some("i.example"), None, None),
        ("acct_j", A - 60 * DAY, Some("j.example"), None, None),
    ];
    write_batch(
        &d.join("groups.parquet"),
        vec![
            ("group_id", strings(groups.iter().map(|g| Some(g.0)))),
            ("timestamp", micros(groups.iter().map(|g| Some(g.1)))),
            ("website", strings(groups.iter().map(|g| g.2))),
            ("employees", ints(groups.iter().map(|g| g.3))),
            ("industry", strings(groups.iter().map(|g| g.4))),
        ],
    );

    // Stripe. acct_b: trial ends exactly at midnight after the day → still live.
    // acct_h: trial ended a second before, converted, yearly price. acct_i: two currencies.
    // acct_j: a trial subscription created after the day → not yet there.
    // (id, customer, status, created, trial_start, trial_end, ended_at)
    type Sub = (
        &'static str,
        &'static str,
        &'static str,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let subs: [Sub; 5] = [
        (
            "sub_b",
            "cus_b",
            "trialing",
            A - 10 * DAY,
            Some(A - 10 * DAY),
            Some(A),
            None,
        ),
        (
            "sub_h",
            "cus_h",
            "active",
            A - 20 * DAY,
            Some(A - 20 * DAY),
            Some(A - S),
            None,
        ),
        ("sub_i1", "cus_i", "active", A - 50 * DAY, None, None, None),
        (
            "sub_i2",
            "cus_i",
            "past_due",
            A - 40 * DAY,
            None,
            None,
            None,
        ),
        (
            "sub_j",
            "cus_j",
            "trialing",
            A + 1,
            Some(A + 1),
            Some(A + 14 * DAY),
            None,
        ),
    ];
    write_batch(
        &d.join("stripe/subscriptions.parquet"),
        vec![
            ("id", strings(subs.iter().map(|s| Some(s.0)))),
            ("customer_id", strings(subs.iter().map(|s| Some(s.1)))),
            ("status", strings(subs.iter().map(|s| Some(s.2)))),
            ("created", micros(subs.iter().map(|s| Some(s.3)))),
            ("start_date", micros(subs.iter().map(|s| Some(s.3)))),
            ("trial_start", micros(subs.iter().map(|s| s.4))),
            ("trial_end", micros(subs.iter().map(|s| s.5))),
            ("canceled_at", micros(subs.iter().map(|_| None))),
            ("ended_at", micros(subs.iter().map(|s| s.6))),
        ],
    );
    let items = [
        ("sub_b", 2_900, "usd", "month", 3),
        ("sub_h", 12_000, "usd", "year", 2),
        ("sub_i1", 1_000, "usd", "month", 1),
        ("sub_i2", 1_000, "eur", "month", 1),
        ("sub_j", 2_900, "usd", "month", 1),
    ];
    write_batch(
        &d.join("stripe/subscription_items.parquet"),
        vec![
            ("subscription_id", strings(items.iter().map(|i| Some(i.0)))),
            ("price_unit_amount", ints(items.iter().map(|i| Some(i.1)))),
            ("price_currency", strings(items.iter().map(|i| Some(i.2)))),
            (
                "price_recurring_interval",
                strings(items.iter().map(|i| Some(i.3))),
            ),
            ("quantity", ints(items.iter().map(|i| Some(i.4)))),
        ],
    );
    // The account id is under `workspace`; `account_id` holds a decoy that must be ignored.
    let meta = [
        ("cus_b", "workspace", "acct_b"),
        ("cus_b", "account_id", "acct_x"),
        ("cus_h", "workspace", "acct_h"),
        ("cus_i", "workspace", "acct_i"),
        ("cus_j", "workspace", "acct_j"),
    ];
    write_batch(
        &d.join("stripe/customers_metadata.parquet"),
        vec![
            ("customer_id", strings(meta.iter().map(|m| Some(m.0)))),
            ("key", strings(meta.iter().map(|m| Some(m.1)))),
            ("value", strings(meta.iter().map(|m| Some(m.2)))),
        ],
    );
    d
}

fn write_config(dir: &Path) {
    let data = build(dir);
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let config = format!(
        r#"
[sources]
tracks = "{d}/tracks"
identifies = "{d}/identifies"
groups = "{d}/groups.parquet"
subscriptions = "{d}/stripe/subscriptions.parquet"
subscription_items = "{d}/stripe/subscription_items.parquet"
customers_metadata = "{d}/stripe/customers_metadata.parquet"
[sources.stripe]
account_id_key = "workspace"
[sql]
dir = "{sql}"
"#,
        d = data.display(),
        sql = sql.display()
    );
    std::fs::write(dir.join("pqlsync.toml"), config).unwrap();
}

fn features(dir: &Path) -> Vec<Vec<(String, Value)>> {
    write_config(dir);
    let out = dir.join("f.parquet");
    let o = pqlsync(dir)
        .args([
            "features",
            "--as-of",
            "2026-11-20",
            "--summary-json",
            "summary.json",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    read_rows(&out)
}

fn account<'a>(rows: &'a [Vec<(String, Value)>], id: &str) -> &'a [(String, Value)] {
    rows.iter()
        .find(|r| get(r, "account_id").as_str() == Some(id))
        .unwrap_or_else(|| panic!("{id} missing"))
}

fn check(rows: &[Vec<(String, Value)>], id: &str, expected: &[(&str, Value)]) {
    let row = account(rows, id);
    for (column, want) in expected {
        let got = get(row, column);
        let same = match (got, want) {
            (Value::Float(a), Value::Int(b)) => *a == *b as f64,
            (a, b) => a == b,
        };
        assert!(same, "{id}.{column}: got {got:?}, want {want:?}");
    }
}

#[test]
fn feature_sql_boundaries() {
    use Value::*;
    let dir = tempfile::tempdir().unwrap();
    let rows = features(dir.path());
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| get(r, "account_id").as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&"acct_d"),
        "an account first grouped after the day must not exist yet"
    );
    assert_eq!(rows.len(), 9);

    check(
        &rows,
        "acct_a",
        &[
            ("deals_created_14d", Int(2)),
            ("teammates_invited_14d", Int(1)),
            ("pricing_page_views_14d", Int(1)),
            ("events_14d", Int(5)),
            ("active_users_14d", Int(2)),
            ("active_days_14d", Int(5)),
            ("integrations_connected", Int(1)),
            ("last_seen_at", Timestamp(A - 1)),
            ("days_since_last_activity", Int(0)),
            ("rows_imported_14d", Int(0)),
            ("duplicate_events_14d", Int(2)),
            ("seats", Int(2)),
            ("email_domain", Str("a.example".into())),
            ("free_email_domain", Bool(false)),
            ("trial_status", Str("none".into())),
            ("subscription_status", Str("none".into())),
            ("mrr", Int(0)),
        ],
    );
    check(
        &rows,
        "acct_b",
        &[
            ("employees", Int(80)),
            ("industry", Str("saas".into())),
            ("email_domain", Str("acme-corp.com".into())),
            ("free_email_domain", Bool(false)),
            ("days_since_last_activity", Int(3)),
            ("trial_start", Timestamp(A - 10 * DAY)),
            ("trial_end", Timestamp(A)),
            ("trial_status", Str("live".into())),
            ("subscription_status", Str("trialing".into())),
            ("mrr", Int(0)),
        ],
    );
    check(
        &rows,
        "acct_c",
        &[
            ("seats", Int(4)),
            ("events_14d", Int(0)),
            ("active_users_14d", Int(0)),
            ("last_seen_at", Null),
            ("days_since_last_activity", Null),
            ("email_domain", Str("gmail.com".into())),
            ("free_email_domain", Bool(true)),
            ("employees", Null),
            ("trial_status", Str("none".into())),
        ],
    );
    check(
        &rows,
        "acct_e",
        &[
            ("trial_start", Timestamp(A - 20 * DAY)),
            ("trial_end", Timestamp(A - 6 * DAY)),
            ("trial_status", Str("ended".into())),
            ("email_domain", Str("e.example".into())),
            ("seats", Int(0)),
            ("free_email_domain", Bool(false)),
        ],
    );
    check(
        &rows,
        "acct_f",
        &[
            ("trial_end", Timestamp(A + 11 * DAY)),
            ("trial_status", Str("live".into())),
        ],
    );
    check(
        &rows,
        "acct_g",
        &[
            ("trial_end", Timestamp(A - 2 * DAY)),
            ("trial_status", Str("ended".into())),
        ],
    );
    check(
        &rows,
        "acct_h",
        &[
            ("trial_end", Timestamp(A - S)),
            ("trial_status", Str("ended".into())),
            ("subscription_status", Str("active".into())),
            ("mrr", Int(2_000)),
            ("mrr_currency", Str("usd".into())),
        ],
    );
    check(
        &rows,
        "acct_i",
        &[
            ("subscription_status", Str("active".into())),
            ("mrr", Null),
            ("mrr_currency", Str("mixed".into())),
            ("trial_status", Str("none".into())),
        ],
    );
    check(
        &rows,
        "acct_j",
        &[
            ("trial_status", Str("none".into())),
            ("subscription_status", Str("none".into())),
        ],
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    let dq = &summary["data_quality"];
    assert_eq!(dq["tracks_without_account_14d"], 1, "{dq}");
    assert_eq!(dq["tracks_without_user_14d"], 1, "{dq}");
    assert_eq!(dq["identifies_without_account"], 1, "{dq}");
    assert_eq!(dq["identifies_without_user"], 1, "{dq}");
    assert_eq!(dq["duplicate_events_14d"], 2, "{dq}");
    assert_eq!(summary["accounts"], 9);
}

/// Every record input of one recorded request file (`out/hubspot/*.jsonl`).
fn recorded(dir: &Path, file: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("out/hubspot").join(file)).unwrap();
    text.lines()
        .flat_map(|l| {
            let request: serde_json::Value = serde_json::from_str(l).unwrap();
            request["body"]["inputs"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// `account_contacts.sql` through an offline run: which email each user has, who is the
/// account's primary contact, and which account a person in two accounts belongs to.
#[test]
fn contact_sql_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let o = pqlsync(dir.path())
        .args(["run", "--as-of", "2026-11-20", "--out", "out"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut contacts: Vec<(String, String)> = recorded(dir.path(), "contacts.jsonl")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["properties"]["plg_account_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    contacts.sort();
    let pairs: Vec<(&str, &str)> = contacts
        .iter()
        .map(|(e, a)| (e.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("b1@acme-corp.com", "acct_b"),
            ("c1@gmail.com", "acct_c"),
            ("c2@gmail.com", "acct_c"),
            ("c3@c.io", "acct_c"),
            ("pat@shared.example", "acct_c"),
            ("u1.new@a.example", "acct_a"),
            ("u2@a.example", "acct_a"),
        ],
        "latest valid email per user, trimmed and lower-cased; none from the end of the day"
    );
    let leads = recorded(dir.path(), "leads.jsonl");
    for (account, primary) in [
        ("acct_a", "u1.new@a.example"),
        ("acct_b", "b1@acme-corp.com"),
        ("acct_c", "c1@gmail.com"),
    ] {
        let lead = leads
            .iter()
            .find(|l| l["properties"]["plg_account_id"] == account)
            .unwrap_or_else(|| panic!("no lead for {account}: {leads:?}"));
        let associated = lead["associations"].to_string();
        assert!(
            associated.contains(&format!("contacts:{primary}")),
            "{account}'s lead is with its first identified user {primary}: {associated}"
        );
    }
}

/// `user_features.sql`: one row per (account, user) that ever sent an event before the end of
/// the day, with the window's counts at its boundaries, copies counted once, lifetime first
/// and last activity, and a user of several accounts (`u1`) scored in each.
#[test]
fn user_feature_sql_boundaries() {
    use Value::*;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let out = dir.path().join("users.parquet");
    let o = pqlsync(dir.path())
        .args([
            "features",
            "--view",
            "user_features",
            "--as-of",
            "2026-11-20",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = read_rows(&out);
    let mut keys: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                get(r, "account_id").to_string(),
                get(r, "user_id").to_string(),
            )
        })
        .collect();
    keys.sort();
    let keys: Vec<String> = keys.iter().map(|(a, u)| format!("{a}/{u}")).collect();
    assert_eq!(
        keys,
        [
            "acct_a/u1",
            "acct_a/u2",
            "acct_b/u1",
            "acct_e/u1",
            "acct_f/u1",
            "acct_g/u1"
        ],
        "no row for an event without an account (u9) or without a user"
    );
    let user = |account: &str, id: &str| {
        rows.iter()
            .find(|r| {
                get(r, "account_id").as_str() == Some(account)
                    && get(r, "user_id").as_str() == Some(id)
            })
            .unwrap()
    };
    let check = |account: &str, id: &str, expected: &[(&str, Value)]| {
        let row = user(account, id);
        for (column, want) in expected {
            assert_eq!(get(row, column), want, "{account}/{id}.{column}");
        }
    };
    check(
        "acct_a",
        "u1",
        &[
            // the day's last instant and the window's first are in; the re-delivered invite
            // counts once; the integration before the window is lifetime only
            ("events_14d", Int(3)),
            ("active_days_14d", Int(3)),
            ("deals_created_14d", Int(2)),
            ("teammates_invited_14d", Int(1)),
            ("integrations_connected_14d", Int(0)),
            ("last_active_at", Timestamp(A - 1)),
            ("first_seen_at", Timestamp(W - 10 * DAY + 123)),
            ("days_since_last_active", Int(0)),
        ],
    );
    check(
        "acct_a",
        "u2",
        &[
            ("events_14d", Int(1)),
            ("active_days_14d", Int(1)),
            ("pricing_page_views_14d", Int(1)),
            ("days_since_last_active", Int(11)),
        ],
    );
    check(
        "acct_e",
        "u1",
        &[
            ("events_14d", Int(0)),
            ("active_days_14d", Int(0)),
            ("days_since_last_active", Int(19)),
        ],
    );
    check(
        "acct_g",
        "u1",
        &[("events_14d", Int(2)), ("active_days_14d", Int(2))],
    );
}

/// An account with thousands of users is scored within the memory limit: 6,000 users, each
/// identified, with a few events in the window, under a 24 MB pool on one partition. Every
/// user is scored, the one who invited teammates is the champion, and the summary counts them.
#[test]
fn an_account_with_thousands_of_users_stays_within_the_memory_limit() {
    const USERS: usize = 6_000;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path());
    let data = dir.path().join("data");
    let ids: Vec<String> = (0..USERS).map(|i| format!("big_u{i:05}")).collect();
    let emails: Vec<String> = (0..USERS).map(|i| format!("u{i:05}@big.example")).collect();
    let mut user = Vec::new();
    let mut event = Vec::new();
    let mut at = Vec::new();
    let mut message = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        // 1 + i % 3 events on as many days; user 4321 also invites two teammates.
        for day in 0..=(i % 3) as i64 {
            user.push(id.as_str());
            event.push("page_viewed");
            at.push(A - (day + 1) * DAY + i as i64);
            message.push(format!("big-{i}-{day}"));
        }
        if i == 4321 {
            for n in 0..2 {
                user.push(id.as_str());
                event.push("teammate_invited");
                at.push(A - DAY - n);
                message.push(format!("big-{i}-invite-{n}"));
            }
        }
    }
    write_batch(
        &data.join("tracks/big.parquet"),
        vec![
            ("id", strings(message.iter().map(|m| Some(m.as_str())))),
            ("user_id", strings(user.iter().copied().map(Some))),
            ("event", strings(event.iter().copied().map(Some))),
            (
                "timestamp",
                Arc::new(TimestampMicrosecondArray::from(at.clone()).with_timezone("UTC")),
            ),
            (
                "context_group_id",
                strings(user.iter().map(|_| Some("acct_big"))),
            ),
        ],
    );
    write_batch(
        &data.join("identifies/big.parquet"),
        vec![
            ("user_id", strings(ids.iter().map(|u| Some(u.as_str())))),
            ("email", strings(emails.iter().map(|e| Some(e.as_str())))),
            ("timestamp", micros(ids.iter().map(|_| Some(A - 30 * DAY)))),
            (
                "context_group_id",
                strings(ids.iter().map(|_| Some("acct_big"))),
            ),
        ],
    );
    // groups becomes a directory: the fixture's file and this account's.
    std::fs::create_dir_all(data.join("groups")).unwrap();
    std::fs::rename(data.join("groups.parquet"), data.join("groups/a.parquet")).unwrap();
    write_batch(
        &data.join("groups/big.parquet"),
        vec![
            ("group_id", strings([Some("acct_big")])),
            ("timestamp", micros([Some(A - 60 * DAY)])),
            ("website", strings([Some("big.example")])),
            ("employees", ints([Some(5_000)])),
            ("industry", strings([Some("software")])),
        ],
    );
    let config = std::fs::read_to_string(dir.path().join("pqlsync.toml"))
        .unwrap()
        .replace(
            &format!("groups = \"{}/groups.parquet\"", data.display()),
            &format!("groups = \"{}/groups\"", data.display()),
        );
    std::fs::write(
        dir.path().join("pqlsync.toml"),
        format!("{config}\n[engine]\nmemory_limit = \"24MB\"\ntarget_partitions = 1\n"),
    )
    .unwrap();
    let o = pqlsync(dir.path())
        .args([
            "score",
            "--as-of",
            "2026-11-20",
            "--summary-json",
            "s.json",
            "--out",
            "s.parquet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    let engine = &summary["engine"];
    assert!(
        engine["peak_memory_bytes"].as_u64().unwrap()
            <= 24_000_000 + engine["repartition_peak_bytes"].as_u64().unwrap(),
        "{engine}"
    );
    assert!(
        summary["people"]["users"].as_u64().unwrap() >= USERS as u64,
        "{}",
        summary["people"]
    );
    let rows = read_rows(&dir.path().join("s.parquet"));
    let big = account(&rows, "acct_big");
    assert_eq!(get(big, "champion").as_str(), Some("u04321@big.example"));
    assert_eq!(get(big, "active_users_14d"), &Value::Int(USERS as i64));
}
