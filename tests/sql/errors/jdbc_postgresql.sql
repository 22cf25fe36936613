-- Error case: a 'jdbc' table with a PostgreSQL url (only SQLite is supported).
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
    'url' = 'jdbc:postgresql://db:5432/shop',
    'table-name' = 'order_copy'
);

INSERT INTO order_copy SELECT order_id, customer, amount FROM orders;
