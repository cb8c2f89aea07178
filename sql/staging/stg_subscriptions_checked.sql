-- Every Stripe subscription created before the end of the scoring day, mapped to its account
-- through customers_metadata (key = [sources.stripe] account_id_key), with the status it had
-- then, and `set_aside` naming why pqlsync cannot use it (NULL when it can):
--   subscriptions_without_account  its customer has no account id in customers_metadata
--   subscriptions_unknown_status   its status is not one Stripe produces
-- Stripe's statuses (https://docs.stripe.com/api/subscriptions/object#subscription_object-status)
-- are the accepted values; anything else is a bad export, never guessed into a paying
-- customer. stg_subscriptions keeps the rows not set aside; outputs/set_aside.sql counts the
-- others for the run summary, which warns naming each value.
SELECT
    m.account_id,
    s.id                        AS subscription_id,
    s.customer_id,
    s.status,
    s.created,
    s.start_date,
    s.trial_start,
    s.trial_end,
    s.canceled_at,
    s.ended_at,
    -- The status as of the scoring day, derived from the dates so that a past scoring day sees
    -- the past status, not today's: a subscription canceled after it was still active then.
    CASE
        WHEN s.ended_at IS NOT NULL AND s.ended_at < $as_of THEN 'canceled'
        WHEN s.trial_end IS NOT NULL AND s.trial_end >= $as_of
             AND COALESCE(s.trial_start, s.created) < $as_of THEN 'trialing'
        WHEN s.status IN ('incomplete', 'incomplete_expired', 'past_due', 'unpaid', 'paused', 'trialing')
            THEN s.status
        ELSE 'active'
    END                         AS status_as_of,
    CASE
        WHEN m.account_id IS NULL THEN 'subscriptions_without_account'
        WHEN s.status IS NULL
             OR s.status NOT IN ('incomplete', 'incomplete_expired', 'trialing', 'active',
                                 'past_due', 'canceled', 'unpaid', 'paused')
            THEN 'subscriptions_unknown_status'
    END                         AS set_aside,
    CASE
        WHEN m.account_id IS NULL THEN s.customer_id
        ELSE COALESCE(s.status, 'NULL')
    END                         AS set_aside_value
FROM raw.subscriptions AS s
LEFT JOIN (
    SELECT customer_id, max(value) AS account_id
    FROM raw.customers_metadata
    WHERE key = $account_id_key AND value IS NOT NULL
    GROUP BY customer_id
) AS m ON m.customer_id = s.customer_id
WHERE s.created < $as_of
