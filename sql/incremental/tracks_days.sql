-- Every product event per account and day, attributed or not: the grain data_quality.sql
-- counts the 14-day window's unattributed events from, kept for 14 days. An incremental view
-- like activity_days.sql, so a daily run counts only its new days. Reads stg_all_tracks (not
-- stg_tracks) so that events without an account are counted too, under a NULL account_id.
-- @key account_id, day
-- @merge events = sum, events_without_user = sum
-- @retain day 14 days
SELECT
    account_id,
    CAST(event_at AS DATE)                    AS day,
    count(*)                                  AS events,
    count(*) FILTER (WHERE user_id IS NULL)   AS events_without_user
FROM stg_all_tracks
WHERE event_at >= $increment_from
  AND event_at < $increment_to
GROUP BY 1, 2
