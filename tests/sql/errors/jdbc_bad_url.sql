-- Error case: a 'jdbc' url that is not a JDBC url.
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
    'url' = 'sqlite:orders.db',
    'table-name' = 'order_copy'
);

INSERT INTO order_copy SELECT order_id, customer, amount FROM orders;
