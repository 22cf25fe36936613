-- bench/scaleout.py: page views and distinct users per page (examples/page_views.sql)
-- over ${BENCH_TOPIC}, read from the beginning ('scan.bounded.mode' ${BENCH_BOUNDED}),
-- in group ${BENCH_GROUP}. The topic is keyed by ${BENCH_KEY}: keyed by
-- page_id the GROUP BY needs no repartition; keyed by user_id it goes
-- through a repartition topic (docs/scale-out.md). The counts go to the
-- upsert topic ${BENCH_OUT}; bench/scaleout.py checks its final state.
CREATE TABLE user_events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = '${BENCH_TOPIC}',
        'key.format' = 'json', 'key.fields' = '${BENCH_KEY}', 'value.fields-include' = 'ALL',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = '${BENCH_BOUNDED}',
        'properties.group.id' = '${BENCH_GROUP}');
CREATE TABLE page_views (
  page_id INT, views BIGINT, users BIGINT, PRIMARY KEY (page_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = '${BENCH_OUT}', 'key.format' = 'json');
INSERT INTO page_views
SELECT page_id, COUNT(*) AS views, COUNT(DISTINCT user_id) AS users
FROM user_events WHERE event_type = 'page-view' GROUP BY page_id;
