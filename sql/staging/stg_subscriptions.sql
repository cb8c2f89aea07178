-- Stripe subscriptions of known accounts with a status Stripe produces, as they stood at the
-- end of the scoring day (stg_subscriptions_checked says which rows are set aside and why):
-- subscriptions created later are ignored, and `status_as_of` is derived from the dates.
SELECT
    account_id,
    subscription_id,
    customer_id,
    created,
    start_date,
    trial_start,
    trial_end,
    canceled_at,
    ended_at,
    status_as_of
FROM stg_subscriptions_checked
WHERE set_aside IS NULL
