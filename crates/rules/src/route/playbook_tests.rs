//! Table tests for every trigger, its boundaries and its once-per rule, through `route` (so
//! the memory between days is the real one).

use chrono::NaiveDate;

use super::*;
use crate::route::tests::{acct, day};
use crate::route::{Memory, Policy, route};

/// Every trigger on, each with its own queue, over `route::tests`'s policy.
fn policy() -> Policy {
    Policy {
        playbooks: Trigger::ALL
            .into_iter()
            .map(|t| Playbook {
                queue: Some(format!("{}", 1000 + t as usize)),
                ..Playbook::new(t, 1)
            })
            .collect(),
        ..crate::route::tests::policy()
    }
}

fn customer(expansion: u8) -> Account {
    Account {
        subscription_status: Some("active".into()),
        mrr: 4900,
        trial_status: TrialStatus::Ended,
        expansion_score: Some(expansion),
        ..acct()
    }
}

/// Route `days` in order, each day's memory feeding the next; the triggers fired each day.
fn fired_over(trigger: Trigger, days: &[(NaiveDate, Account)]) -> Vec<Option<String>> {
    let p = policy();
    let mut prior: Option<Memory> = None;
    let mut out = Vec::new();
    for (d, a) in days {
        let r = route(&p, a, prior.as_ref(), *d);
        out.push(
            r.tasks
                .iter()
                .find(|t| t.trigger == trigger)
                .map(|t| t.key.clone()),
        );
        prior = Some(r.memory);
    }
    out
}

fn fires(trigger: Trigger, a: &Account, as_of: NaiveDate) -> bool {
    fired_over(trigger, &[(as_of, a.clone())])[0].is_some()
}

fn pql(score: u8) -> Account {
    Account {
        pql_score: score,
        ..acct()
    }
}

#[test]
fn hot_pql_fires_at_the_threshold_once_per_crossing() {
    for (score, want) in [(84, false), (85, true), (86, true)] {
        assert_eq!(
            fires(Trigger::HotPql, &pql(score), day(20)),
            want,
            "PQL {score}"
        );
    }
    let keys = fired_over(
        Trigger::HotPql,
        &[
            (day(16), pql(84)),
            (day(17), pql(85)),
            (day(18), pql(90)),
            (day(19), pql(84)),
            (day(20), pql(86)),
            (day(21), pql(86)),
        ],
    );
    assert_eq!(
        keys,
        vec![
            None,
            Some("acct_1:hot_pql:2026-11-17".into()),
            None,
            None,
            Some("acct_1:hot_pql:2026-11-20".into()),
            None,
        ],
        "dropping below and rising again is a new crossing"
    );
}

#[test]
fn green_fires_once_per_activation() {
    let green = Account {
        tier: Tier::Green,
        pql_score: 75,
        ..acct()
    };
    let keys = fired_over(
        Trigger::Green,
        &[
            (day(17), green.clone()),
            (day(18), green.clone()),
            (day(19), acct()),
            (day(20), green),
        ],
    );
    assert_eq!(
        keys,
        vec![
            Some("acct_1:sub_1:2026-11-17".into()),
            None,
            None,
            Some("acct_1:sub_1:2026-11-20".into()),
        ]
    );
}

fn with_meeting(id: &str, d: NaiveDate) -> Account {
    Account {
        last_meeting: Some(Event {
            id: id.into(),
            day: d,
        }),
        ..acct()
    }
}

#[test]
fn meeting_booked_fires_once_per_meeting() {
    let keys = fired_over(
        Trigger::MeetingBooked,
        &[
            (day(16), acct()),
            (day(17), with_meeting("msg_1", day(17))),
            (day(18), with_meeting("msg_1", day(17))),
            (day(19), with_meeting("msg_2", day(19))),
            // Without a message id the day is the meeting: a second run of the day adds none.
            (day(20), with_meeting("2026-11-20", day(20))),
            (day(21), with_meeting("2026-11-20", day(20))),
        ],
    );
    assert_eq!(
        keys,
        vec![
            None,
            Some("acct_1:meeting_booked:msg_1".into()),
            None,
            Some("acct_1:meeting_booked:msg_2".into()),
            Some("acct_1:meeting_booked:2026-11-20".into()),
            None,
        ]
    );
    // First seen late: up to EVENT_DAYS old still makes a task, older does not.
    assert!(fires(
        Trigger::MeetingBooked,
        &with_meeting("m", day(17)),
        day(20)
    ));
    assert!(!fires(
        Trigger::MeetingBooked,
        &with_meeting("m", day(16)),
        day(20)
    ));
}

