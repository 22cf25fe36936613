-- The page_views pipeline (examples/page_views.sql): views and distinct users
-- per page, to an upsert-kafka sink. One batch: one line per page, in the
-- order the pages first appear among page-view events.
CREATE TABLE user_events (
    event_type STRING,
    user_id INT,
    page_id INT,
    `timestamp` DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'user-events',
    'format' = 'json'
);

CREATE TABLE page_views (
    page_id INT,
    views BIGINT,
    users BIGINT,
    PRIMARY KEY (page_id) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'page-views',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO page_views
SELECT page_id, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users
FROM user_events
WHERE event_type = 'page-view'
GROUP BY page_id;
