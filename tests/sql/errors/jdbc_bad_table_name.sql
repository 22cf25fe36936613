-- Error case: a 'jdbc' 'table-name' that would be a path in `runnel test`.
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
    'table-name' = '../etc/passwd'
);

INSERT INTO order_copy SELECT order_id, customer, amount FROM orders;