#[test]
fn help_requested_fires_once_per_request() {
    let help = |id: &str, d: u32| Account {
        last_help_request: Some(Event {
            id: id.into(),
            day: day(d),
        }),
        ..acct()
    };
    let keys = fired_over(
        Trigger::HelpRequested,
        &[
            (day(18), help("h1", 18)),
            (day(19), help("h1", 18)),
            (day(20), help("h2", 20)),
        ],
    );
    assert_eq!(
        keys,
        vec![
            Some("acct_1:help_requested:h1".into()),
            None,
            Some("acct_1:help_requested:h2".into()),
        ]
    );
}

#[test]
fn trial_ending_fires_within_the_days_once_per_trial() {
    let ends = |d: u32| Account {
        trial_end: Some(day(d)),
        ..acct()
    };
    // As of the 20th: ends in 1, 2, 3 days.
    for (end, want) in [(21, true), (22, true), (23, false)] {
        assert_eq!(
            fires(Trigger::TrialEnding, &ends(end), day(20)),
            want,
            "ends on the {end}"
        );
    }
    let keys = fired_over(
        Trigger::TrialEnding,
        &[
            (day(19), ends(22)),
            (day(20), ends(22)),
            (day(21), ends(22)),
        ],
    );
    assert_eq!(
        keys,
        vec![None, Some("acct_1:trial_ending:sub_1".into()), None]
    );
    // A new trial is a new occurrence.
    let next = Account {
        trial_id: Some("sub_2".into()),
        ..ends(22)
    };
    let keys = fired_over(
        Trigger::TrialEnding,
        &[(day(20), ends(22)), (day(21), next)],
    );
    assert_eq!(
        keys,
        vec![
            Some("acct_1:trial_ending:sub_1".into()),
            Some("acct_1:trial_ending:sub_2".into())
        ]
    );
    // Checked out (a customer), or disqualified: nothing.
    let paid = Account {
        subscription_status: Some("active".into()),
        mrr: 100,
        ..ends(21)
    };
    assert!(!fires(Trigger::TrialEnding, &paid, day(20)));
    let dq = Account {
        persona_disqualified: Some("test domain".into()),
        ..ends(21)
    };
    assert!(!fires(Trigger::TrialEnding, &dq, day(20)));
}

#[test]
fn rescue_fires_when_still_red_on_the_day_once_per_trial() {
    let red = Account {
        tier: Tier::Red,
        pql_score: 20,
        ..acct()
    };
    // The trial started on the 15th (day 0): the 19th is day 4, the 20th day 5, the 21st day 6.
    for (d, want) in [(19, false), (20, true), (21, true)] {
        assert_eq!(fires(Trigger::Rescue, &red, day(d)), want, "day {d}");
    }
    assert!(!fires(Trigger::Rescue, &acct(), day(20)), "Yellow");
    let keys = fired_over(
        Trigger::Rescue,
        &[
            (day(19), red.clone()),
            (day(20), red.clone()),
            (day(21), red),
        ],
    );
    assert_eq!(keys, vec![None, Some("acct_1:rescue:sub_1".into()), None]);
}

#[test]
fn expansion_fires_at_the_threshold_once_per_cooldown() {
    for (score, want) in [(69, false), (70, true), (71, true)] {
        assert_eq!(
            fires(Trigger::Expansion, &customer(score), day(1)),
            want,
            "expansion {score}"
        );
    }
    // Fired on the 1st: 29 days later is inside the cooldown, 30 and 31 are not.
    for (after, want) in [(29, false), (30, true), (31, true)] {
        let p = policy();
        let first = route(&p, &customer(70), None, day(1));
        let later = day(1) + chrono::TimeDelta::days(after);
        let r = route(&p, &customer(70), Some(&first.memory), later);
        assert_eq!(
            r.tasks.iter().any(|t| t.trigger == Trigger::Expansion),
            want,
            "{after} days after"
        );
    }
    // Prospects get no expansion task; customers get no trial triggers.
    assert!(!fires(Trigger::Expansion, &pql(90), day(20)));
    let hot_customer = Account {
        pql_score: 95,
        tier: Tier::Green,
        ..customer(10)
    };
    let r = route(&policy(), &hot_customer, None, day(20));
    assert_eq!(r.tasks, vec![]);
}

