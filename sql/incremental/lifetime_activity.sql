-- Activity over all history: recency, integrations, and trial events.
--
-- An incremental view: pqlsync runs it over one window of events at a time,
-- [$increment_from, $increment_to), keeps the result for settled days at [incremental] url,
-- and each run adds only the days since the last. The header says how two windows' rows for
-- the same key combine. Counting integrations per window and summing is exact because the
-- copies of a message share its timestamp, so they always fall in the same window.
--
-- Integrations are counted once per message id by grouping on the id first, rather than with
-- count(DISTINCT …) FILTER (…): DataFusion gives every account its own distinct-set for that,
-- about 12 KB each, outside the memory limit.
-- @key account_id
-- @merge last_seen_at = max, integrations_connected = sum
-- @merge first_trial_started_at = min, last_trial_opened_at = max, last_trial_ended_at = max
WITH per_integration AS (
    -- One row per account and integration message, plus one (integration_message NULL) for
    -- all its other events.
    SELECT
        account_id,
        CASE WHEN event = 'integration_connected' THEN message_id END               AS integration_message,
        max(event_at)                                                             AS last_seen_at,
        min(event_at) FILTER (WHERE event = 'trial_started')                      AS first_trial_started_at,
        max(event_at) FILTER (WHERE event IN ('trial_started', 'trial_extended')) AS last_trial_opened_at,
        max(event_at) FILTER (WHERE event = 'trial_ended')                        AS last_trial_ended_at
    FROM stg_tracks
    WHERE event_at >= $increment_from
      AND event_at < $increment_to
    GROUP BY 1, 2
)
SELECT
    account_id,
    max(last_seen_at)               AS last_seen_at,
    count(integration_message)      AS integrations_connected,
    min(first_trial_started_at)     AS first_trial_started_at,
    max(last_trial_opened_at)       AS last_trial_opened_at,
    max(last_trial_ended_at)        AS last_trial_ended_at
FROM per_integration
GROUP BY account_id
