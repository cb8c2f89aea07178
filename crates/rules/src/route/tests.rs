//! Table tests for every routing rule and boundary.

use super::stage::Transition;
use super::*;

pub(super) fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

/// A live trial (sub_1) that started on the 15th and ends on the 29th, Yellow at PQL 50.
pub(super) fn acct() -> Account {
    Account {
        account_id: "acct_1".into(),
        seats: 3,
        tier: Tier::Yellow,
        pql_score: 50,
        help_requested: false,
        meeting_booked: false,
        trial_status: TrialStatus::Live,
        trial_id: Some("sub_1".into()),
        trial_start: Some(day(15)),
        subscription_status: Some("trialing".into()),
        mrr: 0,
        ever_active: true,
        persona_disqualified: None,
        name: Some("Acme".into()),
        fit_score: 40,
        usage_score: 57,
        signals: "+25 teammates_invited_14d=3 (≥2)".into(),
        expansion_score: None,
        expansion_signals: String::new(),
        trial_end: Some(day(29)),
        last_meeting: None,
        last_help_request: None,
        champion: None,
    }
}

pub(super) fn policy() -> Policy {
    Policy {
        owners: OwnerPools {
            enterprise: vec!["ae@example.com".into()],
            self_serve: vec!["ssr@example.com".into()],
        },
        ..Policy::default()
    }
}

#[test]
fn motion_rules_and_boundaries() {
    let as_of = day(20); // trial day 5
    let cases: Vec<(&str, Account, Motion)> = vec![
        (
            "49 seats, Green",
            Account {
                seats: 49,
                tier: Tier::Green,
                ..acct()
            },
            Motion::SelfServe,
        ),
        (
            "50 seats, Green",
            Account {
                seats: 50,
                tier: Tier::Green,
                ..acct()
            },
            Motion::SalesAssisted,
        ),
        (
            "51 seats, Red",
            Account {
                seats: 51,
                tier: Tier::Red,
                ..acct()
            },
            Motion::SalesAssisted,
        ),
        ("Yellow early in trial", acct(), Motion::SelfServe),
        (
            "Red early in trial",
            Account {
                tier: Tier::Red,
                ..acct()
            },
            Motion::SelfServe,
        ),
        (
            "help request",
            Account {
                help_requested: true,
                tier: Tier::Green,
                ..acct()
            },
            Motion::SalesAssisted,
        ),
        (
            "meeting booked",
            Account {
                meeting_booked: true,
                ..acct()
            },
            Motion::SalesAssisted,
        ),
        (
            "trial day 6, Yellow",
            Account {
                trial_start: Some(day(14)),
                ..acct()
            },
            Motion::SelfServe,
        ),
        (
            "trial day 7, Yellow",
            Account {
                trial_start: Some(day(13)),
                ..acct()
            },
            Motion::SalesAssisted,
        ),
        (
            "trial day 7, Red",
            Account {
                trial_start: Some(day(13)),
                tier: Tier::Red,
                ..acct()
            },
            Motion::SalesAssisted,
        ),
        (
            "trial day 8, Green",
            Account {
                trial_start: Some(day(12)),
                tier: Tier::Green,
                ..acct()
            },
            Motion::SelfServe,
        ),
        (
            "trial ended Red",
            Account {
                trial_status: TrialStatus::Ended,
                tier: Tier::Red,
                ..acct()
            },
            Motion::Disqualified,
        ),
        (
            "trial ended Red, 60 seats",
            Account {
                trial_status: TrialStatus::Ended,
                tier: Tier::Red,
                seats: 60,
                ..acct()
            },
            Motion::Disqualified,
        ),
        (
            "trial ended Yellow",
            Account {
                trial_status: TrialStatus::Ended,
                ..acct()
            },
            Motion::SalesAssisted,
        ),
        (
            "trial ended Green",
            Account {
                trial_status: TrialStatus::Ended,
                tier: Tier::Green,
                ..acct()
            },
            Motion::SalesAssisted,
        ),
        (
            "paid",
            Account {
                subscription_status: Some("active".into()),
                mrr: 4900,
                ..acct()
            },
            Motion::Customer,
        ),
        (
            "paid, past due",
            Account {
                subscription_status: Some("past_due".into()),
                mrr: 4900,
                ..acct()
            },
            Motion::Customer,
        ),
        (
            "active but free (MRR 0)",
            Account {
                subscription_status: Some("active".into()),
                mrr: 0,
                tier: Tier::Green,
                ..acct()
            },
            Motion::SelfServe,
        ),
        (
            "paid after a Red trial",
            Account {
                subscription_status: Some("active".into()),
                mrr: 100,
                trial_status: TrialStatus::Ended,
                tier: Tier::Red,
                ..acct()
            },
            Motion::Customer,
        ),
        (
            "canceled",
            Account {
                subscription_status: Some("canceled".into()),
                mrr: 4900,
                tier: Tier::Green,
                ..acct()
            },
            Motion::SelfServe,
        ),
        (
            "persona rule",
            Account {
                persona_disqualified: Some("competitor".into()),
                tier: Tier::Green,
                ..acct()
            },
            Motion::Disqualified,
        ),
        (
            "no trial, 3 seats",
            Account {
                trial_status: TrialStatus::None,
                trial_id: None,
                trial_start: None,
                ..acct()
            },
            Motion::SelfServe,
        ),
        (
            "no trial, 80 seats",
            Account {
                trial_status: TrialStatus::None,
                trial_id: None,
                trial_start: None,
                seats: 80,
                ..acct()
            },
            Motion::SalesAssisted,
        ),
        (
            "missing trial start",
            Account {
                trial_start: None,
                ..acct()
            },
            Motion::SelfServe,
        ),
    ];
    for (name, account, want) in cases {
        let (got, reason) = motion(&policy(), &account, None, as_of);
        assert_eq!(got, want, "{name}: {reason}");
        assert!(!reason.is_empty(), "{name}");
    }
}

