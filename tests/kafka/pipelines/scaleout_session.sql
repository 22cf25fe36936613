-- Kafka integration test of scale-out (test_scaleout.py): sessions per user
-- (5 s gap) from ${IN_TOPIC}, whose records are keyed by page_id (declared:
-- the partitioning differs from the session key). The watermark delay (1 h)
-- exceeds the data's span, so no row is late whatever the interleaving; one
-- 'end' event far in the future per partition closes every session. The
-- idle and quiet timeouts are off: they follow the wall clock, and a
-- partition that went idle would let another partition's 'end' event move
-- the watermark past the rows it has yet to deliver (late, so dropped).
CREATE TABLE user_events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '3600' SECOND
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'key.format' = 'json', 'key.fields' = 'page_id',
        'scan.startup.mode' = 'group-offsets',
        'scan.watermark.quiet-timeout' = '0',
        'scan.watermark.idle-timeout' = '0',
        'properties.group.id' = '${GROUP}',
        'properties.group.instance.id' = '${INSTANCE}',
        'properties.session.timeout.ms' = '6000',
        'properties.heartbeat.interval.ms' = '1000');
CREATE TABLE user_sessions (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), user_id INT, events BIGINT, pages BIGINT
) WITH ('connector' = 'kafka', 'topic' = '${OUT_TOPIC}');
CREATE VIEW activity AS
SELECT user_id, page_id, ts FROM user_events WHERE event_type <> 'end';
INSERT INTO user_sessions
SELECT window_start, window_end, user_id, COUNT(*) AS events, COUNT(DISTINCT page_id) AS pages
FROM TABLE(SESSION(TABLE activity PARTITION BY user_id, DESCRIPTOR(ts), INTERVAL '5' SECOND))
GROUP BY window_start, window_end, user_id;
