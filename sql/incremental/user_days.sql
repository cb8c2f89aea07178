-- Who was active on which day: one row per account, user and day with an event. The grain
-- active_users_prev_14d.sql counts the 14 days before the window from, kept for 28 days.
--
-- An incremental view like activity_days.sql, but it reads only the account, user and time
-- of each event and groups no messages (a copy of a message is the same user on the same
-- day): keeping these 28 days costs far less than keeping activity_days' columns for them.
-- @key account_id, user_id, day
-- @retain day 28 days
SELECT account_id, user_id, CAST(event_at AS DATE) AS day
FROM stg_tracks
WHERE event_at >= $increment_from
  AND event_at < $increment_to
  AND user_id IS NOT NULL
GROUP BY 1, 2, 3
