-- Nested aggregation: a view counts page views per user; the outer query
-- counts users per view count. The outer aggregate consumes the view's
-- retractions (a user moving from count 1 to 2 leaves bucket 1). The final
-- state equals the batch answer over the whole input.
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

CREATE VIEW user_counts AS
SELECT user_id, COUNT(*) AS cnt
FROM user_events
WHERE event_type = 'page-view'
GROUP BY user_id;

CREATE TABLE count_buckets (
    cnt BIGINT,
    users BIGINT,
    max_user INT,
    PRIMARY KEY (cnt) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'count-buckets',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO count_buckets
SELECT cnt, COUNT(*), MAX(user_id)
FROM user_counts
GROUP BY cnt;
