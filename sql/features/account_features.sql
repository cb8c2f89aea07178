-- account_features: one row per account known from groups before the end of the scoring day.
-- The columns down to mrr are the contract pqlsync checks (names and types); anything after
-- them is extra and can be scored too. Counts are 0, never null.
SELECT
    g.account_id,
    COALESCE(s.seats, 0)                    AS seats,
    COALESCE(a.events_14d, 0)               AS events_14d,
    COALESCE(a.active_users_14d, 0)         AS active_users_14d,
    COALESCE(a.active_days_14d, 0)          AS active_days_14d,
    COALESCE(a.teammates_invited_14d, 0)    AS teammates_invited_14d,
    COALESCE(l.integrations_connected, 0)   AS integrations_connected,
    COALESCE(a.deals_created_14d, 0)        AS deals_created_14d,
    COALESCE(r.rows_imported_14d, 0)        AS rows_imported_14d,
    COALESCE(a.pricing_page_views_14d, 0)   AS pricing_page_views_14d,
    COALESCE(a.paid_feature_events_14d, 0)  AS paid_feature_events_14d,
    COALESCE(a.help_requested_14d, 0)       AS help_requested_14d,
    COALESCE(a.meeting_booked_14d, 0)       AS meeting_booked_14d,
    l.last_seen_at,
    CAST($as_of_date - CAST(l.last_seen_at AS DATE) AS BIGINT) AS days_since_last_activity,
    g.employees,
    g.industry,
    d.email_domain,
    CASE WHEN d.email_domain IS NULL THEN NULL ELSE f.domain IS NOT NULL END AS free_email_domain,
    t.trial_start,
    t.trial_end,
    COALESCE(t.trial_status, 'none')        AS trial_status,
    COALESCE(b.subscription_status, 'none') AS subscription_status,
    CASE WHEN b.account_id IS NULL THEN 0 ELSE b.mrr END AS mrr,
    -- extras
    g.name                                  AS account_name,
    g.plan,
    t.trial_id,
    b.mrr_currency,
    COALESCE(a.duplicate_events_14d, 0)     AS duplicate_events_14d,
    -- growth and expansion: the team growing, limits hit, seats used against seats paid
    COALESCE(p.active_users_prev_14d, 0)    AS active_users_prev_14d,
    COALESCE(a.active_users_14d, 0) - COALESCE(p.active_users_prev_14d, 0) AS active_users_growth_14d,
    COALESCE(a.limit_reached_14d, 0)        AS limit_reached_14d,
    b.paid_seats,
    CASE WHEN b.paid_seats > 0
         THEN CAST(COALESCE(a.active_users_14d, 0) AS DOUBLE) / CAST(b.paid_seats AS DOUBLE)
    END                                     AS seat_utilization,
    -- paid features used on a plan below them: list your top plans here
    CASE WHEN lower(g.plan) IN ('enterprise') THEN 0
         ELSE COALESCE(a.paid_feature_events_14d, 0)
    END                                     AS paid_feature_events_lower_plan_14d,
    -- the latest meeting booked and help request of the window (playbook triggers)
    a.last_meeting_booked_at,
    a.last_help_requested_at
FROM stg_groups AS g
LEFT JOIN activity_14d      AS a ON a.account_id = g.account_id
LEFT JOIN active_users_prev_14d AS p ON p.account_id = g.account_id
LEFT JOIN lifetime_activity AS l ON l.account_id = g.account_id
LEFT JOIN rows_imported_14d AS r ON r.account_id = g.account_id
LEFT JOIN seats             AS s ON s.account_id = g.account_id
LEFT JOIN account_domain    AS d ON d.account_id = g.account_id
LEFT JOIN (SELECT DISTINCT lower(domain) AS domain FROM free_email_domains) AS f ON f.domain = d.email_domain
LEFT JOIN trials            AS t ON t.account_id = g.account_id
LEFT JOIN billing           AS b ON b.account_id = g.account_id
