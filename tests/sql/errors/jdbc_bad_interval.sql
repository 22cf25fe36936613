-- Error case: a 'jdbc' flush interval that is not a duration.
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
    'sink.buffer-flush.interval' = 'often'
);

INSERT INTO order_copy SELECT order_id, customer, amount FROM orders;
