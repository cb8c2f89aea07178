//! Every subcommand, run as the real binary over generated demo data.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;
use pqlsync_sql::value::Value;

fn setup(accounts: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = demo_data(dir.path(), accounts, 30, 11);
    write_config(dir.path(), &data, "");
    (dir, data)
}

fn decisions(path: &Path) -> BTreeMap<String, Vec<(String, Value)>> {
    read_rows(path)
        .into_iter()
        .map(|r| (get(&r, "account_id").as_str().unwrap().to_string(), r))
        .collect()
}

#[test]
fn run_writes_decisions_state_and_summary() {
    let (dir, _) = setup(300);
    let o = pqlsync(dir.path())
        .args(["run", "--summary-json", "s.json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for part in [
        "pqlsync run  as of 2026-11-20",
        "tier",
        "motion",
        "lead",
        "deal",
        "tasks",
        "wrote",
    ] {
        assert!(text.contains(part), "summary lacks {part}:\n{text}");
    }
    let rows = decisions(&dir.path().join("out/decisions.parquet"));
    assert!(rows.len() > 250, "{}", rows.len());
    let columns: Vec<&str> = rows
        .values()
        .next()
        .unwrap()
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    for c in [
        "account_id",
        "seats",
        "fit_score",
        "usage_score",
        "pql_score",
        "tier",
        "signals",
        "motion",
        "owner",
        "lead_stage",
        "deal_stage",
        "task",
        "route_reason",
    ] {
        assert!(columns.contains(&c), "decisions lack {c}");
    }
    for (id, r) in &rows {
        let pql = get(r, "pql_score").as_i64().unwrap();
        let tier = get(r, "tier").as_str().unwrap();
        let want = if pql >= 70 {
            "green"
        } else if pql >= 40 {
            "yellow"
        } else {
            "red"
        };
        assert_eq!(tier, want, "{id}: pql {pql}");
        assert!(
            get(r, "owner")
                .as_str()
                .is_some_and(|o| o.ends_with("@example.com")),
            "{id} has no owner"
        );
        let seats = get(r, "seats").as_i64().unwrap();
        let motion = get(r, "motion").as_str().unwrap();
        if seats >= 50 && motion != "customer" && motion != "disqualified" {
            assert_eq!(motion, "sales_assisted", "{id}: {seats} seats");
            assert_eq!(get(r, "owner").as_str(), Some("ae@example.com"), "{id}");
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(summary["accounts"].as_u64().unwrap() as usize, rows.len());
    let tiers: u64 = summary["tiers"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(tiers as usize, rows.len());
    assert!(
        summary["data_quality"]["tracks_without_account_14d"]
            .as_i64()
            .unwrap()
            > 0
    );
    assert!(dir.path().join("state/routing.json").exists());
}

#[test]
fn rerunning_a_day_gives_the_same_decisions() {
    let (dir, _) = setup(200);
    let first = dir.path().join("first");
    let second = dir.path().join("second");
    for out in [&first, &second] {
        let o = pqlsync(dir.path())
            .arg("run")
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let a = decisions(&first.join("decisions.parquet"));
    let b = decisions(&second.join("decisions.parquet"));
    assert_eq!(a, b);
    assert!(
        a.values().any(|r| !get(r, "task").is_null()),
        "no Green task in the data"
    );
}

#[test]
fn the_next_day_keeps_stages_and_creates_each_task_once() {
    let (dir, _) = setup(600);
    let days: Vec<String> = (11..=20).map(|d| format!("2026-11-{d}")).collect();
    let mut all = Vec::new();
    for day in &days {
        let out = dir.path().join(day);
        let o = pqlsync(dir.path())
            .args(["run", "--as-of", day.as_str(), "--out"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{day}: {}", stderr(&o));
        all.push(decisions(&out.join("decisions.parquet")));
    }
    let step = |s: &str| match s {
        "new" => 0,
        "interested" => 1,
        "trial_red" | "trial_yellow" | "trial_green" => 2,
        "trial_ended" => 3,
        "disqualified" => 4,
        "self_checked_out" => 5,
        other => panic!("unknown stage {other}"),
    };
    let mut tasks = 0;
    for pair in all.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        for (id, now) in after {
            let Some(prev) = before.get(id) else { continue };
            let (p, n) = (
                get(prev, "lead_stage").as_str().unwrap(),
                get(now, "lead_stage").as_str().unwrap(),
            );
            if p == "self_checked_out" {
                assert_eq!(n, p, "{id}: a customer left self_checked_out");
            }
            let reopened = step(n) == 2 && (p == "trial_ended" || p == "disqualified");
            assert!(step(n) >= step(p) || reopened, "{id}: {p} → {n}");
            if !get(now, "task").is_null() {
                tasks += 1;
                assert_ne!(
                    get(prev, "tier").as_str(),
                    Some("green"),
                    "{id}: a second task while still Green"
                );
                assert_eq!(get(now, "tier").as_str(), Some("green"), "{id}");
            }
        }
    }
    assert!(tasks > 0, "no new Green activation over the days tested");
}

#[test]
fn run_refuses_to_move_state_back_in_time() {
    let (dir, _) = setup(50);
    assert!(
        pqlsync(dir.path())
            .arg("run")
            .output()
            .unwrap()
            .status
            .success()
    );
    let o = pqlsync(dir.path())
        .args(["run", "--as-of", "2026-11-19"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("only moves forward"), "{}", stderr(&o));
}

#[test]
fn features_writes_parquet_and_csv() {
    let (dir, _) = setup(100);
    for file in ["f.parquet", "f.csv"] {
        let o = pqlsync(dir.path())
            .args(["features", "--out", file])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("pqlsync features"), "{}", stdout(&o));
    }
    let csv = std::fs::read_to_string(dir.path().join("f.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for (column, _) in pqlsync_sql::features::REQUIRED_COLUMNS {
        assert!(
            header.split(',').any(|h| h == *column),
            "csv lacks {column}: {header}"
        );
    }
    let parquet_rows = read_rows(&dir.path().join("f.parquet")).len();
    assert_eq!(csv.lines().count() - 1, parquet_rows);
    assert!(
        !dir.path().join("state/routing.json").exists(),
        "features must not touch state"
    );
}

#[test]
fn score_writes_decisions_without_touching_state() {
    let (dir, _) = setup(100);
    let o = pqlsync(dir.path())
        .args(["score", "--out", "scores.csv"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.path().join("scores.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("pql_score"));
    assert!(!dir.path().join("state/routing.json").exists());
}

#[test]
fn explain_breaks_an_account_down() {
    let (dir, _) = setup(150);
    assert!(
        pqlsync(dir.path())
            .args(["score", "--out", "s.parquet"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let rows = decisions(&dir.path().join("s.parquet"));
    let (id, row) = rows
        .iter()
        .max_by_key(|(_, r)| get(r, "pql_score").as_i64().unwrap())
        .unwrap();
    let o = pqlsync(dir.path()).args(["explain", id]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let pql = get(row, "pql_score").as_i64().unwrap();
    assert!(text.contains(&format!("PQL score {pql}")), "{text}");
    for part in [
        "fit ",
        "usage ",
        "motion",
        "owner",
        "lead stage",
        "deal stage",
        "features",
        "teammates_invited_14d",
    ] {
        assert!(text.contains(part), "explain lacks {part}:\n{text}");
    }
    for signal in get(row, "signals")
        .as_str()
        .unwrap()
        .split("; ")
        .filter(|s| !s.is_empty())
    {
        assert!(
            text.contains(signal),
            "explain lacks signal {signal}:\n{text}"
        );
    }
    let o = pqlsync(dir.path())
        .args(["explain", id, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["pql_score"].as_i64(), Some(pql));
    assert_eq!(doc["account_id"].as_str(), Some(id.as_str()));
    assert!(doc["features"]["seats"].is_i64());

    let o = pqlsync(dir.path())
        .args(["explain", "acct_nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("acct_nope"), "{}", stderr(&o));
}

#[test]
fn validate_checks_without_computing_or_writing() {
    let (dir, _) = setup(30);
    let o = pqlsync(dir.path()).arg("validate").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for part in [
        "is valid",
        "raw.tracks",
        "partitioned by day",
        "account_features",
        "staging/stg_tracks.sql",
        "free_email_domains",
    ] {
        assert!(text.contains(part), "validate lacks {part}:\n{text}");
    }
    assert!(!dir.path().join("out").exists());
    assert!(!dir.path().join("state").exists());
}

#[test]
fn demo_data_is_deterministic_and_days_share_history() {
    let dir = tempfile::tempdir().unwrap();
    let generate = |name: &str, days: &str, seed: &str| {
        let o = pqlsync(dir.path())
            .args([
                "demo-data",
                "--out",
                name,
                "--accounts",
                "80",
                "--days",
                days,
                "--seed",
                seed,
                "--history-days",
                "60",
                "--as-of",
                AS_OF,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        dir.path().join(name)
    };
    let files = |root: &Path| -> BTreeMap<String, Vec<u8>> {
        parquet_files(root)
            .into_iter()
            .map(|p| {
                (
                    p.strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect()
    };
    let a = files(&generate("a", "10", "5"));
    let b = files(&generate("b", "10", "5"));
    assert_eq!(a, b, "same flags, different bytes");
    let c = files(&generate("c", "10", "6"));
    assert_ne!(a.get("groups.parquet"), c.get("groups.parquet"));
    // A shorter export holds exactly the same recent days.
    let short = files(&generate("short", "4", "5"));
    let recent: Vec<&String> = short.keys().filter(|k| k.starts_with("tracks/")).collect();
    assert!(recent.len() >= 4);
    for k in recent {
        assert_eq!(
            short.get(k),
            a.get(k),
            "{k} differs between --days 4 and --days 10"
        );
    }
    // Refuses to overwrite a directory it did not create.
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    std::fs::write(dir.path().join("mine/notes.txt"), "keep").unwrap();
    let o = pqlsync(dir.path())
        .args(["demo-data", "--out", "mine", "--accounts", "5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(dir.path().join("mine/notes.txt").exists());
}

#[test]
fn quiet_prints_nothing_and_help_lists_every_command() {
    let (dir, _) = setup(20);
    let o = pqlsync(dir.path())
        .args(["run", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(stdout(&o), "");
    let o = pqlsync(dir.path())
        .args(["score", "-v", "--out", "s.parquet"])
        .output()
        .unwrap();
    // Count the shipped views so adding a feature file does not break this test.
    let views = [
        "sql/staging",
        "sql/incremental",
        "sql/features",
        "sql/outputs",
    ]
    .iter()
    .flat_map(|d| std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(d)).unwrap())
    .filter(|e| {
        e.as_ref()
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "sql")
    })
    .count();
    let planned = format!("views={views}");
    for part in [
        "registered the sources",
        "datasets=7",
        "planned the SQL",
        planned.as_str(),
        "computed the features, scores and routes",
        "stage=\"decide\"",
    ] {
        assert!(stderr(&o).contains(part), "-v lacks {part}: {}", stderr(&o));
    }
    // -q: errors only, on stderr as on stdout.
    let o = pqlsync(dir.path())
        .args(["score", "-q", "--out", "s.parquet"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!((stdout(&o), stderr(&o)), (String::new(), String::new()));
    let o = pqlsync(dir.path())
        .args(["features", "-vv", "--out", "f.parquet"])
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("executed plan of account_features")
            && stderr(&o).contains("output_rows="),
        "{}",
        stderr(&o)
    );
    let o = pqlsync(dir.path()).arg("--help").output().unwrap();
    let help = stdout(&o);
    for cmd in [
        "run",
        "features",
        "score",
        "explain",
        "validate",
        "demo-data",
        "--config",
        "--as-of",
        "--out",
        "--summary-json",
        "--log-format",
    ] {
        assert!(help.contains(cmd), "help lacks {cmd}:\n{help}");
    }
}
