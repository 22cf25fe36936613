-- Kafka integration test of scale-out (test_scaleout.py): HOP windows of
-- 10 s sliding by 5 s per page, with aggregates that are pre-aggregated per
-- batch before the repartition topic (docs/scale-out.md, "Pre-aggregation
-- before the repartition topic"): COUNT(*), COUNT, SUM of an integer, MIN,
-- MAX. The input ${IN_TOPIC} is keyed by user_id and the table declares no
-- key; the watermark and timeouts are as in scaleout_tumble.sql (no row is
-- late; one 'end' event far in the future per partition closes every window).
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
CREATE TABLE page_hops (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), page_id INT, views BIGINT, clicks BIGINT,
  user_sum BIGINT, first_user INT, last_user INT
) WITH ('connector' = 'kafka', 'topic' = '${OUT_TOPIC}');
INSERT INTO page_hops
SELECT window_start, window_end, page_id,
       COUNT(*) AS views, COUNT(CASE WHEN event_type = 'click' THEN 1 END) AS clicks,
       SUM(user_id) AS user_sum, MIN(user_id) AS first_user, MAX(user_id) AS last_user
FROM TABLE(HOP(TABLE user_events, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
WHERE event_type <> 'end'
GROUP BY window_start, window_end, page_id;