#[test]
fn motion_is_sticky_within_a_trial() {
    let as_of = day(20);
    let cases = [
        (
            Some(Motion::SalesAssisted),
            Tier::Green,
            Motion::SalesAssisted,
        ),
        (Some(Motion::SelfServe), Tier::Green, Motion::SelfServe),
        (
            Some(Motion::Disqualified),
            Tier::Green,
            Motion::Disqualified,
        ),
        (Some(Motion::Customer), Tier::Red, Motion::Customer),
        (None, Tier::Green, Motion::SelfServe),
    ];
    for (sticky, tier, want) in cases {
        let account = Account { tier, ..acct() };
        assert_eq!(
            motion(&policy(), &account, sticky, as_of).0,
            want,
            "{sticky:?}"
        );
    }
}

#[test]
fn lead_stage_never_moves_back_a_lifecycle_step() {
    use LeadStage::*;
    let none = Transition::default();
    let new_trial = Transition {
        new_trial: true,
        trial_live: true,
    };
    let extended = Transition {
        new_trial: false,
        trial_live: true,
    };
    let cases = [
        // prior, target, transition, expected
        (None, TrialRed, none, TrialRed),
        (Some(New), Interested, none, Interested),
        (Some(Interested), New, none, Interested),
        (Some(Interested), TrialRed, none, TrialRed),
        (Some(TrialRed), TrialGreen, none, TrialGreen),
        (Some(TrialGreen), TrialYellow, none, TrialYellow),
        (Some(TrialGreen), TrialRed, none, TrialRed),
        (Some(TrialYellow), Interested, none, TrialYellow),
        (Some(TrialYellow), TrialEnded, none, TrialEnded),
        (Some(TrialEnded), TrialGreen, none, TrialEnded),
        (Some(TrialEnded), TrialGreen, extended, TrialGreen),
        (Some(TrialEnded), TrialRed, new_trial, TrialRed),
        (Some(TrialEnded), Disqualified, none, Disqualified),
        (Some(TrialEnded), SelfCheckedOut, none, SelfCheckedOut),
        (Some(Disqualified), TrialYellow, extended, Disqualified),
        (Some(Disqualified), TrialYellow, new_trial, TrialYellow),
        (Some(Disqualified), SelfCheckedOut, none, SelfCheckedOut),
        (Some(Disqualified), Interested, none, Disqualified),
        (Some(SelfCheckedOut), TrialGreen, new_trial, SelfCheckedOut),
        (Some(SelfCheckedOut), Disqualified, none, SelfCheckedOut),
        (Some(SelfCheckedOut), Interested, none, SelfCheckedOut),
    ];
    for (prior, target, t, want) in cases {
        assert_eq!(
            advance_lead(prior, target, t),
            want,
            "{prior:?} → {target:?} ({t:?})"
        );
    }
}

