-- bench/window_latency: per-key event counts in 1-second tumbling windows,
-- read from and written to a real Kafka broker (topics ${LAT_IN} and
-- ${LAT_OUT}, created by the script). Event time is the producer's wall
-- clock (ts_ms), so windows close in real time; the watermark allows 100 ms
-- of disorder. The idle and quiet timeouts are far above the benchmark's
-- gaps so that only records move the watermark.
CREATE TABLE clicks (
  user_id INT,
  ts_ms BIGINT,
  ts AS TO_TIMESTAMP_LTZ(ts_ms, 3),
  WATERMARK FOR ts AS ts - INTERVAL '100' MILLISECOND
) WITH ('connector' = 'kafka', 'topic' = '${LAT_IN}', 'format' = 'json',
        'scan.startup.mode' = 'earliest-offset',
        'properties.group.id' = '${LAT_GROUP}',
        'scan.watermark.idle-timeout' = '10 min',
        'scan.watermark.quiet-timeout' = '10 min');

CREATE TABLE clicks_per_second (
  window_start TIMESTAMP(3),
  window_end TIMESTAMP(3),
  user_id INT,
  clicks BIGINT
) WITH ('connector' = 'kafka', 'topic' = '${LAT_OUT}', 'format' = 'json');

INSERT INTO clicks_per_second
SELECT window_start, window_end, user_id, COUNT(*)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, user_id;
