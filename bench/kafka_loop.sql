-- bench/kafka_loop: the simplest query over a Kafka topic, to compare
-- runnel's reader with a bare librdkafka loop (bench/kafka_loop.c).
-- Reads ${BENCH_TOPIC} from the beginning to the end it had at start, in
-- consumer group ${BENCH_GROUP}, decodes each record's event_type and
-- user_id and counts the rows into a blackhole sink (runnel prints how
-- many it wrote). An aggregate would add a repartition topic (every
-- GROUP BY over a Kafka table goes through one, docs/scale-out.md), which
-- is not the reader's cost.
CREATE TABLE events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = '${BENCH_TOPIC}',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
        'properties.group.id' = '${BENCH_GROUP}');
CREATE TABLE counted (event_type STRING, user_id INT) WITH ('connector' = 'blackhole');
INSERT INTO counted SELECT event_type, user_id FROM events;
