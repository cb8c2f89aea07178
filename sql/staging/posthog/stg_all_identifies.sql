-- PostHog's identify calls in the shape of Segment's identifies: `$identify` (posthog.identify)
-- and `$set` (person properties set on their own). The account is the event's group (call
-- `group()` before `identify()` in the app, or send `$groups` with the identify); the email
-- is the person's latest in the persons model, else the one the call set, else the person's
-- at ingestion. A deleted person has no email, so no contact is written for them.
SELECT
    account_id,
    user_id,
    CASE WHEN NOT person_deleted THEN lower(trim(COALESCE(
        person_email,
        json_as_text(properties, '$set', 'email'),
        json_as_text(person_properties, 'email')
    ))) END                                AS email,
    event_at                               AS identified_at
FROM stg_posthog_events
WHERE posthog_event IN ('$identify', '$set')
