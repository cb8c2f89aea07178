-- Product events, one row per tracks row that belongs to an account.
-- Rows without an account (Segment context.groupId) cannot be attributed; they are counted in
-- data_quality.sql. Duplicated message ids are collapsed where events are counted
-- (activity_14d.sql), not here, so that time filters still reach the Parquet scan.
SELECT
    id                AS message_id,
    context_group_id  AS account_id,
    user_id,
    event,
    "timestamp"       AS event_at
FROM raw.tracks
WHERE context_group_id IS NOT NULL
