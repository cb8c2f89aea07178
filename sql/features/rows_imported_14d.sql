-- Rows imported in the 14-day window, from the rows_imported event table; one row per message.
SELECT account_id, sum(row_count) AS rows_imported_14d
FROM (
    SELECT account_id, message_id, min(row_count) AS row_count
    FROM stg_rows_imported
    WHERE event_at >= $as_of - INTERVAL '14 days'
      AND event_at < $as_of
    GROUP BY account_id, message_id
) AS imports
GROUP BY account_id
