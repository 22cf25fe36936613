-- Comma joins: FROM a, b WHERE ... is the inner join on the WHERE's
-- equalities between the two sides, the rest of the WHERE a filter.
-- 1. Flink's documented interval join: the time bounds between the two
--    event-time attributes make it an interval join. Order 1 is shipped
--    3 h and 6 h after it was ordered (only the first is within 4 h),
--    order 2 after 4.5 h (none), order 3 after exactly 4 h (bounds are
--    inclusive), order 4 after 4.5 h (none).
-- 2. Three tables, FROM o, s, c: (o, s) joined on o.id = s.order_id
--    first, then c on o.customer = c.cid; c.country = 'NO' goes before
--    the join, and s.ship_time > o.order_time + INTERVAL '5' HOUR (one
--    bound: no interval join) filters the rows of (o, s) before c is
--    joined: order 1's second shipment (6 h) of ann in NO; not order 4
--    (4.5 h), nor order 2 (bob, SE).
CREATE TABLE orders (
  id BIGINT, customer BIGINT, order_time TIMESTAMP(3),
  WATERMARK FOR order_time AS order_time
) WITH ('connector' = 'kafka', 'topic' = 'orders', 'format' = 'json');

CREATE TABLE shipments (
  order_id BIGINT, ship_time TIMESTAMP(3),
  WATERMARK FOR ship_time AS ship_time
) WITH ('connector' = 'kafka', 'topic' = 'shipments', 'format' = 'json');

CREATE TABLE customers (cid BIGINT, name STRING, country STRING)
  WITH ('connector' = 'kafka', 'topic' = 'customers', 'format' = 'json');

CREATE TABLE shipped_within_4h (id BIGINT, order_time TIMESTAMP(3), ship_time TIMESTAMP(3))
  WITH ('connector' = 'kafka', 'topic' = 'within', 'format' = 'json');

CREATE TABLE late_norwegian (id BIGINT, name STRING, ship_time TIMESTAMP(3))
  WITH ('connector' = 'kafka', 'topic' = 'late', 'format' = 'json');

INSERT INTO shipped_within_4h
SELECT o.id, o.order_time, s.ship_time
FROM orders o, shipments s
WHERE o.id = s.order_id
  AND o.order_time BETWEEN s.ship_time - INTERVAL '4' HOUR AND s.ship_time;

INSERT INTO late_norwegian
SELECT o.id, c.name, s.ship_time
FROM orders o, shipments s, customers c
WHERE o.id = s.order_id AND o.customer = c.cid AND c.country = 'NO'
  AND s.ship_time > o.order_time + INTERVAL '5' HOUR;
