-- user_features: one row per (account, user) that ever sent an event to the account, before the
-- end of the scoring day. pqlsync scores each row with `[[scoring.user]]` (the user's 0–100
-- engagement), picks each account's champion and power users, and writes the numbers to the
-- user's HubSpot contact. Counts are over the same 14-day window as account_features (the
-- scoring day and the 13 before it) and are 0, never null.
--
-- The contract pqlsync checks: account_id, user_id, events_14d and active_days_14d (which
-- rank the champion when engagement ties), last_active_at. Every other column can be scored
-- and is listed by `pqlsync explain`; the key actions below are also synced to the contact.
-- Emails come from account_contacts.sql: a user without one is scored but has no contact.
WITH in_window AS (
    SELECT
        account_id,
        user_id,
        sum(events)                   AS events_14d,
        count(*)                      AS active_days_14d,
        sum(teammates_invited)        AS teammates_invited_14d,
        sum(integrations_connected)   AS integrations_connected_14d,
        sum(pricing_page_views)       AS pricing_page_views_14d,
        sum(paid_feature_events)      AS paid_feature_events_14d,
        sum(limit_reached)            AS limit_reached_14d,
        sum(deals_created)            AS deals_created_14d
    FROM activity_days
    WHERE day >= $as_of_date - INTERVAL '13 days'
      AND day <= $as_of_date
      AND user_id IS NOT NULL
    GROUP BY account_id, user_id
)
SELECT
    l.account_id,
    l.user_id,
    COALESCE(w.events_14d, 0)                   AS events_14d,
    COALESCE(w.active_days_14d, 0)              AS active_days_14d,
    COALESCE(w.teammates_invited_14d, 0)        AS teammates_invited_14d,
    COALESCE(w.integrations_connected_14d, 0)   AS integrations_connected_14d,
    COALESCE(w.pricing_page_views_14d, 0)       AS pricing_page_views_14d,
    COALESCE(w.paid_feature_events_14d, 0)      AS paid_feature_events_14d,
    COALESCE(w.limit_reached_14d, 0)            AS limit_reached_14d,
    COALESCE(w.deals_created_14d, 0)            AS deals_created_14d,
    l.first_seen_at,
    l.last_seen_at                              AS last_active_at,
    CAST($as_of_date - CAST(l.last_seen_at AS DATE) AS BIGINT) AS days_since_last_active
FROM user_lifetime AS l
LEFT JOIN in_window AS w ON w.account_id = l.account_id AND w.user_id = l.user_id
