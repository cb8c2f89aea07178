//! Table tests for `[routing]`'s validation: each step's rule and message, and the order in
//! which `policy` reports the first mistake of a file (its key is what a user goes to fix).

use super::*;

fn bad(key: &str, message: &str) -> Invalid {
    Invalid::new(key, message)
}

fn table(trigger: &str) -> PlaybookFile {
    PlaybookFile {
        trigger: trigger.into(),
        enabled: None,
        queue: None,
        task_type: None,
        priority: None,
        due_days: None,
        subject: None,
        body: None,
    }
}

fn emails(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn counts_may_be_zero_but_not_negative() {
    let cases = [
        (
            Some(-1),
            Err(bad("routing.k", "must not be negative, got -1")),
        ),
        (Some(0), Ok(0)),
        (Some(9), Ok(9)),
        (None, Ok(7)),
    ];
    for (given, want) in cases {
        assert_eq!(non_negative("routing.k", given, 7), want, "{given:?}");
    }
}

#[test]
fn score_thresholds_run_from_1_to_100() {
    let cases = [
        (
            Some(0),
            Err(bad("routing.k", "must be a score from 1 to 100, got 0")),
        ),
        (Some(1), Ok(1)),
        (Some(100), Ok(100)),
        (
            Some(101),
            Err(bad("routing.k", "must be a score from 1 to 100, got 101")),
        ),
        (None, Ok(85)),
    ];
    for (given, want) in cases {
        assert_eq!(score("routing.k", given, 85), want, "{given:?}");
    }
}

#[test]
fn owner_pools_hold_each_email_once() {
    let cases = [
        (
            emails(&[" Bob@Example.com ", "bob@example.com", "amy@example.com"]),
            Ok(emails(&["bob@example.com", "amy@example.com"])),
        ),
        (Vec::new(), Ok(Vec::new())),
        (
            emails(&["amy@example.com", " Bob "]),
            Err(bad(
                "routing.owners.self_serve",
                "`bob` is not an email address",
            )),
        ),
    ];
    for (given, want) in cases {
        assert_eq!(owner_emails("self_serve", &given), want, "{given:?}");
    }
}

#[test]
fn disqualify_rules_say_why() {
    let rule = |reason: &str, op: &str| RuleFile {
        feature: "email_domain".into(),
        op: op.into(),
        value: Some(toml::Value::Array(vec!["spam.com".into()])),
        reason: reason.into(),
    };
    let rules = disqualify_rules(&[rule(" spam ", "in")]).unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].reason, "spam");
    assert_eq!(rules[0].condition.feature, "email_domain");
    assert_eq!(
        disqualify_rules(&[rule("spam", "in"), rule(" ", "in")]),
        Err(bad("routing.disqualify[1].reason", "must say why"))
    );
    // The condition's own errors are keyed under the rule.
    assert_eq!(
        disqualify_rules(&[rule("spam", "like")]).unwrap_err().key,
        "routing.disqualify[0].op"
    );
}

#[test]
fn triggers_are_named_exactly() {
    let unknown = |given: &str| {
        Err(bad(
            "routing.playbooks[0].trigger",
            &format!(
                "unknown trigger `{given}` (one of green, hot_pql, meeting_booked, help_requested, \
                 trial_ending, rescue, expansion)"
            ),
        ))
    };
    let cases = [
        ("hot_pql", Ok(Trigger::HotPql)),
        (" rescue ", Ok(Trigger::Rescue)),
        ("Hot_PQL", unknown("Hot_PQL")),
        ("", unknown("")),
    ];
    for (given, want) in cases {
        assert_eq!(
            parse_trigger("routing.playbooks[0]", given),
            want,
            "{given:?}"
        );
    }
}

#[test]
fn queues_are_numeric_ids() {
    let not_an_id = |shown: &str| {
        Err(bad(
            "routing.playbooks[0].queue",
            &format!("`{shown}` is not a HubSpot task queue id: use the number in the queue's URL"),
        ))
    };
    let cases = [
        (" 12345 ", Ok("12345".to_string())),
        ("", not_an_id("")),
        ("  ", not_an_id("")),
        ("q-12", not_an_id("q-12")),
    ];
    for (given, want) in cases {
        assert_eq!(queue("routing.playbooks[0]", given), want, "{given:?}");
    }
}

#[test]
fn task_types_and_priorities_are_hubspots_names_in_any_case() {
    let key = "routing.playbooks[0]";
    let types = [
        ("call", Ok(TaskType::Call)),
        (" Email ", Ok(TaskType::Email)),
        ("TODO", Ok(TaskType::Todo)),
        (
            "phone",
            Err(bad(
                "routing.playbooks[0].task_type",
                "`phone` is not a task type (TODO, CALL or EMAIL)",
            )),
        ),
    ];
    for (given, want) in types {
        assert_eq!(task_type(key, given), want, "{given:?}");
    }
    let priorities = [
        ("low", Ok(Priority::Low)),
        (" High ", Ok(Priority::High)),
        (
            "urgent",
            Err(bad(
                "routing.playbooks[0].priority",
                "`urgent` is not a priority (LOW, MEDIUM or HIGH)",
            )),
        ),
    ];
    for (given, want) in priorities {
        assert_eq!(priority(key, given), want, "{given:?}");
    }
}

