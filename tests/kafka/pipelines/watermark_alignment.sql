-- Kafka integration test (tests/kafka/test_watermark_alignment.py):
-- 10-second tumbling counts per user from ${IN_TOPIC}, read from the
-- beginning to its end, to ${OUT_TOPIC}, in consumer group ${GROUP}; the
-- test sets 'scan.watermark.alignment.max-drift' with --set. No idle or
-- quiet timeouts: only data moves event time.
CREATE TABLE events (
  user_id INT, `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
        'scan.watermark.idle-timeout' = '0', 'scan.watermark.quiet-timeout' = '0',
        'properties.group.id' = '${GROUP}');
CREATE TABLE counts (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id INT, n BIGINT
) WITH ('connector' = 'kafka', 'topic' = '${OUT_TOPIC}');
INSERT INTO counts
SELECT window_start, window_end, user_id, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
