-- trial_paid: one row per trial (the `trials` feature view) with when its account paid, the
-- one definition of "paid" the report's trial_outcomes and `pqlsync calibrate` share.
-- Paid: a Stripe subscription of the account billing (active or past_due) after its trial, or
-- ended after its trial ended; paid_at is the earliest such subscription's trial end (its
-- start, without a trial), before the end of the scoring day. The trial converted when
-- paid_at is at or after its trial_start; paid_at before it is an earlier customer's payment.
WITH paid AS (
    SELECT
        account_id,
        min(COALESCE(trial_end, start_date, created)) AS paid_at
    FROM stg_subscriptions
    WHERE COALESCE(trial_end, start_date, created) < $as_of
      AND (status_as_of IN ('active', 'past_due')
           OR ended_at > COALESCE(trial_end, start_date, created))
    GROUP BY account_id
)
SELECT
    t.account_id,
    t.trial_id,
    t.trial_start,
    t.trial_end,
    p.paid_at
FROM trials AS t
LEFT JOIN paid AS p ON p.account_id = t.account_id