#[test]
fn templates_render_and_subjects_say_something() {
    let key = "routing.playbooks[0]";
    let empty_subject = Err(bad(
        "routing.playbooks[0].subject",
        "must not be empty: the rep sees the subject in the queue",
    ));
    assert_eq!(template(key, "subject", " "), empty_subject);
    assert_eq!(template(key, "body", ""), Ok(String::new()));
    assert_eq!(
        template(key, "subject", "{{ account }} scored {{ score }}"),
        Ok("{{ account }} scored {{ score }}".to_string())
    );
    for field in ["subject", "body"] {
        let e = template(key, field, "{{ acount }}").unwrap_err();
        assert_eq!(e.key, format!("{key}.{field}"));
        assert!(e.message.contains("a template may name"), "{e:?}");
    }
}

#[test]
fn playbooks_claim_their_trigger_once_enabled_or_not() {
    let off = |trigger: &str| PlaybookFile {
        enabled: Some(false),
        ..table(trigger)
    };
    let second_green = Err(bad(
        "routing.playbooks[1].trigger",
        "a second `green` playbook: give each trigger one table",
    ));
    assert_eq!(
        playbooks(&[table("green"), table("green")], 1),
        second_green
    );
    assert_eq!(playbooks(&[off("green"), table("green")], 1), second_green);
    assert_eq!(
        playbooks(&[off("green"), table("hot_pql")], 3),
        Ok(vec![Playbook::new(Trigger::HotPql, 3)])
    );
    assert_eq!(
        playbooks(
            &[PlaybookFile {
                queue: Some("x".into()),
                ..off("rescue")
            }],
            1
        )
        .unwrap_err()
        .key,
        "routing.playbooks[0].queue",
        "a disabled table is checked too"
    );
}

#[test]
fn a_playbook_table_overrides_its_triggers_defaults() {
    let key = "routing.playbooks[0]";
    let full = PlaybookFile {
        queue: Some("77".into()),
        task_type: Some("email".into()),
        priority: Some("low".into()),
        due_days: Some(0),
        subject: Some("Call {{ account }}".into()),
        body: Some("{{ signals }}".into()),
        ..table("hot_pql")
    };
    assert_eq!(
        playbook_table(key, Trigger::HotPql, &full, 2),
        Ok(Playbook {
            trigger: Trigger::HotPql,
            queue: Some("77".into()),
            task_type: TaskType::Email,
            priority: Priority::Low,
            due_days: 0,
            subject: "Call {{ account }}".into(),
            body: "{{ signals }}".into(),
        })
    );
    assert_eq!(
        playbook_table(key, Trigger::HotPql, &table("hot_pql"), 2),
        Ok(Playbook::new(Trigger::HotPql, 2))
    );
    let late = PlaybookFile {
        due_days: Some(-1),
        ..table("hot_pql")
    };
    assert_eq!(
        playbook_table(key, Trigger::HotPql, &late, 2),
        Err(bad(
            "routing.playbooks[0].due_days",
            "must not be negative, got -1"
        ))
    );
    // Fields are checked in the order the table lists them.
    let two_mistakes = PlaybookFile {
        priority: Some("urgent".into()),
        task_type: Some("phone".into()),
        ..table("hot_pql")
    };
    assert_eq!(
        playbook_table(key, Trigger::HotPql, &two_mistakes, 2)
            .unwrap_err()
            .key,
        "routing.playbooks[0].task_type"
    );
}

#[test]
fn an_empty_routing_section_is_the_default_policy() {
    assert_eq!(policy(&RoutingFile::default()), Ok(Policy::default()));
    let file = RoutingFile {
        task_due_days: Some(3),
        ..RoutingFile::default()
    };
    assert_eq!(
        policy(&file).unwrap().playbooks,
        vec![Playbook::green(3)],
        "the default Green task is due after task_due_days"
    );
}

#[test]
fn policy_reports_the_first_mistake_in_a_fixed_order() {
    // A file with every mistake; each is fixed in turn, and the next one is reported.
    let mut file = RoutingFile {
        enterprise_seats: Some(-1),
        sales_assist_after_days: Some(-1),
        task_due_days: Some(-1),
        paid_statuses: None,
        owners: OwnersFile {
            enterprise: emails(&["ae"]),
            self_serve: emails(&["ssr"]),
        },
        disqualify: vec![RuleFile {
            feature: "email_domain".into(),
            op: "in".into(),
            value: Some(toml::Value::Array(vec!["spam.com".into()])),
            reason: String::new(),
        }],
        hot_pql_score: Some(0),
        trial_ending_days: Some(-1),
        rescue_after_days: Some(-1),
        expansion_threshold: Some(101),
        expansion_cooldown_days: Some(-1),
        playbooks: Some(vec![table("greenish")]),
    };
    type Fix = fn(&mut RoutingFile);
    let order: &[(&str, Fix)] = &[
        ("routing.disqualify[0].reason", |f| {
            f.disqualify[0].reason = "spam".into()
        }),
        ("routing.task_due_days", |f| f.task_due_days = None),
        ("routing.hot_pql_score", |f| f.hot_pql_score = None),
        ("routing.trial_ending_days", |f| f.trial_ending_days = None),
        ("routing.rescue_after_days", |f| f.rescue_after_days = None),
        ("routing.expansion_threshold", |f| {
            f.expansion_threshold = None
        }),
        ("routing.expansion_cooldown_days", |f| {
            f.expansion_cooldown_days = None
        }),
        ("routing.playbooks[0].trigger", |f| f.playbooks = None),
        ("routing.enterprise_seats", |f| f.enterprise_seats = None),
        ("routing.sales_assist_after_days", |f| {
            f.sales_assist_after_days = None
        }),
        ("routing.owners.enterprise", |f| f.owners.enterprise.clear()),
        ("routing.owners.self_serve", |f| f.owners.self_serve.clear()),
    ];
    for (key, fix) in order {
        assert_eq!(policy(&file).unwrap_err().key, *key);
        fix(&mut file);
    }
    assert!(policy(&file).is_ok());
}
