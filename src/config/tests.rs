use std::path::PathBuf;

use super::*;
use pqlsync_rules::score::Tiers;
use pqlsync_rules::score::config::{default_scoring, model as scoring_model};
use pqlsync_sql::engine::config::parse_bytes;

fn global() -> GlobalArgs {
    GlobalArgs {
        config: PathBuf::from("/etc/pqlsync/pqlsync.toml"),
        as_of: Some("2026-11-20".into()),
        out: None,
        verbose: 0,
        quiet: false,
        full_refresh: false,
        summary_json: None,
        allow_future: false,
        allow_stale: false,
        log_format: crate::logging::LogFormat::Text,
    }
}

const MINIMAL: &str = r#"
[sources]
tracks = "data/tracks"
identifies = "data/identifies"
groups = "s3://bucket/segment/groups"
"#;

fn load_with(
    text: &str,
    path: &Path,
    global: &GlobalArgs,
    env: &[(String, String)],
) -> Result<Config, ConfigError> {
    from_str(text, path, global, env).map(|(config, _)| config)
}

fn load(text: &str) -> Result<Config, ConfigError> {
    load_with(text, Path::new("/etc/pqlsync/pqlsync.toml"), &global(), &[])
}

fn run_options(text: &str, global: &GlobalArgs) -> Result<RunOptions, ConfigError> {
    from_str(text, Path::new("/x/pqlsync.toml"), global, &[]).map(|(_, run)| run)
}

