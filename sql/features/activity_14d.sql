-- Product activity in the 14-day window [$as_of - 14 days, $as_of): the scoring day and the
-- 13 days before it. One pass over the window feeds every windowed count.
--
-- Distinct users and days are counted by grouping, not with count(DISTINCT …): DataFusion
-- gives every account its own distinct-set for that, about 12 KB each, outside the memory
-- limit. The messages are grouped twice in one pass (GROUPING SETS): per (account, user),
-- which also carries the event counts, and per (account, day).
WITH messages AS (
    -- One row per message: Segment may deliver a message more than once, with the same id.
    -- A row without an id is keyed by its content, so exact copies still count once.
    SELECT
        account_id,
        COALESCE(message_id, concat_ws('|', user_id, event, CAST(event_at AS VARCHAR))) AS message_key,
        min(user_id)   AS user_id,
        min(event)     AS event,
        min(event_at)  AS event_at,
        count(*)       AS copies
    FROM stg_tracks
    WHERE event_at >= $as_of - INTERVAL '14 days'
      AND event_at < $as_of
    GROUP BY 1, 2
),
per_user_or_day AS (
    SELECT
        account_id,
        user_id,
        CAST(event_at AS DATE)                                                   AS day,
        -- 1 in the (account, day) rows, where the user is aggregated away.
        grouping(user_id)                                                        AS per_day,
        count(*)                                                                 AS events,
        count(*) FILTER (WHERE event = 'teammate_invited')                       AS teammates_invited,
        count(*) FILTER (WHERE event = 'deal_created')                           AS deals_created,
        count(*) FILTER (WHERE event IN ('pricing_page_viewed', 'upgrade_page_viewed')) AS pricing_page_views,
        count(*) FILTER (WHERE event = 'paid_feature_used')                      AS paid_feature_events,
        count(*) FILTER (WHERE event = 'help_requested')                         AS help_requested,
        count(*) FILTER (WHERE event = 'meeting_booked')                         AS meeting_booked,
        sum(copies - 1)                                                          AS duplicate_events
    FROM messages
    GROUP BY GROUPING SETS ((account_id, user_id), (account_id, CAST(event_at AS DATE)))
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
    sum(duplicate_events) FILTER (WHERE per_day = 0)                         AS duplicate_events_14d
FROM per_user_or_day
GROUP BY account_id
