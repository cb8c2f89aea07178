-- Distinct active users in the 14 days before the current window (days 14 to 27 before the
-- scoring day): the baseline `active_users_growth_14d` compares the window with. Each
-- (account, user) is grouped once before counting (see activity_14d.sql for why not
-- count(DISTINCT …)).
WITH users AS (
    SELECT account_id, user_id
    FROM user_days
    WHERE day >= $as_of_date - INTERVAL '27 days'
      AND day <= $as_of_date - INTERVAL '14 days'
      AND user_id IS NOT NULL
    GROUP BY account_id, user_id
)
SELECT account_id, count(*) AS active_users_prev_14d
FROM users
GROUP BY account_id
