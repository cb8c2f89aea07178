-- champion_actions: which key action of the trial's champion most often came before it paid.
-- The champion of a trial is its user with the most product events from the trial's start to
-- its payment (paid_at, for trials that converted) or to its end (to the end of the as-of day
-- while live), ties to the smaller user id: pqlsync's own champion, as of each day, also weighs
-- engagement, but the score history keeps accounts, not users, so this is the same person in
-- all but near ties. For each key action: how many converted trials' champions took it before
-- paying (converted_with_action, converted_share), how many of the other trials' champions
-- took it during the trial (others_share), and the ratio of the two shares (lift; null when
-- no other champion took it). Rows from the action that preceded conversion most often.
WITH outcome AS (
    SELECT
        account_id,
        trial_start,
        converted_paid,
        CASE
            WHEN converted_paid THEN paid_at
            WHEN trial_end IS NULL OR trial_end > $as_of THEN $as_of
            ELSE trial_end
        END AS until
    FROM trial_outcomes
),
per_user AS (
    SELECT
        o.account_id,
        e.user_id,
        count(*)                                                                      AS events,
        count(*) FILTER (WHERE e.event = 'teammate_invited') > 0                      AS invited_teammates,
        count(*) FILTER (WHERE e.event = 'integration_connected') > 0                 AS connected_an_integration,
        count(*) FILTER (WHERE e.event = 'paid_feature_used') > 0                     AS used_a_paid_feature,
        count(*) FILTER (WHERE e.event IN ('pricing_page_viewed', 'upgrade_page_viewed')) > 0
                                                                                      AS viewed_pricing,
        count(*) FILTER (WHERE e.event IN ('limit_reached', 'plan_limit_reached')) > 0 AS hit_a_plan_limit
    FROM outcome AS o
    JOIN stg_tracks AS e
      ON e.account_id = o.account_id
     AND e.event_at >= o.trial_start
     AND e.event_at < o.until
    WHERE e.user_id IS NOT NULL
      AND e.event_at < $as_of
    GROUP BY 1, 2
),
champion AS (
    SELECT
        p.account_id,
        o.converted_paid,
        last_value(p.invited_teammates ORDER BY p.events, p.user_id DESC)        AS invited_teammates,
        last_value(p.connected_an_integration ORDER BY p.events, p.user_id DESC) AS connected_an_integration,
        last_value(p.used_a_paid_feature ORDER BY p.events, p.user_id DESC)      AS used_a_paid_feature,
        last_value(p.viewed_pricing ORDER BY p.events, p.user_id DESC)           AS viewed_pricing,
        last_value(p.hit_a_plan_limit ORDER BY p.events, p.user_id DESC)         AS hit_a_plan_limit
    FROM per_user AS p
    JOIN outcome AS o ON o.account_id = p.account_id
    GROUP BY p.account_id, o.converted_paid
),
actions AS (
    SELECT 'invited teammates' AS action, converted_paid, invited_teammates AS took FROM champion
    UNION ALL SELECT 'connected an integration', converted_paid, connected_an_integration FROM champion
    UNION ALL SELECT 'used a paid feature', converted_paid, used_a_paid_feature FROM champion
    UNION ALL SELECT 'viewed pricing', converted_paid, viewed_pricing FROM champion
    UNION ALL SELECT 'hit a plan limit', converted_paid, hit_a_plan_limit FROM champion
),
counted AS (
    SELECT
        action,
        count(*) FILTER (WHERE converted_paid)                  AS converted_trials,
        count(*) FILTER (WHERE converted_paid AND took)         AS converted_with_action,
        count(*) FILTER (WHERE NOT converted_paid)              AS other_trials,
        count(*) FILTER (WHERE NOT converted_paid AND took)     AS others_with_action
    FROM actions
    GROUP BY action
)
SELECT
    action,
    converted_trials,
    converted_with_action,
    round(CAST(converted_with_action AS DOUBLE) / nullif(converted_trials, 0), 4) AS converted_share,
    other_trials,
    others_with_action,
    round(CAST(others_with_action AS DOUBLE) / nullif(other_trials, 0), 4)        AS others_share,
    round(
        (CAST(converted_with_action AS DOUBLE) / nullif(converted_trials, 0))
        / nullif(CAST(others_with_action AS DOUBLE) / nullif(other_trials, 0), 0),
        2
    )                                                                             AS lift
FROM counted
ORDER BY converted_with_action DESC, action
