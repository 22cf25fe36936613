-- Error case: ROW_NUMBER() in a select list that no outer query filters.
CREATE TABLE events (user_id INT, page_id INT)
  WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');
CREATE TABLE out_rows (user_id INT, n BIGINT) WITH ('connector' = 'print');

INSERT INTO out_rows
SELECT user_id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY page_id) AS n
FROM events;
