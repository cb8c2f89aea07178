-- Product activity in the 14-day window [$as_of - 14 days, $as_of): the scoring day and the
-- 13 days before it. One pass over the window feeds every windowed count.
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
)
SELECT
    account_id,
    count(*)                                                                 AS events_14d,
    count(DISTINCT user_id)                                                  AS active_users_14d,
    count(DISTINCT CAST(event_at AS DATE))                                   AS active_days_14d,
    count(*) FILTER (WHERE event = 'teammate_invited')                       AS teammates_invited_14d,
    count(*) FILTER (WHERE event = 'deal_created')                           AS deals_created_14d,
    count(*) FILTER (WHERE event IN ('pricing_page_viewed', 'upgrade_page_viewed')) AS pricing_page_views_14d,
    count(*) FILTER (WHERE event = 'paid_feature_used')                      AS paid_feature_events_14d,
    count(*) FILTER (WHERE event = 'help_requested')                         AS help_requested_14d,
    count(*) FILTER (WHERE event = 'meeting_booked')                         AS meeting_booked_14d,
    sum(copies - 1)                                                          AS duplicate_events_14d
FROM messages
GROUP BY account_id
