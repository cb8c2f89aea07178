-- The account's current trial: from Stripe (the latest subscription with a trial) when there is
-- one, else from trial_started / trial_extended / trial_ended events. An event trial without a
-- trial_ended event is taken to end 14 days after it was last started or extended.
WITH stripe AS (
    SELECT account_id, subscription_id, trial_start, trial_end_effective
    FROM (
        SELECT
            account_id,
            subscription_id,
            trial_start,
            CASE WHEN ended_at IS NOT NULL AND ended_at < trial_end THEN ended_at ELSE trial_end END
                AS trial_end_effective,
            row_number() OVER (PARTITION BY account_id ORDER BY created DESC, subscription_id DESC) AS recency
        FROM stg_subscriptions
        WHERE trial_start IS NOT NULL
    ) AS s
    WHERE recency = 1
),
events AS (
    SELECT
        account_id,
        first_trial_started_at AS trial_start,
        CASE
            WHEN last_trial_ended_at IS NOT NULL AND last_trial_ended_at >= last_trial_opened_at
                THEN last_trial_ended_at
            ELSE last_trial_opened_at + INTERVAL '14 days'
        END AS trial_end
    FROM lifetime_activity
    WHERE first_trial_started_at IS NOT NULL
)
SELECT
    g.account_id,
    COALESCE(s.subscription_id, g.account_id || ':' || CAST(CAST(e.trial_start AS DATE) AS VARCHAR)) AS trial_id,
    COALESCE(s.trial_start, e.trial_start)          AS trial_start,
    COALESCE(s.trial_end_effective, e.trial_end)    AS trial_end,
    CASE
        WHEN COALESCE(s.trial_end_effective, e.trial_end) < $as_of THEN 'ended'
        ELSE 'live'
    END                                             AS trial_status
FROM stg_groups AS g
LEFT JOIN stripe AS s ON s.account_id = g.account_id
LEFT JOIN events AS e ON e.account_id = g.account_id
WHERE s.account_id IS NOT NULL OR e.account_id IS NOT NULL
