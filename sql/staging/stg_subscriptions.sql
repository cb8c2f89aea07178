-- Stripe subscriptions mapped to accounts through customers_metadata
-- (key = [sources.stripe] account_id_key), as they stood at the end of the scoring day:
-- subscriptions created later are ignored, and the status is derived from the dates so that a
-- past scoring day sees the past status, not today's.
SELECT
    m.account_id,
    s.id                        AS subscription_id,
    s.customer_id,
    s.created,
    s.start_date,
    s.trial_start,
    s.trial_end,
    s.canceled_at,
    s.ended_at,
    CASE
        WHEN s.ended_at IS NOT NULL AND s.ended_at < $as_of THEN 'canceled'
        WHEN s.trial_end IS NOT NULL AND s.trial_end >= $as_of
             AND COALESCE(s.trial_start, s.created) < $as_of THEN 'trialing'
        WHEN s.status IN ('incomplete', 'incomplete_expired', 'past_due', 'unpaid', 'paused', 'trialing')
            THEN s.status
        ELSE 'active'
    END                         AS status_as_of
FROM raw.subscriptions AS s
JOIN (
    SELECT customer_id, max(value) AS account_id
    FROM raw.customers_metadata
    WHERE key = $account_id_key AND value IS NOT NULL
    GROUP BY customer_id
) AS m ON m.customer_id = s.customer_id
WHERE s.created < $as_of
