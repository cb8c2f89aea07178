-- Subscription line items with their monthly value in minor units (cents).
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
            ELSE 0.0
        END
    ) AS BIGINT)                                AS monthly_amount
FROM raw.subscription_items
WHERE subscription_id IS NOT NULL
