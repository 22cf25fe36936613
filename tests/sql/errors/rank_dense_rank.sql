-- Error case: RANK() and DENSE_RANK() are not supported, ROW_NUMBER() is.
CREATE TABLE events (user_id INT, page_id INT)
  WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');
CREATE TABLE out_rows (user_id INT, page_id INT) WITH ('connector' = 'print');

INSERT INTO out_rows
SELECT user_id, page_id
FROM (
  SELECT *, RANK() OVER (PARTITION BY user_id ORDER BY page_id) AS r
  FROM events)
WHERE r <= 3;
