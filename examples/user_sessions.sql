-- user_sessions: event-time windows over the S5 click stream.
--
-- Every user's sessions (a 20 s gap closes one) and per-user activity in
-- 10-second tumbling windows, on event time with a 5-second
-- out-of-orderness bound. Results are emitted once, when the watermark
-- passes a window's end; rows later than that are counted and written to
-- 'late-user-events'. Partitions that go quiet stop holding the watermark
-- back after 'scan.watermark.idle-timeout'; when the whole topic is quiet,
-- event time follows the wall clock after 'scan.watermark.quiet-timeout',
-- so the last sessions close without new data (docs/event-time.md).
--
--   runnel gen s5 --out data/ && runnel test examples/user_sessions.sql --input data --output out
--   runnel run examples/user_sessions.sql --brokers localhost:9092
CREATE TABLE user_events (
  event_type STRING,
  user_id INT,
  page_id INT,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'user-events', 'format' = 'json',
        'scan.watermark.idle-timeout' = '5 s', 'scan.watermark.quiet-timeout' = '30 s');

CREATE TABLE user_sessions (
  user_id INT,
  session_start TIMESTAMP(3),
  session_end TIMESTAMP(3),
  events BIGINT,
  page_views BIGINT,
  pages BIGINT,
  first_event STRING,
  last_event STRING
) WITH ('connector' = 'kafka', 'topic' = 'user-sessions', 'format' = 'json');

CREATE TABLE user_activity_10s (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  user_id INT,
  events BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'user-activity-10s', 'format' = 'json');

CREATE TABLE late_user_events (
  event_type STRING,
  user_id INT,
  page_id INT,
  `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = 'late-user-events', 'format' = 'json');

SET 'runnel.late-rows.table' = 'late_user_events';

INSERT INTO user_sessions
SELECT user_id, window_start, window_end, COUNT(*),
       SUM(CASE WHEN event_type = 'page-view' THEN 1 ELSE 0 END),
       COUNT(DISTINCT page_id), FIRST_VALUE(event_type), LAST_VALUE(event_type)
FROM TABLE(SESSION(TABLE user_events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '20' SECOND))
GROUP BY window_start, window_end, user_id;

SET 'runnel.late-rows.table' = '';  -- the session query already reports them

INSERT INTO user_activity_10s
SELECT window_start, window_end, user_id, COUNT(*)
FROM TABLE(TUMBLE(TABLE user_events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
