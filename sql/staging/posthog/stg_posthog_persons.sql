-- PostHog's persons model: for each distinct id, the person it belongs to now, and that
-- person's latest email and deletion flag. Each export holds the persons that changed since
-- the last one, so a distinct id appears once per change: the highest
-- person_distinct_id_version maps the id (a merge moves it to another person), and the
-- highest person_version carries the person's latest properties
-- (https://posthog.com/docs/cdp/batch-exports/s3#persons-model).
-- Without [sources.posthog] persons the table is empty, and events keep the person_id PostHog
-- resolved when it ingested them.
WITH mapping AS (
    SELECT distinct_id, person_id
    FROM (
        SELECT
            distinct_id,
            person_id,
            row_number() OVER (
                PARTITION BY distinct_id
                ORDER BY person_distinct_id_version DESC NULLS LAST,
                         _inserted_at DESC NULLS LAST,
                         person_id DESC
            ) AS recency
        FROM raw.posthog_persons
        WHERE distinct_id IS NOT NULL AND person_id IS NOT NULL
    ) AS m
    WHERE recency = 1
),
person AS (
    SELECT
        person_id,
        last_value(properties ORDER BY person_version NULLS FIRST, _inserted_at NULLS FIRST, properties) AS properties,
        last_value(COALESCE(is_deleted, false) ORDER BY person_version NULLS FIRST, _inserted_at NULLS FIRST, properties) AS is_deleted
    FROM raw.posthog_persons
    WHERE person_id IS NOT NULL
    GROUP BY person_id
)
SELECT
    m.distinct_id,
    m.person_id,
    lower(trim(json_as_text(p.properties, 'email'))) AS email,
    COALESCE(p.is_deleted, false)                    AS is_deleted
FROM mapping AS m
LEFT JOIN person AS p ON p.person_id = m.person_id
