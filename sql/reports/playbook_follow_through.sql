-- playbook_follow_through: what reps did with the tasks pqlsync created, per ISO week (Monday
-- start, UTC) of the task's creation in HubSpot and trigger, from the `crm.tasks` table (the
-- tasks as the last run read them back from HubSpot).
-- tasks: tasks pqlsync created; completed: those a rep marked completed in HubSpot;
-- completion_rate = completed / tasks; median_days_to_complete: from creation to completion,
-- in days (fractions of a day kept), over the completed ones; open_overdue: not completed and
-- past their due time on the as-of day.
-- What became of the accounts (one task, one account): accepted = sales accepted the account
-- in HubSpot on or after the task's day (the `sales_acceptance` table); converted = it paid
-- (the `trial_paid` view) on the task's day or in the 30 days after it; lost = its trial deal
-- was closed lost in HubSpot.
WITH t AS (
    SELECT
        task_key,
        account_id,
        COALESCE(trigger, 'unknown')                       AS trigger,
        status,
        COALESCE(created_at, due_at)                       AS created_at,
        CAST(COALESCE(created_at, due_at) AS DATE)         AS created_on,
        completed_at,
        due_at
    FROM crm.tasks
    WHERE CAST(COALESCE(created_at, due_at) AS DATE) BETWEEN $report_from AND $report_to
),
accepted AS (
    SELECT DISTINCT t.task_key
    FROM t
    JOIN sales_acceptance AS a
      ON a.account_id = t.account_id AND a.accepted_on >= t.created_on
),
converted AS (
    SELECT DISTINCT t.task_key
    FROM t
    JOIN trial_paid AS p
      ON p.account_id = t.account_id
     AND CAST(p.paid_at AS DATE) BETWEEN t.created_on AND t.created_on + INTERVAL '30 days'
),
lost AS (
    SELECT DISTINCT t.task_key
    FROM t
    JOIN crm.deals AS d ON d.account_id = t.account_id AND d.deal_stage = 'closed_lost'
),
outcomes AS (
    SELECT
        t.*,
        t.status = 'COMPLETED'                                               AS done,
        (date_part('epoch', t.completed_at) - date_part('epoch', t.created_at)) / 86400.0
                                                                             AS days_to_complete,
        a.task_key IS NOT NULL                                               AS accepted,
        c.task_key IS NOT NULL                                               AS converted,
        l.task_key IS NOT NULL                                               AS lost
    FROM t
    LEFT JOIN accepted AS a ON a.task_key = t.task_key
    LEFT JOIN converted AS c ON c.task_key = t.task_key
    LEFT JOIN lost AS l ON l.task_key = t.task_key
)
SELECT
    CAST(date_trunc('week', created_on) AS DATE)                       AS week,
    trigger,
    count(*)                                                           AS tasks,
    count(*) FILTER (WHERE done)                                       AS completed,
    round(CAST(count(*) FILTER (WHERE done) AS DOUBLE) / count(*), 4)  AS completion_rate,
    round(median(days_to_complete) FILTER (WHERE done AND completed_at IS NOT NULL), 2)
                                                                       AS median_days_to_complete,
    count(*) FILTER (WHERE NOT done AND due_at < CAST($as_of_date AS TIMESTAMP))
                                                                       AS open_overdue,
    count(*) FILTER (WHERE accepted)                                   AS accepted,
    count(*) FILTER (WHERE converted)                                  AS converted,
    count(*) FILTER (WHERE lost)                                       AS lost
FROM outcomes
GROUP BY 1, 2
ORDER BY 1, 2