#[test]
fn a_task_carries_its_playbook_owner_and_rendered_templates() {
    let mut p = policy();
    p.playbooks = vec![Playbook {
        subject: "Hot: {{ account }} {{ score }} ({{ tier }}) day {{ trial_day }}".into(),
        body: "{{ signals }}{% if expansion_score is none %} / prospect{% endif %}".into(),
        due_days: 0,
        ..Playbook::new(Trigger::HotPql, 1)
    }];
    let r = route(&p, &pql(90), None, day(20));
    let t = &r.tasks[0];
    assert_eq!(t.subject, "Hot: Acme 90 (yellow) day 5");
    assert_eq!(t.body, "+25 teammates_invited_14d=3 (≥2) / prospect");
    assert_eq!(
        (t.task_type, t.priority, t.due, t.owner.as_deref()),
        (
            TaskType::Call,
            Priority::High,
            day(20),
            Some("ssr@example.com")
        )
    );
    assert_eq!(r.memory.open, r.tasks);
    let checks: Vec<(Trigger, bool, bool)> = r
        .checks
        .iter()
        .map(|c| (c.trigger, c.enabled, c.fired))
        .collect();
    assert_eq!(checks.len(), Trigger::ALL.len());
    assert!(checks.contains(&(Trigger::HotPql, true, true)));
    assert!(checks.contains(&(Trigger::Green, false, false)));
}

#[test]
fn a_task_names_its_champion_and_is_about_them() {
    use crate::score::people::{Engagement, User};
    let p = policy();
    let mut a = pql(90);
    let r = route(&p, &a, None, day(20));
    assert!(!r.tasks[0].body.contains("Champion"), "{}", r.tasks[0].body);
    assert_eq!(r.tasks[0].contact, None);
    a.champion = Some(User {
        user_id: "u7".into(),
        email: Some("ana@acme.example".into()),
        engagement: Engagement {
            score: 85,
            signals: vec![],
        },
        events: 40,
        active_days: 6,
        last_active: Some(day(20)),
        actions: vec![Some(3), Some(1), Some(0), None, Some(0)],
        power: true,
    });
    let r = route(&p, &a, None, day(20));
    let t = &r.tasks[0];
    assert!(
        t.body.ends_with(
            "\nChampion: ana@acme.example, engagement 85; invited 3 teammates, connected 1 integration."
        ),
        "{}",
        t.body
    );
    assert_eq!(t.contact.as_deref(), Some("ana@acme.example"));
    let ctx = context(Trigger::HotPql, &a, day(20));
    let rendered = minijinja::Environment::new()
        .render_str(
            "{{ champion }} {{ champion_teammates_invited_14d }} {{ champion_pricing_page_views_14d is none }}",
            ctx,
        )
        .unwrap();
    assert_eq!(rendered, "ana@acme.example 3 True");
}

#[test]
fn rerunning_a_day_fires_the_same_tasks() {
    // Re-running a day routes against the memory before it (state keeps it), so the same
    // occurrence gets the same key: the sync then finds the task already created.
    let p = policy();
    let before = route(&p, &pql(50), None, day(19));
    let first = route(&p, &pql(90), Some(&before.memory), day(20));
    let again = route(&p, &pql(90), Some(&before.memory), day(20));
    assert_eq!(first.tasks, again.tasks);
    assert_eq!(first.tasks.len(), 1);
}

#[test]
fn open_tasks_are_kept_for_a_week() {
    let p = policy();
    let fired = route(&p, &pql(90), None, day(1));
    let mut prior = fired.memory;
    for d in 2..=9 {
        let r = route(&p, &pql(90), Some(&prior), day(d));
        let still = r.memory.open.iter().any(|t| t.trigger == Trigger::HotPql);
        assert_eq!(still, d - 1 < OPEN_DAYS as u32, "day {d}");
        prior = r.memory;
    }
}

