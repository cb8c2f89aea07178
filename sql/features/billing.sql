-- Subscription status and MRR at the end of the scoring day.
-- subscription_status: the most relevant subscription's status (active, then past_due/unpaid,
-- then trialing, then anything else; the latest created wins a tie).
-- mrr: monthly recurring revenue in minor units over active and past_due subscriptions; null
-- (and mrr_currency = 'mixed') when they bill in more than one currency, never a silent sum.
WITH ranked AS (
    SELECT
        account_id,
        status_as_of,
        row_number() OVER (
            PARTITION BY account_id
            ORDER BY CASE status_as_of
                         WHEN 'active' THEN 1 WHEN 'past_due' THEN 2 WHEN 'unpaid' THEN 2
                         WHEN 'trialing' THEN 3 ELSE 4 END,
                     created DESC, subscription_id DESC
        ) AS relevance
    FROM stg_subscriptions
),
revenue AS (
    SELECT
        s.account_id,
        count(DISTINCT i.currency)  AS currencies,
        min(i.currency)             AS currency,
        sum(i.monthly_amount)       AS monthly_amount
    FROM stg_subscriptions AS s
    JOIN stg_subscription_items AS i ON i.subscription_id = s.subscription_id
    WHERE s.status_as_of IN ('active', 'past_due')
    GROUP BY s.account_id
)
SELECT
    r.account_id,
    r.status_as_of AS subscription_status,
    CASE WHEN v.currencies > 1 THEN NULL ELSE COALESCE(v.monthly_amount, 0) END AS mrr,
    CASE WHEN v.currencies > 1 THEN 'mixed' ELSE v.currency END                 AS mrr_currency
FROM ranked AS r
LEFT JOIN revenue AS v ON v.account_id = r.account_id
WHERE r.relevance = 1
