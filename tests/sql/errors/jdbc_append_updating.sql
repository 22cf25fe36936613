-- Error case: an aggregate written to a 'jdbc' table without a PRIMARY KEY (an append sink).
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
    'table-name' = 'order_copy'
);

INSERT INTO order_copy SELECT MAX(order_id), customer, SUM(amount) FROM orders GROUP BY customer;
