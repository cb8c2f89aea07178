//! PostHog batch exports as a source (`[sources] format = "posthog"`), with the real binary.
//!
//! * The same generated company written in Segment's shape and in PostHog's gives identical
//!   `account_features` and decisions.
//! * A hand-written PostHog export with the messy parts real ones have is scored as a small
//!   model of PostHog's semantics in this file computes it, independently of the SQL: events
//!   without groups, anonymous events, a re-delivered event, `$groupidentify` updates that set
//!   only what changed (and one after the scoring day, and one of another group type), a
//!   person whose email changes, an anonymous person merged by a later identify, Title Case
//!   and aliased event names, PostHog's own `$` events, and a column PostHog added to some
//!   files only. The contacts the run writes to HubSpot (the sandbox) carry the latest emails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::common::sandbox::Sandbox;
use crate::common::*;
use datafusion::arrow::array::TimestampMicrosecondArray;
use datafusion::arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray};
use pqlsync_sql::value::Value;
use serde_json::{Value as Json, json};

fn by_account(path: &Path) -> BTreeMap<String, Vec<(String, Value)>> {
    read_rows(path)
        .into_iter()
        .map(|r| (get(&r, "account_id").as_str().unwrap().to_string(), r))
        .collect()
}

#[test]
fn the_same_company_in_segment_and_posthog_shape_gives_identical_features_and_decisions() {
    let mut outputs = Vec::new();
    for format in ["segment", "posthog"] {
        let dir = tempfile::tempdir().unwrap();
        let data = demo_data_as(dir.path(), format, 250, 30, 11);
        write_config_as(dir.path(), format, &data, "");
        for (command, file) in [
            ("features", "features.parquet"),
            ("score", "decisions.parquet"),
        ] {
            let o = pqlsync(dir.path())
                .args([command, "--out", file])
                .output()
                .unwrap();
            assert!(o.status.success(), "{format} {command}: {}", stderr(&o));
        }
        outputs.push((
            by_account(&dir.path().join("features.parquet")),
            by_account(&dir.path().join("decisions.parquet")),
        ));
    }
    let (segment, posthog) = (&outputs[0], &outputs[1]);
    assert!(segment.0.len() > 200, "{}", segment.0.len());
    for (what, a, b) in [
        ("account_features", &segment.0, &posthog.0),
        ("decisions", &segment.1, &posthog.1),
    ] {
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{what}: accounts"
        );
        for (account, row) in a {
            let other = &b[account];
            for (column, value) in row {
                assert_eq!(
                    Some(value),
                    other.iter().find(|(c, _)| c == column).map(|(_, v)| v),
                    "{what}: {account}.{column}"
                );
            }
            assert_eq!(row.len(), other.len(), "{what}: columns");
        }
    }
    // The demo exercises what the comparison is about.
    let active: i64 = segment
        .0
        .values()
        .map(|r| get(r, "teammates_invited_14d").as_i64().unwrap())
        .sum();
    assert!(active > 0);
}

// ---------------------------------------------------------------------------------------
// The messy export.

/// One row of PostHog's events model.
struct Ev {
    uuid: &'static str,
    event: &'static str,
    distinct_id: &'static str,
    /// The person PostHog resolved at ingestion.
    person_id: &'static str,
    properties: Json,
    person_properties: Option<Json>,
    /// `2026-11-15T10:00:00`, UTC.
    at: &'static str,
}

/// One row of PostHog's persons model.
struct Person {
    distinct_id: &'static str,
    person_id: &'static str,
    email: &'static str,
    person_version: i64,
    distinct_id_version: i64,
}

