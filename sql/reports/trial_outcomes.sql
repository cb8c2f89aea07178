-- trial_outcomes: one row per trial whose start day falls in the report range; every other
-- report table counts these rows.
-- Trial start: the Stripe subscription's trial_start when there is one, else the account's
-- first `trial_started` event (the `trials` feature view). Cohort: the ISO week (Monday start)
-- of the start day. All days are UTC calendar days.
-- Days to Yellow / Green: from the start day to the first daily snapshot (score history) on or
-- after it with tier Yellow or better / Green; "within N days" means at most N.
-- Motion: sales_assisted if any snapshot from the start day to the trial's last day routed the
-- account sales-assisted, else self_serve. Routed to sales: pqlsync routed it sales-assisted
-- with its deal in the Sales-Assisted stage or a meeting booked (automation).
-- SQL (sales_qualified): sales accepted it in HubSpot, as the `sales_acceptance` table defines
-- it: a person moved its deal forward, worked its lead, set the company's lifecycle stage to
-- SQL or later, or completed a pqlsync task on the account, on or after the start day (the
-- deal's move for this trial's deal only). accepted_by: the first way it was accepted.
-- Disqualified: the lead reached the Disqualified stage in any snapshot.
-- observed_from_start: the history has a snapshot of the start day itself; a trial that
-- started before the history began has its activation measured late (backfill earlier).
-- Paid: as the `trial_paid` view defines it (sql/outputs/trial_paid.sql, which calibrate
-- reads too): a Stripe subscription of the account billing (active or past_due) after its
-- trial, or ended after its trial ended; paid_at is that trial's end (the start, without a
-- trial).
-- Converted within 30 days: paid_at at most 30 days after the start day.
WITH trial AS (
    SELECT
        account_id,
        trial_id,
        trial_start,
        trial_end,
        trial_status,
        CAST(trial_start AS DATE)                     AS start_day,
        CAST(date_trunc('week', trial_start) AS DATE) AS cohort_week
    FROM trials
    WHERE CAST(trial_start AS DATE) BETWEEN $report_from AND $report_to
),
snapshots AS (
    SELECT
        t.account_id,
        h.as_of,
        h.tier,
        h.motion,
        h.lead_stage,
        h.deal_stage,
        h.meeting_booked_14d,
        h.as_of <= CAST(t.trial_end AS DATE) AS in_trial
    FROM trial AS t
    JOIN history AS h ON h.account_id = t.account_id
    WHERE h.as_of >= t.start_day AND h.as_of <= $as_of_date
),
firsts AS (
    SELECT
        account_id,
        count(*)                                                   AS snapshots,
        min(as_of)                                                 AS first_snapshot,
        min(as_of) FILTER (WHERE tier IN ('yellow', 'green'))      AS first_yellow_on,
        min(as_of) FILTER (WHERE tier = 'green')                   AS first_green_on,
        bool_or(in_trial AND motion = 'sales_assisted')            AS sales_assisted,
        min(as_of) FILTER (WHERE motion = 'sales_assisted'
            AND (deal_stage = 'trial_sales_assisted' OR meeting_booked_14d > 0)) AS sql_on,
        bool_or(lead_stage = 'disqualified')                       AS disqualified
    FROM snapshots
    GROUP BY account_id
),
paid AS (
    SELECT account_id, paid_at FROM trial_paid
),
accepted AS (
    SELECT
        t.account_id,
        min(a.accepted_on)                          AS accepted_on,
        first_value(a.accepted_by ORDER BY a.accepted_on, a.accepted_by) AS accepted_by
    FROM trial AS t
    JOIN sales_acceptance AS a
      ON a.account_id = t.account_id
     AND a.accepted_on >= t.start_day
     AND (a.trial_id IS NULL OR a.trial_id = t.trial_id)
    GROUP BY t.account_id
)
SELECT
    t.cohort_week,
    t.account_id,
    t.trial_id,
    t.trial_start,
    t.trial_end,
    t.trial_status,
    COALESCE(f.snapshots, 0)                                    AS snapshots,
    COALESCE(f.first_snapshot = t.start_day, false)             AS observed_from_start,
    CAST(f.first_yellow_on - t.start_day AS BIGINT)             AS days_to_yellow,
    CAST(f.first_green_on - t.start_day AS BIGINT)              AS days_to_green,
    CASE WHEN COALESCE(f.sales_assisted, false) THEN 'sales_assisted' ELSE 'self_serve' END
                                                                AS motion,
    f.sql_on IS NOT NULL                                        AS routed_to_sales,
    a.accepted_on IS NOT NULL                                   AS sales_qualified,
    a.accepted_on,
    a.accepted_by,
    COALESCE(f.disqualified, false)                             AS disqualified,
    p.paid_at,
    p.paid_at IS NOT NULL AND p.paid_at >= t.trial_start        AS converted_paid,
    p.paid_at IS NOT NULL AND p.paid_at >= t.trial_start
        AND CAST(CAST(p.paid_at AS DATE) - t.start_day AS BIGINT) <= 30
                                                                AS converted_paid_30d,
    CASE WHEN p.paid_at >= t.trial_start
        THEN CAST(CAST(p.paid_at AS DATE) - t.start_day AS BIGINT) END AS days_to_paid,
    CAST($as_of_date - t.start_day AS BIGINT)                   AS days_observed
FROM trial AS t
LEFT JOIN firsts AS f ON f.account_id = t.account_id
LEFT JOIN paid AS p ON p.account_id = t.account_id
LEFT JOIN accepted AS a ON a.account_id = t.account_id
ORDER BY t.cohort_week, t.account_id
