-- sales_acceptance: the accounts sales accepted, as HubSpot shows it (the `crm.*` tables: what
-- the last run read back from HubSpot before deciding), one row per account and way it was
-- accepted, with the day it was first seen. An account is accepted when a person:
-- - moved its trial deal forward (to Sales-Assisted or Closed Won) in HubSpot (deal_moved);
-- - moved its lead to a stage other than pqlsync's last and not Disqualified, New or
--   Interested (lead_worked);
-- - set its company's lifecycle stage to Sales Qualified Lead or later (lifecycle_sql);
-- - completed a task pqlsync created on the account (task_completed).
-- Day: when pqlsync first saw the person's value (the run's as-of day), or the task's
-- completion day. pqlsync's own writes never count: only values that differ from what it wrote.
-- trial_id is set for a deal's acceptance; the other ways count for the trial they fall in.
WITH deals AS (
    SELECT account_id, trial_id, 'deal_moved' AS accepted_by, deal_stage_changed_on AS accepted_on
    FROM crm.deals
    WHERE deal_stage_changed_on IS NOT NULL
      AND deal_stage IN ('trial_sales_assisted', 'closed_won')
),
leads AS (
    SELECT account_id, CAST(NULL AS VARCHAR) AS trial_id, 'lead_worked' AS accepted_by,
           lead_stage_changed_on AS accepted_on
    FROM crm.leads
    WHERE lead_stage_changed_on IS NOT NULL
      AND lead_stage NOT IN ('disqualified', 'new', 'interested')
),
lifecycle AS (
    SELECT account_id, CAST(NULL AS VARCHAR) AS trial_id, 'lifecycle_sql' AS accepted_by,
           lifecycle_stage_changed_on AS accepted_on
    FROM crm.companies
    WHERE lifecycle_stage_changed_on IS NOT NULL
      AND lifecycle_stage IN ('salesqualifiedlead', 'opportunity', 'customer')
),
tasks AS (
    SELECT account_id, CAST(NULL AS VARCHAR) AS trial_id, 'task_completed' AS accepted_by,
           CAST(COALESCE(completed_at, CAST(read_on AS TIMESTAMP)) AS DATE) AS accepted_on
    FROM crm.tasks
    WHERE status = 'COMPLETED'
)
SELECT account_id, trial_id, accepted_by, min(accepted_on) AS accepted_on
FROM (
    SELECT * FROM deals
    UNION ALL SELECT * FROM leads
    UNION ALL SELECT * FROM lifecycle
    UNION ALL SELECT * FROM tasks
) AS accepted
GROUP BY account_id, trial_id, accepted_by
ORDER BY account_id, accepted_on, accepted_by
