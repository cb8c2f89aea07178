//! The HubSpot sync end to end: the real binary against the real sandbox (`pqlsync sandbox`)
//! on 127.0.0.1 — setup, first sync, idempotent second sync, a feature change, a pre-existing
//! marketing contact, rate-limit storms and 5xx faults, a bad record in a batch, a killed run,
//! the daily limit, offline recording, and the token never leaking.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use crate::common::sandbox::Sandbox;
use crate::common::*;
use serde_json::{Value as Json, json};

pub(crate) const TOKEN: &str = "pat-na1-test-SECRET-7f3a";

/// The sandbox every test here syncs to: three owners, and any `extra` flags.
pub(crate) fn start_sandbox(extra: &[&str]) -> Sandbox {
    let mut args = vec![
        "--owner",
        "ae@example.com",
        "--owner",
        "ssr1@example.com",
        "--owner",
        "ssr2@example.com",
    ];
    args.extend_from_slice(extra);
    Sandbox::start(None, TOKEN, &args)
}

pub(crate) struct Env {
    dir: tempfile::TempDir,
    pub(crate) data: PathBuf,
}

impl Env {
    pub(crate) fn new(accounts: u32, hubspot: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let data = demo_data(dir.path(), accounts, 30, 21);
        write_config(dir.path(), &data, hubspot);
        Env { dir, data }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pqlsync(&self, sandbox: &Sandbox) -> assert_cmd::Command {
        let mut cmd = pqlsync(self.path());
        cmd.env("HUBSPOT_TOKEN", TOKEN)
            .env("HUBSPOT_BASE_URL", &sandbox.url);
        cmd
    }

    pub(crate) fn run(&self, sandbox: &Sandbox, args: &[&str]) -> std::process::Output {
        self.pqlsync(sandbox).args(args).output().unwrap()
    }

    pub(crate) fn setup(&self, sandbox: &Sandbox) {
        let o = self.run(sandbox, &["hubspot", "setup", "--create-pipelines"]);
        assert!(o.status.success(), "setup: {}{}", stdout(&o), stderr(&o));
    }

    fn decisions(&self) -> Vec<Vec<(String, pqlsync_sql::value::Value)>> {
        read_rows(&self.path().join("out/decisions.parquet"))
    }
}

pub(crate) fn objects<'a>(dump: &'a Json, kind: &str) -> &'a Vec<Json> {
    dump["objects"][kind]
        .as_array()
        .unwrap_or_else(|| panic!("no {kind} in dump"))
}

pub(crate) fn prop<'a>(o: &'a Json, name: &str) -> Option<&'a str> {
    o["properties"][name].as_str()
}

fn by_prop<'a>(dump: &'a Json, kind: &str, name: &str) -> BTreeMap<String, &'a Json> {
    objects(dump, kind)
        .iter()
        .filter_map(|o| prop(o, name).map(|v| (v.to_string(), o)))
        .collect()
}

fn associated(dump: &Json, from: &str, from_id: &str, to: &str, to_id: &str) -> bool {
    dump["associations"].as_array().unwrap().iter().any(|a| {
        let t = |k: &str| a[k].as_str().unwrap_or_default().to_string();
        let same = |x: &str, y: &str| {
            x == y || (x == "deals" && y == "0-3") || (x == "0-3" && y == "deals")
        };
        (same(&t("fromType"), from)
            && t("fromId") == from_id
            && same(&t("toType"), to)
            && t("toId") == to_id)
            || (same(&t("fromType"), to)
                && t("fromId") == to_id
                && same(&t("toType"), from)
                && t("toId") == from_id)
    })
}

fn summary(env: &Env) -> Json {
    serde_json::from_str(&std::fs::read_to_string(env.path().join("s.json")).unwrap()).unwrap()
}

/// What `hubspot check` and `hubspot setup` print, pinned: a fresh portal, its setup, and the
/// same portal ready. Only the sandbox's port and the work directory are filtered.
#[test]
fn hubspot_check_and_setup_output() {
    let sb = start_sandbox(&[]);
    let env = Env::new(20, "");
    let mut text = String::new();
    for (args, code) in [
        (&["hubspot", "check"][..], 2),
        (&["hubspot", "setup", "--create-pipelines"][..], 0),
        (&["hubspot", "check"][..], 0),
    ] {
        let o = env.run(&sb, args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        text.push_str(&format!("$ pqlsync {}  (exit {code})\n", args.join(" ")));
        text.push_str(&stdout(&o));
        text.push_str(&stderr(&o));
    }
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:[port]");
    settings.add_filter(&env.path().display().to_string(), "[work]");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(text));
}

