-- S2 activity: a real-time activity monitor in Redis (../shared/SCENARIOS.md).
--
-- Input: topic `user-activity`, `timestamp` is event time (out of order by
-- up to 5 s: the watermark is 10 s behind the newest event). Three Redis
-- keys, all written with absolute values (SET, ZADD, HSET; never INCR), so
-- a replay writes the same values again (the counts themselves live in
-- memory: after a restart they start again from the last committed
-- offsets, docs/kafka.md):
--
-- * `top_pages` (sorted set, ZADD): page -> number of `view` events, all
--   time. An unbounded GROUP BY; late events count too.
-- * `active_users` (string, SET): the number of DISTINCT users with any
--   event in the 5 minutes [E - 5 min, E), where E is the latest whole
--   minute the watermark has passed. A HOP window of 10 minutes sliding
--   by 1 minute counts, per window [E - 10 min, E), the distinct users of
--   its second half; the extra 5 minutes make a window (and so a write)
--   exist for 5 minutes after the last event, so a quiet stream ends at
--   `active_users` = 0 instead of keeping its last count.
-- * `user_views_1h` (hash, HSET): user_id -> number of `view` events in
--   the hour [E - 1 h, E), same E. Per user, a HOP window of 2 hours
--   sliding by 1 minute counts the views of its second half; a user whose
--   hour holds no views gets NULL, which the sink turns into HDEL. So a
--   field exists exactly for the users with views in the last hour and
--   holds their count: no stale counts, no TTL needed.
--
-- What a Redis reader sees: active_users and user_views_1h change once a
-- minute of event time (when the watermark passes a minute boundary, then
-- at the next flush: at most the commit interval, 1 s, later); between
-- changes they hold the previous minute's figures. top_pages changes at
-- every flush. Each key's changes since the last flush go in one pipelined
-- round trip; the three keys are flushed one after the other, so for a
-- moment one can show a newer minute than another. Rows behind the
-- watermark (over 10 s late) are left
-- out of the windows (counted in the log) but still counted in top_pages.
-- When the topic goes quiet, event time follows the wall clock after
-- 'scan.watermark.quiet-timeout', so the figures still decay to 0/empty.
-- At the end of a bounded input (`runnel test`) every window fires: the
-- final contents are those of a time after all events: active_users 0,
-- user_views_1h empty, top_pages the totals.
--
-- Dashboard: 'dashboard' = 'true' shows the three tables on `runnel run
-- --http` (docs/dashboard.md) as well: top_pages as bars by page, the
-- latest figure per user, and active_users as a line over the minutes
-- (keyed by window_end, so each minute is one row, newest first; the
-- last hour kept). window_end is there for the dashboard: the Redis SET
-- writes only `users`. It changes nothing written to Redis.
--
-- Redis outages: the sink keeps its writes and retries with backoff
-- forever (docs/redis.md), reading no input meanwhile and committing no
-- offsets past unwritten figures; when Redis is back everything arrives.
--
--   runnel gen s2 --out data/ && runnel test examples/s2_activity.sql --input data --output out
--   REDIS_URL=redis://user:secret@redis:6379/0 runnel run examples/s2_activity.sql --brokers localhost:9092
-- (`runnel test` connects to nothing: the Redis commands go to out/redis.jsonl.
-- REDIS_URL defaults to redis://localhost:6379/0.)
CREATE TABLE user_activity (
  user_id BIGINT NOT NULL,
  action STRING NOT NULL,
  page STRING NOT NULL,
  `timestamp` TIMESTAMP(3) NOT NULL,
  WATERMARK FOR `timestamp` AS `timestamp` - INTERVAL '10' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'user-activity',
  'format' = 'json',
  'scan.watermark.idle-timeout' = '5 s',
  'scan.watermark.quiet-timeout' = '30 s'
);

CREATE TABLE active_users (
  window_end TIMESTAMP(3),
  users BIGINT
) WITH (
  'connector' = 'redis',
  'url' = '${REDIS_URL:-redis://localhost:6379/0}',
  'command' = 'SET',
  'key' = 'active_users',
  'value.column' = 'users',
  'dashboard' = 'true',
  'dashboard.key' = 'window_end',
  'dashboard.sort' = 'window_end DESC',
  'dashboard.max-keys' = '60'
);

CREATE TABLE top_pages (
  page STRING,
  views BIGINT
) WITH (
  'connector' = 'redis',
  'url' = '${REDIS_URL:-redis://localhost:6379/0}',
  'command' = 'ZADD',
  'key' = 'top_pages',
  'field.column' = 'page',
  'value.column' = 'views',
  'dashboard' = 'true',
  'dashboard.key' = 'page'
);

CREATE TABLE user_views_1h (
  user_id BIGINT,
  views BIGINT
) WITH (
  'connector' = 'redis',
  'url' = '${REDIS_URL:-redis://localhost:6379/0}',
  'command' = 'HSET',
  'key' = 'user_views_1h',
  'field.column' = 'user_id',
  'value.column' = 'views',
  'dashboard' = 'true',
  'dashboard.key' = 'user_id'
);

-- every event in each 10-minute window [E - 10 min, E) holding it
CREATE VIEW activity_10m AS
SELECT user_id, `timestamp`, window_start, window_end
FROM TABLE(HOP(TABLE user_activity, DESCRIPTOR(`timestamp`), INTERVAL '1' MINUTE, INTERVAL '10' MINUTE));

-- every view in each 2-hour window [E - 2 h, E) holding it
CREATE VIEW views_2h AS
SELECT user_id, `timestamp`, window_start, window_end
FROM TABLE(HOP(TABLE user_activity, DESCRIPTOR(`timestamp`), INTERVAL '1' MINUTE, INTERVAL '2' HOUR))
WHERE action = 'view';

INSERT INTO active_users
SELECT window_end,
       COUNT(DISTINCT CASE WHEN `timestamp` >= window_end - INTERVAL '5' MINUTE THEN user_id END) AS users
FROM activity_10m
GROUP BY window_start, window_end;

INSERT INTO top_pages
SELECT page, COUNT(*) AS views
FROM user_activity
WHERE action = 'view'
GROUP BY page;

INSERT INTO user_views_1h
SELECT user_id,
       NULLIF(SUM(CASE WHEN `timestamp` >= window_end - INTERVAL '1' HOUR THEN 1 ELSE 0 END), 0) AS views
FROM views_2h
GROUP BY window_start, window_end, user_id;
