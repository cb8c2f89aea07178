-- Subscription line items pqlsync can use, with their monthly value in minor units (cents)
-- (stg_subscription_items_checked says which rows are set aside and why).
SELECT subscription_id, currency, quantity, amount, monthly_amount
FROM stg_subscription_items_checked
WHERE set_aside IS NULL
