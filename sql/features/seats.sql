-- Seats: distinct identified users of the account before the end of the scoring day.
SELECT account_id, count(DISTINCT user_id) AS seats
FROM stg_identifies
GROUP BY account_id
