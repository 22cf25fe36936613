-- bench/kafka_loop (BENCH_WINDOWS=1): bench/windows_tumble.sql over a
-- Kafka topic read to its end: events per user in 10-second tumbling
-- windows. Input: bench/gen_windows.py's user-events.jsonl produced to
-- ${BENCH_TOPIC} (keyed by user_id, so each partition spans the whole
-- event time). Watermark alignment is on by default; the script also
-- runs it with 'scan.watermark.alignment.max-drift' = '0' (off).
CREATE TABLE user_events (
  event_type STRING,
  user_id INT,
  page_id INT,
  `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = '${BENCH_TOPIC}',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
        'properties.group.id' = '${BENCH_GROUP}');

CREATE TABLE user_activity_10s (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  user_id INT,
  events BIGINT
) WITH ('connector' = 'blackhole');

INSERT INTO user_activity_10s
SELECT window_start, window_end, user_id, COUNT(*)
FROM TABLE(TUMBLE(TABLE user_events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