#[test]
fn setup_first_sync_and_an_unchanged_second_sync() {
    let sb = start_sandbox(&[]);
    let env = Env::new(120, "");
    let o = env.run(&sb, &["hubspot", "check"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a fresh portal is not ready: {}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("MISSING"), "{}", stdout(&o));
    env.setup(&sb);
    let o = env.run(&sb, &["hubspot", "setup", "--create-pipelines"]);
    assert!(
        o.status.success() && stdout(&o).contains("found"),
        "setup is idempotent: {}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("created property"), "{}", stdout(&o));
    assert!(env.run(&sb, &["hubspot", "check"]).status.success());

    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let decisions = env.decisions();
    let dump = sb.dump();
    let companies = by_prop(&dump, "companies", "plg_account_id");
    assert_eq!(companies.len(), decisions.len(), "one company per account");
    let deals = by_prop(&dump, "deals", "plg_trial_id");
    let leads = by_prop(&dump, "leads", "plg_account_id");
    let contacts = by_prop(&dump, "contacts", "email");
    let tasks = by_prop(&dump, "tasks", "plg_task_key");
    let s = summary(&env);
    let count = |object: &str| s["sync"]["objects"][object]["created"].as_u64().unwrap() as usize;
    assert_eq!(contacts.len(), count("contacts"));
    assert_eq!(deals.len(), count("deals"));
    assert_eq!(leads.len(), count("leads"));
    assert_eq!(tasks.len(), count("tasks"));
    assert!(
        deals.len() > 30 && leads.len() > 50 && contacts.len() > leads.len(),
        "{} {} {}",
        deals.len(),
        leads.len(),
        contacts.len()
    );
    assert!(!tasks.is_empty(), "no Green task in the data");
    assert_eq!(
        s["sync"]["failures"].as_array().unwrap().len(),
        0,
        "{}",
        s["sync"]
    );

    // Values as in the decisions, owners resolved, associations in place.
    let owners: BTreeMap<String, String> = sb.dump()["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["email"].as_str().unwrap().to_string(),
                o["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for row in &decisions {
        let account = get(row, "account_id").as_str().unwrap();
        let company = companies[account];
        assert_eq!(
            prop(company, "pql_score"),
            Some(get(row, "pql_score").to_string().as_str()),
            "{account}"
        );
        assert_eq!(
            prop(company, "pql_tier"),
            get(row, "tier").as_str(),
            "{account}"
        );
        assert_eq!(
            prop(company, "plg_motion"),
            get(row, "motion").as_str(),
            "{account}"
        );
        let owner = get(row, "owner").as_str().unwrap();
        assert_eq!(
            prop(company, "hubspot_owner_id"),
            owners.get(owner).map(String::as_str),
            "{account}"
        );
        let company_id = company["id"].as_str().unwrap();
        if let Some(trial) = get(row, "trial_id")
            .as_str()
            .filter(|_| !get(row, "deal_stage").is_null())
        {
            let deal = deals[trial];
            assert!(
                associated(
                    &dump,
                    "deals",
                    deal["id"].as_str().unwrap(),
                    "companies",
                    company_id
                ),
                "deal {trial}"
            );
        }
        if let Some(lead) = leads.get(account) {
            let lead_id = lead["id"].as_str().unwrap();
            assert!(
                dump["associations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["fromId"] == lead_id || a["toId"] == lead_id),
                "lead {account} has no association"
            );
        }
    }
    for c in contacts.values() {
        let account = prop(c, "plg_account_id").unwrap();
        let company_id = companies[account]["id"].as_str().unwrap();
        assert!(
            associated(
                &dump,
                "contacts",
                c["id"].as_str().unwrap(),
                "companies",
                company_id
            ),
            "{}",
            prop(c, "email").unwrap()
        );
    }

    // The same day again: nothing to write.
    sb.reset_stats();
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stats = sb.stats();
    assert_eq!(stats["writes"], 0, "an unchanged run wrote: {stats}");
    let s = summary(&env);
    assert_eq!(
        s["sync"]["objects"]["companies"]["unchanged"]
            .as_u64()
            .unwrap() as usize,
        decisions.len()
    );
    let o = env.run(&sb, &["plan"]);
    assert!(
        stdout(&o).contains("HubSpot plan: 0 writes"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_feature_change_updates_only_the_changed_properties() {
    let sb = start_sandbox(&[]);
    let env = Env::new(80, "");
    env.setup(&sb);
    assert!(env.run(&sb, &["run"]).status.success());
    // One account invites three teammates today.
    let decisions = env.decisions();
    let row = decisions
        .iter()
        .find(|r| {
            get(r, "events_14d").as_i64() > Some(0)
                && get(r, "teammates_invited_14d").as_i64() == Some(0)
                && get(r, "trial_status").as_str() == Some("live")
        })
        .expect("a live trial without invitations");
    let account = get(row, "account_id").as_str().unwrap().to_string();
    let ts = 1_795_219_200_000_000i64 - 3_600_000_000;
    write_extra_tracks(&env.data, &account, "teammate_invited", ts, 3);
    let o = env.run(&sb, &["plan", "-v"]);
    let plan = stdout(&o);
    let changed: Vec<&str> = plan
        .lines()
        .filter(|l| l.trim_start().starts_with("~ ") || l.trim_start().starts_with("+ "))
        .collect();
    assert!(!changed.is_empty(), "{plan}");
    // Records of this account are named by the account, its trial (deals) or its contacts.
    let mut names = contacts_of(&env, &account);
    names.push(account.clone());
    names.extend(get(row, "trial_id").as_str().map(str::to_string));
    for line in &changed {
        assert!(
            names.iter().any(|n| line.contains(n.as_str())),
            "unrelated change: {line}"
        );
        assert!(
            !line.contains("name:") && !line.contains("domain:"),
            "unchanged property sent: {line}"
        );
    }
    assert!(plan.contains("pql_usage_score"), "{plan}");
    let before = by_prop(&sb.dump(), "companies", "plg_account_id")[&account].clone();
    sb.reset_stats();
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&env);
    assert_eq!(
        s["sync"]["objects"]["companies"]["updated"], 1,
        "{}",
        s["sync"]
    );
    assert_eq!(s["sync"]["objects"]["companies"]["created"], 0);
    let company = by_prop(&sb.dump(), "companies", "plg_account_id")[&account].clone();
    assert!(
        prop(&company, "pql_signals")
            .unwrap()
            .contains("teammates_invited_14d=3"),
        "{company}"
    );
    the_change_log_holds_what_the_run_changed(&env, &sb, &s, &names, (&before, &company));
}

/// The second run's change log: only the account's records, each property with what HubSpot
/// held before and what it holds now, filed under the run id the summary names.
fn the_change_log_holds_what_the_run_changed(
    env: &Env,
    sb: &Sandbox,
    s: &Json,
    names: &[String],
    (before, after): (&Json, &Json),
) {
    let run_id = s["sync"]["run_id"]
        .as_str()
        .expect("the summary names the run");
    let o = env.run(sb, &["changes", "--last", "--out", "changes.parquet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains(&format!("run {run_id}")), "{text}");
    let rows = read_rows(&env.path().join("changes.parquet"));
    assert_eq!(
        Some(rows.len() as u64),
        s["sync"]["changes"].as_u64(),
        "{text}"
    );
    let text_of = |r: &Vec<(String, pqlsync_sql::value::Value)>, c: &str| {
        get(r, c).as_str().map(str::to_string)
    };
    let mut company_props = BTreeSet::new();
    for r in &rows {
        assert_eq!(text_of(r, "run_id").as_deref(), Some(run_id));
        assert_eq!(text_of(r, "operation").as_deref(), Some("update"), "{r:?}");
        let key = text_of(r, "key").unwrap();
        assert!(
            names.contains(&key),
            "an unrelated record in the log: {r:?}"
        );
        if text_of(r, "object").as_deref() == Some("companies") {
            let property = text_of(r, "property").unwrap();
            assert_eq!(
                text_of(r, "previous").as_deref(),
                prop(before, &property),
                "{r:?}"
            );
            assert_eq!(
                text_of(r, "new").as_deref(),
                prop(after, &property),
                "{r:?}"
            );
            company_props.insert(property);
        }
    }
    assert!(
        company_props.contains("pql_usage_score"),
        "{company_props:?}"
    );
    let o = env.run(sb, &["changes", "--run", "20200101T000000Z-0000"]);
    assert_eq!(o.status.code(), Some(2), "an expired run: {}", stdout(&o));
    assert!(stderr(&o).contains("no longer kept"), "{}", stderr(&o));
}

fn contacts_of(env: &Env, account: &str) -> Vec<String> {
    read_rows(&env.data.join("identifies"))
        .iter()
        .filter(|r| get(r, "context_group_id").as_str() == Some(account))
        .filter_map(|r| {
            get(r, "email")
                .as_str()
                .map(|e| e.trim().to_ascii_lowercase())
        })
        .collect()
}

/// Append `n` events of `event` for `account` at `ts` (µs) to the tracks export.
fn write_extra_tracks(data: &Path, account: &str, event: &str, ts: i64, n: usize) {
    use datafusion::arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;
    let ids: Vec<String> = (0..n).map(|i| format!("extra-{account}-{i}")).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(StringArray::from_iter_values(ids.iter()))),
        (
            "user_id",
            Arc::new(StringArray::from_iter_values((0..n).map(|_| "u_extra"))),
        ),
        (
            "event",
            Arc::new(StringArray::from_iter_values((0..n).map(|_| event))),
        ),
        (
            "timestamp",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values((0..n).map(|_| ts))
                    .with_timezone("UTC"),
            ),
        ),
        (
            "received_at",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values((0..n).map(|_| ts + 1_000_000))
                    .with_timezone("UTC"),
            ),
        ),
        (
            "context_group_id",
            Arc::new(StringArray::from_iter_values((0..n).map(|_| account))),
        ),
    ];
    write_batch(&data.join("tracks/day=2026-11-20/extra.parquet"), columns);
}

#[test]
fn a_marketing_contact_is_updated_not_duplicated() {
    let sb = start_sandbox(&[]);
    let env = Env::new(60, "");
    env.setup(&sb);
    // Marketing created the trial starter's contact from a webinar sign-up, and already
    // marked them sales-qualified.
    assert!(
        env.run(&sb, &["score", "--out", "pre.parquet"])
            .status
            .success()
    );
    let email = read_rows(&env.data.join("identifies"))
        .iter()
        .find_map(|r| {
            get(r, "email")
                .as_str()
                .map(|e| e.trim().to_ascii_lowercase())
                .filter(|e| !e.contains("gmail"))
        })
        .unwrap();
    let created = sb.post(
        "/crm/objects/2026-09/contacts",
        &json!({"properties": {"email": email, "firstname": "Webinar", "lifecyclestage": "salesqualifiedlead"}, "associations": []}),
    );
    let marketing_id = created["id"].as_str().expect("contact created").to_string();
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dump = sb.dump();
    let same: Vec<&Json> = objects(&dump, "contacts")
        .iter()
        .filter(|c| prop(c, "email") == Some(email.as_str()))
        .collect();
    assert_eq!(same.len(), 1, "the contact was duplicated");
    assert_eq!(same[0]["id"].as_str(), Some(marketing_id.as_str()));
    assert_eq!(
        prop(same[0], "firstname"),
        Some("Webinar"),
        "marketing's data is kept"
    );
    assert!(prop(same[0], "plg_account_id").is_some() && prop(same[0], "pql_score").is_some());
    let stage = prop(same[0], "lifecyclestage").unwrap();
    assert!(
        stage == "salesqualifiedlead" || stage == "customer",
        "lifecycle moved backwards to {stage}"
    );
    assert!(
        summary(&env)["sync"]["objects"]["contacts"]["adopted"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[test]
fn rate_limit_storms_and_server_faults_still_land_every_record() {
    // The portal allows 25 requests per 10 s while the config claims 100, and one request in
    // five fails with a 5xx (half of them after the write was applied).
    let sb = start_sandbox(&[
        "--requests-per-10s",
        "25",
        "--fail-rate",
        "0.2",
        "--seed",
        "7",
    ]);
    let env = Env::new(60, "[hubspot]\nrequests_per_10s = 100\nmax_attempts = 12\n");
    env.setup(&sb);
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let s = summary(&env);
    assert!(s["sync"]["retries"].as_u64().unwrap() > 0, "{}", s["sync"]);
    assert_eq!(
        s["sync"]["failures"].as_array().unwrap().len(),
        0,
        "{}",
        s["sync"]
    );
    let stats = sb.stats();
    assert!(stats["injected_faults"].as_u64().unwrap() > 0, "{stats}");
    let dump = sb.dump();
    assert_eq!(
        by_prop(&dump, "companies", "plg_account_id").len(),
        env.decisions().len()
    );
    // A clean rerun finds nothing left to do.
    sb.reset_stats();
    let o = env.run(&sb, &["plan"]);
    assert!(
        stdout(&o).contains("HubSpot plan: 0 writes"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn one_invalid_record_is_isolated_and_ledgered_while_the_batch_lands() {
    let sb = start_sandbox(&[]);
    let env = Env::new(150, "");
    env.setup(&sb);
    // One email HubSpot refuses although it is well-formed (a blocked domain, say):
    // HubSpot rejects the whole contacts batch for it. (Malformed ones never reach HubSpot;
    // see a_malformed_email_is_reported_not_sent.)
    let bad = first_email(&env.data.join("identifies/part-00000.parquet"));
    sb.post(
        "/_sandbox/refuse",
        &json!({"property": "email", "value": bad.as_str()}),
    );
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "some records failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let s = summary(&env);
    let failures = s["sync"]["failures"].as_array().unwrap();
    assert!(
        failures
            .iter()
            .any(|f| f["key"] == bad.as_str() && f["object"] == "contacts"),
        "{failures:?}"
    );
    let contact_failures: Vec<&Json> = failures
        .iter()
        .filter(|f| f["object"] == "contacts")
        .collect();
    assert_eq!(contact_failures.len(), 1, "{failures:?}");
    assert!(
        contact_failures[0]["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("email"),
        "{failures:?}"
    );
    assert!(
        contact_failures[0]["correlation_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    let ledger: Json = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("state/failures.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        ledger["failures"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["object"] == "contacts")
            .count(),
        1
    );
    // Every other contact landed.
    let dump = sb.dump();
    let landed = by_prop(&dump, "contacts", "email");
    assert_eq!(
        landed.len() as u64,
        s["sync"]["objects"]["contacts"]["created"]
            .as_u64()
            .unwrap()
    );
    assert!(landed.len() >= 99, "{}", landed.len());
    assert!(!landed.contains_key(&bad));
    // The failed record is retried on the next run (and fails again, with the same reason).
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        summary(&env)["sync"]["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == bad.as_str())
    );
}

/// Replace the first identify's email with an invalid one; returns it, lower-cased.
/// The first email in an identifies file, as the pipeline reads it (trimmed, lower-cased).
fn first_email(path: &Path) -> String {
    use datafusion::arrow::array::AsArray;
    let batches = read_dir_batches(path).unwrap();
    let i = batches[0].schema().index_of("email").unwrap();
    batches[0]
        .column(i)
        .as_string::<i32>()
        .value(0)
        .trim()
        .to_lowercase()
}

/// An email HubSpot would refuse failed its contact's batch on every run, and left its
/// account without a contact and a lead, unreported; it is now caught before sending.
#[test]
fn a_malformed_email_is_reported_not_sent() {
    let sb = start_sandbox(&[]);
    let env = Env::new(60, "");
    env.setup(&sb);
    let bad = corrupt_first_email(&env.data.join("identifies/part-00000.parquet"));
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("1 contacts not sent: HubSpot would refuse their email")
            && text.contains(&format!("{bad:?}: has more than one @")),
        "{text}"
    );
    let s = summary(&env);
    assert_eq!(s["data_quality"]["contacts_with_invalid_email"], 1, "{s}");
    assert_eq!(s["sync"]["refused"][0]["email"], bad.as_str());
    assert!(
        s["sync"]["refused"][0]["account_id"]
            .as_str()
            .is_some_and(|a| a.starts_with("acct_"))
    );
    assert!(s["sync"]["failures"].as_array().unwrap().is_empty());
    assert!(!by_prop(&sb.dump(), "contacts", "email").contains_key(bad.as_str()));
}

/// The length of the longest email among the identifies, as the pipeline reads them.
fn longest_email(dir: &Path) -> usize {
    use datafusion::arrow::array::{Array, AsArray};
    let mut max = 0;
    for batch in read_dir_batches(dir).unwrap() {
        let emails = batch.column(batch.schema().index_of("email").unwrap());
        let emails = emails.as_string::<i32>();
        for r in (0..emails.len()).filter(|r| emails.is_valid(*r)) {
            max = max.max(emails.value(r).trim().len());
        }
    }
    max
}

/// Replace the first identify's email with `email`.
fn set_first_email(path: &Path, email: &str) {
    use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
    use std::sync::Arc;
    let batches = read_dir_batches(path).unwrap();
    let schema = batches[0].schema();
    let i = schema.index_of("email").unwrap();
    let fixed: Vec<RecordBatch> = batches
        .iter()
        .enumerate()
        .map(|(b, batch)| {
            let emails = batch.column(i).as_string::<i32>();
            let values: Vec<Option<String>> = (0..emails.len())
                .map(|r| {
                    let v = emails.is_valid(r).then(|| emails.value(r).to_string());
                    if b == 0 && r == 0 {
                        return Some(email.to_string());
                    }
                    v
                })
                .collect();
            let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
            columns[i] = Arc::new(StringArray::from(values));
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        })
        .collect();
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        schema.clone(),
        None,
    )
    .unwrap();
    for b in &fixed {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn corrupt_first_email(path: &Path) -> String {
    let bad = "not-an-email@@example..com";
    set_first_email(path, bad);
    bad.to_string()
}

/// From API 2026-09 HubSpot applies the portal admins' validation rules to API writes. A
/// contact that breaks one fails alone, ledgered with HubSpot's message (exit 1, retried next
/// run); the other 99 of its batch land. `hubspot check` shows the rule beforehand.
#[test]
fn a_validation_rule_refuses_one_record_and_the_rest_of_its_batch_lands() {
    let sb = start_sandbox(&[]);
    let env = Env::new(150, "");
    env.setup(&sb);
    // A rule every demo email meets, and one contact's email made five characters longer.
    let max = longest_email(&env.data.join("identifies"));
    let long = format!("{}@example.com", "a".repeat(max + 5 - "@example.com".len()));
    set_first_email(&env.data.join("identifies/part-00000.parquet"), &long);
    let rule = "/crm/property-validations/2026-09/0-1/email/rule-type/MAX_LENGTH";
    sb.put(rule, &json!({"ruleArguments": [max.to_string()]}));
    let o = env.run(&sb, &["hubspot", "check"]);
    assert!(
        stdout(&o).contains("API 2026-09 enforces them on every write")
            && stdout(&o).contains(&format!("  contacts.email MAX_LENGTH {max}\n")),
        "{}",
        stdout(&o)
    );

    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let s = summary(&env);
    let failures = s["sync"]["failures"].as_array().unwrap();
    let contacts: Vec<&Json> = failures
        .iter()
        .filter(|f| f["object"] == "contacts")
        .collect();
    assert_eq!(contacts.len(), 1, "{failures:?}");
    assert_eq!(contacts[0]["key"], long.as_str());
    let message = contacts[0]["message"].as_str().unwrap();
    assert!(
        message.contains("MAX_LENGTH"),
        "HubSpot's message: {message}"
    );
    let ledger = std::fs::read_to_string(env.path().join("state/failures.json")).unwrap();
    assert!(
        ledger.contains(&long) && ledger.contains("MAX_LENGTH"),
        "{ledger}"
    );
    let dump = sb.dump();
    let landed = by_prop(&dump, "contacts", "email");
    assert!(!landed.contains_key(&long));
    assert!(
        landed.len() >= 99,
        "the rest of the batch lands: {}",
        landed.len()
    );
    assert_eq!(
        landed.len() as u64,
        s["sync"]["objects"]["contacts"]["created"]
            .as_u64()
            .unwrap()
    );

    // Retried next run, and refused again while the rule stands.
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        summary(&env)["sync"]["failures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == long.as_str())
    );
    // The admin relaxes the rule: the next run lands it and clears the ledger.
    sb.put(rule, &json!({"ruleArguments": ["100"]}));
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(by_prop(&sb.dump(), "contacts", "email").contains_key(&long));
    assert_converged(&env, &sb, "after the rule was relaxed");
}

/// `api_version = "legacy"` keeps HubSpot's v3/v4 paths for portals or proxies that need
/// them, and syncs the same way (rules are not enforced there, as in HubSpot).
#[test]
fn the_legacy_api_version_syncs_on_the_v3_and_v4_paths() {
    let sb = start_sandbox(&[]);
    let env = Env::new(40, "\n[hubspot]\napi_version = \"legacy\"\n");
    env.setup(&sb);
    let o = env.run(&sb, &["run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let stats = sb.stats();
    let routes: Vec<&String> = stats["by_route"].as_object().unwrap().keys().collect();
    assert!(
        routes
            .iter()
            .all(|r| r.contains("/crm/v3/") || r.contains("/crm/v4/")),
        "{routes:?}"
    );
    assert!(
        routes
            .iter()
            .any(|r| r.starts_with("POST /crm/v4/associations/")),
        "{routes:?}"
    );
    assert_converged(&env, &sb, "legacy");
}

#[test]
fn a_run_killed_mid_sync_converges_without_duplicates() {
    // Killed while contacts are upserted, and killed with a lead create in flight (HubSpot
    // applies it, the dead run never hears back: only the pending marker remembers it).
    for (phase, route) in [
        ("upserts", "POST /crm/objects/2026-09/contacts/batch/upsert"),
        (
            "lead creation",
            "POST /crm/objects/2026-09/leads/batch/create",
        ),
    ] {
        let sb = start_sandbox(&["--latency", "60"]);
        let env = Env::new(200, "[hubspot]\nmax_concurrency = 2\n");
        env.setup(&sb);
        sb.reset_stats();
        let bin = assert_cmd::cargo::cargo_bin("pqlsync");
        let mut child = StdCommand::new(bin)
            .current_dir(env.path())
            .env("HUBSPOT_TOKEN", TOKEN)
            .env("HUBSPOT_BASE_URL", &sb.url)
            .args(["run", "--quiet"])
            .spawn()
            .unwrap();
        let started = Instant::now();
        while sb.stats()["by_route"][route].as_u64().unwrap_or(0) == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{phase}: never reached {route}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Let the sandbox finish what was in flight.
        std::thread::sleep(Duration::from_millis(300));
        let before = sb.dump();
        let accounts = env.decisions().len();
        let leads_in_hubspot = objects(&before, "leads").len();
        if phase == "upserts" {
            assert!(
                leads_in_hubspot < accounts,
                "{phase}: the run was not interrupted"
            );
        } else {
            let state: Json = serde_json::from_str(
                &std::fs::read_to_string(env.path().join("state/hubspot.json")).unwrap(),
            )
            .unwrap();
            let known = state["objects"]["leads"].as_object().map_or(0, |o| o.len());
            assert!(
                leads_in_hubspot > known,
                "{phase}: no lead was created unconfirmed ({leads_in_hubspot} vs {known})"
            );
            assert!(
                state["pending"]["leads"]
                    .as_array()
                    .is_some_and(|p| !p.is_empty()),
                "{phase}: {}",
                state["pending"]
            );
        }
        let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
        assert!(o.status.success(), "{phase}: {}{}", stdout(&o), stderr(&o));
        assert_converged(&env, &sb, phase);
    }
}

/// After any sequence of runs: one HubSpot record per key for every object, every account's
/// company there, nothing pending in a readable state, and nothing left to write.
fn assert_converged(env: &Env, sb: &Sandbox, what: &str) {
    let dump = sb.dump();
    for (kind, key) in [
        ("companies", "plg_account_id"),
        ("contacts", "email"),
        ("deals", "plg_trial_id"),
        ("leads", "plg_account_id"),
        ("tasks", "plg_task_key"),
    ] {
        let all = objects(&dump, kind);
        let unique: BTreeSet<&str> = all.iter().filter_map(|o| prop(o, key)).collect();
        assert_eq!(unique.len(), all.len(), "{what}: duplicate {kind}");
    }
    assert_eq!(
        by_prop(&dump, "companies", "plg_account_id").len(),
        env.decisions().len(),
        "{what}"
    );
    let state: Json = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("state/hubspot.json")).unwrap(),
    )
    .expect("the sync state is valid JSON");
    assert!(state["pending"].is_null(), "{what}: {}", state["pending"]);
    let o = env.run(sb, &["plan"]);
    assert!(
        stdout(&o).contains("HubSpot plan: 0 writes"),
        "{what}: {}",
        stdout(&o)
    );
}

fn spawn_run(env: &Env, sb: &Sandbox, args: &[&str]) -> std::process::Child {
    StdCommand::new(assert_cmd::cargo::cargo_bin("pqlsync"))
        .current_dir(env.path())
        .env("HUBSPOT_TOKEN", TOKEN)
        .env("HUBSPOT_BASE_URL", &sb.url)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn overlapping_runs_on_one_state_create_each_record_once() {
    let sb = start_sandbox(&["--latency", "20"]);
    let env = Env::new(150, "");
    env.setup(&sb);
    // A slow scheduled run, a second schedule that waits for it, and a manual run that does not.
    // The other two start once the first is syncing, so it is the one holding the lock (started
    // together, the waiting run could win it and the first exit 3).
    let first = spawn_run(&env, &sb, &["run", "--quiet"]);
    let started = Instant::now();
    while sb.stats()["by_route"]["POST /crm/objects/2026-09/companies/batch/upsert"]
        .as_u64()
        .unwrap_or(0)
        == 0
    {
        assert!(started.elapsed() < Duration::from_secs(60), "never synced");
        std::thread::sleep(Duration::from_millis(5));
    }
    let waits = spawn_run(&env, &sb, &["run", "--quiet", "--wait", "300"]);
    let o = env.run(&sb, &["run"]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stderr(&o).contains("another run holds the state"),
        "{}",
        stderr(&o)
    );
    for child in [first, waits] {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_converged(&env, &sb, "overlapping runs");
}

#[test]
fn sigterm_mid_sync_stops_at_a_batch_boundary_and_the_next_run_converges() {
    let sb = start_sandbox(&["--latency", "60"]);
    let env = Env::new(200, "[hubspot]\nmax_concurrency = 2\n");
    env.setup(&sb);
    sb.reset_stats();
    let child = spawn_run(&env, &sb, &["run"]);
    let route = "POST /crm/objects/2026-09/contacts/batch/upsert";
    let started = Instant::now();
    while sb.stats()["by_route"][route].as_u64().unwrap_or(0) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never reached {route}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let kill = StdCommand::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("stopped by SIGTERM"), "{err}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("STOPPED: stopped by SIGTERM"), "{text}");
    // Stopped between batches: nothing in flight was abandoned, so nothing is pending.
    let state: Json = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("state/hubspot.json")).unwrap(),
    )
    .unwrap();
    assert!(state["pending"].is_null(), "{}", state["pending"]);
    assert!(
        objects(&sb.dump(), "leads").len() < env.decisions().len(),
        "the run was not stopped before its end"
    );
    let o = env.run(&sb, &["run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_converged(&env, &sb, "after SIGTERM");
}

/// A run that would fail at the HubSpot step used to advance its routing memory and write its
/// decisions first; the portal, the token and the sync state are now checked before.
#[test]
fn a_run_that_cannot_sync_writes_nothing() {
    let sb = start_sandbox(&[]);
    let env = Env::new(40, "");
    env.setup(&sb);
    let wrote_nothing = |what: &str| {
        assert!(
            !env.path().join("state/routing.json").exists(),
            "{what}: routing memory advanced"
        );
        assert!(
            !env.path().join("out/decisions.parquet").exists(),
            "{what}: decisions written"
        );
    };
    let o = env
        .pqlsync(&sb)
        .env("HUBSPOT_TOKEN", "pat-na1-wrong")
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("401"), "{}", stderr(&o));
    wrote_nothing("wrong token");

    let state = env.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("failures.json"), "{\"failures\": [tru").unwrap();
    let o = env.run(&sb, &["run"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("failures.json"), "{}", stderr(&o));
    wrote_nothing("corrupt ledger");
    assert_eq!(
        std::fs::read_to_string(state.join("failures.json")).unwrap(),
        "{\"failures\": [tru",
        "the ledger was overwritten"
    );
}

/// The answer to a lead create was lost (the run was killed), and the next run's lookup got a
/// 200 that was not a batch response (a proxy's HTML page). That used to read as "no such
/// lead", and every lead was created again.
#[test]
fn an_html_200_on_the_lookup_after_a_lost_lead_create_creates_no_duplicate() {
    let sb = start_sandbox(&["--latency", "60"]);
    let env = Env::new(200, "[hubspot]\nmax_concurrency = 2\n");
    env.setup(&sb);
    let mut child = spawn_run(&env, &sb, &["run", "--quiet"]);
    let create = "POST /crm/objects/2026-09/leads/batch/create";
    let started = Instant::now();
    while sb.stats()["by_route"][create].as_u64().unwrap_or(0) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never created leads"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let leads_before = objects(&sb.dump(), "leads").len();
    assert!(leads_before > 0);
    sb.post(
        "/_sandbox/garble",
        &json!({"route": "POST /crm/objects/2026-09/leads/batch/read", "times": 10_000}),
    );
    sb.reset_stats();
    let o = env.run(&sb, &["run"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("could not look it up"),
        "{}",
        stdout(&o)
    );
    let creates = sb.stats()["by_route"][create].as_u64().unwrap_or(0);
    let leads: BTreeSet<String> = objects(&sb.dump(), "leads")
        .iter()
        .filter_map(|o| prop(o, "plg_account_id").map(str::to_string))
        .collect();
    assert_eq!(
        leads.len(),
        objects(&sb.dump(), "leads").len(),
        "a lead was created twice ({creates} create calls)"
    );
    sb.post(
        "/_sandbox/garble",
        &json!({"route": "POST /crm/objects/2026-09/leads/batch/read", "times": 0}),
    );
    let o = env.run(&sb, &["run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_converged(&env, &sb, "after the garbled lookup");
}

#[test]
fn the_daily_limit_stops_the_run_cleanly_with_state_saved() {
    let sb = start_sandbox(&[]);
    let env = Env::new(150, "");
    env.setup(&sb);
    // Setup is done; the portal has 26 requests left today: enough for discovery and the companies, not for the rest.
    sb.post("/_sandbox/limits", &json!({"daily_limit": 26}));
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("daily API limit"), "{}", stdout(&o));
    let state: Json = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("state/hubspot.json")).unwrap(),
    )
    .unwrap();
    let saved = state["objects"]["companies"]
        .as_object()
        .map_or(0, |o| o.len());
    assert!(saved > 0, "the confirmed records were not saved");
    let ledger: Json = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("state/failures.json")).unwrap(),
    )
    .unwrap();
    assert!(ledger["stopped"].as_str().unwrap().contains("daily"));
}

#[test]
fn without_a_portal_requests_are_recorded_offline() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 40, 20, 5);
    write_config(dir.path(), &data, "");
    let o = pqlsync(dir.path()).arg("run").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("offline"), "{}", stdout(&o));
    for object in ["companies", "contacts", "deals", "leads", "associations"] {
        let text = std::fs::read_to_string(dir.path().join(format!("out/hubspot/{object}.jsonl")))
            .unwrap();
        for line in text.lines() {
            let request: Json = serde_json::from_str(line).unwrap();
            assert_eq!(request["method"], "POST");
            // The paths of the API version a live run speaks (2026-09 by default).
            let path = request["path"].as_str().unwrap();
            let dated = if object == "associations" {
                "/crm/associations/2026-09/"
            } else {
                "/crm/objects/2026-09/"
            };
            assert!(path.starts_with(dated), "{path}");
            let inputs = request["body"]["inputs"].as_array().unwrap();
            assert!(!inputs.is_empty() && inputs.len() <= 100);
        }
    }
    // A URL without a token is a configuration error, not a silent offline run.
    let o = pqlsync(dir.path())
        .env("HUBSPOT_BASE_URL", "http://127.0.0.1:9")
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("HUBSPOT_TOKEN"), "{}", stderr(&o));
}

#[test]
fn the_token_never_appears_in_output_state_or_files() {
    let sb = start_sandbox(&[]);
    let env = Env::new(40, "");
    env.setup(&sb);
    let mut outputs = String::new();
    for args in [
        &["run", "-vv", "--summary-json", "s.json"][..],
        &["plan", "-v"],
        &["hubspot", "check"],
        &["explain", "acct_000001"],
    ] {
        let o = env.run(&sb, args);
        outputs.push_str(&stdout(&o));
        outputs.push_str(&stderr(&o));
    }
    // JSON logs with every library's every event: the HTTP stack's traces included.
    for command in ["run", "plan"] {
        let o = env
            .pqlsync(&sb)
            .env("RUST_LOG", "trace")
            .args(["--log-format", "json", command])
            .output()
            .unwrap();
        assert!(o.status.success(), "{command}: {}", stderr(&o));
        assert!(
            stderr(&o).lines().count() > 100,
            "{command}: few trace lines"
        );
        outputs.push_str(&stdout(&o));
        outputs.push_str(&stderr(&o));
    }
    // A wrong token: rejected with a clear message that does not echo it.
    let o = pqlsync(env.path())
        .env("HUBSPOT_TOKEN", "pat-na1-WRONG-9d2c")
        .env("HUBSPOT_BASE_URL", &sb.url)
        .arg("run")
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("401") || stdout(&o).contains("401"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(!stderr(&o).contains("WRONG") && !stdout(&o).contains("WRONG"));
    assert!(
        !outputs.contains(TOKEN) && !outputs.contains("SECRET"),
        "token in output"
    );
    for file in walk(env.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("SECRET"),
            "token in {}",
            file.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The portal's stage and owner ids by name (`dealstage:closed_lost`, `hs_pipeline_stage:…`,
/// `hubspot_owner_id:rep@…`), from what the last run kept in its sync state.
fn portal_ids(env: &Env) -> BTreeMap<String, String> {
    let state: Json = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("state/hubspot.json")).unwrap(),
    )
    .unwrap();
    state["names"]
        .as_object()
        .expect("the run kept what the portal's ids mean")
        .iter()
        .map(|(key, name)| {
            let (property, id) = key.split_once(':').unwrap();
            (
                format!("{property}:{}", name.as_str().unwrap()),
                id.to_string(),
            )
        })
        .collect()
}

/// Decisions by account: (motion, owner, route_reason, tasks).
fn decided(rows: &[Vec<(String, pqlsync_sql::value::Value)>]) -> BTreeMap<String, [String; 5]> {
    rows.iter()
        .map(|row| {
            let text = |name: &str| get(row, name).as_str().unwrap_or_default().to_string();
            (
                text("account_id"),
                [
                    text("motion"),
                    text("owner"),
                    text("route_reason"),
                    text("tasks"),
                    text("trial_id"),
                ],
            )
        })
        .collect()
}

/// Records of `kind` by their pqlsync key, with (HubSpot id, account).
fn keyed(dump: &Json, kind: &str, key: &str) -> BTreeMap<String, (String, String)> {
    objects(dump, kind)
        .iter()
        .filter_map(|o| {
            let k = prop(o, key)?;
            let account = prop(o, "plg_account_id")
                .map(str::to_string)
                .unwrap_or_else(|| k.split(':').next().unwrap().to_string());
            Some((k.to_string(), (o["id"].as_str()?.to_string(), account)))
        })
        .collect()
}

const WEEK_BEFORE: &str = "2026-11-13";

/// The trial playbooks (no queues), so that a week of a trial fires tasks to silence.
const PLAYBOOKS: &str = r#"
[[routing.playbooks]]
trigger = "green"
[[routing.playbooks]]
trigger = "hot_pql"
[[routing.playbooks]]
trigger = "trial_ending"
[[routing.playbooks]]
trigger = "rescue"
[[routing.playbooks]]
trigger = "help_requested"
[[routing.playbooks]]
trigger = "meeting_booked"
"#;

/// The issue's scenario: a first run, reps change records in HubSpot, a run a week later. What
/// they changed stands, drives routing and the tasks, and an unchanged rerun writes nothing.
#[test]
fn what_reps_change_in_hubspot_wins_over_the_next_run() {
    let sb = start_sandbox(&["--owner", "manager-pick@example.com"]);
    let env = Env::new(300, PLAYBOOKS);
    env.setup(&sb);
    let o = env.run(&sb, &["run", "--as-of", WEEK_BEFORE]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let first = decided(&env.decisions());
    let before = sb.dump();
    let ids = portal_ids(&env);
    let id = |what: &str| {
        ids.get(what)
            .unwrap_or_else(|| panic!("no {what} in {ids:?}"))
            .clone()
    };
    // What the rules would decide a week later, before anyone touches HubSpot.
    let o = env.run(&sb, &["score", "--out", "later.parquet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let later = decided(&read_rows(&env.path().join("later.parquet")));

    let deals = keyed(&before, "deals", "plg_trial_id");
    let leads = keyed(&before, "leads", "plg_account_id");
    let companies = keyed(&before, "companies", "plg_account_id");
    let deal_of = |account: &str| {
        deals
            .iter()
            .find(|(trial, (_, a))| a == account && Some(*trial) == Some(&first[account][4]))
            .map(|(_, (id, _))| id.clone())
    };
    let prospect = |a: &str| matches!(first[a][0].as_str(), "self_serve" | "sales_assisted");
    let buyers: Vec<String> = first
        .keys()
        .filter(|a| prospect(a) && later[*a][0] == "customer" && deal_of(a).is_some())
        .take(2)
        .cloned()
        .collect();
    assert_eq!(
        buyers.len(),
        2,
        "the data has no trial that pays within the week"
    );
    // Live trials, those whose triggers would fire a task next week first: the tasks a lost
    // deal or a disqualified lead must silence.
    let mut trials: Vec<&String> = first
        .keys()
        .filter(|a| prospect(a) && !buyers.contains(a) && later[*a][0] != "customer")
        .filter(|a| deal_of(a).is_some())
        .collect();
    trials.sort_by_key(|a| later[*a][3].is_empty());
    let lost: Vec<String> = trials
        .iter()
        .step_by(2)
        .take(4)
        .map(|a| a.to_string())
        .collect();
    let disqualified: Vec<String> = trials
        .iter()
        .skip(1)
        .step_by(2)
        .take(4)
        .map(|a| a.to_string())
        .collect();
    assert_eq!(disqualified.len(), 4, "too few live trials");
    let would_fire = |list: &[String]| list.iter().filter(|a| !later[*a][3].is_empty()).count();
    assert!(
        would_fire(&lost) > 0 && would_fire(&disqualified) > 0,
        "no trial task would fire next week for the trials the reps close: the test proves nothing"
    );
    let picked: BTreeSet<&String> = buyers.iter().chain(&lost).chain(&disqualified).collect();
    let assisted: Vec<String> = first
        .keys()
        .filter(|a| !picked.contains(a) && first[*a][0] == "self_serve")
        .filter(|a| matches!(later[*a][0].as_str(), "self_serve" | "sales_assisted"))
        .filter(|a| deal_of(a).is_some())
        .take(3)
        .cloned()
        .collect();
    assert_eq!(assisted.len(), 3);
    // Accounts with no trial yet: next week's new deals and leads go to whom the manager chose.
    let reassigned: Vec<String> = first
        .keys()
        .filter(|a| !picked.contains(a) && !assisted.contains(a))
        .filter(|a| first[*a][4].is_empty() || later[*a][3].contains("green"))
        .take(60)
        .cloned()
        .collect();

    for a in lost.iter().chain(&buyers[..1]) {
        sb.edit(
            "deals",
            &deal_of(a).unwrap(),
            json!({"dealstage": id("dealstage:closed_lost")}),
        );
    }
    for a in disqualified.iter().chain(&buyers[1..]) {
        let stage = id("hs_pipeline_stage:disqualified");
        sb.edit("leads", &leads[a].0, json!({"hs_pipeline_stage": stage}));
    }
    for a in &assisted {
        let stage = id("dealstage:trial_sales_assisted");
        sb.edit("deals", &deal_of(a).unwrap(), json!({"dealstage": stage}));
    }
    let manager = id("hubspot_owner_id:manager-pick@example.com");
    for a in &reassigned {
        sb.edit(
            "companies",
            &companies[a].0,
            json!({"hubspot_owner_id": manager}),
        );
    }

    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let second = decided(&env.decisions());
    let after = sb.dump();
    let stage_of = |kind: &str, hubspot_id: &str, property: &str| {
        objects(&after, kind)
            .iter()
            .find(|o| o["id"] == hubspot_id)
            .and_then(|o| prop(o, property))
            .unwrap()
            .to_string()
    };
    for a in &lost {
        let stage = stage_of("deals", &deal_of(a).unwrap(), "dealstage");
        assert_eq!(
            stage,
            id("dealstage:closed_lost"),
            "{a}: a lost deal stays lost"
        );
        assert_eq!(second[a][0], "disqualified", "{a}");
        assert!(
            second[a][2].contains("closed lost in HubSpot by a person"),
            "{a}: {}",
            second[a][2]
        );
    }
    for a in &disqualified {
        let stage = stage_of("leads", &leads[a].0, "hs_pipeline_stage");
        assert_eq!(
            stage,
            id("hs_pipeline_stage:disqualified"),
            "{a}: stays disqualified"
        );
        assert_eq!(second[a][0], "disqualified", "{a}");
    }
    // A purchase still wins over a lost deal and a disqualified lead.
    assert_eq!(
        stage_of("deals", &deal_of(&buyers[0]).unwrap(), "dealstage"),
        id("dealstage:closed_won")
    );
    assert_eq!(
        stage_of("leads", &leads[&buyers[1]].0, "hs_pipeline_stage"),
        id("hs_pipeline_stage:self_checked_out")
    );
    for a in &assisted {
        assert_eq!(second[a][0], "sales_assisted", "{a}");
        assert!(
            second[a][2].contains("Sales-Assisted in HubSpot by a person"),
            "{}",
            second[a][2]
        );
        let stage = stage_of("deals", &deal_of(a).unwrap(), "dealstage");
        assert_eq!(stage, id("dealstage:trial_sales_assisted"));
    }
    // The manager's owner stays, and is the owner of every record made for the account since.
    let mut new_records = 0;
    for a in &reassigned {
        assert_eq!(second[a][1], "manager-pick@example.com", "{a}");
        let company = objects(&after, "companies")
            .iter()
            .find(|o| o["id"] == companies[a].0.as_str());
        assert_eq!(
            prop(company.unwrap(), "hubspot_owner_id"),
            Some(manager.as_str()),
            "{a}"
        );
        for (kind, key) in [
            ("deals", "plg_trial_id"),
            ("leads", "plg_account_id"),
            ("tasks", "plg_task_key"),
        ] {
            let old = keyed(&before, kind, key);
            for (k, (hid, account)) in keyed(&after, kind, key) {
                if account == *a && !old.contains_key(&k) {
                    let record = objects(&after, kind)
                        .iter()
                        .find(|o| o["id"] == hid.as_str())
                        .unwrap();
                    assert_eq!(
                        prop(record, "hubspot_owner_id"),
                        Some(manager.as_str()),
                        "{kind} {k}"
                    );
                    new_records += 1;
                }
            }
        }
    }
    assert!(
        new_records > 0,
        "no record was made for a reassigned account: the test proves nothing"
    );
    // No trial task for a trial the reps lost or disqualified.
    let old_tasks = keyed(&before, "tasks", "plg_task_key");
    for (key, (_, account)) in keyed(&after, "tasks", "plg_task_key") {
        let silenced = lost.contains(&account) || disqualified.contains(&account);
        assert!(
            !(silenced && !old_tasks.contains_key(&key) && !key.contains(":expansion:")),
            "task {key} for a trial the reps closed"
        );
    }
    let s = summary(&env);
    let kept = |object: &str| s["sync"]["objects"][object]["kept"].as_u64().unwrap_or(0) as usize;
    assert!(
        kept("deals") >= lost.len() + assisted.len(),
        "{}",
        s["sync"]
    );
    assert!(kept("companies") >= reassigned.len(), "{}", s["sync"]);
    assert!(
        stdout(&o).contains("kept: changed in HubSpot"),
        "{}",
        stdout(&o)
    );
    let read = &s["sync"]["listened"];
    assert!(
        read["objects"]["deals"]["changed_in_hubspot"]
            .as_u64()
            .unwrap()
            >= (lost.len() + 1 + assisted.len()) as u64,
        "{read}"
    );

    // An unchanged rerun reads HubSpot back and writes nothing.
    sb.reset_stats();
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        sb.stats()["writes"],
        0,
        "an unchanged run wrote: {}",
        sb.stats()
    );
    assert!(sb.stats()["requests"].as_u64().unwrap() > 0);

    // `explain` shows HubSpot's value next to pqlsync's, and which won.
    let o = env.run(&sb, &["explain", &lost[0]]);
    let text = stdout(&o);
    assert!(
        text.contains("in HubSpot (as the last run read it back"),
        "{text}"
    );
    assert!(text.contains("deal stage  HubSpot closed_lost"), "{text}");
    assert!(text.contains("a person's"), "{text}");
    // The deal stage `explain --json` shows for `account`: HubSpot's, and which one won.
    let deal_stage = |account: &str| {
        let o = env.run(&sb, &["explain", account, "--json"]);
        let doc: Json = serde_json::from_str(&stdout(&o)).unwrap();
        let rows = doc["in_hubspot"].as_array().unwrap().clone();
        let deal = rows.into_iter().find(|r| r["property"] == "deal stage");
        let deal = deal.unwrap();
        (deal["hubspot"].clone(), deal["wins"].clone())
    };
    assert_eq!(
        deal_stage(&lost[0]),
        (json!("closed_lost"), json!("hubspot"))
    );
    assert_eq!(
        deal_stage(&buyers[0]).0,
        "closed_won",
        "a purchase closed it won"
    );
}

/// When what HubSpot holds cannot be read, nothing is written blind: the accounts are held
/// back, listed, the run exits 1, and the next run converges.
#[test]
fn a_failed_read_back_changes_nothing_and_the_next_run_converges() {
    let sb = start_sandbox(&[]);
    let env = Env::new(120, "");
    env.setup(&sb);
    let o = env.run(&sb, &["run", "--as-of", WEEK_BEFORE]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let route = "POST /crm/objects/2026-09/companies/batch/read";
    sb.post("/_sandbox/garble", &json!({"route": route, "times": 1000}));
    let before = sb.dump();
    // A week later scores changed: without the read-back failure this run would update.
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("UNREAD"), "{}", stdout(&o));
    let s = summary(&env);
    for (object, counts) in s["sync"]["objects"].as_object().unwrap() {
        assert_eq!(counts["updated"], 0, "{object} updated blind: {counts}");
    }
    // Accounts new this week have nothing in HubSpot to overwrite and are created; every
    // record that was there is exactly as it was.
    let after = sb.dump();
    for kind in ["companies", "contacts", "deals", "leads", "tasks"] {
        let now: BTreeMap<&str, &Json> = objects(&after, kind)
            .iter()
            .map(|o| (o["id"].as_str().unwrap(), &o["properties"]))
            .collect();
        for o in objects(&before, kind) {
            let id = o["id"].as_str().unwrap();
            assert_eq!(now[id], &o["properties"], "{kind} {id} changed");
        }
    }
    let failures = s["sync"]["failures"].as_array().unwrap();
    assert!(!failures.is_empty());
    assert!(
        failures.iter().all(|f| f["operation"] == "read"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("could not read what HubSpot holds now")),
        "{failures:?}"
    );
    let ledger: Json = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("state/failures.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ledger["failures"].as_array().unwrap().len(), failures.len());

    sb.post("/_sandbox/garble", &json!({"route": route, "times": 0}));
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let s = summary(&env);
    assert!(
        s["sync"]["objects"]["companies"]["updated"]
            .as_u64()
            .unwrap()
            > 0,
        "{}",
        s["sync"]
    );
}

/// After HubSpot lost every record, the next run said "0 writes" over an empty portal, and
/// later runs failed for good. Records HubSpot no longer has are found on reading back and
/// recreated, with their associations.
#[test]
fn a_wiped_portal_was_never_rebuilt() {
    let sb = start_sandbox(&[]);
    let env = Env::new(120, "");
    env.setup(&sb);
    let o = env.run(&sb, &["run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let count = |dump: &Json| {
        ["companies", "contacts", "deals", "leads", "tasks"]
            .map(|kind| dump["objects"][kind].as_array().map_or(0, Vec::len))
    };
    let before = sb.dump();
    let links = before["associations"].as_array().unwrap().len();
    let lost: Json = serde_json::from_str(&crate::common::sandbox::http(
        "POST",
        &format!("{}/_sandbox/wipe", sb.url),
        Some("{}"),
        None,
    ))
    .unwrap();
    assert!(lost["records"].as_u64().unwrap() > 300, "{lost}");
    assert_eq!(count(&sb.dump()), [0; 5]);

    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("GONE from HubSpot (recreated)"),
        "{}",
        stdout(&o)
    );
    let after = sb.dump();
    assert_eq!(count(&after), count(&before), "every record is back");
    assert_eq!(after["associations"].as_array().unwrap().len(), links);
    let s = summary(&env);
    let gone = &s["sync"]["listened"]["objects"];
    assert_eq!(
        gone["companies"]["gone"].as_u64(),
        Some(objects(&before, "companies").len() as u64),
        "{gone}"
    );
    assert_eq!(
        gone["contacts"]["gone"].as_u64(),
        Some(objects(&before, "contacts").len() as u64),
        "{gone}"
    );
    // And it stays converged.
    sb.reset_stats();
    let o = env.run(&sb, &["run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sb.stats()["writes"], 0, "{}", sb.stats());
}

/// Leads whose company's write failed were created without it and never linked later: the
/// next runs said "0 writes". The lead-to-company link is desired state like a property, made
/// by the first run that knows both ids.
#[test]
fn a_lead_created_while_its_company_failed_stayed_unlinked() {
    let sb = start_sandbox(&[]);
    let env = Env::new(150, "");
    env.setup(&sb);
    // The first company batch lands, but its answer is not HubSpot's documented shape: pqlsync
    // cannot confirm those companies, so their leads are created without them.
    let route = "POST /crm/objects/2026-09/companies/batch/upsert";
    sb.post("/_sandbox/garble", &json!({"route": route, "times": 1}));
    let o = env.run(&sb, &["run"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let unlinked = |dump: &Json| {
        let companies = by_prop(dump, "companies", "plg_account_id");
        objects(dump, "leads")
            .iter()
            .filter(|lead| {
                let account = prop(lead, "plg_account_id").unwrap();
                let company = companies[account]["id"].as_str().unwrap();
                let lead = lead["id"].as_str().unwrap();
                !associated(dump, "leads", lead, "companies", company)
            })
            .count()
    };
    let dump = sb.dump();
    let leads = objects(&dump, "leads").len();
    assert!(leads > 0);
    let before = unlinked(&dump);
    assert!(before > 0, "the garbled batch left no lead unlinked");

    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let dump = sb.dump();
    assert_eq!(unlinked(&dump), 0, "of {leads} leads");
    let s = summary(&env);
    assert!(
        s["sync"]["associations"]["created"].as_u64().unwrap() >= before as u64,
        "{}",
        s["sync"]["associations"]
    );
    assert_converged(&env, &sb, "after linking the leads");
}

/// How many requests a first `run` of `accounts` demo accounts makes by the middle of its
/// writes, measured on a twin portal (the data and the sandbox are deterministic).
fn requests_to_mid_sync(accounts: u32) -> u64 {
    let sb = start_sandbox(&[]);
    let env = Env::new(accounts, "");
    env.setup(&sb);
    sb.reset_stats();
    let o = env.run(&sb, &["run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let stats = sb.stats();
    let (all, writes) = (
        stats["requests"].as_u64().unwrap(),
        stats["writes"].as_u64().unwrap(),
    );
    assert!(writes >= 6, "{stats}");
    all - writes / 2
}

/// A token revoked mid-run exited 1 with the message on stdout only, and in JSON logs every
/// line was INFO. HubSpot refusing the token at any point is exit 2, the message on stderr,
/// an ERROR event; what HubSpot confirmed before is kept, and the next run goes on.
#[test]
fn a_token_revoked_mid_run_exited_1_with_the_message_on_stdout_only() {
    let mid_sync = requests_to_mid_sync(150);
    let sb = start_sandbox(&[]);
    let env = Env::new(150, "");
    env.setup(&sb);
    sb.reset_stats();
    sb.post("/_sandbox/revoke", &json!({"after": mid_sync}));
    let o = env.run(
        &sb,
        &["--log-format", "json", "run", "--summary-json", "s.json"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let stats = sb.stats();
    assert!(
        stats["writes"].as_u64().unwrap() >= 1,
        "revoked mid-sync: {stats}"
    );
    assert!(stats["unauthorized"].as_u64().unwrap() >= 1, "{stats}");
    let last: Json = serde_json::from_str(stderr(&o).lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "ERROR", "{last}");
    assert_eq!(last["exit_code"], 2, "{last}");
    let message = last["message"].as_str().unwrap();
    assert!(
        message.contains("HubSpot rejected the token (401") && message.contains("HUBSPOT_TOKEN"),
        "{message}"
    );
    assert!(!stderr(&o).contains(TOKEN));
    // The summary says where it stopped, and what was confirmed is in the state.
    let s = summary(&env);
    assert!(
        s["sync"]["stopped"].as_str().unwrap().contains("401"),
        "{}",
        s["sync"]
    );
    let state: Json = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("state/hubspot.json")).unwrap(),
    )
    .unwrap();
    assert!(
        !state["objects"]["companies"]
            .as_object()
            .unwrap()
            .is_empty()
    );

    // In text, the message is on stderr as the error it is.
    let o = env.run(&sb, &["run"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: ") && stderr(&o).contains("HUBSPOT_TOKEN"),
        "{}",
        stderr(&o)
    );
    // A new token: the next run finishes the sync without a duplicate.
    sb.post("/_sandbox/revoke", &json!({"after": null}));
    let o = env.run(&sb, &["run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_converged(&env, &sb, "after the token came back");
}

/// A 403 MISSING_SCOPES named neither the object nor the scope HubSpot listed.
#[test]
fn a_missing_scope_named_neither_the_object_nor_the_scope() {
    let sb = start_sandbox(&[]);
    let env = Env::new(60, "");
    env.setup(&sb);
    sb.post(
        "/_sandbox/scopes",
        &json!({"missing": ["crm.objects.leads.write"]}),
    );
    let o = env.run(&sb, &["run"]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    for needle in [
        "error: HubSpot refused access to leads",
        "403 MISSING_SCOPES",
        "crm.objects.leads.write",
    ] {
        assert!(err.contains(needle), "{needle}:\n{err}");
    }
    // Companies, contacts and deals landed before the leads were refused.
    assert!(!objects(&sb.dump(), "companies").is_empty());
    assert!(objects(&sb.dump(), "leads").is_empty());
    sb.post("/_sandbox/scopes", &json!({"missing": []}));
    let o = env.run(&sb, &["run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_converged(&env, &sb, "after the scope was granted");
}

/// People end to end: every contact carries its own engagement numbers, each account with a
/// champion has exactly one contact flagged so, the champion is its most engaged active
/// contact, and the account's playbook tasks land on the champion's contact. An unchanged
/// rerun then writes nothing (the new contact properties are diffed like the rest).
#[test]
fn a_task_lands_on_the_champion_and_contacts_carry_their_own_numbers() {
    let sb = start_sandbox(&[]);
    let env = Env::new(120, "");
    env.setup(&sb);
    let o = env.run(&sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let s = summary(&env);
    assert!(
        s["people"]["users"].as_u64().unwrap() > 0,
        "{}",
        s["people"]
    );
    let dump = sb.dump();
    let contacts = objects(&dump, "contacts");
    let tasks = by_prop(&dump, "tasks", "plg_task_key");
    let number = |c: &Json, p: &str| -> i64 { prop(c, p).unwrap().parse().unwrap() };
    for c in contacts
        .iter()
        .filter(|c| prop(c, "plg_account_id").is_some())
    {
        for p in [
            "plg_engagement_score",
            "plg_events_14d",
            "plg_active_days_14d",
            "plg_teammates_invited_14d",
        ] {
            assert!(
                prop(c, p).is_some(),
                "{} has no {p}",
                prop(c, "email").unwrap()
            );
        }
    }
    let mut with_tasks_on_champion = 0;
    for row in env.decisions() {
        let account = get(&row, "account_id").as_str().unwrap();
        let mine: Vec<&Json> = contacts
            .iter()
            .filter(|c| prop(c, "plg_account_id") == Some(account))
            .collect();
        let flagged: Vec<&str> = mine
            .iter()
            .filter(|c| prop(c, "plg_champion") == Some("true"))
            .map(|c| prop(c, "email").unwrap())
            .collect();
        let Some(champion) = get(&row, "champion").as_str() else {
            assert!(
                flagged.is_empty(),
                "{account}: {flagged:?} without a champion"
            );
            continue;
        };
        assert_eq!(flagged, [champion], "{account}");
        let champ = mine
            .iter()
            .find(|c| prop(c, "email") == Some(champion))
            .unwrap();
        for other in mine.iter().filter(|c| number(c, "plg_events_14d") > 0) {
            assert!(
                number(champ, "plg_engagement_score") >= number(other, "plg_engagement_score"),
                "{account}: {champion} is less engaged than {}",
                prop(other, "email").unwrap()
            );
        }
        for (key, task) in tasks.range(format!("{account}:")..format!("{account};")) {
            assert!(
                associated(
                    &dump,
                    "tasks",
                    task["id"].as_str().unwrap(),
                    "contacts",
                    champ["id"].as_str().unwrap()
                ),
                "task {key} is not on the champion {champion}"
            );
            with_tasks_on_champion += 1;
        }
    }
    assert!(with_tasks_on_champion >= 3, "{with_tasks_on_champion}");

    sb.reset_stats();
    let o = env.run(&sb, &["run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(sb.stats()["writes"], 0, "an unchanged run wrote");
}
