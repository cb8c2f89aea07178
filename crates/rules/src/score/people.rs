//! People within an account: each user's 0–100 engagement score from `[[scoring.user]]`
//! signals over `user_features` columns (the same [`Signal`]s, defaults and validation as fit
//! and usage), the account's **champion** (its most engaged user) and its **power users**
//! (the most active users who together make up most of its activity, `[scoring.people]`).
//!
//! An account's score says whether to call; these say whom. Pure functions over plain rows,
//! table-tested at their boundaries: ties never depend on the order rows arrive in, which
//! parallel execution does not fix, so a champion does not flip from run to run.

use chrono::NaiveDate;
use serde::Deserialize;

use super::config::{PeopleFile, SignalFile, signal};
use super::{Fired, Signal, join, sum_signals};
use pqlsync_core::setting::Invalid;
use pqlsync_core::value::Value;

/// The user engagement model, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct People {
    pub signals: Vec<Signal>,
    pub power_share: f64,
    pub power_max: usize,
}

pub const DEFAULT_POWER_SHARE: f64 = 0.8;
pub const DEFAULT_POWER_MAX: usize = 3;

const DEFAULTS: &str = include_str!("people_defaults.toml");

/// The built-in user signals, for an absent `[[scoring.user]]`.
pub fn default_user_signals() -> Vec<SignalFile> {
    #[derive(Deserialize)]
    struct Defaults {
        user: Vec<SignalFile>,
    }
    toml::from_str::<Defaults>(DEFAULTS)
        .expect("built-in people_defaults.toml parses")
        .user
}

/// `[[scoring.user]]` (the built-in list when absent) and `[scoring.people]`, validated.
pub fn people(
    user: Option<&[SignalFile]>,
    defaults: Option<&[SignalFile]>,
    file: Option<&PeopleFile>,
) -> Result<People, Invalid> {
    let signals = user
        .or(defaults)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, s)| signal(&format!("scoring.user[{i}]"), s))
        .collect::<Result<Vec<_>, _>>()?;
    let power_share = file
        .and_then(|f| f.power_share)
        .unwrap_or(DEFAULT_POWER_SHARE);
    if !(power_share > 0.0 && power_share <= 1.0) {
        return Err(Invalid::new(
            "scoring.people.power_share",
            format!(
                "must be above 0 and at most 1 (a share of the account's events), got {power_share}"
            ),
        ));
    }
    let power_max = file.and_then(|f| f.power_max).unwrap_or(DEFAULT_POWER_MAX);
    if power_max == 0 {
        return Err(Invalid::new(
            "scoring.people.power_max",
            "must be at least 1; to flag no power users, leave the contact property unused",
        ));
    }
    Ok(People {
        signals,
        power_share,
        power_max,
    })
}

/// One user's engagement score and the signals that explain it.
#[derive(Debug, Clone, PartialEq)]
pub struct Engagement {
    pub score: u8,
    pub signals: Vec<Fired>,
}

impl Engagement {
    /// The explanation as one line, signals separated by `; `.
    pub fn signals_text(&self) -> String {
        join(&self.signals)
    }
}

impl People {
    /// Every `user_features` column the signals read, for schema validation.
    pub fn features(&self) -> impl Iterator<Item = &str> {
        self.signals.iter().map(|s| s.condition.feature.as_str())
    }

    /// Score one user; `get` returns the user's value for a `user_features` column.
    pub fn engagement<'a>(&self, get: impl Fn(&str) -> &'a Value) -> Engagement {
        let (score, signals) = sum_signals(&self.signals, &get);
        Engagement { score, signals }
    }

    /// Which of an account's users are power users, in `users`' order. Users with events,
    /// most events first (ties by user id), are taken until they make `power_share` of the
    /// account's events, at most `power_max` of them.
    pub fn power_users(&self, users: &[Person<'_>]) -> Vec<bool> {
        let total: i64 = users.iter().map(|u| u.events.max(0)).sum();
        let mut flags = vec![false; users.len()];
        if total == 0 {
            return flags;
        }
        let mut order: Vec<usize> = (0..users.len()).filter(|&i| users[i].events > 0).collect();
        order.sort_by(|&a, &b| {
            (users[b].events, users[a].user_id).cmp(&(users[a].events, users[b].user_id))
        });
        let mut covered = 0i64;
        for i in order.into_iter().take(self.power_max) {
            flags[i] = true;
            covered += users[i].events;
            // Whole events: 8 of 10 events is 0.8 exactly, not a float a hair below it.
            if covered as f64 >= self.power_share * total as f64 - 1e-9 {
                break;
            }
        }
        flags
    }
}

