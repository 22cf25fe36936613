-- A LEFT lookup join with conditions besides the key (docs/sql.md, "Lookup
-- joins"): `c.active` (the table only) and `c.tier >= o.min_tier` (both
-- sides) are applied to the looked-up rows, and an order none of whose
-- rows passes (or whose key has no row, or is NULL) is NULL-padded. The
-- left event-time attribute survives the join: a window aggregate counts
-- the enriched orders per minute. A FULL cache holds the whole table.
CREATE TABLE orders (
    order_id BIGINT,
    customer_id INT,
    min_tier INT,
    ts TIMESTAMP(3),
    proc_time AS PROCTIME(),
    WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (
    'connector' = 'kafka',
    'topic' = 'orders',
    'format' = 'json'
);

CREATE TABLE customers (
    id BIGINT,
    name STRING,
    tier INT,
    active BOOLEAN
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:sqlite:customers.db',
    'table-name' = 'customers',
    'lookup.cache' = 'FULL',
    'lookup.full-cache.periodic-reload.interval' = '10 min'
);

CREATE TABLE enriched (
    order_id BIGINT,
    customer_id INT,
    name STRING,
    tier INT
) WITH (
    'connector' = 'kafka',
    'topic' = 'enriched',
    'format' = 'json'
);

CREATE TABLE per_minute (
    window_start TIMESTAMP(3),
    orders BIGINT,
    named BIGINT
) WITH (
    'connector' = 'kafka',
    'topic' = 'per_minute',
    'format' = 'json'
);

CREATE VIEW joined AS
SELECT o.order_id, o.customer_id, o.ts, c.name, c.tier
FROM orders AS o
LEFT JOIN customers FOR SYSTEM_TIME AS OF o.proc_time AS c
  ON c.id = o.customer_id AND c.active AND c.tier >= o.min_tier;

INSERT INTO enriched SELECT order_id, customer_id, name, tier FROM joined;

INSERT INTO per_minute
SELECT window_start, COUNT(*), COUNT(name)
FROM TABLE(TUMBLE(TABLE joined, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end;