fn micros(at: &str) -> i64 {
    chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

fn ts(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

/// The events of one day, as one `.parquet.zst` file of the export; `added` adds a column
/// PostHog introduced later.
fn write_events(dir: &Path, day: &str, events: &[&Ev], added: bool) {
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("uuid", strings(events.iter().map(|e| Some(e.uuid)))),
        ("event", strings(events.iter().map(|e| Some(e.event)))),
        (
            "distinct_id",
            strings(events.iter().map(|e| Some(e.distinct_id))),
        ),
        (
            "person_id",
            strings(events.iter().map(|e| Some(e.person_id))),
        ),
        (
            "properties",
            Arc::new(StringArray::from_iter(
                events.iter().map(|e| Some(e.properties.to_string())),
            )),
        ),
        (
            "person_properties",
            Arc::new(StringArray::from_iter(
                events
                    .iter()
                    .map(|e| e.person_properties.as_ref().map(Json::to_string)),
            )),
        ),
        ("elements_chain", strings(events.iter().map(|_| Some("")))),
        (
            "timestamp",
            ts(events.iter().map(|e| micros(e.at)).collect()),
        ),
        (
            "created_at",
            ts(events.iter().map(|e| micros(e.at) + 5_000_000).collect()),
        ),
        (
            "_inserted_at",
            ts(events.iter().map(|e| micros(e.at) + 600_000_000).collect()),
        ),
    ];
    if added {
        columns.push((
            "historical_migration",
            Arc::new(BooleanArray::from(vec![false; events.len()])),
        ));
    }
    write_batch(
        &dir.join(format!("events/day={day}/data-0.parquet.zst")),
        columns,
    );
}

fn write_persons(dir: &Path, persons: &[Person]) {
    write_batch(
        &dir.join("persons/persons.parquet"),
        vec![
            (
                "team_id",
                Arc::new(Int64Array::from(vec![1; persons.len()])),
            ),
            (
                "distinct_id",
                strings(persons.iter().map(|p| Some(p.distinct_id))),
            ),
            (
                "person_id",
                strings(persons.iter().map(|p| Some(p.person_id))),
            ),
            (
                "properties",
                Arc::new(StringArray::from_iter(persons.iter().map(|p| {
                    Some(json!({ "email": p.email, "$os": "Mac OS X" }).to_string())
                }))),
            ),
            (
                "person_distinct_id_version",
                Arc::new(Int64Array::from_iter_values(
                    persons.iter().map(|p| p.distinct_id_version),
                )),
            ),
            (
                "person_version",
                Arc::new(Int64Array::from_iter_values(
                    persons.iter().map(|p| p.person_version),
                )),
            ),
            (
                "created_at",
                ts(vec![micros("2026-10-01T00:00:00"); persons.len()]),
            ),
            (
                "_inserted_at",
                ts(persons
                    .iter()
                    .map(|p| micros("2026-10-01T00:00:00") + p.person_version)
                    .collect()),
            ),
            (
                "is_deleted",
                Arc::new(BooleanArray::from(vec![false; persons.len()])),
            ),
        ],
    );
}

fn company(key: &str) -> Json {
    json!({ "company": key, "project": "p-1" })
}

/// The export: two companies, four people, one after-hours update.
fn export() -> (Vec<Ev>, Vec<Person>) {
    let acme = || company("acme-42");
    let usage = |uuid, event, distinct_id, person_id, at, props: Json| Ev {
        uuid,
        event,
        distinct_id,
        person_id,
        properties: props,
        person_properties: None,
        at,
    };
    let with_groups = |mut extra: Json, groups: Json| {
        extra["$groups"] = groups;
        extra["$current_url"] = json!("https://app.example.com/x");
        extra
    };
    let events = vec![
        // Companies. Acme signs up with 12 people, then tells us it has 60 (only that);
        // the 2,000 arrives after the scoring day. A project group of the same key is not an
        // account.
        Ev {
            uuid: "00000000-0000-0000-0000-000000000001",
            event: "$groupidentify",
            distinct_id: "u-alice",
            person_id: "p-alice",
            properties: json!({"$group_type": "company", "$group_key": "acme-42", "$group_set":
                {"name": "Acme", "website": "acme.io", "employees": 12, "industry": " Software ", "plan": "pro"}}),
            person_properties: None,
            at: "2026-10-20T09:00:00",
        },
        Ev {
            uuid: "00000000-0000-0000-0000-000000000002",
            event: "$groupidentify",
            distinct_id: "u-alice",
            person_id: "p-alice",
            properties: json!({"$group_type": "company", "$group_key": "acme-42", "$group_set": {"employees": 60}}),
            person_properties: None,
            at: "2026-11-12T09:00:00",
        },
        Ev {
            uuid: "00000000-0000-0000-0000-000000000003",
            event: "$groupidentify",
            distinct_id: "u-alice",
            person_id: "p-alice",
            properties: json!({"$group_type": "company", "$group_key": "acme-42", "$group_set": {"employees": 2000}}),
            person_properties: None,
            at: "2026-11-21T09:00:00",
        },
        Ev {
            uuid: "00000000-0000-0000-0000-000000000004",
            event: "$groupidentify",
            distinct_id: "u-alice",
            person_id: "p-alice",
            properties: json!({"$group_type": "project", "$group_key": "acme-42", "$group_set": {"employees": 99999}}),
            person_properties: None,
            at: "2026-11-13T09:00:00",
        },
        // Globex sends its size as text.
        Ev {
            uuid: "00000000-0000-0000-0000-000000000005",
            event: "$groupidentify",
            distinct_id: "u-dave",
            person_id: "p-dave",
            properties: json!({"$group_type": "company", "$group_key": "globex", "$group_set":
                {"name": "Globex", "employees": "250", "industry": "Manufacturing"}}),
            person_properties: None,
            at: "2026-11-01T09:00:00",
        },
        // People. Alice signs up with a free-mail address and changes it to her work one.
        Ev {
            uuid: "00000000-0000-0000-0000-000000000010",
            event: "$identify",
            distinct_id: "u-alice",
            person_id: "p-alice",
            properties: json!({"$set": {"email": "alice@gmail.com"}, "$anon_distinct_id": "anon-a", "$groups": acme()}),
            person_properties: Some(json!({"email": "alice@gmail.com"})),
            at: "2026-10-20T08:59:00",
        },
        Ev {
            uuid: "00000000-0000-0000-0000-000000000011",
            event: "$set",
            distinct_id: "u-alice",
            person_id: "p-alice",
            properties: json!({"$set": {"email": "Alice@Acme.io"}, "$groups": acme()}),
            person_properties: Some(json!({"email": "Alice@Acme.io"})),
            at: "2026-11-10T08:00:00",
        },
        // Bob used the app anonymously (person p-anon-b) before he identified; the identify
        // merged that person into p-bob.
        Ev {
            uuid: "00000000-0000-0000-0000-000000000012",
            event: "$identify",
            distinct_id: "u-bob",
            person_id: "p-bob",
            properties: json!({"$set": {"email": "bob@acme.io"}, "$anon_distinct_id": "anon-b", "$groups": acme()}),
            person_properties: Some(json!({"email": "bob@acme.io"})),
            at: "2026-11-14T12:00:00",
        },
        // Dave works at Globex; his identify came before the app knew his company.
        Ev {
            uuid: "00000000-0000-0000-0000-000000000013",
            event: "$identify",
            distinct_id: "u-dave",
            person_id: "p-dave",
            properties: json!({"$set": {"email": "dave@globex.com"}}),
            person_properties: Some(json!({"email": "dave@globex.com"})),
            at: "2026-11-01T08:00:00",
        },
        Ev {
            uuid: "00000000-0000-0000-0000-000000000014",
            event: "$set",
            distinct_id: "u-dave",
            person_id: "p-dave",
            properties: json!({"$set": {"email": "dave@globex.com"}, "$groups": company("globex")}),
            person_properties: Some(json!({"email": "dave@globex.com"})),
            at: "2026-11-02T08:00:00",
        },
        // Usage.
        usage(
            "00000000-0000-0000-0000-000000000101",
            "Teammate Invited",
            "u-alice",
            "p-alice",
            "2026-11-15T10:00:00",
            with_groups(json!({}), acme()),
        ),
        usage(
            "00000000-0000-0000-0000-000000000102",
            "Teammate Invited",
            "u-alice",
            "p-alice",
            "2026-11-16T10:00:00",
            with_groups(json!({}), acme()),
        ),
        // An alias from seeds/posthog/event_aliases.csv.
        usage(
            "00000000-0000-0000-0000-000000000103",
            "Invite Sent",
            "u-alice",
            "p-alice",
            "2026-11-17T10:00:00",
            with_groups(json!({}), acme()),
        ),
        usage(
            "00000000-0000-0000-0000-000000000104",
            "Deal Created",
            "anon-b",
            "p-anon-b",
            "2026-11-13T10:00:00",
            with_groups(json!({}), acme()),
        ),
        usage(
            "00000000-0000-0000-0000-000000000105",
            "deal created",
            "u-bob",
            "p-bob",
            "2026-11-15T11:00:00",
            with_groups(json!({}), acme()),
        ),
        usage(
            "00000000-0000-0000-0000-000000000106",
            "Deal  Created!",
            "u-bob",
            "p-bob",
            "2026-11-18T11:00:00",
            with_groups(json!({}), acme()),
        ),
        // Re-delivered: the same uuid twice counts once.
        usage(
            "00000000-0000-0000-0000-000000000106",
            "Deal  Created!",
            "u-bob",
            "p-bob",
            "2026-11-18T11:00:00",
            with_groups(json!({}), acme()),
        ),
        usage(
            "00000000-0000-0000-0000-000000000107",
            "Rows Imported",
            "u-bob",
            "p-bob",
            "2026-11-18T12:00:00",
            with_groups(json!({"row_count": 1500}), acme()),
        ),
        usage(
            "00000000-0000-0000-0000-000000000108",
            "Data Imported",
            "u-bob",
            "p-bob",
            "2026-11-19T12:00:00",
            with_groups(json!({"row_count": 250.5}), acme()),
        ),
        // Carol's events carry no person profile: activity, but no user.
        usage(
            "00000000-0000-0000-0000-000000000109",
            "Report Viewed",
            "anon-c",
            "p-anon-c",
            "2026-11-19T13:00:00",
            with_groups(json!({"$process_person_profile": false}), acme()),
        ),
        // PostHog's own events are not product usage unless the seed says so.
        usage(
            "00000000-0000-0000-0000-000000000110",
            "$pageview",
            "u-alice",
            "p-alice",
            "2026-11-19T14:00:00",
            with_groups(json!({}), acme()),
        ),
        usage(
            "00000000-0000-0000-0000-000000000111",
            "$autocapture",
            "u-alice",
            "p-alice",
            "2026-11-19T14:00:01",
            with_groups(json!({}), acme()),
        ),
        // No group: not attributed.
        usage(
            "00000000-0000-0000-0000-000000000112",
            "Teammate Invited",
            "u-alice",
            "p-alice",
            "2026-11-19T15:00:00",
            json!({"$current_url": "/settings"}),
        ),
        usage(
            "00000000-0000-0000-0000-000000000113",
            "Feature Used",
            "u-dave",
            "p-dave",
            "2026-11-18T09:00:00",
            with_groups(json!({}), company("globex")),
        ),
        // Outside the 14-day window, and after the scoring day.
        usage(
            "00000000-0000-0000-0000-000000000114",
            "Teammate Invited",
            "u-alice",
            "p-alice",
            "2026-11-01T10:00:00",
            with_groups(json!({}), acme()),
        ),
        usage(
            "00000000-0000-0000-0000-000000000115",
            "Teammate Invited",
            "u-alice",
            "p-alice",
            "2026-11-21T10:00:00",
            with_groups(json!({}), acme()),
        ),
    ];
    let persons = vec![
        Person {
            distinct_id: "u-alice",
            person_id: "p-alice",
            email: "alice@gmail.com",
            person_version: 1,
            distinct_id_version: 0,
        },
        Person {
            distinct_id: "u-alice",
            person_id: "p-alice",
            email: " alice@acme.io",
            person_version: 2,
            distinct_id_version: 0,
        },
        Person {
            distinct_id: "anon-b",
            person_id: "p-anon-b",
            email: "",
            person_version: 0,
            distinct_id_version: 0,
        },
        Person {
            distinct_id: "anon-b",
            person_id: "p-bob",
            email: "bob@acme.io",
            person_version: 1,
            distinct_id_version: 1,
        },
        Person {
            distinct_id: "u-bob",
            person_id: "p-bob",
            email: "bob@acme.io",
            person_version: 1,
            distinct_id_version: 0,
        },
        Person {
            distinct_id: "u-dave",
            person_id: "p-dave",
            email: "dave@globex.com",
            person_version: 1,
            distinct_id_version: 0,
        },
    ];
    (events, persons)
}

/// PostHog's semantics, written without the SQL: what each account's features must be.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    name: Option<String>,
    employees: Option<i64>,
    industry: Option<String>,
    events_14d: i64,
    active_users_14d: i64,
    teammates_invited_14d: i64,
    deals_created_14d: i64,
    rows_imported_14d: f64,
    seats: i64,
}

