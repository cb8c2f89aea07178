-- Every Stripe subscription line item with its monthly value in minor units (cents), and
-- `set_aside` naming why pqlsync cannot use it (NULL when it can):
--   subscription_items_without_subscription  no subscription_id
--   subscription_items_negative_price        price_unit_amount < 0 (Stripe prices are >= 0)
--   subscription_items_negative_quantity     quantity < 0 (Stripe quantities are >= 0)
--   subscription_items_unknown_interval      price_recurring_interval not day/week/month/year
-- A set-aside item adds nothing to its subscription's MRR or seats: a bad line never turns a
-- paying customer's MRR negative. outputs/set_aside.sql counts them for the run summary.
-- Yearly prices count 1/12 per month, weekly 52/12, daily 365/12.
SELECT
    subscription_id,
    lower(price_currency)                      AS currency,
    CAST(COALESCE(quantity, 1) AS BIGINT)      AS quantity,
    CAST(price_unit_amount AS BIGINT) * CAST(COALESCE(quantity, 1) AS BIGINT) AS amount,
    CAST(round(
        CAST(price_unit_amount AS DOUBLE) * CAST(COALESCE(quantity, 1) AS DOUBLE) *
        CASE lower(price_recurring_interval)
            WHEN 'month' THEN 1.0
            WHEN 'year'  THEN 1.0 / 12.0
            WHEN 'week'  THEN 52.0 / 12.0
            WHEN 'day'   THEN 365.0 / 12.0
        END
    ) AS BIGINT)                                AS monthly_amount,
    CASE
        WHEN subscription_id IS NULL THEN 'subscription_items_without_subscription'
        WHEN price_unit_amount < 0 THEN 'subscription_items_negative_price'
        WHEN quantity < 0 THEN 'subscription_items_negative_quantity'
        WHEN price_recurring_interval IS NULL
             OR lower(price_recurring_interval) NOT IN ('day', 'week', 'month', 'year')
            THEN 'subscription_items_unknown_interval'
    END                                         AS set_aside,
    CASE
        WHEN subscription_id IS NULL THEN 'NULL'
        WHEN price_unit_amount < 0 THEN CAST(price_unit_amount AS VARCHAR)
        WHEN quantity < 0 THEN CAST(quantity AS VARCHAR)
        ELSE COALESCE(price_recurring_interval, 'NULL')
    END                                         AS set_aside_value
FROM raw.subscription_items
