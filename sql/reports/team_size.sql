-- team_size: activation by team size. One row per trial-start week (ISO week, Monday start,
-- UTC) and team size, over the trials of trial_outcomes. Team size: the distinct users with a
-- product event from the trial's start to its end (for a live trial, to the end of the as-of
-- day), bucketed 0 (nobody used the product), 1, 2, 3-4, 5-9 and 10+. converted_paid_30d and
-- trial_to_paid_30d_rate are as cohorts defines them: a trial whose team grows converts more
-- often where the rate rises with the size. median_days_to_green: over the bucket's trials that
-- reached Green.
WITH outcome AS (
    SELECT
        account_id,
        cohort_week,
        trial_start,
        CASE WHEN trial_end IS NULL OR trial_end > $as_of THEN $as_of ELSE trial_end END AS until,
        converted_paid_30d,
        days_to_green
    FROM trial_outcomes
),
users AS (
    -- Each (trial, user) once, before counting: see activity_14d.sql for why not
    -- count(DISTINCT …).
    SELECT o.account_id, e.user_id
    FROM outcome AS o
    JOIN stg_tracks AS e
      ON e.account_id = o.account_id
     AND e.event_at >= o.trial_start
     AND e.event_at < o.until
    WHERE e.user_id IS NOT NULL
      AND e.event_at < $as_of
    GROUP BY 1, 2
),
team AS (
    SELECT account_id, count(*) AS active_users FROM users GROUP BY account_id
),
sized AS (
    SELECT
        o.cohort_week,
        CASE
            WHEN COALESCE(t.active_users, 0) = 0 THEN 0
            WHEN t.active_users = 1 THEN 1
            WHEN t.active_users = 2 THEN 2
            WHEN t.active_users <= 4 THEN 3
            WHEN t.active_users <= 9 THEN 5
            ELSE 10
        END                                             AS size_from,
        o.converted_paid_30d,
        o.days_to_green
    FROM outcome AS o
    LEFT JOIN team AS t ON t.account_id = o.account_id
)
SELECT
    cohort_week,
    CASE size_from
        WHEN 0 THEN '0'
        WHEN 1 THEN '1'
        WHEN 2 THEN '2'
        WHEN 3 THEN '3-4'
        WHEN 5 THEN '5-9'
        ELSE '10+'
    END                                                                   AS team_size,
    count(*)                                                              AS trials,
    count(*) FILTER (WHERE converted_paid_30d)                            AS converted_paid_30d,
    round(CAST(count(*) FILTER (WHERE converted_paid_30d) AS DOUBLE) / count(*), 4)
                                                                          AS trial_to_paid_30d_rate,
    median(CAST(days_to_green AS DOUBLE))                                 AS median_days_to_green
FROM sized
GROUP BY cohort_week, size_from
ORDER BY cohort_week, size_from
