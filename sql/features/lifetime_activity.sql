-- Activity over all history before $as_of: recency, integrations, and trial events.
SELECT
    account_id,
    max(event_at)                                                             AS last_seen_at,
    count(DISTINCT message_id) FILTER (WHERE event = 'integration_connected') AS integrations_connected,
    min(event_at) FILTER (WHERE event = 'trial_started')                      AS first_trial_started_at,
    max(event_at) FILTER (WHERE event IN ('trial_started', 'trial_extended')) AS last_trial_opened_at,
    max(event_at) FILTER (WHERE event = 'trial_ended')                        AS last_trial_ended_at
FROM stg_tracks
WHERE event_at < $as_of
GROUP BY account_id
