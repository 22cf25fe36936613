-- Error case: keep-last deduplication updates its rows (-U/+U), which an
-- append-only sink cannot take.
CREATE TABLE events (user_id INT, page_id INT, pt AS PROCTIME())
  WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');
CREATE TABLE out_rows (user_id INT, page_id INT)
  WITH ('connector' = 'kafka', 'topic' = 'out', 'format' = 'json');

INSERT INTO out_rows
SELECT user_id, page_id
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY pt DESC) AS rownum
  FROM events)
WHERE rownum = 1;
