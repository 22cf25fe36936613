-- Top-N (docs/sql.md, "Deduplication and Top-N"): the 3 best-selling
-- products per category, with and without the rank column; the top sale
-- over an updating input (a deduplication), where a retraction promotes
-- the next row; and the best categories per 10 s window, emitted once per
-- window when the watermark passes it (PARTITION BY window_start,
-- window_end as Flink's Window Top-N, or by the event-time window_time).
CREATE TABLE sales (
  category STRING,
  product STRING,
  sales INT,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'sales', 'format' = 'json');

CREATE TABLE top3 (category STRING, product STRING, sales INT) WITH ('connector' = 'print');
CREATE TABLE top3_ranked (category STRING, product STRING, sales INT, rownum BIGINT) WITH ('connector' = 'print');
CREATE TABLE top_categories (category STRING, product STRING, sales INT, rk BIGINT) WITH ('connector' = 'print');
CREATE TABLE best_per_window (window_start TIMESTAMP(3), window_end TIMESTAMP(3), category STRING, total BIGINT)
  WITH ('connector' = 'kafka', 'topic' = 'best-per-window', 'format' = 'json');
CREATE TABLE top2_per_window (window_time TIMESTAMP(3), category STRING, total BIGINT, rownum BIGINT)
  WITH ('connector' = 'kafka', 'topic' = 'top2-per-window', 'format' = 'json');

INSERT INTO top3
SELECT category, product, sales
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY category ORDER BY sales DESC) AS rownum
  FROM sales)
WHERE rownum <= 3;

INSERT INTO top3_ranked
SELECT category, product, sales, rownum
FROM (
  SELECT category, product, sales,
         ROW_NUMBER() OVER (PARTITION BY category ORDER BY sales DESC) AS rownum
  FROM sales)
WHERE rownum < 4;

-- over an updating input (the latest sale per category, by event time):
-- each -U removes a row, and the next one moves up
INSERT INTO top_categories
SELECT category, product, sales, rk
FROM (
  SELECT category, product, sales, ROW_NUMBER() OVER (ORDER BY sales DESC) AS rk
  FROM (
    SELECT category, product, sales
    FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY category ORDER BY ts DESC) AS rownum
      FROM sales)
    WHERE rownum = 1))
WHERE rk <= 1;

INSERT INTO best_per_window
SELECT window_start, window_end, category, total
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rownum
  FROM (
    SELECT window_start, window_end, window_time, category, SUM(sales) AS total
    FROM TABLE(TUMBLE(TABLE sales, DESCRIPTOR(ts), INTERVAL '10' SECOND))
    GROUP BY window_start, window_end, window_time, category))
WHERE rownum = 1 AND total > 0;

INSERT INTO top2_per_window
SELECT window_time, category, total, rownum
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_time ORDER BY total DESC) AS rownum
  FROM (
    SELECT window_start, window_end, window_time, category, SUM(sales) AS total
    FROM TABLE(TUMBLE(TABLE sales, DESCRIPTOR(ts), INTERVAL '10' SECOND))
    GROUP BY window_start, window_end, window_time, category))
WHERE rownum <= 2;
