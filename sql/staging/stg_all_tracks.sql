-- Every product event in the shape the rest of the SQL reads, attributed or not: Segment's
-- (and RudderStack's) `tracks`. `stg_tracks` keeps the events that belong to an account;
-- data_quality.sql counts the others. The PostHog variant is staging/posthog/stg_all_tracks.sql.
SELECT
    id                AS message_id,
    context_group_id  AS account_id,
    user_id,
    event,
    "timestamp"       AS event_at
FROM raw.tracks