#[test]
fn templates_are_checked() {
    let cases: &[(&str, bool)] = &[
        ("{{ account }} scored {{ score }}", true),
        (
            "{{ expansion_score }} {{ trial_day }} {{ days_left }}",
            true,
        ),
        ("{% if expansion_score %}x{% endif %}", true),
        ("{{ acount }}", false),
        ("{{ account ", false),
    ];
    for (template, ok) in cases {
        assert_eq!(check_template(template).is_ok(), *ok, "{template}");
    }
    // The champion's counts are numbers that may be absent, checked like the others.
    let guarded =
        |t: &str| format!("{{% if champion_teammates_invited_14d is not none %}}{t}{{% endif %}}");
    let err =
        check_template(&guarded("{{ 10 // (champion_teammates_invited_14d - 3) }}")).unwrap_err();
    assert!(
        err.contains("when champion_teammates_invited_14d is 3"),
        "{err}"
    );
    assert!(check_template("{{ champion_limit_reached_14d + 1 }}").is_err());
    // A champion without one of the counts (its column missing from user_features).
    let err = check_template("{% if champion %}{{ champion_limit_reached_14d + 1 }}{% endif %}")
        .unwrap_err();
    assert!(
        err.contains("when champion_limit_reached_14d is none"),
        "{err}"
    );
    let err = check_template("{{ acount }}").unwrap_err();
    assert!(err.contains("account_id"), "{err}");
    for trigger in Trigger::ALL {
        check_template(default_subject(trigger)).unwrap();
    }
    check_template(DEFAULT_BODY).unwrap();
}

#[test]
fn the_template_context_names_exactly_the_documented_names() {
    let ctx = context(Trigger::Green, &acct(), day(20));
    let mut names: Vec<String> = ctx
        .try_iter()
        .unwrap()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    names.sort();
    let mut documented: Vec<String> = TEMPLATE_NAMES.iter().map(|(n, _)| n.to_string()).collect();
    documented.sort();
    assert_eq!(names, documented);
}

/// A subject dividing by `score - 74` sent 17 tasks with the raw `{{ … }}` text as their subject.
#[test]
fn a_template_that_fails_for_some_score_sent_its_raw_text() {
    // Refused when the config is read, naming the value that breaks it.
    let err = check_template("PQL {{ 100 // (score - 74) }}").unwrap_err();
    assert!(err.contains("when score is 74"), "{err}");
    // One no sample can foresee (seats from 101 to 201) fails that account's task alone: no
    // task, no raw text, the reason in its check, and the trigger not remembered, so it fires
    // again once the template is fixed.
    let broken = Policy {
        playbooks: vec![Playbook {
            subject: "{{ 1 // (1 - seats // 101) }} seats".into(),
            ..Playbook::green(1)
        }],
        ..crate::route::tests::policy()
    };
    check_template(&broken.playbooks[0].subject).unwrap();
    let green = |seats| Account {
        tier: Tier::Green,
        seats,
        ..acct()
    };
    let ok = route(&broken, &green(3), None, day(20));
    assert_eq!(ok.tasks.len(), 1);
    assert_eq!(ok.tasks[0].subject, "1 seats");
    assert!(ok.task_failures.is_empty());
    let r = route(&broken, &green(150), None, day(20));
    assert_eq!(r.tasks, vec![]);
    assert!(r.memory.open.is_empty() && r.memory.last.is_empty());
    assert_eq!(r.task_failures.len(), 1);
    let (trigger, message) = &r.task_failures[0];
    assert_eq!(*trigger, Trigger::Green);
    assert!(
        message.contains("green playbook's template failed"),
        "{message}"
    );
    let check = r
        .checks
        .iter()
        .find(|c| c.trigger == Trigger::Green)
        .unwrap();
    assert!(
        !check.fired && check.why.contains("its task was not created"),
        "{check:?}"
    );
}

// The rule of each trigger, one step at a time: every message and occurrence key is what
// `explain` shows and what names the task, so the tables pin them exactly.

fn quiet(why: &str) -> Outcome {
    Outcome::Quiet(why.into())
}

fn fire(key: &str, why: &str) -> Outcome {
    Outcome::Fire {
        key: key.into(),
        why: why.into(),
    }
}

fn last(key: &str, d: NaiveDate) -> Last {
    Last {
        key: key.into(),
        day: d,
    }
}

/// Since when a Green activation or a hot-PQL crossing is under way, and whether it carries on.
type Streak = (Option<NaiveDate>, bool);

/// Today on the 20th, self-serve and unowned, with the given Green and hot-PQL streaks.
fn today_with(green: Streak, hot: Streak) -> Today<'static> {
    Today {
        as_of: day(20),
        motion: Motion::SelfServe,
        owner: None,
        green_since: green.0,
        green_continuing: green.1,
        hot_since: hot.0,
        hot_continuing: hot.1,
    }
}

