-- The Redis side of S2 (docs/redis.md): views per page to a sorted set
-- (ZADD page -> count) and views per user to a hash (HSET user_id ->
-- count) with a TTL. The aggregates' intermediate counts are coalesced
-- per target until the flush at the end: one ZADD per page and one HSET
-- per user, with the final counts, in the order targets were first
-- touched; then one EXPIRE for the hash's key.
CREATE TABLE activity (
    user_id BIGINT,
    action STRING,
    page STRING,
    `timestamp` STRING
) WITH ('connector' = 'kafka', 'topic' = 'user-activity', 'format' = 'json');

CREATE TABLE top_pages (page STRING, views BIGINT)
WITH ('connector' = 'redis', 'url' = 'redis://localhost:6379/0', 'command' = 'ZADD',
      'key' = 'top_pages', 'field.column' = 'page', 'value.column' = 'views');

CREATE TABLE user_views (user_id BIGINT, views BIGINT)
WITH ('connector' = 'redis', 'host' = 'localhost', 'command' = 'HSET', 'key' = 'user_views_1h',
      'field.column' = 'user_id', 'value.column' = 'views', 'ttl' = '1 h');

INSERT INTO top_pages SELECT page, COUNT(*) FROM activity WHERE action = 'view' GROUP BY page;
INSERT INTO user_views SELECT user_id, COUNT(*) FROM activity WHERE action = 'view' GROUP BY user_id;
