-- Users and their emails, as known to each account, strictly before the end of the scoring day.
SELECT
    context_group_id           AS account_id,
    user_id,
    lower(trim(email))         AS email,
    "timestamp"                AS identified_at
FROM raw.identifies
WHERE context_group_id IS NOT NULL
  AND user_id IS NOT NULL
  AND "timestamp" < $as_of
