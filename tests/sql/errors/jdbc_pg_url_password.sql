-- Error case: a PostgreSQL url with a user and password in it (they are options of their own, and a url is printed).
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
    'url' = 'jdbc:postgresql://shop:s3cret@db:5432/shop',
    'table-name' = 'order_copy'
);

INSERT INTO order_copy SELECT order_id, customer, amount FROM orders;
