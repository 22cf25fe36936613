-- Error case: ROW_NUMBER() without an outer WHERE rownum <= N would rank
-- every row forever; Flink's deduplication and Top-N need the filter.
CREATE TABLE events (user_id INT, page_id INT, pt AS PROCTIME())
  WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');
CREATE TABLE out_rows (user_id INT, page_id INT) WITH ('connector' = 'print');

INSERT INTO out_rows
SELECT user_id, page_id
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY pt) AS rownum
  FROM events)
WHERE page_id > 3;
