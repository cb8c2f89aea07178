//! Playbooks end to end: the real binary over the bundled demo data against the real sandbox
//! (`pqlsync sandbox`, which creates the config's task queues and checks every task property as
//! HubSpot does). Every trigger fires on the demo data; each task lands in its playbook's queue
//! with its type, priority, owner and associations; re-running the day and running the next
//! day create no task twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::sandbox::Sandbox;
use crate::common::*;
use pqlsync_sql::value::Value;
use serde_json::Value as Json;

const TOKEN: &str = "pat-na1-test-playbooks";

/// (trigger, queue, task type, priority)
const PLAYBOOKS: &[(&str, &str, &str, &str)] = &[
    ("green", "2001", "TODO", "HIGH"),
    ("hot_pql", "2002", "CALL", "HIGH"),
    ("meeting_booked", "2003", "TODO", "HIGH"),
    ("help_requested", "2004", "CALL", "MEDIUM"),
    ("trial_ending", "2005", "EMAIL", "MEDIUM"),
    ("rescue", "2006", "EMAIL", "LOW"),
    ("expansion", "2007", "TODO", "MEDIUM"),
];

fn playbooks_toml() -> String {
    let mut t = String::new();
    for (trigger, queue, kind, priority) in PLAYBOOKS {
        t.push_str(&format!(
            "\n[[routing.playbooks]]\ntrigger = \"{trigger}\"\nqueue = \"{queue}\"\n\
             task_type = \"{kind}\"\npriority = \"{priority}\"\ndue_days = 1\n\
             subject = \"{trigger}: {{{{ account }}}} PQL {{{{ score }}}}\"\n"
        ));
    }
    t
}

fn run(dir: &Path, sb: &Sandbox, args: &[&str]) -> std::process::Output {
    pqlsync(dir)
        .env("HUBSPOT_TOKEN", TOKEN)
        .env("HUBSPOT_BASE_URL", &sb.url)
        .args(args)
        .output()
        .unwrap()
}

fn props(o: &Json) -> &serde_json::Map<String, Json> {
    o["properties"].as_object().unwrap()
}

fn prop<'a>(o: &'a Json, name: &str) -> Option<&'a str> {
    o["properties"][name].as_str()
}

/// The sandbox's objects of `kind`, by the value of their property `key`.
fn by<'a>(dump: &'a Json, kind: &str, key: &str) -> BTreeMap<String, &'a Json> {
    dump["objects"][kind]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| prop(o, key).map(|v| (v.to_string(), o)))
        .collect()
}

