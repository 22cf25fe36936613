-- windows_session: events per user session (a 20 s gap closes one) on
-- event time (bench/windows). Input: bench/gen_windows.py's
-- user-events.jsonl (100,000 users, at most 5 s out of order, so no row is
-- late).
--
--   runnel test bench/windows_session.sql --input DATA --output OUT
CREATE TABLE user_events (
  event_type STRING,
  user_id INT,
  page_id INT,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'user-events', 'format' = 'json');

CREATE TABLE user_sessions (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  user_id INT,
  events BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'user-sessions', 'format' = 'json');

INSERT INTO user_sessions
SELECT window_start, window_end, user_id, COUNT(*)
FROM TABLE(SESSION(TABLE user_events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '20' SECOND))
GROUP BY window_start, window_end, user_id;
