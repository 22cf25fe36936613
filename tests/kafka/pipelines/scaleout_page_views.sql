-- Kafka integration test of scale-out (test_scaleout.py): page views and
-- distinct viewers per page, an updating GROUP BY into the upsert topic
-- ${OUT_TOPIC}. The input ${IN_TOPIC} is keyed by user_id, not by the
-- aggregation key, so with several processes (or workers) in group ${GROUP}
-- every page's rows arrive at more than one of them.
CREATE TABLE user_events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'key.format' = 'json', 'key.fields' = 'user_id',
        'scan.startup.mode' = 'group-offsets',
        'properties.group.id' = '${GROUP}',
        'properties.group.instance.id' = '${INSTANCE}',
        'properties.session.timeout.ms' = '6000',
        'properties.heartbeat.interval.ms' = '1000');
CREATE TABLE page_views (
  page_id INT, views BIGINT, users BIGINT, PRIMARY KEY (page_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = '${OUT_TOPIC}', 'key.format' = 'json');
INSERT INTO page_views
SELECT page_id, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users
FROM user_events WHERE event_type = 'page-view' GROUP BY page_id;
