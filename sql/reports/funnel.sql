-- funnel: PQL → SQL → closed won per trial-start week (ISO week, Monday start, UTC).
-- PQL: a trial started (every product-qualified trial counts). Routed to sales: pqlsync routed
-- it sales-assisted (its deal in the Sales-Assisted stage, or a meeting booked): automation.
-- SQL: sales accepted it in HubSpot (`trial_outcomes.sales_qualified`, from the
-- `sales_acceptance` table): a person moved its deal or lead forward, set the lifecycle stage
-- to SQL or later, or completed a pqlsync task on the account. routed_and_accepted: both.
-- Closed won: the account paid (Stripe subscription billing after the trial) by the as-of day;
-- closed_won_from_sql counts those that were SQLs, closed_won_self_serve the rest.
-- Rates: sql / pql, closed_won_from_sql / sql, closed_won / pql.
SELECT
    cohort_week,
    count(*)                                                        AS pql,
    count(*) FILTER (WHERE routed_to_sales)                         AS routed_to_sales,
    count(*) FILTER (WHERE sales_qualified)                         AS sql,
    count(*) FILTER (WHERE routed_to_sales AND sales_qualified)     AS routed_and_accepted,
    count(*) FILTER (WHERE converted_paid)                          AS closed_won,
    count(*) FILTER (WHERE converted_paid AND sales_qualified)      AS closed_won_from_sql,
    count(*) FILTER (WHERE converted_paid AND NOT sales_qualified)  AS closed_won_self_serve,
    round(CAST(count(*) FILTER (WHERE sales_qualified) AS DOUBLE) / count(*), 4) AS pql_to_sql_rate,
    round(CAST(count(*) FILTER (WHERE converted_paid AND sales_qualified) AS DOUBLE)
        / nullif(count(*) FILTER (WHERE sales_qualified), 0), 4)    AS sql_to_won_rate,
    round(CAST(count(*) FILTER (WHERE converted_paid) AS DOUBLE) / count(*), 4) AS pql_to_won_rate
FROM trial_outcomes
GROUP BY cohort_week
ORDER BY cohort_week
