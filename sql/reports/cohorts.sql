-- cohorts: one row per trial-start week (ISO week, Monday start, UTC), from trial_outcomes.
-- reached_{yellow,green}_Nd: trials whose first Yellow-or-better / Green daily snapshot came at
-- most N days after the trial-start day. median/p75_days_to_green: over trials that reached
-- Green by the as-of day. converted_paid_30d: Stripe subscription billing after the trial,
-- at most 30 days after the start day; converted_paid_to_date: by the as-of day.
-- Rates divide by trials_started (self-serve / sales-assisted rates by that motion's trials).
-- trials_observed_from_start: trials whose start day is in the score history (the others
-- started before it began, so their days to Yellow / Green are measured late or not at all).
-- days_observed: days from the cohort's latest trial-start day to the as-of day; an N-day
-- figure is final only when days_observed >= N (until then more trials can still get there).
SELECT
    cohort_week,
    count(*)                                                          AS trials_started,
    count(*) FILTER (WHERE observed_from_start)                       AS trials_observed_from_start,
    count(*) FILTER (WHERE days_to_yellow <= 7)                       AS reached_yellow_7d,
    count(*) FILTER (WHERE days_to_yellow <= 14)                      AS reached_yellow_14d,
    count(*) FILTER (WHERE days_to_yellow <= 30)                      AS reached_yellow_30d,
    count(*) FILTER (WHERE days_to_green <= 7)                        AS reached_green_7d,
    count(*) FILTER (WHERE days_to_green <= 14)                       AS reached_green_14d,
    count(*) FILTER (WHERE days_to_green <= 30)                       AS reached_green_30d,
    median(CAST(days_to_green AS DOUBLE))                             AS median_days_to_green,
    percentile_cont(0.75) WITHIN GROUP (ORDER BY CAST(days_to_green AS DOUBLE))
                                                                      AS p75_days_to_green,
    count(*) FILTER (WHERE converted_paid_30d)                        AS converted_paid_30d,
    round(CAST(count(*) FILTER (WHERE converted_paid_30d) AS DOUBLE) / count(*), 4)
                                                                      AS trial_to_paid_30d_rate,
    count(*) FILTER (WHERE converted_paid)                            AS converted_paid_to_date,
    round(CAST(count(*) FILTER (WHERE converted_paid) AS DOUBLE) / count(*), 4)
                                                                      AS trial_to_paid_rate,
    count(*) FILTER (WHERE motion = 'self_serve')                     AS self_serve_trials,
    count(*) FILTER (WHERE motion = 'self_serve' AND converted_paid)  AS self_serve_converted,
    round(CAST(count(*) FILTER (WHERE motion = 'self_serve' AND converted_paid) AS DOUBLE)
        / nullif(count(*) FILTER (WHERE motion = 'self_serve'), 0), 4) AS self_serve_conversion_rate,
    count(*) FILTER (WHERE motion = 'sales_assisted')                 AS sales_assisted_trials,
    count(*) FILTER (WHERE motion = 'sales_assisted' AND converted_paid) AS sales_assisted_converted,
    round(CAST(count(*) FILTER (WHERE motion = 'sales_assisted' AND converted_paid) AS DOUBLE)
        / nullif(count(*) FILTER (WHERE motion = 'sales_assisted'), 0), 4)
                                                                      AS sales_assisted_conversion_rate,
    count(*) FILTER (WHERE disqualified)                              AS disqualified,
    round(CAST(count(*) FILTER (WHERE disqualified) AS DOUBLE) / count(*), 4) AS disqualified_share,
    round(CAST(count(*) FILTER (WHERE days_to_yellow <= 14) AS DOUBLE) / count(*), 4)
                                                                      AS reached_yellow_14d_rate,
    round(CAST(count(*) FILTER (WHERE days_to_green <= 7) AS DOUBLE) / count(*), 4)
                                                                      AS reached_green_7d_rate,
    round(CAST(count(*) FILTER (WHERE days_to_green <= 14) AS DOUBLE) / count(*), 4)
                                                                      AS reached_green_14d_rate,
    round(CAST(count(*) FILTER (WHERE days_to_green <= 30) AS DOUBLE) / count(*), 4)
                                                                      AS reached_green_30d_rate,
    min(days_observed)                                                AS days_observed
FROM trial_outcomes
GROUP BY cohort_week
ORDER BY cohort_week
