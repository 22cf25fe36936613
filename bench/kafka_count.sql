-- bench/kafka: consume -> decode -> filter -> count from a real broker.
-- Reads ${BENCH_TOPIC} from the beginning to the end it had at start.
CREATE TABLE events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = '${BENCH_TOPIC}',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
        'properties.group.id' = '${BENCH_GROUP}');
-- the changelog of the counts goes to stdout; bench/kafka checks its final
-- state against the baseline's answer
CREATE TABLE clicks_per_user (user_id INT, clicks BIGINT) WITH ('connector' = 'print');
INSERT INTO clicks_per_user
SELECT user_id, COUNT(*) FROM events WHERE event_type = 'click' GROUP BY user_id;
