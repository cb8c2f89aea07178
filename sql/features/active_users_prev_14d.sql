-- Distinct active users in the 14 days before the current window, [$as_of - 28 days,
-- $as_of - 14 days): the baseline `active_users_growth_14d` compares the window with. Only the
-- account and user columns are read, and each (account, user) is grouped once before counting
-- (see activity_14d.sql for why not count(DISTINCT …)).
WITH users AS (
    SELECT account_id, user_id
    FROM stg_tracks
    WHERE event_at >= $as_of - INTERVAL '28 days'
      AND event_at < $as_of - INTERVAL '14 days'
      AND user_id IS NOT NULL
    GROUP BY account_id, user_id
)
SELECT account_id, count(*) AS active_users_prev_14d
FROM users
GROUP BY account_id