#[test]
fn only_prospects_get_prospect_triggers() {
    let cases = [
        (Motion::SelfServe, None),
        (Motion::SalesAssisted, None),
        (
            Motion::Customer,
            Some(quiet("a customer: no trial triggers")),
        ),
        (
            Motion::Disqualified,
            Some(quiet("disqualified: no trial triggers")),
        ),
    ];
    for (motion, want) in cases {
        assert_eq!(closed_to_prospect_triggers(motion), want, "{motion:?}");
    }
    // The gate is for prospect triggers only: a customer's expansion is not held back.
    let t = Thresholds::default();
    let today = Today {
        motion: Motion::Customer,
        ..today_with((Some(day(20)), false), (None, false))
    };
    let a = customer(80);
    assert_eq!(
        outcome(Trigger::Green, &t, &a, &today, None),
        quiet("a customer: no trial triggers")
    );
    assert_eq!(
        outcome(Trigger::Expansion, &t, &a, &today, None),
        fire(
            "acct_1:expansion:2026-11-20",
            "expansion score 80 reached 70"
        )
    );
}

#[test]
fn green_rule() {
    let no_trial = Account {
        trial_id: None,
        ..acct()
    };
    let cases: Vec<(&str, Account, Streak, Outcome)> = vec![
        ("not Green", acct(), (None, false), quiet("tier is yellow")),
        (
            "an activation under way",
            acct(),
            (Some(day(17)), true),
            quiet("Green since 2026-11-17: fired once for this activation"),
        ),
        (
            "an activation begins",
            acct(),
            (Some(day(20)), false),
            fire("acct_1:sub_1:2026-11-20", "turned Green (PQL 50)"),
        ),
        (
            "without a trial",
            no_trial,
            (Some(day(20)), false),
            fire("acct_1:-:2026-11-20", "turned Green (PQL 50)"),
        ),
    ];
    for (case, a, streak, want) in cases {
        assert_eq!(
            green(&a, &today_with(streak, (None, false))),
            want,
            "{case}"
        );
    }
}

#[test]
fn hot_pql_rule() {
    let t = Thresholds::default();
    let cases = [
        ("below the line", (None, false), quiet("PQL 90 < 85")),
        (
            "a crossing under way",
            (Some(day(17)), true),
            quiet("PQL ≥ 85 since 2026-11-17: fired once for this crossing"),
        ),
        (
            "a crossing begins",
            (Some(day(20)), false),
            fire("acct_1:hot_pql:2026-11-20", "PQL 90 reached 85"),
        ),
    ];
    // The streak, not the score, says whether the line is crossed: routing computed it.
    for (case, streak, want) in cases {
        assert_eq!(
            hot_pql(&t, &pql(90), &today_with((None, false), streak)),
            want,
            "{case}"
        );
    }
}

#[test]
fn event_rule() {
    let help = |id: &str, d: NaiveDate| Account {
        last_help_request: Some(Event {
            id: id.into(),
            day: d,
        }),
        ..acct()
    };
    let cases: Vec<(&str, Trigger, Account, Option<Last>, Outcome)> = vec![
        (
            "no meeting",
            Trigger::MeetingBooked,
            acct(),
            None,
            quiet("no meeting booked in the last 14 days"),
        ),
        (
            "no help request",
            Trigger::HelpRequested,
            acct(),
            None,
            quiet("no help request in the last 14 days"),
        ),
        (
            "a help request is not a meeting",
            Trigger::MeetingBooked,
            help("h1", day(20)),
            None,
            quiet("no meeting booked in the last 14 days"),
        ),
        (
            "a meeting EVENT_DAYS old",
            Trigger::MeetingBooked,
            with_meeting("m1", day(17)),
            None,
            fire(
                "acct_1:meeting_booked:m1",
                "meeting booked on 2026-11-17 (m1)",
            ),
        ),
        (
            "a meeting first seen too late",
            Trigger::MeetingBooked,
            with_meeting("m1", day(16)),
            None,
            quiet("meeting booked on 2026-11-16 is 4 days old (> 3): too late for a task"),
        ),
        (
            "a meeting already fired for",
            Trigger::MeetingBooked,
            with_meeting("m1", day(17)),
            Some(last("acct_1:meeting_booked:m1", day(18))),
            quiet("meeting booked m1 on 2026-11-17: fired on 2026-11-18"),
        ),
        (
            "a new meeting after another",
            Trigger::MeetingBooked,
            with_meeting("m2", day(19)),
            Some(last("acct_1:meeting_booked:m1", day(18))),
            fire(
                "acct_1:meeting_booked:m2",
                "meeting booked on 2026-11-19 (m2)",
            ),
        ),
        (
            "a help request today",
            Trigger::HelpRequested,
            help("h1", day(20)),
            None,
            fire(
                "acct_1:help_requested:h1",
                "help request on 2026-11-20 (h1)",
            ),
        ),
    ];
    for (case, trigger, a, prior, want) in cases {
        assert_eq!(event(trigger, &a, day(20), prior.as_ref()), want, "{case}");
    }
}

