-- Nested JSON objects through ROW types, two levels deep, accessed with dots.
-- A missing or null object makes its fields NULL; a nested field that does
-- not convert to its declared type sends the line to the dead-letter file.
CREATE TABLE orders (
    order_id INT,
    customer ROW<id INT, name STRING, address ROW<city STRING, zip STRING>>,
    total DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'orders',
    'format' = 'json'
);

CREATE TABLE order_rows (
    order_id INT,
    customer_id INT,
    customer_name STRING,
    city STRING,
    total DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'order-rows',
    'format' = 'json'
);

INSERT INTO order_rows
SELECT order_id, customer.id, UPPER(customer.name), customer.address.city, total
FROM orders
WHERE customer.id IS NOT NULL;
