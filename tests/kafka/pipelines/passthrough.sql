-- Kafka integration test: a stateless filter/projection from ${IN_TOPIC} to
-- ${OUT_TOPIC} in consumer group ${GROUP}. Used by the group, broker-restart
-- and dead-letter tests; runs until stopped unless BOUNDED says otherwise.
-- Static membership (${INSTANCE}, harness.Runnel's default is the process
-- name) and a 6 s session: a process restarted under the same INSTANCE
-- takes its partitions back at once, and a killed one's move within 6 s.
CREATE TABLE events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = '${IN_TOPIC}',
        'scan.startup.mode' = 'group-offsets', 'scan.bounded.mode' = '${BOUNDED}',
        'dlq.topic' = '${DLQ_TOPIC}',
        'properties.group.id' = '${GROUP}',
        'properties.group.instance.id' = '${INSTANCE}',
        'properties.session.timeout.ms' = '6000',
        'properties.heartbeat.interval.ms' = '1000');
CREATE TABLE picked (
  user_id INT, page_id INT, event_type STRING, `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = '${OUT_TOPIC}',
        'key.format' = 'json', 'key.fields' = 'user_id');
INSERT INTO picked
SELECT user_id, page_id, event_type, `timestamp` FROM events WHERE event_type <> 'page-view';
