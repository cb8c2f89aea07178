//! `pqlsync revert` end to end against the sandbox: a night run with a deliberately wrong
//! scoring config, a rep's edits the morning after, `revert --dry-run` (nothing written),
//! `revert` (every record the bad run changed back to its values before, except the one the
//! rep edited), and the next night's ordinary run, which writes exactly what it would have
//! written had the bad run never happened: the same records, properties and values, and the
//! same tasks, as on a second portal that never saw the bad night.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as Json, json};

use crate::common::sandbox::Sandbox;
use crate::common::*;
use crate::hubspot::{Env, objects, prop, start_sandbox};

/// Tier thresholds a slip of the keyboard away from the real ones (40 and 70): nearly every
/// account turns Green, moving stages and opening tasks for reps.
const BAD_TIERS: &str = "[scoring.tiers]\nyellow = 5\ngreen = 10\n";
const BAD_NIGHT: &str = "2026-11-21";
const NEXT_NIGHT: &str = "2026-11-22";

type Row = Vec<(String, pqlsync_sql::value::Value)>;

fn text(r: &Row, column: &str) -> String {
    get(r, column).as_str().unwrap_or_default().to_string()
}

/// Run `args` with `--summary-json FILE`; the run id its summary names.
fn run_id_of(env: &Env, sb: &Sandbox, args: &[&str], file: &str) -> String {
    let mut all = args.to_vec();
    all.extend(["--summary-json", file]);
    let o = env.run(sb, &all);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    let s: Json =
        serde_json::from_str(&std::fs::read_to_string(env.path().join(file)).unwrap()).unwrap();
    let id = s["sync"]["run_id"].as_str().or(s["run_id"].as_str());
    id.unwrap_or_else(|| panic!("no run id in {s}")).to_string()
}

