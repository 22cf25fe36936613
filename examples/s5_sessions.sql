-- S5 sessions: interval join, session windows, suspicious sessions
-- (../shared/SCENARIOS.md).
--
-- 1. Every event is LEFT JOINed with the purchases of its user whose time is
--    within +-5 s (only `purchase` events look for a partner), then the
--    nearest partner is kept: ROW_NUMBER() over the event's identity, which
--    includes its event time, so the choice is final once the watermark
--    passes it and the result stays insert-only (docs/sql.md, "Top-N per
--    event-time partition").
-- 2. Sessions per user (gap 20 s) over those events: one aggregate row per
--    session (size, page views, the amount of its last joined purchase),
--    and every event of the session with the session's bounds (the SESSION
--    table function used on its own). Joining the two on (user_id,
--    window_start, window_end) gives the `visits` rows; the join drops a
--    session's rows once the watermark has passed it.
-- 3. session_id = "<user_id>-<session start in epoch ms>": the same input
--    always gives the same id, so a replay writes the same records.
-- Late events (behind the watermark) go to 'late-visits'; partitions that go quiet stop holding the watermark back
-- after 'scan.watermark.idle-timeout', and a quiet topic follows the wall
-- clock after 'scan.watermark.quiet-timeout', so sessions close promptly.
--
--   runnel gen s5 --out data/ && runnel test examples/s5_sessions.sql --input data --output out
--   runnel run examples/s5_sessions.sql --brokers localhost:9092
CREATE TABLE user_events (
  event_type STRING NOT NULL,
  user_id INT NOT NULL,
  page_id INT NOT NULL,
  `timestamp` DOUBLE NOT NULL,
  ts AS TO_TIMESTAMP_LTZ(CAST(ROUND(`timestamp` * 1000) AS BIGINT), 3),
  part INT METADATA FROM 'partition' VIRTUAL,
  pos BIGINT METADATA FROM 'offset' VIRTUAL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'user-events',
  'format' = 'json',
  'key.format' = 'json',
  'key.fields' = 'user_id',
  'value.fields-include' = 'ALL',
  'scan.watermark.idle-timeout' = '10 s',
  'scan.watermark.quiet-timeout' = '30 s'
);

CREATE TABLE purchases (
  amount INT NOT NULL,
  user_id INT NOT NULL,
  page_id INT,
  `timestamp` DOUBLE NOT NULL,
  ts AS TO_TIMESTAMP_LTZ(CAST(ROUND(`timestamp` * 1000) AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'purchases',
  'format' = 'json',
  'key.format' = 'json',
  'key.fields' = 'user_id',
  'value.fields-include' = 'ALL',
  'scan.watermark.idle-timeout' = '10 s',
  'scan.watermark.quiet-timeout' = '30 s'
);

CREATE TABLE visits (
  session_id STRING,
  user_id INT,
  event_type STRING,
  page_id INT,
  `timestamp` BIGINT,
  amount INT
) WITH (
  'connector' = 'kafka',
  'topic' = 'visits',
  'format' = 'json'
);

CREATE TABLE suspicious_visits (
  session_id STRING,
  user_id INT,
  type INT
) WITH (
  'connector' = 'kafka',
  'topic' = 'suspicious-visits',
  'format' = 'json',
  'dashboard' = 'true'
);

CREATE TABLE late_visits (
  event_type STRING,
  user_id INT,
  page_id INT,
  `timestamp` DOUBLE
) WITH (
  'connector' = 'kafka',
  'topic' = 'late-visits',
  'format' = 'json'
);

-- 1. the purchases near each purchase event (every event once at least)
CREATE VIEW candidates AS
SELECT e.event_type, e.user_id, e.page_id, e.`timestamp`, e.ts, e.part, e.pos,
       p.amount, p.ts AS purchase_ts,
       ABS(CAST(e.ts AS BIGINT) - CAST(p.ts AS BIGINT)) AS distance
FROM user_events e
LEFT JOIN purchases p
  ON e.user_id = p.user_id
  AND e.event_type = 'purchase'
  AND p.ts BETWEEN e.ts - INTERVAL '5' SECOND AND e.ts + INTERVAL '5' SECOND;

-- the nearest one (ties: the earlier purchase, then the smaller amount)
CREATE VIEW enriched AS
SELECT event_type, user_id, page_id, `timestamp`, ts, amount
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id, ts, part, pos
                               ORDER BY distance, purchase_ts, amount) AS rownum
  FROM candidates
)
WHERE rownum = 1;

-- 2. sessions
CREATE VIEW sessions AS
SELECT user_id, window_start, window_end,
       COUNT(*) AS events,
       SUM(CASE WHEN event_type = 'page-view' THEN 1 ELSE 0 END) AS page_views,
       MAX_BY(amount, CASE WHEN amount IS NULL THEN NULL ELSE ts END) AS last_amount
FROM TABLE(SESSION(TABLE enriched PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '20' SECOND))
GROUP BY user_id, window_start, window_end;

CREATE VIEW session_events AS
SELECT * FROM TABLE(SESSION(TABLE enriched PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '20' SECOND));

-- Events that reach the nearest-purchase step behind its watermark (the
-- event-time Top-1 above) go to 'late-visits'; views are compiled where
-- they are first read, so the SET is in force for both INSERTs.
SET 'runnel.late-rows.table' = 'late_visits';

-- 3. outputs
INSERT INTO visits
SELECT CONCAT(CAST(s.user_id AS STRING), '-', CAST(CAST(s.window_start AS BIGINT) AS STRING)) AS session_id,
       r.user_id, r.event_type, r.page_id, CAST(r.ts AS BIGINT) AS `timestamp`,
       COALESCE(s.last_amount, 0) AS amount
FROM session_events r
JOIN sessions s
  ON r.user_id = s.user_id AND r.window_start = s.window_start AND r.window_end = s.window_end;

INSERT INTO suspicious_visits
SELECT CONCAT(CAST(user_id AS STRING), '-', CAST(CAST(window_start AS BIGINT) AS STRING)) AS session_id,
       user_id,
       CASE WHEN events > 5 THEN 1 ELSE 2 END AS type
FROM sessions
WHERE events > 5 OR page_views = 0;
