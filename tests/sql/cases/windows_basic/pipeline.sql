-- Event-time windows on a hand-made stream: a computed rowtime, a 2 s
-- watermark delay, tumbling and session counts per user, late rows routed
-- to a table, and a row without a timestamp dead-lettered.
CREATE TABLE events (
  user_id INT,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE tumble_counts (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id INT, n BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'tumble', 'format' = 'json');

CREATE TABLE sessions (
  user_id INT, session_start TIMESTAMP(3), session_end TIMESTAMP(3), n BIGINT,
  first_ts DOUBLE, last_ts DOUBLE
) WITH ('connector' = 'kafka', 'topic' = 'sessions', 'format' = 'json');

CREATE TABLE late_rows (user_id INT, `timestamp` DOUBLE, note STRING)
  WITH ('connector' = 'kafka', 'topic' = 'late', 'format' = 'json');

SET 'runnel.late-rows.table' = 'late_rows';

INSERT INTO tumble_counts
SELECT window_start, window_end, user_id, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;

SET 'runnel.late-rows.table' = '';

INSERT INTO sessions
SELECT user_id, window_start, window_end, COUNT(*), FIRST_VALUE(`timestamp`), LAST_VALUE(`timestamp`)
FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' SECOND))
GROUP BY window_start, window_end, user_id;
