-- Kafka integration test: views per page from ${IN_TOPIC} (an updating
-- GROUP BY into the upsert topic ${OUT_TOPIC}) and the purchases copied to
-- ${COPY_TOPIC} (stateless), in consumer group ${GROUP}. Used by the test of
-- the warning that aggregates restart from zero after a restart.
-- Checkpoints off: the warning this test checks is what a restart without checkpoints gives (docs/checkpoints.md covers restarts with them).
SET 'execution.checkpointing.interval' = '0';
CREATE TABLE events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'scan.bounded.mode' = '${BOUNDED}',
        'properties.group.id' = '${GROUP}',
        'properties.group.instance.id' = '${INSTANCE}',
        'properties.session.timeout.ms' = '6000',
        'properties.heartbeat.interval.ms' = '1000');
CREATE TABLE page_views (
  page_id INT, views BIGINT, PRIMARY KEY (page_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = '${OUT_TOPIC}', 'key.format' = 'json');
CREATE TABLE purchases (
  user_id INT, page_id INT
) WITH ('connector' = 'kafka', 'topic' = '${COPY_TOPIC}');
INSERT INTO page_views
SELECT page_id, COUNT(*) AS views FROM events WHERE event_type = 'page-view' GROUP BY page_id;
INSERT INTO purchases
SELECT user_id, page_id FROM events WHERE event_type = 'purchase';
