-- Rows the features cannot attribute, reported in the run summary (one row; every column is a
-- count). Events are checked over the 14-day window the features score, from the per-day
-- counts of tracks_days.sql; identifies over all history before $as_of. Both read the staging
-- views of every row (stg_all_*), so the counts mean the same for every export format. An
-- account is unknown when no group call names it as of the scoring day, so that is decided
-- here, not kept in the rollup.
SELECT
    t.tracks_without_account_14d,
    t.tracks_without_user_14d,
    t.tracks_of_unknown_accounts_14d,
    i.identifies_without_account,
    i.identifies_without_user,
    i.identifies_without_email
FROM (
    SELECT
        COALESCE(sum(tr.events) FILTER (WHERE tr.account_id IS NULL), 0)                              AS tracks_without_account_14d,
        COALESCE(sum(tr.events_without_user), 0)                                                      AS tracks_without_user_14d,
        COALESCE(sum(tr.events) FILTER (WHERE tr.account_id IS NOT NULL AND g.account_id IS NULL), 0) AS tracks_of_unknown_accounts_14d
    FROM tracks_days AS tr
    LEFT JOIN (SELECT account_id FROM stg_groups) AS g ON g.account_id = tr.account_id
    WHERE tr.day >= $as_of_date - INTERVAL '13 days'
      AND tr.day <= $as_of_date
) AS t
CROSS JOIN (
    SELECT
        count(*) FILTER (WHERE account_id IS NULL)                  AS identifies_without_account,
        count(*) FILTER (WHERE user_id IS NULL)                     AS identifies_without_user,
        count(*) FILTER (WHERE email IS NULL OR email NOT LIKE '%_@_%') AS identifies_without_email
    FROM stg_all_identifies
    WHERE identified_at < $as_of
) AS i
