-- scored_trials: one row per trial (the `trial_paid` view, so "paid" is the one definition
-- calibrate and trial_outcomes use) that started on or before the as-of day, with the score
-- history's snapshot on its trial day K: the PQL score and tier the account had at the end of
-- day K (day 1 is the start day; K is [scoring.calibration] at_day, default 7, as calibrate's
-- --at-day). score_day: that day. pql_score and tier are empty when the history has no
-- snapshot that day (the trial started before the history, or K is still ahead).
-- pqlsync reads this table for model_health (how well the score on day K ranks who paid
-- within the horizon, month by month); it covers every trial start in the history, not only
-- the report's range, so each month is judged whole.
SELECT
    t.account_id,
    t.trial_id,
    t.trial_start,
    t.paid_at,
    CAST(t.trial_start AS DATE) + $day_k_offset AS score_day,
    h.pql_score,
    h.tier
FROM trial_paid AS t
LEFT JOIN history AS h
    ON h.account_id = t.account_id
   AND h.as_of = CAST(t.trial_start AS DATE) + $day_k_offset
WHERE CAST(t.trial_start AS DATE) <= $as_of_date
ORDER BY t.trial_start, t.account_id, t.trial_id
