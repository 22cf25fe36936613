-- Key fields and metadata columns of Kafka tables, replayed from files.
-- Files carry values only: key columns are read from the value, the offset
-- metadata is the line number, and topic/partition/timestamp/headers are
-- NULL (docs/testing.md).
CREATE TABLE clicks (
  user_id INT,
  page STRING,
  part INT METADATA FROM 'partition' VIRTUAL,
  off BIGINT METADATA FROM 'offset' VIRTUAL,
  ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp',
  hdrs STRING METADATA FROM 'headers'
) WITH (
  'connector' = 'kafka', 'topic' = '${RUNNEL_TEST_TOPIC}',
  'key.format' = 'json', 'key.fields' = 'user_id',
  'properties.sasl.password' = '${NOT_NEEDED_IN_TESTS}'
);
CREATE TABLE tagged (
  user_id INT, page STRING, line BIGINT, part INT, ts TIMESTAMP_LTZ(3), hdrs STRING,
  written_at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'
) WITH ('connector' = 'kafka', 'topic' = 'tagged', 'key.format' = 'json',
        'key.fields' = 'user_id', 'value.fields-include' = 'EXCEPT_KEY');
CREATE TABLE per_user (
  user_id INT, clicks BIGINT, last_line BIGINT, PRIMARY KEY (user_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'per-user', 'key.format' = 'json',
        'value.fields-include' = 'EXCEPT_KEY');
INSERT INTO tagged SELECT user_id, page, off, part, ts, hdrs FROM clicks WHERE page <> '/skip';
INSERT INTO per_user SELECT user_id, COUNT(*), MAX(off) FROM clicks GROUP BY user_id;
