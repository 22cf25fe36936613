-- Kafka integration test of scale-out (test_scaleout.py): 10-second
-- tumbling views and distinct viewers per page. The input ${IN_TOPIC} is
-- keyed by user_id and the table declares no key, so its partitioning is
-- unknown to the planner. The watermark delay (1 h) exceeds the data's span,
-- so no row is late whatever the interleaving; one 'end' event far in the
-- future per partition closes every window. The idle and quiet timeouts are
-- off: they follow the wall clock, and a partition that went idle while the
-- test paused would let another partition's 'end' event move the watermark
-- past the rows it has yet to deliver (late, so dropped).
-- The session timeout (30 s) exceeds any restart of a killed process under
-- its instance id, so the survivor never takes the killed one's partitions
-- over (see test_scaleout.py: what that would cost).
CREATE TABLE user_events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE,
  ts AS TO_TIMESTAMP_LTZ(CAST(`timestamp` * 1000 AS BIGINT), 3),
  WATERMARK FOR ts AS ts - INTERVAL '3600' SECOND
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'scan.startup.mode' = 'group-offsets',
        'scan.watermark.quiet-timeout' = '0',
        'scan.watermark.idle-timeout' = '0',
        'properties.group.id' = '${GROUP}',
        'properties.group.instance.id' = '${INSTANCE}',
        'properties.session.timeout.ms' = '30000',
        'properties.heartbeat.interval.ms' = '1000');
CREATE TABLE page_windows (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), page_id INT, views BIGINT, users BIGINT
) WITH ('connector' = 'kafka', 'topic' = '${OUT_TOPIC}');
CREATE VIEW page_events AS
SELECT user_id, page_id, ts FROM user_events WHERE event_type = 'page-view';
INSERT INTO page_windows
SELECT window_start, window_end, page_id, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users
FROM TABLE(TUMBLE(TABLE page_events, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end, page_id;