/// The model's answer: each account's features, and the emails of its contacts.
struct Model {
    accounts: BTreeMap<String, Expected>,
    contacts: BTreeMap<String, BTreeSet<String>>,
}

fn expected(events: &[Ev], persons: &[Person]) -> Model {
    let end = micros("2026-11-21T00:00:00");
    let start = end - 14 * 86_400_000_000;
    // Each distinct id's person now: the highest distinct-id version wins.
    let mut person_of: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
    for p in persons {
        let e = person_of.entry(p.distinct_id).or_insert((-1, ""));
        if p.distinct_id_version > e.0 {
            *e = (p.distinct_id_version, p.person_id);
        }
    }
    let mut email_of: BTreeMap<&str, (i64, String)> = BTreeMap::new();
    for p in persons {
        let e = email_of.entry(p.person_id).or_insert((-1, String::new()));
        if p.person_version > e.0 {
            *e = (p.person_version, p.email.trim().to_lowercase());
        }
    }
    let person = |e: &Ev| -> Option<String> {
        if e.properties["$process_person_profile"] == json!(false) {
            return None;
        }
        Some(
            person_of
                .get(e.distinct_id)
                .map_or(e.person_id, |p| p.1)
                .to_string(),
        )
    };
    // Slugs as Segment names tables, and the seed's aliases.
    let name = |e: &str| -> Option<String> {
        match e {
            "Invite Sent" => return Some("teammate_invited".into()),
            "Data Imported" => return Some("rows_imported".into()),
            _ if e.starts_with('$') => return None,
            _ => {}
        }
        let mut s = String::new();
        for c in e.to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c);
            } else if !s.ends_with('_') {
                s.push('_');
            }
        }
        Some(s.trim_matches('_').to_string())
    };
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    // Group properties: the latest event that set each one, before the end of the day.
    let mut groups: Vec<&Ev> = events
        .iter()
        .filter(|e| e.event == "$groupidentify" && e.properties["$group_type"] == "company")
        .filter(|e| micros(e.at) < end)
        .collect();
    groups.sort_by_key(|e| micros(e.at));
    for g in groups {
        let a = out
            .entry(g.properties["$group_key"].as_str().unwrap().to_string())
            .or_default();
        let set = &g.properties["$group_set"];
        if let Some(n) = set["name"].as_str() {
            a.name = Some(n.to_string());
        }
        if let Some(n) = set.get("employees") {
            a.employees = n
                .as_i64()
                .or_else(|| n.as_str().and_then(|s| s.parse().ok()));
        }
        if let Some(i) = set["industry"].as_str() {
            a.industry = Some(i.trim().to_lowercase());
        }
    }
    let mut seen = BTreeSet::new();
    let mut seat_users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut active_users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut contacts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in events {
        let t = micros(e.at);
        let Some(account) = e.properties["$groups"]["company"].as_str() else {
            continue;
        };
        let Some(a) = out.get_mut(account) else {
            continue;
        };
        if ["$identify", "$set"].contains(&e.event)
            && t < end
            && let Some(p) = person(e)
        {
            contacts
                .entry(account.to_string())
                .or_default()
                .insert(email_of[p.as_str()].1.clone());
            seat_users.entry(account.to_string()).or_default().insert(p);
        }
        let Some(event) = name(e.event) else { continue };
        if t < start || t >= end || !seen.insert(e.uuid) {
            continue;
        }
        a.events_14d += 1;
        a.teammates_invited_14d += i64::from(event == "teammate_invited");
        a.deals_created_14d += i64::from(event == "deal_created");
        if event == "rows_imported" {
            a.rows_imported_14d += e.properties["row_count"].as_f64().unwrap();
        }
        if let Some(p) = person(e) {
            active_users
                .entry(account.to_string())
                .or_default()
                .insert(p);
        }
    }
    let count = |users: &BTreeMap<String, BTreeSet<String>>, account: &str| {
        users.get(account).map_or(0, |u| u.len() as i64)
    };
    for (account, a) in out.iter_mut() {
        a.seats = count(&seat_users, account);
        a.active_users_14d = count(&active_users, account);
    }
    Model {
        accounts: out,
        contacts,
    }
}