fn err(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

#[test]
fn minimal_config_gets_defaults_and_resolves_paths() {
    let c = load(MINIMAL).unwrap();
    let pqlsync_sql::source::Product::Segment { tracks, groups, .. } = &c.sources.product else {
        panic!("segment is the default format: {:?}", c.sources.product)
    };
    assert_eq!(tracks.url, "/etc/pqlsync/data/tracks");
    assert_eq!(groups.url, "s3://bucket/segment/groups/");
    assert_eq!(c.sql_dir, PathBuf::from("/etc/pqlsync/sql"));
    assert_eq!(c.state.url, "/etc/pqlsync/.pqlsync/state");
    assert_eq!(
        run_options(MINIMAL, &global()).unwrap().as_of,
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    );
    assert_eq!(c.sources.account_id_key, "account_id");
    assert_eq!(
        c.scoring.tiers,
        Tiers {
            yellow: 40,
            green: 70
        }
    );
    assert!((c.scoring.fit_weight - 0.4).abs() < 1e-9);
    assert!(
        c.scoring
            .usage
            .iter()
            .any(|s| s.condition.feature == "teammates_invited_14d")
    );
    assert_eq!(c.routing.enterprise_seats, 50);
    assert!(c.engine.target_partitions >= 1);
    assert_eq!(c.engine.memory_limit, None);
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    let cases = [
        (
            "[sources]\ntrack = \"x\"\ntracks=\"x\"\nidentifies=\"x\"\ngroups=\"x\"",
            "track",
        ),
        (&format!("{MINIMAL}\n[engine]\nmemory = \"1GB\""), "memory"),
        (&format!("{MINIMAL}\n[scorng]\n"), "scorng"),
        (
            &format!(
                "{MINIMAL}\n[[scoring.usage]]\nfeature=\"seats\"\nop=\">=\"\nvalue=1\npoints=1\nweight=2"
            ),
            "weight",
        ),
    ];
    for (text, key) in cases {
        let e = err(text);
        assert!(e.contains(key) && e.contains("pqlsync.toml"), "{key}: {e}");
    }
}

#[test]
fn missing_required_source_is_an_error() {
    let e = err("[sources]\ntracks = \"x\"\nidentifies = \"y\"");
    assert!(e.contains("groups"), "{e}");
}

#[test]
fn bad_values_name_their_key() {
    let sig = |body: &str| format!("{MINIMAL}\n[[scoring.usage]]\nfeature = \"seats\"\n{body}");
    let cases = [
        (
            sig("op = \"=>\"\nvalue = 1\npoints = 5"),
            "scoring.usage[0].op",
        ),
        (sig("op = \">=\"\npoints = 5"), "scoring.usage[0].value"),
        (
            sig("op = \">=\"\nvalue = \"ten\"\npoints = 5"),
            "scoring.usage[0].value",
        ),
        (
            sig("op = \"between\"\nvalue = [10]\npoints = 5"),
            "scoring.usage[0].value",
        ),
        (
            sig("op = \"between\"\nvalue = [10, 5]\npoints = 5"),
            "scoring.usage[0].value",
        ),
        (
            sig("op = \"in\"\nvalue = \"a\"\npoints = 5"),
            "scoring.usage[0].value",
        ),
        (
            sig("op = \"is_true\"\nvalue = true\npoints = 5"),
            "scoring.usage[0].value",
        ),
        (
            sig("op = \">=\"\nvalue = 1\npoints = 5\nper = 0"),
            "scoring.usage[0].per",
        ),
        (
            sig("op = \">=\"\nvalue = 1\npoints = 5\nmax_points = 9"),
            "scoring.usage[0].max_points",
        ),
        (
            sig("op = \">=\"\nvalue = 1\npoints = 0"),
            "scoring.usage[0].points",
        ),
        (
            format!("{MINIMAL}\n[engine]\nmemory_limit = \"lots\""),
            "engine.memory_limit",
        ),
        (
            format!("{MINIMAL}\n[engine]\ntarget_partitions = 0"),
            "engine.target_partitions",
        ),
        (
            format!("{MINIMAL}\n[scoring.tiers]\nyellow = 70\ngreen = 40"),
            "scoring.tiers",
        ),
        (
            format!("{MINIMAL}\n[scoring]\nfit_weight = -1"),
            "scoring.fit_weight",
        ),
        (
            format!("{MINIMAL}\n[routing.owners]\nself_serve = [\"bob\"]"),
            "routing.owners.self_serve",
        ),
        (
            format!("{MINIMAL}\n[routing]\nenterprise_seats = -5"),
            "routing.enterprise_seats",
        ),
        (
            format!(
                "{MINIMAL}\n[[routing.disqualify]]\nfeature = \"email_domain\"\nop = \"in\"\nvalue = [\"x.com\"]\nreason = \"\""
            ),
            "routing.disqualify[0].reason",
        ),
        (
            format!("{MINIMAL}\n[sources.events]\n\"Rows Imported\" = \"x\""),
            "sources.events.Rows Imported",
        ),
        (
            format!("{MINIMAL}\n[sources.stripe]\naccount_id_key = \" \""),
            "sources.stripe.account_id_key",
        ),
        (
            format!("{MINIMAL}\n[sources.events]\ntracks = \"x\""),
            "sources.events.tracks",
        ),
    ];
    for (text, key) in cases {
        let e = err(&text);
        assert!(e.contains(&format!("`{key}`")), "{key}: {e}");
    }
    let e = err(MINIMAL.replace("data/tracks", "ftp://host/x").as_str());
    assert!(e.contains("sources.tracks") && e.contains("ftp"), "{e}");
}

const POSTHOG: &str = r#"
[sources]
format = "posthog"

[sources.posthog]
events = "s3://bucket/posthog/events"
"#;

#[test]
fn posthog_sources_read_the_events_export_and_default_the_group_type() {
    let c = load(POSTHOG).unwrap();
    assert_eq!(c.sources.format, pqlsync_sql::source::Format::Posthog);
    let pqlsync_sql::source::Product::Posthog {
        events,
        persons,
        group_type,
    } = &c.sources.product
    else {
        panic!("posthog: {:?}", c.sources.product)
    };
    assert_eq!(events.url, "s3://bucket/posthog/events/");
    assert!(persons.is_none());
    assert_eq!(group_type, "company");
    assert_eq!(c.sources.group_type(), "company");
    assert_eq!(c.sources.event_dataset().0, "posthog_events");
    let c = load(&format!(
        "{POSTHOG}persons = \"data/persons\"\ngroup_type = \"organization\"\n"
    ))
    .unwrap();
    assert_eq!(c.sources.group_type(), "organization");
}

#[test]
fn each_format_names_the_datasets_it_needs_and_refuses_the_others() {
    let cases = [
        (
            POSTHOG.replace("format = \"posthog\"", ""),
            "sources.posthog",
        ),
        (
            format!("{POSTHOG}group_type = \" \"\n"),
            "sources.posthog.group_type",
        ),
        (
            POSTHOG.replace(
                "format = \"posthog\"",
                "format = \"posthog\"\ntracks = \"t\"",
            ),
            "sources.tracks",
        ),
        (
            "[sources]\nformat = \"posthog\"\n".to_string(),
            "sources.posthog",
        ),
        (
            MINIMAL.replace("groups = \"s3://bucket/segment/groups\"", ""),
            "sources.groups",
        ),
        (
            format!("{MINIMAL}\n[sources.events]\nposthog_events = \"x\""),
            "sources.events.posthog_events",
        ),
    ];
    for (text, key) in cases {
        let e = err(&text);
        assert!(e.contains(&format!("`{key}`")), "{key}: {e}");
    }
    let e = err(&MINIMAL.replace("[sources]", "[sources]\nformat = \"amplitude\""));
    assert!(e.contains("amplitude") && e.contains("posthog"), "{e}");
}

#[test]
fn as_of_flag_wins_over_file() {
    let text = format!("[run]\nas_of = \"2025-01-01\"\n{MINIMAL}");
    assert_eq!(
        run_options(&text, &global()).unwrap().as_of,
        NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
    );
    let mut g = global();
    g.as_of = None;
    let c = run_options(&text, &g).unwrap();
    assert_eq!(c.as_of, NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
    g.as_of = Some("20-11-2026".into());
    let e = run_options(&text, &g).unwrap_err();
    assert!(e.to_string().contains("--as-of"), "{e}");
}

#[test]
fn weights_are_normalised() {
    let c = load(&format!(
        "{MINIMAL}\n[scoring]\nfit_weight = 1\nusage_weight = 3"
    ))
    .unwrap();
    assert!((c.scoring.fit_weight - 0.25).abs() < 1e-9);
}

#[test]
fn sizes_parse_in_decimal_and_binary_units() {
    let cases = [
        ("512MB", Some(512_000_000)),
        ("512MiB", Some(536_870_912)),
        ("4GiB", Some(4_294_967_296)),
        ("1.5G", Some(1_500_000_000)),
        ("1048576", Some(1_048_576)),
        (" 2 gb ", Some(2_000_000_000)),
        ("lots", None),
        ("5 parsecs", None),
        ("0", None),
    ];
    for (s, want) in cases {
        assert_eq!(parse_bytes(s).ok(), want, "{s}");
    }
}

#[test]
fn cloud_credentials_come_from_the_environment_and_never_print() {
    let env = vec![
        ("AWS_SECRET_ACCESS_KEY".to_string(), "s3cr3t".to_string()),
        ("AWS_REGION".to_string(), "eu-west-1".to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ];
    let c = load_with(
        MINIMAL,
        Path::new("/etc/pqlsync/pqlsync.toml"),
        &global(),
        &env,
    )
    .unwrap();
    let pqlsync_sql::source::Product::Segment { groups, .. } = &c.sources.product else {
        panic!("segment")
    };
    let keys: Vec<&str> = groups
        .store_options
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(keys, ["aws_secret_access_key", "aws_region"]);
    let shown = format!("{c:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
}

#[test]
fn built_in_defaults_parse_and_validate() {
    let d = default_scoring();
    assert!(d.fit.as_ref().is_some_and(|f| !f.is_empty()));
    assert!(d.usage.as_ref().is_some_and(|u| !u.is_empty()));
    scoring_model(&d).unwrap();
}

#[test]
fn the_demo_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pqlsync.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let c = load_with(&text, &path, &global(), &[]).unwrap();
    assert!(c.sources.subscriptions.is_some());
    assert!(!c.routing.owners.self_serve.is_empty());
}

#[test]
fn history_defaults_to_beside_the_state() {
    for (state, history) in [
        (".pqlsync/state", ".pqlsync/history"),
        ("state", "history"),
        ("s3://bucket/pqlsync/state/", "s3://bucket/pqlsync/history"),
        ("s3://bucket", "s3://bucket/history"),
        ("/var/lib/pqlsync/state", "/var/lib/pqlsync/history"),
    ] {
        assert_eq!(beside(state, "history"), history, "{state}");
    }
    let path = Path::new("/etc/pqlsync/pqlsync.toml");
    let c = load_with(MINIMAL, path, &global(), &[]).unwrap();
    assert_eq!(c.history.url, "/etc/pqlsync/.pqlsync/history");
    assert_eq!(c.report.dir, Path::new("/etc/pqlsync/out/report"));
    assert_eq!(c.report.weeks, 26);
    let text = format!("{MINIMAL}\n[history]\nurl = \"gs://b/h\"\n[report]\nweeks = 0\n");
    let err = load_with(&text, path, &global(), &[]).unwrap_err();
    assert!(err.to_string().contains("report.weeks"), "{err}");
}

#[test]
fn incremental_rollups_live_beside_the_state_and_settle_two_days() {
    let c = load(MINIMAL).unwrap();
    assert_eq!(
        c.incremental.location.url,
        "/etc/pqlsync/.pqlsync/incremental"
    );
    assert_eq!(c.incremental.settle_days, 2);
    assert!(!run_options(MINIMAL, &global()).unwrap().full_refresh);
    let text = format!("{MINIMAL}\n[incremental]\nurl = \"s3://b/roll\"\nsettle_days = 0\n");
    let c = load(&text).unwrap();
    assert_eq!(c.incremental.location.url, "s3://b/roll");
    assert_eq!(c.incremental.settle_days, 0);
    let mut g = global();
    g.full_refresh = true;
    let c = run_options(MINIMAL, &g).unwrap();
    assert!(c.full_refresh);
}

#[test]
fn a_memory_limit_keeps_every_core_unless_told_otherwise() {
    let c = load(&format!("{MINIMAL}\n[engine]\nmemory_limit = \"512MB\"\n")).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(c.engine.target_partitions, cores);
    let text = format!("{MINIMAL}\n[engine]\nmemory_limit = \"512MB\"\ntarget_partitions = 2\n");
    assert_eq!(load(&text).unwrap().engine.target_partitions, 2);
}

#[test]
fn a_portal_needs_a_self_serve_owner_pool() {
    let env = [("HUBSPOT_TOKEN".to_string(), "pat-na1-x".to_string())];
    let path = Path::new("/etc/pqlsync/pqlsync.toml");
    let e = load_with(MINIMAL, path, &global(), &env)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`routing.owners.self_serve`"), "{e}");
    assert!(e.contains("portal"), "{e}");
    // Offline, or with a pool, it is fine.
    assert!(load(MINIMAL).is_ok());
    let pooled = format!("{MINIMAL}\n[routing.owners]\nself_serve = [\"ssr@example.com\"]");
    assert!(load_with(&pooled, path, &global(), &env).is_ok());
}

#[test]
fn an_as_of_more_than_a_day_ahead_needs_allow_future() {
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(1)).to_string();
    let later = (chrono::Utc::now().date_naive() + chrono::TimeDelta::days(2)).to_string();
    let with = |as_of: &str, allow_future: bool| GlobalArgs {
        as_of: Some(as_of.to_string()),
        allow_future,
        ..global()
    };
    assert!(
        run_options(MINIMAL, &with(&tomorrow, false)).is_ok(),
        "a day ahead is fine"
    );
    let e = run_options(MINIMAL, &with(&later, false))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--as-of") && e.contains("--allow-future"), "{e}");
    assert!(run_options(MINIMAL, &with(&later, true)).is_ok());
}

#[test]
fn the_hubspot_api_version_defaults_to_2026_09_and_names_the_accepted_ones() {
    use pqlsync_hubspot::ApiVersion;
    assert_eq!(
        load(MINIMAL).unwrap().hubspot.api_version,
        ApiVersion::V2026_09
    );
    for (name, want) in [
        ("2026-09", ApiVersion::V2026_09),
        ("2026-03", ApiVersion::V2026_03),
        ("legacy", ApiVersion::Legacy),
    ] {
        let text = format!("{MINIMAL}\n[hubspot]\napi_version = \"{name}\"\n");
        assert_eq!(load(&text).unwrap().hubspot.api_version, want, "{name}");
    }
    let e = err(&format!("{MINIMAL}\n[hubspot]\napi_version = \"v3\"\n"));
    assert!(
        e.contains("`hubspot.api_version`") && e.contains("2026-09, 2026-03, legacy"),
        "{e}"
    );
}

#[test]
fn the_scoring_day_takes_a_date_or_today_or_yesterday() {
    let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let cases = [
        (
            "2026-02-14",
            Ok(NaiveDate::from_ymd_opt(2026, 2, 14).unwrap()),
        ),
        ("today", Ok(today)),
        // Across a month end.
        (
            "yesterday",
            Ok(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()),
        ),
        ("Yesterday", Err("`Yesterday` is not a date")),
        ("2026-13-01", Err("`2026-13-01` is not a date")),
    ];
    for (input, expected) in cases {
        match (super::scoring_day(input, today), expected) {
            (Ok(day), Ok(want)) => assert_eq!(day, want, "{input}"),
            (Err(message), Err(want)) => {
                assert!(message.starts_with(want), "{input}: {message}");
                assert!(message.ends_with("`today` or `yesterday`"), "{message}");
            }
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }
}

/// Adopting a scorecard whose scores top out at 46 left `hot_pql_score = 85` and the
/// lifecycle thresholds above every account, and hot-PQL tasks and lifecycle moves silently
/// stopped; nothing said so.
#[test]
fn a_threshold_above_the_highest_reachable_score_silently_stopped_its_playbook() {
    // Fit tops out at 40 and usage at 50: the PQL score at 0.4 × 40 + 0.6 × 50 = 46.
    let scorecard = r#"
[scoring]
fit_weight = 0.4
usage_weight = 0.6
[scoring.tiers]
yellow = 10
green = 30
[[scoring.fit]]
feature = "seats"
op = ">="
value = 5
points = 40
[[scoring.usage]]
feature = "active_users_14d"
op = ">="
value = 3
points = 50
"#;
    let with = |extra: &str| format!("{MINIMAL}{scorecard}{extra}");
    let cases = [
        ("", Some("routing.hot_pql_score")),
        (
            "[routing]\nhot_pql_score = 46\n",
            Some("hubspot.lifecycle_thresholds.marketingqualifiedlead"),
        ),
        (
            "[routing]\nhot_pql_score = 47\n[hubspot]\nlifecycle_thresholds = {}\n",
            Some("routing.hot_pql_score"),
        ),
        (
            "[routing]\nhot_pql_score = 46\n[hubspot]\nlifecycle_thresholds = { marketingqualifiedlead = 30, salesqualifiedlead = 46 }\n",
            None,
        ),
    ];
    for (extra, key) in &cases {
        match (load(&with(extra)), key) {
            (Ok(_), None) => {}
            (Err(e), Some(key)) => {
                let e = e.to_string();
                assert!(e.contains(&format!("`{key}`")), "{extra}: {e}");
                assert!(e.contains("highest PQL score") && e.contains("(46"), "{e}");
            }
            (got, want) => panic!("{extra}: got {:?}, want {want:?}", got.err()),
        }
    }
    // Green above the top.
    let green = with("[routing]\nhot_pql_score = 40\n[hubspot]\nlifecycle_thresholds = {}\n")
        .replace("green = 30", "green = 50");
    let e = err(&green);
    assert!(
        e.contains("`scoring.tiers.green`") && e.contains("no account would be Green"),
        "{e}"
    );
}

#[test]
fn an_unreachable_expansion_threshold_is_refused_unless_expansion_is_off() {
    let expansion = |threshold: u8, signals: &str| {
        format!(
            "{MINIMAL}[routing]\nexpansion_threshold = {threshold}\n[scoring]\nexpansion = [{signals}]\n"
        )
    };
    let one = r#"{ feature = "seats", op = ">=", value = 10, points = 30 }"#;
    let e = err(&expansion(31, one));
    assert!(
        e.contains("`routing.expansion_threshold`") && e.contains("(30"),
        "{e}"
    );
    assert!(load(&expansion(30, one)).is_ok());
    assert!(
        load(&expansion(90, "")).is_ok(),
        "no expansion signals: expansion is off"
    );
}
