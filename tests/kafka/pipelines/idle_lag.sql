-- Kafka integration test (tests/kafka/test_idle_lag.py): 10-second
-- tumbling counts per user from ${IN_TOPIC} (from ${MODE}) to ${OUT_TOPIC}, every row
-- echoed to ${ECHO_TOPIC} (the test sees what runnel has read). A short
-- idle timeout, no quiet timeout: only data and idleness move event time.
CREATE TABLE events (
  user_id INT, `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'scan.startup.mode' = '${MODE}',
        'scan.watermark.idle-timeout' = '2 s', 'scan.watermark.quiet-timeout' = '0',
        -- (an empty fetch answers within 100 ms: a partition's high
        -- watermark is known long before it can be idle)
        'properties.fetch.wait.max.ms' = '100',
        'properties.group.id' = '${GROUP}');
CREATE TABLE echo (user_id INT, `timestamp` DOUBLE)
  WITH ('connector' = 'kafka', 'topic' = '${ECHO_TOPIC}');
CREATE TABLE counts (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id INT, n BIGINT
) WITH ('connector' = 'kafka', 'topic' = '${OUT_TOPIC}');
INSERT INTO echo SELECT user_id, `timestamp` FROM events;
INSERT INTO counts
SELECT window_start, window_end, user_id, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
