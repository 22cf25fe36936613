-- Kafka integration test: S5 topics in, three outputs (upsert and append).
-- Reads everything present at start ('scan.bounded.mode' = 'latest-offset')
-- and stops; tests/kafka/test_s5_oracle.py compares the output topics with
-- a batch computation over the same generated data.
CREATE TABLE user_events (
  event_type STRING, user_id INT, page_id INT, `timestamp` DOUBLE,
  part INT METADATA FROM 'partition' VIRTUAL
) WITH ('connector' = 'kafka', 'topic' = 'user-events',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
        'key.format' = 'json', 'key.fields' = 'user_id');
CREATE TABLE purchases (
  amount INT, user_id INT, page_id INT, `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = 'purchases',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');
CREATE TABLE page_views (
  page_id INT, views BIGINT, users BIGINT, PRIMARY KEY (page_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'it-page-views', 'key.format' = 'json');
CREATE TABLE purchase_events (
  user_id INT, page_id INT, `timestamp` DOUBLE, source_partition INT
) WITH ('connector' = 'kafka', 'topic' = 'it-purchase-events',
        'key.format' = 'json', 'key.fields' = 'user_id');
CREATE TABLE user_spend (
  user_id INT, total BIGINT, purchases BIGINT, PRIMARY KEY (user_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'it-user-spend', 'key.format' = 'json');

INSERT INTO page_views
SELECT page_id, COUNT(*), COUNT(DISTINCT user_id) FROM user_events
WHERE event_type = 'page-view' GROUP BY page_id;
INSERT INTO purchase_events
SELECT user_id, page_id, `timestamp`, part FROM user_events WHERE event_type = 'purchase';
INSERT INTO user_spend
SELECT user_id, SUM(amount), COUNT(*) FROM purchases GROUP BY user_id;
