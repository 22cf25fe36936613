-- MAX_BY/MIN_BY (an extension): per user over an insert-only stream (a
-- GROUP BY, upsert sink) and per session (a SESSION window aggregate). The
-- value of the row with the largest/smallest ordering; rows with a NULL
-- ordering are ignored; a NULL value on the winning row is the result; a
-- tie keeps the earliest-arrived row. The "last purchase amount" of a
-- session nulls the ordering of rows without an amount. User 4's two
-- sessions tie on prio and merge through a bridging row: the earlier-arrived
-- row (of the later session) wins.
CREATE TABLE events (
  user_id INT,
  amount INT,
  page STRING,
  prio INT,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '20' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE per_user (
  user_id INT,
  top_page STRING,
  low_page STRING,
  last_amount INT,
  PRIMARY KEY (user_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'per-user', 'key.format' = 'json', 'value.format' = 'json');

CREATE TABLE per_session (
  user_id INT, window_start TIMESTAMP(3), window_end TIMESTAMP(3),
  top_page STRING, low_page STRING, last_amount INT, n BIGINT
) WITH ('connector' = 'kafka', 'topic' = 'per-session', 'format' = 'json');

INSERT INTO per_user
SELECT user_id, MAX_BY(page, prio), MIN_BY(page, prio),
       MAX_BY(amount, CASE WHEN amount IS NULL THEN NULL ELSE ts END)
FROM events
GROUP BY user_id;

INSERT INTO per_session
SELECT user_id, window_start, window_end, MAX_BY(page, prio), MIN_BY(page, prio),
       MAX_BY(amount, CASE WHEN amount IS NULL THEN NULL ELSE ts END), COUNT(*)
FROM TABLE(SESSION(TABLE events PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
