-- Product events, one row per event that belongs to an account, whatever the export's shape
-- (stg_all_tracks.sql maps the shape). Rows without an account (Segment context.groupId,
-- PostHog $groups) cannot be attributed; they are counted in data_quality.sql. Duplicated
-- message ids are collapsed where events are counted (activity_14d.sql), not here, so that
-- time filters still reach the Parquet scan.
SELECT message_id, account_id, user_id, event, event_at
FROM stg_all_tracks
WHERE account_id IS NOT NULL