/// Run `id`'s change log.
fn log_of(env: &Env, sb: &Sandbox, id: &str) -> Vec<Row> {
    let file = format!("log-{id}.parquet");
    let o = env.run(sb, &["changes", "--run", id, "--out", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    read_rows(&env.path().join(file))
}

/// What a run wrote, as what it would write on any portal: no HubSpot ids, no times.
fn writes(log: &[Row]) -> BTreeSet<(String, String, String, String, String)> {
    log.iter()
        .map(|r| {
            let c = |n: &str| text(r, n);
            (
                c("object"),
                c("key"),
                c("property"),
                c("operation"),
                c("new"),
            )
        })
        .collect()
}

/// The sandbox's records of `kind` by HubSpot id.
fn by_id(dump: &Json, kind: &str) -> BTreeMap<String, Json> {
    objects(dump, kind)
        .iter()
        .map(|o| (o["id"].as_str().unwrap().to_string(), o.clone()))
        .collect()
}

#[test]
fn a_bad_run_is_reverted_and_the_next_run_writes_what_it_would_have_without_it() {
    // The same nights without the bad one, on a portal of their own.
    let (ref_sb, reference) = (start_sandbox(&[]), Env::new(80, ""));
    reference.setup(&ref_sb);
    run_id_of(&reference, &ref_sb, &["run"], "r1.json");
    let id = run_id_of(
        &reference,
        &ref_sb,
        &["run", "--as-of", NEXT_NIGHT],
        "r2.json",
    );
    let wanted = writes(&log_of(&reference, &ref_sb, &id));

    let sb = start_sandbox(&[]);
    let env = Env::new(80, "");
    env.setup(&sb);
    run_id_of(&env, &sb, &["run"], "1.json");
    write_config(env.path(), &env.data, BAD_TIERS);
    let bad = run_id_of(&env, &sb, &["run", "--as-of", BAD_NIGHT], "bad.json");
    write_config(env.path(), &env.data, "");
    let bad_log = log_of(&env, &sb, &bad);
    let (edited, completed) = a_reps_morning(&sb, &bad_log);

    let dry_run = a_dry_run_writes_nothing(&env, &sb, &bad);
    let o = env.run(
        &sb,
        &[
            "revert",
            "--run",
            &bad,
            "--archive-created-tasks",
            "--limit",
            "4",
            "--summary-json",
            "rv.json",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let mut text = dry_run;
    text.push_str("--- revert --archive-created-tasks\n");
    text.push_str(&stdout(&o));
    settings(&sb).bind(|| insta::assert_snapshot!("revert_dry_run_and_revert", text));
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(env.path().join("rv.json")).unwrap())
            .unwrap();
    every_record_is_back_but_the_edited_one(&sb.dump(), &bad_log, &edited, &report);
    only_untouched_tasks_are_archived(&sb.dump(), &bad_log, &completed);

    let again = env.run(&sb, &["revert", "--run", &bad]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "a second revert: {}",
        stdout(&again)
    );
    assert!(
        stderr(&again).contains("already reverted"),
        "{}",
        stderr(&again)
    );

    // The next night, with the config fixed: what the reference wrote, and on the edited
    // company only pqlsync's own properties put right (the rep's lifecycle stage is kept).
    // The routing memory is back to before the bad night, so the tasks it opened are not
    // among the ones the run keeps open.
    let next = run_id_of(&env, &sb, &["run", "--as-of", NEXT_NIGHT], "3.json");
    let got = writes(&log_of(&env, &sb, &next));
    let tasks = |env: &Env, file: &str| {
        let s: Json =
            serde_json::from_str(&std::fs::read_to_string(env.path().join(file)).unwrap()).unwrap();
        s["sync"]["objects"]["tasks"].clone()
    };
    assert_eq!(tasks(&env, "3.json"), tasks(&reference, "r2.json"));
    let (_, edited_key) = &edited;
    for (what, diff) in [
        ("not written", wanted.difference(&got)),
        ("redone", got.difference(&wanted)),
    ] {
        let unexplained: Vec<_> = diff.filter(|w| w.1 != *edited_key).collect();
        assert!(unexplained.is_empty(), "{what}: {unexplained:?}");
    }
    let company = &by_id(&sb.dump(), "companies")[&edited.0];
    assert_eq!(
        prop(company, "lifecyclestage"),
        Some("opportunity"),
        "{company}"
    );
}

/// The morning after: a rep moves one company the bad run changed on to "opportunity", and
/// completes one task it opened. The company (HubSpot id, key) and the task's id.
fn a_reps_morning(sb: &Sandbox, bad_log: &[Row]) -> ((String, String), String) {
    let changed = bad_log
        .iter()
        .find(|r| text(r, "object") == "companies" && text(r, "property") == "lifecyclestage")
        .expect("the bad tiers move a company's lifecycle stage");
    let company = (text(changed, "hubspot_id"), text(changed, "key"));
    sb.edit(
        "companies",
        &company.0,
        json!({"lifecyclestage": "opportunity"}),
    );
    let task = bad_log
        .iter()
        .find(|r| text(r, "object") == "tasks" && text(r, "operation") == "create")
        .map(|r| text(r, "hubspot_id"))
        .expect("the bad tiers open tasks");
    sb.edit("tasks", &task, json!({"hs_task_status": "COMPLETED"}));
    (company, task)
}

/// The dry run's plan (its first records), after checking it wrote nothing.
fn a_dry_run_writes_nothing(env: &Env, sb: &Sandbox, bad: &str) -> String {
    let before = sb.dump();
    let runs = std::fs::read_dir(env.path().join("state/changes"))
        .unwrap()
        .count();
    sb.reset_stats();
    let o = env.run(sb, &["revert", "--run", bad, "--dry-run", "--limit", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = stdout(&o);
    assert!(plan.contains("dry run: nothing was written"), "{plan}");
    assert!(
        plan.contains("changed in HubSpot since (a person or a workflow)"),
        "{plan}"
    );
    assert_eq!(sb.stats()["writes"], 0, "{}", sb.stats());
    assert_eq!(before, sb.dump(), "a dry run changed the portal");
    let after = std::fs::read_dir(env.path().join("state/changes"))
        .unwrap()
        .count();
    assert_eq!(runs, after, "a dry run keeps no change log");
    plan
}

/// Snapshot settings hiding the sandbox's port, run ids and times.
fn settings(sb: &Sandbox) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&sb.url), "[sandbox]");
    s.add_filter(r"\b\d{8}T\d{6}Z-[0-9a-f]{4}\b", "[run id]");
    s.set_prepend_module_to_snapshot(false);
    s
}

/// Every property the bad run updated holds its value from before the run again, on every
/// record but the edited company, which holds the bad run's values and the rep's edit.
fn every_record_is_back_but_the_edited_one(
    dump: &Json,
    bad_log: &[Row],
    (edited_id, edited_key): &(String, String),
    report: &Json,
) {
    let mut records = BTreeSet::new();
    for r in bad_log.iter().filter(|r| text(r, "operation") == "update") {
        let object = text(r, "object");
        let held = &by_id(dump, &object)[&text(r, "hubspot_id")];
        let property = text(r, "property");
        let now = prop(held, &property).unwrap_or_default();
        if text(r, "hubspot_id") == *edited_id {
            if property != "lifecyclestage" {
                assert_eq!(
                    now,
                    text(r, "new"),
                    "the edited company was touched: {held}"
                );
            }
            continue;
        }
        records.insert((object, text(r, "key")));
        assert_eq!(now, text(r, "previous"), "{property} not set back: {held}");
    }
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["key"], edited_key.as_str());
    assert_eq!(report["restored"].as_array().unwrap().len(), records.len());
}

/// The tasks the bad run opened are archived, but the one the rep completed.
fn only_untouched_tasks_are_archived(dump: &Json, bad_log: &[Row], completed: &str) {
    let tasks = by_id(dump, "tasks");
    let created: BTreeSet<String> = bad_log
        .iter()
        .filter(|r| text(r, "object") == "tasks" && text(r, "operation") == "create")
        .map(|r| text(r, "hubspot_id"))
        .collect();
    assert!(created.len() > 1, "{created:?}");
    for id in &created {
        assert_eq!(tasks.contains_key(id), id == completed, "task {id}");
    }
}

#[test]
fn a_revert_refuses_unknown_and_expired_runs_and_runs_that_wrote_nothing_to_hubspot() {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), 30, 30, 21);
    write_config(dir.path(), &data, "");
    let run = |args: &[&str]| pqlsync(dir.path()).args(args).output().unwrap();
    let o = run(&["run", "--summary-json", "s.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    let offline = s["sync"]["run_id"]
        .as_str()
        .expect("offline runs are logged");
    for (id, says) in [
        (offline, "ran offline"),
        ("20200101T000000Z-0000", "no longer kept"),
        ("20991231T000000Z-0000", "has no change log"),
    ] {
        let o = run(&["revert", "--run", id]);
        assert_eq!(o.status.code(), Some(2), "{id}: {}", stdout(&o));
        assert!(stderr(&o).contains(says), "{id}: {}", stderr(&o));
    }
}
