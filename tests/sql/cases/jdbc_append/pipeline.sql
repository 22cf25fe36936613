-- A 'jdbc' table without a PRIMARY KEY is an append sink (docs/jdbc.md): in
-- `runnel test` it writes one JSON object per row to <table-name>.jsonl.
-- Data that looks like SQL is just data: the note of order 2 is kept
-- verbatim, and a NULL stays null.
CREATE TABLE orders (
    order_id BIGINT,
    customer STRING,
    amount DOUBLE,
    note STRING
) WITH (
    'connector' = 'kafka',
    'topic' = 'orders',
    'format' = 'json'
);

CREATE TABLE big_orders (
    order_id BIGINT,
    customer STRING,
    amount DOUBLE,
    note STRING
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:sqlite:/var/lib/shop/orders.db',
    'table-name' = 'big_orders',
    'sink.buffer-flush.max-rows' = '10',
    'sink.buffer-flush.interval' = '500 ms'
);

INSERT INTO big_orders
SELECT order_id, customer, amount, note FROM orders WHERE amount >= 10;
