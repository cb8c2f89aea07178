-- Rows the features cannot attribute, reported in the run summary (one row; every column is a
-- count). Tracks are checked over the 14-day window the features score; identifies over all
-- history before $as_of.
SELECT
    t.tracks_without_account_14d,
    t.tracks_without_user_14d,
    t.tracks_of_unknown_accounts_14d,
    i.identifies_without_account,
    i.identifies_without_user
FROM (
    SELECT
        count(*) FILTER (WHERE tr.context_group_id IS NULL)                          AS tracks_without_account_14d,
        count(*) FILTER (WHERE tr.user_id IS NULL)                                   AS tracks_without_user_14d,
        count(*) FILTER (WHERE tr.context_group_id IS NOT NULL AND g.account_id IS NULL) AS tracks_of_unknown_accounts_14d
    FROM raw.tracks AS tr
    LEFT JOIN (SELECT account_id FROM stg_groups) AS g ON g.account_id = tr.context_group_id
    WHERE tr."timestamp" >= $as_of - INTERVAL '14 days'
      AND tr."timestamp" < $as_of
) AS t
CROSS JOIN (
    SELECT
        count(*) FILTER (WHERE context_group_id IS NULL) AS identifies_without_account,
        count(*) FILTER (WHERE user_id IS NULL)          AS identifies_without_user
    FROM raw.identifies
    WHERE "timestamp" < $as_of
) AS i
