-- activation: trials in progress per week (ISO week, Monday start, UTC) of the score history.
-- Each week is read at its last daily snapshot (week_end); trials_live are the accounts whose
-- trial was live then, split by tier (the tier mix) with each tier's share.
-- Transitions compare an account's week-end tier with its tier at the previous week's end
-- (both while its trial was live): red_to_yellow counts Red then Yellow, and
-- red_to_yellow_rate = red_to_yellow / trials Red at the previous week's end (likewise for the
-- others). downgrades: any move to a lower tier.
WITH week_ends AS (
    SELECT CAST(date_trunc('week', as_of) AS DATE) AS week, max(as_of) AS week_end
    FROM history
    WHERE as_of BETWEEN $report_from AND $as_of_date
    GROUP BY 1
),
live AS (
    SELECT w.week, w.week_end, h.account_id, h.tier
    FROM week_ends AS w
    JOIN history AS h ON h.as_of = w.week_end
    WHERE h.trial_status = 'live'
),
paired AS (
    SELECT
        cur.week,
        prev.tier AS before,
        cur.tier  AS after
    FROM live AS cur
    JOIN live AS prev
      ON prev.account_id = cur.account_id AND prev.week = cur.week - INTERVAL '7 days'
),
moves AS (
    SELECT
        week,
        count(*) FILTER (WHERE before = 'red')                          AS red_before,
        count(*) FILTER (WHERE before = 'yellow')                       AS yellow_before,
        count(*) FILTER (WHERE before = 'red' AND after = 'yellow')     AS red_to_yellow,
        count(*) FILTER (WHERE before = 'red' AND after = 'green')      AS red_to_green,
        count(*) FILTER (WHERE before = 'yellow' AND after = 'green')   AS yellow_to_green,
        count(*) FILTER (WHERE (before = 'green' AND after <> 'green')
                            OR (before = 'yellow' AND after = 'red'))   AS downgrades
    FROM paired
    GROUP BY week
),
mix AS (
    SELECT
        week,
        max(week_end)                                  AS week_end,
        count(*)                                       AS trials_live,
        count(*) FILTER (WHERE tier = 'red')           AS red,
        count(*) FILTER (WHERE tier = 'yellow')        AS yellow,
        count(*) FILTER (WHERE tier = 'green')         AS green
    FROM live
    GROUP BY week
)
SELECT
    x.week,
    x.week_end,
    x.trials_live,
    x.red,
    x.yellow,
    x.green,
    round(CAST(x.red AS DOUBLE) / x.trials_live, 4)    AS red_share,
    round(CAST(x.yellow AS DOUBLE) / x.trials_live, 4) AS yellow_share,
    round(CAST(x.green AS DOUBLE) / x.trials_live, 4)  AS green_share,
    COALESCE(m.red_to_yellow, 0)                       AS red_to_yellow,
    COALESCE(m.red_to_green, 0)                        AS red_to_green,
    COALESCE(m.yellow_to_green, 0)                     AS yellow_to_green,
    COALESCE(m.downgrades, 0)                          AS downgrades,
    round(CAST(m.red_to_yellow AS DOUBLE) / nullif(m.red_before, 0), 4)      AS red_to_yellow_rate,
    round(CAST(m.red_to_green AS DOUBLE) / nullif(m.red_before, 0), 4)       AS red_to_green_rate,
    round(CAST(m.yellow_to_green AS DOUBLE) / nullif(m.yellow_before, 0), 4) AS yellow_to_green_rate
FROM mix AS x
LEFT JOIN moves AS m ON m.week = x.week
ORDER BY x.week
