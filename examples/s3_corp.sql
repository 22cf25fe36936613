-- S3 corp: users x clickstream join and counts (../shared/SCENARIOS.md).
--
-- `users` is an append topic in which a newer record of a user_id replaces
-- the older one: the ROW_NUMBER() view keeps the last record per user (a
-- changelog: the replaced row is retracted). The events are counted and
-- the counts joined with their user (a regular join, so events whose user
-- arrives later still count once the user does), and both tables are
-- upserted keyed by their first column. Records that are not JSON or lack a NOT NULL field
-- go to the 'dlq' topic unchanged, with headers naming the error, topic,
-- partition and offset.
--
--   runnel gen s3 --out data/ && runnel test examples/s3_corp.sql --input data --output out
--   runnel run examples/s3_corp.sql --brokers localhost:9092
CREATE TABLE users (
  event_timestamp STRING,
  user_id STRING NOT NULL,
  email STRING NOT NULL,
  name STRING NOT NULL,
  proc_time AS PROCTIME()
) WITH (
  'connector' = 'kafka',
  'topic' = 'CorpAppsTopic',
  'format' = 'json',
  'dlq.topic' = 'dlq'
);

CREATE TABLE events (
  event_timestamp STRING,
  user_id STRING NOT NULL,
  page STRING,
  event STRING NOT NULL
) WITH (
  'connector' = 'kafka',
  'topic' = 'test',
  'format' = 'json',
  'dlq.topic' = 'dlq'
);

CREATE TABLE user_event_counts (
  user_id STRING,
  name STRING,
  email STRING,
  event_count BIGINT,
  PRIMARY KEY (user_id) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'user_event_counts',
  'key.format' = 'json',
  'value.format' = 'json',
  'dashboard' = 'true'
);

CREATE TABLE event_type_counts (
  event STRING,
  `count` BIGINT,
  PRIMARY KEY (event) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = 'event_type_counts',
  'key.format' = 'json',
  'value.format' = 'json',
  'dashboard' = 'true'
);

-- the latest record of each user
CREATE VIEW current_users AS
SELECT user_id, name, email
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY proc_time DESC) AS rownum
  FROM users
)
WHERE rownum = 1;

-- Counting before joining keeps the join's state small: one row per user
-- (and per user and event type) on each side instead of every event. A
-- count that grows or a user record that is replaced updates the joined
-- row (-U/+U), and the upsert sinks keep the last one per key.
CREATE VIEW events_per_user AS
SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id;

CREATE VIEW events_per_user_and_type AS
SELECT user_id, event, COUNT(*) AS n FROM events GROUP BY user_id, event;

INSERT INTO user_event_counts
SELECT c.user_id, u.name, u.email, c.n AS event_count
FROM events_per_user c
JOIN current_users u ON c.user_id = u.user_id;

INSERT INTO event_type_counts
SELECT c.event, SUM(c.n) AS `count`
FROM events_per_user_and_type c
JOIN current_users u ON c.user_id = u.user_id
GROUP BY c.event;