#[test]
fn deal_stage_moves_forward_within_a_trial() {
    use DealStage::*;
    let cases = [
        (None, Some(TrialSelfServed), Some(TrialSelfServed)),
        (None, None, None),
        (
            Some(TrialSelfServed),
            Some(TrialSalesAssisted),
            Some(TrialSalesAssisted),
        ),
        (
            Some(TrialSalesAssisted),
            Some(TrialSelfServed),
            Some(TrialSalesAssisted),
        ),
        (Some(TrialSalesAssisted), Some(ClosedWon), Some(ClosedWon)),
        (Some(TrialSelfServed), Some(ClosedLost), Some(ClosedLost)),
        (Some(ClosedLost), Some(TrialSelfServed), Some(ClosedLost)),
        (Some(ClosedLost), Some(ClosedWon), Some(ClosedWon)),
        (Some(ClosedWon), Some(ClosedLost), Some(ClosedWon)),
        (Some(ClosedWon), Some(TrialSelfServed), Some(ClosedWon)),
        (Some(TrialSelfServed), None, Some(TrialSelfServed)),
    ];
    for (prior, target, want) in cases {
        assert_eq!(advance_deal(prior, target), want, "{prior:?} → {target:?}");
    }
}

#[test]
fn stage_targets_follow_motion_and_trial() {
    use LeadStage::*;
    let no_trial = Account {
        trial_status: TrialStatus::None,
        trial_id: None,
        trial_start: None,
        ..acct()
    };
    let cases = [
        (
            Motion::SelfServe,
            Account {
                tier: Tier::Red,
                ..acct()
            },
            TrialRed,
            Some(DealStage::TrialSelfServed),
        ),
        (
            Motion::SelfServe,
            Account {
                tier: Tier::Green,
                ..acct()
            },
            TrialGreen,
            Some(DealStage::TrialSelfServed),
        ),
        (
            Motion::SalesAssisted,
            acct(),
            TrialYellow,
            Some(DealStage::TrialSalesAssisted),
        ),
        (
            Motion::SalesAssisted,
            Account {
                trial_status: TrialStatus::Ended,
                ..acct()
            },
            TrialEnded,
            Some(DealStage::TrialSalesAssisted),
        ),
        (
            Motion::Disqualified,
            acct(),
            Disqualified,
            Some(DealStage::ClosedLost),
        ),
        (
            Motion::Customer,
            acct(),
            SelfCheckedOut,
            Some(DealStage::ClosedWon),
        ),
        (Motion::SelfServe, no_trial.clone(), Interested, None),
        (
            Motion::SelfServe,
            Account {
                ever_active: false,
                ..no_trial.clone()
            },
            New,
            None,
        ),
        (Motion::Customer, no_trial, SelfCheckedOut, None),
    ];
    for (motion, account, lead, deal) in cases {
        assert_eq!(
            stage::lead_target(motion, &account),
            lead,
            "{motion:?} {account:?}"
        );
        assert_eq!(
            stage::deal_target(motion, &account),
            deal,
            "{motion:?} {account:?}"
        );
    }
}

#[test]
fn owner_is_kept_or_assigned_by_size() {
    let cases = [
        (3, Some("keeper@example.com"), Some("keeper@example.com")),
        (80, Some("keeper@example.com"), Some("keeper@example.com")),
        (49, None, Some("ssr@example.com")),
        (50, None, Some("ae@example.com")),
        (3, Some(""), Some("ssr@example.com")),
    ];
    for (seats, current, want) in cases {
        let account = Account { seats, ..acct() };
        assert_eq!(
            assign_owner(&policy(), &account, current).as_deref(),
            want,
            "seats {seats} current {current:?}"
        );
    }
    let no_pools = Policy::default();
    assert_eq!(assign_owner(&no_pools, &acct(), None), None);
    let only_smb = Policy {
        owners: OwnerPools {
            enterprise: vec![],
            self_serve: vec!["ssr@example.com".into()],
        },
        ..Policy::default()
    };
    assert_eq!(
        assign_owner(
            &only_smb,
            &Account {
                seats: 500,
                ..acct()
            },
            None
        )
        .as_deref(),
        Some("ssr@example.com")
    );
}

