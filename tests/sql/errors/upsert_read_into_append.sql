-- Error case: reading an upsert table gives a changelog (updates and
-- deletes), which an append-only table cannot take.
CREATE TABLE products (
    id INT,
    category STRING,
    PRIMARY KEY (id) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'products',
    'key.format' = 'json',
    'value.format' = 'json'
);

CREATE TABLE copy (
    id INT,
    category STRING
) WITH (
    'connector' = 'kafka',
    'topic' = 'copy',
    'format' = 'json'
);

INSERT INTO copy SELECT id, category FROM products;
