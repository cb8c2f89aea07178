-- Input rows the staging views set aside rather than guess at: one row per check and value,
-- with how many rows carry it and what that means. pqlsync adds `row_count` to the run
-- summary's data quality under `check_name`, and warns with the value, the file of `source`
-- (a [sources] dataset) and `reason`.
-- Add a check by giving a staging view a `set_aside` column (the check's name, NULL when the
-- row is used) and `set_aside_value`, and its reason below.
WITH set_aside AS (
    SELECT set_aside AS check_name, 'subscriptions' AS source, set_aside_value AS value
    FROM stg_subscriptions_checked
    WHERE set_aside IS NOT NULL
    UNION ALL
    SELECT set_aside AS check_name, 'subscription_items' AS source, set_aside_value AS value
    FROM stg_subscription_items_checked
    WHERE set_aside IS NOT NULL
)
SELECT
    check_name,
    source,
    value,
    count(*) AS row_count,
    CASE check_name
        WHEN 'subscriptions_unknown_status'
            THEN 'status is not one Stripe produces; the subscription counts as none'
        WHEN 'subscriptions_without_account'
            THEN 'this customer_id has no account id in customers_metadata; the subscription counts for no account'
        WHEN 'subscription_items_without_subscription'
            THEN 'subscription_id is empty; the item counts for no subscription'
        WHEN 'subscription_items_negative_price'
            THEN 'price_unit_amount is negative, which Stripe prices never are; the item adds no MRR or seats'
        WHEN 'subscription_items_negative_quantity'
            THEN 'quantity is negative, which Stripe quantities never are; the item adds no MRR or seats'
        WHEN 'subscription_items_unknown_interval'
            THEN 'price_recurring_interval is not day, week, month or year; the item adds no MRR or seats'
    END AS reason
FROM set_aside
GROUP BY check_name, source, value
