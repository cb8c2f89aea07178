-- PostHog's events model (https://posthog.com/docs/cdp/batch-exports/s3#events-model) in the
-- columns the rest of the staging reads; `properties` and `person_properties` are JSON text,
-- read with the JSON functions (README, "SQL conventions").
--
-- * account_id: the event's group of [sources.posthog] group_type ($group_type), from the
--   `$groups` property every PostHog SDK sends once `group()` was called. ($group_0…4 hold
--   the same keys by the project's group-type index, which the export does not name.)
-- * user_id: the person, as the persons model maps the distinct id now (a later identify may
--   have merged an anonymous person into a known one), else as PostHog resolved it at
--   ingestion. Events captured without a person profile ($process_person_profile = false,
--   PostHog's anonymous events) have no user, like Segment's anonymous events.
-- * event: the name in seeds/posthog/event_aliases.csv if it is there, else PostHog's name in
--   snake_case ("Teammate Invited" -> teammate_invited), the way Segment names its tables.
--   PostHog's own events ($pageview, $autocapture, $identify, …) stay NULL unless the seed
--   names them, so they count as product usage only when the analyst says so.
--
-- The JSON is read in the subquery, before the joins: DataFusion 55's optimizer fails
-- ("ambiguous __datafusion_extracted_N") when JSON functions over a scan sit above a join.
SELECT
    e.message_id,
    e.account_id,
    CASE WHEN e.has_person THEN COALESCE(p.person_id, e.person_id) END AS user_id,
    e.distinct_id,
    e.posthog_event,
    COALESCE(
        a.event,
        CASE WHEN e.posthog_event NOT LIKE '$%' THEN
            btrim(regexp_replace(lower(e.posthog_event), '[^a-z0-9]+', '_', 'g'), '_')
        END
    )                                                        AS event,
    e.event_at,
    e.properties,
    e.person_properties,
    p.email                                                  AS person_email,
    COALESCE(p.is_deleted, false)                            AS person_deleted
FROM (
    SELECT
        uuid                                                  AS message_id,
        json_as_text(properties, '$groups', $group_type)      AS account_id,
        json_get_bool(properties, '$process_person_profile') IS DISTINCT FROM false AS has_person,
        person_id,
        distinct_id,
        event                                                 AS posthog_event,
        "timestamp"                                           AS event_at,
        properties,
        person_properties
    FROM raw.posthog_events
) AS e
LEFT JOIN event_aliases AS a ON a.posthog_event = e.posthog_event
LEFT JOIN stg_posthog_persons AS p ON p.distinct_id = e.distinct_id
