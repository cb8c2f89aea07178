-- Rows imported in the 14-day window (the scoring day and the 13 days before it), from the
-- per-day rows of imports_days.sql.
SELECT account_id, sum(rows_imported) AS rows_imported_14d
FROM imports_days
WHERE day >= $as_of_date - INTERVAL '13 days'
  AND day <= $as_of_date
GROUP BY account_id
