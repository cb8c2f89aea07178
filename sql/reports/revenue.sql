-- revenue: sales and revenue per trial-start week (ISO week, Monday start, UTC), motion
-- (as in trial_outcomes) and currency: amounts are never summed across currencies.
-- Amounts are monthly recurring revenue in major units (yearly prices count 1/12 a month;
-- Stripe's zero-decimal currencies such as JPY are not divided by 100).
-- open_trials / pipeline_mrr: trials still live on the as-of day and the MRR of their
-- trialing Stripe subscription once it bills; currency `none`: trials without Stripe billing.
-- closed_won / closed_lost: paid by the as-of day / trial ended without paying;
-- win_rate = closed_won / (closed_won + closed_lost).
-- median_days_to_won (sales velocity): trial-start day to paid day, over closed_won.
-- new_mrr: MRR of the account's paying subscriptions (active, past_due, or ended after their
-- trial: churned customers still count), priced with their items as exported;
-- avg_deal_mrr = new_mrr / closed_won. expansion_mrr: day-over-day MRR increases in the score
-- history of accounts that were already paying in the same currency.
WITH subscription_mrr AS (
    SELECT
        s.account_id,
        i.currency,
        s.status_as_of = 'trialing' AS trialing,
        s.status_as_of IN ('active', 'past_due')
            OR s.ended_at > COALESCE(s.trial_end, s.start_date, s.created) AS paying,
        i.monthly_amount
    FROM stg_subscriptions AS s
    JOIN stg_subscription_items AS i ON i.subscription_id = s.subscription_id
),
new_items AS (
    SELECT account_id, currency, sum(monthly_amount) AS monthly_amount
    FROM subscription_mrr WHERE paying GROUP BY account_id, currency
),
open_items AS (
    SELECT account_id, currency, sum(monthly_amount) AS monthly_amount
    FROM subscription_mrr WHERE trialing GROUP BY account_id, currency
),
expansion AS (
    SELECT account_id, mrr_currency AS currency, sum(mrr - previous_mrr) AS expansion
    FROM (
        SELECT account_id, mrr, mrr_currency,
               lag(mrr) OVER (PARTITION BY account_id ORDER BY as_of)          AS previous_mrr,
               lag(mrr_currency) OVER (PARTITION BY account_id ORDER BY as_of) AS previous_currency
        FROM history
        WHERE as_of <= $as_of_date
    ) AS d
    WHERE previous_mrr > 0 AND mrr > previous_mrr AND mrr_currency = previous_currency
    GROUP BY account_id, mrr_currency
),
trial AS (
    SELECT
        t.cohort_week,
        t.motion,
        COALESCE(n.currency, o.currency, e.currency, 'none') AS currency,
        t.trial_status = 'live' AND NOT t.converted_paid AS open,
        t.converted_paid AS won,
        t.trial_status = 'ended' AND NOT t.converted_paid AS lost,
        t.days_to_paid,
        CASE WHEN t.trial_status = 'live' AND NOT t.converted_paid
            THEN o.monthly_amount END AS pipeline_minor,
        CASE WHEN t.converted_paid THEN n.monthly_amount END AS new_minor,
        e.expansion AS expansion_minor
    FROM trial_outcomes AS t
    LEFT JOIN new_items AS n ON n.account_id = t.account_id
    LEFT JOIN open_items AS o ON o.account_id = t.account_id AND n.account_id IS NULL
    LEFT JOIN expansion AS e ON e.account_id = t.account_id
        AND e.currency = COALESCE(n.currency, o.currency)
)
SELECT
    cohort_week,
    motion,
    currency,
    count(*)                                          AS trials,
    count(*) FILTER (WHERE open)                      AS open_trials,
    round(sum(pipeline_minor) / divisor, 2)           AS pipeline_mrr,
    count(*) FILTER (WHERE won)                       AS closed_won,
    count(*) FILTER (WHERE lost)                      AS closed_lost,
    round(CAST(count(*) FILTER (WHERE won) AS DOUBLE)
        / nullif(count(*) FILTER (WHERE won OR lost), 0), 4) AS win_rate,
    median(CAST(days_to_paid AS DOUBLE)) FILTER (WHERE won) AS median_days_to_won,
    round(COALESCE(sum(new_minor), 0) / divisor, 2)   AS new_mrr,
    round(sum(new_minor) / divisor / nullif(count(*) FILTER (WHERE won), 0), 2) AS avg_deal_mrr,
    round(COALESCE(sum(expansion_minor), 0) / divisor, 2) AS expansion_mrr
FROM (
    SELECT *,
        CASE WHEN currency IN ('bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg',
                               'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf')
            THEN 1.0 ELSE 100.0 END AS divisor
    FROM trial
) AS t
GROUP BY cohort_week, motion, currency, divisor
ORDER BY cohort_week, motion, currency