/// What choosing the champion and the power users reads of one user of an account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Person<'a> {
    pub user_id: &'a str,
    pub score: u8,
    /// Events in the window.
    pub events: i64,
    pub active_days: i64,
    /// The user's last active day (days since the epoch), if any.
    pub last_active: Option<i32>,
}

/// How users rank for champion: engagement, then events, active days, recency, and the
/// smaller user id, so that no tie depends on the order rows arrive in.
type Rank<'a> = (u8, i64, i64, Option<i32>, std::cmp::Reverse<&'a str>);

fn rank<'a>(u: &Person<'a>) -> Rank<'a> {
    (
        u.score,
        u.events,
        u.active_days,
        u.last_active,
        std::cmp::Reverse(u.user_id),
    )
}

/// The index of the best-ranked user with any events in the window, other than `except`.
fn best(users: &[Person<'_>], except: Option<usize>) -> Option<usize> {
    (0..users.len())
        .filter(|&i| Some(i) != except && users[i].events > 0)
        .max_by(|&a, &b| rank(&users[a]).cmp(&rank(&users[b])))
}

/// The index of the account's champion: its most engaged user with any events in the window;
/// ties go to more events, then more active days, then the more recently active, then the
/// smaller user id. `None` when no user was active.
pub fn champion(users: &[Person<'_>]) -> Option<usize> {
    best(users, None)
}

/// Why the champion is the champion, in words, for `explain`: what it won on against the
/// runner-up.
pub fn why_champion(users: &[Person<'_>], champion: usize) -> String {
    let c = &users[champion];
    let Some(r) = best(users, Some(champion)).map(|i| &users[i]) else {
        return format!("{} is the only active user", c.user_id);
    };
    let on = if c.score != r.score {
        format!("engagement {} against {}", c.score, r.score)
    } else if c.events != r.events {
        format!(
            "same engagement {}, more events ({} against {})",
            c.score, c.events, r.events
        )
    } else if c.active_days != r.active_days {
        format!(
            "same engagement and events, more active days ({} against {})",
            c.active_days, r.active_days
        )
    } else if c.last_active != r.last_active {
        "same engagement, events and active days, active more recently".to_string()
    } else {
        "tied on everything; the smaller user id wins".to_string()
    };
    format!("{} over {}: {on}", c.user_id, r.user_id)
}

/// A key action a contact shows: its `user_features` column, the contact property it is synced
/// to, and how it reads in a task ("invited 2 teammates").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAction {
    pub column: &'static str,
    pub property: &'static str,
    /// The contact property's label.
    pub label: &'static str,
    pub verb: &'static str,
    pub one: &'static str,
    pub many: &'static str,
}

/// The key actions, in the order they are shown. A column `user_features` does not have is
/// left out (`None` in [`User::actions`]), never written as 0.
pub const KEY_ACTIONS: &[KeyAction] = &[
    KeyAction {
        column: "teammates_invited_14d",
        property: "plg_teammates_invited_14d",
        label: "PLG teammates invited (14 days)",
        verb: "invited",
        one: "teammate",
        many: "teammates",
    },
    KeyAction {
        column: "integrations_connected_14d",
        property: "plg_integrations_connected_14d",
        label: "PLG integrations connected (14 days)",
        verb: "connected",
        one: "integration",
        many: "integrations",
    },
    KeyAction {
        column: "paid_feature_events_14d",
        property: "plg_paid_feature_events_14d",
        label: "PLG paid-feature events (14 days)",
        verb: "used paid features",
        one: "time",
        many: "times",
    },
    KeyAction {
        column: "pricing_page_views_14d",
        property: "plg_pricing_page_views_14d",
        label: "PLG pricing page views (14 days)",
        verb: "viewed pricing",
        one: "time",
        many: "times",
    },
    KeyAction {
        column: "limit_reached_14d",
        property: "plg_limit_reached_14d",
        label: "PLG plan limits reached (14 days)",
        verb: "hit a plan limit",
        one: "time",
        many: "times",
    },
];

/// One user of one account, scored: a row of `user_features` with its engagement.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub user_id: String,
    /// The contact's email (from `account_contacts`), if the user was identified with one.
    pub email: Option<String>,
    pub engagement: Engagement,
    /// Events and active days in the window.
    pub events: i64,
    pub active_days: i64,
    pub last_active: Option<NaiveDate>,
    /// [`KEY_ACTIONS`]' counts, in order.
    pub actions: Vec<Option<i64>>,
    /// One of the few users who make most of the account's activity.
    pub power: bool,
}

impl User {
    fn person(&self) -> Person<'_> {
        Person {
            user_id: &self.user_id,
            score: self.engagement.score,
            events: self.events,
            active_days: self.active_days,
            last_active: self.last_active.map(days_since_epoch),
        }
    }

    /// The key actions the user took in the window, in words: "invited 2 teammates, connected
    /// 1 integration"; empty when none.
    pub fn actions_text(&self) -> String {
        KEY_ACTIONS
            .iter()
            .zip(&self.actions)
            .filter_map(|(a, n)| {
                let n = (*n).filter(|n| *n > 0)?;
                Some(format!(
                    "{} {n} {}",
                    a.verb,
                    if n == 1 { a.one } else { a.many }
                ))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The count of one key action, by its column.
    pub fn action(&self, column: &str) -> Option<i64> {
        let i = KEY_ACTIONS.iter().position(|a| a.column == column)?;
        self.actions.get(i).copied().flatten()
    }
}

fn days_since_epoch(day: NaiveDate) -> i32 {
    (day - NaiveDate::default()).num_days() as i32
}

/// An account's users, most engaged first, with its champion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Team {
    pub users: Vec<User>,
    /// The index in `users` of the champion.
    pub champion: Option<usize>,
    /// Why the champion is the champion (what it won on against the runner-up).
    pub why_champion: Option<String>,
}

impl Team {
    pub fn champion(&self) -> Option<&User> {
        self.champion.map(|i| &self.users[i])
    }

    /// The users with an email (contacts) and without (scored, not synced).
    pub fn without_email(&self) -> usize {
        self.users.iter().filter(|u| u.email.is_none()).count()
    }
}

impl People {
    /// Rank an account's scored users and choose its champion and power users. The champion
    /// is chosen among the users with an email (one pqlsync has no address for cannot be a
    /// rep's contact), its last tie-break being the smaller email. Power users are chosen
    /// among all, since they describe the activity.
    pub fn team(&self, mut users: Vec<User>) -> Team {
        users.sort_by(|a, b| rank(&b.person()).cmp(&rank(&a.person())));
        let persons: Vec<Person<'_>> = users.iter().map(User::person).collect();
        let power = self.power_users(&persons);
        let reachable: Vec<usize> = (0..users.len())
            .filter(|&i| users[i].email.is_some())
            .collect();
        // Candidates go by their email: the last tie-break then means the same person whatever
        // ids the export gives users (Segment's user ids, PostHog's person UUIDs), and the
        // explanation names whom a rep would call.
        let candidates: Vec<Person<'_>> = reachable
            .iter()
            .map(|&i| Person {
                user_id: users[i]
                    .email
                    .as_deref()
                    .expect("reachable users have an email"),
                ..persons[i]
            })
            .collect();
        let chosen = champion(&candidates);
        let why = chosen.map(|j| why_champion(&candidates, j));
        let chosen = chosen.map(|j| reachable[j]);
        for (user, power) in users.iter_mut().zip(power) {
            user.power = power;
        }
        Team {
            users,
            champion: chosen,
            why_champion: why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(user_id: &str, score: u8, events: i64, active_days: i64, last: i32) -> Person<'_> {
        Person {
            user_id,
            score,
            events,
            active_days,
            last_active: Some(last),
        }
    }

    fn model(share: f64, max: usize) -> People {
        People {
            signals: Vec::new(),
            power_share: share,
            power_max: max,
        }
    }

    #[test]
    fn the_champion_is_the_most_engaged_and_ties_never_depend_on_row_order() {
        let cases: &[(&str, Vec<Person<'_>>, Option<&str>)] = &[
            ("no users", vec![], None),
            ("nobody active", vec![person("a", 50, 0, 0, 1)], None),
            (
                "score first",
                vec![person("a", 40, 90, 9, 9), person("b", 41, 1, 1, 1)],
                Some("b"),
            ),
            (
                "then events",
                vec![person("a", 40, 9, 1, 1), person("b", 40, 10, 1, 1)],
                Some("b"),
            ),
            (
                "then days",
                vec![person("a", 40, 9, 3, 1), person("b", 40, 9, 2, 9)],
                Some("a"),
            ),
            (
                "then recency",
                vec![person("a", 40, 9, 3, 5), person("b", 40, 9, 3, 6)],
                Some("b"),
            ),
            (
                "then the smaller id",
                vec![person("b", 40, 9, 3, 6), person("a", 40, 9, 3, 6)],
                Some("a"),
            ),
            (
                "an inactive high score loses",
                vec![person("a", 90, 0, 0, 1), person("b", 5, 1, 1, 1)],
                Some("b"),
            ),
        ];
        for (name, users, want) in cases {
            let got = champion(users).map(|i| users[i].user_id);
            assert_eq!(got, *want, "{name}");
            let mut reversed = users.clone();
            reversed.reverse();
            let got = champion(&reversed).map(|i| reversed[i].user_id);
            assert_eq!(got, *want, "{name}, rows reversed");
        }
    }

    #[test]
    fn power_users_cover_the_share_of_events_at_most_power_max() {
        let users = [
            person("a", 0, 50, 1, 1),
            person("b", 0, 30, 1, 1),
            person("c", 0, 20, 1, 1),
            person("d", 0, 0, 0, 1),
        ];
        let cases: &[(f64, usize, [bool; 4])] = &[
            (0.5, 3, [true, false, false, false]), // 50 of 100 is exactly the share
            (0.51, 3, [true, true, false, false]),
            (0.8, 3, [true, true, false, false]), // 80 of 100, exactly
            (0.81, 3, [true, true, true, false]),
            (1.0, 3, [true, true, true, false]), // never someone without events
            (1.0, 2, [true, true, false, false]), // the cap
        ];
        for (share, max, want) in cases {
            assert_eq!(
                model(*share, *max).power_users(&users),
                want,
                "share {share}, max {max}"
            );
        }
        // Equal events: the smaller user id first, whatever the row order.
        let tied = [person("z", 0, 5, 1, 1), person("y", 0, 5, 1, 1)];
        assert_eq!(model(0.5, 3).power_users(&tied), [false, true]);
        assert_eq!(
            model(0.5, 3).power_users(&[person("x", 0, 0, 0, 1)]),
            [false]
        );
    }

    #[test]
    fn why_the_champion_names_what_it_won_on() {
        let users = [person("ann", 40, 9, 3, 5), person("bob", 40, 12, 3, 5)];
        let c = champion(&users).unwrap();
        assert_eq!(
            why_champion(&users, c),
            "bob over ann: same engagement 40, more events (12 against 9)"
        );
        // Two runners-up tied on everything: the one named does not depend on row order.
        let three = [
            person("cy", 40, 9, 3, 5),
            person("ann", 50, 9, 3, 5),
            person("bo", 40, 9, 3, 5),
        ];
        let mut reversed = three;
        reversed.reverse();
        for users in [&three[..], &reversed[..]] {
            let c = champion(users).unwrap();
            assert_eq!(
                why_champion(users, c),
                "ann over bo: engagement 50 against 40"
            );
        }
        let alone = [person("ann", 10, 1, 1, 1)];
        assert_eq!(why_champion(&alone, 0), "ann is the only active user");
    }

    #[test]
    fn people_config_is_validated_with_the_key_at_fault() {
        let file = |share, max| PeopleFile {
            power_share: share,
            power_max: max,
        };
        let defaults = default_user_signals();
        let d = Some(defaults.as_slice());
        let ok = people(None, d, None).unwrap();
        assert!(!ok.signals.is_empty(), "built-in user signals");
        assert_eq!(
            (ok.power_share, ok.power_max),
            (DEFAULT_POWER_SHARE, DEFAULT_POWER_MAX)
        );
        for (f, key) in [
            (file(Some(0.0), None), "scoring.people.power_share"),
            (file(Some(1.5), None), "scoring.people.power_share"),
            (file(Some(f64::NAN), None), "scoring.people.power_share"),
            (file(None, Some(0)), "scoring.people.power_max"),
        ] {
            assert_eq!(people(None, d, Some(&f)).unwrap_err().key, key);
        }
        let bad: Vec<SignalFile> = toml::from_str::<toml::Table>(
            "[[user]]\nfeature = \"events_14d\"\nop = \">=\"\nvalue = 1\npoints = 0",
        )
        .unwrap()["user"]
            .clone()
            .try_into()
            .unwrap();
        assert_eq!(
            people(Some(&bad), d, None).unwrap_err().key,
            "scoring.user[0].points"
        );
    }

    #[test]
    fn engagement_is_the_clamped_sum_of_what_fired_with_its_explanation() {
        let defaults = default_user_signals();
        let p = people(None, Some(&defaults), None).unwrap();
        let values: Vec<(&str, Value)> = p.features().map(|f| (f, Value::Int(1000))).collect();
        let get = |name: &str| -> &Value { &values.iter().find(|(n, _)| *n == name).unwrap().1 };
        let e = p.engagement(get);
        assert!(e.score <= 100);
        let nothing = Value::Null;
        let idle = p.engagement(|_| &nothing);
        assert_eq!(idle.signals_text().is_empty(), idle.signals.is_empty());
        assert!(idle.score < e.score, "an idle user scores below a busy one");
    }

    fn user(id: &str, email: Option<&str>, score: u8, events: i64) -> User {
        User {
            user_id: id.into(),
            email: email.map(str::to_string),
            engagement: Engagement {
                score,
                signals: vec![],
            },
            events,
            active_days: 1,
            last_active: None,
            actions: vec![Some(2), Some(1), None, Some(0), Some(0)],
            power: false,
        }
    }

    #[test]
    fn the_champion_has_an_email_and_the_team_is_ranked() {
        let team = model(0.8, 3).team(vec![
            user("c", Some("c@x.io"), 30, 5),
            user("anon", None, 90, 50),
            user("b", Some("b@x.io"), 60, 20),
        ]);
        let order: Vec<&str> = team.users.iter().map(|u| u.user_id.as_str()).collect();
        assert_eq!(order, ["anon", "b", "c"], "most engaged first");
        assert_eq!(
            team.champion().map(|u| u.user_id.as_str()),
            Some("b"),
            "the anonymous user outranks b but cannot be called"
        );
        assert_eq!(
            team.why_champion.as_deref(),
            Some("b@x.io over c@x.io: engagement 60 against 30")
        );
        // Tied on everything: the smaller email wins, whatever the user ids.
        let tied = model(0.8, 3).team(vec![
            user("a-id", Some("zed@x.io"), 50, 5),
            user("z-id", Some("amy@x.io"), 50, 5),
        ]);
        assert_eq!(
            tied.champion().and_then(|u| u.email.as_deref()),
            Some("amy@x.io")
        );
        let power: Vec<bool> = team.users.iter().map(|u| u.power).collect();
        assert_eq!(power, [true, true, false], "50 + 20 of 75 events ≥ 0.8");
        assert_eq!(team.without_email(), 1);
        assert_eq!(
            team.users[1].actions_text(),
            "invited 2 teammates, connected 1 integration"
        );
        assert_eq!(team.users[1].action("integrations_connected_14d"), Some(1));
        assert_eq!(team.users[1].action("paid_feature_events_14d"), None);
        let nobody = model(0.8, 3).team(vec![user("anon", None, 90, 50)]);
        assert_eq!((nobody.champion, nobody.why_champion), (None, None));
    }
}
