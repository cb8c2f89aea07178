-- Rows imported per account and day, from the rows_imported event table: the grain
-- rows_imported_14d.sql sums its window from. An incremental view like activity_days.sql,
-- keeping the last 14 days.
--
-- One row per message: a message delivered more than once counts once (its copies share
-- their timestamp, so they fall on the same day and in the same increment). A row without an
-- id is keyed by its content, so exact copies still count once and distinct imports each
-- count (grouping on a NULL id would have merged every id-less import of the window).
-- @key account_id, day
-- @merge rows_imported = sum
-- @retain day 14 days
SELECT account_id, day, sum(row_count) AS rows_imported
FROM (
    SELECT
        account_id,
        COALESCE(message_id, concat_ws('|', CAST(event_at AS VARCHAR), CAST(row_count AS VARCHAR))) AS message_key,
        CAST(event_at AS DATE) AS day,
        min(row_count)         AS row_count
    FROM stg_rows_imported
    WHERE event_at >= $increment_from
      AND event_at < $increment_to
    GROUP BY 1, 2, 3
) AS imports
GROUP BY account_id, day
