-- The account's identified users with an email, for HubSpot contacts: one row per (account,
-- email). A user's latest identify call gives their email. The account's first identified user
-- is its primary contact — in a PLG sign-up, the person who started the trial — and the lead,
-- deal and Green tasks are associated with them.
WITH latest AS (
    SELECT account_id, user_id, email, identified_at,
           row_number() OVER (PARTITION BY account_id, user_id ORDER BY identified_at DESC) AS recency,
           min(identified_at) OVER (PARTITION BY account_id, user_id) AS first_identified_at
    FROM stg_identifies
    WHERE email LIKE '%_@_%'
)
SELECT
    account_id,
    email,
    user_id,
    first_identified_at,
    row_number() OVER (PARTITION BY account_id ORDER BY first_identified_at, user_id) = 1 AS is_primary
FROM latest
WHERE recency = 1