/// Run `route` over a sequence of days, feeding each day's memory into the next.
fn timeline(days: &[(u32, Account)]) -> Vec<Route> {
    let mut prior: Option<Memory> = None;
    let mut out = Vec::new();
    for (d, account) in days {
        let r = route(&policy(), account, prior.as_ref(), day(*d));
        prior = Some(r.memory.clone());
        out.push(r);
    }
    out
}

#[test]
fn green_creates_one_task_per_activation() {
    let green = Account {
        tier: Tier::Green,
        ..acct()
    };
    let yellow = acct();
    let routes = timeline(&[
        (16, yellow.clone()),
        (17, green.clone()),
        (18, green.clone()),
        (19, yellow.clone()),
        (20, green.clone()),
    ]);
    let tasks: Vec<Option<String>> = routes
        .iter()
        .map(|r| r.tasks.first().map(|t| t.key.clone()))
        .collect();
    assert_eq!(
        tasks,
        vec![
            None,
            Some("acct_1:sub_1:2026-11-17".into()),
            None,
            None,
            Some("acct_1:sub_1:2026-11-20".into()),
        ]
    );
    let open: Vec<Vec<String>> = routes
        .iter()
        .map(|r| r.memory.open.iter().map(|t| t.key.clone()).collect())
        .collect();
    assert_eq!(
        open,
        vec![
            vec![],
            vec!["acct_1:sub_1:2026-11-17".to_string()],
            vec!["acct_1:sub_1:2026-11-17".to_string()],
            vec!["acct_1:sub_1:2026-11-17".to_string()],
            vec![
                "acct_1:sub_1:2026-11-17".to_string(),
                "acct_1:sub_1:2026-11-20".to_string()
            ],
        ],
        "a task stays wanted for a week after it fired, so one HubSpot missed is sent again"
    );
    let t = &routes[1].tasks[0];
    assert_eq!(t.owner.as_deref(), Some("ssr@example.com"));
    assert_eq!(t.due, day(18));
    assert_eq!(routes[2].memory.green_since, Some(day(17)));
}

#[test]
fn customers_and_disqualified_get_no_task() {
    let paid = Account {
        tier: Tier::Green,
        subscription_status: Some("active".into()),
        mrr: 100,
        ..acct()
    };
    assert_eq!(route(&policy(), &paid, None, day(20)).tasks, vec![]);
    let dq = Account {
        tier: Tier::Green,
        persona_disqualified: Some("spam".into()),
        ..acct()
    };
    assert_eq!(route(&policy(), &dq, None, day(20)).tasks, vec![]);
}

