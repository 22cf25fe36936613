-- Error case: rownum counts from 1, so rownum < 1 keeps nothing.
CREATE TABLE events (user_id INT, page_id INT)
  WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');
CREATE TABLE out_rows (user_id INT, page_id INT) WITH ('connector' = 'print');

INSERT INTO out_rows
SELECT user_id, page_id
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY page_id DESC) AS rownum
  FROM events)
WHERE rownum < 1;
