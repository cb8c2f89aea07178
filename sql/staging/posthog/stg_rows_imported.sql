-- The rows_imported event from PostHog's events export, with its `row_count` property (the
-- Segment variant reads the event's own table instead).
SELECT
    message_id,
    account_id,
    event_at,
    COALESCE(
        json_get_float(properties, 'row_count'),
        CAST(json_get_int(properties, 'row_count') AS DOUBLE)
    )                          AS row_count
FROM stg_posthog_events
WHERE event = 'rows_imported'
  AND account_id IS NOT NULL