const SCORING: &str = r#"
[scoring]
fit_weight = 0.4
usage_weight = 0.6

[scoring.tiers]
yellow = 40
green = 70

[[scoring.fit]]
feature = "employees"
op = "between"
value = [50, 999]
points = 100

[[scoring.usage]]
feature = "teammates_invited_14d"
op = ">="
value = 3
points = 60

[[scoring.usage]]
feature = "active_users_14d"
op = ">="
value = 2
points = 40
"#;

const TOKEN: &str = "pat-na1-test-posthog";

#[test]
fn a_messy_posthog_export_is_scored_as_posthog_defines_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (events, persons) = export();
    let mut days: BTreeMap<&str, Vec<&Ev>> = BTreeMap::new();
    for e in &events {
        days.entry(&e.at[..10]).or_default().push(e);
    }
    for (i, (day, evs)) in days.iter().enumerate() {
        write_events(&data.join("posthog"), day, evs, i % 2 == 0);
    }
    write_persons(&data.join("posthog"), &persons);
    // PostHog writes a manifest beside the files; it is not data.
    std::fs::write(data.join("posthog/events/manifest.json"), "{}").unwrap();
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    std::fs::write(
        dir.path().join("pqlsync.toml"),
        format!(
            r#"
[run]
as_of = "{AS_OF}"

[sources]
format = "posthog"

[sources.posthog]
events = "data/posthog/events"
persons = "data/posthog/persons"

[sql]
dir = "{sql}"

[routing.owners]
enterprise = ["ae@example.com"]
self_serve = ["ssr1@example.com"]

[state]
url = "state"
{SCORING}"#,
            sql = sql.display()
        ),
    )
    .unwrap();

    let o = pqlsync(dir.path()).arg("validate").output().unwrap();
    assert!(o.status.success(), "validate: {}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("posthog_events"), "{}", stdout(&o));

    let o = pqlsync(dir.path())
        .args(["features", "--out", "f.parquet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "features: {}", stderr(&o));
    let summary = stdout(&o);
    let count = |name: &str| -> i64 {
        summary
            .lines()
            .find_map(|l| {
                let mut words = l.split_whitespace();
                (words.next() == Some(name)).then(|| words.next().unwrap().parse().unwrap())
            })
            .unwrap_or(0)
    };
    // One event without a group in the window; Carol's event has no user; one re-delivery.
    assert_eq!(count("tracks_without_account_14d"), 1, "{summary}");
    assert_eq!(count("tracks_without_user_14d"), 1, "{summary}");
    assert_eq!(count("duplicate_events_14d"), 1, "{summary}");
    // Dave's first identify did not name his company.
    assert_eq!(count("identifies_without_account"), 1, "{summary}");
    assert_eq!(count("identifies_without_email"), 0, "{summary}");

    let Model {
        accounts: want,
        contacts: want_contacts,
    } = expected(&events, &persons);
    let got = by_account(&dir.path().join("f.parquet"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (account, w) in &want {
        let row = &got[account];
        let int = |c: &str| get(row, c).as_i64();
        let text = |c: &str| get(row, c).as_str().map(str::to_string);
        let seen = Expected {
            name: text("account_name"),
            employees: int("employees"),
            industry: text("industry"),
            events_14d: int("events_14d").unwrap(),
            active_users_14d: int("active_users_14d").unwrap(),
            teammates_invited_14d: int("teammates_invited_14d").unwrap(),
            deals_created_14d: int("deals_created_14d").unwrap(),
            rows_imported_14d: get(row, "rows_imported_14d").as_f64().unwrap(),
            seats: int("seats").unwrap(),
        };
        assert_eq!(&seen, w, "{account}");
    }
    // The values the model gives, spelled out, so a bug in both would still show.
    let acme = &want["acme-42"];
    assert_eq!(
        (
            acme.employees,
            acme.teammates_invited_14d,
            acme.active_users_14d
        ),
        (Some(60), 3, 2)
    );
    assert_eq!(
        want_contacts["acme-42"],
        BTreeSet::from(["alice@acme.io".to_string(), "bob@acme.io".to_string()])
    );
    assert_eq!(
        get(&got["acme-42"], "email_domain").as_str(),
        Some("acme.io")
    );
    assert_eq!(want["globex"].employees, Some(250));

    // Scores from the features: Acme fits (60 employees) and is active (3 invites, 2 users):
    // 100. Globex fits (250, sent as text) and is quiet: 40.
    let sb = Sandbox::start(Some(dir.path()), TOKEN, &[]);
    let run = |args: &[&str]| {
        pqlsync(dir.path())
            .env("HUBSPOT_TOKEN", TOKEN)
            .env("HUBSPOT_BASE_URL", &sb.url)
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["hubspot", "setup", "--create-pipelines"]);
    assert!(o.status.success(), "setup: {}{}", stdout(&o), stderr(&o));
    let o = run(&["run"]);
    assert!(o.status.success(), "run: {}{}", stdout(&o), stderr(&o));
    let decisions = by_account(&dir.path().join("out/decisions.parquet"));
    let score = |a: &str| {
        (
            get(&decisions[a], "pql_score").as_i64(),
            get(&decisions[a], "tier").as_str().map(str::to_string),
        )
    };
    assert_eq!(score("acme-42"), (Some(100), Some("green".into())));
    assert_eq!(score("globex"), (Some(40), Some("yellow".into())));
    let dump = sb.dump();
    let contacts: BTreeSet<String> = dump["objects"]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["properties"]["email"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        contacts,
        want_contacts
            .values()
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(
        contacts,
        BTreeSet::from([
            "alice@acme.io".to_string(),
            "bob@acme.io".to_string(),
            "dave@globex.com".to_string()
        ])
    );
}

#[test]
fn a_posthog_export_without_its_required_columns_names_the_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    write_batch(
        &dir.path().join("events/day=2026-11-20/a.parquet"),
        vec![
            ("uuid", strings([Some("u1")])),
            ("event", strings([Some("x")])),
            ("distinct_id", strings([Some("d")])),
            ("timestamp", ts(vec![micros("2026-11-20T01:00:00")])),
        ],
    );
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    std::fs::write(
        dir.path().join("pqlsync.toml"),
        format!(
            "[run]\nas_of = \"{AS_OF}\"\n[sources]\nformat = \"posthog\"\n[sources.posthog]\n\
             events = \"events\"\n[sql]\ndir = \"{}\"\n",
            sql.display()
        ),
    )
    .unwrap();
    let o = pqlsync(dir.path()).arg("validate").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    let e = stderr(&o) + &stdout(&o);
    assert!(
        e.contains("posthog_events") && e.contains("person_id"),
        "{e}"
    );
}

#[test]
fn the_bundled_posthog_example_scores_the_bundled_company_as_the_segment_demo_does() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut features = Vec::new();
    for (config, data) in [
        ("examples/posthog.toml", None),
        ("pqlsync.toml", Some("fixtures/demo")),
    ] {
        let dir = tempfile::tempdir().unwrap();
        // The example as shipped, with its state in the temp directory.
        let text = match data {
            None => std::fs::read_to_string(repo.join(config))
                .unwrap()
                .replace("\"../", &format!("\"{}/", repo.display()))
                .replace(
                    &format!("{}/.pqlsync-posthog/state", repo.display()),
                    &dir.path().join("state").display().to_string(),
                ),
            Some(data) => {
                write_config(dir.path(), &repo.join(data), "");
                std::fs::read_to_string(dir.path().join("pqlsync.toml")).unwrap()
            }
        };
        assert!(!text.contains("\"../"), "{text}");
        std::fs::write(dir.path().join("pqlsync.toml"), text).unwrap();
        let o = pqlsync(dir.path())
            .args(["features", "--out", "f.parquet"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{config}: {}", stderr(&o));
        features.push(by_account(&dir.path().join("f.parquet")));
    }
    assert_eq!(features[0].len(), 500);
    assert_eq!(features[0], features[1]);
}

/// A query that failed over PostHog's exports was blamed on a sound `.parquet.zst` file
/// ("cannot be decoded"): the search for a corrupt file read each file under DataFusion's
/// default `.parquet` extension, which refuses `.parquet.zst`.
#[test]
fn a_query_error_over_posthog_exports_blamed_a_sound_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data_as(dir.path(), "posthog", 30, 10, 3);
    let sql = dir.path().join("sql");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sql"), &sql);
    // A feature that fails while it runs, on every row: an email is no number.
    std::fs::write(
        sql.join("features/seats.sql"),
        "SELECT account_id, count(DISTINCT CAST(email AS BIGINT)) AS seats\n\
         FROM stg_identifies GROUP BY account_id\n",
    )
    .unwrap();
    let config = write_config_as(dir.path(), "posthog", &data, "");
    let repo_sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&repo_sql.display().to_string(), &sql.display().to_string());
    std::fs::write(&config, text).unwrap();
    fn zst_files(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| match p.is_dir() {
                true => zst_files(&p),
                false => usize::from(p.to_string_lossy().ends_with(".parquet.zst")),
            })
            .sum()
    }
    assert!(
        zst_files(&data) > 0,
        "the PostHog demo writes .parquet.zst files"
    );

    let o = pqlsync(dir.path())
        .args(["score", "--out", "s.parquet"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        !err.contains("cannot be decoded"),
        "blamed a sound file: {err}"
    );
    assert!(err.to_lowercase().contains("cast"), "{err}");
}
