-- Deduplication (docs/sql.md, "Deduplication and Top-N"): the first and
-- the last order of each user by arrival (a PROCTIME() column; in
-- `runnel test` arrival is file order), and the earliest and latest by
-- event time. Order 3 arrives after order 1 with an earlier time; order 6
-- ties order 1's time (ASC keeps the first arrival, DESC the last).
CREATE TABLE orders (
  order_id INT,
  user_id INT,
  amount INT,
  ts TIMESTAMP(3),
  pt AS PROCTIME(),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'orders', 'format' = 'json');

CREATE TABLE first_orders (order_id INT, user_id INT, amount INT)
  WITH ('connector' = 'kafka', 'topic' = 'first-orders', 'format' = 'json');
CREATE TABLE last_orders (order_id INT, user_id INT, amount INT) WITH ('connector' = 'print');
CREATE TABLE last_orders_upsert (user_id INT, order_id INT, PRIMARY KEY (user_id) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = 'last-orders', 'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE earliest_orders (order_id INT, user_id INT, amount INT) WITH ('connector' = 'print');
CREATE TABLE latest_orders (order_id INT, user_id INT, amount INT) WITH ('connector' = 'print');

-- keep the first row: insert-only, so an append sink takes it
INSERT INTO first_orders
SELECT order_id, user_id, amount
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY pt ASC) AS rownum
  FROM orders)
WHERE rownum = 1;

-- keep the last row: updating (-U/+U per newer row)
INSERT INTO last_orders
SELECT order_id, user_id, amount
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY pt DESC) AS rownum
  FROM orders)
WHERE rownum = 1;

INSERT INTO last_orders_upsert
SELECT user_id, order_id
FROM (
  SELECT order_id, user_id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY pt DESC) AS rn
  FROM orders
  WHERE amount > 10) AS t
WHERE t.rn <= 1;

INSERT INTO earliest_orders
SELECT order_id, user_id, amount
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts) AS rownum
  FROM orders)
WHERE rownum = 1;

INSERT INTO latest_orders
SELECT order_id, user_id, amount
FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts DESC) AS rownum
  FROM orders)
WHERE rownum = 1;
