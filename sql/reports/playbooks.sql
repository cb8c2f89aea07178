-- playbooks: per ISO week (Monday start, UTC) of the task's day and trigger, the tasks the
-- playbooks created (from the score history: the triggers each day's run fired) and what
-- became of their accounts within 30 days, so RevOps can see which playbooks work.
-- Trials (every trigger but expansion): converted = the account paid (as the `trial_paid`
-- view defines it) on the task's day or in the 30 days after it.
-- Customers (expansion): expanded = its MRR in the score history rose above the task day's
-- within the 30 days after it.
-- open: tasks whose 30 days run past the last day of the history; they are counted in
-- tasks, and in converted / expanded once that happens, but their outcome is not final.
-- success_rate = (converted + expanded) / (tasks - open + those open tasks that already
-- succeeded): the share of tasks with a known outcome that succeeded.
WITH fired AS (
    SELECT as_of, account_id, mrr, unnest(string_to_array(tasks, ',')) AS trigger
    FROM history
    WHERE tasks IS NOT NULL
      AND as_of BETWEEN $report_from AND $report_to
),
last_day AS (
    SELECT max(as_of) AS day FROM history
),
paid AS (
    SELECT DISTINCT account_id, CAST(paid_at AS DATE) AS day
    FROM trial_paid
    WHERE paid_at IS NOT NULL
),
converted AS (
    SELECT DISTINCT f.as_of, f.account_id, f.trigger
    FROM fired AS f
    JOIN paid AS p
      ON p.account_id = f.account_id
     AND p.day BETWEEN f.as_of AND f.as_of + INTERVAL '30 days'
    WHERE f.trigger <> 'expansion'
),
expanded AS (
    SELECT DISTINCT f.as_of, f.account_id, f.trigger
    FROM fired AS f
    JOIN history AS h
      ON h.account_id = f.account_id
     AND h.as_of > f.as_of
     AND h.as_of <= f.as_of + INTERVAL '30 days'
     AND h.mrr > COALESCE(f.mrr, 0)
    WHERE f.trigger = 'expansion'
),
outcomes AS (
    SELECT
        f.as_of,
        f.trigger,
        f.account_id,
        f.as_of + INTERVAL '30 days' > l.day AS open,
        c.account_id IS NOT NULL             AS converted,
        e.account_id IS NOT NULL             AS expanded
    FROM fired AS f
    CROSS JOIN last_day AS l
    LEFT JOIN converted AS c
      ON c.as_of = f.as_of AND c.account_id = f.account_id AND c.trigger = f.trigger
    LEFT JOIN expanded AS e
      ON e.as_of = f.as_of AND e.account_id = f.account_id AND e.trigger = f.trigger
)
SELECT
    CAST(date_trunc('week', as_of) AS DATE)                        AS week,
    trigger,
    count(*)                                                       AS tasks,
    count(DISTINCT account_id)                                     AS accounts,
    count(*) FILTER (WHERE converted)                              AS converted,
    count(*) FILTER (WHERE expanded)                               AS expanded,
    count(*) FILTER (WHERE open)                                   AS open,
    round(CAST(count(*) FILTER (WHERE converted OR expanded) AS DOUBLE)
        / nullif(count(*) FILTER (WHERE NOT open OR converted OR expanded), 0), 4) AS success_rate
FROM outcomes
GROUP BY 1, 2
ORDER BY 1, 2
