-- The account's domain: its website's host (without www.), else the email domain most of its
-- users share (ties broken alphabetically).
WITH email_domains AS (
    SELECT account_id, split_part(email, '@', 2) AS domain, count(DISTINCT user_id) AS users
    FROM stg_identifies
    WHERE email LIKE '%_@_%'
    GROUP BY 1, 2
),
top_email_domain AS (
    SELECT account_id, domain
    FROM (
        SELECT account_id, domain,
               row_number() OVER (PARTITION BY account_id ORDER BY users DESC, domain) AS rank
        FROM email_domains
    ) AS ranked
    WHERE rank = 1
)
SELECT
    g.account_id,
    COALESCE(
        NULLIF(regexp_replace(lower(trim(g.website)), '^([a-z][a-z0-9+.-]*://)?(www\.)?([^/:?#]+).*$', '\3'), ''),
        e.domain
    ) AS email_domain
FROM stg_groups AS g
LEFT JOIN top_email_domain AS e ON e.account_id = g.account_id
