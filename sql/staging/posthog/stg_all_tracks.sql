-- Every product event of PostHog's export, attributed or not, in the shape of Segment's
-- tracks (staging/stg_all_tracks.sql). Identify, group and other PostHog events without a
-- product name (see stg_posthog_events.sql) are not product usage.
SELECT message_id, account_id, user_id, event, event_at
FROM stg_posthog_events
WHERE event IS NOT NULL
