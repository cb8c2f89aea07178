-- Subscription status and MRR at the end of the scoring day.
-- subscription_status: the most relevant subscription's status (active, then past_due/unpaid,
-- then trialing, then anything else; the latest created wins a tie).
-- mrr: monthly recurring revenue in minor units over active and past_due subscriptions; null
-- (and mrr_currency = 'mixed') when they bill in more than one currency, never a silent sum.
-- paid_seats: the seats paid for, over the same subscriptions: each subscription's largest
-- line-item quantity (its per-seat line; add-ons bill quantity 1), summed; null when none.
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
paying AS (
    SELECT
        s.account_id,
        s.subscription_id,
        i.currency,
        i.monthly_amount,
        max(i.quantity) OVER (PARTITION BY s.subscription_id) AS seats
    FROM stg_subscriptions AS s
    JOIN stg_subscription_items AS i ON i.subscription_id = s.subscription_id
    WHERE s.status_as_of IN ('active', 'past_due')
),
revenue AS (
    SELECT
        account_id,
        count(DISTINCT currency)    AS currencies,
        min(currency)               AS currency,
        sum(monthly_amount)         AS monthly_amount
    FROM paying
    GROUP BY account_id
),
seats AS (
    SELECT account_id, sum(seats) AS paid_seats
    FROM (SELECT DISTINCT account_id, subscription_id, seats FROM paying) AS per_subscription
    GROUP BY account_id
)
SELECT
    r.account_id,
    r.status_as_of AS subscription_status,
    CASE WHEN v.currencies > 1 THEN NULL ELSE COALESCE(v.monthly_amount, 0) END AS mrr,
    CASE WHEN v.currencies > 1 THEN 'mixed' ELSE v.currency END                 AS mrr_currency,
    p.paid_seats
FROM ranked AS r
LEFT JOIN revenue AS v ON v.account_id = r.account_id
LEFT JOIN seats AS p ON p.account_id = r.account_id
WHERE r.relevance = 1
