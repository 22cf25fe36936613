-- Error case: 'sink.delivery-guarantee' = 'exactly-once' on a SQLite table
-- (the two-phase commit is PostgreSQL's only).
CREATE TABLE orders (
    order_id BIGINT,
    customer STRING,
    amount DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'orders',
    'format' = 'json'
);

CREATE TABLE order_copy (
    order_id BIGINT,
    customer STRING,
    amount DOUBLE
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:sqlite:orders.db',
    'table-name' = 'order_copy',
    'sink.delivery-guarantee' = 'exactly-once'
);

INSERT INTO order_copy SELECT order_id, customer, amount FROM orders;
