-- The rows_imported event's own table ([sources.events] rows_imported): one row per import.
-- When the dataset is not configured, raw.rows_imported is empty and the feature is 0.
SELECT
    id                         AS message_id,
    context_group_id           AS account_id,
    "timestamp"                AS event_at,
    CAST(row_count AS DOUBLE)  AS row_count
FROM raw.rows_imported
WHERE context_group_id IS NOT NULL
