-- Every identify call in the shape the rest of the SQL reads, with or without an account, a
-- user or an email: Segment's (and RudderStack's) `identifies`. `stg_identifies` keeps the
-- usable ones; data_quality.sql counts the others. The PostHog variant is
-- staging/posthog/stg_all_identifies.sql.
SELECT
    context_group_id           AS account_id,
    user_id,
    lower(trim(email))         AS email,
    "timestamp"                AS identified_at
FROM raw.identifies