#[test]
fn a_trial_lifecycle_end_to_end() {
    let routes = timeline(&[
        (
            10,
            Account {
                trial_status: TrialStatus::None,
                trial_id: None,
                trial_start: None,
                ever_active: false,
                ..acct()
            },
        ),
        (
            12,
            Account {
                trial_status: TrialStatus::None,
                trial_id: None,
                trial_start: None,
                ..acct()
            },
        ),
        (
            15,
            Account {
                tier: Tier::Red,
                ..acct()
            },
        ),
        (
            18,
            Account {
                tier: Tier::Green,
                ..acct()
            },
        ),
        (
            23,
            Account {
                tier: Tier::Yellow,
                ..acct()
            },
        ), // day 8, not Green
        (
            25,
            Account {
                tier: Tier::Green,
                ..acct()
            },
        ), // stays sales-assisted
        (
            29,
            Account {
                trial_status: TrialStatus::Ended,
                tier: Tier::Green,
                ..acct()
            },
        ),
        (
            30,
            Account {
                trial_status: TrialStatus::Ended,
                subscription_status: Some("active".into()),
                mrr: 9900,
                ..acct()
            },
        ),
        (
            30,
            Account {
                trial_status: TrialStatus::Ended,
                subscription_status: Some("canceled".into()),
                mrr: 0,
                tier: Tier::Red,
                ..acct()
            },
        ),
    ]);
    let got: Vec<(&str, &str, Option<&str>)> = routes
        .iter()
        .map(|r| {
            (
                r.motion.as_str(),
                r.lead_stage.as_str(),
                r.deal_stage.map(DealStage::as_str),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("self_serve", "new", None),
            ("self_serve", "interested", None),
            ("self_serve", "trial_red", Some("trial_self_served")),
            ("self_serve", "trial_green", Some("trial_self_served")),
            (
                "sales_assisted",
                "trial_yellow",
                Some("trial_sales_assisted")
            ),
            (
                "sales_assisted",
                "trial_green",
                Some("trial_sales_assisted")
            ),
            (
                "sales_assisted",
                "trial_ended",
                Some("trial_sales_assisted")
            ),
            ("customer", "self_checked_out", Some("closed_won")),
            // Churned and Red afterwards: the lifecycle and the won deal stay.
            ("customer", "self_checked_out", Some("closed_won")),
        ]
    );
}

#[test]
fn a_new_trial_opens_a_new_deal_after_disqualification() {
    let first = Account {
        trial_status: TrialStatus::Ended,
        tier: Tier::Red,
        ..acct()
    };
    let second = Account {
        trial_id: Some("sub_2".into()),
        trial_start: Some(day(25)),
        tier: Tier::Red,
        ..acct()
    };
    let routes = timeline(&[(20, first), (26, second)]);
    assert_eq!(routes[0].lead_stage, LeadStage::Disqualified);
    assert_eq!(routes[0].deal_stage, Some(DealStage::ClosedLost));
    assert_eq!(routes[1].lead_stage, LeadStage::TrialRed);
    assert_eq!(routes[1].deal_stage, Some(DealStage::TrialSelfServed));
    assert_eq!(routes[1].motion, Motion::SelfServe);
}

#[test]
fn held_back_stage_is_explained() {
    let routes = timeline(&[
        (
            20,
            Account {
                trial_status: TrialStatus::Ended,
                tier: Tier::Yellow,
                ..acct()
            },
        ),
        (
            21,
            Account {
                trial_status: TrialStatus::Live,
                tier: Tier::Yellow,
                trial_id: Some("sub_1".into()),
                ..acct()
            },
        ),
    ]);
    // Same trial live again = extended: reopens.
    assert_eq!(routes[1].lead_stage, LeadStage::TrialYellow);
    let no_trial = Account {
        trial_status: TrialStatus::None,
        trial_id: None,
        trial_start: None,
        ..acct()
    };
    let routes = timeline(&[
        (20, no_trial.clone()),
        (
            21,
            Account {
                ever_active: false,
                ..no_trial
            },
        ),
    ]);
    assert_eq!(routes[1].lead_stage, LeadStage::Interested);
    assert!(
        routes[1]
            .reason
            .contains("lead stays interested (not back to new)"),
        "{}",
        routes[1].reason
    );
}

/// A person's value in HubSpot, first seen on the 18th.
fn by_person<S>(stage: S) -> HeldStage<S> {
    HeldStage {
        stage,
        by_person: true,
        since: Some(day(18)),
    }
}

/// pqlsync's own value, read back unchanged.
fn ours<S>(stage: S) -> HeldStage<S> {
    HeldStage {
        stage,
        by_person: false,
        since: None,
    }
}

fn deal(stage: HeldStage<DealStage>) -> Held {
    Held {
        deals: vec![("sub_1".into(), stage)],
        ..Held::default()
    }
}

fn lead(stage: HeldStage<LeadStage>) -> Held {
    Held {
        lead: Some(stage),
        ..Held::default()
    }
}

/// (case, account, what HubSpot holds, motion, lead stage, deal stage, reason contains)
type HeldCase = (
    &'static str,
    Account,
    Held,
    Motion,
    LeadStage,
    Option<DealStage>,
    &'static str,
);

#[test]
fn what_a_person_changed_in_hubspot_wins() {
    let paid = Account {
        subscription_status: Some("active".into()),
        mrr: 500,
        ..acct()
    };
    let green = Account {
        tier: Tier::Green,
        pql_score: 90,
        ..acct()
    };
    let enterprise = Account {
        seats: 80,
        ..acct()
    };
    let ended_red = Account {
        trial_status: TrialStatus::Ended,
        tier: Tier::Red,
        ..acct()
    };
    let new_trial = Account {
        trial_id: Some("sub_2".into()),
        trial_start: Some(day(19)),
        ..acct()
    };
    let cases: Vec<HeldCase> = vec![
        (
            "nothing held",
            acct(),
            Held::default(),
            Motion::SelfServe,
            LeadStage::TrialYellow,
            Some(DealStage::TrialSelfServed),
            "self-serve",
        ),
        (
            "our own stage read back changes nothing",
            acct(),
            deal(ours(DealStage::TrialSelfServed)),
            Motion::SelfServe,
            LeadStage::TrialYellow,
            Some(DealStage::TrialSelfServed),
            "self-serve",
        ),
        (
            "a deal a rep moved to Sales-Assisted",
            green.clone(),
            deal(by_person(DealStage::TrialSalesAssisted)),
            Motion::SalesAssisted,
            LeadStage::TrialGreen,
            Some(DealStage::TrialSalesAssisted),
            "moved to Sales-Assisted in HubSpot by a person (seen 2026-11-18)",
        ),
        (
            "Sales-Assisted by a person, and by seats: the person's reason",
            enterprise,
            deal(by_person(DealStage::TrialSalesAssisted)),
            Motion::SalesAssisted,
            LeadStage::TrialYellow,
            Some(DealStage::TrialSalesAssisted),
            "by a person",
        ),
        (
            "a deal a rep closed lost stays lost",
            green.clone(),
            deal(by_person(DealStage::ClosedLost)),
            Motion::Disqualified,
            LeadStage::Disqualified,
            Some(DealStage::ClosedLost),
            "closed lost in HubSpot by a person",
        ),
        (
            "a lost deal is still won by a purchase",
            paid.clone(),
            deal(by_person(DealStage::ClosedLost)),
            Motion::Customer,
            LeadStage::SelfCheckedOut,
            Some(DealStage::ClosedWon),
            "paid subscription",
        ),
        (
            "a lead a rep disqualified stays disqualified",
            green,
            lead(by_person(LeadStage::Disqualified)),
            Motion::Disqualified,
            LeadStage::Disqualified,
            Some(DealStage::ClosedLost),
            "disqualified in HubSpot by a person",
        ),
        (
            "a disqualified lead still checks out when the account pays",
            paid,
            lead(by_person(LeadStage::Disqualified)),
            Motion::Customer,
            LeadStage::SelfCheckedOut,
            Some(DealStage::ClosedWon),
            "paid subscription",
        ),
        (
            "a trial started after the disqualification reopens the lead",
            new_trial,
            lead(by_person(LeadStage::Disqualified)),
            Motion::SelfServe,
            LeadStage::TrialYellow,
            Some(DealStage::TrialSelfServed),
            "self-serve",
        ),
        (
            "a deal of an earlier trial says nothing about this one",
            Account {
                trial_id: Some("sub_9".into()),
                ..acct()
            },
            deal(by_person(DealStage::ClosedLost)),
            Motion::SelfServe,
            LeadStage::TrialYellow,
            Some(DealStage::TrialSelfServed),
            "self-serve",
        ),
        (
            "a Sales-Assisted deal of a trial that ended Red is disqualified by the rules",
            ended_red,
            deal(by_person(DealStage::TrialSalesAssisted)),
            Motion::Disqualified,
            LeadStage::Disqualified,
            Some(DealStage::ClosedLost),
            "trial ended Red",
        ),
        (
            "a lead a rep moved on stays there (stages move forward from HubSpot's)",
            acct(),
            lead(by_person(LeadStage::TrialEnded)),
            Motion::SelfServe,
            LeadStage::TrialEnded,
            Some(DealStage::TrialSelfServed),
            "lead stays trial_ended",
        ),
    ];
    for (case, account, held, motion, lead_stage, deal_stage, why) in cases {
        let r = route_with(&policy(), &account, None, Some(&held), day(20));
        assert_eq!(r.motion, motion, "{case}: {}", r.reason);
        assert_eq!(r.lead_stage, lead_stage, "{case}");
        assert_eq!(r.deal_stage, deal_stage, "{case}");
        assert!(r.reason.contains(why), "{case}: {}", r.reason);
    }
}

#[test]
fn the_owner_hubspot_shows_is_the_accounts_owner() {
    let prior = route(&policy(), &acct(), None, day(19)).memory;
    assert_eq!(prior.owner.as_deref(), Some("ssr@example.com"));
    let held = Held {
        owner: Some("manager-pick@example.com".into()),
        ..Held::default()
    };
    let r = route_with(&policy(), &acct(), Some(&prior), Some(&held), day(20));
    assert_eq!(r.owner.as_deref(), Some("manager-pick@example.com"));
    assert_eq!(r.memory.owner.as_deref(), Some("manager-pick@example.com"));
    // No owner in HubSpot: the memory's, else the pool's.
    let r = route_with(
        &policy(),
        &acct(),
        Some(&prior),
        Some(&Held::default()),
        day(20),
    );
    assert_eq!(r.owner.as_deref(), Some("ssr@example.com"));
}

#[test]
fn no_trial_task_fires_for_a_trial_the_reps_lost_or_disqualified() {
    let policy = Policy {
        playbooks: vec![Playbook::green(1), Playbook::new(Trigger::HotPql, 1)],
        ..policy()
    };
    let green = Account {
        tier: Tier::Green,
        pql_score: 95,
        ..acct()
    };
    let fresh = route_with(&policy, &green, None, None, day(20));
    assert!(
        !fresh.tasks.is_empty(),
        "the triggers fire without a person's decision"
    );
    for held in [
        deal(by_person(DealStage::ClosedLost)),
        lead(by_person(LeadStage::Disqualified)),
    ] {
        let r = route_with(&policy, &green, None, Some(&held), day(20));
        assert_eq!(r.tasks, vec![], "{held:?}");
        assert!(
            r.checks.iter().all(|c| !c.fired),
            "{held:?}: {:?}",
            r.checks
        );
    }
}

/// Yesterday's decision for `acct()`'s trial: self-serve and Yellow, nothing under way.
fn yesterday() -> Memory {
    Memory {
        as_of: day(19),
        motion: Motion::SelfServe,
        owner: None,
        lead_stage: LeadStage::TrialYellow,
        deal_stage: Some(DealStage::TrialSelfServed),
        trial_id: Some("sub_1".into()),
        tier: Tier::Yellow,
        green_since: None,
        hot_since: None,
        last: BTreeMap::new(),
        open: Vec::new(),
    }
}

/// Whether `prior` decided `account`'s current trial, as `route_with` reads it.
fn same_trial(account: &Account, prior: Option<&Memory>) -> bool {
    prior.is_some_and(|p| p.trial_id == account.trial_id)
}

#[test]
fn stages_start_from_hubspot_else_the_memory() {
    use DealStage::*;
    use LeadStage::*;
    let earlier_trial = Memory {
        trial_id: Some("sub_0".into()),
        lead_stage: Disqualified,
        deal_stage: Some(ClosedLost),
        ..yesterday()
    };
    let lost = Memory {
        lead_stage: Disqualified,
        deal_stage: Some(ClosedLost),
        ..yesterday()
    };
    let later_trial = Account {
        trial_start: Some(day(19)),
        ..acct()
    };
    let no_trial = Account {
        trial_status: TrialStatus::None,
        trial_id: None,
        trial_start: None,
        ..acct()
    };
    // (case, account, prior, held, lead, lead target, deal)
    type Case = (
        &'static str,
        Account,
        Option<Memory>,
        Option<Held>,
        LeadStage,
        LeadStage,
        Option<DealStage>,
    );
    let cases: Vec<Case> = vec![
        (
            "a first decision",
            acct(),
            None,
            None,
            TrialYellow,
            TrialYellow,
            Some(TrialSelfServed),
        ),
        (
            "the memory's later stages stand within the trial",
            acct(),
            Some(lost),
            None,
            Disqualified,
            TrialYellow,
            Some(ClosedLost),
        ),
        (
            "a new trial reopens the lead and opens a new deal",
            acct(),
            Some(earlier_trial),
            None,
            TrialYellow,
            TrialYellow,
            Some(TrialSelfServed),
        ),
        (
            "pqlsync's Trial Ended in HubSpot reopens for a trial live again",
            acct(),
            Some(yesterday()),
            Some(lead(ours(TrialEnded))),
            TrialYellow,
            TrialYellow,
            Some(TrialSelfServed),
        ),
        (
            "a person's Trial Ended stands while the trial is live",
            acct(),
            Some(yesterday()),
            Some(lead(by_person(TrialEnded))),
            TrialEnded,
            TrialYellow,
            Some(TrialSelfServed),
        ),
        (
            "a person's disqualification from before this trial reopens",
            later_trial,
            Some(yesterday()),
            Some(lead(by_person(Disqualified))),
            TrialYellow,
            TrialYellow,
            Some(TrialSelfServed),
        ),
        (
            "HubSpot's deal stage wins over the memory's",
            acct(),
            Some(yesterday()),
            Some(deal(ours(TrialSalesAssisted))),
            TrialYellow,
            TrialYellow,
            Some(TrialSalesAssisted),
        ),
        (
            "no trial, no deal",
            no_trial,
            None,
            None,
            Interested,
            Interested,
            None,
        ),
    ];
    for (case, account, prior, held, lead, lead_target, deal) in cases {
        let same = same_trial(&account, prior.as_ref());
        assert_eq!(
            stages(
                Motion::SelfServe,
                &account,
                prior.as_ref(),
                held.as_ref(),
                same
            ),
            Stages {
                lead,
                lead_target,
                deal
            },
            "{case}"
        );
    }
}

#[test]
fn a_held_back_lead_is_explained() {
    let stages = |lead, lead_target| Stages {
        lead,
        lead_target,
        deal: None,
    };
    assert_eq!(
        stages(LeadStage::TrialGreen, LeadStage::TrialGreen).held_back(),
        None
    );
    assert_eq!(
        stages(LeadStage::TrialEnded, LeadStage::TrialYellow).held_back(),
        Some("; lead stays trial_ended (not back to trial_yellow)".into())
    );
}

#[test]
fn green_activations_and_hot_crossings_carry_on_while_they_last() {
    let green = Account {
        tier: Tier::Green,
        ..acct()
    };
    let hot = Account {
        pql_score: 85,
        ..acct()
    };
    let was_green = Memory {
        tier: Tier::Green,
        green_since: Some(day(17)),
        ..yesterday()
    };
    let was_hot = Memory {
        hot_since: Some(day(17)),
        ..yesterday()
    };
    let earlier_trial = |m: Memory| Memory {
        trial_id: Some("sub_0".into()),
        ..m
    };
    let none = (None, false);
    // (case, motion, account, prior, Green since and continuing, hot since and continuing)
    type Case = (
        &'static str,
        Motion,
        Account,
        Option<Memory>,
        (Option<NaiveDate>, bool),
        (Option<NaiveDate>, bool),
    );
    let cases: Vec<Case> = vec![
        (
            "Yellow and below the line",
            Motion::SelfServe,
            acct(),
            None,
            none,
            none,
        ),
        (
            "turns Green today",
            Motion::SelfServe,
            green.clone(),
            Some(yesterday()),
            (Some(day(20)), false),
            none,
        ),
        (
            "stays Green",
            Motion::SalesAssisted,
            green.clone(),
            Some(was_green.clone()),
            (Some(day(17)), true),
            none,
        ),
        (
            "Green at once in a new trial",
            Motion::SelfServe,
            green.clone(),
            Some(earlier_trial(was_green.clone())),
            (Some(day(20)), false),
            none,
        ),
        (
            "no longer Green",
            Motion::SelfServe,
            acct(),
            Some(was_green),
            none,
            none,
        ),
        (
            "reaches the hot line",
            Motion::SelfServe,
            hot.clone(),
            Some(yesterday()),
            none,
            (Some(day(20)), false),
        ),
        (
            "stays hot",
            Motion::SelfServe,
            hot.clone(),
            Some(was_hot.clone()),
            none,
            (Some(day(17)), true),
        ),
        (
            "a crossing carries on into a new trial",
            Motion::SelfServe,
            hot.clone(),
            Some(earlier_trial(was_hot.clone())),
            none,
            (Some(day(17)), true),
        ),
        (
            "drops below the line",
            Motion::SelfServe,
            Account {
                pql_score: 84,
                ..acct()
            },
            Some(was_hot),
            none,
            none,
        ),
        (
            "a customer has none",
            Motion::Customer,
            Account {
                pql_score: 95,
                ..green.clone()
            },
            None,
            none,
            none,
        ),
        (
            "a disqualified account has none",
            Motion::Disqualified,
            Account {
                pql_score: 95,
                ..green
            },
            None,
            none,
            none,
        ),
    ];
    for (
        case,
        motion,
        account,
        prior,
        (green_since, green_continuing),
        (hot_since, hot_continuing),
    ) in cases
    {
        let same = same_trial(&account, prior.as_ref());
        assert_eq!(
            streaks(
                &Thresholds::default(),
                &account,
                motion,
                prior.as_ref(),
                same,
                day(20)
            ),
            Streaks {
                green_since,
                green_continuing,
                hot_since,
                hot_continuing,
            },
            "{case}"
        );
    }
}