fn associated(dump: &Json, from: &str, from_id: &str, to: &str, to_id: &str) -> bool {
    let same = |x: &str, y: &str| x == y || matches!((x, y), ("deals", "0-3") | ("0-3", "deals"));
    dump["associations"].as_array().unwrap().iter().any(|a| {
        let t = |k: &str| a[k].as_str().unwrap_or_default().to_string();
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

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        v => Some(v.to_string()),
    }
}

#[test]
fn every_trigger_becomes_one_task_in_its_queue_for_the_right_rep() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    write_config(dir.path(), &data, &playbooks_toml());
    // From the config's directory, so the sandbox creates the playbooks' queues.
    let sb = Sandbox::start(Some(dir.path()), TOKEN, &[]);
    let o = run(dir.path(), &sb, &["hubspot", "setup", "--create-pipelines"]);
    assert!(o.status.success(), "setup: {}{}", stdout(&o), stderr(&o));

    let o = run(dir.path(), &sb, &["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let rows = read_rows(&dir.path().join("out/decisions.parquet"));
    // Triggers fired per account, from decisions.parquet's `tasks`.
    let mut fired: BTreeMap<String, usize> = BTreeMap::new();
    let mut accounts: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for row in &rows {
        let account = text(get(row, "account_id")).unwrap();
        for t in text(get(row, "tasks")).iter().flat_map(|t| t.split(',')) {
            *fired.entry(t.to_string()).or_default() += 1;
        }
        accounts.insert(account, row.clone());
    }
    for (trigger, ..) in PLAYBOOKS {
        assert!(
            fired.get(*trigger).copied().unwrap_or(0) > 0,
            "the demo data fires no `{trigger}`: {fired:?}"
        );
    }

    let dump = sb.dump();
    let tasks = by(&dump, "tasks", "plg_task_key");
    let companies = by(&dump, "companies", "plg_account_id");
    let deals = by(&dump, "deals", "plg_trial_id");
    let total: usize = fired.values().sum();
    assert_eq!(tasks.len(), total, "one task per trigger fired");
    let owner_emails: BTreeMap<String, String> = dump["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_string(),
                o["email"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, task) in &tasks {
        let trigger = prop(task, "plg_trigger").expect("plg_trigger");
        *seen.entry(trigger).or_default() += 1;
        let (_, queue, kind, priority) = PLAYBOOKS.iter().find(|p| p.0 == trigger).unwrap();
        assert_eq!(prop(task, "hs_queue_membership_ids"), Some(*queue), "{key}");
        assert_eq!(prop(task, "hs_task_type"), Some(*kind), "{key}");
        assert_eq!(prop(task, "hs_task_priority"), Some(*priority), "{key}");
        assert!(
            prop(task, "hs_task_subject").is_some_and(|s| s.starts_with(&format!("{trigger}: "))),
            "{:?}",
            props(task)
        );
        // The task's account: its key starts with the account id.
        let account = accounts
            .keys()
            .find(|a| key.starts_with(&format!("{a}:")))
            .unwrap_or_else(|| panic!("task {key} names no account"));
        let row = &accounts[account];
        let company = companies[account];
        // The rep who owns the account works the task.
        let owner = prop(task, "hubspot_owner_id").expect("task owner");
        assert_eq!(prop(company, "hubspot_owner_id"), Some(owner), "{key}");
        assert_eq!(
            text(get(row, "owner")).as_deref(),
            owner_emails.get(owner).map(String::as_str),
            "{key}: the routed owner"
        );
        let id = task["id"].as_str().unwrap();
        assert!(
            associated(
                &dump,
                "tasks",
                id,
                "companies",
                company["id"].as_str().unwrap()
            ),
            "{key}: no company association"
        );
        if let Some(trial) = text(get(row, "trial_id"))
            && text(get(row, "deal_stage")).is_some()
        {
            let deal = deals[&trial];
            assert!(
                associated(&dump, "tasks", id, "deals", deal["id"].as_str().unwrap()),
                "{key}: no deal association"
            );
        }
        assert!(
            dump["associations"].as_array().unwrap().iter().any(|a| {
                (a["fromId"] == task["id"] && a["toType"] == "contacts")
                    || (a["toId"] == task["id"] && a["fromType"] == "contacts")
            }),
            "{key}: no contact association"
        );
        // Customers get only expansion tasks; disqualified accounts none.
        let motion = text(get(row, "motion")).unwrap();
        match motion.as_str() {
            "customer" => assert_eq!(trigger, "expansion", "{key}"),
            "disqualified" => panic!("{key}: a task for a disqualified account"),
            _ => assert_ne!(trigger, "expansion", "{key}"),
        }
    }
    let fired_str: BTreeMap<&str, usize> = fired.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(seen, fired_str);

    // Re-running the day, then running the next, creates no task twice.
    let keys: BTreeSet<String> = tasks.keys().cloned().collect();
    let o = run(dir.path(), &sb, &["run", "--summary-json", "s2.json"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let s: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s2.json")).unwrap())
            .unwrap();
    assert_eq!(s["sync"]["objects"]["tasks"]["created"], 0, "{}", s["sync"]);
    assert_eq!(by(&sb.dump(), "tasks", "plg_task_key").len(), keys.len());

    let o = run(
        dir.path(),
        &sb,
        &[
            "run",
            "--as-of",
            "2026-11-21",
            "--allow-stale",
            "--summary-json",
            "s3.json",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let s: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s3.json")).unwrap())
            .unwrap();
    let new_today: usize = s["tasks"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap() as usize)
        .sum();
    let dump = sb.dump();
    let after = by(&dump, "tasks", "plg_task_key");
    assert_eq!(
        after.len(),
        keys.len() + new_today,
        "only the day's new occurrences became tasks"
    );
    assert_eq!(
        s["sync"]["objects"]["tasks"]["created"].as_u64().unwrap() as usize,
        new_today
    );
    assert!(keys.iter().all(|k| after.contains_key(k)));
    assert_eq!(s["sync"]["failures"].as_array().unwrap().len(), 0);
}

#[test]
fn bad_playbooks_are_refused_with_the_key_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    let cases: &[(&str, &str)] = &[
        (
            "[[routing.playbooks]]\ntrigger = \"hot_lead\"\n",
            "routing.playbooks[0].trigger",
        ),
        (
            "[[routing.playbooks]]\ntrigger = \"rescue\"\nqueue = \"Trial rescue\"\n",
            "routing.playbooks[0].queue",
        ),
        (
            "[[routing.playbooks]]\ntrigger = \"rescue\"\ntask_type = \"PHONE\"\n",
            "routing.playbooks[0].task_type",
        ),
        (
            "[[routing.playbooks]]\ntrigger = \"rescue\"\npriority = \"URGENT\"\n",
            "routing.playbooks[0].priority",
        ),
        (
            "[[routing.playbooks]]\ntrigger = \"rescue\"\nsubject = \"{{ acount }}\"\n",
            "routing.playbooks[0].subject",
        ),
        (
            "[[routing.playbooks]]\ntrigger = \"green\"\n[[routing.playbooks]]\ntrigger = \"green\"\n",
            "routing.playbooks[1].trigger",
        ),
        (
            "[hubspot]\nlifecycle_thresholds = { salesqualifiedlead = 50, marketingqualifiedlead = 60 }\n",
            "hubspot.lifecycle_thresholds.salesqualifiedlead",
        ),
        (
            "[hubspot]\nlifecycle_thresholds = { customer = 90 }\n",
            "hubspot.lifecycle_thresholds.customer",
        ),
    ];
    for (extra, key) in cases {
        write_config(dir.path(), &data, extra);
        let o = pqlsync(dir.path()).arg("validate").output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra}: {}", stdout(&o));
        assert!(stderr(&o).contains(key), "{extra}: {}", stderr(&o));
    }
}
