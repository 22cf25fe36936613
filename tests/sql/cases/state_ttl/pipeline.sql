-- 'table.exec.state.ttl' under `runnel test`: processing time is fixed
-- (--now, default 0), so no group is ever idle and even a 1 ms TTL
-- changes nothing; the result equals the page_views case. Expiry itself is
-- covered by the unit tests with an injected clock (test_ops:
-- test_aggregate_state_ttl*).
SET 'table.exec.state.ttl' = '1 ms';

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
