-- Each user's first and last event in each account, over all history: the "first seen" and
-- "last active" of user_features.sql. An incremental view like lifetime_activity.sql (which
-- keeps the same per account), so a daily run reads only its new days of events.
--
-- A user of several accounts has a row in each: people are scored per account.
-- @key account_id, user_id
-- @merge first_seen_at = min, last_seen_at = max
SELECT
    account_id,
    user_id,
    min(event_at) AS first_seen_at,
    max(event_at) AS last_seen_at
FROM stg_tracks
WHERE event_at >= $increment_from
  AND event_at < $increment_to
  AND user_id IS NOT NULL
GROUP BY 1, 2
