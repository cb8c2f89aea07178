-- Accounts from PostHog's group analytics: `$groupidentify` events of the account group type
-- ($group_type) before the end of the scoring day. Each one sets some of the group's
-- properties (`$group_set`); like PostHog, a property keeps the value of the latest event that
-- set it, so an update that sends only `employees` keeps the name and website sent earlier.
-- An account whose first group event is later than the scoring day does not exist yet.
WITH calls AS (
    SELECT
        json_as_text(properties, '$group_key')  AS account_id,
        json_get_json(properties, '$group_set') AS traits,
        "timestamp"                             AS grouped_at,
        uuid
    FROM raw.posthog_events
    WHERE event = '$groupidentify'
      AND json_as_text(properties, '$group_type') = $group_type
      AND "timestamp" < $as_of
)
SELECT
    account_id,
    last_value(json_as_text(traits, 'name') ORDER BY grouped_at, uuid)
        FILTER (WHERE json_contains(traits, 'name'))      AS name,
    last_value(json_as_text(traits, 'website') ORDER BY grouped_at, uuid)
        FILTER (WHERE json_contains(traits, 'website'))   AS website,
    last_value(COALESCE(
        json_get_int(traits, 'employees'),
        TRY_CAST(json_as_text(traits, 'employees') AS BIGINT)
    ) ORDER BY grouped_at, uuid)
        FILTER (WHERE json_contains(traits, 'employees')) AS employees,
    last_value(lower(trim(json_as_text(traits, 'industry'))) ORDER BY grouped_at, uuid)
        FILTER (WHERE json_contains(traits, 'industry'))  AS industry,
    last_value(json_as_text(traits, 'plan') ORDER BY grouped_at, uuid)
        FILTER (WHERE json_contains(traits, 'plan'))      AS plan,
    min(grouped_at)                                       AS first_grouped_at
FROM calls
WHERE account_id IS NOT NULL
GROUP BY account_id
