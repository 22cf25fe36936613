-- TUMBLE and HOP window TVFs without an aggregate: each row is emitted at
-- once with its window's columns (HOP: one row per window holding it, by
-- window start). SELECT * gives the table's columns then window_start,
-- window_end, window_time; WHERE and the select list may use the window
-- columns. Row d is late (rowtime < watermark): counted, not emitted. A
-- window aggregate can follow a window aggregate (GROUP BY its
-- window_start, window_end): users per window, append-only.
CREATE TABLE events (
  user_id INT,
  page STRING,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE tumble_rows (
  user_id INT, page STRING, `timestamp` DOUBLE, ts TIMESTAMP_LTZ(3),
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), window_time TIMESTAMP(3)
) WITH ('connector' = 'kafka', 'topic' = 'tumble-rows', 'format' = 'json');

CREATE TABLE hop_rows (
  page STRING, window_start TIMESTAMP(3), window_end TIMESTAMP(3)
) WITH ('connector' = 'kafka', 'topic' = 'hop-rows', 'format' = 'json');

CREATE TABLE users_per_window (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), users BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'users-per-window', 'format' = 'json');

INSERT INTO tumble_rows
SELECT * FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND));

INSERT INTO hop_rows
SELECT page, window_start, window_end
FROM TABLE(HOP(TABLE events, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
WHERE window_start >= TIMESTAMP '2024-05-01 10:00:00';

INSERT INTO users_per_window
SELECT window_start, window_end, COUNT(*)
FROM (SELECT window_start, window_end, user_id, COUNT(*) AS n
      FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
      GROUP BY window_start, window_end, user_id)
GROUP BY window_start, window_end;
