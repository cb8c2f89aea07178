-- Product activity in the 14-day window: the scoring day and the 13 days before it, from the
-- per-(account, user, day) rows of activity_days.sql. One pass over the window feeds every
-- windowed count.
--
-- The distinct users and days are counted by grouping the window's rows twice (GROUPING
-- SETS), not with count(DISTINCT …): DataFusion gives every account its own distinct-set for
-- that, about 12 KB each, outside the memory limit.
WITH per_user_or_day AS (
    SELECT
        account_id,
        user_id,
        day,
        grouping(user_id)               AS per_day,
        sum(events)                     AS events,
        sum(teammates_invited)          AS teammates_invited,
        sum(deals_created)              AS deals_created,
        sum(pricing_page_views)         AS pricing_page_views,
        sum(paid_feature_events)        AS paid_feature_events,
        sum(help_requested)             AS help_requested,
        sum(meeting_booked)             AS meeting_booked,
        sum(limit_reached)              AS limit_reached,
        max(last_meeting_booked_at)     AS last_meeting_booked_at,
        max(last_help_requested_at)     AS last_help_requested_at,
        sum(duplicate_events)           AS duplicate_events
    FROM activity_days
    WHERE day >= $as_of_date - INTERVAL '13 days'
      AND day <= $as_of_date
    GROUP BY GROUPING SETS ((account_id, user_id), (account_id, day))
)
SELECT
    account_id,
    sum(events) FILTER (WHERE per_day = 0)                                   AS events_14d,
    count(*) FILTER (WHERE per_day = 0 AND user_id IS NOT NULL)              AS active_users_14d,
    count(*) FILTER (WHERE per_day = 1 AND day IS NOT NULL)                  AS active_days_14d,
    sum(teammates_invited) FILTER (WHERE per_day = 0)                        AS teammates_invited_14d,
    sum(deals_created) FILTER (WHERE per_day = 0)                            AS deals_created_14d,
    sum(pricing_page_views) FILTER (WHERE per_day = 0)                       AS pricing_page_views_14d,
    sum(paid_feature_events) FILTER (WHERE per_day = 0)                      AS paid_feature_events_14d,
    sum(help_requested) FILTER (WHERE per_day = 0)                           AS help_requested_14d,
    sum(meeting_booked) FILTER (WHERE per_day = 0)                           AS meeting_booked_14d,
    sum(limit_reached) FILTER (WHERE per_day = 0)                            AS limit_reached_14d,
    max(last_meeting_booked_at) FILTER (WHERE per_day = 0)                   AS last_meeting_booked_at,
    max(last_help_requested_at) FILTER (WHERE per_day = 0)                   AS last_help_requested_at,
    sum(duplicate_events) FILTER (WHERE per_day = 0)                         AS duplicate_events_14d
FROM per_user_or_day
GROUP BY account_id
