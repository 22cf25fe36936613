-- A SESSION window TVF without an aggregate: every row of a closed session
-- is emitted with the session's bounds (in arrival order, when the
-- watermark passes the session's end). Out-of-order rows of user 1 merge
-- three sessions into one (g joins two, h bridges the rest); late rows go
-- to the late-rows table; a row without a timestamp is dead-lettered. The same rows feed a session
-- aggregate and, through a view, a TUMBLE aggregate on their window_time
-- (the rows are not late for it).
CREATE TABLE events (
  user_id INT,
  page STRING,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE session_rows (
  user_id INT, page STRING, `timestamp` DOUBLE,
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), window_time TIMESTAMP(3)
) WITH ('connector' = 'kafka', 'topic' = 'session-rows', 'format' = 'json');

CREATE TABLE session_counts (
  user_id INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'session-counts', 'format' = 'json');

CREATE TABLE minute_rows (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, sessions BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'minute-rows', 'format' = 'json');

CREATE TABLE session_pages (
  user_id INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, last_page STRING
) WITH ('connector' = 'kafka', 'topic' = 'session-pages', 'format' = 'json');

CREATE TABLE late_rows (user_id INT, page STRING, `timestamp` DOUBLE)
  WITH ('connector' = 'kafka', 'topic' = 'late', 'format' = 'json');

SET 'runnel.late-rows.table' = 'late_rows';

INSERT INTO session_rows
SELECT user_id, page, `timestamp`, window_start, window_end, window_time
FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' SECOND));

SET 'runnel.late-rows.table' = '';

INSERT INTO session_counts
SELECT user_id, window_start, window_end, COUNT(*)
FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' SECOND))
GROUP BY window_start, window_end, user_id;

CREATE VIEW sess AS
SELECT user_id, window_start AS s_start, window_time AS s_time
FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' SECOND));

INSERT INTO minute_rows
SELECT window_start, window_end, COUNT(*), COUNT(DISTINCT s_start)
FROM TABLE(TUMBLE(TABLE sess, DESCRIPTOR(s_time), INTERVAL '20' SECOND))
GROUP BY window_start, window_end;

CREATE VIEW visits AS
SELECT user_id, page, `timestamp`, window_start, window_end
FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' SECOND));

INSERT INTO session_pages
SELECT user_id, window_start, window_end, COUNT(*), MAX_BY(page, `timestamp`)
FROM visits
GROUP BY window_start, window_end, user_id;
