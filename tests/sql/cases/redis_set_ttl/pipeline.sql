-- SET with key templates: the last page per user under 'last:{user_id}'
-- with a TTL in whole seconds (EX), and each view as a JSON object of the
-- row (no 'value.column') under 'view:{user_id}:{page}' with a TTL in
-- milliseconds (PX). Appends are coalesced per key too: the last write of
-- a key wins, at the place the key was first written.
CREATE TABLE activity (
    user_id BIGINT,
    action STRING,
    page STRING,
    `timestamp` STRING
) WITH ('connector' = 'kafka', 'topic' = 'user-activity', 'format' = 'json');

CREATE TABLE last_page (user_id BIGINT, page STRING)
WITH ('connector' = 'redis', 'host' = 'localhost', 'port' = '6380', 'password' = '${REDIS_TEST_PASSWORD}',
      'command' = 'SET', 'key' = 'last:{user_id}', 'value.column' = 'page', 'ttl' = '90 s');

CREATE TABLE views (user_id BIGINT, page STRING, `timestamp` STRING)
WITH ('connector' = 'redis', 'url' = 'redis://localhost', 'command' = 'SET',
      'key' = 'view:{user_id}:{page}', 'ttl' = '1500 ms');

INSERT INTO last_page SELECT user_id, page FROM activity;
INSERT INTO views SELECT user_id, page, `timestamp` FROM activity WHERE action = 'view';
