-- Error case: FILTER (WHERE ...) follows COUNT, SUM, MIN, MAX or AVG only.
CREATE TABLE events (user_id INT, page STRING)
  WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');
CREATE TABLE out_rows (page STRING) WITH ('connector' = 'print');

INSERT INTO out_rows
SELECT UPPER(page) FILTER (WHERE user_id > 1)
FROM events;
