-- Product activity per account, user and day: the grain every windowed activity feature
-- (activity_14d.sql, user_features.sql) is computed from.
--
-- An incremental view (see lifetime_activity.sql): each run groups only the days since the
-- last, and the windows read these rows instead of the raw events. `@retain day 14 days`
-- keeps the last 14 days of rows, the longest window read from it; widen it when a feature
-- reads further back. (The 14 days before the window need only who was active: the much
-- cheaper user_days.sql keeps those.)
--
-- The copies of a message are grouped on the message and its content (the copies Segment
-- delivers are exact), not with min(user_id) / min(event), which keep one string allocation
-- per message. Copies share their timestamp, so they always fall on the same day and in the
-- same increment: counting per day and summing is exact.
-- @key account_id, user_id, day
-- @merge events = sum, teammates_invited = sum, deals_created = sum, pricing_page_views = sum
-- @merge paid_feature_events = sum, help_requested = sum, meeting_booked = sum
-- @merge limit_reached = sum, integrations_connected = sum, duplicate_events = sum
-- @merge last_meeting_booked_at = max, last_help_requested_at = max
-- @retain day 14 days
WITH messages AS (
    -- One row per message: Segment may deliver a message more than once, with the same id.
    -- A row without an id is keyed by its content, so exact copies still count once. Should
    -- two rows share an id but not their content, each counts: nothing is dropped.
    SELECT
        account_id,
        COALESCE(message_id, concat_ws('|', user_id, event, CAST(event_at AS VARCHAR))) AS message_key,
        user_id,
        event,
        event_at,
        count(*)       AS copies
    FROM stg_tracks
    WHERE event_at >= $increment_from
      AND event_at < $increment_to
    GROUP BY 1, 2, 3, 4, 5
)
SELECT
    account_id,
    user_id,
    CAST(event_at AS DATE)                                                   AS day,
    count(*)                                                                 AS events,
    count(*) FILTER (WHERE event = 'teammate_invited')                       AS teammates_invited,
    count(*) FILTER (WHERE event = 'deal_created')                           AS deals_created,
    count(*) FILTER (WHERE event IN ('pricing_page_viewed', 'upgrade_page_viewed')) AS pricing_page_views,
    count(*) FILTER (WHERE event = 'paid_feature_used')                      AS paid_feature_events,
    count(*) FILTER (WHERE event = 'help_requested')                         AS help_requested,
    count(*) FILTER (WHERE event = 'meeting_booked')                         AS meeting_booked,
    count(*) FILTER (WHERE event IN ('limit_reached', 'plan_limit_reached')) AS limit_reached,
    count(*) FILTER (WHERE event = 'integration_connected')                  AS integrations_connected,
    max(event_at) FILTER (WHERE event = 'meeting_booked')                    AS last_meeting_booked_at,
    max(event_at) FILTER (WHERE event = 'help_requested')                    AS last_help_requested_at,
    sum(copies - 1)                                                          AS duplicate_events
FROM messages
GROUP BY 1, 2, 3
