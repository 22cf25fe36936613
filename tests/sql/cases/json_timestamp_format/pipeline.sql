-- 'json.timestamp-format.standard' (Flink's JSON format option): TIMESTAMP
-- and TIMESTAMP_LTZ columns written as strings, SQL or ISO-8601, instead
-- of runnel's default epoch milliseconds. The fraction loses its trailing
-- zeros and is left out when 0; an LTZ value ends with 'Z'.
CREATE TABLE events (
  id INT,
  t TIMESTAMP(3),
  ms BIGINT,
  lt AS TO_TIMESTAMP_LTZ(ms, 3)
) WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE as_ms (id INT, t TIMESTAMP(3), lt TIMESTAMP_LTZ(3))
WITH ('connector' = 'kafka', 'topic' = 'as-ms', 'format' = 'json');

CREATE TABLE as_sql (id INT, t TIMESTAMP(3), lt TIMESTAMP_LTZ(3))
WITH ('connector' = 'kafka', 'topic' = 'as-sql', 'format' = 'json',
      'json.timestamp-format.standard' = 'SQL');

CREATE TABLE as_iso (t TIMESTAMP(3), id INT, lt TIMESTAMP_LTZ(3), PRIMARY KEY (t) NOT ENFORCED)
WITH ('connector' = 'upsert-kafka', 'topic' = 'as-iso', 'key.format' = 'json', 'value.format' = 'json',
      'key.json.timestamp-format.standard' = 'ISO-8601',
      'value.json.timestamp-format.standard' = 'ISO-8601');

INSERT INTO as_ms SELECT id, t, lt FROM events;
INSERT INTO as_sql SELECT id, t, lt FROM events;
INSERT INTO as_iso SELECT t, id, lt FROM events;