#[test]
fn trial_ending_rule() {
    let t = Thresholds::default();
    let key = "acct_1:trial_ending:sub_1";
    let cases: Vec<(&str, Account, NaiveDate, Option<Last>, Outcome)> = vec![
        (
            "no live trial",
            Account {
                trial_status: TrialStatus::Ended,
                ..acct()
            },
            day(28),
            None,
            quiet("no live trial"),
        ),
        (
            "no end date",
            Account {
                trial_end: None,
                ..acct()
            },
            day(28),
            None,
            quiet("the trial has no end date"),
        ),
        (
            "3 days left",
            acct(),
            day(26),
            None,
            quiet("trial ends 2026-11-29, in 3 days (> 2)"),
        ),
        (
            "2 days left",
            acct(),
            day(27),
            None,
            fire(key, "trial ends 2026-11-29, in 2 days (≤ 2), no checkout"),
        ),
        (
            "past its end, still live",
            acct(),
            day(30),
            None,
            fire(key, "trial ends 2026-11-29, in -1 days (≤ 2), no checkout"),
        ),
        (
            "fired for this trial",
            acct(),
            day(28),
            Some(last(key, day(27))),
            quiet("fired for this trial on 2026-11-27"),
        ),
    ];
    for (case, a, as_of, prior, want) in cases {
        assert_eq!(trial_ending(&t, &a, as_of, prior.as_ref()), want, "{case}");
    }
}

#[test]
fn rescue_rule() {
    let t = Thresholds::default();
    let red = Account {
        tier: Tier::Red,
        ..acct()
    };
    let key = "acct_1:rescue:sub_1";
    let cases: Vec<(&str, Account, NaiveDate, Option<Last>, Outcome)> = vec![
        (
            "no live trial",
            Account {
                trial_status: TrialStatus::None,
                ..red.clone()
            },
            day(20),
            None,
            quiet("no live trial"),
        ),
        (
            "no start date",
            Account {
                trial_start: None,
                ..red.clone()
            },
            day(20),
            None,
            quiet("the trial has no start date"),
        ),
        (
            "trial day 4",
            red.clone(),
            day(19),
            None,
            quiet("trial day 4 < 5"),
        ),
        (
            "trial day 5, Yellow",
            acct(),
            day(20),
            None,
            quiet("trial day 5, tier is yellow"),
        ),
        (
            "trial day 5, Red",
            red.clone(),
            day(20),
            None,
            fire(key, "still Red on trial day 5"),
        ),
        (
            "fired for this trial",
            red,
            day(21),
            Some(last(key, day(20))),
            quiet("fired for this trial on 2026-11-20"),
        ),
    ];
    for (case, a, as_of, prior, want) in cases {
        assert_eq!(rescue(&t, &a, as_of, prior.as_ref()), want, "{case}");
    }
}

#[test]
fn expansion_rule() {
    let t = Thresholds::default();
    let oct = |d: u32| NaiveDate::from_ymd_opt(2026, 10, d).unwrap();
    let cases: Vec<(&str, Account, Option<Last>, Outcome)> = vec![
        ("a prospect", acct(), None, quiet("not a paying customer")),
        (
            "below the threshold",
            customer(69),
            None,
            quiet("expansion score 69 < 70"),
        ),
        (
            "at the threshold",
            customer(70),
            None,
            fire(
                "acct_1:expansion:2026-11-20",
                "expansion score 70 reached 70",
            ),
        ),
        (
            "within the cooldown",
            customer(90),
            Some(last("acct_1:expansion:2026-10-22", oct(22))),
            quiet("fired 2026-10-22 (29 days ago): cooldown of 30 days until 2026-11-21"),
        ),
        (
            "the cooldown over",
            customer(90),
            Some(last("acct_1:expansion:2026-10-21", oct(21))),
            fire(
                "acct_1:expansion:2026-11-20",
                "expansion score 90 reached 70",
            ),
        ),
    ];
    for (case, a, prior, want) in cases {
        assert_eq!(expansion(&t, &a, day(20), prior.as_ref()), want, "{case}");
    }
}
