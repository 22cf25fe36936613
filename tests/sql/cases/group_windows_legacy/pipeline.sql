-- Flink's legacy group windows: GROUP BY TUMBLE(ts, size) / HOP(ts, slide,
-- size) / SESSION(ts, gap) with TUMBLE_START, ..._END and ..._ROWTIME in
-- the select list, over the stream of windows_basic. They run on the
-- operators of the window TVFs: tumble.jsonl, sessions.jsonl and late.jsonl
-- are windows_basic's, and hop_legacy.jsonl equals hop_tvf.jsonl (the same
-- HOP written as a window TVF). HOP_ROWTIME is window_end - 1 ms.
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

CREATE TABLE hop_legacy (
  user_id INT, hop_start TIMESTAMP(3), hop_end TIMESTAMP(3), hop_time TIMESTAMP(3), n BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'hop_legacy', 'format' = 'json');

CREATE TABLE hop_tvf (
  user_id INT, hop_start TIMESTAMP(3), hop_end TIMESTAMP(3), hop_time TIMESTAMP(3), n BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'hop_tvf', 'format' = 'json');

CREATE TABLE late_rows (user_id INT, `timestamp` DOUBLE, note STRING)
  WITH ('connector' = 'kafka', 'topic' = 'late', 'format' = 'json');

SET 'runnel.late-rows.table' = 'late_rows';

INSERT INTO tumble_counts
SELECT TUMBLE_START(ts, INTERVAL '10' SECOND), TUMBLE_END(ts, INTERVAL '10' SECOND), user_id, COUNT(*) AS n
FROM events
GROUP BY TUMBLE(ts, INTERVAL '10' SECOND), user_id;

SET 'runnel.late-rows.table' = '';

INSERT INTO sessions
SELECT e.user_id, SESSION_START(e.ts, INTERVAL '5' SECOND), SESSION_END(e.ts, INTERVAL '5' SECOND), COUNT(*),
       FIRST_VALUE(`timestamp`), LAST_VALUE(`timestamp`)
FROM events e
GROUP BY e.user_id, SESSION(e.ts, INTERVAL '5' SECOND);

INSERT INTO hop_legacy
SELECT user_id, HOP_START(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND),
       HOP_END(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND),
       HOP_ROWTIME(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND), COUNT(*)
FROM events
WHERE user_id > 0
GROUP BY HOP(ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND), user_id
HAVING COUNT(*) >= 1;

INSERT INTO hop_tvf
SELECT user_id, window_start, window_end, window_time, COUNT(*)
FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
WHERE user_id > 0
GROUP BY window_start, window_end, window_time, user_id
HAVING COUNT(*) >= 1;
