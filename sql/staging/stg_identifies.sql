-- Users and their emails, as known to each account, strictly before the end of the scoring day.
SELECT account_id, user_id, email, identified_at
FROM stg_all_identifies
WHERE account_id IS NOT NULL
  AND user_id IS NOT NULL
  AND identified_at < $as_of
