-- Kafka integration test: 10-second tumbling counts per user from
-- ${IN_TOPIC} to ${OUT_TOPIC} in consumer group ${GROUP}. No idle or quiet
-- timeouts: only data moves event time, so the test decides which windows
-- are open when runnel stops. Static membership (${INSTANCE}): the restart
-- takes the partition back at once.
-- Checkpoints off: this test checks how a restart without checkpoints keeps open windows (commits held back) (docs/checkpoints.md covers restarts with them).
SET 'execution.checkpointing.interval' = '0';
CREATE TABLE events (
  user_id INT, `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'scan.startup.mode' = 'group-offsets',
        'scan.watermark.idle-timeout' = '0', 'scan.watermark.quiet-timeout' = '0',
        'properties.group.id' = '${GROUP}',
        'properties.group.instance.id' = '${INSTANCE}',
        'properties.session.timeout.ms' = '6000',
        'properties.heartbeat.interval.ms' = '1000');
CREATE TABLE counts (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id INT, n BIGINT
) WITH ('connector' = 'kafka', 'topic' = '${OUT_TOPIC}');
INSERT INTO counts
SELECT window_start, window_end, user_id, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, user_id;
