-- Accounts: the latest group call per group_id before the end of the scoring day wins.
-- An account whose first group call is later than the scoring day does not exist yet.
SELECT account_id, name, website, employees, industry, plan, first_grouped_at
FROM (
    SELECT
        group_id                              AS account_id,
        name,
        website,
        CAST(employees AS BIGINT)             AS employees,
        lower(trim(industry))                 AS industry,
        plan,
        min("timestamp") OVER (PARTITION BY group_id) AS first_grouped_at,
        row_number() OVER (
            PARTITION BY group_id
            ORDER BY "timestamp" DESC, received_at DESC NULLS LAST, id DESC NULLS LAST
        )                                     AS recency
    FROM raw.groups
    WHERE group_id IS NOT NULL
      AND "timestamp" < $as_of
) AS g
WHERE recency = 1
