-- windows_tumble: events per user in 10-second tumbling windows on event
-- time (bench/windows). Input: bench/gen_windows.py's user-events.jsonl
-- (100,000 users, at most 5 s out of order, so no row is late).
--
--   runnel test bench/windows_tumble.sql --input DATA --output OUT
CREATE TABLE user_events (
  event_type STRING,
  user_id INT,
  page_id INT,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'user-events', 'format' = 'json');

CREATE TABLE user_activity_10s (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  user_id INT,
  events BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'user-activity-10s', 'format' = 'json');

INSERT INTO user_activity_10s
SELECT window_start, window_end, user_id, COUNT(*)
FROM TABLE(TUMBLE(TABLE user_events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
